"""`p`: type a prompt; enter sends it, escape drops it, ctrl+e toggles enhance."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.widgets import Input, Label


@dataclass(frozen=True)
class PromptChoice:
    text: str
    enhance: bool


class PromptBox(ModalScreen[PromptChoice | None]):
    BINDINGS = [
        Binding("escape", "dismiss(None)", "cancel"),
        Binding("ctrl+e", "toggle_enhance", "enhance on/off", priority=True),  # over the Input's "end"
    ]
    enhance: reactive[bool] = reactive(True)

    def __init__(self, current: str | None = None, enhance: bool = True) -> None:
        super().__init__()
        self._current = current or ""
        self.set_reactive(PromptBox.enhance, enhance)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label("Prompt (enter sends it, escape cancels)", classes="title")
            yield Input(placeholder=self._current or "a prompt", id="prompt")
            yield Label(self._enhance_text(), id="enhance")

    def _enhance_text(self) -> str:
        return f"enhance: {'on' if self.enhance else 'off'}  (ctrl+e)"

    def watch_enhance(self) -> None:
        if self.is_mounted:
            self.query_one("#enhance", Label).update(self._enhance_text())

    def action_toggle_enhance(self) -> None:
        self.enhance = not self.enhance

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        self.dismiss(PromptChoice(text, self.enhance) if text else None)
