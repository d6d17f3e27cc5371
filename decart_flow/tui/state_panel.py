"""What is on the glass now: prompt, reference image, mirror, the clip playing, the last ack."""

from __future__ import annotations

from pathlib import Path

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from .glance import Glance


class StatePanel(Widget):
    glance: reactive[Glance | None] = reactive(None)

    def render(self) -> RenderableType:
        g = self.glance
        grid = Table.grid(padding=(0, 1))
        grid.add_column(style="dim", no_wrap=True)
        grid.add_column(ratio=1, overflow="fold")
        if g is None:
            return grid
        s = g.state
        prompt = Text(s.prompt or "-", style="bold" if s.prompt else "dim")
        prompt.append("  (enhanced)" if s.enhance else "  (as written)", style="dim italic")
        grid.add_row("prompt", prompt)
        grid.add_row("image", Text(_image_name(s.image), style="" if s.image else "dim"))
        grid.add_row("mirror", Text("ON", style="bold yellow") if s.mirror else Text("off", style="dim"))
        grid.add_row("avatar", _audio(g))
        ack = "-" if s.last_ack_ms is None else f"{s.last_ack_ms:.1f} ms"
        grid.add_row("last ack", ack)
        return grid


def _image_name(image: str | None) -> str:
    if not image:
        return "none"
    return image if "://" in image else Path(image).name


def _audio(g: Glance) -> Text:
    s = g.state
    if not s.audio:
        return Text("silent", style="dim")
    elapsed = s.audio_elapsed or 0.0
    text = Text(Path(s.audio).name + " ")
    if g.audio_length:
        done = max(0.0, min(1.0, elapsed / g.audio_length))
        cells = 12
        filled = int(round(done * cells))
        text.append("█" * filled, style="green")
        text.append("░" * (cells - filled), style="dim")
        text.append(f" {elapsed:.1f}/{g.audio_length:.1f}s")
    else:
        text.append(f"{elapsed:.1f}s", style="green")
    return text
