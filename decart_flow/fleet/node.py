"""`run --node NAME --broker URL`: this machine's part of a show across machines.

The node plays its sessions with the ordinary engine, except that the show clock is not its own:
it starts, pauses, resumes and jumps as the controller's retained clock says (`clock.py`), and
between those messages it runs on its own, so cues fire on every node at the same wall time with
no message per cue, and a node whose controller went away plays on. What the node's operator asks
(GO, pause, resume: keys, OSC, HTTP, a cue's `go:`) goes to the controller as a request and comes
back to every node as the clock; without a controller it is refused (journaled). Event cues' events
(keys, OSC, HTTP, MIDI) are published and applied on every node.

The node says who it is and how it plays in a retained status message (connection, show time,
last cue, billed seconds, the clock it follows), with a last will that tells the controller at
once when the process or its connection dies. It answers the controller's clock probes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections import deque
from typing import Any, Callable

from .broker import Broker, FleetError, Link
from .clock import PAUSED, RUNNING, WAITING, FleetClock, Topics, apart, fold, show_digest

log = logging.getLogger(__name__)

SHOW_WIDE = ("key", "osc", "http", "midi")  # events that apply to the whole show (not `state`, `after`)
SEEK_TOLERANCE_S = 0.05  # a node further than this from the controller's clock seeks to it (catch-up, re-plan)
ALIGN_S = 0.0005  # closer than the seek tolerance but further than this: the show clock is moved, nothing re-planned
STATUS_EVERY_S = 0.5  # the controller takes a node that says nothing for 1.5 s as gone
INTENTS = ("go_next", "go_back", "pause", "resume")


class FleetNode:
    def __init__(self, engine: Any, name: str, broker: Broker, say: Callable[[str], None] = print,
                 token_lifetime: int | None = None) -> None:
        """`token_lifetime`: the node plays on a client token from the controller; it asks for a
        fresh one at half this, for its session's next reconnect (tokens.py)."""
        self.engine = engine
        self.name = name
        self.sessions = list(engine.sessions)  # the sessions this node plays (`nodes:`, else all)
        self.topics = Topics(engine.show.name)
        show = engine.show
        self.period = show.duration if show.loop and show.duration else None  # a looping show's
        self.digest = show_digest(show)
        self.say = say
        self.loop = asyncio.get_running_loop()
        self.id = f"node:{name}:{uuid.uuid4().hex[:8]}"
        self.clock: FleetClock | None = None  # the newest clock heard
        self._go_seen: int | None = None  # the GO count this node has played up to
        self._controller_online = False
        self._recent: deque[str] = deque(maxlen=512)  # event ids already applied
        self._applying_remote = False
        self._dirty = asyncio.Event()
        self._retry: asyncio.TimerHandle | None = None
        self._due: asyncio.TimerHandle | None = None  # a change waiting for its `at`
        engine.autostart = False  # the controller starts the show clock
        self._local: dict[str, Callable[[], bool]] = {k: getattr(engine, k) for k in INTENTS}
        for intent in INTENTS:
            setattr(engine, intent, lambda intent=intent: self._request(intent))
        self._emit = engine.events.emit
        engine.events.emit = self._emit_local
        self._sub = engine.journal_events.subscribe(self._on_record)
        self.token_lifetime = token_lifetime
        self._token_asked: str | None = None
        # Other nodes' statuses carry the clock they follow: with the controller away and the broker
        # restarted (its retained clock lost), a restarting node still finds the show's clock there.
        self.link = Link(broker, self.id, [self.topics.clock, self.topics.event, self.topics.ping,
                                           self.topics.controller, self.topics.nodes]
                         + ([self.topics.token(name)] if token_lifetime else []),
                         self._on_message, on_connect=self._on_connect, on_state=self._on_link,
                         will=(self.topics.status(name), {"online": False, "node": name}))
        self._status_task: asyncio.Task[None] | None = None
        self._token_task: asyncio.Task[None] | None = None
        self._n = 0  # status messages so far: the controller keeps only the newest of this process's

    def start(self) -> None:
        self.link.start()
        self._status_task = asyncio.ensure_future(self._statuses())
        self._token_task = asyncio.ensure_future(self._renew_tokens()) if self.token_lifetime else None

    async def stop(self) -> None:
        for handle in (self._retry, self._due):
            if handle is not None:
                handle.cancel()
        for task in (self._status_task, self._token_task):
            if task is not None:
                task.cancel()
        self._sub.dispose()
        self.engine.events.emit = self._emit
        for intent in INTENTS:
            setattr(self.engine, intent, self._local[intent])
        self._n += 1
        await self.link.stop(last=(self.topics.status(self.name), {"online": False, "node": self.name,
                                                                  "id": self.id, "n": self._n}))

    # ------------------------------------------------------------ the wire

    async def _on_connect(self) -> None:
        await self._publish_status()

    def _on_link(self, up: bool, why: str | None) -> None:
        self._write("fleet.broker", state="connected" if up else "lost", broker=self.link.broker.label,
                    reason=None if up else why)

    def _on_message(self, topic: str, message: dict[str, Any]) -> None:
        t = self.topics
        if topic == t.clock:
            clock = FleetClock.from_wire(message)
            if clock is None:
                log.warning("fleet: skipped a malformed clock message")
                return
            self._on_clock(clock)
        elif topic == t.event:
            self._on_event(message)
        elif topic == t.ping:
            received = time.time()
            probe = message.get("id")
            if isinstance(probe, str):
                asyncio.ensure_future(self.link.publish(t.pong(self.name), {
                    "id": probe, "t1": message.get("t1"), "t2": received, "t3": time.time()}, qos=0))
        elif topic.endswith("/status") and t.node_of(topic) not in (None, self.name):
            if message.get("online") is True and isinstance(message.get("clock"), dict):
                clock = FleetClock.from_wire(message["clock"])
                if clock is not None and clock.state != WAITING:
                    self._on_clock(clock)
        elif self.token_lifetime and topic == t.token(self.name):
            self._on_token(message)
        elif topic == t.controller:
            online = message.get("online") is True
            if online != self._controller_online:
                self._controller_online = online
                self._write("fleet.controller", online=online)

    # ------------------------------------------------------------ the clock

    def _on_clock(self, clock: FleetClock) -> None:
        if self.clock is not None and clock.seq < self.clock.seq:
            return  # older than what this node follows (a stale retained copy)
        if clock == self.clock and self.engine.show_clock.started:
            return  # a duplicate delivery
        self.clock = clock
        self._follow()

    def _follow(self) -> None:
        """Bring the engine's show clock to the fleet's (called again until the engine runs)."""
        clock, engine = self.clock, self.engine
        if clock is None or clock.state == WAITING:
            return
        sc = engine.show_clock
        if not sc.started:
            t = clock.show_t(time.time())
            t = fold(t, self.period) if t is not None else None
            show = engine.show
            if t is not None and show.duration is not None and not show.loop and t >= show.duration:
                return  # a show that is over (a retained clock of an earlier run): wait for a new one
            if t is None or not engine.start_at(t):
                if not sc.started and self._retry is None:  # the engine is not running yet
                    self._retry = self.loop.call_later(0.05, self._retried)
                return
            self._go_seen = clock.go  # a late joiner: catch-up already applied the last GO's entry
            if clock.state == PAUSED:
                self._local["pause"]()
            else:  # at once: the start read the wall clock and the loop's clock apart (a preemption between)
                self.align()
            self._write("fleet.clock", state=clock.state, joined=round(t, 3), seq=clock.seq)
            self._dirty.set()
            return
        delay = (clock.at - time.time()) if clock.at is not None else 0.0
        if delay > 0.0005:  # every node applies it at the same wall time
            if self._due is not None:
                self._due.cancel()
            self._due = self.loop.call_later(delay, self._apply_due)
            return
        self._apply(clock)

    def _apply_due(self) -> None:
        self._due = None
        if self.clock is not None:
            self._apply(self.clock)

    def _apply(self, clock: FleetClock) -> None:
        engine, sc = self.engine, self.engine.show_clock
        if clock.go != self._go_seen:
            self._go_seen = clock.go
            if clock.go_index is not None:
                engine.go_to(clock.go_index)
        if clock.state == PAUSED:
            self._local["pause"]()
            t = fold(clock.t, self.period)
            if abs(apart(sc.t, t, self.period)) > SEEK_TOLERANCE_S:
                engine.seek(t)
        elif clock.state == RUNNING:
            t = clock.show_t(time.time())
            assert t is not None
            t = fold(t, self.period)
            if sc.paused:
                if abs(apart(sc.t, t, self.period)) > SEEK_TOLERANCE_S:
                    engine.seek(t)
                self._local["resume"]()
            self.align()
        self._write("fleet.clock", state=clock.state, seq=clock.seq, go=clock.go)
        self._dirty.set()

    def align(self) -> None:
        """Hold the show clock to the fleet's: a change applied by a timer that woke late, or this
        machine's monotonic clock drifting from its NTP-disciplined wall clock, would otherwise leave
        this node that much off for the rest of the show. Timers stay in show time: a small move
        drops none (a forward one fires what it passed at once)."""
        clock, sc = self.clock, self.engine.show_clock
        if clock is None or clock.state != RUNNING or not sc.started or sc.paused:
            return
        mine, theirs = self._both_now(clock)
        off = apart(mine, theirs, self.period)
        if abs(off) > SEEK_TOLERANCE_S:
            self.engine.seek(theirs)
        elif abs(off) > ALIGN_S:
            sc.shift(-off)  # by the offset: across a loop's end, not back over the whole period
            self._write("fleet.align", off_ms=round(off * 1000.0, 3))

    def _both_now(self, clock: FleetClock) -> tuple[float, float]:
        """(this node's show time, the fleet's) at one instant: the pair of readings of the loop's
        monotonic clock and the wall clock least far apart of three, so a preemption between them
        is not taken for an offset."""
        now, best = self.loop.time, None
        for _ in range(3):
            m1, wall, m2 = now(), time.time(), now()
            if best is None or m2 - m1 < best[0]:
                best = (m2 - m1, (m1 + m2) / 2.0, wall)
            if m2 - m1 < 0.0002:
                break
        assert best is not None
        theirs = clock.show_t(best[2])
        assert theirs is not None
        return best[1] - self.engine.show_clock.mono_of(0.0), fold(theirs, self.period)

    def _retried(self) -> None:
        self._retry = None
        self._follow()

    def _request(self, intent: str) -> bool:
        """An operator's GO, pause or resume: the controller decides, every node follows its clock."""
        if self.clock is None:  # before the fleet's clock came: nothing to ask of
            return False
        if not self._controller_online or not self.link.connected:
            # The show clock is the fleet's: a change made here alone would be undone by the next
            # alignment, and the nodes would disagree until then.
            self._write("fleet.request", op=intent, taken=False, reason="no controller")
            return False
        sc = self.engine.show_clock
        if not sc.started or (intent == "pause" and sc.paused) or (intent == "resume" and not sc.paused):
            return False
        asyncio.ensure_future(self.link.publish(self.topics.request, {
            "op": intent, "from": self.name, "basis": self.clock.seq}))
        self._write("fleet.request", op=intent, basis=self.clock.seq)
        return True

    # ------------------------------------------------------------ show-wide events

    def _emit_local(self, kind: str, arg: str, args: Any = ()) -> bool:
        taken = self._emit(kind, arg, args)
        if kind in SHOW_WIDE and not self._applying_remote:
            event_id = uuid.uuid4().hex
            self._recent.append(event_id)
            asyncio.ensure_future(self.link.publish(self.topics.event, {
                "id": event_id, "from": self.name, "kind": kind, "arg": str(arg), "args": _plain(args)}))
        return taken

    def _on_event(self, message: dict[str, Any]) -> None:
        event_id, kind, arg, args = message.get("id"), message.get("kind"), message.get("arg"), message.get("args", [])
        if not isinstance(event_id, str) or kind not in SHOW_WIDE or not isinstance(arg, str) \
                or not isinstance(args, list):
            log.warning("fleet: skipped a malformed event message")
            return
        if event_id in self._recent:
            return  # this node's own, or a duplicate delivery
        self._recent.append(event_id)
        self._write("fleet.event", kind=kind, arg=arg, origin=str(message.get("from", "?")))
        self._applying_remote = True
        try:
            self._emit(kind, arg, tuple(args))
        finally:
            self._applying_remote = False

    # ------------------------------------------------------------ client tokens

    async def _renew_tokens(self) -> None:
        assert self.token_lifetime is not None
        while True:
            await asyncio.sleep(max(1.0, self.token_lifetime / 2.0))
            self._token_asked = uuid.uuid4().hex
            while self._token_asked is not None:  # until the controller answers (it may be away)
                await self.link.publish(self.topics.token_request, {"node": self.name, "id": self._token_asked})
                await asyncio.sleep(2.0)

    def _on_token(self, message: dict[str, Any]) -> None:
        token = message.get("token")
        if message.get("id") != self._token_asked or not isinstance(token, str) or not token:
            return  # an answer to another request (the first one, made before the run)
        self._token_asked = None
        for session in self.engine.sessions.values():
            session.set_api_key(token)
        lifetime = message.get("lifetime")
        if isinstance(lifetime, int) and lifetime > 0:
            self.token_lifetime = lifetime
        self._write("fleet.token", expires_at=str(message.get("expires_at")))

    # ------------------------------------------------------------ status

    def _on_record(self, record: dict[str, Any]) -> None:
        if record.get("event") in ("cue.fire", "session.state", "show.end"):
            self._dirty.set()

    def status(self) -> dict[str, Any]:
        state = self.engine.state.value
        last = state.past[-1] if state.past else None
        return {
            "online": True, "node": self.name, "sessions": self.sessions, "connection": node_connection(state, self.sessions),
            "started": state.started, "paused": state.paused, "t": round(state.t, 3),
            "ended": state.ended, "last_cue": last.cue if last else None,
            "last_cue_t": round(last.t, 3) if last else None, "billed_s": state.billed_s,
            "clock": self.clock.to_wire() if self.clock is not None else None, "wall": time.time(),
            "pid": os.getpid(), "id": self.id, "n": self._n, "show": self.digest,
        }

    async def _publish_status(self) -> None:
        self.engine.refresh_state()
        await asyncio.sleep(0)  # the snapshot is published on the next loop pass
        self._n += 1
        await self.link.publish(self.topics.status(self.name), self.status(), retain=True)

    async def _statuses(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._dirty.wait(), STATUS_EVERY_S)
            except asyncio.TimeoutError:
                pass
            self._dirty.clear()
            self.align()
            await self._publish_status()
            await asyncio.sleep(0.1)  # at most ten a second

    def _write(self, event: str, **fields: Any) -> None:
        self.engine.journal.write(event, node=self.name, **fields)


