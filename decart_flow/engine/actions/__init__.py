"""Action kinds: one module each, one line in `REGISTRY`.

A kind's module owns its keys in a show file (and the keys it reads beside them), how the compiler
reads and checks them (`read`), the Python builder's function for it (`build`) and how an action
object is written back as keys (`pairs`, `label`), what a firing does (`perform`), and what
catch-up and the state need to know: which state keys it sets (`sets`), how long it holds what
follows it in a `then` (`span`), how to set a state key again after a reconnect (`restore`), and
how a state-dependent value is fixed for a re-played timeline entry (`settle`).

`perform(action, ctx)` does the action now and returns an awaitable when whatever follows it in a
`then` must wait (an audio clip, a `wait:`, a Python handler), else None. Wire actions go through
the engine's executor; every action is described as a plain dict for the journal and `plan`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Mapping, NamedTuple, Protocol

from ..registry import Kinds

if TYPE_CHECKING:
    from ...show.reading import Ctx, Found, Reader
    from ...show.model import Text, Where
    from ...show.nodes import Node


class ActionHost(Protocol):
    """What an action may do to the show it runs in (`engine/port.py`'s `ActionPort`)."""

    def send(self, kind: str, call: Callable[[], Any], action: dict[str, Any], cue: str,
             wait: bool = False) -> Any: ...  # a wire call, through the executor

    def note(self, cue: str, action: dict[str, Any]) -> None: ...  # an action that sends nothing, for `plan`

    def log(self, cue: str, text: str) -> None: ...  # a line in the journal

    def resolve(self, text: Text, cue: str, place: str, args: tuple[Any, ...] = ()) -> str: ...  # a choice's item

    def sent(self, key: str) -> Any: ...  # the value the show last sent for a state key (`mirror`)

    def intend(self, key: str, value: Any) -> None: ...  # ...and what it is sending now

    def sleep(self, seconds: float) -> Awaitable[None]: ...  # show time: pauses with the show

    def beat_seconds(self, span: Any) -> float: ...  # how long a tempo.BeatSpan lasts from now on the grid

    def set_tempo(self, bpm: float, source: str) -> bool: ...  # the show's tempo from now on (`tempo:` shows)

    def control(self, command: str) -> None: ...  # go next/back, pause, resume, stop

    @property
    def session(self) -> Any: ...  # the Session the wire calls go to


class ActionContext(NamedTuple):
    show: ActionHost  # what the action may do
    cue: str  # the cue (or timeline entry) that fired
    place: str  # where the action sits in the cue: keys the choosers
    args: tuple[Any, ...] = ()  # event arguments for `{0}`, `{1}`


def _nothing(action: Any) -> tuple[str, ...]:
    return ()


def _instant(action: Any) -> float | None:
    return 0.0


def _same(action: Any, state: dict[str, Any]) -> Any:
    return action


def _fine(action: Any, model: str) -> str | None:
    return None


def sessions(to: Any) -> tuple[Any, ...] | None:
    """A builder's `to=`: a session name or a list of them, as the `to` of an action."""
    if to is None:
        return None
    return (to,) if isinstance(to, str) else tuple(to)


@dataclass(frozen=True)
class ActionKind:
    model: type  # the show model's dataclass of this kind (`PromptAction`)
    keys: tuple[str, ...]  # the keys that write one (`prompt`; `go`, `pause`, `resume`, `stop`)
    # (compiler, the mapping's keys, the key, where it is written) -> the action, or None after
    # reporting what is wrong
    read: Callable[[Reader, Found, str, Ctx], Any]
    perform: Callable[[Any, ActionContext], Awaitable[Any] | None]
    pairs: Callable[[Any, Where], list[tuple[str, Node]]]  # the action as the keys a show file writes
    label: Callable[[Any], str]  # how a timeline entry of it is labelled when written in Python
    companions: tuple[str, ...] = ()  # keys it reads beside its own (`image:` reads `prompt:`, `enhance:`)
    python: str | None = None  # the Python builder's name for `build` (`prompt`, `image`, ...)
    build: Any = None
    sequential: bool = False  # what follows in its cue waits for it (the cue runs as a sequence)
    sets: Callable[[Any], tuple[str, ...]] = _nothing  # state keys a firing of it sets (catch-up weighs them)
    span: Callable[[Any], float | None] = _instant  # seconds it holds what follows; None when unknown
    restores: tuple[str, ...] = ()  # state keys `restore` can set again
    restore: Callable[[str, Mapping[str, Any]], Any] | None = None  # (key, state) -> an action that sets it
    settle: Callable[[Any, dict[str, Any]], Any] = _same  # a state-dependent value fixed (a toggle's result)
    model_problem: Callable[[Any, str], str | None] = _fine  # what is wrong with it on the show's model
    cloud_problem: Callable[[Any], str | None] = lambda action: None  # what Decart's cloud refuses about it
    in_body: bool = True  # may make a cue's body on its own (`wait:` goes only in a `then`)
    # Goes to sessions (its model has `to`): "each" of its targets gets it, or only the "first"
    # (a Python handler runs once); None: show-wide (log, wait, go, tempo).
    routed: str | None = None


def _registry() -> list[ActionKind]:
    from . import audio, call, control, image, logline, mirror, prompt, tempo, wait

    return [
        prompt.KIND,
        image.KIND,
        mirror.KIND,
        audio.KIND,
        wait.KIND,
        logline.KIND,
        tempo.KIND,
        control.KIND,
        call.KIND,
    ]


REGISTRY: Kinds[ActionKind] = Kinds("action", _registry())
action_kind = REGISTRY.of
_BY_KEY = {key: kind for kind in REGISTRY for key in kind.keys}
_SEQUENTIAL = frozenset(kind.model for kind in REGISTRY if kind.sequential)
# Catch-up sends the state keys in this order, any other after them: an image's prompt must not
# cover a newer prompt, so the image goes first.
CATCH_UP_ORDER = ("image", "prompt", "mirror")


def sequential(actions: tuple[Any, ...]) -> bool:
    """Whether a firing of these actions runs as a sequence (one of them makes the rest wait)."""
    return not _SEQUENTIAL.isdisjoint(map(type, actions))


def kind_for_key(key: str) -> ActionKind | None:
    return _BY_KEY.get(key)


def keys() -> tuple[str, ...]:
    """The action keys of a show file, in `REGISTRY` order, each once."""
    return tuple(dict.fromkeys(k for kind in REGISTRY for k in kind.keys + kind.companions))


def perform(action: Any, ctx: ActionContext) -> Awaitable[Any] | None:
    return action_kind(action).perform(action, ctx)


def catch_up_keys() -> tuple[str, ...]:
    restorable = [key for kind in REGISTRY for key in kind.restores]
    return tuple(k for k in CATCH_UP_ORDER if k in restorable) + tuple(k for k in restorable if k not in CATCH_UP_ORDER)


def restore(key: str, state: Mapping[str, Any]) -> Any:
    kind = next(k for k in REGISTRY if key in k.restores)
    assert kind.restore is not None
    return kind.restore(key, state)
