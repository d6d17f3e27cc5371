"""What a kind's `read` gets from the compiler: the readers of show-file values, and where it is.

The kinds (engine/triggers, engine/actions) read their keys through this, not through `Compiler`
itself, so that they depend on the show room's reading rules and not on the compiler's module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol

from decart_flow.show.model import Text, Where
from decart_flow.show.nodes import Node

Found = dict[str, tuple[Node, Node]]  # a mapping's (key node, value node) by key


@dataclass(frozen=True)
class Ctx:
    """What an action may contain where it is written."""

    args_ok: bool = False  # `{0}` allowed: the cue fires on osc/http/midi
    in_then: bool = False  # `wait:` allowed
    to: tuple[str, ...] | None = None  # the cue's `to:`: the sessions its actions go to unless they say
    to_where: Where | None = None  # ...and where it is written


class Reader(Protocol):
    """The compiler's readers: each reports a `FILE:LINE:COL` problem and returns None when the value is bad."""

    tz: str | None  # the show's `tz:`
    cue_names_wanted: list[tuple[str, Where]]  # `on: after NAME`: checked once every cue is read

    def error(self, where: Where, message: str) -> None: ...

    def text(self, node: Node, what: str) -> str | None: ...

    def prompt(self, node: Node, ctx: Ctx) -> Text | None: ...  # a text or a cycle/shuffle/random list

    def prompt_text(self, node: Node, ctx: Ctx, what: str = "prompt") -> str | None: ...

    def enhance(self, found: Found) -> bool: ...

    def offset(self, node: Node) -> float | None: ...  # a show time

    def duration(self, node: Node, allow_zero: bool = False) -> float | None: ...

    def cue_tz(self, found: Found) -> str | None: ...

    def image(self, node: Node, what: str = "image") -> str | None: ...  # a checked path or URL

    def file(self, node: Node, what: str, check: Callable[[str], str | None]) -> str | None: ...

    def boolean(self, node: Node, what: str) -> bool | None: ...

    def check_keys(self, node: Node, allowed: tuple[str, ...], what: str) -> Found: ...  # unknown keys reported

    def uses_beats(self, where: Where) -> None: ...  # a beat place or count: the show needs `tempo:`

    def beats_per_bar(self) -> int: ...  # the show's `tempo:` (4 without one)

    def bpm(self) -> float: ...  # the show's `tempo:` bpm (120 without one): what `plan` lays out

    def __getattr__(self, name: str) -> Any: ...
