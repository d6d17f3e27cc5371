"""What is on the glass now: prompt, reference image, mirror, the clip playing, the last ack."""

from __future__ import annotations

from pathlib import Path

from rich.cells import cell_len
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from .glance import Glance
from .glance_view import GlanceView

_LABEL = len("last ack") + 1  # the label column and the gap after it


class StatePanel(GlanceView):
    """Its height follows the prompt (it folds): a layout only when the prompt's row count changes."""

    _prompt_rows = 1

    def view_key(self, g: Glance) -> object:
        s = g.state
        elapsed = None if s.audio_elapsed is None else round(s.audio_elapsed, 1)
        return s.prompt, s.enhance, s.image, s.mirror, s.audio, elapsed, g.audio_length, s.last_ack_ms

    def changed(self, g: Glance | None) -> None:
        rows = _prompt_rows(g, self.size.width - _LABEL) if g is not None and self.size.width else 1
        self.refresh(layout=rows != self._prompt_rows)
        self._prompt_rows = rows

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


def _prompt_rows(g: Glance, width: int) -> int:
    text = (g.state.prompt or "-") + ("  (enhanced)" if g.state.enhance else "  (as written)")
    return max(1, -(-cell_len(text) // max(1, width)))


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
