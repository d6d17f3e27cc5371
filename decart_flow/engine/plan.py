"""`plan`: the engine in virtual time with a session that acknowledges at once.

What `plan` lists is what `run` would send, cue for cue and choice for choice, because it is the
same engine: only the event loop's clock is virtual. `--for` defaults to the show's `duration`,
else one hour. The `plan` command prints it (`show/plan_print.py`).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, Callable, NamedTuple

from ..show import checks
from ..show.model import ShowModel
from .clock import VirtualClock
from .engine import Engine
from .executor import ACKED, Acked
from .loop import VirtualEventLoop

DEFAULT_FOR = 3600.0


class Firing(NamedTuple):
    """One planned action: show seconds, wall clock, cue, action."""

    t: float
    wall: datetime
    cue: str
    action: dict[str, Any]
    bar: str | None = None  # bar.beat on the grid at the show's bpm, for a show with `tempo:`
    session: str | None = None  # the session it goes to, in a show of several sessions

    def to_json(self) -> dict[str, Any]:
        """The firing as `plan --json` lists it."""
        if self.session is None:
            row = {"t": round(self.t, 6), "wall": self.wall.isoformat(), "cue": self.cue, "action": self.action}
        else:
            row = {"t": round(self.t, 6), "wall": self.wall.isoformat(), "session": self.session, "cue": self.cue,
                   "action": self.action}
        if self.bar is not None:
            row["bar"] = self.bar
        return row


class VirtualSession:
    """A session that is generating from the start and acknowledges every call at once.

    The calls are plain functions returning `ACKED` (awaitable, complete): the executor then needs
    no coroutine per call. Audio is a coroutine: it lasts the clip's length (`AudioAction.seconds`,
    measured when the show was loaded), as the wire client's does.
    """

    session_id: str | None = "plan"

    def __init__(self, show: ShowModel | None = None) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] | None = None  # set to [] to record calls
        self._clips = _clip_lengths(show) if show is not None else {}

    def set_prompt(self, text: str, enrich: bool = True) -> Acked:
        if self.calls is not None:
            self.calls.append(("set_prompt", (text, enrich)))
        return ACKED

    def set_image(self, image: Any, prompt: str | None = None, enrich: bool = True) -> Acked:
        if self.calls is not None:
            self.calls.append(("set_image", (image, prompt, enrich)))
        return ACKED

    def set_mirror(self, enabled: bool) -> Acked:
        if self.calls is not None:
            self.calls.append(("set_mirror", (enabled,)))
        return ACKED

    async def play_audio(self, audio: Any) -> None:
        """Returns when the clip would have finished: its length in virtual time."""
        if self.calls is not None:
            self.calls.append(("play_audio", (audio,)))
        seconds = None
        if isinstance(audio, str):  # a handler's clip, not in the show: measured as the loader measures
            seconds = self._clips[audio] if audio in self._clips else checks.audio_seconds(audio)
        if seconds:
            await asyncio.sleep(seconds)

    def is_connected(self) -> bool:
        return True

    def get_connection_state(self) -> str:
        return "generating"

    def on(self, event: str, callback: Callable[[Any], None]) -> None:
        pass

    def off(self, event: str, callback: Callable[[Any], None]) -> None:
        pass

    async def disconnect(self) -> None:
        pass


def _clip_lengths(show: ShowModel) -> dict[str, float]:
    """Each audio clip's length as the loader measured it, by path (the clips it could measure)."""
    return {path: seconds for path, seconds in show.clip_lengths().items() if seconds is not None}


def plan(show: ShowModel, for_seconds: float | None = None, start_wall: datetime | None = None) -> list[Firing]:
    """Every action the show would perform in its first `for_seconds`, in order (every session's)."""
    firings: list[Firing] = []
    stream(show, firings.append, for_seconds, start_wall)
    return firings


def stream(show: ShowModel, emit: Callable[[Firing], None], for_seconds: float | None = None,
           start_wall: datetime | None = None) -> int:
    """Like `plan`, handing each firing to `emit` as it happens (flat memory for a month of plan).
    Every session of the show is planned, each with its own virtual session.

    An exception from `emit` (a reader that went away) stops the plan and comes out of `stream`.
    """
    if for_seconds is None:
        for_seconds = show.duration if show.duration is not None else DEFAULT_FOR
    loop = VirtualEventLoop()
    count = 0
    failure: BaseException | None = None
    try:
        clock = VirtualClock(loop, start_wall)
        sessions = {name: VirtualSession(show) for name in show.session_names()}
        engine = Engine(show, sessions, clock, journal=None, observe_state=False)
        grid = engine.tempo.grid if engine.tempo is not None else None
        end_at = loop.time() + for_seconds
        cutoff = end_at - 1e-6  # a firing at the end itself is not listed

        def record(t: float, cue: str, action: dict[str, Any], session: str | None) -> None:
            nonlocal count, failure
            if loop.time() < cutoff and failure is None:
                try:
                    emit(Firing(t, clock.wall(), cue, action, grid.bar_beat(t) if grid is not None else None,
                                session))
                except BaseException as exc:  # the reader's problem: stop, then raise it
                    failure = exc
                    engine.stop("error")
                    return
                count += 1

        engine.on_action.append(record)

        async def main() -> str:
            loop.call_at(end_at, engine.stop, "plan")
            return await engine.run()

        loop.run_until_complete(main())
    finally:
        loop.close()
    if failure is not None:
        raise failure
    return count
