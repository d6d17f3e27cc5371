"""The fleet's show clock as one retained message, and the topics a show's fleet meets on.

The controller owns it. Show time is read off the wall clock (`time.time()`, NTP-synced hosts):
running, show time is `wall - origin`; paused, it is `t`. Nothing is sent per cue: every node
fires its own cues on this clock, so a node that joins late or restarts reads the same show time
from the retained message and catches up. A change takes effect at `at`, a wall time a moment after
it is sent (`CHANGE_LEAD_S`), so every node applies it at the same instant whatever its message's
delivery took; a node that hears it later applies it at once, on the same clock. `seq` grows with every change, so a stale copy (a node
that remembers an older clock, a duplicate delivery) never wins over a newer one; `go` counts GOs
and `go_index` is the entry the last GO fired, which nodes fire on seeing a new `go`.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace
from typing import Any, Sequence

WAITING, RUNNING, PAUSED = "waiting", "running", "paused"
EPS = 1e-6
CHANGE_LEAD_S = 0.15  # a pause, resume or GO takes effect this long after the controller sends it


@dataclass(frozen=True)
class FleetClock:
    seq: int = 0
    state: str = WAITING
    origin: float | None = None  # wall time (epoch seconds) of show time 0, while running
    t: float = 0.0  # show time while paused
    go: int = 0  # GOs so far
    go_index: int | None = None  # the timeline entry the last GO fired
    at: float | None = None  # wall time the last change takes effect

    def show_t(self, wall: float) -> float | None:
        """Show time at wall time `wall`, or None before the show starts."""
        if self.state == RUNNING and self.origin is not None:
            return wall - self.origin
        if self.state == PAUSED:
            return self.t
        return None

    def started(self, origin: float) -> "FleetClock":
        """Show time 0 at wall time `origin` (a moment ahead, so that every node starts together)."""
        return replace(self, seq=self.seq + 1, state=RUNNING, origin=origin, at=origin)

    def paused(self, wall: float, lead: float = CHANGE_LEAD_S) -> "FleetClock":
        at = wall + lead
        t = self.show_t(at)
        if self.state != RUNNING or t is None:
            return self
        return replace(self, seq=self.seq + 1, state=PAUSED, t=t, origin=None, at=at)

    def resumed(self, wall: float, lead: float = CHANGE_LEAD_S) -> "FleetClock":
        if self.state != PAUSED:
            return self
        at = wall + lead
        return replace(self, seq=self.seq + 1, state=RUNNING, origin=at - self.t, at=at)

    def gone_to(self, wall: float, index: int, entry_t: float, lead: float = CHANGE_LEAD_S) -> "FleetClock":
        """GO: entry `index` fires at `wall + lead` and show time jumps to its time (paused: stays paused there)."""
        at = wall + lead
        if self.state == PAUSED:
            return replace(self, seq=self.seq + 1, t=entry_t, go=self.go + 1, go_index=index, at=at)
        return replace(self, seq=self.seq + 1, state=RUNNING, origin=at - entry_t, go=self.go + 1,
                       go_index=index, at=at)

    def to_wire(self) -> dict[str, Any]:
        return {"v": 1, **asdict(self)}

    @classmethod
    def from_wire(cls, message: dict[str, Any]) -> "FleetClock | None":
        """The clock in a message, or None when the message is not a well-formed clock."""
        try:
            state = message["state"]
            origin = message.get("origin")
            go_index, at = message.get("go_index"), message.get("at")
            clock = cls(seq=int(message["seq"]), state=str(state),
                        origin=float(origin) if origin is not None else None, t=float(message.get("t", 0.0)),
                        go=int(message.get("go", 0)), go_index=int(go_index) if go_index is not None else None,
                        at=float(at) if at is not None else None)
        except (KeyError, TypeError, ValueError):
            return None
        if clock.state not in (WAITING, RUNNING, PAUSED) or (clock.state == RUNNING and clock.origin is None):
            return None
        return clock


def show_digest(show: Any) -> str | None:
    """A short digest of the show file, so the controller can tell a node that plays another version."""
    import hashlib

    try:
        return hashlib.sha256(show.path.read_bytes()).hexdigest()[:12] if show.path is not None else None
    except OSError:
        return None


def fold(t: float, period: float | None) -> float:
    """Show time in a looping show (`loop: true`, `duration` the period): the fleet's clock runs on,
    each node's timeline starts over at every period."""
    return t % period if period and t >= 0 else t


def apart(a: float, b: float, period: float | None) -> float:
    """a - b, the short way round the loop in a looping show."""
    d = a - b
    if period:
        d = (d + period / 2) % period - period / 2
    return d


def next_go(entry_times: Sequence[float], t: float, last_go: int | None) -> int | None:
    """The timeline entry GO fires next: the first not yet reached at show time `t`, and after the
    last one a GO fired; None when the timeline is done."""
    floor = 0 if last_go is None else last_go + 1
    for i in range(floor, len(entry_times)):
        if entry_times[i] > t + EPS:
            return i
    return None


class Topics:
    """Every topic of one show's fleet, under a prefix of its own (`decart-flow/<show>`)."""

    def __init__(self, show_name: str, prefix: str = "decart-flow") -> None:
        slug = re.sub(r"[^A-Za-z0-9_-]+", "-", show_name).strip("-").lower() or "show"
        self.root = f"{prefix}/{slug}"
        self.clock = f"{self.root}/clock"  # retained, from the controller
        self.controller = f"{self.root}/controller"  # retained presence, last will {"online": false}
        self.event = f"{self.root}/event"  # an event cue's event, from whoever took it
        self.ping = f"{self.root}/ping"  # the controller's clock-offset probe
        self.request = f"{self.root}/request"  # a node's operator asks the controller for GO, pause, resume
        self.token_request = f"{self.root}/token-request"  # a node asks for a client token (tokens.py)
        self.nodes = f"{self.root}/node/+/status"
        self.pongs = f"{self.root}/node/+/pong"

    def status(self, node: str) -> str:
        return f"{self.root}/node/{node}/status"  # retained presence and state, last will {"online": false}

    def pong(self, node: str) -> str:
        return f"{self.root}/node/{node}/pong"

    def token(self, node: str) -> str:
        return f"{self.root}/node/{node}/token"  # that node's client token, from the controller

    def node_of(self, topic: str) -> str | None:
        """The node a `node/NAME/...` topic is about."""
        parts = topic[len(self.root) + 1:].split("/")
        return parts[1] if len(parts) == 3 and parts[0] == "node" else None
