"""The TUI's event loop steps aside while a cue goes out.

The show plays on its own thread, at real-time priority, but Python runs one thread at a time: a
cue that comes due while the TUI is in the middle of its work waits for the interpreter (up to the
switch interval, longer inside a call that keeps it). The TUI already starts no screen update
within `QUIET_BEFORE_CUE_S` of a cue; this covers the rest of its work (key handling, timers,
messages). After each wait for events its loop looks at the show's next timer, and when one is a
few milliseconds away it sleeps through it: the cue's thread then finds the interpreter free. The
cost is a pause of at most `WINDOW_S + AFTER_S` in the TUI per timer, which no one can see.
"""

from __future__ import annotations

import asyncio
import selectors
import time
from typing import Callable

WINDOW_S = 0.006  # a timer closer than this: the TUI waits it out
AFTER_S = 0.0015  # and for this long after it (the cue's write takes well under a millisecond)


class CueGuard:
    """Where the TUI's loop learns when the show's next timer is due (`due()`, monotonic seconds)."""

    def __init__(self) -> None:
        self.due: Callable[[], float | None] = lambda: None
        self.yielded = 0  # how many times the loop stepped aside

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
    """An event loop for the TUI's thread that steps aside for the show's timers (see the module)."""
    return asyncio.SelectorEventLoop(_Selector(guard))
