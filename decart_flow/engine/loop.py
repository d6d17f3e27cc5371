"""Virtual time for asyncio, and eager starts for the hot path.

`plan` and the tests run the very engine that `run` uses, on an event loop whose clock jumps to the
next timer instead of waiting for it: a month of show takes a second. `eager` starts a coroutine
synchronously, so a cue's first wire call happens inside the timer callback (Python 3.11 has no
eager task factory).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from functools import partial
from operator import attrgetter
from typing import Any, Awaitable, Callable, Coroutine, TypeVar

T = TypeVar("T")


class LeanTimer:
    """A timer of the engine's own on the virtual loop: a callback, no Handle, no context copy."""

    __slots__ = ("cb", "cancelled")

    def __init__(self, cb: Callable[[], None]) -> None:
        self.cb = cb
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True



class VirtualEventLoop(asyncio.SelectorEventLoop):
    """An asyncio loop whose `time()` is virtual: idle time costs nothing.

    `_run_once` is replaced by a lean one (pop the next timer, move the clock to it, run it), since
    a month of plan is hundreds of thousands of timers. The engine's own timers (`call_at_lean`)
    sit in a plain heap of `(time, seq, timer)` tuples beside asyncio's: no Handle, no context copy,
    C-level comparisons. Sockets are still polled now and then, so `call_soon_threadsafe` and real
    I/O keep working.
    """

    def __init__(self, start: float = 0.0) -> None:
        super().__init__()
        self._now = start
        # `time()` is called several times per firing: read `_now` without a Python frame.
        self.time = partial(attrgetter("_now"), self)  # type: ignore[method-assign]
        self._io_countdown = 0
        self._lean: list[tuple[float, int, LeanTimer]] = []
        self._lean_seq = itertools.count()

    def time(self) -> float:
        return self._now

    def call_at_lean(self, when: float, cb: Callable[[], None]) -> LeanTimer:
        """Call `cb` at loop time `when` (callbacks due at the same time run in the order set)."""
        timer = LeanTimer(cb)
        heapq.heappush(self._lean, (when, next(self._lean_seq), timer))
        return timer

    def advance_to(self, when: float) -> bool:
        """Move the clock on to `when` at once if nothing else would run first; True when moved.

        The show clock uses it to run its next timer without a round trip through the loop. Any
        ready callback, any timer due at or before `when`, a pending stop or a due socket poll
        says no, so the order of everything is what `_run_once` would have made it.
        """
        if self._ready or self._stopping:  # type: ignore[attr-defined]
            return False
        self._io_countdown -= 1
        if self._io_countdown <= 0:
            return False
        sched, lean = self._scheduled, self._lean  # type: ignore[attr-defined]
        if (sched and sched[0]._when <= when) or (lean and lean[0][0] <= when):
            return False
        if when > self._now:
            self._now = when
        return True

    def _run_once(self) -> None:
        ready = self._ready  # type: ignore[attr-defined]
        sched = self._scheduled  # type: ignore[attr-defined]
        lean = self._lean
        self._io_countdown -= 1
        idle = not ready and not sched and not lean
        if idle or self._io_countdown <= 0:  # poll sockets now and then, and whenever there is nothing else
            self._io_countdown = 64
            timeout = 1.0 if idle and not self._stopping else 0  # type: ignore[attr-defined]
            self._process_events(self._selector.select(timeout))  # type: ignore[attr-defined]
        if not ready:
            while sched and sched[0]._cancelled:
                handle = heapq.heappop(sched)
                handle._scheduled = False
                self._timer_cancelled_count -= 1  # type: ignore[attr-defined]
            while lean and lean[0][2].cancelled:
                heapq.heappop(lean)
            if lean and (not sched or lean[0][0] < sched[0]._when):
                while True:
                    when, _, timer = heapq.heappop(lean)
                    if when > self._now:
                        self._now = when
                    try:
                        timer.cb()
                    except (SystemExit, KeyboardInterrupt):
                        raise
                    except BaseException as exc:  # noqa: BLE001 - as asyncio reports a failing callback
                        self.call_exception_handler({"message": f"Exception in timer callback {timer.cb!r}",
                                                     "exception": exc})
                    # The next lean timer at once, as the next `_run_once` would run it: only when that
                    # one would neither stop, poll sockets, find a ready callback nor tidy a heap first.
                    if self._stopping or ready or self._io_countdown <= 1:  # type: ignore[attr-defined]
                        return
                    if not lean or lean[0][2].cancelled or (
                            sched and (sched[0]._cancelled or lean[0][0] >= sched[0]._when)):
                        return  # anything else: the next `_run_once` sees to it
                    self._io_countdown -= 1
            if sched:
                handle = heapq.heappop(sched)
                handle._scheduled = False
                if handle._when > self._now:
                    self._now = handle._when
                ready.append(handle)
        for _ in range(len(ready)):
            handle = ready.popleft()
            if not handle._cancelled:
                handle._run()


async def awaiting(awaitable: Awaitable[T]) -> T:
    """A coroutine for any awaitable, so that it can be stepped with `send`."""
    return await awaitable


def eager(coro: Coroutine[Any, Any, T], loop: asyncio.AbstractEventLoop | None = None) -> asyncio.Future[T]:
    """Run `coro` now up to its first real suspension; a Future for its result."""
    loop = loop or asyncio.get_running_loop()
    try:
        yielded = coro.send(None)
    except StopIteration as stop:
        fut: asyncio.Future[T] = loop.create_future()
        fut.set_result(stop.value)
        return fut
    except BaseException as exc:  # noqa: BLE001 - handed to the awaiting side
        fut = loop.create_future()
        if isinstance(exc, asyncio.CancelledError):
            fut.cancel()
        else:
            fut.set_exception(exc)
        return fut
    return loop.create_task(resume(coro, yielded))


async def resume(coro: Coroutine[Any, Any, T], yielded: Any) -> T:
    """Drive `coro` on from where `eager` left it, as a Task would have."""
    while True:
        try:
            if yielded is None:
                await asyncio.sleep(0)
            else:
                await _wait(yielded)
        except asyncio.CancelledError as cancel:
            if isinstance(yielded, asyncio.Future) and not yielded.done():
                yielded.cancel()
            try:
                yielded = coro.throw(cancel)
            except StopIteration as stop:
                return stop.value
            continue
        try:
            yielded = coro.send(None)
        except StopIteration as stop:
            return stop.value


async def _wait(fut: asyncio.Future[Any]) -> None:
    """Wait for `fut` without taking its result (the inner coroutine takes it)."""
    if not fut.done():
        fut._asyncio_future_blocking = False  # type: ignore[attr-defined]
        waiter = asyncio.get_running_loop().create_future()
        fut.add_done_callback(lambda _f: waiter.done() or waiter.set_result(None))
        await waiter
