"""The timeline: what fired (and how late), a NOW line, what comes next (and when), GO marked."""

from __future__ import annotations

from rich.console import RenderableType
from rich.text import Text

from ..engine.state import Upcoming
from .format import clock, countdown, lateness, short, show_time
from .glance import Glance
from .glance_view import GlanceView


class Timeline(GlanceView):
    def view_key(self, g: Glance) -> object:
        return g.state.past, g.state.upcoming, clock(g.t), g.wall.replace(microsecond=0), g.go_t, g.go_label

    def render(self) -> RenderableType:
        g = self.glance
        if g is None:
            return Text("waiting for the session…", style="dim")
        width = max(20, self.size.width)
        rows = max(3, self.size.height)
        upcoming = list(g.state.upcoming)
        past = list(g.state.past)
        room_past = max(1, min(len(past), (rows - 1) // 2 if upcoming else rows - 1))
        room_up = max(0, rows - 1 - min(len(past), room_past))
        out = Text(no_wrap=True, overflow="ellipsis")
        for p in past[-room_past:] if past else []:
            late = lateness(p.lateness_ms)
            style = "red" if abs(p.lateness_ms) > 20 else "dim"
            out.append(f"  ✓ {show_time(p.t):>8}  ", style="dim")
            out.append(short(p.cue, width - 26).ljust(max(1, width - 26)), style="dim")
            out.append(f"{late:>10}\n", style=style)
        label = f"━━ NOW {clock(g.t)} "
        out.append(label + "━" * max(0, width - len(label)) + "\n", style="bold magenta")
        go_marked = False
        for u in upcoming[:room_up]:
            ahead = _ahead(u, g)
            is_go = not go_marked and g.go_t is not None and u.t is not None and abs(u.t - g.go_t) < 1e-6 \
                and u.cue == g.go_label
            go_marked = go_marked or is_go
            when = u.bar or (show_time(u.t) if u.t is not None else (u.wall.strftime("%a %H:%M") if u.wall else "?"))
            mark, style = ("GO", "bold black on cyan") if is_go else ("  ", "")
            out.append(mark, style=style)
            out.append(f"  {when:>8}  ", style=style)
            out.append(short(u.cue, width - 26).ljust(max(1, width - 26)), style=style)
            out.append(f"{countdown(ahead):>10}\n", style=style or "cyan")
        if not upcoming:
            out.append("  nothing more is scheduled\n", style="dim")
        out.rstrip()
        return out


def _ahead(u: Upcoming, g: Glance) -> float:
    if u.t is not None:
        return u.t - g.t
    if u.wall is not None:
        return (u.wall - g.wall).total_seconds()
    return 0.0
