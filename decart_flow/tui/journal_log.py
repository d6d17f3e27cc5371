"""The journal as the operator reads it: one line per record, newest at the bottom."""

from __future__ import annotations

from typing import Any, Iterable

from rich.text import Text
from textual.widgets import RichLog

from ..runner.headless import format_event

_STYLES = {
    "error": "bold red",
    "cue.fire": "cyan",
    "go": "bold cyan",
    "manual": "bold magenta",
    "show.pause": "bold yellow",
    "show.resume": "bold green",
    "show.reload": "bold green",
    "session.state": "yellow",
    "action.superseded": "dim",
    "action.ack": "dim",
}


class JournalLog(RichLog):
    """A RichLog that is fed in batches by the app's 10 Hz tick, never record by record."""

    can_focus = False

    def __init__(self, *, id: str | None = None, max_lines: int = 500) -> None:  # noqa: A002
        super().__init__(id=id, max_lines=max_lines, wrap=False, markup=False, highlight=False, auto_scroll=True)

    def add_records(self, records: Iterable[dict[str, Any]]) -> None:
        for record in records:
            style = _STYLES.get(str(record.get("event")), "")
            self.write(Text(format_event(record), style=style, no_wrap=True, overflow="ellipsis"))

    def add_line(self, line: str, style: str = "") -> None:
        self.write(Text(line, style=style, no_wrap=True, overflow="ellipsis"))
