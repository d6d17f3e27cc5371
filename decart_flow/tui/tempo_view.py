"""The tempo line under the header: BPM, where it comes from, Link peers, bar.beat and a beat light.

It reads `state.tempo` (a `TempoState`, None for a show without `tempo:`, which hides the line) and
moves the beat on to the glance's show time, so it keeps counting between engine snapshots.
"""

from __future__ import annotations

import math

from rich.console import RenderableType
from rich.text import Text

from .glance import Glance
from .glance_view import GlanceView


def beat_lights(beat: float, beats_per_bar: int) -> Text:
    """One light per beat of the bar; the current one lit, brightest on its first quarter."""
    whole = math.floor(beat + 1e-9)
    lit, fresh = whole % beats_per_bar, beat - whole < 0.25
    out = Text()
    for i in range(beats_per_bar):
        if i == lit:
            out.append("●", style=("bold " if fresh else "") + ("magenta" if i == 0 else "green"))
        else:
            out.append("○", style="dim")
        out.append(" ")
    out.rstrip()
    return out


class TempoView(GlanceView):
    def view_key(self, g: Glance) -> object:
        tempo = g.state.tempo
        if tempo is None:
            return None
        beat = tempo.beat_at(g.t) if g.state.started and not g.state.paused else tempo.beat
        return (round(tempo.bpm, 1), tempo.source, tempo.peers, math.floor(beat + 1e-9),
                beat - math.floor(beat + 1e-9) < 0.25, g.state.paused)

    def changed(self, glance: Glance | None) -> None:
        shown = glance is not None and glance.state.tempo is not None
        if self.display != shown:
            self.display = shown  # once: a show has a tempo or not
        self.refresh()

    def render(self) -> RenderableType:
        g = self.glance
        if g is None or g.state.tempo is None:
            return Text()
        tempo = g.state.tempo
        beat = tempo.beat_at(g.t) if g.state.started and not g.state.paused else tempo.beat
        out = Text.assemble(("♩ ", "dim"), (f"{tempo.bpm:.1f}", "bold"), (" BPM  ", "dim"), (tempo.source, "cyan"))
        if tempo.peers is not None:
            out.append(f"  {tempo.peers} peer{'' if tempo.peers == 1 else 's'}", style="green" if tempo.peers else "yellow")
        out.append("   bar ", style="dim")
        out.append(tempo.format(beat), style="bold")
        out.append("  ")
        out.append_text(beat_lights(beat, tempo.beats_per_bar))
        return out
