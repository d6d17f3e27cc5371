"""Real-time priority for the threads of a run, so that cues go out on time on a busy machine.

Measured (benchmarks/bench_lateness.py, issue 7): with ordinary scheduling on a loaded 2-core
machine, the message of a cue reaches the WebSocket p99 5-80 ms late. Two things hold it back. The
OS runs other processes (the local service encoding video, whatever else the machine does) while
the scheduling thread is due. And inside this process the scheduling thread waits for the GIL
behind the media threads, which may themselves have been preempted while holding it.

`RealtimePriority.engage()` (Linux), called on each thread whose loop schedules cues (the engine
and the WebSocket: the main thread headless, the show thread with the TUI):
- that thread gets SCHED_FIFO at `TOP`. Only the threads that schedule cues: the media thread, the
  encoder and decoder threads and the recorder can each take a whole core, and at real-time
  priority on 2 cores they would starve the local service and everything else on the machine
  (issue 18). Every other thread stays at normal priority.
- SCHED_RESET_ON_FORK: child processes (the local service, ffmpeg) and threads started from it
  begin at normal priority, never inherit real-time.
- the GIL switch interval drops to 200 us, so the scheduling thread, when it wants the GIL, gets it
  about that soon from whichever thread holds it (checked again every second: a media loop that
  stopped restores its own).

The kernel caps real-time threads at 95% of each CPU (sched_rt_runtime_us), so a runaway cannot
lock the machine. Without the privilege (root, CAP_SYS_NICE, or an rtprio limit: `ulimit -r`)
the run goes on at normal priority and `engage()` returns the one line that says so.
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
