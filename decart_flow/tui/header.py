"""The header: which show, which model, whether the session is alive, and where the show is.

In a show of several sessions the header is show-wide: each session's name and connection light
(the rest of each session is in its own column), and the seconds billed over all of them."""

from __future__ import annotations

from typing import Any

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from ..show.times import format_seconds
from .format import CONNECTION_COLOURS, clock, wall
from .glance import Glance
from .glance_view import GlanceView


class ShowHeader(GlanceView):
    def view_key(self, g: Glance) -> object:
        return (g.state.show, g.state.model, g.state.connection, g.state.session_id, clock(g.t), g.duration,
                wall(g.wall), g.state.timeline_len, g.state.go_index, g.state.ended, g.state.paused,
                g.state.started, g.phase, g.note, g.state.protocol, int(g.state.billed_s), g.state.queue,
                _lights(g))

    def render(self) -> RenderableType:
        g = self.glance
        if g is None:
            return Text("decart-flow", style="bold")
        s = g.state
        lights = _lights(g)
        if lights:
            top = Text.assemble((s.show, "bold"), "  ")
            for name, connection, _ in lights:
                top.append(f"{name} ")
                top.append(f"● {connection}  ", style=CONNECTION_COLOURS.get(connection, "white"))
            billed = sum(b for _, _, b in lights)
            if billed:
                top.append("billed ", style="dim")
                top.append(format_seconds(billed))
        else:
            top = Text.assemble((s.show, "bold"), "  ")
            append_session(top, s)
            if s.session_id:
                top.append(f"  session {s.session_id}", style="dim")
        length = f" / {clock(g.duration)}" if g.duration is not None else ""
        bottom = Text.assemble(("show ", "dim"), (clock(g.t) + length, "bold"), ("   wall ", "dim"), wall(g.wall))
        if s.timeline_len:
            at = "end" if s.go_index is None else f"{s.go_index + 1}/{s.timeline_len}"
            bottom.append("   GO ", style="dim")
            bottom.append(at)
        mark = Text()
        if s.ended is not None or g.phase == "ended":
            mark = Text(f" ENDED: {s.ended or 'stop'} ", style="bold black on grey70")
        elif g.phase == "stopping":
            mark = Text(" STOPPING ", style="bold black on yellow")
        elif g.phase == "failed":
            mark = Text(" FAILED ", style="bold white on red")
        elif s.paused:
            mark = Text(" ❚❚ PAUSED ", style="bold white on red")
        elif s.started:
            mark = Text(" ▶ PLAYING ", style="bold black on green")
        grid = Table.grid(expand=True)
        grid.add_column(ratio=1)
        grid.add_column(justify="right")
        grid.add_row(top, mark)
        grid.add_row(bottom, Text(g.note or "", style="italic yellow", overflow="ellipsis", no_wrap=True))
        return grid


def append_session(text: Text, s: Any, light: bool = True) -> None:
    """`mirage_v2  ● generating  p2p  queued 1/2  billed 0:12` of a state or a `SessionView`
    (without `● generating` when not `light`)."""
    text.append(s.model, style="cyan")
    if light:
        text.append("  ")
        text.append(f"● {s.connection}", style=CONNECTION_COLOURS.get(s.connection, "white"))
    if s.protocol:
        text.append(f"  {s.protocol}", style="dim")
    if s.queue is not None:
        text.append(f"  queued {s.queue[0]}/{s.queue[1]}", style="bold yellow")
    if s.billed_s:
        text.append("  billed ", style="dim")
        text.append(format_seconds(int(s.billed_s)))  # the service bills whole seconds


def _lights(g: Glance) -> tuple[tuple[str, str, int], ...]:
    """A show of several sessions' (name, connection, whole seconds billed) of each session the
    run plays; () for one session."""
    if not g.session_figures:
        return ()
    played = {name for name, _, _ in g.session_figures}
    return tuple((v.name, v.connection, int(v.billed_s)) for v in getattr(g.state, "sessions", ())
                 if v.name in played)
