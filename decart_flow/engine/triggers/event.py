"""`on: key K | osc /addr | http /path | state S | after NAME | midi ...`: named event streams.

The engine pushes events into the hub (TUI keys, control servers, connection changes, finished
cues); a cue subscribes to the one stream it names.
"""

from __future__ import annotations

import inspect
import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable, Sequence

import reactivex
from reactivex import operators as ops
from reactivex.subject import Subject

from ...show.model import CONNECTION_STATES, CallAction, EventTrigger
from ...show.problems import Problem, did_you_mean
from ...tempo.timers import on_grid_line
from ...tempo.units import read_span
from . import Fire, TriggerContext, TriggerKind

if TYPE_CHECKING:
    from ...show.reading import Found, Reader
    from ...show.model import Where

EVENT_FORMS = "key K, osc /address, http /path, state S, after NAME, midi note N or midi cc N"
EVENT_KINDS = ("key", "osc", "http", "state", "after", "midi")
STATE_NAMES = CONNECTION_STATES
ARGUMENT_KINDS = ("osc", "http", "midi")  # events whose arguments fill {0}, {1}, ...
#: Keys the TUI keeps for itself; `on: key K` may not use them.
BUILTIN_KEYS = frozenset({"space", " ", "enter", "g", "b", "p", "i", "m", "r", "q", "question_mark", "?"})
_BUILTIN_SHOWN = "space, enter, g, b, p, i, m, r, q, ?"
_KEY_NAME = re.compile(r"[A-Za-z0-9_+\-]+|\S")


def read(c: Reader, found: Found) -> EventTrigger | None:
    node = found["on"][1]
    text = (c.text(node, "on") or "").strip()
    kind, _, arg = text.partition(" ")
    arg = arg.strip()
    if kind not in EVENT_KINDS:
        hint = did_you_mean(kind, EVENT_KINDS)
        c.error(node.where, f"bad event '{text}'{hint}: use {EVENT_FORMS}")
        return None
    if not arg:
        c.error(node.where, f"on: {kind} needs an argument: use {EVENT_FORMS}")
        return None
    problem = None
    if kind == "key":
        if not _KEY_NAME.fullmatch(arg):
            problem = f"bad key '{arg}': one key such as 1, a, f5 or ctrl+x"
        elif arg in BUILTIN_KEYS:
            problem = f"key '{arg}' belongs to the TUI ({_BUILTIN_SHOWN}): pick another key"
    elif kind in ("osc", "http"):
        if not arg.startswith("/") or any(ch.isspace() for ch in arg):
            problem = f"{kind} address '{arg}' must start with / and have no spaces, e.g. /{'fader' if kind == 'osc' else 'go'}"
    elif kind == "state":
        if arg not in STATE_NAMES:
            problem = f"unknown state '{arg}'{did_you_mean(arg, STATE_NAMES)}: use connected, generating, reconnecting or disconnected"
    elif kind == "after":
        c.cue_names_wanted.append((arg, node.where))
    elif kind == "midi":
        parts = arg.split()
        if len(parts) != 2 or parts[0] not in ("note", "cc") or not parts[1].isdigit() or int(parts[1]) > 127:
            problem = f"bad midi event '{arg}': use midi note N or midi cc N with N from 0 to 127"
        else:
            arg = f"{parts[0]} {int(parts[1])}"
    quantize = None
    if "quantize" in found:  # the firing waits for the next line of the beat grid
        c.uses_beats(found["quantize"][1].where)
        quantize = read_span(c, found["quantize"][1], "quantize")
    if problem:
        c.error(node.where, problem)
        return None
    return EventTrigger(kind, arg, quantize)  # type: ignore[arg-type]


def takes_args(trigger: EventTrigger) -> bool:
    return trigger.kind in ARGUMENT_KINDS


def build(show: Any, where: Where, event: str, *actions: Any,
          **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]] | None:
    """`show.on("key 1", prompt(...))`, or `@show.on("key 1")` over `async def f(session)`;
    `quantize="1 bar"` waits for the grid line."""
    quantize = options.pop("quantize", None)
    trigger = [("on", event)] + ([("quantize", quantize)] if quantize is not None else [])
    if actions:
        show.add_cue(where, trigger, actions, options)
        return None

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        if not inspect.iscoroutinefunction(fn):
            show.add_problem(Problem(where, f"@show.on handler '{getattr(fn, '__name__', fn)}' must be `async def f(session)`"))
        opts = dict(options)
        opts.setdefault("name", getattr(fn, "__name__", None))
        show.add_cue(where, trigger, [CallAction(fn, where)], opts)
        return fn

    return decorate


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


def observe(trigger: EventTrigger, ctx: TriggerContext, lead: Any = None) -> reactivex.Observable[Fire]:
    clock = ctx.clock
    stream = ctx.events.stream(trigger.kind, trigger.arg)
    if trigger.quantize is not None and ctx.tempo is not None:
        return stream.pipe(on_grid_line(ctx.show_clock, ctx.tempo.grid, trigger.quantize, lead))
    return stream.pipe(ops.map(lambda args: Fire(clock.now(), None, args)))


KIND = TriggerKind(EventTrigger, "on", read, observe, companions=("quantize",), python="on", build=build,
                   args=takes_args)
