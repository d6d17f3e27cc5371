"""A screen in the show's process steps aside while a cue goes out.

The show plays on its own thread at real-time priority, but Python runs one thread at a time: a cue
that comes due while the screen's thread holds the interpreter waits for it. So the screen's side
(the TUI's thread, its loop and the interpreter settings it runs under) is tuned here, beside the
rest of the run's timing policy:
- no screen update within `QUIET_BEFORE_CUE_S` of a timer (`CueGuard.imminent`): a repaint holds
  the interpreter for tens of milliseconds in bursts;
- after each wait for events the screen's loop sleeps through a timer under `WINDOW_S` away
  (`guarded_loop`), which covers the rest of its work (keys, timers, messages) at the cost of a
  pause no one can see;
- a switch interval of `SWITCH_INTERVAL_S` while the screen runs (`ScreenSwitchInterval`), so the
  show's thread waits at most that long for a repaint to let go.
"""

from __future__ import annotations

import asyncio
import logging
import selectors
import sys
import time
from typing import Any, Callable, Coroutine, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

WINDOW_S = 0.006  # a timer closer than this: the screen's loop waits it out
AFTER_S = 0.0015  # and for this long after it (the cue's write takes well under a millisecond)
#: No screen update when a timer is due this soon (the next update comes one tick later).
QUIET_BEFORE_CUE_S = 0.06
#: How long a thread may hold the interpreter while another waits for it (Python's default: 5 ms).
SWITCH_INTERVAL_S = 0.0005


class CueGuard:
    """Where the screen learns when the show's next timer is due (`due()`, monotonic seconds)."""

    def __init__(self, due: Callable[[], float | None] | None = None) -> None:
        self.due: Callable[[], float | None] = due or (lambda: None)
        self.yielded = 0  # how many times the loop stepped aside

    def imminent(self) -> bool:
        """A timer is due within QUIET_BEFORE_CUE_S: leave the interpreter to it."""
        due = self.due()
        return due is not None and 0.0 <= due - time.monotonic() < QUIET_BEFORE_CUE_S

    def wait_out(self) -> None:
        due = self.due()
        if due is None:
            return
        ahead = due - time.monotonic()
        if -AFTER_S < ahead < WINDOW_S:
            time.sleep(ahead + AFTER_S)
            self.yielded += 1


class _Selector(selectors.DefaultSelector):  # type: ignore[misc,valid-type]
    """The loop's selector: after each wait for events, the guard may step aside."""

    def __init__(self, guard: CueGuard) -> None:
        super().__init__()
        self._guard = guard

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = super().select(timeout)
        self._guard.wait_out()
        return ready


def guarded_loop(guard: CueGuard) -> asyncio.AbstractEventLoop:
    """An event loop for the screen's thread that steps aside for the show's timers (see the module)."""
    return asyncio.SelectorEventLoop(_Selector(guard))


def run_guarded(main: Callable[[], Coroutine[Any, Any, T]], guard: CueGuard) -> T:
    """`main()` to its end on a loop made by `guarded_loop(guard)`: how a screen runs beside the show."""
    with asyncio.Runner(loop_factory=lambda: guarded_loop(guard)) as runner:
        return runner.run(main())


class ScreenSwitchInterval:
    """The interpreter's switch interval at most SWITCH_INTERVAL_S from `engage()` to `release()`."""

    def __init__(self) -> None:
        self._saved: float | None = None

    def engage(self) -> None:
        if self._saved is None:
            self._saved = sys.getswitchinterval()
            sys.setswitchinterval(min(self._saved, SWITCH_INTERVAL_S))

    def release(self) -> None:
        if self._saved is not None:
            sys.setswitchinterval(self._saved)
            self._saved = None


def start_resource_tracker() -> None:
    """Start multiprocessing's resource tracker while stdio are still real files.

    The local service runs in a spawned child; spawning starts the tracker on first use and hands
    it stderr's descriptor, which a full-screen app has replaced by then: the spawn then fails.
    """
    from multiprocessing import resource_tracker

    try:
        resource_tracker.ensure_running()
    except Exception as exc:  # noqa: BLE001 - the spawn will say what is wrong
        log.debug("resource tracker: %s", exc)
