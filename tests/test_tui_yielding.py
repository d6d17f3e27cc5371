"""The TUI's loop steps aside while one of the show's timers comes due (runner/yielding.py)."""

from __future__ import annotations

import asyncio
import threading
import time

from decart_flow.runner.yielding import AFTER_S, WINDOW_S, CueGuard, run_guarded


def test_the_guard_sleeps_through_a_timer_a_few_ms_away_and_not_otherwise() -> None:
    guard = CueGuard()
    guard.wait_out()  # no run yet: nothing due
    assert guard.yielded == 0
    due = time.monotonic() + 0.003
    guard.due = lambda: due
    guard.wait_out()
    assert time.monotonic() >= due + AFTER_S * 0.9 and guard.yielded == 1
    far = time.monotonic() + 0.5
    guard.due = lambda: far
    t0 = time.monotonic()
    guard.wait_out()
    assert time.monotonic() - t0 < WINDOW_S and guard.yielded == 1


def test_the_loop_runs_nothing_of_its_own_while_a_timer_of_the_show_fires() -> None:
    """A busy TUI loop and a show thread whose timer fires: no TUI callback runs in the window."""
    guard = CueGuard()
    due_at: list[float] = []
    ran: list[float] = []  # when each TUI callback ran
    stop = threading.Event()

    def show_thread() -> None:  # the show's loop: a timer every 50 ms, as Clock would report it
        while not stop.is_set():
            target = time.monotonic() + 0.05
            due_at.append(target)
            while time.monotonic() < target:
                time.sleep(0.0002)

    guard.due = lambda: due_at[-1] if due_at else None

    async def busy_tui() -> None:  # callbacks one after another, as a busy app would run them
        end = time.monotonic() + 0.6
        while time.monotonic() < end:
            ran.append(time.monotonic())
            await asyncio.sleep(0)

    worker = threading.Thread(target=show_thread)
    worker.start()
    try:
        run_guarded(busy_tui, guard)  # the loop run_tui runs the app on
    finally:
        stop.set()
        worker.join()
    assert guard.yielded >= 5, guard.yielded
    # around the timers the TUI ran nothing, from 1 ms before each to 1 ms after (an unguarded loop
    # runs hundreds of callbacks there); on a loaded machine the OS may hold the TUI's thread
    # past a window's start, so one window in five may see a few
    windows = [[r for r in ran if t - 0.001 < r < t + 0.001] for t in due_at[1:-2]]
    quiet = sum(1 for near in windows if not near)
    assert quiet >= 0.8 * len(windows), f"{len(windows) - quiet} of {len(windows)} windows saw the TUI run"
