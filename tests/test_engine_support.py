"""Shared helpers for the engine tests: play a show in virtual time and look at what was sent."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from decart_flow.engine import Engine, VirtualClock, VirtualEventLoop

WALL = datetime(2026, 1, 5, 14, 10, tzinfo=timezone.utc)  # a Monday


class TimedSession:
    """A session on the virtual clock: records each call with its loop time; acks after `ack_delay`.

    `fail` holds prompt texts the "service" rejects (the call raises, as the wire client does).
    """

    session_id = "test-session"

    def __init__(self, ack_delay: float = 0.0, fail: set[str] | None = None, state: str = "generating",
                 record: bool = True) -> None:
        self.record = record
        self.ack_delay = ack_delay
        self.fail = fail or set()
        self.state = state
        self.calls: list[tuple[float, str, Any]] = []
        self.listeners: list[Callable[[Any], None]] = []

    def _t(self) -> float:
        return asyncio.get_running_loop().time()

    async def _ack(self, what: str) -> None:
        if what in self.fail:
            raise RuntimeError(f"service rejected {what!r}")
        if self.ack_delay:
            await asyncio.sleep(self.ack_delay)

    async def set_prompt(self, text: str, enrich: bool = True) -> None:
        if self.record:
            self.calls.append((self._t(), "prompt", text))
        await self._ack(text)

    async def set_image(self, image: Any, prompt: str | None = None, enrich: bool = True) -> None:
        self.calls.append((self._t(), "image", (image, prompt)))
        await self._ack(str(prompt))

    async def set_mirror(self, enabled: bool) -> None:
        self.calls.append((self._t(), "mirror", enabled))

    async def play_audio(self, audio: Any) -> None:
        self.calls.append((self._t(), "audio", audio))
        await asyncio.sleep(3.0)  # every test clip lasts 3 s

    def is_connected(self) -> bool:
        return self.state in ("connected", "generating")

    def get_connection_state(self) -> str:
        return self.state

    def on(self, event: str, cb: Callable[[Any], None]) -> None:
        if event == "connection_change":
            self.listeners.append(cb)

    def off(self, event: str, cb: Callable[[Any], None]) -> None:
        if cb in self.listeners:
            self.listeners.remove(cb)

    def set_state(self, state: str) -> None:
        self.state = state
        for cb in list(self.listeners):
            cb(state)

    async def disconnect(self) -> None:
        self.set_state("disconnected")

    def prompts(self) -> list[tuple[float, str]]:
        return [(round(t, 6), v) for t, kind, v in self.calls if kind == "prompt"]


@dataclass
class Played:
    engine: Engine
    session: TimedSession
    reason: str
    records: list[dict[str, Any]] = field(default_factory=list)

    def events(self, name: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r["event"] == name]


def play(show: Any, until: float, session: TimedSession | None = None, start: datetime = WALL,
         script: tuple[tuple[float, Callable[[Engine], Any]], ...] = (), journal: Any = None,
         keep_records: bool = True, autostart: bool = True, **options: Any) -> Played:
    """Run `show` in virtual time until loop time `until`; `script` runs intents at given loop times.

    `session`: one session, or a mapping of them by name (a show of several sessions).
    `autostart=False`: the show clock waits for the script's `start_at` (a fleet node's engine).
    `options` go to the Engine (`resume=`, `start_timeout=`)."""
    loop = VirtualEventLoop()
    session = session or TimedSession()
    try:
        engine = Engine(show, session, VirtualClock(loop, start), journal=journal, **options)
        engine.autostart = autostart
        records: list[dict[str, Any]] = []
        if keep_records:
            engine.journal_events.subscribe(records.append)

        async def main() -> str:
            for t, fn in script:
                loop.call_at(t, fn, engine)
            loop.call_at(until, engine.stop, "test")
            return await engine.run()

        reason = loop.run_until_complete(main())
    finally:
        loop.close()
    return Played(engine, session, reason, records)
