"""Real-time priority for the thread that schedules cues, so they go out on time on a busy machine.

A due cue waits for two things: the OS running other processes (the local service encoding,
anything else on the machine), and the GIL held by media threads that may themselves have been
preempted. `RealtimePriority.engage()` (Linux), called on the thread whose loop schedules cues
(the main thread headless, the show thread with the TUI):
- gives that thread, and only it, SCHED_FIFO at `TOP`. Media, encoder, decoder and recorder
  threads can each take a whole core: at real-time priority on 2 cores they would starve the
  local service and the rest of the machine;
- with SCHED_RESET_ON_FORK, so children (the local service, ffmpeg) start at normal priority;
- drops the GIL switch interval to 200 us, so that thread gets the GIL about that soon, checked
  again every second (a media loop that stopped restores its own).

The kernel caps real-time threads at 95% of each CPU (sched_rt_runtime_us): a runaway cannot lock
the machine. Without the privilege (root, CAP_SYS_NICE or an rtprio limit: `ulimit -r`),
`engage()` returns the one line that says so and the run goes on at normal priority.
"""

from __future__ import annotations

import asyncio
import logging
import os
import resource
import sys
import threading

log = logging.getLogger(__name__)

TOP = 20  # a thread that schedules cues
SWITCH_INTERVAL = 0.0002
CHECK_S = 1.0

_HINT = ("real-time priority is not permitted here, so cues may be a few ms late when the machine is "
         "busy (allow it with an rtprio limit, e.g. `ulimit -r 20`, or CAP_SYS_NICE; --no-realtime hides this)")


def available() -> bool:
    return sys.platform.startswith("linux") and hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_RESET_ON_FORK")


def _top() -> int:
    """The priority of a scheduling thread within what this process may use (0: none)."""
    if os.geteuid() == 0:
        return TOP
    soft, _hard = resource.getrlimit(resource.RLIMIT_RTPRIO)
    if soft == resource.RLIM_INFINITY:
        return TOP
    return min(TOP, int(soft))


def _tids() -> list[int]:
    try:
        return [int(name) for name in os.listdir("/proc/self/task")]
    except OSError:
        return []


class RealtimePriority:
    def __init__(self) -> None:
        self.engaged = False
        self.scheduler_tid: int | None = None  # the first thread that engaged
        self._raised: set[int] = set()  # every thread that engaged
        self._saved_switch: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def engage(self, loop: asyncio.AbstractEventLoop | None = None) -> str | None:
        """Make the calling thread a real-time scheduling thread; None when done, else why not.

        With a `loop` (the calling thread's), the switch interval is checked every second.
        """
        me = threading.get_native_id()
        if me in self._raised:
            return None
        if not available():
            return "real-time priority needs Linux: cues may be a few ms late when the machine is busy"
        top = _top()
        if top < 1:
            return _HINT
        try:
            os.sched_setscheduler(me, os.SCHED_FIFO | os.SCHED_RESET_ON_FORK, os.sched_param(top))
        except OSError:
            return _HINT
        self._raised.add(me)
        if self.engaged:
            return None
        self.engaged = True
        self.scheduler_tid = me
        self._saved_switch = sys.getswitchinterval()
        sys.setswitchinterval(min(self._saved_switch, SWITCH_INTERVAL))
        if loop is not None:
            self._loop = loop
            self._timer = loop.call_later(CHECK_S, self._tick)
        return None

    def _tick(self) -> None:
        if sys.getswitchinterval() > SWITCH_INTERVAL:  # a media loop that stopped restored its own
            sys.setswitchinterval(SWITCH_INTERVAL)
        if self.engaged and self._loop is not None and not self._loop.is_closed():
            self._timer = self._loop.call_later(CHECK_S, self._tick)

    def release(self) -> None:
        """The threads it raised back to normal scheduling; the switch interval restored."""
        if not self.engaged:
            return
        self.engaged = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        normal = os.sched_param(0)
        alive = set(_tids())
        for tid in self._raised & alive:
            try:
                os.sched_setscheduler(tid, os.SCHED_OTHER, normal)
            except OSError:
                pass
        self._raised.clear()
        if self._saved_switch is not None:
            sys.setswitchinterval(self._saved_switch)
            self._saved_switch = None
