"""`p`: type a prompt; enter sends it, escape drops it, ctrl+e toggles enhance.

In a show of several sessions it also asks which session (tab, then the arrows): all by default."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from .target import TargetChooser


@dataclass(frozen=True)
class PromptChoice:
    text: str
    enhance: bool
    to: tuple[str, ...] | None = None  # the session it goes to; None: every session


class PromptBox(ModalScreen[PromptChoice | None]):
    BINDINGS = [
        Binding("escape", "dismiss(None)", "cancel"),
        Binding("ctrl+e", "toggle_enhance", "enhance on/off", priority=True),  # over the Input's "end"
        Binding("ctrl+t", "next_target", "next session", priority=True),
    ]
    enhance: reactive[bool] = reactive(True)

    def __init__(self, current: str | None = None, enhance: bool = True, sessions: tuple[str, ...] = ()) -> None:
        """`sessions`: a show of several sessions' names, to choose from (none: nothing to ask)."""
        super().__init__()
        self._current = current or ""
        self._sessions = sessions
        self.set_reactive(PromptBox.enhance, enhance)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label("Prompt (enter sends it, escape cancels)", classes="title")
            yield Input(placeholder=self._current or "a prompt", id="prompt")
            yield Label(self._enhance_text(), id="enhance")
            if self._sessions:
                yield Label("to (ctrl+t, or tab and the arrows):")
                yield TargetChooser(self._sessions)

    def _enhance_text(self) -> str:
        return f"enhance: {'on' if self.enhance else 'off'}  (ctrl+e)"

    def watch_enhance(self) -> None:
        if self.is_mounted:
            self.query_one("#enhance", Label).update(self._enhance_text())

    def action_toggle_enhance(self) -> None:
        self.enhance = not self.enhance

    def action_next_target(self) -> None:
        if self._sessions:
            self.query_one(TargetChooser).step()

    def on_radio_set_changed(self, event: TargetChooser.Changed) -> None:
        """A session picked: back to the text, where enter sends."""
        self.query_one("#prompt", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        to = self.query_one(TargetChooser).target if self._sessions else None
        self.dismiss(PromptChoice(text, self.enhance, to) if text else None)
