"""`decart-flow fleet`: the controller of a show across machines.

It owns the show clock (`clock.py`) and keeps it retained on the broker: it starts show time when
every node of `nodes:` says its sessions are generating (or after `start_timeout`, with those
that are), and GO, pause and resume (its own, or a node operator's request) are new clocks. It
plays nothing itself: when it goes away the nodes play on, and when it comes back it adopts the
newest clock it hears (the retained one, or the one each node reports), so the show converges.

It watches every node: presence (the node's last will), connection, sessions, last cue, billed
seconds, and each node's clock offset, measured NTP-style over MQTT (request/response wall
timestamps, the sample with the shortest round trip of the last ten). State changes go out as
records (`{"ts", "t", "event", ...}`), which the TUI shows and `--headless` prints one a line.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from ..show.model import ShowModel
from .broker import Broker, Link
from .clock import PAUSED, RUNNING, WAITING, FleetClock, Topics, fold, next_go, show_digest

log = logging.getLogger(__name__)

START_LEAD_S = 0.3  # show time 0 is this far ahead of the start message, so every node starts together
ADOPT_S = 1.0  # after connecting, listen this long for a clock to adopt before starting a fresh show
PING_EVERY_S = 1.0
SILENT_S = 1.5  # a node that sent no status for this long is gone (hung, or its network is): nodes send 2 a second
OFFSET_SAMPLES = 10


@dataclass
class NodeView:
    name: str
    expected: bool  # named in the show's `nodes:`
    online: bool = False
    connection: str = "-"
    sessions: tuple[str, ...] = ()
    t: float | None = None
    paused: bool = False
    last_cue: str | None = None
    billed_s: float = 0.0
    offset_ms: float | None = None  # node clock minus controller clock
    rtt_ms: float | None = None
    samples: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=OFFSET_SAMPLES))
    sender: tuple[str, int] | None = None  # (node process id, its last status number)
    other_show: bool = False  # it plays another version of the show file than the controller's
    heard: float = 0.0  # time.monotonic() of its last status


Record = dict[str, Any]


class Controller:
    def __init__(self, show: ShowModel, broker: Broker, start_timeout: float = 30.0,
                 emit: Callable[[Record], None] | None = None, new: bool = False, minter: Any = None) -> None:
        """`new`: start the show afresh instead of adopting the clock the fleet already follows.
        `minter` (tokens.TokenMinter): mint a client token for each node of the show that asks."""
        self.minter = minter
        self.show = show
        self.broker = broker
        self.start_timeout = start_timeout
        self.emit = emit or (lambda record: None)
        self.topics = Topics(show.name)
        self.clock = FleetClock()
        self.nodes: dict[str, NodeView] = {n: NodeView(n, True) for n in (show.nodes or {})}
        self.id = f"controller:{uuid.uuid4().hex[:8]}"
        self.changed: list[Callable[[], None]] = []  # the TUI listens
        self._times = [e.t for e in show.timeline]
        self.digest = show_digest(show)
        self._pings: dict[str, float] = {}
        self._owner = False  # after the adoption window: this controller decides
        self._new = new
        self._seen_seq = 0  # the newest clock heard, adopted or not (a new show must outnumber it)
        self._began = time.monotonic()
        self._stop: asyncio.Future[str] | None = None
        self.link: Link | None = None

    # ------------------------------------------------------------ lifecycle

    async def run(self) -> str:
        """Watch and drive the fleet until `stop`; the reason."""
        loop = asyncio.get_running_loop()
        self._stop = loop.create_future()
        topics = [self.topics.clock, self.topics.nodes, self.topics.pongs, self.topics.event, self.topics.request]
        self.link = Link(self.broker, self.id, topics + ([self.topics.token_request] if self.minter else []),
                         self._on_message, on_connect=self._on_connect, on_state=self._on_link,
                         will=(self.topics.controller, {"online": False}))
        self.link.start()
        ticker, watch = asyncio.ensure_future(self._tick()), asyncio.ensure_future(self._watch())
        try:
            return await self._stop
        finally:
            ticker.cancel()
            watch.cancel()
            await self.link.stop(last=(self.topics.controller, {"online": False}))
            if self.minter is not None:
                await self.minter.close()

    def stop(self, reason: str = "stop") -> None:
        if self._stop is not None and not self._stop.done():
            self._stop.set_result(reason)

    async def _tick(self) -> None:
        """Adopt or start the clock, probe offsets, end a show that is over."""
        assert self.link is not None
        await self.link.first_connect
        await asyncio.sleep(ADOPT_S)
        self._owner = True
        if self._new and self._seen_seq:  # newer than anything a node follows, so every node takes it
            self.clock = FleetClock(seq=self._seen_seq)
        if self.clock.state != WAITING:  # back on the broker too: it may have it from a node only
            self._record("fleet.adopt", seq=self.clock.seq, state=self.clock.state)
            await self._publish(self.topics.clock, self.clock.to_wire(), retain=True)
        pinged = 0.0
        while True:
            if self.clock.state == WAITING:
                self._maybe_start()
            if time.monotonic() - pinged >= PING_EVERY_S:
                pinged = time.monotonic()
                await self._ping()
            await self._maybe_end()
            await asyncio.sleep(0.1)

    async def _watch(self) -> None:
        """The last will tells at once when a node's process or connection dies; a node that hangs, or
        whose network goes silent, the broker notices only after its keepalive: this does it sooner."""
        while True:
            await asyncio.sleep(0.1)
            now = time.monotonic()
            for view in self.nodes.values():
                if view.online and now - view.heard > SILENT_S:
                    view.online, view.connection = False, "silent"
                    self._record("fleet.node", node=view.name, online=False, connection="silent")

    def _maybe_start(self) -> None:
        expected = [v for v in self.nodes.values() if v.expected]
        ready = [v.name for v in expected if v.online and v.connection == "generating"]
        waited = time.monotonic() - self._began
        if len(ready) == len(expected) or waited >= self.start_timeout:
            self._set_clock(self.clock.started(time.time() + START_LEAD_S))
            self._record("fleet.start", generating=ready, of=len(expected),
                         timed_out=len(ready) < len(expected) or None)

    async def _maybe_end(self) -> None:
        duration = self.show.duration
        t = self.t
        if duration is not None and not self.show.loop and t is not None and t >= duration \
                and not any(v.online for v in self.nodes.values()):
            await self._publish(self.topics.clock, None, retain=True)  # cleared: the next run starts afresh
            self.stop("duration")

    @property
    def t(self) -> float | None:
        t = self.clock.show_t(time.time())
        return fold(t, self.show.duration if self.show.loop else None) if t is not None else None

    # ------------------------------------------------------------ intents (TUI, keys, node requests)

    def go_next(self) -> bool:
        t = self.t
        if t is None:
            return False
        i = next_go(self._times, t, self.clock.go_index)
        if i is None:
            return False
        self._go(i, "next")
        return True

    def go_back(self) -> bool:
        t = self.t
        if t is None:
            return False
        following = next_go(self._times, t, self.clock.go_index)
        target = (len(self._times) if following is None else following) - 2
        if target < 0:
            return False
        self._go(target, "back")
        return True

    def _go(self, i: int, direction: str) -> None:
        self._set_clock(self.clock.gone_to(time.time(), i, self._times[i]))
        self._record("fleet.go", direction=direction, index=i)

    def pause(self) -> bool:
        if self.clock.state != RUNNING:
            return False
        self._set_clock(self.clock.paused(time.time()))
        self._record("fleet.pause")
        return True

    def resume(self) -> bool:
        if self.clock.state != PAUSED:
            return False
        self._set_clock(self.clock.resumed(time.time()))
        self._record("fleet.resume")
        return True

    def toggle_pause(self) -> bool:
        return self.pause() or self.resume()

    def event(self, kind: str, arg: str, args: list[Any] | None = None) -> None:
        """An event cue's event (a key pressed here): every node applies it."""
        message = {"id": uuid.uuid4().hex, "from": "controller", "kind": kind, "arg": arg, "args": args or []}
        asyncio.ensure_future(self._publish(self.topics.event, message))
        self._record("fleet.event", kind=kind, arg=arg, origin="controller")

    # ------------------------------------------------------------ the wire

    async def _publish(self, topic: str, message: dict[str, Any] | None, retain: bool = False, qos: int = 1) -> None:
        if self.link is not None:
            await self.link.publish(topic, message, retain=retain, qos=qos)

    async def _on_connect(self) -> None:
        await self._publish(self.topics.controller, {"online": True, "id": self.id}, retain=True)
        if self._owner and self.clock.state != WAITING:  # the broker may have lost it (a restart)
            await self._publish(self.topics.clock, self.clock.to_wire(), retain=True)

    def _on_link(self, up: bool, why: str | None) -> None:
        self._record("fleet.broker", state="connected" if up else "lost", broker=self.broker.label,
                     reason=None if up else why)

    def _set_clock(self, clock: FleetClock) -> None:
        self.clock = clock
        asyncio.ensure_future(self._publish(self.topics.clock, clock.to_wire(), retain=True))
        self._changed()

    def _adopt(self, clock: FleetClock | None, source: str) -> None:
        """A newer clock than ours (a restart of this controller, a broker that lost its copy)."""
        if clock is None:
            return
        self._seen_seq = max(self._seen_seq, clock.seq)
        if clock.seq <= self.clock.seq or clock.state == WAITING or (self._new and not self._owner):
            return
        t = clock.show_t(time.time())
        if self.show.duration is not None and not self.show.loop and t is not None and t >= self.show.duration \
                and not self._owner:
            return  # a show that is over (a retained clock of an earlier run): this one starts afresh
        self.clock = clock
        if self._owner:  # after the window: put it back on the broker for late joiners
            self._record("fleet.adopt", seq=clock.seq, state=clock.state, source=source)
            asyncio.ensure_future(self._publish(self.topics.clock, clock.to_wire(), retain=True))
        self._changed()

    def _on_message(self, topic: str, message: dict[str, Any]) -> None:
        t = self.topics
        if topic == t.clock:
            self._adopt(FleetClock.from_wire(message), "broker")
        elif topic == t.event:
            if message.get("from") != "controller":
                self._record("fleet.event", kind=message.get("kind"), arg=message.get("arg"),
                             origin=message.get("from"))
        elif topic == t.request:
            self._on_request(message)
        elif topic == t.token_request and self.minter is not None:
            asyncio.ensure_future(self._mint(message))
        elif (name := t.node_of(topic)) is not None:
            if topic.endswith("/status"):
                self._on_status(name, message)
            elif topic.endswith("/pong"):
                self._on_pong(name, message)

    def _on_request(self, message: dict[str, Any]) -> None:
        op, basis = message.get("op"), message.get("basis")
        act = {"go_next": self.go_next, "go_back": self.go_back, "pause": self.pause, "resume": self.resume}.get(str(op))
        if act is None:
            log.warning("fleet: skipped a malformed request")
            return
        if basis != self.clock.seq:  # asked of a clock that has changed since (another node asked first)
            self._record("fleet.request", op=op, origin=message.get("from"), taken=False)
            return
        self._record("fleet.request", op=op, origin=message.get("from"), taken=True)
        act()

    def _on_status(self, name: str, message: dict[str, Any]) -> None:
        view = self.nodes.get(name)
        if view is None:
            if message.get("online") is not True:
                return
            view = self.nodes[name] = NodeView(name, False)
            self._record("fleet.node", node=name, note="not in the show's nodes:")
        online = message.get("online") is True
        sender, n = message.get("id"), message.get("n")
        if isinstance(sender, str) and isinstance(n, int):
            if view.sender is not None and view.sender[0] == sender and n <= view.sender[1]:
                return  # overtaken by a newer status of the same process
            view.sender = (sender, n)
        before = (view.online, view.connection, view.last_cue)
        view.online = online
        view.heard = time.monotonic()
        if online:
            view.connection = str(message.get("connection", "-"))
            view.sessions = tuple(str(s) for s in message.get("sessions") or ())
            view.t = _num(message.get("t"))
            view.paused = bool(message.get("paused"))
            view.last_cue = message.get("last_cue") if isinstance(message.get("last_cue"), str) else None
            view.billed_s = _num(message.get("billed_s")) or 0.0
            other = isinstance(message.get("show"), str) and self.digest is not None and message["show"] != self.digest
            if other and not view.other_show:
                self._record("fleet.node", node=name, note="plays another version of the show file than this controller")
            view.other_show = other
            if isinstance(message.get("clock"), dict):
                self._adopt(FleetClock.from_wire(message["clock"]), f"node {name}")
        else:
            view.connection = "gone"
        if (view.online, view.connection) != before[:2]:
            self._record("fleet.node", node=name, online=online, connection=view.connection)
        elif view.last_cue != before[2] and view.last_cue is not None:
            self._record("fleet.cue", node=name, cue=view.last_cue)
        self._changed()

    async def _mint(self, message: dict[str, Any]) -> None:
        """A client token for a node of the show, to that node alone; the key stays here."""
        node, asked = message.get("node"), message.get("id")
        if not isinstance(node, str) or not isinstance(asked, str):
            log.warning("fleet: skipped a malformed token request")
            return
        if node not in (self.show.nodes or {}):
            self._record("fleet.token", node=node, refused="not a node of this show")
            return
        try:
            token = await self.minter.mint(node)
        except Exception as exc:  # noqa: BLE001 - the node asks again; the reason is shown
            from ..engine.journal import redact

            self._record("fleet.token", node=node, error=redact(f"{type(exc).__name__}: {exc}"))
            return
        await self._publish(self.topics.token(node), {"id": asked, **token})
        self._record("fleet.token", node=node, expires_at=token["expires_at"])

    async def _ping(self) -> None:
        probe = uuid.uuid4().hex[:12]
        now = time.time()
        self._pings = {k: v for k, v in self._pings.items() if now - v < 10.0}
        self._pings[probe] = now
        await self._publish(self.topics.ping, {"id": probe, "t1": now}, qos=0)

    def _on_pong(self, name: str, message: dict[str, Any]) -> None:
        t4 = time.time()
        t1 = self._pings.get(str(message.get("id")))
        t2, t3 = _num(message.get("t2")), _num(message.get("t3"))
        view = self.nodes.get(name)
        if t1 is None or t2 is None or t3 is None or view is None:
            return
        rtt = (t4 - t1) - (t3 - t2)
        offset = ((t2 - t1) + (t3 - t4)) / 2.0
        view.samples.append((rtt, offset))
        best_rtt, best = min(view.samples)
        first = view.offset_ms is None
        previous = view.offset_ms
        view.offset_ms, view.rtt_ms = best * 1000.0, best_rtt * 1000.0
        if first or abs(view.offset_ms - (previous or 0.0)) >= 2.0:
            self._record("fleet.offset", node=name, offset_ms=round(view.offset_ms, 2),
                         rtt_ms=round(view.rtt_ms, 2))
        self._changed()

    # ------------------------------------------------------------ out

    def _record(self, event: str, **fields: Any) -> None:
        record = {"ts": datetime.now(timezone.utc).astimezone().isoformat(), "t": self.t, "event": event}
        record.update({k: v for k, v in fields.items() if v is not None})
        try:
            self.emit(record)
        except Exception:  # noqa: BLE001 - a printer's failure is not the fleet's
            log.exception("fleet: showing a record failed")
        self._changed()

    def _changed(self) -> None:
        for fn in self.changed:
            fn()


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
