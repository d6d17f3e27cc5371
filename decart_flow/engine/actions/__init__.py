"""Actions: what a firing does. One function per kind and one line in `REGISTRY`.

`perform(action, ctx)` does the action now and returns an awaitable when whatever follows it in a
`then` must wait (an audio clip, a `wait:`, a Python handler), else None. Wire actions go through
the engine's executor; every action is described as a plain dict for the journal and `plan`.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any, Awaitable, Callable, NamedTuple

from ...show.model import (
    AudioAction,
    CallAction,
    ControlAction,
    ImageAction,
    LogAction,
    MirrorAction,
    PromptAction,
    WaitAction,
)
from . import audio, call, control, image, logline, mirror, prompt, wait

if TYPE_CHECKING:
    from ..engine import Engine


class ActionContext(NamedTuple):
    engine: Engine
    cue: str  # the cue (or timeline entry) that fired
    place: str  # where the action sits in the cue: keys the choosers
    args: tuple[Any, ...] = ()  # event arguments for `{0}`, `{1}`


# `ActionContext((engine, cue, place, args))` without the Python-level `__new__`: one per firing.
new_context: Callable[[tuple[Any, ...]], ActionContext] = partial(tuple.__new__, ActionContext)  # type: ignore[assignment]


Perform = Callable[[Any, ActionContext], "Awaitable[Any] | None"]

REGISTRY: dict[type, Perform] = {
    PromptAction: prompt.perform,
    ImageAction: image.perform,
    MirrorAction: mirror.perform,
    AudioAction: audio.perform,
    WaitAction: wait.perform,
    LogAction: logline.perform,
    ControlAction: control.perform,
    CallAction: call.perform,
}


def perform(action: Any, ctx: ActionContext) -> Awaitable[Any] | None:
    try:
        fn = REGISTRY[type(action)]
    except KeyError:
        raise TypeError(f"no action kind for {type(action).__name__}") from None
    return fn(action, ctx)


# Actions whose successors must wait for them: a cue holding one runs as a sequence.
SEQUENTIAL = frozenset({AudioAction, WaitAction, CallAction})


def needs_task(action: Any) -> bool:
    """True for actions whose successors must wait for them (so the cue runs as a sequence)."""
    return type(action) in SEQUENTIAL
