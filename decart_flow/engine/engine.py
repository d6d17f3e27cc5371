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
from collections import deque
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from reactivex.disposable import Disposable, SerialDisposable
from reactivex.scheduler.eventloop import AsyncIOScheduler
from reactivex.subject import BehaviorSubject

from ..show.model import Action, Cue, MirrorAction, ShowModel, TimelineEntry
from . import catchup
from .actions import REGISTRY, SEQUENTIAL, ActionContext, new_context, perform
from .choices import Choices
from .clock import Clock
from .compiled import compile_cue
from .executor import Executor, Op, Superseded
from .journal import Journal
from .latency import LatencyEstimator
from .lookahead import Lead, call_ahead, lead_for
from .opening import OpeningHours
from .loop import eager
from .showclock import EPS, ShowClock
from .state import PastFiring, ShowState, Upcoming
from .triggers import Fire, trigger_type
from .triggers.event import EventHub
from .when import inside

if TYPE_CHECKING:  # `plan` need not import the wire client's package
    from ..realtime.session import Session

log = logging.getLogger(__name__)

ActionHook = Callable[[float, str, dict[str, Any]], None]  # (show t, cue, action), at the loop time it happens

_PLACES = tuple(str(i) for i in range(32))  # an action's place in its cue, as the choosers key it


def fmt_t(t: float) -> str:
    """Show time as the show file writes it, to the millisecond: 90 -> 1:30, 3723.25 -> 1:02:03.25.

    Before zero (a change sent early by its lookahead, catch-up at start) it counts back: -70 -> -1:10.
    """
    if t < 0:
        text = fmt_t(-t)
        return text if text == "0:00" else "-" + text
    whole = int(t)
    frac = f"{t - whole:.3f}" if t != whole else ""
    if frac == "1.000":  # 59.9996 rounds up to the next second: 1:00, not 0:59 and a stray 1
        whole, frac = whole + 1, ""
    h, rem = divmod(whole, 3600)
    m, s = divmod(rem, 60)
    return (f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}") + frac.lstrip("0").rstrip("0").rstrip(".")


