"""The cue runner: a firing in, the cue's actions run, journaled, under the cue's `mode`.

Instant cues run synchronously inside the timer callback; cues with `wait`, audio or a Python
handler run as an eagerly started sequence. A cue sent early (lookahead) is remembered by its cued
show time, so a re-plan (reload, GO) does not send it twice. The records its actions write wait for
their `cue.fire` (`write`), so the journal reads in order.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any, Callable, Iterable, Protocol

from reactivex.disposable import SerialDisposable

from ..show.model import Action, Cue
from .actions import action_kind, sequential
from .catchup import Engine as Context
from .executor import Superseded
from .lookahead import Lead, lead_for
from .loop import eager
from .names import timeline_name
from .showclock import EPS
from .triggers import Fire, trigger_kind
from .when import inside

if TYPE_CHECKING:
    from .latency import LatencyEstimator
    from .publisher import Publisher

log = logging.getLogger(__name__)


class Host(Context, Protocol):
    """What the runner reads of the engine: the show (swapped by a reload) and the triggers' context."""

    latency: LatencyEstimator

    def perform(self, action: Action, cue: str, place: str, args: tuple[Any, ...]) -> Any: ...  # to its sessions

    def cue_tag(self, actions: tuple[Action, ...]) -> dict[str, str]: ...  # `{"session": NAME}` for one session

    def route(self, action: Action) -> list[Any]: ...  # the SessionLanes it goes to


