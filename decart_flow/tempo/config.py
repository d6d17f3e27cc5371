"""The show's `tempo:` block and `go: {quantize: ...}`, read with FILE:LINE:COL problems."""

from __future__ import annotations

from typing import Any

from ..show.problems import did_you_mean
from .conductor import SOURCES
from .units import BeatSpan, read_span

TEMPO_KEYS = ("bpm", "beats_per_bar", "source")
GO_KEYS = ("quantize",)


def _number(c: Any, node: Any, what: str, low: float, high: float, whole: bool = False) -> float | None:
    value = node.value if node.is_scalar else None
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and low <= value <= high
    if ok and whole and value != int(value):
        ok = False
    if not ok:
        shown = node.scalar_text() if node.is_scalar else node.kind()
        kind = "a whole number" if whole else "a number"
        c.error(node.where, f"bad {what} '{shown}': {kind} from {low:g} to {high:g}")
        return None
    return float(value)


def read_tempo(c: Any, node: Any) -> Any:
    """`tempo: {bpm, beats_per_bar, source}` as a `Tempo`, or None after reporting the problems."""
    from ..show.model import Tempo

    if not node.is_map:
        c.error(node.where, "tempo: a mapping such as {bpm: 120, beats_per_bar: 4, source: internal}")
        return None
    found = c.check_keys(node, TEMPO_KEYS, "tempo")
    if "bpm" not in found:
        c.error(node.where, "tempo: needs bpm: (the tempo when nothing else sets it), e.g. bpm: 120")
        return None
    bpm = _number(c, found["bpm"][1], "bpm", 1, 999)
    bar = _number(c, found["beats_per_bar"][1], "beats_per_bar", 1, 64, whole=True) if "beats_per_bar" in found else 4
    source = "internal"
    if "source" in found:
        value = found["source"][1]
        text = value.scalar_text() if value.is_scalar else None
        if text in SOURCES:
            source = text
        else:
            c.error(value.where, f"bad tempo source '{text}'{did_you_mean(str(text), SOURCES)}: use {', '.join(SOURCES)}")
            return None
    if bpm is None or bar is None:
        return None
    return Tempo(bpm, int(bar), source)


def read_go(c: Any, node: Any) -> BeatSpan | None:
    """`go: {quantize: 1 bar}`: GO waits for the next grid line of that size."""
    if not node.is_map:
        c.error(node.where, "go: a mapping such as {quantize: 1 bar}")
        return None
    found = c.check_keys(node, GO_KEYS, "go")
    if "quantize" not in found:
        c.error(node.where, "go: needs quantize:, e.g. go: {quantize: 1 bar}")
        return None
    c.uses_beats(found["quantize"][1].where)
    return read_span(c, found["quantize"][1], "quantize")
