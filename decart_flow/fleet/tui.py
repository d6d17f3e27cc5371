"""The fleet controller's TUI: the show clock, every node in a table, the event log.

It renders the controller's state and sends intents (GO, back, pause/resume, the show's own
`on: key` cues, which go to every node); the controller decides. It runs on the controller's loop:
the controller plays nothing, so a repaint delays no cue (cues fire on the nodes).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.events import Key
from textual.widgets import DataTable, Footer, RichLog, Static

from ..engine.engine import fmt_t
from ..runner.headless import format_event
from ..show.model import EventTrigger, ShowModel
from .broker import Broker
from .controller import Controller

COLUMNS = ("node", "presence", "connection", "sessions", "show time", "last cue", "offset", "billed")


def _clock_line(controller: Controller) -> str:
    clock, t = controller.clock, controller.t
    shown = fmt_t(t) if t is not None else "-"
    nodes = controller.nodes.values()
    online = sum(1 for v in nodes if v.online)
    return (f"{controller.show.name}   {clock.state.upper()}   show time {shown}   GO {clock.go}   "
            f"nodes {online}/{len(controller.nodes)} online   broker {controller.broker.label}")


def node_row(view: Any, now_t: float | None) -> tuple[Any, ...]:
    """One node as the table shows it (plain values; tests read them)."""
    presence = Text("GONE", style="bold red") if not view.online else \
        Text("online, other show file", style="bold yellow") if view.other_show else Text("online", style="green")
    offset = "-" if view.offset_ms is None else f"{view.offset_ms:+.1f} ms (rtt {view.rtt_ms:.1f})"
    return (view.name, presence, view.connection, ", ".join(view.sessions) or "-",
            fmt_t(view.t) if view.t is not None else "-", view.last_cue or "-", offset, f"{view.billed_s:.0f} s")


class FleetApp(App[int]):
    CSS_PATH = "fleet.tcss"
    TITLE = "decart-flow fleet"
    BINDINGS = [
        Binding("space", "pause_resume", "pause/resume"),
        Binding("enter,g", "go_next", "GO", key_display="g"),
        Binding("b", "go_back", "back"),
        Binding("q,ctrl+c", "quit", "quit"),
    ]

    def __init__(self, show: ShowModel, broker: Broker, options: dict[str, Any]) -> None:
        super().__init__()
        self.show = show
        self.controller = Controller(show, broker, emit=self._record, **options)
        self._lines: list[str] = []
        self._keys = {c.trigger.arg for c in show.cues if isinstance(c.trigger, EventTrigger) and c.trigger.kind == "key"}

    def compose(self) -> ComposeResult:
        yield Static(id="clock")
        yield DataTable(id="nodes", cursor_type="row", zebra_stripes=True)
        yield RichLog(id="log", max_lines=500)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#nodes", DataTable)
        table.add_columns(*COLUMNS)
        self.run_worker(self._control(), exclusive=True)
        self.set_interval(0.25, self.refresh_state)

    async def _control(self) -> None:
        await self.controller.run()
        self.exit(0)

    def _record(self, record: dict[str, Any]) -> None:
        self._lines.append(format_event(record))

    def refresh_state(self) -> None:
        self.query_one("#clock", Static).update(_clock_line(self.controller))
        table = self.query_one("#nodes", DataTable)
        table.clear()
        for view in self.controller.nodes.values():
            table.add_row(*node_row(view, self.controller.t), key=view.name)
        log = self.query_one("#log", RichLog)
        for line in self._lines:
            log.write(line)
        self._lines.clear()

    def action_go_next(self) -> None:
        if not self.controller.go_next():
            self.notify("GO: no timeline entry left (or the show has not started)", timeout=2)

    def action_go_back(self) -> None:
        if not self.controller.go_back():
            self.notify("GO back: nothing before", timeout=2)

    def action_pause_resume(self) -> None:
        if not self.controller.toggle_pause():
            self.notify("the show has not started", timeout=2)

    async def action_quit(self) -> None:
        self.controller.stop("quit")

    def on_key(self, event: Key) -> None:
        """The show's own `on: key K` cues: the event goes to every node."""
        k = event.key if event.key in self._keys else event.character if event.character in self._keys else None
        if k is not None:
            event.stop()
            self.controller.event("key", k)


def run_fleet_tui(show: ShowModel, broker: Broker, options: dict[str, Any]) -> int:
    return int(FleetApp(show, broker, options).run() or 0)