# A node's sessions in one word: the least far along of them, so "generating" means all are.
_PROGRESS = ("disconnected", "reconnecting", "connecting", "connected", "generating")


def node_connection(state: Any, names: list[str]) -> str:
    """The connection the controller sees for a node: with several sessions, the one least far
    along of those it plays (the show starts when every node's sessions all generate)."""
    views = [v for v in getattr(state, "sessions", ()) or () if v.name in names]
    if len(views) < 2:
        return state.connection
    states = [str(v.connection) for v in views]
    return min(states, key=lambda c: _PROGRESS.index(c) if c in _PROGRESS else -1)


def _plain(args: Any) -> list[Any]:
    """Event arguments as JSON can carry them."""
    out: list[Any] = []
    for a in args or ():
        out.append(a if isinstance(a, (str, int, float, bool)) or a is None else str(a))
    return out


async def attach_node(engine: Any, node: str, broker_url: str, say: Callable[[str], None],
                      token_lifetime: int | None = None) -> FleetNode:
    """Join the fleet on `broker_url` as `node` (the run has checked `fleet_problem`)."""
    from .broker import broker_from_url

    broker = broker_from_url(broker_url)
    fleet = FleetNode(engine, node, broker, say, token_lifetime)
    fleet.start()
    say(f"fleet: node {node} on {broker.label}, topics {fleet.topics.root}/")
    return fleet


__all__ = ["FleetError", "FleetNode", "attach_node"]
