"""The engine: a show model in, session calls out, state and journal records back.

Triggers (see `triggers/`) are Observables of firings; the `CueRunner` (`cues.py`) runs a firing's
actions (see `actions/`), the `Transport` (`transport.py`) moves the show in show time, the
`Publisher` (`publisher.py`) makes its snapshots, `ExecutorReports` (`reports.py`) journals and
applies what the executor sent and got back, `TempoIntents` hands tempo intents to the tempo
conductor. `Engine` is the facade the other rooms use: it wires those parts and owns the show's
lifetime. Everything that reaches the wire goes through the one `Executor`. The same code runs in
real time (`run`) and in virtual time (`plan`, tests): only the `Clock` and the event loop differ.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from reactivex.scheduler.eventloop import AsyncIOScheduler
from reactivex.subject import BehaviorSubject

from ..show.model import Action, Cue, ShowModel, TimelineEntry
from ..tempo.conductor import conductor_for
from . import catchup
from .choices import Choices
from .cues import CueRunner
from .clock import Clock
from .executor import Executor
from .journal import Journal
from .latency import LatencyEstimator
from .names import fmt_t, timeline_name
from .opening import OpeningHours
from .port import ActionPort
from .publisher import Publisher
from .reports import ExecutorReports
from .showclock import ShowClock
from .state import ShowState
from .store import StateStore
from .tempo_intents import TempoIntents
from .transport import Transport
from .triggers import trigger_kind
from .triggers.event import EventHub

if TYPE_CHECKING:  # `plan` need not import the wire client's package
    from ..realtime.session import Session

__all__ = ["Engine", "fmt_t", "timeline_name"]  # fmt_t, timeline_name: other rooms import them from here

log = logging.getLogger(__name__)


class Engine:
    def __init__(
        self,
        show: ShowModel,
        session: Session,
        clock: Clock,
        journal: Journal | str | Path | None = None,
        observe_state: bool = True,
        latency: LatencyEstimator | None = None,
        resume: Any = None,
        meter: Any = None,
    ) -> None:
        """`resume` (runner.resume.Resume): start the show clock at `resume.t` with the journal's state.

        `meter` (engine.billing.SessionMeter): billed seconds and queue place, shown in the state."""
        self.show = show
        self.meter = meter
        self.opening: OpeningHours | None = None  # `session:` opening hours and budget, while running
        self.session = session
        self.clock = clock
        self.loop = clock.loop
        self.show_clock = ShowClock(clock)
        self.tempo = conductor_for(show, self.show_clock, self.loop)  # the beat grid and its source
        self.events = EventHub()
        self.scheduler = AsyncIOScheduler(self.loop)
        self.choices = Choices(show.name)
        self.journal = journal if isinstance(journal, Journal) else Journal(journal, self._stamp)
        self._own_journal = not isinstance(journal, Journal)
        self.journal_events = self.journal.events
        self.latency = latency or _default_latency(show)  # what `lookahead: auto` sends ahead by
        self.store = StateStore({"prompt": show.initial.prompt, "enhance": show.initial.enhance,
                                 "image": show.initial.image, "mirror": show.initial.mirror})
        self.publisher = Publisher(self, observe_state)  # the snapshots
        self.reports = ExecutorReports(self.loop, self.journal, self.store, self.publisher, self._write,
                                       lambda: self._ended is not None)  # what the executor sent and got back
        self.executor = Executor(self.loop, self.reports.on_send, self.reports.on_ack, self.reports.on_superseded)
        self.actions = ActionPort(session, self.executor, self.store, self.choices, self.journal, self.show_clock,
                                  self.loop, self._control, self.tempo)
        self.on_action = self.actions.hooks  # (show t, cue, action) of everything the actions do: `plan` listens
        self.cues = CueRunner(self, self.publisher)  # firing a cue
        self.transport = Transport(self, self.cues, self.publisher)  # GO, back, pause, seek: show time
        self.tempo_intents = TempoIntents(self.tempo, self.show_clock, self.journal, self.actions, self.publisher,
                                          self.transport, self._start_by_clock)
        self._connection: str = self._safe_state()
        self._resume = resume
        if resume is not None:
            self.store.restore(resume.state)
            self.store.intend("mirror", bool(self.store.get("mirror")))
        self._subs: list[Any] = []
        self._end: asyncio.Future[str] | None = None
        self._journaled_state: str | None = None  # the last session.state written
        self._observe_state = observe_state
        self.autostart = True  # False: the show clock is started from outside (`start_at`), as a fleet node's is
        self._ended: str | None = None
        self.state: BehaviorSubject[ShowState] = self.publisher.begin()

    # ------------------------------------------------------------ lifecycle

    async def run(self) -> str:
        """Play the show until it ends; the reason (`duration`, `stop`, ...)."""
        self._end = self.loop.create_future()
        self.session.on("connection_change", self._on_connection)
        self._subscribe_events()
        ticker = None
        if self._observe_state and self.clock.realtime:
            ticker = self.loop.create_task(self.publisher.tick())
        if self.tempo is not None and self.clock.realtime:  # `plan` lays the grid out at `bpm`
            try:
                self.tempo.start_source()
            except RuntimeError as exc:  # Link not installed: one line, the show goes on at `bpm`
                self._write("error", message=f"tempo: {exc}; the show keeps {self.tempo.grid.bpm:g} bpm")
        try:
            if self.show.session is not None and not self._open_hours(self.show.session) and self.autostart:
                self._start_show(self._start_t())  # closed: no session will come to start it
            # A state the session reached before run() subscribed is journaled (and acted on) here.
            state = self._safe_state()
            if state != self._journaled_state:
                self._on_connection(state)
            elif state in ("connected", "generating") and self.autostart:
                self._start_show(self._start_t())
            return await self._end
        finally:
            if ticker is not None:
                ticker.cancel()
            self._shutdown()

    def stop(self, reason: str = "stop") -> None:
        if self._end is not None and not self._end.done():
            self._end.set_result(reason)
            self.show_clock.clear()  # nothing due at this same instant fires after the end

    def _shutdown(self) -> None:
        reason = self._end.result() if self._end is not None and self._end.done() else "cancelled"
        self.transport.unplan()
        self._dispose(self._subs)
        self.cues.cancel()
        self.executor.cancel_pending()
        self.show_clock.clear()
        if self.opening is not None:
            self.opening.stop()
        if self.tempo is not None:
            self.tempo.stop_source()
        try:
            self.session.off("connection_change", self._on_connection)
        except Exception:  # noqa: BLE001 - a session that forgets us is fine
            pass
        self._ended = reason
        if self.meter is not None:  # the run's billed seconds, before the journal's last line
            self.meter.close()
        self.journal.write("show.end", reason=reason)
        if self._own_journal:
            self.journal.close()
        self.publisher.publish()

    def _start_t(self) -> float:
        return float(self._resume.t) if self._resume is not None else 0.0

    def _start_show(self, t: float = 0.0) -> None:
        if self.tempo is not None and self.tempo.defer_start(lambda: self._ended is None and self._start_show(t)):
            return  # Link: the show starts on the session's next bar line (unless it ended meanwhile)
        if self.show_clock.started:
            return
        if self._resume is not None:
            # Entries before t already played in the resumed run, and so did any sent early by
            # their lookahead; what the journal says the service acknowledged keeps its show time,
            # so catch-up weighs it against cue firings.
            fired = getattr(self._resume, "fired", None) or {}
            self.transport.skip_played(t, fired)
            for cue in self.show.cues:
                if cue.name in fired:
                    self.cues.sent_ahead(cue.name, fired[cue.name])
            now = self.loop.time()
            for key, (at, cue) in self._resume.applied.items():
                if key in ("prompt", "image", "mirror"):
                    self.store.set_at(key, now - max(0.0, t - at), cue)
        self.show_clock.start(t)
        if self.tempo is not None:
            self.tempo.started()
        self.journal.write("show.start", show=self.show.name, model=self.show.model,
                           wall=self.clock.wall().isoformat())
        self.transport.plan_from(t)
        for cue in self.show.cues:
            if not trigger_kind(cue.trigger).show_time and _is_wall(cue):
                self._subs.append(self.cues.subscribe(cue))
        self._changed()

    def catch_up(self) -> None:
        """After a reconnect: send the state that should be in effect now (the runner calls it)."""
        if self.show_clock.started:
            catchup.catch_up(self, reapply=True)

    def reload(self, show: ShowModel) -> None:
        """Swap the cues, keep the show clock where it is."""
        self.transport.unplan()
        self._dispose(self._subs)
        old_tempo, self.show = self.show.tempo, show
        self.journal.write("show.reload", show=show.name)
        if show.tempo != old_tempo:  # the grid goes on; a new bpm is set as `/tempo` would set it
            if self.tempo is not None and show.tempo is not None and old_tempo is not None \
                    and (show.tempo.beats_per_bar, show.tempo.source) == (old_tempo.beats_per_bar, old_tempo.source):
                if show.tempo.bpm != old_tempo.bpm:
                    self.actions.set_tempo(show.tempo.bpm, "reload")
            else:
                self._write("error", message="tempo: a new beats_per_bar, source or tempo: block takes a restart "
                                             "of the run; the show goes on with the tempo it had")
        self._subscribe_events()
        if self.show_clock.started:
            self.transport.replan()
            for cue in show.cues:
                if _is_wall(cue):
                    self._subs.append(self.cues.subscribe(cue))
        self._changed()

    # ------------------------------------------------------------ subscriptions

    def uses_auto_lookahead(self) -> bool:
        """Whether any cue or timeline entry is sent early by the measured latency (`lookahead: auto`)."""
        settings = [c.lookahead for c in self.show.cues] + [getattr(e, "lookahead", None) for e in self.show.timeline]
        return any(lead is not None and lead.auto for lead in map(self.cues.lead, settings))

    def _subscribe_events(self) -> None:
        for cue in self.show.cues:
            if not trigger_kind(cue.trigger).show_time and not _is_wall(cue):
                self._subs.append(self.cues.subscribe(cue))

    @staticmethod
    def _dispose(subs: list[Any]) -> None:
        for sub in subs:
            sub.dispose()
        subs.clear()

    # ------------------------------------------------------------ the executor's reports

    @property
    def go_index(self) -> int:
        """The timeline entry GO fires next."""
        return self.transport.go_index

    def _control(self, command: str) -> None:
        """A `go:` / `pause:` / `resume:` / `stop:` action: the same intents as the operator's."""
        if command == "next":
            self.go_next()
        elif command == "back":
            self.go_back()
        elif command == "pause":
            self.pause()
        elif command == "resume":
            self.resume()
        else:
            self.stop("cue")

    def _write(self, event: str, **fields: Any) -> None:
        self.cues.write(event, **fields)

    # ------------------------------------------------------------ intents

    def go_next(self) -> bool:
        """Fire the next timeline entry now (with `go: {quantize}`, on the next grid line)."""
        return self.transport.go_next()

    def go_back(self) -> bool:
        """Re-apply the entry before the last one fired; GO then points after it."""
        return self.transport.go_back()

    def entry_t(self, entry: TimelineEntry) -> float:
        """A timeline entry's show time: a place on the beat grid where the grid has it now."""
        return self.transport.entry_t(entry)

    def start_at(self, t: float) -> bool:
        """Start show time at `t` now, for a show clock owned elsewhere (`autostart` off: a fleet's
        controller). A negative `t` starts it `-t` seconds from now; a positive one catches up as a
        restarted show does. False when the show is not running or its clock has started."""
        if self.show_clock.started or self._end is None or self._end.done():
            return False
        self._start_show(t)
        return True

    def go_to(self, i: int) -> bool:
        """Fire timeline entry `i` now and jump the show clock to its time: a GO decided elsewhere."""
        return self.transport.go_to(i)

    def seek(self, t: float) -> None:
        """Set show time to `t` without firing an entry (following a clock owned elsewhere)."""
        self.transport.seek(t)

    def pause(self) -> bool:
        return self.transport.pause()

    def resume(self) -> bool:
        return self.transport.resume()

    def key(self, k: str) -> bool:
        """A key pressed in the TUI; True when a cue took it."""
        return self.fire_event("key", k)

    def fire_event(self, kind: str, arg: str, args: Iterable[Any] = ()) -> bool:
        """An OSC message, HTTP call, MIDI message...; True when a cue listens to it."""
        return self.events.emit(kind, arg, tuple(args))

    # ------------------------------------------------------------ tempo (a show with `tempo:`)

    def tap(self) -> bool:
        """The TUI's `t` or OSC `/tap`: a beat tapped now; True when the show has a tempo."""
        return self.tempo_intents.tap()

    def set_tempo(self, bpm: float) -> bool:
        """OSC `/tempo BPM`: the grid takes it from now on (with Link, every peer does)."""
        return self.tempo_intents.set_tempo(bpm)

    def midi_clock(self, message: Any, at: float) -> bool:
        """A MIDI clock message (`source: midi-clock`): pulses set the tempo, start/stop start and pause."""
        return self.tempo_intents.midi_clock(message, at)

    def _start_by_clock(self) -> bool:
        """MIDI clock's start: the show starts if it runs and has not started yet; whether it did."""
        if self.show_clock.started or self._end is None:
            return False
        self._start_show(self._start_t())
        return True

    def manual(self, action: Action, source: str) -> None:
        """An action from the operator (prompt box, image chooser, mirror key), journaled with its source."""
        self.journal.write("manual", source=source)
        self.cues.perform_all(f"manual:{source}", (action,), ())
        self._changed()

    # ------------------------------------------------------------ session and state

    def _safe_state(self) -> str:
        try:
            return str(self.session.get_connection_state())
        except Exception:  # noqa: BLE001
            return "connecting"

    def _on_connection(self, state: Any) -> None:
        state = str(state)
        self._connection = state
        if state != self._journaled_state:
            self._journaled_state = state
            self.journal.write("session.state", state=state, session_id=getattr(self.session, "session_id", None),
                               protocol=getattr(self.session, "protocol", None))
        if state in ("connected", "generating") and not self.show_clock.started and self._end is not None \
                and self.autostart:
            self._start_show(self._start_t())
        self.events.emit("state", state)
        self._changed()

    def _stamp(self) -> tuple[str, float]:
        return self.clock.wall().isoformat(), self.show_clock.t

    def _bug(self, what: str, exc: BaseException) -> None:
        self.cues.bug(what, exc)

    def _open_hours(self, policy: Any) -> bool:
        """Start the opening hours; whether the session is open now."""
        self.opening = OpeningHours(
            policy, self.clock,
            billed=(lambda: self.meter.billed_seconds) if self.meter is not None else None,
            lead=lambda: float(getattr(self.session, "connect_lead_s", 0.0) or 0.0),
            apply=self._session_schedule,
        )
        is_open = self.opening.start()
        if not is_open:
            self._session_schedule(False, "window" if policy.when is not None else "budget")
        return is_open

    def _session_schedule(self, is_open: bool, reason: str) -> None:
        """Opening hours open or close the session: journal it, list it in `plan`, tell the session."""
        action = {"session": "connect" if is_open else "disconnect"}
        self._write("session.schedule", action=action["session"], reason=reason,
                    billed_today=round(self.opening.used_today(), 1) if self.opening is not None else None)
        for hook in self.on_action:
            hook(self.show_clock.t, "session", action)
        call = getattr(self.session, "resume" if is_open else "suspend", None)
        if call is not None:
            result = call()
            if asyncio.iscoroutine(result):
                task = self.loop.create_task(result)
                task.add_done_callback(_log_failure)
        self._changed()

    def refresh_state(self) -> None:
        """Something the snapshot shows changed outside the engine (billing, queue): publish it."""
        self.publisher.changed()

    def _changed(self) -> None:
        self.publisher.changed()

    @property
    def connection(self) -> str:
        """The session's connection state, as last reported."""
        return self._connection

    @property
    def ended(self) -> str | None:
        """Why the show ended; None while it runs."""
        return self._ended


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("opening or closing the session failed", exc_info=task.exception())


def _default_latency(show: ShowModel) -> LatencyEstimator:
    """Two frame intervals of the show's model; the model table is read only for shows that use `auto`."""
    if show.lookahead != "auto" and all(c.lookahead != "auto" for c in show.cues):
        return LatencyEstimator()
    from ..realtime.models import realtime

    try:
        return LatencyEstimator.for_fps(realtime(show.model).fps)
    except Exception:  # noqa: BLE001 - an unknown model fails where the session is made, not here
        return LatencyEstimator()


def _is_wall(cue: Cue) -> bool:
    return trigger_kind(cue.trigger).wall_clock
