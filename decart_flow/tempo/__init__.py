"""Tempo: the beat grid a show counts beats on, and the sources that set its tempo.

`grid.BeatGrid` maps beats to show time (piecewise across tempo changes, so it pauses with the show
clock and moves with GO); `units` reads the show's beat places and spans (`bar 17`, `1/2 beat`);
`tap`, `midiclock` and `link` are the sources besides `internal` (the show's `bpm`).
"""

from .grid import BeatGrid, Segment
from .units import BeatPlace, BeatSpan, is_beat_text, parse_place, parse_span

__all__ = ["BeatGrid", "Segment", "BeatPlace", "BeatSpan", "is_beat_text", "parse_place", "parse_span"]
