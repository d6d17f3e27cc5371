"""A real engine on the real clock for control tests: the plan's instant-ack session, a journal file."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path
from typing import Any, AsyncIterator, Callable

from decart_flow.engine.clock import Clock
from decart_flow.engine.engine import Engine
from decart_flow.engine.plan import VirtualSession
from decart_flow.show.model import ShowModel


class LiveEngine:
    def __init__(self, engine: Engine, journal: Path, session: VirtualSession) -> None:
        self.engine = engine
        self.journal_path = journal
        self.session = session
        self.records: list[dict[str, Any]] = []
        engine.journal_events.subscribe(self.records.append)

    def events(self, name: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r["event"] == name]

    def prompts(self) -> list[str]:
        assert self.session.calls is not None
        return [args[0] for kind, args in self.session.calls if kind == "set_prompt"]

    async def until(self, check: Callable[[], Any], timeout: float = 5.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            await asyncio.sleep(0.01)
        raise AssertionError(f"timed out waiting for {check}")


@contextlib.asynccontextmanager
async def live_engine(show: ShowModel, tmp_path: Path) -> AsyncIterator[LiveEngine]:
    loop = asyncio.get_running_loop()
    session = VirtualSession()
    session.calls = []
    journal = tmp_path / "journal.jsonl"
    engine = Engine(show, session, Clock(loop), journal)  # type: ignore[arg-type]
    live = LiveEngine(engine, journal, session)
    task = asyncio.ensure_future(engine.run())
    await live.until(lambda: engine.show_clock.started)
    try:
        yield live
    finally:
        engine.stop("test")
        await asyncio.wait_for(task, 5)


def read_journal(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class TwoSessions:
    """A real engine playing a show of two sessions, `left` and `right`, on instant-ack sessions."""

    def __init__(self, engine: Engine, sessions: dict[str, VirtualSession]) -> None:
        self.engine, self.sessions = engine, sessions

    def prompts(self, name: str) -> list[str]:
        calls = self.sessions[name].calls
        assert calls is not None
        return [args[0] for kind, args in calls if kind == "set_prompt"]

    async def until(self, left: int, right: int, timeout: float = 5.0) -> None:
        """Until `left` and `right` prompts reached their sessions (or the time is up: the caller asserts)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and (len(self.prompts("left")), len(self.prompts("right"))) != (left, right):
            await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def two_sessions(tmp_path: Path) -> AsyncIterator[TwoSessions]:
    from decart_flow.show.model import SessionSpec

    show = ShowModel("Two", "mirage_v2", sessions=(SessionSpec("left", "mirage_v2"), SessionSpec("right", "mirage_v2")))
    sessions = {name: VirtualSession() for name in ("left", "right")}
    for session in sessions.values():
        session.calls = []
    engine = Engine(show, sessions, Clock(asyncio.get_running_loop()), tmp_path / "j.jsonl")  # type: ignore[arg-type]
    task = asyncio.ensure_future(engine.run())
    try:
        yield TwoSessions(engine, sessions)
    finally:
        engine.stop("test")
        await asyncio.wait_for(task, 5)
