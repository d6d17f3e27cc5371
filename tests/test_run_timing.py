"""Cue timing policy of `run`: real-time priority for its threads, the cycle collector between cues,
and the clock's view of what is due next (runner/priority.py, runner/collector.py, engine/clock.py)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import multiprocessing
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from decart_flow.engine.clock import Clock
from decart_flow.runner import collector as collector_module
from decart_flow.runner.collector import Collector
from decart_flow.runner.priority import RealtimePriority

ROOT = Path(__file__).resolve().parents[1]


def _policy(tid: int) -> int:
    return os.sched_getscheduler(tid) & ~os.SCHED_RESET_ON_FORK


def _permitted() -> bool:
    probe = RealtimePriority()
    holder: list[str | None] = []
    t = threading.Thread(target=lambda: holder.append(probe.engage()))
    t.start()
    t.join()
    probe.release()
    return holder[0] is None


needs_rt = pytest.mark.skipif(not sys.platform.startswith("linux") or not _permitted(),
                              reason="real-time scheduling is not permitted on this machine")


def _child_policy(queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    queue.put(os.sched_getscheduler(0))


@needs_rt
def test_engage_raises_only_the_calling_thread_and_children_start_normal() -> None:
    """Only a thread that schedules cues runs real-time: a media or encoder thread at real-time
    priority could take a whole core from the local service (issue 18)."""
    priority = RealtimePriority()
    seen: dict[str, object] = {}
    go_on = threading.Event()

    def scheduler() -> None:
        seen["refused"] = priority.engage()
        seen["me"] = threading.get_native_id()
        seen["me_policy"] = _policy(threading.get_native_id())
        seen["me_prio"] = os.sched_getparam(0).sched_priority
        later = threading.Thread(target=go_on.wait)  # a thread started after engage (an encoder)
        later.start()
        time.sleep(0.05)
        seen["later"] = _policy(later.native_id)
        go_on.set()
        later.join()
        ctx = multiprocessing.get_context("fork")
        queue = ctx.Queue()
        child = ctx.Process(target=_child_policy, args=(queue,))
        child.start()
        seen["child"] = queue.get(timeout=10)
        child.join()

    before = sys.getswitchinterval()
    t = threading.Thread(target=scheduler)
    t.start()
    t.join()
    try:
        assert seen["refused"] is None
        assert seen["me_policy"] == os.SCHED_FIFO and seen["me_prio"] == 20
        assert _policy(threading.get_native_id()) == os.SCHED_OTHER  # this (main) thread: not a scheduler
        assert seen["later"] == os.SCHED_OTHER  # nor a thread started from the scheduling thread
        assert seen["child"] == os.SCHED_OTHER  # reset on fork: the service never runs real-time
        assert sys.getswitchinterval() <= 0.0002
    finally:
        priority.release()
    assert sys.getswitchinterval() == before


def test_engage_without_the_privilege_says_how_and_changes_nothing() -> None:
    code = (
        "import os, resource, sys, threading\n"
        "from decart_flow.runner.priority import RealtimePriority\n"
        "resource.setrlimit(resource.RLIMIT_RTPRIO, (0, 0))\n"
        "if os.geteuid() == 0:\n"
        "    os.setuid(65534)\n"  # nobody: no CAP_SYS_NICE, rtprio limit 0
        "p = RealtimePriority(); before = sys.getswitchinterval()\n"
        "why = p.engage()\n"
        "print(why); print(os.sched_getscheduler(0) == os.SCHED_OTHER, sys.getswitchinterval() == before)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    why, unchanged = out.stdout.strip().splitlines()
    assert "ulimit -r" in why and "--no-realtime" in why
    assert unchanged == "True True"


async def test_clock_next_due_skips_cancelled_and_past_timers() -> None:
    loop = asyncio.get_running_loop()
    clock = Clock(loop)
    assert clock.next_due() is None
    now = loop.time()
    fired: list[str] = []
    a = clock.call_at(now + 0.02, lambda: fired.append("a"))
    clock.call_at(now + 0.5, lambda: fired.append("b"))
    assert clock.next_due() == pytest.approx(now + 0.02)
    a.cancel()
    assert clock.next_due() == pytest.approx(now + 0.5)
    c = clock.call_at(now + 0.03, lambda: fired.append("c"))
    assert clock.next_due() == pytest.approx(now + 0.03)
    await asyncio.sleep(0.06)
    assert fired == ["c"] and not c.cancelled()
    assert clock.next_due() == pytest.approx(now + 0.5)  # c has passed


class _FakeDue:
    """A clock whose next timer is whatever the test says."""

    def __init__(self) -> None:
        self.due: float | None = None

    def next_due(self) -> float | None:
        return self.due


@contextlib.contextmanager
def _running(monkeypatch: pytest.MonkeyPatch, **settings: float) -> Iterator[tuple[Collector, _FakeDue]]:
    """A started collector with faster `settings`, over a clock the test moves; stopped after."""
    for name, value in settings.items():
        monkeypatch.setattr(collector_module, name, value)
    clock = _FakeDue()
    collector = Collector(asyncio.get_running_loop(), clock)
    collector.start()
    try:
        yield collector, clock
    finally:
        collector.stop()


async def test_collector_collects_between_cues_and_never_just_before_one(monkeypatch: pytest.MonkeyPatch) -> None:
    loop = asyncio.get_running_loop()
    with _running(monkeypatch, TICK_S=0.01, MIDDLE_EVERY=2, FULL_EVERY=4) as (collector, clock):
        assert not gc.isenabled()  # nothing collects on its own while the show runs
        assert gc.get_freeze_count() > 0
        await asyncio.sleep(0.2)
        passes = list(collector.passes)
        assert passes[0] > 0 and passes[1] > 0 and passes[2] > 0
        # a cue always 5 ms away: every pass waits, none runs
        ticking = True

        async def keep_due() -> None:
            while ticking:
                clock.due = loop.time() + 0.005
                await asyncio.sleep(0.001)

        keeper = asyncio.ensure_future(keep_due())
        await asyncio.sleep(0.15)
        ticking = False
        await keeper
        assert collector.passes == passes and collector.postponed > 5
        # the cue is gone: what was owed, the full pass included, is collected now
        clock.due = None
        await asyncio.sleep(0.05)
        assert collector.passes[2] > passes[2]
    assert gc.isenabled() and gc.get_freeze_count() == 0


async def test_collector_postpones_no_longer_than_its_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    loop = asyncio.get_running_loop()
    with _running(monkeypatch, TICK_S=0.01, POSTPONE_MAX_S=0.1) as (collector, clock):
        started = time.monotonic()
        while sum(collector.passes) == 0 and time.monotonic() - started < 2:
            clock.due = loop.time() + 0.001  # always something due at once
            await asyncio.sleep(0.002)
        assert sum(collector.passes) >= 1
        assert 0.09 <= time.monotonic() - started < 1.0


def _thread_policies(pid: int) -> dict[int, int]:
    out = {}
    for name in os.listdir(f"/proc/{pid}/task"):
        try:
            out[int(name)] = os.sched_getscheduler(int(name)) & ~os.SCHED_RESET_ON_FORK
        except OSError:
            pass
    return out


@needs_rt
@pytest.mark.parametrize("flag", ["", "--no-realtime"])
def test_run_puts_its_threads_not_its_service_at_real_time(tmp_path: Path, flag: str) -> None:
    """`decart-flow run` as a user starts it: the thread that schedules cues real-time, its other
    threads and the service child normal; `--no-realtime` leaves everything normal."""
    show = tmp_path / "show.yaml"
    show.write_text("name: t\nmodel: mirage\nduration: 30s\ncues:\n  - at: 1s\n    prompt: Anime\n")
    args = [sys.executable, "-m", "decart_flow.cli", "run", str(show), "--headless",
            "--journal", str(tmp_path / "j.jsonl")] + ([flag] if flag else [])
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "action.ack" in line:  # the cue at 1 s: connected and playing
                break
        time.sleep(1.5)  # threads started later (the encoder pool) are up
        mine = _thread_policies(proc.pid)
        children = [int(c) for c in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]
        theirs = {c: os.sched_getscheduler(c) & ~os.SCHED_RESET_ON_FORK for c in children}
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    assert len(mine) >= 3 and children
    if flag:
        assert set(mine.values()) == {os.SCHED_OTHER}
    else:  # the main thread schedules the cues (headless); media, encoder and the rest stay normal
        assert mine.pop(proc.pid) == os.SCHED_FIFO, mine
        assert set(mine.values()) == {os.SCHED_OTHER}, mine
    assert set(theirs.values()) == {os.SCHED_OTHER}
