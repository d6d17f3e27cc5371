"""Stream health in one line each: frames in, frames out, cue-to-glass of the last change."""

from __future__ import annotations

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from .glance import Glance


def _fps(value: float | None) -> Text:
    if value is None:
        return Text("-", style="dim")
    style = "green" if value >= 20 else "yellow" if value >= 10 else "bold red"
    return Text(f"{value:5.1f} fps", style=style)


class StatsPanel(Widget):
    glance: reactive[Glance | None] = reactive(None)

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
