"""The executor's reports: what went on the wire and what the service acknowledged, journaled and shown.

An acknowledged change is what shows now: it goes into the state store (with when and by which
cue), and the snapshot shows the last ack's latency and the audio clip playing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from .executor import Op
    from .journal import Journal
    from .publisher import Publisher
    from .store import StateStore


@dataclass(eq=False)  # one per engine: compared and hashed as itself
class ExecutorReports:
    loop: asyncio.AbstractEventLoop
    journal: Journal
    store: StateStore
    publisher: Publisher
    write: Callable[..., None]  # a journal record that waits for its firing's `cue.fire`
    ended: Callable[[], bool]  # the show is over: nothing more is journaled
    lane: Any  # the SessionLane reported on: its audio, last ack and journal tag (`{"session": NAME}` or {})

    def on_send(self, op: Op) -> None:
        if op.kind == "audio":
            self.lane.audio = (op.action["audio"], self.loop.time())
        if self.journal.active:
            tag = self.lane.tag
            if op.submitted_at:  # it waited for its lane: when it really went on the wire, and behind what
                behind = op.behind
                self.write("action.send", **tag, cue=op.cue, action=op.action,
                           queued_ms=round((op.sent_at - op.submitted_at) * 1000.0, 3),
                           behind=behind.cue if behind is not None else None)
            else:
                self.write("action.send", **tag, cue=op.cue, action=op.action)

    def on_ack(self, op: Op, latency: float, error: BaseException | None) -> None:
        publisher, lane = self.publisher, self.lane
        if error is None and op.kind != "audio" and not self.journal.active:  # every ack of `plan`: the state only
            lane.last_ack_ms = latency * 1000.0
            self._apply(op)
            if publisher.observe:
                publisher.changed()
            return
        audio = lane.audio
        if op.kind == "audio" and audio is not None and audio[0] == op.action["audio"]:
            lane.audio = None
        if isinstance(error, asyncio.CancelledError) or self.ended():
            return  # after show.end the journal is closed for the show: nothing follows it
        lane.last_ack_ms = latency * 1000.0
        message = None if error is None else f"{type(error).__name__}: {error}"
        # NotConnectedError.deferred: asked for during an outage, kept by the client as the next
        # session's state. It is the latest state, so catch-up after the reconnect must not undo it.
        deferred = bool(getattr(error, "deferred", False))
        if self.journal.active:
            self.write("action.ack", **lane.tag, cue=op.cue, kind=op.kind, latency_ms=round(latency * 1000.0, 3),
                       success=error is None, error=message, deferred=deferred or None)
        if error is not None:
            error.journaled = True  # type: ignore[attr-defined]  # the sequence need not journal it again
            if not deferred:  # kept for the next session (an outage, closed hours): not an error
                self.write("error", **lane.tag, cue=op.cue, message=message)
        if op.kind != "audio" and (error is None or deferred):
            self._apply(op)
        if publisher.observe:
            publisher.changed()

    def on_superseded(self, old: Op, new: Op) -> None:
        self.write("action.superseded", **self.lane.tag, cue=old.cue, action=old.action, by=new.cue)

    def _apply(self, op: Op) -> None:
        """An acknowledged change is what shows now: the state, and when and by which cue it came."""
        self.store.apply(op.action, op.cue, self.loop.time())
