"""The engine: a show model in, session calls out, state and journal records back.

Triggers (see `triggers/`) are Observables of firings. A firing runs its cue's actions (see
`actions/`): instant cues synchronously inside the timer callback, cues with `wait`, audio or a
Python handler as an eagerly started sequence under the cue's `mode`. Everything that reaches the
wire goes through the one `Executor`. The same code runs in real time (`run`) and in virtual time
(`plan`, tests): only the `Clock` and the event loop differ.
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
from ..tempo.grid import EPS_BEATS
from ..tempo.timers import BeatTimer
from . import catchup
from .choices import Choices
from .clock import Clock
from .executor import Executor, Op
from .journal import Journal
from .latency import LatencyEstimator
from .lookahead import call_ahead
from .names import fmt_t, timeline_name
from .opening import OpeningHours
from .showclock import EPS, ShowClock
from .cues import CueRunner
from .publisher import Publisher
from .state import ShowState
from .port import ActionPort
from .store import StateStore
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
        self._go_waiting: Any = None  # a GO waiting for its grid line (`go: {quantize: ...}`)
        self.events = EventHub()
        self.scheduler = AsyncIOScheduler(self.loop)
        self.choices = Choices(show.name)
        self.journal = journal if isinstance(journal, Journal) else Journal(journal, self._stamp)
        self._own_journal = not isinstance(journal, Journal)
        self.journal_events = self.journal.events
        self.executor = Executor(self.loop, self._on_send, self._on_ack, self._on_superseded)
        self.latency = latency or _default_latency(show)  # what `lookahead: auto` sends ahead by
        self.store = StateStore({"prompt": show.initial.prompt, "enhance": show.initial.enhance,
                                 "image": show.initial.image, "mirror": show.initial.mirror})
        self.actions = ActionPort(session, self.executor, self.store, self.choices, self.journal, self.show_clock,
                                  self.loop, self._control, self.tempo)
        self.on_action = self.actions.hooks  # (show t, cue, action) of everything the actions do: `plan` listens
        self.publisher = Publisher(self, observe_state)  # the snapshots
        self.cues = CueRunner(self, self.publisher)  # firing a cue
        self._connection: str = self._safe_state()
        self._go = 0
        self._resume = resume
        if resume is not None:
            self.store.restore(resume.state)
            self.store.intend("mirror", bool(self.store.get("mirror")))
        self._show_subs: list[Any] = []
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
        self._dispose(self._show_subs)
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
            self._go = 0
            for i, e in enumerate(self.show.timeline):
                name = timeline_name(e)
                if e.t < t - EPS or fired.get(name, -1.0) >= e.t - EPS:
                    self._go = i + 1
                    self.cues.sent_ahead(f"{name} #{i}", e.t)
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
        self._plan_from(t)
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
        self._dispose(self._show_subs)
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
            now = self.show_clock.t
            self._go = next((i for i, e in enumerate(show.timeline) if self.entry_t(e) >= now - EPS), len(show.timeline))
            self._subscribe_show_time()
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

    def _subscribe_show_time(self) -> None:
        """(Re)plan everything that counts in show time from the current show time on."""
        sc = self.show_clock
        now = sc.planning_t
        for i in range(self._go, len(self.show.timeline)):
            entry = self.show.timeline[i]
            if entry.beat is not None and self.tempo is not None:  # its time follows the tempo
                if entry.beat >= self.tempo.grid.beat_at(now) - EPS_BEATS:
                    self._show_subs.append(BeatTimer(sc, self.tempo.grid, entry.beat, lambda t, ahead, i=i: self._timeline_fire(
                        i, intended=sc.mono_of(t), lead=ahead), self.cues.lead(entry.lookahead)))
            elif entry.t >= now - EPS:
                lead = self.cues.lead(getattr(entry, "lookahead", None))
                if lead is None:
                    self._show_subs.append(sc.call_at(entry.t, lambda i=i: self._timeline_fire(i)))
                else:
                    self._show_subs.append(
                        call_ahead(sc.call_at, entry.t, lead, lambda ahead, i=i: self._timeline_fire(i, lead=ahead)))
        if self.show.duration is not None:
            self._show_subs.append(sc.call_at(self.show.duration, self._duration_end, prio=0))
        for cue in self.show.cues:
            if trigger_kind(cue.trigger).show_time:
                self._show_subs.append(self.cues.subscribe(cue))

    def _replan(self) -> None:
        self._dispose(self._show_subs)
        self._subscribe_show_time()

    @staticmethod
    def _dispose(subs: list[Any]) -> None:
        for sub in subs:
            sub.dispose()
        subs.clear()

    # ------------------------------------------------------------ firing

    def _timeline_fire(self, i: int, intended: float | None = None, lead: float = 0.0, again: bool = False) -> None:
        """Fire entry i; GO then points after it."""
        self._go = i + 1
        self.cues.fire_entry(i, intended, lead, again)

    def _duration_end(self) -> None:
        if self.show.loop:
            self.journal.write("show.loop")
            self.cues.forget_ahead()
            self.show_clock.jump(0.0)
            self._go = 0
            self.show_clock.plan_t = 0.0
            try:
                self._replan()
            finally:
                self.show_clock.plan_t = None
        else:
            self.stop("duration")

    # ------------------------------------------------------------ the executor's reports

    @property
    def go_index(self) -> int:
        """The timeline entry GO fires next."""
        return self._go

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

    def _on_send(self, op: Op) -> None:
        if op.kind == "audio":
            self.publisher.audio = (op.action["audio"], self.loop.time())
        if self.journal.active:
            if op.submitted_at:  # it waited for its lane: when it really went on the wire, and behind what
                behind = op.behind
                self._write("action.send", cue=op.cue, action=op.action,
                            queued_ms=round((op.sent_at - op.submitted_at) * 1000.0, 3),
                            behind=behind.cue if behind is not None else None)
            else:
                self._write("action.send", cue=op.cue, action=op.action)

    def _on_ack(self, op: Op, latency: float, error: BaseException | None) -> None:
        if error is None and op.kind != "audio" and not self.journal.active:  # every ack of `plan`: the state only
            self.publisher.last_ack_ms = latency * 1000.0
            self._apply(op)
            if self._observe_state:
                self._changed()
            return
        audio = self.publisher.audio
        if op.kind == "audio" and audio is not None and audio[0] == op.action["audio"]:
            self.publisher.audio = None
        if isinstance(error, asyncio.CancelledError) or self._ended is not None:
            return  # after show.end the journal is closed for the show: nothing follows it
        self.publisher.last_ack_ms = latency * 1000.0
        message = None if error is None else f"{type(error).__name__}: {error}"
        # NotConnectedError.deferred: asked for during an outage, kept by the client as the next
        # session's state. It is the latest state, so catch-up after the reconnect must not undo it.
        deferred = bool(getattr(error, "deferred", False))
        if self.journal.active:
            self._write("action.ack", cue=op.cue, kind=op.kind, latency_ms=round(latency * 1000.0, 3),
                        success=error is None, error=message, deferred=deferred or None)
        if error is not None:
            error.journaled = True  # type: ignore[attr-defined]  # the sequence need not journal it again
            if not deferred:  # kept for the next session (an outage, closed hours): not an error
                self._write("error", cue=op.cue, message=message)
        if op.kind != "audio" and (error is None or deferred):
            self._apply(op)
        if self._observe_state:
            self._changed()

    def _apply(self, op: Op) -> None:
        """An acknowledged change is what shows now: the state, and when and by which cue it came."""
        self.store.apply(op.action, op.cue, self.loop.time())

    def _on_superseded(self, old: Op, new: Op) -> None:
        self._write("action.superseded", cue=old.cue, action=old.action, by=new.cue)

    # ------------------------------------------------------------ intents

    def go_next(self) -> bool:
        """Fire the next timeline entry now; the show clock jumps to its time. With `go: {quantize:
        1 bar}` "now" is the next bar line (a second GO meanwhile changes nothing)."""
        if not self.show_clock.started or self._go >= len(self.show.timeline):
            return False
        quantize = self.show.go_quantize
        if quantize is not None and self.tempo is not None:
            if self._go_waiting is None:
                grid = self.tempo.grid
                self._go_waiting = BeatTimer(self.show_clock, grid, grid.beat_at(grid.next_line(
                    self.show_clock.t, quantize.beats(grid.beats_per_bar))), lambda t, ahead: self._go_now())
            return True
        return self._go_now()

    def _go_now(self) -> bool:
        self._go_waiting = None
        if self._go >= len(self.show.timeline):
            return False
        i = self._go
        self.journal.write("go", direction="next", index=i)
        self._jump_to_entry(i)
        return True

    def go_back(self) -> bool:
        """Re-apply the entry before the last one fired; GO then points after it."""
        target = self._go - 2
        if not self.show_clock.started or target < 0:
            return False
        self.journal.write("go", direction="back", index=target)
        self._jump_to_entry(target)
        return True

    def entry_t(self, entry: TimelineEntry) -> float:
        """A timeline entry's show time: a place on the beat grid where the grid has it now."""
        if entry.beat is not None and self.tempo is not None:
            return self.tempo.grid.t_at(entry.beat)
        return entry.t

    def _jump_to_entry(self, i: int) -> None:
        entry = self.show.timeline[i]
        entry_t = self.entry_t(entry)
        back = entry_t < self.show_clock.t or i < self._go - 1
        if entry_t < self.show_clock.t:  # back in time: what was sent early may fire again
            self.cues.forget_ahead(entry_t)
        if back:  # the entries from i on are ahead again: listed once, as upcoming
            undone = {e.label or timeline_name(e) for e in self.show.timeline[i:]}
            self.publisher.unfire(entry_t - EPS, undone)
        self.show_clock.jump(entry_t)
        if self.tempo is not None:
            self.tempo.jumped()
        self._go = i + 1
        self._dispose(self._show_subs)
        self._timeline_fire(i, intended=self.loop.time(), again=back)
        self.show_clock.plan_t = entry_t
        try:
            self._subscribe_show_time()
        finally:
            self.show_clock.plan_t = None

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
        if not self.show_clock.started or not 0 <= i < len(self.show.timeline):
            return False
        self.journal.write("go", direction="to", index=i)
        self._jump_to_entry(i)
        return True

    def seek(self, t: float) -> None:
        """Set show time to `t` without firing an entry (following a clock owned elsewhere): what
        the stretch skipped over set is caught up, and everything after `t` is planned again."""
        if not self.show_clock.started:
            return
        if t < self.show_clock.t:
            self.cues.forget_ahead(t)
        self.journal.write("show.seek", to=round(t, 6))
        self.show_clock.jump(t)
        self._go = next((i for i, e in enumerate(self.show.timeline) if e.t >= t - EPS), len(self.show.timeline))
        self._dispose(self._show_subs)
        self._plan_from(t)
        self._changed()

    def _plan_from(self, t: float) -> None:
        """Catch up to show time `t`, then plan everything after it (at the start, after a seek)."""
        self.show_clock.plan_t = t
        try:
            catchup.catch_up(self, reapply=False)
            self._subscribe_show_time()
        finally:
            self.show_clock.plan_t = None

    def pause(self) -> bool:
        if self.show_clock.pause():
            if self.tempo is not None:
                self.tempo.paused()
            self.journal.write("show.pause")
            self._changed()
            return True
        return False

    def resume(self) -> bool:
        if self.show_clock.resume():
            if self.tempo is not None:
                self.tempo.resumed()
            self.journal.write("show.resume")
            self._changed()
            return True
        return False

    def key(self, k: str) -> bool:
        """A key pressed in the TUI; True when a cue took it."""
        return self.fire_event("key", k)

    def fire_event(self, kind: str, arg: str, args: Iterable[Any] = ()) -> bool:
        """An OSC message, HTTP call, MIDI message...; True when a cue listens to it."""
        return self.events.emit(kind, arg, tuple(args))

    # ------------------------------------------------------------ tempo (a show with `tempo:`)

    def tap(self) -> bool:
        """The TUI's `t` or OSC `/tap`: a beat tapped now; True when the show has a tempo."""
        if self.tempo is None:
            return False
        bpm = self.tempo.tap()
        if bpm is not None:
            self.journal.write("tempo", bpm=round(bpm, 3), source="tap", bar=self.tempo.grid.bar_beat(self.show_clock.t))
        self._changed()
        return True

    def set_tempo(self, bpm: float) -> bool:
        """OSC `/tempo BPM`: the grid takes it from now on (with Link, every peer does)."""
        if not self.actions.set_tempo(bpm, "set"):
            return False
        self._changed()
        return True

    def midi_clock(self, message: Any, at: float) -> bool:
        """A MIDI clock message (`source: midi-clock`): pulses set the tempo, start/stop start and pause."""
        if self.tempo is None or self.tempo.source != "midi-clock":
            return False
        what = self.tempo.midi_clock(message, at)
        if what == "start" and not self.show_clock.started and self._end is not None:
            self._start_show(self._start_t())
        elif what in ("start", "continue"):
            self.resume()
        elif what == "stop":
            self.pause()
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