class CueRunner:
    def __init__(self, host: Host, publisher: Publisher) -> None:
        self.host = host
        self.publisher = publisher
        self.loop = host.clock.loop
        self.journal = host.journal
        self.actions = host.actions
        self.events = host.events
        self.show_clock = host.show_clock
        self.tempo = host.tempo
        self._fired_ahead: dict[str, float] = {}  # cue -> cued show time of its last early firing
        self._runs: dict[str, list[asyncio.Future[Any]]] = {}
        self._resolved: dict[int, tuple[Action, ...]] = {}  # timeline index -> its actions, toggles resolved
        self._queued: dict[str, deque[tuple[tuple[Action, ...], tuple[Any, ...]]]] = {}
        self._deferred: list[tuple[str, dict[str, Any]]] | None = None

    # ------------------------------------------------------------ the journal and our bugs

    def write(self, event: str, **fields: Any) -> None:
        """A journal record; inside a firing it waits for the firing's `cue.fire`."""
        if not self.journal.active:
            return
        if self._deferred is not None:
            self._deferred.append((event, fields))
        else:
            self.journal.write(event, **fields)

    def bug(self, what: str, exc: BaseException) -> None:
        log.error("%s", what, exc_info=exc)
        self.write("error", message=f"{what}: {type(exc).__name__}: {exc}")

    # ------------------------------------------------------------ sent early

    def sent_ahead(self, key: str, t: float) -> None:
        """`key` (a cue, or a timeline entry `NAME #i`) was sent early for show time `t` (a resumed run)."""
        self._fired_ahead[key] = t

    def forget_ahead(self, t: float | None = None) -> None:
        """Show time went back to `t` (None: to the start): what was sent early after it may fire again."""
        if t is None:
            self._fired_ahead.clear()
        else:
            self._fired_ahead = {k: v for k, v in self._fired_ahead.items() if v < t - EPS}

    # ------------------------------------------------------------ subscriptions

    def lead(self, setting: Any) -> Lead | None:
        """A cue's lookahead (its own, else the show's) as the triggers apply it."""
        return lead_for(setting if setting is not None else self.host.show.lookahead, self.host.latency)

    def subscribe(self, cue: Cue) -> Any:
        """Fire `cue` on its trigger's firings; the subscription."""
        kind = trigger_kind(cue.trigger)
        observable = kind.observe(cue.trigger, self.host, self.lead(cue.lookahead))
        on_next = partial(self.fire, cue)
        if kind.show_time or kind.wall_clock:
            return observable.subscribe(
                on_next=on_next, on_error=lambda exc, cue=cue: self.bug(f"cue {cue.name!r} stopped", exc),
                scheduler=self.host.scheduler)
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
                self.bug(f"cue {cue.name!r} stopped", exc)
                return
            log.warning("cue %r: a firing failed (%s: %s); the cue goes on", cue.name, type(exc).__name__, exc)
            self.write("error", cue=cue.name, message=f"cue {cue.name!r}: a firing failed, the cue goes on: "
                                                      f"{type(exc).__name__}: {exc}")
            if not holder.is_disposed:
                self.loop.call_soon(subscribe)

        def subscribe() -> None:
            if holder.is_disposed:
                return
            subscribing[0] = True
            try:
                holder.disposable = observable.subscribe(on_next=on_next, on_error=on_error,
                                                         scheduler=self.host.scheduler)
            finally:
                subscribing[0] = False

        subscribe()
        return holder

    # ------------------------------------------------------------ firing

    def fire(self, cue: Cue, fire: Fire, key: str | None = None, label: str | None = None) -> None:
        lead = fire.lead
        lateness_ms = (self.loop.time() - fire.intended + lead) * 1000.0  # against the (early) send time
        if lead and fire.t is not None:
            key = key or cue.name
            if fire.t <= self._fired_ahead.get(key, -1.0) + EPS:
                return  # sent early already; a re-plan (reload, GO) planned it again
            self._fired_ahead[key] = fire.t
        journal_on = self.journal.active
        try:
            if cue.when is not None and not inside(cue.when, self.host.clock.wall()):
                return
            # Records the actions make wait for `cue.fire` (a list only when someone reads them).
            outer, self._deferred = self._deferred, ([] if journal_on else None)
            instant = False
            seq: tuple[Action, ...] = ()
            self.actions.ahead = lead
            try:
                seq = (cue.actions + cue.then if cue.then else cue.actions) if fire.actions is None \
                    else self._checked(cue.name, fire.actions)
                if seq:
                    instant = self._start_run(cue, seq, fire.args, lead)
            except Exception as exc:  # noqa: BLE001 - our bug: log it, the show goes on
                self.bug(f"cue {cue.name!r} failed", exc)
            finally:
                self.actions.ahead = 0.0
                deferred, self._deferred = self._deferred, outer
        except Exception as exc:  # noqa: BLE001
            self.bug(f"cue {cue.name!r} failed", exc)
            return
        t = fire.t if fire.t is not None else self.show_clock.t
        if journal_on or self.journal.active:
            tag = self.host.cue_tag(seq)
            self._journal_fire(cue.name, fire, t, lateness_ms, deferred or [], tag)
        self.publisher.fired(t, label or cue.name, lateness_ms)
        if self.publisher.observe:
            self.publisher.changed()
        if instant:
            self.events.emit("after", cue.name)  # `_finished`, one call less

    def fire_entry(self, i: int, intended: float | None = None, lead: float = 0.0, again: bool = False) -> None:
        """Fire timeline entry i; `again` (GO back) re-applies what it did the first time, toggles included."""
        entry = self.host.show.timeline[i]
        name = timeline_name(entry)
        actions = self._entry_actions(i, entry.actions, again)
        cue = Cue(name=name, trigger=None, actions=actions, mode="parallel")  # type: ignore[arg-type]
        self.fire(cue, Fire(self.show_clock.mono_of(entry.t) if intended is None else intended, entry.t, lead=lead),
                  key=f"{name} #{i}", label=entry.label or None)

    def perform_all(self, name: str, seq: Iterable[Action], args: tuple[Any, ...]) -> None:
        """Run actions now, one after the other, none waiting (an instant cue, the operator's action)."""
        perform = self.host.perform
        for i, action in enumerate(seq):
            try:
                perform(action, name, str(i), args)
            except Exception as exc:  # noqa: BLE001
                self.bug(f"action of {name!r} failed", exc)

    def cancel(self) -> None:
        """The show ended: every running sequence stops."""
        for runs in self._runs.values():
            for run in runs:
                run.cancel()
        self._runs.clear()

    def _checked(self, name: str, actions: tuple[Any, ...]) -> tuple[Action, ...]:
        """A reactive cue's actions, checked as a show file's are (vars, paths, the model); none if bad."""
        from ..show.problems import ShowError
        from ..show.runtime import check_action

        try:
            return tuple(check_action(list(actions), self.host.show, f"cue {name!r}"))
        except ShowError as exc:
            for problem in exc.problems:
                log.warning("cue %r: %s", name, problem)
                self.write("error", cue=name, message=f"cue {name!r}: {problem}")
            return ()

    def _journal_fire(self, name: str, fire: Fire, t: float, lateness_ms: float,
                      deferred: list[tuple[str, dict[str, Any]]], tag: dict[str, str]) -> None:
        """`cue.fire` (with `session` when it goes to one of several), then the records its actions made wait for it."""
        lead = fire.lead
        bar = {"bar": self.tempo.grid.bar_beat(t)} if self.tempo is not None else {}
        if lead:
            self.journal.write("cue.fire", **tag, cue=name, intended_t=round(t, 6), lateness_ms=round(lateness_ms, 3),
                               args=list(fire.args) if fire.args else None, lookahead_ms=round(lead * 1000.0, 3), **bar)
        else:
            self.journal.write("cue.fire", **tag, cue=name, intended_t=round(t, 6),
                               lateness_ms=round(lateness_ms, 3), args=list(fire.args) if fire.args else None, **bar)
        for event, fields in deferred:
            self.write(event, **fields)

    def _start_run(self, cue: Cue, seq: tuple[Action, ...], args: tuple[Any, ...], lead: float = 0.0) -> bool:
        """Start a firing's actions; True when they all ran already (an instant cue)."""
        if not sequential(seq):
            # an instant cue: every action runs now, inside the timer callback
            self.perform_all(cue.name, seq, args)
            return True
        runs = self._runs.setdefault(cue.name, [])
        if runs:
            if cue.mode == "single":
                self.write("cue.ignored", cue=cue.name, reason="running")
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

    async def _sequence(self, name: str, seq: tuple[Action, ...], args: tuple[Any, ...], lead: float = 0.0) -> None:
        for i, action in enumerate(seq):
            try:
                self.actions.ahead = lead  # each step of a cue sent early is early by the same lead
                try:
                    pending = self.host.perform(action, name, str(i), args)
                finally:
                    self.actions.ahead = 0.0
                if pending is not None:
                    await pending
            except asyncio.CancelledError:
                raise
            except Superseded:
                pass
            except Exception as exc:  # noqa: BLE001 - wire failures are journaled by the executor
                if not getattr(exc, "journaled", False):
                    self.write("error", cue=name, message=f"{type(exc).__name__}: {exc}")
        self._finished(name)

    def _finished(self, name: str) -> None:
        self.events.emit("after", name)

    def _entry_actions(self, i: int, actions: tuple[Action, ...], again: bool) -> tuple[Action, ...]:
        """An entry's actions with each `mirror: toggle` resolved to the value it set, kept for GO back.

        Re-applying entry i must leave the mirror as it was right after i, not flip it once more.
        A toggle that goes to several sessions flips each one's own mirror: it is resolved per session.
        """
        if again and i in self._resolved:
            return self._resolved[i]
        states: dict[str, dict[str, Any]] = {}  # session -> the state its toggles flip

        def state(lane: Any) -> dict[str, Any]:
            if lane.name not in states:
                states[lane.name] = {"mirror": lane.store.sent("mirror")}
            return states[lane.name]

        settled: list[Action] = []
        for a in actions:
            kind = action_kind(a)
            lanes = self.host.route(a) if kind.routed else []
            if len(lanes) <= 1:
                settled.append(kind.settle(a, state(lanes[0]) if lanes else {"mirror": self.host.store.sent("mirror")}))
                continue
            each = [replace(a, to=(lane.name,)) for lane in lanes]  # type: ignore[type-var]
            fixed = [kind.settle(one, state(lane)) for one, lane in zip(each, lanes)]
            settled.extend([a] if fixed == each else fixed)
        result = tuple(settled)
        if result != actions:
            self._resolved[i] = result
        return result
