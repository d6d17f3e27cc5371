"""The Python show vocabulary: `Show`, `prompt`, `image`, `mirror`, `audio`, `wait`, `log`, `go`.

Calls do not build the model directly: they write the same document tree a YAML file gives, each
node stamped with the caller's line, and `compile.py` checks it by the very rules of a YAML show.
So `show.every("5x", ...)` is reported at the line that wrote it, like a YAML typo would be.
"""

from __future__ import annotations

from typing import Any, Iterable

from decart_flow.engine import actions as action_kinds
from decart_flow.engine import triggers as trigger_kinds
from decart_flow.show.model import Action, Where
from decart_flow.show.nodes import Node, Opaque, caller, mapping, scalar, sequence, value_node
from decart_flow.show.problems import Problem

# `prompt`, `image`, `mirror`, `audio`, `wait`, `log`, `go`: each action kind's own function
# (`ActionKind.build`), found by name in the registry (see `__getattr__`).
__all__ = ["Show"] + [k.python for k in action_kinds.REGISTRY if k.python]


def __getattr__(name: str) -> Any:
    kind = next((k for k in action_kinds.REGISTRY if k.python == name), None)
    if kind is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return kind.build




# ---------------------------------------------------------------- to document nodes


BODY_TO = "<to>"  # a Python cue's body actions' own `to=`: the body's sessions, not its `then`'s


def _action_pairs(action: Any) -> list[tuple[str, Node]] | None:
    """The keys an action object stands for (its `to=` as `to:`); None when it is no action."""
    try:
        kind = action_kinds.action_kind(action)
    except TypeError:
        return None
    where = getattr(action, "where", None) or caller()
    pairs = kind.pairs(action, where)
    to = getattr(action, "to", None)
    if to is not None and kind.routed and not any(key.startswith("<") for key, _ in pairs):
        pairs.append(("to", value_node(list(to), where)))
    return pairs


def _with_to(node: Node, to: Any) -> Node:
    """A timeline action's node with the entry's `to=` unless the action has its own."""
    if to is None:
        return node
    if node.is_scalar and isinstance(node.value, str):
        return mapping([("prompt", node), ("to", value_node(to, node.where))], node.where, text=node.value)
    if node.is_map and not any(k.key == "to" for k, _ in node.pairs or []):
        node.pairs = list(node.pairs or []) + [(scalar("to", node.where, "to"), value_node(to, node.where))]
    return node


def _action_node(action: Any, where: Where) -> Node:
    if isinstance(action, str):
        return scalar(action, where)
    if isinstance(action, dict):
        return value_node(action, where)
    pairs = _action_pairs(action)
    if pairs is None:
        return scalar(Opaque(action), where)
    if any(key.startswith("<") for key, _ in pairs):  # a Python handler: passed through as it is
        return scalar(Opaque(action), action.where)
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
    try:
        return action_kinds.action_kind(action).label(action)
    except TypeError:
        return type(action).__name__


# ---------------------------------------------------------------- the show


