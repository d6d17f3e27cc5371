"""One session of the show inside the engine: its own executor lanes, state store, connection and
journal tag, and the port its actions send through.

A show of several sessions (`sessions:`) has one `SessionLane` per session the engine was given;
a one-session show has one, `main`. Everything that goes to a session goes through its lane, so a
slow ack on one projector never holds another's prompt, and catch-up after one session reconnects
sends only what that session lacks. What is show-wide (the show clock, the cues, the choices, the
journal, GO and pause) stays in the engine.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Callable

from .executor import Executor
from .reports import ExecutorReports
from .store import StateStore

if TYPE_CHECKING:
    from ..show.model import SessionSpec
    from .journal import Journal
    from .port import ActionPort
    from .publisher import Publisher

UP = ("connected", "generating")  # a session in one of these states shows the show


class SessionLane:
    """A session's part of the engine. `tag` is `{"session": NAME}` in a show of several sessions
    (journal records carry it), `{}` in a one-session show (its journal stays as it always was)."""

    def __init__(self, spec: SessionSpec, session: Any, several: bool, loop: asyncio.AbstractEventLoop,
                 journal: Journal, publisher: Publisher, write: Callable[..., None], ended: Callable[[], bool],
                 shared: ActionPort, meter: Any = None) -> None:
        self.name = spec.name
        self.spec = spec
        self.session = session
        self.meter = meter  # engine.billing.SessionMeter of this session, or None
        self.tag: dict[str, str] = {"session": spec.name} if several else {}
        initial = spec.initial
        self.store = StateStore({"prompt": initial.prompt, "enhance": initial.enhance,
                                 "image": initial.image, "mirror": initial.mirror})
        self.audio: tuple[str, float] | None = None  # the clip playing and the loop time it started
        self.last_ack_ms: float | None = None
        self.reports = ExecutorReports(loop, journal, self.store, publisher, write, ended, self)
        self.executor = Executor(loop, self.reports.on_send, self.reports.on_ack, self.reports.on_superseded)
        self.port = SessionPort(shared, self)
        self.connection = "connecting"  # as last reported
        self.journaled_state: str | None = None  # the last session.state written
        self.late = False  # the show started without it (several sessions): caught up when it first comes up

    def safe_state(self) -> str:
        try:
            return str(self.session.get_connection_state())
        except Exception:  # noqa: BLE001
            return "connecting"

    @property
    def up(self) -> bool:
        return self.connection in UP


class SessionPort:
    """The `ActionHost` an action gets for one session: sends go to this session's executor, the
    state read and set is this session's; everything show-wide is the engine's `ActionPort`."""

    def __init__(self, shared: ActionPort, lane: SessionLane) -> None:
        self._shared = shared
        self._lane = lane
        self._name = lane.name if lane.tag else None  # what `plan` rows name (only with several sessions)
        self.session = lane.session  # the Session the wire calls go to
        # bound once: a month of `plan` makes 100,000s of these calls
        self.resolve, self.log, self.sleep = shared.resolve, shared.log, shared.sleep
        self._hooks, self._submit = shared.hooks, lane.executor.submit

    def send(self, kind: str, call: Callable[[], Any], action: dict[str, Any], cue: str,
             wait: bool = False) -> asyncio.Future[Any] | None:
        """Hand a wire call to this session's executor; `wait`: a Future for its ack."""
        if self._hooks:
            self._shared.tell(cue, action, self._name)
        return self._submit(kind, call, action, cue, wait)

    def note(self, cue: str, action: dict[str, Any]) -> None:
        """An action that sends nothing itself (a Python handler's call), listed by `plan` for this session."""
        if self._hooks:
            self._shared.tell(cue, action, self._name)

    def sent(self, key: str) -> Any:
        return self._lane.store.sent(key)

    def intend(self, key: str, value: Any) -> None:
        self._lane.store.intend(key, value)

    def __getattr__(self, name: str) -> Any:  # control, beat_seconds, set_tempo, catching_up...: show-wide
        return getattr(self._shared, name)
