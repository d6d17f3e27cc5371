"""The journal as the operator reads it: one line per record, newest at the bottom.

It draws the newest lines that fit and nothing else. A scrolling log (RichLog) grows its virtual
size with every line, and each growth is a layout of the whole screen: measured, that was most of
the TUI's cost during a busy show. The full record is in the journal file.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Iterable

from rich.console import RenderableType
from rich.text import Text
from textual.widget import Widget

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


class JournalLog(Widget):
    """Fed in batches by the app's 10 Hz tick, never record by record; one repaint per batch."""

    can_focus = False

    def __init__(self, *, id: str | None = None, max_lines: int = 200) -> None:  # noqa: A002
        super().__init__(id=id)
        self.lines: deque[Text] = deque(maxlen=max_lines)

    def add_records(self, records: Iterable[dict[str, Any]]) -> None:
        for record in records:
            self.lines.append(Text(format_event(record), style=_STYLES.get(str(record.get("event")), "")))
        self.refresh()

    def add_line(self, line: str, style: str = "") -> None:
        self.lines.append(Text(line, style=style))
        self.refresh()

    def render(self) -> RenderableType:
        rows = max(1, self.size.height)
        shown = list(self.lines)[-rows:]
        return Text("\n").join(shown)  # one row each: app.tcss says nowrap, ellipsis
