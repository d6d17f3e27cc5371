"""A show on a loop of its own: the engine and the WebSocket never wait on a screen.

The TUI's repaints hold whatever loop they run on for tens to hundreds of milliseconds; measured
(benchmarks/bench_tui.py), sharing the show's loop made cue lateness p99 x6.7. `ShowThread` runs
the `Run` in a thread with its own asyncio loop. The other side (the Textual app) only reads:
the latest `ShowState` (immutable, swapped by reference), journal records and `say` lines (deques
the show loop appends to and the reader drains); and it acts only through `call`, which runs a
function on the show loop. It also owns what a screen beside the show needs from the runner: the
guard that steps the screen aside for the show's timers (yielding.py), the interpreter's switch
interval while the show plays, and the stream's figures (fps in and out, cue-to-glass).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections import deque
from typing import Any, Callable

from ..engine.state import ShowState
from ..media.glass import GlassMeter
from ..show.model import ShowModel
from .run import Run, RunOptions
from .yielding import CueGuard, ScreenSwitchInterval, start_resource_tracker

log = logging.getLogger(__name__)

RunFactory = Callable[..., Run]  # Run(show, options, say=...) or a subclass (the benchmark listens)


class ShowThread:
    def __init__(self, show: ShowModel, options: RunOptions, *, run_factory: RunFactory = Run,
                 records: int = 2000, lines: int = 500, guard: CueGuard | None = None) -> None:
        start_resource_tracker()  # the run spawns the local service; a screen takes stdio next
        self.show = show
        self.options = options
        self.run_factory = run_factory
        self.run: Run | None = None  # set on the show loop; read-only from other threads
        self.records: deque[dict[str, Any]] = deque(maxlen=records)  # journal records, oldest first
        self.lines: deque[str] = deque(maxlen=lines)  # the run's `say` lines
        self.finished: concurrent.futures.Future[str] = concurrent.futures.Future()  # the end reason
        self._latest: tuple[ShowState, float] | None = None  # (state, time.monotonic() it came)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: set[concurrent.futures.Future[Any]] = set()
        self._lock = threading.Lock()  # guards _loop's liveness against `call`
        self._stop_reason: str | None = None
        self._loop_up = threading.Event()
        self._thread = threading.Thread(target=self._main, name="show-loop", daemon=True)
        #: the screen's loop steps aside for the show's timers through this (runner/yielding.py)
        self.guard = guard or CueGuard()
        self.guard.due = self.next_due
        self._glass: GlassMeter | None = None  # made on the show loop once the session is up
        self._glass_feed: Any = None  # its subscription to the journal (for cue lateness)
        self._glass_last: float | None = None  # its last figure, still shown once the show ended
        self._switch = ScreenSwitchInterval()

    # ------------------------------------------------------------ the other thread's API

    def start(self) -> None:
        """Start the thread; returns once its loop takes calls (or the thread already ended)."""
        self._switch.engage()  # released when the thread ends (_main)
        self._thread.start()
        while not self._loop_up.wait(0.05) and self._thread.is_alive():
            pass

    def call(self, fn: Callable[..., Any], *args: Any) -> concurrent.futures.Future[Any]:
        """Run `fn(*args)` on the show loop soon; its result (or error) in the future.

        Once the show loop is gone the future fails at once with RuntimeError, never hangs.
        """
        fut: concurrent.futures.Future[Any] = concurrent.futures.Future()
        with self._lock:
            loop = self._loop
            if loop is None:
                fut.set_exception(RuntimeError("the show is not running"))
                return fut
            self._pending.add(fut)
            fut.add_done_callback(lambda f: self._pending.discard(f))
            loop.call_soon_threadsafe(self._call, fut, fn, args)
        return fut

    def snapshot(self) -> ShowState | None:
        """The engine's latest state, or None before the engine exists."""
        latest = self._latest
        return latest[0] if latest else None

    def snapshot_age(self) -> float:
        """Seconds since the latest state came (to move its show time on)."""
        latest = self._latest
        return time.monotonic() - latest[1] if latest else 0.0

    def next_due(self) -> float | None:
        """When the show's next timer is due (monotonic seconds), or None; any thread may ask."""
        run = self.run
        return run.clock.peek_due() if run is not None else None

    def figures(self) -> tuple[float | None, float | None, float | None]:
        """The stream now: frames per second in, frames per second out, cue-to-glass ms of the last change."""
        run = self.run
        if run is None:
            return None, None, None
        fps_in = run.stats.fps() if run.stats is not None else None
        fps_out = run.source.fps_out() if run.source is not None else None
        meter = self._glass
        glass = meter.tick() if meter is not None else self._glass_last
        return fps_in, fps_out, glass

    def session_figures(self) -> tuple[tuple[str, float | None, float | None], ...]:
        """Each session's stream now, in show order: (name, fps in, fps out)."""
        run = self.run
        if run is None:
            return ()
        return tuple((name, s.stats.fps() if s.stats is not None else None,
                      s.source.fps_out() if s.source is not None else None) for name, s in run.sessions.items())

    def drain_records(self) -> list[dict[str, Any]]:
        return _drain(self.records)

    def drain_lines(self) -> list[str]:
        return _drain(self.lines)

    def request_stop(self, reason: str = "stop") -> None:
        """End the show cleanly from any phase (before the run exists too)."""
        self._stop_reason = self._stop_reason or reason
        try:
            self.call(self._stop_run)
        except Exception:  # noqa: BLE001 - a loop already gone has stopped anyway
            pass

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread; True once it ended."""
        if self._thread.ident is not None:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # ------------------------------------------------------------ the show loop

    def _main(self) -> None:
        try:
            reason = asyncio.run(self._play())
        except BaseException as exc:  # noqa: BLE001 - handed to the reader, whatever it is
            self._ended()
            if not self.finished.done():
                self.finished.set_exception(exc)
            return
        self._ended()
        if not self.finished.done():
            self.finished.set_result(reason)

    def _ended(self) -> None:
        self._close_calls()
        self._switch.release()

    async def _play(self) -> str:
        with self._lock:
            self._loop = asyncio.get_running_loop()
        self._loop_up.set()
        run = self.run_factory(self.show, self.options, say=self.lines.append)
        self.run = run
        run.journal.events.subscribe(self.records.append)
        if self._stop_reason is not None:
            run.request_stop(self._stop_reason)
        watch = asyncio.ensure_future(self._watch_state(run))
        try:
            return await run.play()
        finally:
            watch.cancel()
            glass = self._glass
            if glass is not None:
                self._glass_last = glass.last_ms  # before the meter goes: a reader sees one or the other
                self._glass = None
                glass.close()
                self._glass_feed.dispose()

    async def _watch_state(self, run: Run) -> None:
        """Subscribe to the engine's state once the run made the engine (after connecting)."""
        while run.engine is None:
            await asyncio.sleep(0.05)
        run.engine.state.subscribe(self._on_state)
        if run.session is not None:
            glass = GlassMeter(run.session, run.stamps)
            self._glass_feed = run.journal.events.subscribe(glass.note_record)
            self._glass = glass

    def _on_state(self, state: ShowState) -> None:
        self._latest = (state, time.monotonic())

    def _stop_run(self) -> None:
        if self.run is not None:
            self.run.request_stop(self._stop_reason or "stop")

    @staticmethod
    def _call(fut: concurrent.futures.Future[Any], fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        if not fut.set_running_or_notify_cancel():
            return
        try:
            fut.set_result(fn(*args))
        except BaseException as exc:  # noqa: BLE001 - the caller decides
            fut.set_exception(exc)

    def _close_calls(self) -> None:
        with self._lock:
            self._loop = None
            pending, self._pending = self._pending, set()
        for fut in pending:
            if not fut.done():
                try:
                    fut.set_exception(RuntimeError("the show has ended"))
                except concurrent.futures.InvalidStateError:
                    pass


def _drain(queue: deque[Any]) -> list[Any]:
    out = []
    while True:
        try:
            out.append(queue.popleft())
        except IndexError:
            return out
