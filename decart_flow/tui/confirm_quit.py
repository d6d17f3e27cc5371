"""`q`: quitting ends the show for the audience too, so it asks first."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label


class ConfirmQuit(ModalScreen[bool]):
    BINDINGS = [
        Binding("y,enter,q", "dismiss(True)", "quit"),
        Binding("n,escape", "dismiss(False)", "stay"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label("End the show and quit?", classes="title")
            yield Label("y / enter / q: quit     n / escape: keep playing")
