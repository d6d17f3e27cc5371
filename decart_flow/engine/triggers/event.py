"""`on: key K | osc /addr | http /path | state S | after NAME | midi ...`: named event streams.

The engine pushes events into the hub (TUI keys, control servers, connection changes, finished
cues); a cue subscribes to the one stream it names.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Sequence

import reactivex
from reactivex import operators as ops
from reactivex.subject import Subject

from ...show.model import EventTrigger
from . import Fire, TriggerContext, TriggerType


@lru_cache(maxsize=1024)
def normalize(kind: str, arg: str) -> tuple[str, str]:
    arg = " ".join(str(arg).split())
    return kind.lower(), (arg.lower() if kind in ("state", "midi") else arg)


class EventHub:
    def __init__(self) -> None:
        self._subjects: dict[tuple[str, str], Subject[tuple[Any, ...]]] = {}

    def stream(self, kind: str, arg: str) -> reactivex.Observable[tuple[Any, ...]]:
        key = normalize(kind, arg)
        if key not in self._subjects:
            self._subjects[key] = Subject()
        return self._subjects[key]

    def emit(self, kind: str, arg: str, args: Sequence[Any] = ()) -> bool:
        """Push an event; True when some cue listens to it."""
        if not self._subjects:
            return False
        subject = self._subjects.get(normalize(kind, arg))
        if subject is None or not subject.observers:
            return False
        subject.on_next(tuple(args))
        return True


def observe(trigger: EventTrigger, ctx: TriggerContext, lead: object = None) -> reactivex.Observable[Fire]:
    clock = ctx.clock
    return ctx.events.stream(trigger.kind, trigger.arg).pipe(ops.map(lambda args: Fire(clock.now(), None, args)))


TYPE = TriggerType(observe)
