"""The executor: the one place that calls the session.

Wire calls go out one at a time, in order. Prompts (and images) are latest-wins: a change that
is still waiting while another is in flight is replaced by a newer one, and journaled as
superseded. When nothing is in flight the call starts synchronously (`eager`), so a cue's message
is written inside the timer callback that fired it. Audio plays beside the queue: a clip lasts
seconds and must not hold prompts back.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any, Callable, Coroutine

from .loop import eager

log = logging.getLogger(__name__)

LATEST_WINS = ("prompt", "image")


class Superseded(Exception):
    """The call was replaced by a newer one of its kind before it was sent."""


class Op:
    __slots__ = ("kind", "call", "action", "cue", "done", "sent_at")

    def __init__(
        self, kind: str, call: Callable[[], Coroutine[Any, Any, Any]], action: dict[str, Any], cue: str,
        done: asyncio.Future[Any],
    ) -> None:
        self.kind, self.call, self.action, self.cue, self.done = kind, call, action, cue, done
        self.sent_at = 0.0


class Executor:
    """`on_send(op)`, `on_ack(op, latency_s, error)`, `on_superseded(op, by)` report what happened."""

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
        self._busy = False
        self.in_flight: Op | None = None

    def submit(self, kind: str, call: Callable[[], Coroutine[Any, Any, Any]], action: dict[str, Any], cue: str) -> asyncio.Future[Any]:
        op = Op(kind, call, action, cue, self.loop.create_future())
        if kind == "audio":
            self._start(op, queued=False)
            return op.done
        if kind in LATEST_WINS and self._queue:
            for old in [o for o in self._queue if o.kind == kind]:
                self._queue.remove(old)
                self.on_superseded(old, op)
                old.done.set_exception(Superseded())
                old.done.exception()  # retrieved: nobody has to await a superseded call
        self._queue.append(op)
        if not self._busy:
            self._pump()
        return op.done

    def cancel_pending(self) -> None:
        while self._queue:
            self._queue.popleft().done.cancel()

    def _pump(self) -> None:
        while self._queue and not self._busy:
            self._start(self._queue.popleft(), queued=True)

    def _start(self, op: Op, queued: bool) -> None:
        if queued:
            self._busy = True
            self.in_flight = op
        op.sent_at = self.loop.time()
        fut = eager(self._call(op), self.loop)  # the session is called here, synchronously
        self.on_send(op)
        if fut.done():
            self._finish(op, fut, queued)
        else:
            fut.add_done_callback(lambda f: self._finish(op, f, queued, pump=True))

    async def _call(self, op: Op) -> BaseException | None:
        try:
            await op.call()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a failing call is journaled, the show goes on
            return exc
        return None

    def _finish(self, op: Op, fut: asyncio.Future[Any], queued: bool, pump: bool = False) -> None:
        if queued:
            self._busy = False
            self.in_flight = None
        error: BaseException | None
        if fut.cancelled():
            error = asyncio.CancelledError()
        else:
            error = fut.result()
        try:
            self.on_ack(op, self.loop.time() - op.sent_at, error)
        except Exception:  # our own bug: log it and keep the queue moving
            log.exception("reporting an ack failed")
        if not op.done.done():
            if error is None:
                op.done.set_result(None)
            else:
                op.done.set_exception(error)
                op.done.exception()
        if pump:
            self._pump()
