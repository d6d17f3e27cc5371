"""Real-time priority for the threads of a run, so that cues go out on time on a busy machine.

Measured (benchmarks/bench_lateness.py, issue 7): with ordinary scheduling on a loaded 2-core
machine, the message of a cue reaches the WebSocket p99 5-80 ms late. Two things hold it back. The
OS runs other processes (the local service encoding video, whatever else the machine does) while
the scheduling thread is due. And inside this process the scheduling thread waits for the GIL
behind the media threads, which may themselves have been preempted while holding it.

`RealtimePriority.engage()` (Linux), called on the thread whose loop runs the engine and the
WebSocket:
- that thread gets SCHED_FIFO at `TOP`; every other thread of the process gets SCHED_FIFO at
  `REST`, so a thread that holds the GIL is not preempted by ordinary processes while the
  scheduling thread waits for it. Threads started later (aiortc's encoder pool and decoder, the
  media loop of a reconnect, the TUI) are picked up by a sweep every second.
- SCHED_RESET_ON_FORK on all of them: child processes (the local service, ffmpeg) and new threads
  start at normal priority (until the sweep), never inherit real-time.
- the GIL switch interval drops to 200 us, so a thread that wants the GIL gets it about that soon.

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

TOP = 20  # the scheduling thread
REST = 10  # every other thread of the process
SWITCH_INTERVAL = 0.0002
SWEEP_S = 1.0

_HINT = ("real-time priority is not permitted here, so cues may be a few ms late when the machine is "
         "busy (allow it with an rtprio limit, e.g. `ulimit -r 20`, or CAP_SYS_NICE; --no-realtime hides this)")


def available() -> bool:
    return sys.platform.startswith("linux") and hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_RESET_ON_FORK")


def _limits() -> tuple[int, int]:
    """(top, rest) priorities within what this process may use."""
    if os.geteuid() == 0:
        return TOP, REST
    soft, _hard = resource.getrlimit(resource.RLIMIT_RTPRIO)
    if soft == resource.RLIM_INFINITY:
        return TOP, REST
    top = min(TOP, int(soft))
    return top, max(1, min(REST, top - 1))


def _tids() -> list[int]:
    try:
        return [int(name) for name in os.listdir("/proc/self/task")]
    except OSError:
        return []


class RealtimePriority:
    def __init__(self) -> None:
        self.engaged = False
        self.scheduler_tid: int | None = None
        self._priorities = (TOP, REST)
        self._saved_switch: float | None = None
        self._touched: set[int] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def engage(self, loop: asyncio.AbstractEventLoop | None = None) -> str | None:
        """Make the calling thread the real-time scheduling thread; None when done, else why not.

        With a `loop` (the calling thread's), threads started later are swept in every second.
        """
        if self.engaged:
            return None
        if not available():
            return "real-time priority needs Linux: cues may be a few ms late when the machine is busy"
        top, rest = _limits()
        if top < 1:
            return _HINT
        me = threading.get_native_id()
        try:
            os.sched_setscheduler(me, os.SCHED_FIFO | os.SCHED_RESET_ON_FORK, os.sched_param(top))
        except OSError:
            return _HINT
        self.engaged = True
        self.scheduler_tid = me
        self._priorities = (top, rest)
        self._touched.add(me)
        self._saved_switch = sys.getswitchinterval()
        sys.setswitchinterval(min(self._saved_switch, SWITCH_INTERVAL))
        self.sweep()
        if loop is not None:
            self._loop = loop
            self._timer = loop.call_later(SWEEP_S, self._tick)
        return None

    def sweep(self) -> int:
        """Give every thread not yet real-time the `REST` priority; how many were changed."""
        if not self.engaged:
            return 0
        if sys.getswitchinterval() > SWITCH_INTERVAL:  # a media loop that stopped restored its own
            sys.setswitchinterval(SWITCH_INTERVAL)
        changed = 0
        param = os.sched_param(self._priorities[1])
        for tid in _tids():
            if tid == self.scheduler_tid:
                continue
            try:
                if os.sched_getscheduler(tid) & ~os.SCHED_RESET_ON_FORK == os.SCHED_FIFO:
                    continue
                os.sched_setscheduler(tid, os.SCHED_FIFO | os.SCHED_RESET_ON_FORK, param)
            except OSError:  # the thread ended meanwhile, or a limit changed: it stays as it is
                continue
            self._touched.add(tid)
            changed += 1
        return changed

    def _tick(self) -> None:
        self.sweep()
        if self.engaged and self._loop is not None and not self._loop.is_closed():
            self._timer = self._loop.call_later(SWEEP_S, self._tick)

    def release(self) -> None:
        """Every thread it raised back to normal scheduling; the switch interval restored."""
        if not self.engaged:
            return
        self.engaged = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        normal = os.sched_param(0)
        alive = set(_tids())
        for tid in self._touched & alive:
            try:
                os.sched_setscheduler(tid, os.SCHED_OTHER, normal)
            except OSError:
                pass
        self._touched.clear()
        if self._saved_switch is not None:
            sys.setswitchinterval(self._saved_switch)
            self._saved_switch = None
