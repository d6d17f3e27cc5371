"""One session of a show of several: its connection, what is on its glass, its picture, its stream.

The app puts one `SessionColumn` per session side by side (in tabs past `SIDE_BY_SIDE`); each of
its widgets is a `GlanceView` with `session` set, so it draws `focus(glance, name)`: that session's
part of the state, with the same widgets a one-session show uses (`StatePanel`, `StatsPanel`).
"""

from __future__ import annotations

from rich.console import RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical

from .format import CONNECTION_COLOURS
from .glance import Glance
from .glance_view import GlanceView
from .header import append_session
from .preview import PreviewView
from .state_panel import StatePanel
from .stats_panel import StatsPanel

SIDE_BY_SIDE = 3  # more sessions than this go in tabs


class SessionHeader(GlanceView):
    """`left  ● generating` over `lucy-restyle-2  p2p  billed 0:12`: two rows, for a narrow column."""

    def view_key(self, g: Glance) -> object:
        s = g.state
        return s.model, s.connection, s.protocol, s.queue, int(s.billed_s), s.session_id

    def render(self) -> RenderableType:
        g = self.glance
        text = Text(self.session or "", style="bold")
        if g is None:
            return text
        s = g.state
        text.append("  ")
        text.append(f"● {s.connection}", style=CONNECTION_COLOURS.get(s.connection, "white"))
        text.append("\n")
        append_session(text, s, light=False)
        return text


class SessionColumn(Vertical):
    """One session's widgets, top to bottom; `preview` takes its frames from the app."""

    def __init__(self, name: str) -> None:
        super().__init__(id=f"session-{name}", classes="session")
        self.session_name = name
        self.preview = PreviewView(id=f"preview-{name}")

    def compose(self) -> ComposeResult:
        name = self.session_name
        yield SessionHeader(id=f"head-{name}", session=name)
        yield self.preview
        yield StatePanel(id=f"state-{name}", session=name)
        yield StatsPanel(id=f"stats-{name}", session=name)

    def on_mount(self) -> None:
        self.preview.border_title = "output"
        self.query_one(StatePanel).border_title = "now"
        self.query_one(StatsPanel).border_title = "stream"
