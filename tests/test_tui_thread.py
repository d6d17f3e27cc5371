"""ShowThread: the show's own loop, as the TUI uses it (no screen, no service)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from decart_flow.runner.run import RunOptions
from decart_flow.runner.thread import ShowThread
from decart_flow.show.model import ShowModel


class WaitingRun:
    """A run that plays until asked to stop: enough to exercise the thread's plumbing."""

    def __init__(self, show, options, say) -> None:
        from reactivex.subject import Subject

        self.journal = type("J", (), {"events": Subject()})()
        self.engine = None
        self.loop = asyncio.get_running_loop()
        self.thread = threading.get_ident()
        self._stop = asyncio.Event()
        self.reason = "?"
        say("hello")

    def request_stop(self, reason: str = "stop") -> None:
        self.reason = reason
        self._stop.set()

    async def play(self) -> str:
        self.journal.events.on_next({"event": "show.start"})
        await self._stop.wait()
        return self.reason


def test_calls_run_on_the_show_loop_and_stop_ends_it(tmp_path: Path):
    thread = ShowThread(ShowModel("t", "mirage"), RunOptions(), run_factory=WaitingRun)
    thread.start()
    try:
        seen = thread.call(threading.get_ident).result(5)
        assert seen != threading.get_ident() and seen == thread.run.thread
        with pytest.raises(ZeroDivisionError):
            thread.call(lambda: 1 / 0).result(5)
        assert thread.drain_lines() == ["hello"]
        assert thread.drain_records() == [{"event": "show.start"}]
        assert thread.drain_records() == []
        thread.request_stop("quit")
        assert thread.finished.result(5) == "quit"
    finally:
        thread.request_stop()
        assert thread.join(5)
    late = thread.call(lambda: None)
    with pytest.raises(RuntimeError):  # the loop is gone: fails at once, never hangs
        late.result(0)


def test_stop_before_the_run_exists():
    thread = ShowThread(ShowModel("t", "mirage"), RunOptions(), run_factory=WaitingRun)
    thread.request_stop("signal")  # before start: remembered
    thread.start()
    assert thread.finished.result(5) == "signal"
    assert thread.join(5)


def test_the_switch_interval_is_short_while_the_show_plays_beside_a_screen():
    """A repaint lets go of the interpreter within 0.5 ms while the show thread runs; restored after."""
    import sys

    from decart_flow.runner.yielding import SWITCH_INTERVAL_S

    before = sys.getswitchinterval()
    assert before > SWITCH_INTERVAL_S  # Python's default, 5 ms
    thread = ShowThread(ShowModel("t", "mirage"), RunOptions(), run_factory=WaitingRun)
    thread.start()
    try:
        assert sys.getswitchinterval() == SWITCH_INTERVAL_S
    finally:
        thread.request_stop()
        assert thread.join(5)
    assert sys.getswitchinterval() == before
