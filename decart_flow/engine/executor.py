"""The executor: the one place that calls the session.

Wire calls go out in lanes, one lane per kind of change: the look (prompts and images, which both
say what the picture shows, so they keep their order between them), the mirror, and audio. Within a
lane calls go out one at a time, in order; lanes never wait for each other, so a mirror does not
wait for a prompt's ack. Prompts and images are latest-wins within their kind: a change that is
still waiting while another is in flight is replaced by a newer one, and journaled as superseded.
When its lane is free a call starts synchronously, so a cue's message is written inside the timer
callback that fired it; a call that also completes synchronously costs no Task and no Future, and
one that returns `ACKED` (the virtual session of `plan`) not even a coroutine. Audio plays beside
everything: a clip lasts seconds, and a new clip replaces the one playing.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any, Awaitable, Callable

from types import CoroutineType

from .loop import awaiting, resume

log = logging.getLogger(__name__)

LATEST_WINS = ("prompt", "image")
# kind -> lane: kinds in one lane are sent one at a time, in order; lanes go independently.
LANES = {"prompt": "look", "image": "look", "mirror": "mirror"}


class Acked:
    """An awaitable that is complete already: a session call acknowledged before it returns.

    `plan` makes 170,000 calls for a month; a coroutine each (created, stepped, StopIteration
    caught) cost more than the rest of the call.
    """

    __slots__ = ()

    def __await__(self):  # type: ignore[no-untyped-def]
        return iter(())


ACKED = Acked()


class Superseded(Exception):
    """The call was replaced by a newer one of its kind before it was sent."""


class Op:
    """One wire call. `done` is a Future only when the caller waits for the call (`wait=True`)."""

    __slots__ = ("kind", "call", "action", "cue", "done", "sent_at", "submitted_at", "behind")

    def __init__(
        self, kind: str, call: Callable[[], Awaitable[Any]], action: dict[str, Any], cue: str,
        done: asyncio.Future[Any] | None,
    ) -> None:
        self.kind, self.call, self.action, self.cue, self.done = kind, call, action, cue, done
        self.sent_at = 0.0
        self.submitted_at = 0.0  # set only when the call had to wait for its lane
        self.behind: Op | None = None  # the call it waited for


class Executor:
    """`on_send(op)`, `on_ack(op, latency_s, error)`, `on_superseded(op, by)` report what happened.

    `_busy`: lanes with a call in flight; `_queue`: calls waiting, all lanes, oldest first.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        on_send: Callable[[Op], None],
        on_ack: Callable[[Op, float, BaseException | None], None],
        on_superseded: Callable[[Op, Op], None],
    ) -> None:
        self.loop = loop
        self.on_send, self.on_ack, self.on_superseded = on_send, on_ack, on_superseded
        self._queue: deque[Op] = deque()
        self._busy: dict[str, Op] = {}  # lane -> the call in flight in it

    @property
    def in_flight(self) -> Op | None:
        """A call that is on the wire and not yet acknowledged (the oldest), or None."""
        for op in self._busy.values():
            return op
        return None

    def submit(self, kind: str, call: Callable[[], Awaitable[Any]], action: dict[str, Any], cue: str,
               wait: bool = False) -> asyncio.Future[Any] | None:
        """Queue a call; with `wait`, a Future that resolves when it is acknowledged (or fails)."""
        op = Op(kind, call, action, cue, self.loop.create_future() if wait else None)
        lane = LANES.get(kind)
        if lane is None:  # audio, and anything without a lane: at once, beside everything
            self._start(op, None)
            return op.done
        if kind in LATEST_WINS and self._queue:
            for old in [o for o in self._queue if o.kind == kind]:
                self._queue.remove(old)
                self.on_superseded(old, op)
                if old.done is not None:
                    old.done.set_exception(Superseded())
                    old.done.exception()  # retrieved: nobody has to await a superseded call
        busy = self._busy.get(lane)
        if busy is None and not (self._queue and any(LANES[o.kind] == lane for o in self._queue)):
            self._start(op, lane)  # the usual case: straight to the wire
        else:
            op.submitted_at = self.loop.time()
            op.behind = busy
            self._queue.append(op)
            self._pump()
        return op.done

    def cancel_pending(self) -> None:
        while self._queue:
            done = self._queue.popleft().done
            if done is not None:
                done.cancel()

    def _pump(self) -> None:
        """Start the oldest waiting call of every lane that is free."""
        for op in list(self._queue):
            lane = LANES[op.kind]
            if lane not in self._busy and op in self._queue:
                self._queue.remove(op)
                self._start(op, lane)

    def _start(self, op: Op, lane: str | None) -> None:
        if lane is not None:
            self._busy[lane] = op
        op.sent_at = self.loop.time()
        error: BaseException | None = None
        task = None
        try:
            coro = op.call()  # the session is called here, synchronously, up to its first suspension
            if coro is not ACKED:
                if type(coro) is not CoroutineType:
                    coro = awaiting(coro)
                yielded = coro.send(None)
        except StopIteration:
            pass
        except asyncio.CancelledError as exc:
            error = exc
        except Exception as exc:  # noqa: BLE001 - a failing call is journaled, the show goes on
            error = exc
        else:
            if coro is not ACKED:
                task = self.loop.create_task(resume(coro, yielded))
        self.on_send(op)
        if task is None:
            self._finish(op, error, lane)
        else:
            task.add_done_callback(lambda f: self._finish(op, _outcome(f), lane, pump=True))

    def _finish(self, op: Op, error: BaseException | None, lane: str | None, pump: bool = False) -> None:
        if lane is not None and self._busy.get(lane) is op:
            del self._busy[lane]
        try:
            self.on_ack(op, self.loop.time() - op.sent_at, error)
        except Exception:  # our own bug: log it and keep the queue moving
            log.exception("reporting an ack failed")
        done = op.done
        if done is not None and not done.done():
            if error is None:
                done.set_result(None)
            elif isinstance(error, asyncio.CancelledError):
                done.cancel()
            else:
                done.set_exception(error)
                done.exception()
        if pump and self._queue:
            self._pump()


def _outcome(task: asyncio.Future[Any]) -> BaseException | None:
    """What a finished call task means for the ack: None, its exception, or a CancelledError."""
    if task.cancelled():
        return asyncio.CancelledError()
    exc = task.exception()
    if exc is not None and not isinstance(exc, Exception):
        raise exc  # SystemExit and friends are not a call's failure
    return exc
