"""`--watch`: reload the show file when it is saved, without dropping the session or the clock.

We poll the file's mtime and size (twice a second by default): no extra dependency, and editors
that save by rename are seen too. A save that does not validate is refused: the problems go to
the journal as one `error` record and to `on_error` (the TUI shows them), and the running show
goes on with its current cues. A valid save is swapped in with `engine.reload(show)`.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ..show import ShowError, load_show
from ..show.model import ShowModel

if TYPE_CHECKING:
    from ..engine.engine import Engine

log = logging.getLogger(__name__)


class ShowWatcher:
    """Symmetric `start()` / `stop()`; `check()` does one poll (tests call it directly)."""

    def __init__(self, engine: Engine, path: str | Path, interval: float = 0.5,
                 on_reload: Callable[[ShowModel], None] | None = None,
                 on_error: Callable[[list[str]], None] | None = None,
                 adjust: Callable[[ShowModel], ShowModel] | None = None) -> None:
        self.engine = engine
        self.path = Path(path)
        self.interval = interval
        self.on_reload = on_reload
        self.on_error = on_error
        self.adjust = adjust  # the run's overrides (RunOptions.applied_to) on every reload
        self._seen = self._signature()
        self._task: asyncio.Task[None] | None = None

    def _signature(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None  # mid-save (rename) or deleted: wait for it to come back
        return st.st_mtime_ns, st.st_size

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._poll())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.check()
            except Exception:  # noqa: BLE001 - our bug: logged, the show goes on
                log.exception("show reload failed")

    async def check(self) -> bool | None:
        """Reload if the file changed: True reloaded, False refused, None unchanged."""
        signature = self._signature()
        if signature is None or signature == self._seen:
            return None
        self._seen = signature
        try:
            show = await asyncio.to_thread(load_show, self.path)  # image checks may read files
        except ShowError as exc:
            problems = [str(p) for p in exc.problems] or [str(exc)]
            self.engine.journal.write("error", message="reload refused: " + "; ".join(problems))
            if self.on_error is not None:
                self.on_error(problems)
            return False
        problem = reload_problem(self.path, self.engine.show, show)
        if problem is not None:
            self.engine.journal.write("error", message="reload refused: " + problem)
            if self.on_error is not None:
                self.on_error([problem])
            return False
        if self.adjust is not None:
            show = self.adjust(show)
        self.engine.reload(show)
        if self.on_reload is not None:
            self.on_reload(show)
        return True


def reload_problem(path: str | Path, playing: ShowModel, new: ShowModel) -> str | None:
    """Why `new` cannot replace the `playing` show without a restart, or None."""
    if new.model != playing.model:
        return f"{path}: model: changing the model ({playing.model} -> {new.model}) needs a restart"
    return None
