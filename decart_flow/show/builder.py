"""The Python show vocabulary: `Show`, `prompt`, `image`, `mirror`, `audio`, `wait`, `log`, `go`.

Calls do not build the model directly: they write the same document tree a YAML file gives, each
node stamped with the caller's line, and `compile.py` checks it by the very rules of a YAML show.
So `show.every("5x", ...)` is reported at the line that wrote it, like a YAML typo would be.
"""

from __future__ import annotations

import inspect
import os
import sys
from typing import Any, Callable, Iterable

from decart_flow.show.compile import CALL_KEY, REACTIVE_KEY
from decart_flow.show.model import (
    Action,
    AudioAction,
    CallAction,
    Choice,
    ControlAction,
    ImageAction,
    LogAction,
    MirrorAction,
    PromptAction,
    ReactiveTrigger,
    WaitAction,
    Where,
)
from decart_flow.show.nodes import Node, Opaque, mapping, scalar, sequence
from decart_flow.show.problems import Problem, ShowError
from decart_flow.show.times import parse_duration

__all__ = ["Show", "prompt", "image", "mirror", "audio", "wait", "log", "go"]

_HERE = os.path.abspath(__file__)


def _caller() -> Where:
    """The first frame outside this module: where the user wrote the call."""
    frame = sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename) == _HERE:
        frame = frame.f_back  # type: ignore[assignment]
    if frame is None:
        return Where("<python>")
    col = 1
    try:
        positions = list(frame.f_code.co_positions())[frame.f_lasti // 2]
        if positions[2] is not None:
            col = positions[2] + 1
    except Exception:  # positions are a nicety; the line is what matters
        pass
    return Where(frame.f_code.co_filename, frame.f_lineno, col)


# ---------------------------------------------------------------- actions


class _Prompt:
    """`prompt("text")`, and `prompt.cycle(...)`, `prompt.shuffle(...)`, `prompt.random(...)`."""

    def __call__(self, text: str, enhance: bool = True) -> PromptAction:
        return PromptAction(text, enhance, _caller())

    def _choice(self, kind: str, items: tuple[Any, ...], enhance: bool) -> PromptAction:
        if len(items) == 1 and isinstance(items[0], (list, tuple)):
            items = tuple(items[0])
        return PromptAction(Choice(kind, tuple(items)), enhance, _caller())  # type: ignore[arg-type]

    def cycle(self, *items: str, enhance: bool = True) -> PromptAction:
        return self._choice("cycle", items, enhance)

    def shuffle(self, *items: str, enhance: bool = True) -> PromptAction:
        return self._choice("shuffle", items, enhance)

    def random(self, *items: str, enhance: bool = True) -> PromptAction:
        return self._choice("random", items, enhance)


prompt = _Prompt()


def image(path: str | os.PathLike[str] | None, prompt: str | PromptAction | None = None, enhance: bool = True) -> ImageAction:
    """The reference image (a path, an http(s) URL, or None to clear), with an optional prompt."""
    text = prompt.text if isinstance(prompt, PromptAction) else prompt
    return ImageAction(None if path is None else os.fspath(path), text, enhance, _caller())


def mirror(value: bool | str = "toggle") -> MirrorAction:
    return MirrorAction(value, _caller())  # type: ignore[arg-type]


def audio(path: str | os.PathLike[str]) -> AudioAction:
    return AudioAction(os.fspath(path), _caller())


def wait(duration: str | float) -> WaitAction:
    where = _caller()
    try:
        return WaitAction(parse_duration(duration, allow_zero=True), where)
    except ValueError as e:
        raise ShowError([Problem(where, str(e))]) from None


def log(text: str) -> LogAction:
    return LogAction(text, _caller())


def go(command: str = "next") -> ControlAction:
    """`go("next")`, `go("back")`, `go("pause")`, `go("resume")`, `go("stop")`."""
    return ControlAction(command, _caller())  # type: ignore[arg-type]


# ---------------------------------------------------------------- to document nodes


def _value(value: Any, where: Where) -> Node:
    if isinstance(value, Node):
        return value
    if isinstance(value, Opaque):
        return scalar(value, where)
    if isinstance(value, dict):
        return mapping([(str(k), _value(v, where)) for k, v in value.items()], where)
    if isinstance(value, (list, tuple)):
        return sequence([_value(v, where) for v in value], where)
    if isinstance(value, os.PathLike):
        return scalar(os.fspath(value), where)
    if value is None or isinstance(value, (str, int, float, bool)):
        return scalar(value, where)
    return scalar(Opaque(value), where)


def _text(text: Any, where: Where) -> Node:
    if isinstance(text, Choice):
        return mapping([(text.kind, _value(list(text.items), where))], where)
    return _value(text, where)


def _action_pairs(action: Any) -> list[tuple[str, Node]] | None:
    """The YAML keys an action object stands for; None when it is no action."""
    where = getattr(action, "where", None) or _caller()
    if isinstance(action, PromptAction):
        return [("prompt", _text(action.text, where))] + ([("enhance", scalar(False, where))] if not action.enhance else [])
    if isinstance(action, ImageAction):
        pairs = [("image", _value(action.image, where))]
        if action.prompt is not None:
            pairs.append(("prompt", _text(action.prompt, where)))
        return pairs + ([("enhance", scalar(False, where))] if not action.enhance else [])
    if isinstance(action, MirrorAction):
        return [("mirror", _value(action.value, where))]
    if isinstance(action, AudioAction):
        return [("audio", _value(action.path, where))]
    if isinstance(action, WaitAction):
        return [("wait", _value(action.seconds, where))]
    if isinstance(action, LogAction):
        return [("log", _value(action.text, where))]
    if isinstance(action, ControlAction):
        return [("go", _value(action.command, where))]
    if isinstance(action, CallAction):
        return [(CALL_KEY, scalar(Opaque(action), where))]
    return None


def _action_node(action: Any, where: Where) -> Node:
    if isinstance(action, str):
        return scalar(action, where)
    if isinstance(action, dict):
        return _value(action, where)
    if isinstance(action, CallAction):
        return scalar(Opaque(action), action.where)
    pairs = _action_pairs(action)
    if pairs is None:
        return scalar(Opaque(action), where)
    return mapping(pairs, getattr(action, "where", where), text=_describe(action))


def _actions_node(actions: Iterable[Any], where: Where) -> Node:
    items = [_action_node(a, where) for a in _flatten(actions)]
    node = sequence(items, where)
    node.text = ", ".join(n.text or str(n.value) for n in items)
    return node


def _flatten(actions: Iterable[Any]) -> list[Any]:
    out: list[Any] = []
    for a in actions:
        out.extend(_flatten(a) if isinstance(a, (list, tuple)) else [a])
    return out


def _describe(action: Action) -> str:
    """A timeline label for an action written in Python."""
    if isinstance(action, PromptAction):
        text = action.text
        return f"{text.kind}: {', '.join(text.items)}" if isinstance(text, Choice) else str(text)
    if isinstance(action, ImageAction):
        name = os.path.basename(action.image) if action.image else "clear"
        return f"image {name}" + (f", {action.prompt}" if isinstance(action.prompt, str) else "")
    if isinstance(action, MirrorAction):
        return f"mirror {action.value}"
    if isinstance(action, AudioAction):
        return f"audio {os.path.basename(action.path)}"
    if isinstance(action, WaitAction):
        return f"wait {action.seconds:g}s"
    if isinstance(action, LogAction):
        return f"log {action.text}"
    if isinstance(action, ControlAction):
        return f"go {action.command}"
    return type(action).__name__


# ---------------------------------------------------------------- the show


class Show:
    """A show written in Python; `load_show` compiles it like a YAML file."""

    def __init__(
        self,
        name: str,
        *,
        model: str,
        initial: Any = None,
        source: str | None = None,
        duration: str | float | None = None,
        loop: bool = False,
        vars: dict[str, Any] | None = None,
        lookahead: str | float | None = None,
        resolution: str | None = None,
        speed: str | None = None,
        tz: str | None = None,
        nodes: dict[str, list[str]] | None = None,
    ):
        self.where = _caller()
        w = self.where
        self._top: list[tuple[str, Node]] = [("name", scalar(name, w)), ("model", scalar(model, w))]
        if vars:
            self._top.insert(0, ("vars", _value(dict(vars), w)))
        if initial is not None:
            self._top.append(("initial", self._initial(initial, w)))
        for key, value in (("resolution", resolution), ("speed", speed), ("source", source), ("duration", duration),
                           ("lookahead", lookahead), ("tz", tz), ("nodes", nodes)):
            if value is not None:
                self._top.append((key, _value(value, w)))
        if loop:
            self._top.append(("loop", scalar(loop, w)))
        self._timeline: list[tuple[Node, Node]] = []
        self._cues: list[Node] = []
        self._problems: list[Problem] = []

    @staticmethod
    def _initial(initial: Any, where: Where) -> Node:
        if isinstance(initial, (str, dict)):
            return _value(initial, where)
        pairs: list[tuple[str, Node]] = []
        for action in _flatten([initial]):
            pairs.extend(_action_pairs(action) or [(type(action).__name__, scalar(Opaque(action), where))])
        return mapping(pairs, where)

    # ------------------------------------------------------------ timeline and cues

    def timeline(self, t: str | float, *actions: Any) -> None:
        """An entry of the GO list at show time `t`."""
        where = _caller()
        self._timeline.append((scalar(t, where), _actions_node(actions, where)))

    def at(self, t: str | float, *actions: Any, **options: Any) -> None:
        """A cue that fires once at show time `t`."""
        self._cue(_caller(), [("at", t)], actions, options)

    def every(self, interval: str | float, *actions: Any, start: Any = None, until: Any = None, times: int | None = None, **options: Any) -> None:
        """A cue that fires at `start` and every `interval` after, until `until` or `times` firings."""
        trigger = [("every", interval), ("from", start), ("until", until), ("times", times)]
        self._cue(_caller(), [(k, v) for k, v in trigger if v is not None], actions, options)

    def cron(self, expr: str, *actions: Any, tz: str | None = None, **options: Any) -> None:
        """A wall-clock cue (five cron fields or @hourly and friends)."""
        self._cue(_caller(), [("cron", expr)] + ([("tz", tz)] if tz is not None else []), actions, options)

    def on(self, event: str, *actions: Any, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]] | None:
        """`show.on("key 1", prompt(...))`, or `@show.on("key 1")` over `async def f(session)`."""
        where = _caller()
        if actions:
            self._cue(where, [("on", event)], actions, options)
            return None

        def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
            if not inspect.iscoroutinefunction(fn):
                self._problems.append(Problem(where, f"@show.on handler '{getattr(fn, '__name__', fn)}' must be `async def f(session)`"))
            opts = dict(options)
            opts.setdefault("name", getattr(fn, "__name__", None))
            self._cue(where, [("on", event)], [CallAction(fn, where)], opts)
            return fn

        return decorate

    def reactive(self, fn: Callable[..., Any] | None = None, **options: Any) -> Any:
        """`@show.reactive` over `def f(events) -> Observable` of actions."""
        where = _caller()

        def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
            if not callable(fn):
                self._problems.append(Problem(where, "@show.reactive decorates a function `def f(events)`"))
                return fn
            opts = dict(options)
            opts.setdefault("name", getattr(fn, "__name__", None))
            self._cue(where, [(REACTIVE_KEY, Opaque(ReactiveTrigger(fn)))], [], opts)
            return fn

        return decorate(fn) if fn is not None else decorate

    def _cue(self, where: Where, trigger: list[tuple[str, Any]], actions: Iterable[Any], options: dict[str, Any]) -> None:
        pairs: list[tuple[str, Node]] = []
        name = options.pop("name", None)
        if name is not None:
            pairs.append(("name", scalar(name, where)))
        pairs += [(k, _value(v, where)) for k, v in trigger]
        for key in ("when", "tz", "mode", "lookahead"):
            if options.get(key) is not None:
                pairs.append((key, _value(options.pop(key), where)))
        then = options.pop("then", None)
        if then:
            pairs.append(("then", _actions_node(then if isinstance(then, (list, tuple)) else [then], where)))
        for key in options:
            self._problems.append(Problem(where, f"unknown option '{key}': use name=, then=, when=, tz=, mode= or lookahead="))
        used: set[str] = set()
        for action in _flatten(actions):
            if isinstance(action, (str, dict)):
                node = _action_node(action, where)
                body = [(k.key, v) for k, v in node.pairs] if node.is_map else [("prompt", node)]
            else:
                body = _action_pairs(action)
            if body is None:
                self._problems.append(Problem(where, f"not an action: {action!r}"))
                continue
            for key, value in body:
                if key in used:
                    self._problems.append(
                        Problem(value.where, f"a cue takes one {key} action; put the next ones in then=[...]")
                    )
                    continue
                used.add(key)
                pairs.append((key, value))
        self._cues.append(mapping(pairs, where))

    # ------------------------------------------------------------ compile

    def document(self) -> Node:
        """The show as the same tree a YAML file gives."""
        top = list(self._top)
        if self._timeline:
            top.append(("timeline", Node(where=self.where, pairs=list(self._timeline))))
        if self._cues:
            top.append(("cues", sequence(self._cues, self.where)))
        return mapping(top, self.where)

    @property
    def problems(self) -> list[Problem]:
        """Mistakes found while the show was being built (the compiler finds the rest)."""
        return list(self._problems)
