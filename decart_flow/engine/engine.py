"""The engine: a show model in, session calls out, state and journal records back.

Triggers (see `triggers/`) are Observables of firings; the `CueRunner` (`cues.py`) runs a firing's
actions (see `actions/`), the `Transport` (`transport.py`) moves the show in show time, the
`Publisher` (`publisher.py`) makes its snapshots, `ExecutorReports` (`reports.py`) journals and
applies what the executor sent and got back, `TempoIntents` hands tempo intents to the tempo
conductor. `Engine` is the facade the other rooms use: it wires those parts and owns the show's
lifetime. Each session of the show has a `SessionLane` (`lanes.py`): its executor, state store,
connection and catch-up; an action goes to the lanes of `ShowModel.targets(action)`. The same code
runs in real time (`run`) and in virtual time (`plan`, tests): only the `Clock` and the event loop differ.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Awaitable, Iterable, Mapping

from reactivex.scheduler.eventloop import AsyncIOScheduler
from reactivex.subject import BehaviorSubject

from ..show.model import Action, Cue, ShowModel, TimelineEntry
from ..tempo.conductor import conductor_for
from . import catchup
from .actions import ActionContext, action_kind
from .choices import Choices
from .cues import CueRunner
from .clock import Clock
from .executor import Superseded
from .journal import Journal
from .lanes import UP, SessionLane
from .latency import LatencyEstimator
from .names import fmt_t, timeline_name
from .opening import OpeningHours
from .port import ActionPort
from .publisher import Publisher
from .showclock import ShowClock
from .state import ShowState
from .tempo_intents import TempoIntents
from .transport import Transport
from .triggers import trigger_kind
from .triggers.event import EventHub

if TYPE_CHECKING:  # `plan` need not import the wire client's package
    from ..realtime.session import Session

__all__ = ["Engine", "fmt_t", "timeline_name"]  # fmt_t, timeline_name: other rooms import them from here

log = logging.getLogger(__name__)


START_TIMEOUT_S = 30.0  # several sessions: show time starts when all are up, or this long after the first


class Engine:
    def __init__(
        self,
        show: ShowModel,
        sessions: Session | Mapping[str, Session],
        clock: Clock,
        journal: Journal | str | Path | None = None,
        observe_state: bool = True,
        latency: LatencyEstimator | None = None,
        resume: Any = None,
        meter: Any = None,
        start_timeout: float = START_TIMEOUT_S,
    ) -> None:
        """`sessions`: a `Session` (the show's first session: a one-session show's `main`) or a mapping
        of session name to `Session`. A fleet node passes only its own: actions for sessions it was
        not given are skipped (another node sends them).

        `resume` (runner.resume.Resume): start the show clock at `resume.t` with the journal's state:
        `resume.state` and `resume.applied` are the first session's, unless `resume.sessions` maps a
        session's name to its own (an object with `state` and `applied`).

        `meter` (engine.billing.SessionMeter, or a mapping of them by session name): billed seconds and
        queue place, shown in the state.

        `start_timeout`: with several sessions, show time starts when every one is up (connected or
        generating), or this many seconds after the first is, with those that are."""
        self.show = show
        if not isinstance(sessions, Mapping):
            sessions = {show.sessions[0].name: sessions}
        unknown = [name for name in sessions if name not in show.session_names()]
        if unknown or not sessions:
            raise ValueError(f"sessions {', '.join(unknown) or '(none)'}: the show's sessions are "
                             f"{', '.join(show.session_names())}")
        # in show order, whatever order the mapping came in
        self.sessions: dict[str, Session] = {n: sessions[n] for n in show.session_names() if n in sessions}
        meters = meter if isinstance(meter, Mapping) else {next(iter(self.sessions)): meter}
        self.opening: OpeningHours | None = None  # `session:` opening hours and budget, while running
        self.session = next(iter(self.sessions.values()))  # the first (for code that knows one session)
        self.start_timeout = start_timeout
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
        # One estimate for the show (not per session): the sessions share this machine and its network.
        self.latency = latency or _default_latency(show)  # what `lookahead: auto` sends ahead by
        self.publisher = Publisher(self, observe_state)  # the snapshots
        self.lanes: list[SessionLane] = []
        self.lane: dict[str, SessionLane] = {}
        self.actions = ActionPort(self.session, None, None, self.choices, self.journal,  # type: ignore[arg-type]
                                  self.show_clock, self.loop, self._control, self.tempo)
        for name, session in self.sessions.items():
            lane = SessionLane(show.session_spec(name), session, show.several, self.loop, self.journal,
                               self.publisher, self._write, lambda: self._ended is not None, self.actions,
                               meters.get(name))
            self.lanes.append(lane)
            self.lane[name] = lane
        first = self.lanes[0]
        self.store, self.executor, self.reports = first.store, first.executor, first.reports  # the first session's
        self.actions.bind(first.executor, first.store)
        self._one = not show.several  # every action that goes to a session goes to the one lane
        self.on_action = self.actions.hooks  # (show t, cue, action, session) of everything the actions do: `plan`
        self.cues = CueRunner(self, self.publisher)  # firing a cue
        self.transport = Transport(self, self.cues, self.publisher)  # GO, back, pause, seek: show time
        self.tempo_intents = TempoIntents(self.tempo, self.show_clock, self.journal, self.actions, self.publisher,
                                          self.transport, self._start_by_clock)
        for lane in self.lanes:
            lane.connection = lane.safe_state()
        self._watchers: dict[str, Any] = {}  # session name -> its connection_change callback, while running
        self._start_timer: Any = None  # several sessions: the start that no longer waits for the slow ones
        self._resume = resume
        if resume is not None:
            for lane, part in self._resumed():
                lane.store.restore(part.state)
                lane.store.intend("mirror", bool(lane.store.get("mirror")))
        self._subs: list[Any] = []
        self._end: asyncio.Future[str] | None = None
        self._observe_state = observe_state
        self.autostart = True  # False: the show clock is started from outside (`start_at`), as a fleet node's is
        self._ended: str | None = None
        self.state: BehaviorSubject[ShowState] = self.publisher.begin()

    # ------------------------------------------------------------ lifecycle

    async def run(self) -> str:
        """Play the show until it ends; the reason (`duration`, `stop`, ...)."""
        self._end = self.loop.create_future()
        for lane in self.lanes:
            watcher = self._watchers[lane.name] = (lambda state, lane=lane: self._on_connection(state, lane))
            lane.session.on("connection_change", watcher)
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
            # A state a session reached before run() subscribed is journaled (and acted on) here.
            changed = False
            for lane in self.lanes:
                state = lane.safe_state()
                if state != lane.journaled_state:
                    self._on_connection(state, lane)
                    changed = True
            if not changed and all(lane.up for lane in self.lanes) and self.autostart:
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
        if self._start_timer is not None:
            self._start_timer.cancel()
        for lane in self.lanes:
            try:
                lane.session.off("connection_change", self._watchers.pop(lane.name, None))
            except Exception:  # noqa: BLE001 - a session that forgets us is fine
                pass
        self._ended = reason
        for lane in self.lanes:
            if lane.meter is not None:  # the run's billed seconds, before the journal's last line
                lane.meter.close()
        self.journal.write("show.end", reason=reason)
        if self._own_journal:
            self.journal.close()
        self.publisher.publish()

    def _resumed(self) -> list[tuple[SessionLane, Any]]:
        """(lane, its part of the resumed journal: `state` and `applied`) for each lane it has."""
        parts = getattr(self._resume, "sessions", None)
        if not parts:
            return [(self.lanes[0], self._resume)]
        return [(lane, parts[lane.name]) for lane in self.lanes if lane.name in parts]

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
            for lane, part in self._resumed():
                for key, (at, cue) in part.applied.items():
                    if key in ("prompt", "image", "mirror"):
                        lane.store.set_at(key, now - max(0.0, t - at), cue)
        if self.show.several:
            for lane in self.lanes:
                lane.late = not lane.up
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

    def catch_up(self, name: str | None = None) -> None:
        """After a reconnect: send session `name` (None: every session) the state that should be in
        effect now (the runner calls it)."""
        if self.show_clock.started:
            catchup.catch_up(self, reapply=True, names=None if name is None else (name,))

    def reload(self, show: ShowModel) -> None:
        """Swap the cues, keep the show clock where it is (and the sessions: other sessions take a restart)."""
        self.transport.unplan()
        self._dispose(self._subs)
        old_tempo, old_sessions, self.show = self.show.tempo, self.show.session_names(), show
        self._one = not show.several
        self.journal.write("show.reload", show=show.name)
        if show.session_names() != old_sessions:
            self._write("error", message="sessions: other sessions take a restart of the run; the show goes on "
                                         f"with {', '.join(self.lane)}")
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

    def manual(self, action: Action, source: str, to: tuple[str, ...] | None = None) -> None:
        """An action from the operator (prompt box, image chooser, mirror key), journaled with its source;
        `to`: the sessions it goes to (None: every session that can take it)."""
        if to is not None and action_kind(action).routed:
            action = replace(action, to=tuple(to))  # type: ignore[type-var]
        if to is None:
            self.journal.write("manual", source=source)
        else:
            self.journal.write("manual", source=source, to=list(to))
        self.cues.perform_all(f"manual:{source}", (action,), ())
        self._changed()

    # ------------------------------------------------------------ routing

    def route(self, action: Action) -> list[SessionLane]:
        """The lanes an action goes to: its targets that this engine runs, in the targets' order."""
        if self._one:
            return self.lanes
        lane = self.lane
        return [lane[name] for name in self.show.targets(action) if name in lane]

    def goes_to(self, action: Action, lane: SessionLane) -> bool:
        return self._one or lane.name in self.show.targets(action)

    def perform(self, action: Action, cue: str, place: str, args: tuple[Any, ...]) -> Awaitable[Any] | None:
        """Do an action now: a show-wide one once, one that goes to sessions on each of its lanes
        (a Python handler: once, with the first). A choice goes to every lane as one item. What
        follows in a `then` waits for all of them (an audio clip on each session it plays on)."""
        kind = action_kind(action)
        if kind.routed is None:
            return kind.perform(action, ActionContext(self.actions, cue, place, args))
        if self._one:  # a one-session show: its one lane
            return kind.perform(action, ActionContext(self.lanes[0].port, cue, place, args))
        if kind.routed == "first":  # once in the whole show: where its first session runs
            targets = self.show.targets(action)
            lane = self.lane.get(targets[0]) if targets else None
            return None if lane is None else kind.perform(action, ActionContext(lane.port, cue, place, args))
        lanes = self.route(action)
        if not lanes:
            return None  # for sessions another machine runs
        if len(lanes) == 1:
            return kind.perform(action, ActionContext(lanes[0].port, cue, place, args))
        port = self.actions
        outer, port.resolved = port.resolved, {} if port.resolved is None else port.resolved
        try:
            pending = [p for p in (kind.perform(action, ActionContext(lane.port, cue, place, args)) for lane in lanes)
                       if p is not None]
        finally:
            port.resolved = outer
        if len(pending) <= 1:
            return pending[0] if pending else None
        return _all(pending)

    def cue_tag(self, actions: tuple[Action, ...]) -> dict[str, str]:
        """`{"session": NAME}` for a `cue.fire` whose actions all go to the one session NAME of
        several; else {} (a one-session show, a cue for several sessions or for none)."""
        if self._one:
            return {}
        names: set[str] = set()
        for action in actions:
            try:
                names.update(self.show.targets(action))
            except TypeError:  # not an action (a reactive cue's raw output, checked later)
                continue
            if len(names) > 1:
                return {}
        return {"session": names.pop()} if len(names) == 1 else {}

    # ------------------------------------------------------------ session and state

    def _on_connection(self, state: Any, lane: SessionLane) -> None:
        state = str(state)
        lane.connection = state
        if state != lane.journaled_state:
            lane.journaled_state = state
            self.journal.write("session.state", **lane.tag, state=state,
                               session_id=getattr(lane.session, "session_id", None),
                               protocol=getattr(lane.session, "protocol", None))
        if state in UP and lane.late and self.show_clock.started:
            # the show started without it, and a client that was never connected keeps nothing it
            # was sent meanwhile: what should show now goes out (a reconnect's is the runner's call)
            lane.late = False
            catchup.catch_up(self, reapply=True, names=(lane.name,), reason="late")
        if state in UP and not self.show_clock.started and self._end is not None and self.autostart:
            if all(other.up for other in self.lanes):
                if self._start_timer is not None:
                    self._start_timer.cancel()
                self._start_show(self._start_t())
            elif self._start_timer is None:  # the first one up: the others get `start_timeout`
                self._start_timer = self.loop.call_later(self.start_timeout, self._start_anyway)
        self.events.emit("state", state)
        self._changed()

    def _start_anyway(self) -> None:
        """Several sessions and some still not up after `start_timeout`: the show starts with those that are."""
        if not self.show_clock.started and self._end is not None and not self._end.done() and self.autostart:
            waiting = [lane.name for lane in self.lanes if not lane.up]
            self._write("error", message=f"show started without {', '.join(waiting)}: not up after "
                                         f"{self.start_timeout:g} s; they catch up when they connect")
            self._start_show(self._start_t())

    def _stamp(self) -> tuple[str, float]:
        return self.clock.wall().isoformat(), self.show_clock.t

    def _bug(self, what: str, exc: BaseException) -> None:
        self.cues.bug(what, exc)

    def _open_hours(self, policy: Any) -> bool:
        """Start the opening hours; whether the session is open now."""
        meters = [lane.meter for lane in self.lanes if lane.meter is not None]
        self.opening = OpeningHours(  # every session keeps the hours; the budget counts them all together
            policy, self.clock,
            billed=(lambda: sum(m.billed_seconds for m in meters)) if meters else None,
            lead=lambda: max(float(getattr(lane.session, "connect_lead_s", 0.0) or 0.0) for lane in self.lanes),
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
        for lane in self.lanes:
            for hook in self.on_action:
                hook(self.show_clock.t, "session", action, lane.tag.get("session"))
            call = getattr(lane.session, "resume" if is_open else "suspend", None)
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
        """The first session's connection state, as last reported (as `ShowState.connection`)."""
        return self.lanes[0].connection

    def connection_of(self, name: str) -> str:
        """Session `name`'s connection state, as last reported."""
        return self.lane[name].connection

    @property
    def ended(self) -> str | None:
        """Why the show ended; None while it runs."""
        return self._ended


async def _all(pending: list[Awaitable[Any]]) -> None:
    """Wait for every one (an audio clip on each of its sessions); then the first failure, if any.
    A call superseded on one session is latest-wins there, not a failure."""
    failure: BaseException | None = None
    for awaitable in pending:
        try:
            await awaitable
        except Superseded:
            pass
        except Exception as exc:  # noqa: BLE001 - the executor journaled it; the sequence decides
            failure = failure or exc
    if failure is not None:
        raise failure


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
