"""Stream health in one line each: frames in, frames out, cue-to-glass of the last change."""

from __future__ import annotations

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from .glance import Glance
from .glance_view import GlanceView


def _fps(value: float | None) -> Text:
    if value is None:
        return Text("-", style="dim")
    style = "green" if value >= 20 else "yellow" if value >= 10 else "bold red"
    return Text(f"{value:5.1f} fps", style=style)


def _shown(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


class StatsPanel(GlanceView):
    def view_key(self, g: Glance) -> object:
        return _shown(g.fps_in), _shown(g.fps_out), None if g.glass_ms is None else round(g.glass_ms)

    def render(self) -> RenderableType:
        g = self.glance
        grid = Table.grid(padding=(0, 1))
        grid.add_column(style="dim", no_wrap=True)
        grid.add_column(no_wrap=True)
        grid.add_column(style="dim", no_wrap=True)
        grid.add_column(no_wrap=True)
        if g is None:
            return grid
        glass = Text("-", style="dim") if g.glass_ms is None else Text(f"{g.glass_ms:.0f} ms", style="bold")
        grid.add_row("in", _fps(g.fps_in), "out", _fps(g.fps_out))
        grid.add_row("cue→glass", glass, "", "")
        return grid
