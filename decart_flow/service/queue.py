"""Session slots of a service with `--capacity N`: sessions beyond N wait in line, told their place.

As Decart's cloud does, a waiting session gets `queue_position` {position, queue_size} when it
joins the line and whenever the line moves, then its room info once a slot frees. A session that
goes away while waiting leaves the line.
"""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable

Notify = Callable[[int, int], Awaitable[None]]  # (position from 1, queue size)


class Slots:
    def __init__(self, capacity: int | None = None) -> None:
        self.capacity = capacity  # None: unlimited
        self.in_use = 0
        self._line: list[tuple[asyncio.Future[None], Notify]] = []

    async def acquire(self, notify: Notify) -> None:
        """Return once this session holds a slot; `notify` is awaited with each new place in line."""
        if self.capacity is None or (self.in_use < self.capacity and not self._line):
            self.in_use += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (waiter, notify)
        self._line.append(entry)
        try:
            await notify(len(self._line), len(self._line))
            await waiter
        except BaseException:
            if entry in self._line:
                self._line.remove(entry)
                await self._tell_positions()
            elif waiter.done() and not waiter.cancelled():
                self.release()  # the slot was handed over as we left: pass it on
            raise

    def release(self) -> None:
        """A session holding a slot ended: the first in line takes it."""
        while self._line:
            waiter, _ = self._line.pop(0)
            if not waiter.done():
                waiter.set_result(None)
                asyncio.get_running_loop().create_task(self._tell_positions())
                return
        self.in_use = max(0, self.in_use - 1)

    async def _tell_positions(self) -> None:
        size = len(self._line)
        for position, (_, notify) in enumerate(list(self._line), start=1):
            try:
                await notify(position, size)
            except Exception:  # noqa: BLE001 - a socket that just closed: its session leaves the line
                pass

    @property
    def waiting(self) -> int:
        return len(self._line)
