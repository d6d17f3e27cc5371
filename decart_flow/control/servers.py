"""Every control surface a run asked for, started and stopped together (the runner's one call).

    controls = Controls(engine, session, osc_port=..., http_port=..., monitor_port=..., watch=path, say=say)
    await controls.start()   # prints where each listens; the remote URL with its token, once
    ...
    await controls.stop()    # reverse order; one failing surface does not keep the others open

MIDI starts by itself when the show has a `on: midi ...` cue.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..show.model import EventTrigger, ShowModel

if TYPE_CHECKING:
    from ..engine.engine import Engine

log = logging.getLogger(__name__)


def uses_midi(show: ShowModel) -> bool:
    """MIDI cues, or a tempo that follows MIDI clock."""
    clock = show.tempo is not None and show.tempo.source == "midi-clock"
    return clock or any(isinstance(c.trigger, EventTrigger) and c.trigger.kind == "midi" for c in show.cues)


class Controls:
    def __init__(self, engine: Engine, session: Any = None, *, osc_port: int | None = None,
                 http_port: int | None = None, monitor_port: int | None = None, watch: str | Path | None = None,
                 midi: bool | None = None, midi_port: str | None = None, say: Callable[[str], None] = print,
                 on_reload: Callable[[ShowModel], None] | None = None,
                 on_reload_error: Callable[[list[str]], None] | None = None,
                 adjust: Callable[[ShowModel], ShowModel] | None = None,
                 sessions: dict[str, Any] | None = None) -> None:
        """`sessions`: a show of several sessions' clients by name (the monitor shows each)."""
        self.engine = engine
        self.session = session
        self.say = say
        self.osc = self.http = self.monitor = self.watcher = self.midi = None
        if osc_port is not None:
            from .osc import OscServer
            self.osc = OscServer(engine, osc_port)
        if http_port is not None:
            from .remote import HttpControl
            self.http = HttpControl(engine, http_port)
        if monitor_port is not None and session is not None:
            from .monitor import MonitorServer
            self.monitor = MonitorServer(session, monitor_port, sessions=sessions)
        if watch is not None:
            from .watch import ShowWatcher
            self.watcher = ShowWatcher(engine, watch, on_reload=on_reload, on_error=on_reload_error or self._refused,
                                       adjust=adjust)
        if midi if midi is not None else uses_midi(engine.show):
            from .midi import MidiInput
            self.midi = MidiInput(engine, midi_port, say=say)
        self._started: list[Any] = []

    def _refused(self, problems: list[str]) -> None:
        self.say("reload refused, the show goes on unchanged:")
        for problem in problems:
            self.say(f"  {problem}")

    async def start(self) -> None:
        """Start each surface; a port in use is one line, then the rest go on."""
        for name, surface in (("OSC", self.osc), ("remote", self.http), ("monitor", self.monitor),
                              ("watch", self.watcher), ("MIDI", self.midi)):
            if surface is None:
                continue
            try:
                await surface.start()
            except OSError as exc:
                self.say(f"{name}: cannot listen ({exc.strerror or exc}); the show goes on without it")
                continue
            self._started.append(surface)
            if surface is self.osc:
                self.say(f"OSC: udp://{self.osc.host}:{self.osc.port} (/go /back /pause /resume /prompt)")
            elif surface is self.http:
                self.say(f"remote: {self.http.login_url}")  # the token: printed here once, never journaled
            elif surface is self.monitor:
                self.say(f"monitor: {self.monitor.login_url}")  # the token: printed here once, never journaled
                if self.monitor.several:
                    self.say(f"monitor: one session full screen: {self.monitor.session_url('NAME')} "
                             f"({', '.join(self.monitor.sessions)})")
            elif surface is self.watcher:
                self.say(f"watching {self.watcher.path} for changes")

    async def stop(self) -> None:
        while self._started:
            surface = self._started.pop()
            try:
                await surface.stop()
            except Exception:  # noqa: BLE001 - release the others anyway
                log.exception("stopping %s", type(surface).__name__)