def timeline_name(entry: TimelineEntry) -> str:
    """How journal and plan name a timeline entry: by its time, as the show file writes it."""
    return f"timeline {fmt_t(entry.t)}"


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
        self.events = EventHub()
        self.scheduler = AsyncIOScheduler(self.loop)
        self.choices = Choices(show.name)
        self.journal = journal if isinstance(journal, Journal) else Journal(journal, self._stamp)
        self._own_journal = not isinstance(journal, Journal)
        self.journal_events = self.journal.events
        self.executor = Executor(self.loop, self._on_send, self._on_ack, self._on_superseded)
        self.on_action: list[ActionHook] = []  # `plan` listens here
        self.catching_up = False  # set while catch-up sends: `plan` marks those firings
        self.latency = latency or _default_latency(show)  # what `lookahead: auto` sends ahead by
        self._ahead = 0.0  # while a cue sent early performs: its lead, so hooks see the cued time
        self._fired_ahead: dict[str, float] = {}  # cue -> cued show time of its last early firing
        self.mirror = show.initial.mirror
        self._now: dict[str, Any] = {"prompt": show.initial.prompt, "enhance": show.initial.enhance,
                                     "image": show.initial.image, "mirror": show.initial.mirror}
        self.applied: dict[str, tuple[float, str]] = {}  # attribute -> (loop time, cue) it was last set
        self._audio: tuple[str, float] | None = None
        self._last_ack_ms: float | None = None
        self._connection: str = self._safe_state()
        self._go = 0
        self._resume = resume
        if resume is not None:
            self._now.update({k: v for k, v in resume.state.items() if k in self._now})
            self.mirror = bool(self._now["mirror"])
        self._runs: dict[str, list[asyncio.Future[Any]]] = {}
        self._resolved: dict[int, tuple[Action, ...]] = {}  # timeline index -> its actions, toggles resolved
        self._queued: dict[str, deque[tuple[tuple[Action, ...], tuple[Any, ...]]]] = {}
        self._show_subs: list[Any] = []
        self._subs: list[Any] = []
        self._deferred: list[tuple[str, dict[str, Any]]] | None = None
        self._end: asyncio.Future[str] | None = None
        self._journaled_state: str | None = None  # the last session.state written
        self._past: deque[tuple[float, str, float]] = deque(maxlen=50)  # PastFiring fields, built on demand
        self._observe_state = observe_state
        self.autostart = True  # False: the show clock is started from outside (`start_at`), as a fleet node's is
        self._publish_pending = False
        self._ended: str | None = None
        self.state: BehaviorSubject[ShowState] = BehaviorSubject(self._snapshot())

    # ------------------------------------------------------------ lifecycle

    async def run(self) -> str:
        """Play the show until it ends; the reason (`duration`, `stop`, ...)."""
        self._end = self.loop.create_future()
        self.session.on("connection_change", self._on_connection)
        self._subscribe_events()
        ticker = None
        if self._observe_state and self.clock.realtime:
            ticker = self.loop.create_task(self._tick())
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
        for runs in self._runs.values():
            for run in runs:
                run.cancel()
        self._runs.clear()
        self.executor.cancel_pending()
        self.show_clock.clear()
        if self.opening is not None:
            self.opening.stop()
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
        self._publish()

    def _start_t(self) -> float:
        return float(self._resume.t) if self._resume is not None else 0.0

    def _start_show(self, t: float = 0.0) -> None:
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
                    self._fired_ahead[f"{name} #{i}"] = e.t
            for cue in self.show.cues:
                if cue.name in fired:
                    self._fired_ahead[cue.name] = fired[cue.name]
            now = self.loop.time()
            for key, (at, cue) in self._resume.applied.items():
                if key in ("prompt", "image", "mirror"):
                    self.applied[key] = (now - max(0.0, t - at), cue)
        self.show_clock.start(t)
        self.journal.write("show.start", show=self.show.name, model=self.show.model,
                           wall=self.clock.wall().isoformat())
        self._plan_from(t)
        for cue in self.show.cues:
            if not trigger_type(cue.trigger).show_time and _is_wall(cue):
                self._subs.append(self._subscribe(cue))
        self._changed()

    def catch_up(self) -> None:
        """After a reconnect: send the state that should be in effect now (the runner calls it)."""
        if self.show_clock.started:
            catchup.catch_up(self, reapply=True)

    def reload(self, show: ShowModel) -> None:
        """Swap the cues, keep the show clock where it is."""
        self._dispose(self._show_subs)
        self._dispose(self._subs)
        self.show = show
        self.journal.write("show.reload", show=show.name)
        self._subscribe_events()
        if self.show_clock.started:
            now = self.show_clock.t
            self._go = next((i for i, e in enumerate(show.timeline) if e.t >= now - EPS), len(show.timeline))
            self._subscribe_show_time()
            for cue in show.cues:
                if _is_wall(cue):
                    self._subs.append(self._subscribe(cue))
        self._changed()

    # ------------------------------------------------------------ subscriptions

    def _lead(self, setting: Any) -> Lead | None:
        """A cue's lookahead (its own, else the show's) as the triggers apply it."""
        return lead_for(setting if setting is not None else self.show.lookahead, self.latency)

    def uses_auto_lookahead(self) -> bool:
        """Whether any cue or timeline entry is sent early by the measured latency (`lookahead: auto`)."""
        settings = [c.lookahead for c in self.show.cues] + [getattr(e, "lookahead", None) for e in self.show.timeline]
        return any(lead is not None and lead.auto for lead in map(self._lead, settings))

    def _subscribe(self, cue: Cue) -> Any:
        kind = trigger_type(cue.trigger)
        observable = kind.observe(cue.trigger, self, self._lead(cue.lookahead))
        general = partial(self._fire, cue)
        on_next = compile_cue(self, cue, general) or general  # lean only for a session that acks at once
        if kind.show_time or _is_wall(cue):
            return observable.subscribe(
                on_next=on_next, on_error=lambda exc, cue=cue: self._bug(f"cue {cue.name!r} stopped", exc),
                scheduler=self.scheduler)
        return self._subscribe_living(cue, observable, on_next)

    def _subscribe_living(self, cue: Cue, observable: Any, on_next: Callable[[Any], None]) -> Any:
        """An event cue (or a Python show's reactive pipeline) outlives a firing that fails.

        An exception in an operator ends an Rx stream: a `/fader "abc"` that a `float()` in the
        pipeline cannot read would stop the cue for the rest of the show. The failure is journaled
        and the cue subscribes afresh to its (hot) event streams. A pipeline that fails while it
        is being subscribed, before any event, stays stopped: subscribing again would fail again.
        """
        holder = SerialDisposable()
        subscribing = [False]

        def on_error(exc: Exception) -> None:
            if subscribing[0]:
                self._bug(f"cue {cue.name!r} stopped", exc)
                return
            log.warning("cue %r: a firing failed (%s: %s); the cue goes on", cue.name, type(exc).__name__, exc)
            self._write("error", cue=cue.name, message=f"cue {cue.name!r}: a firing failed, the cue goes on: "
                                                       f"{type(exc).__name__}: {exc}")
            if not holder.is_disposed:
                self.loop.call_soon(subscribe)

        def subscribe() -> None:
            if holder.is_disposed:
                return
            subscribing[0] = True
            try:
                holder.disposable = observable.subscribe(on_next=on_next, on_error=on_error, scheduler=self.scheduler)
            finally:
                subscribing[0] = False

        subscribe()
        return holder

    def _subscribe_events(self) -> None:
        for cue in self.show.cues:
            if not trigger_type(cue.trigger).show_time and not _is_wall(cue):
                self._subs.append(self._subscribe(cue))

    def _subscribe_show_time(self) -> None:
        """(Re)plan everything that counts in show time from the current show time on."""
        sc = self.show_clock
        now = sc.planning_t
        for i in range(self._go, len(self.show.timeline)):
            entry = self.show.timeline[i]
            if entry.t >= now - EPS:
                lead = self._lead(getattr(entry, "lookahead", None))
                if lead is None:
                    self._show_subs.append(sc.call_at(entry.t, lambda i=i: self._timeline_fire(i)))
                else:
                    self._show_subs.append(
                        call_ahead(sc.call_at, entry.t, lead, lambda ahead, i=i: self._timeline_fire(i, lead=ahead)))
        if self.show.duration is not None:
            self._show_subs.append(sc.call_at(self.show.duration, self._duration_end, prio=0))
        for cue in self.show.cues:
            if trigger_type(cue.trigger).show_time:
                self._show_subs.append(self._subscribe(cue))

    def _replan(self) -> None:
        self._dispose(self._show_subs)
        self._subscribe_show_time()

    @staticmethod
    def _dispose(subs: list[Any]) -> None:
        for sub in subs:
            sub.dispose()
        subs.clear()

    # ------------------------------------------------------------ firing

    def _fire(self, cue: Cue, fire: Fire, key: str | None = None, label: str | None = None) -> None:
        lead = fire.lead
        lateness_ms = (self.loop.time() - fire.intended + lead) * 1000.0  # against the (early) send time
        if lead and fire.t is not None:
            key = key or cue.name
            if fire.t <= self._fired_ahead.get(key, -1.0) + EPS:
                return  # sent early already; a re-plan (reload, GO) planned it again
            self._fired_ahead[key] = fire.t
        journal_on = self.journal.active
        try:
            if cue.when is not None and not inside(cue.when, self.clock.wall()):
                return
            # Records the actions make wait for `cue.fire` (a list only when someone reads them).
            outer, self._deferred = self._deferred, ([] if journal_on else None)
            instant = False
            self._ahead = lead
            try:
                seq = (cue.actions + cue.then if cue.then else cue.actions) if fire.actions is None else fire.actions
                for action in seq:
                    if type(action) in SEQUENTIAL:
                        instant = self._start_run(cue, seq, fire.args, lead)
                        break
                else:  # an instant cue (`_start_run`'s first case, inline: it is most firings)
                    self._perform_all(cue.name, seq, fire.args)
                    instant = True
            except Exception as exc:  # noqa: BLE001 - our bug: log it, the show goes on
                self._bug(f"cue {cue.name!r} failed", exc)
            finally:
                self._ahead = 0.0
                deferred, self._deferred = self._deferred, outer
        except Exception as exc:  # noqa: BLE001
            self._bug(f"cue {cue.name!r} failed", exc)
            return
        t = fire.t if fire.t is not None else self.show_clock.t
        if journal_on or self.journal.active:
            self._journal_fire(cue.name, fire, t, lateness_ms, deferred or [])
        self._past.append((t, label or cue.name, lateness_ms))
        if self._observe_state:
            self._changed()
        if instant:
            self.events.emit("after", cue.name)  # `_finished`, one call less

    def _journal_fire(self, name: str, fire: Fire, t: float, lateness_ms: float,
                      deferred: list[tuple[str, dict[str, Any]]]) -> None:
        """`cue.fire`, then the records its actions made wait for it."""
        lead = fire.lead
        if lead:
            self.journal.write("cue.fire", cue=name, intended_t=round(t, 6), lateness_ms=round(lateness_ms, 3),
                               args=list(fire.args) if fire.args else None, lookahead_ms=round(lead * 1000.0, 3))
        else:
            self.journal.write("cue.fire", cue=name, intended_t=round(t, 6),
                               lateness_ms=round(lateness_ms, 3), args=list(fire.args) if fire.args else None)
        for event, fields in deferred:
            self._write(event, **fields)

    def _start_run(self, cue: Cue, seq: tuple[Action, ...], args: tuple[Any, ...], lead: float = 0.0) -> bool:
        """Start a firing's actions; True when they all ran already (an instant cue)."""
        for action in seq:
            if type(action) in SEQUENTIAL:
                break
        else:  # an instant cue: every action runs now, inside the timer callback
            self._perform_all(cue.name, seq, args)
            return True
        runs = self._runs.setdefault(cue.name, [])
        if runs:
            if cue.mode == "single":
                self._write("cue.ignored", cue=cue.name, reason="running")
                return False
            if cue.mode == "queue":
                self._queued.setdefault(cue.name, deque()).append((seq, args))
                return False
            if cue.mode == "restart":
                for run in list(runs):
                    run.cancel()
        fut = eager(self._sequence(cue.name, seq, args, lead), self.loop)
        if not fut.done():
            runs.append(fut)
            fut.add_done_callback(lambda f, cue=cue: self._run_done(cue, f))
        return False

    def _run_done(self, cue: Cue, fut: asyncio.Future[Any]) -> None:
        runs = self._runs.get(cue.name, [])
        if fut in runs:
            runs.remove(fut)
        queued = self._queued.get(cue.name)
        if queued and not runs:
            seq, args = queued.popleft()
            if self._start_run(cue, seq, args):  # a queued run starts late anyway: not ahead
                self._finished(cue.name)

    def _perform_all(self, name: str, seq: Iterable[Action], args: tuple[Any, ...]) -> None:
        if type(seq) is tuple and len(seq) == 1:  # most cues: one action, no loop
            action = seq[0]
            try:
                REGISTRY.get(type(action), perform)(action, new_context((self, name, "0", args)))
            except Exception as exc:  # noqa: BLE001
                self._bug(f"action of {name!r} failed", exc)
            return
        for i, action in enumerate(seq):
            try:
                fn = REGISTRY.get(type(action), perform)  # perform() says what is missing
                fn(action, new_context((self, name, _PLACES[i] if i < 32 else str(i), args)))
            except Exception as exc:  # noqa: BLE001
                self._bug(f"action of {name!r} failed", exc)

    async def _sequence(self, name: str, seq: tuple[Action, ...], args: tuple[Any, ...], lead: float = 0.0) -> None:
        for i, action in enumerate(seq):
            try:
                self._ahead = lead  # each step of a cue sent early is early by the same lead
                try:
                    pending = perform(action, ActionContext(self, name, str(i), args))
                finally:
                    self._ahead = 0.0
                if pending is not None:
                    await pending
            except asyncio.CancelledError:
                raise
            except Superseded:
                pass
            except Exception as exc:  # noqa: BLE001 - wire failures are journaled by the executor
                if not getattr(exc, "_journaled", False):
                    self._write("error", cue=name, message=f"{type(exc).__name__}: {exc}")
        self._finished(name)

    def _finished(self, name: str) -> None:
        self.events.emit("after", name)

    def _timeline_fire(self, i: int, intended: float | None = None, lead: float = 0.0, again: bool = False) -> None:
        """Fire entry i; `again` (GO back) re-applies what it did the first time, toggles included."""
        entry = self.show.timeline[i]
        self._go = i + 1
        name = timeline_name(entry)
        actions = self._entry_actions(i, entry.actions, again)
        cue = Cue(name=name, trigger=None, actions=actions, mode="parallel")  # type: ignore[arg-type]
        self._fire(cue, Fire(self.show_clock.mono_of(entry.t) if intended is None else intended, entry.t, lead=lead),
                   key=f"{name} #{i}", label=entry.label or None)

    def _entry_actions(self, i: int, actions: tuple[Action, ...], again: bool) -> tuple[Action, ...]:
        """An entry's actions with each `mirror: toggle` resolved to the value it set, kept for GO back.

        Re-applying entry i must leave the mirror as it was right after i, not flip it once more.
        """
        if again and i in self._resolved:
            return self._resolved[i]
        if not any(type(a) is MirrorAction and a.value == "toggle" for a in actions):
            return actions
        mirror, out = self.mirror, []
        for a in actions:
            if type(a) is MirrorAction and a.value == "toggle":
                mirror = not mirror
                a = replace(a, value=mirror)
            elif type(a) is MirrorAction:
                mirror = bool(a.value)
            out.append(a)
        self._resolved[i] = tuple(out)
        return self._resolved[i]

    def _duration_end(self) -> None:
        if self.show.loop:
            self.journal.write("show.loop")
            self._fired_ahead.clear()
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

    def send(self, kind: str, call: Callable[[], Any], action: dict[str, Any], cue: str,
             wait: bool = False) -> asyncio.Future[Any] | None:
        """Hand a wire call to the executor (actions call this); `wait`: a Future for its ack."""
        hooks = self.on_action
        if hooks:
            if self.catching_up:
                cue = f"{cue} (catch-up)"
            t = self.show_clock.t + self._ahead
            for hook in hooks:
                hook(t, cue, action)
        return self.executor.submit(kind, call, action, cue, wait)

    def note(self, cue: str, action: dict[str, Any]) -> None:
        if self.on_action:
            if self.catching_up:
                cue = f"{cue} (catch-up)"
            t = self.show_clock.t + self._ahead
            for hook in self.on_action:
                hook(t, cue, action)

    def _write(self, event: str, **fields: Any) -> None:
        if not self.journal.active:
            return
        if self._deferred is not None:
            self._deferred.append((event, fields))
        else:
            self.journal.write(event, **fields)

    def _on_send(self, op: Op) -> None:
        if op.kind == "audio":
            self._audio = (op.action["audio"], self.loop.time())
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
            self._last_ack_ms = latency * 1000.0
            self._apply(op)
            if self._observe_state:
                self._changed()
            return
        if op.kind == "audio" and self._audio is not None and self._audio[0] == op.action["audio"]:
            self._audio = None
        if isinstance(error, asyncio.CancelledError) or self._ended is not None:
            return  # after show.end the journal is closed for the show: nothing follows it
        self._last_ack_ms = latency * 1000.0
        message = None if error is None else f"{type(error).__name__}: {error}"
        # NotConnectedError.deferred: asked for during an outage, kept by the client as the next
        # session's state. It is the latest state, so catch-up after the reconnect must not undo it.
        deferred = bool(getattr(error, "deferred", False))
        if self.journal.active:
            self._write("action.ack", cue=op.cue, kind=op.kind, latency_ms=round(latency * 1000.0, 3),
                        success=error is None, error=message, deferred=deferred or None)
        if error is not None:
            error._journaled = True  # type: ignore[attr-defined]
            if not deferred:  # kept for the next session (an outage, closed hours): not an error
                self._write("error", cue=op.cue, message=message)
        if op.kind != "audio" and (error is None or deferred):
            self._apply(op)
        if self._observe_state:
            self._changed()

    def _apply(self, op: Op) -> None:
        self._apply_action(op.action, op.cue)

    def _apply_action(self, action: dict[str, Any], cue: str) -> None:
        """An acknowledged change is what shows now: the state, and when and by which cue it came."""
        now = self.loop.time()
        state, applied = self._now, self.applied
        for key, value in action.items():
            if key in state:
                state[key] = value
                applied[key] = (now, cue)

    def _on_superseded(self, old: Op, new: Op) -> None:
        self._write("action.superseded", cue=old.cue, action=old.action, by=new.cue)

    # ------------------------------------------------------------ intents

    def go_next(self) -> bool:
        """Fire the next timeline entry now; the show clock jumps to its time."""
        if not self.show_clock.started or self._go >= len(self.show.timeline):
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

    def _jump_to_entry(self, i: int) -> None:
        entry = self.show.timeline[i]
        back = entry.t < self.show_clock.t or i < self._go - 1
        if entry.t < self.show_clock.t:  # back in time: what was sent early may fire again
            self._fired_ahead = {k: v for k, v in self._fired_ahead.items() if v < entry.t - EPS}
        if back:  # the entries from i on are ahead again: listed once, as upcoming
            undone = {e.label or timeline_name(e) for e in self.show.timeline[i:]}
            kept = [p for p in self._past if not (p[0] >= entry.t - EPS and p[1] in undone)]
            self._past.clear()
            self._past.extend(kept)
        self.show_clock.jump(entry.t)
        self._go = i + 1
        self._dispose(self._show_subs)
        self._timeline_fire(i, intended=self.loop.time(), again=back)
        self.show_clock.plan_t = entry.t
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
            self._fired_ahead = {k: v for k, v in self._fired_ahead.items() if v < t - EPS}
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
            self.journal.write("show.pause")
            self._changed()
            return True
        return False

    def resume(self) -> bool:
        if self.show_clock.resume():
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

    def manual(self, action: Action, source: str) -> None:
        """An action from the operator (prompt box, image chooser, mirror key), journaled with its source."""
        self.journal.write("manual", source=source)
        self._perform_all(f"manual:{source}", (action,), ())
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
        log.error("%s", what, exc_info=exc)
        self._write("error", message=f"{what}: {type(exc).__name__}: {exc}")

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
        self._changed()

    def _changed(self) -> None:
        if self._observe_state and not self._publish_pending:
            self._publish_pending = True
            self.loop.call_soon(self._publish)

    def _publish(self) -> None:
        self._publish_pending = False
        if self._observe_state:
            self.state.on_next(self._snapshot())

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(0.25)
            self._publish()

    def _snapshot(self) -> ShowState:
        sc = self.show_clock
        audio = self._audio
        return ShowState(
            show=self.show.name, model=self.show.model, connection=self._connection,
            session_id=getattr(self.session, "session_id", None), t=sc.t, started=sc.started, paused=sc.paused,
            ended=self._ended, prompt=self._now["prompt"], enhance=self._now["enhance"], image=self._now["image"],
            mirror=self._now["mirror"], audio=audio[0] if audio else None,
            audio_elapsed=(self.loop.time() - audio[1]) if audio else None, last_ack_ms=self._last_ack_ms,
            past=tuple(PastFiring(*p) for p in self._past), upcoming=self._upcoming(),
            go_index=self._go if self._go < len(self.show.timeline) else None,
            timeline_len=len(self.show.timeline), protocol=getattr(self.session, "protocol", None),
            billed_s=self.meter.billed_seconds if self.meter is not None else 0.0,
            queue=self.meter.queue if self.meter is not None else None,
        )

    def _upcoming(self, limit: int = 10) -> tuple[Upcoming, ...]:
        if not self.show_clock.started:
            return ()
        now_t, now_wall = self.show_clock.t, self.clock.wall()
        items: list[tuple[float, Upcoming]] = []
        for entry in self.show.timeline[self._go:self._go + limit]:
            items.append((entry.t - now_t, Upcoming(entry.label or timeline_name(entry), entry.t, None)))
        for cue in self.show.cues:
            try:
                nxt = trigger_type(cue.trigger).next_fire(cue.trigger, self)
            except Exception:  # noqa: BLE001 - an odd cron line must not break the TUI
                nxt = None
            if nxt is not None:
                t, wall = nxt
                ahead = (t - now_t) if t is not None else (wall - now_wall).total_seconds()  # type: ignore[operator]
                items.append((ahead, Upcoming(cue.name, t, wall)))
        items.sort(key=lambda x: x[0])
        return tuple(u for _, u in items[:limit])


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
    from ..show.model import CronTrigger

    return isinstance(cue.trigger, CronTrigger)
