"""What actions may do to the show they run in: the narrow context every action gets (`ctx.show`).

An action sends through the executor, notes what it did for `plan`, writes a journal line, picks a
choice's item, reads and sets the state, waits in show time, or asks for a show-control intent;
it never sees the engine. `plan` and the catch-up mark what actions do through `hooks` and
`catching_up`; a cue sent early by its lookahead sets `ahead`, so the hooks see the cued time.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from ..realtime.session import Session
    from ..tempo.conductor import Conductor
    from .choices import Choices
    from .executor import Executor
    from .journal import Journal
    from .showclock import ShowClock
    from .store import StateStore

# (show t, cue, action, session), at the loop time it happens; session: its name in a show of several, else None
ActionHook = Callable[[float, str, dict[str, Any], "str | None"], None]


class ActionPort:
    """The `ActionHost` of `engine/actions` for what is show-wide; an action that goes to a session
    gets that session's `SessionPort` (engine/lanes.py), which sends through this for the rest.

    `session`, `send`, `sent` and `intend` here are the first session's (a one-session show's).
    """

    def __init__(self, session: Session, executor: Executor, store: StateStore, choices: Choices, journal: Journal,
                 show_clock: ShowClock, loop: asyncio.AbstractEventLoop, control: Callable[[str], None],
                 tempo: Conductor | None = None) -> None:
        self.session = session
        self._executor, self._store, self._choices, self._journal = executor, store, choices, journal
        self._show_clock, self._loop, self._control = show_clock, loop, control
        self._tempo = tempo  # the show's beat grid and its source (`tempo:`): `wait: 2 beats`, `tempo: BPM`
        self.hooks: list[ActionHook] = []  # `plan` listens here
        self.catching_up = False  # set while catch-up sends: `plan` marks those firings
        self.ahead = 0.0  # while a cue sent early performs: its lead
        # While one firing goes to several sessions: each choice's item by (cue, place), so that
        # every session gets the same text and the cycle moves once.
        self.resolved: dict[tuple[str, str], str] | None = None

    def bind(self, executor: Executor, store: StateStore) -> None:
        """The first session's executor and store (the engine makes the sessions after this port)."""
        self._executor, self._store = executor, store

    def tell(self, cue: str, action: dict[str, Any], session: str | None = None) -> str:
        if self.catching_up:
            cue = f"{cue} (catch-up)"
        t = self._show_clock.t + self.ahead
        for hook in self.hooks:
            hook(t, cue, action, session)
        return cue

    def send(self, kind: str, call: Callable[[], Any], action: dict[str, Any], cue: str,
             wait: bool = False) -> asyncio.Future[Any] | None:
        """Hand a wire call to the executor; `wait`: a Future for its ack."""
        if self.hooks:
            self.tell(cue, action)
        return self._executor.submit(kind, call, action, cue, wait)

    def note(self, cue: str, action: dict[str, Any]) -> None:
        """An action that sends nothing (a log line, a GO), listed by `plan` all the same."""
        if self.hooks:
            self.tell(cue, action)

    def log(self, cue: str, text: str) -> None:
        self._journal.write("log", cue=cue, text=text)

    def resolve(self, text: Any, cue: str, place: str, args: tuple[Any, ...] = ()) -> str:
        resolved = self.resolved
        if resolved is None:
            return self._choices.resolve(text, cue, place, args)
        key = (cue, place)
        if key not in resolved:
            resolved[key] = self._choices.resolve(text, cue, place, args)
        return resolved[key]

    def sent(self, key: str) -> Any:
        return self._store.sent(key)

    def intend(self, key: str, value: Any) -> None:
        self._store.intend(key, value)

    def beat_seconds(self, span: Any) -> float:
        """How long `span` (a tempo.BeatSpan) lasts from now on the grid (`wait: 2 beats`)."""
        if self._tempo is None:
            return 0.0
        grid, now = self._tempo.grid, self._show_clock.t
        return grid.t_at(grid.beat_at(now) + span.beats(grid.beats_per_bar), after=now) - now

    def set_tempo(self, bpm: float, source: str) -> bool:
        """The show's tempo from now on (with Link, the session's), journaled; False without `tempo:`."""
        if self._tempo is None:
            return False
        self._tempo.set_bpm(bpm)
        self._journal.write("tempo", bpm=round(bpm, 3), source=source, bar=self._tempo.grid.bar_beat(self._show_clock.t))
        return True

    def sleep(self, seconds: float) -> asyncio.Future[None]:
        """A Future done after `seconds` of show time (a paused show pauses it too)."""
        fut: asyncio.Future[None] = self._loop.create_future()
        timer = self._show_clock.call_later(seconds, lambda: fut.done() or fut.set_result(None))
        fut.add_done_callback(lambda f: timer.cancel())
        return fut

    def control(self, command: str) -> None:
        """`next`, `back`, `pause`, `resume` or `stop`: the operator's intents."""
        self._control(command)
