"""A dedicated asyncio loop in a thread for media: peer connection, local track, frame sinks.

aiortc's RTP, RTCP and ICE callbacks hold their loop for 2-5 ms at a time; the show engine on the
caller's loop must write cue messages within 2 ms of their time, so media gets a loop of its own.

Switch interval: two busy threads share the GIL, and a thread that wants it waits up to
`sys.getswitchinterval()` (5 ms by default) for the other to yield. While any media loop runs we
lower it to 1 ms, so the caller's loop waits at most about 1 ms behind media work; the cost is more
GIL hand-offs (a few percent of throughput under load). The previous value is restored when the
last media loop stops.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import concurrent.futures
from typing import Any, Callable, Coroutine, TypeVar

from . import jitter

log = logging.getLogger(__name__)

T = TypeVar("T")

SWITCH_INTERVAL = 0.001

_switch_lock = threading.Lock()
_switch_users = 0
_switch_saved: float | None = None


def _acquire_switch_interval() -> None:
    global _switch_users, _switch_saved
    with _switch_lock:
        if _switch_users == 0:
            _switch_saved = sys.getswitchinterval()
            if _switch_saved > SWITCH_INTERVAL:
                sys.setswitchinterval(SWITCH_INTERVAL)
        _switch_users += 1


def _release_switch_interval() -> None:
    global _switch_users, _switch_saved
    with _switch_lock:
        _switch_users -= 1
        if _switch_users == 0 and _switch_saved is not None:
            sys.setswitchinterval(_switch_saved)
            _switch_saved = None


class MediaLoop:
    """One thread running one event loop; symmetric `start()` / `stop()`."""

    def __init__(self, name: str = "decart-media") -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("media loop is not running")
        return self._loop

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self._thread is not None:
            return
        jitter.install()  # received frames go on at their last packet (realtime/jitter.py)
        ready = threading.Event()
        loop = asyncio.new_event_loop()

        def main() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            loop.run_forever()

        self._loop = loop
        self._thread = threading.Thread(target=main, name=self._name, daemon=True)
        _acquire_switch_interval()
        self._thread.start()
        ready.wait()

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the media loop and await its result from the caller's loop.

        Cancelling the caller cancels the media-side task too.
        """
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return await asyncio.wrap_future(future)

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Start `coro` on the media loop without waiting."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        self.loop.call_soon_threadsafe(fn, *args)

    def stop(self, timeout: float = 5.0) -> None:
        """Cancel what still runs there, close the loop and join the thread."""
        if self._thread is None or self._loop is None:
            return
        loop, thread = self._loop, self._thread
        if thread.is_alive():
            done = asyncio.run_coroutine_threadsafe(_drain(), loop)
            try:
                done.result(timeout)
            except Exception:  # a task that refuses to die must not keep the thread alive
                log.exception("media loop did not drain cleanly")
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)
        if thread.is_alive():
            log.error("media thread did not stop within %.1f s", timeout)
        else:
            loop.close()
        self._loop = None
        self._thread = None
        _release_switch_interval()


async def _drain() -> None:
    me = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not me]
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=2.0)
    loop = asyncio.get_running_loop()
    await loop.shutdown_asyncgens()
    await loop.shutdown_default_executor()


def wake(loop: asyncio.AbstractEventLoop, fn: Callable[..., Any], *args: Any) -> None:
    """Call `fn` on another loop; quietly nothing when that loop is already closed."""
    try:
        loop.call_soon_threadsafe(fn, *args)
    except RuntimeError:
        pass

