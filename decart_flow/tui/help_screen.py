"""`?`: every key, the TUI's own and the show's `on: key K` cues."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Static

BUILTIN_HELP = (
    ("space", "pause / resume the show clock"),
    ("enter, g", "GO: fire the next timeline entry now"),
    ("b", "GO back: re-apply the entry before the last one"),
    ("p", "type a prompt (enter sends, ctrl+e toggles enhance)"),
    ("i", "choose a reference image"),
    ("m", "mirror on/off"),
    ("r", "reload the show file (checked first)"),
    ("?", "this help"),
    ("q", "quit (asks first), ctrl+q quits at once"),
)


def help_table(show_keys: list[tuple[str, str]]) -> Table:
    table = Table(box=None, padding=(0, 2), show_header=True, header_style="bold")
    table.add_column("key", style="bold cyan", no_wrap=True)
    table.add_column("does")
    for key, does in BUILTIN_HELP:
        table.add_row(key, does)
    if show_keys:
        table.add_section()
        for key, cue in show_keys:
            table.add_row(key, f"cue: {cue}")
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss(None)", "close")]

    def __init__(self, show_keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self.show_keys = show_keys

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label("Keys (escape closes)", classes="title")
            yield Static(help_table(self.show_keys), id="keys")