class Show:
    """A show written in Python; `load_show` compiles it like a YAML file."""

    def __init__(
        self,
        name: str,
        *,
        model: str | None = None,
        initial: Any = None,
        source: str | None = None,
        duration: str | float | None = None,
        loop: bool = False,
        vars: dict[str, Any] | None = None,
        lookahead: str | float | None = None,
        resolution: str | None = None,
        speed: str | None = None,
        tz: str | None = None,
        tempo: dict[str, Any] | None = None,
        go: dict[str, Any] | None = None,
        nodes: dict[str, list[str]] | None = None,
    ):
        self.where = caller()
        w = self.where
        self._top: list[tuple[str, Node]] = [("name", scalar(name, w))]
        if model is not None:  # else the show's sessions (`show.session(...)`) have the models
            self._top.append(("model", scalar(model, w)))
        if vars:
            self._top.insert(0, ("vars", value_node(dict(vars), w)))
        if initial is not None:
            self._top.append(("initial", self._initial(initial, w)))
        for key, value in (("resolution", resolution), ("speed", speed), ("source", source), ("duration", duration),
                           ("lookahead", lookahead), ("tz", tz), ("tempo", tempo), ("go", go), ("nodes", nodes)):
            if value is not None:
                self._top.append((key, value_node(value, w)))
        if loop:
            self._top.append(("loop", scalar(loop, w)))
        self._timeline: list[tuple[Node, Node]] = []
        self._cues: list[Node] = []
        self._problems: list[Problem] = []
        self._sessions: list[tuple[str, Node]] = []

    def session(self, name: str, *, model: str, source: str | None = None, initial: Any = None,
                resolution: str | None = None, speed: str | None = None) -> None:
        """A session of a show of several (`sessions:` in YAML): its own model, source and initial state.
        A show with sessions has no `model=` of its own."""
        where = caller()
        pairs: list[tuple[str, Node]] = [("model", scalar(model, where))]
        if initial is not None:
            pairs.append(("initial", self._initial(initial, where)))
        for key, value in (("source", source), ("resolution", resolution), ("speed", speed)):
            if value is not None:
                pairs.append((key, value_node(value, where)))
        self._sessions.append((name, mapping(pairs, where)))

    @staticmethod
    def _initial(initial: Any, where: Where) -> Node:
        if isinstance(initial, (str, dict)):
            return value_node(initial, where)
        pairs: list[tuple[str, Node]] = []
        for action in _flatten([initial]):
            pairs.extend(_action_pairs(action) or [(type(action).__name__, scalar(Opaque(action), where))])
        return mapping(pairs, where)

    # ------------------------------------------------------------ timeline and cues

    def timeline(self, t: str | float, *actions: Any, to: str | list[str] | None = None) -> None:
        """An entry of the GO list at show time `t`; `to`: the sessions of its actions that do not say."""
        where = caller()
        node = _actions_node(actions, where)
        if to is not None:
            node.items = [_with_to(item, to) for item in node.items or []]
        self._timeline.append((scalar(t, where), node))

    def __getattr__(self, name: str) -> Any:
        """`show.at(...)`, `show.every(...)`, `show.cron(...)`, `show.on(...)`, `show.reactive(...)`:
        each trigger kind's own builder call (`TriggerKind.build`), found by name in the registry."""
        kind = next((k for k in trigger_kinds.REGISTRY if k.python == name), None) if not name.startswith("_") else None
        if kind is None or kind.build is None:
            raise AttributeError(f"'Show' object has no attribute {name!r}")
        build = kind.build

        def call(*args: Any, **options: Any) -> Any:
            return build(self, caller(), *args, **options)

        call.__doc__ = build.__doc__
        return call

    def add_problem(self, problem: Problem) -> None:
        self._problems.append(problem)

    def add_cue(self, where: Where, trigger: list[tuple[str, Any]], actions: Iterable[Any], options: dict[str, Any]) -> None:
        pairs: list[tuple[str, Node]] = []
        name = options.pop("name", None)
        if name is not None:
            pairs.append(("name", scalar(name, where)))
        pairs += [(k, value_node(v, where)) for k, v in trigger]
        for key in ("when", "tz", "mode", "lookahead", "to"):
            if options.get(key) is not None:
                pairs.append((key, value_node(options.pop(key), where)))
        then = options.pop("then", None)
        if then:
            pairs.append(("then", _actions_node(then if isinstance(then, (list, tuple)) else [then], where)))
        for key in options:
            self._problems.append(Problem(where, f"unknown option '{key}': use name=, then=, when=, tz=, mode=, "
                                                 "lookahead= or to="))
        used: set[str] = set()
        body_to: Node | None = None  # the body actions' own `to=` (one for the body: it is one mapping)
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
                if key == "to":
                    names = [item.value for item in value.items or []]
                    if body_to is not None and names != [item.value for item in body_to.items or []]:
                        self._problems.append(Problem(value.where, "the actions of one cue go to one set of sessions: "
                                                                   "give them the same to=, or put the others in then=[...]"))
                    body_to = value
                    continue
                if key in used:
                    self._problems.append(
                        Problem(value.where, f"a cue takes one {key} action; put the next ones in then=[...]")
                    )
                    continue
                used.add(key)
                pairs.append((key, value))
        if body_to is not None:
            pairs.append((BODY_TO, scalar(Opaque(body_to), body_to.where)))
        self._cues.append(mapping(pairs, where))

    # ------------------------------------------------------------ compile

    def document(self) -> Node:
        """The show as the same tree a YAML file gives."""
        top = list(self._top)
        if self._sessions:
            top.append(("sessions", mapping(self._sessions, self.where)))
        if self._timeline:
            top.append(("timeline", Node(where=self.where, pairs=list(self._timeline))))
        if self._cues:
            top.append(("cues", sequence(self._cues, self.where)))
        return mapping(top, self.where)

    @property
    def problems(self) -> list[Problem]:
        """Mistakes found while the show was being built (the compiler finds the rest)."""
        return list(self._problems)
