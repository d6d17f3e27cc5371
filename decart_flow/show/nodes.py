"""The document tree both front ends produce: values that remember where they were written.

The YAML reader builds it from the file (line and column of every key and value); the Python
builder builds it from calls (the caller's line). One compiler (`compile.py`) reads it, so a
Python show is checked by exactly the rules a YAML show is.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any

from decart_flow.show.model import Choice, Where

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


@dataclass
class Node:
    """A mapping (`pairs`), a sequence (`items`) or a scalar (`value`, `raw` = its source text)."""

    where: Where
    value: Any = None
    raw: str | None = None
    pairs: list[tuple["Node", "Node"]] | None = None
    items: list["Node"] | None = None
    text: str = ""  # the source text of the whole node, for labels

    @property
    def is_map(self) -> bool:
        return self.pairs is not None

    @property
    def is_seq(self) -> bool:
        return self.items is not None

    @property
    def is_scalar(self) -> bool:
        return self.pairs is None and self.items is None

    @property
    def key(self) -> str:
        """A mapping key as the user wrote it (so `on:` stays 'on', not YAML 1.1's True)."""
        return self.raw if self.raw is not None else str(self.value)

    def scalar_text(self) -> str | None:
        """A scalar as text as written (`yes` stays 'yes', `1:30` stays '1:30'); None for null."""
        if not self.is_scalar or self.value is None:
            return None
        if self.raw is not None:
            return self.raw
        return self.value if isinstance(self.value, str) else str(self.value)

    def kind(self) -> str:
        return "a mapping" if self.is_map else "a list" if self.is_seq else "a value"


def scalar(value: Any, where: Where, raw: str | None = None) -> Node:
    return Node(where=where, value=value, raw=raw)


def mapping(pairs: list[tuple[str, Node]], where: Where, text: str = "") -> Node:
    return Node(where=where, pairs=[(scalar(k, v.where, k), v) for k, v in pairs], text=text)


def sequence(items: list[Node], where: Where) -> Node:
    return Node(where=where, items=list(items))


@dataclass
class Opaque:
    """A Python object passed through the tree untouched (a CallAction, a ReactiveTrigger)."""

    obj: Any
    extra: dict[str, Any] = field(default_factory=dict)


def caller() -> Where:
    """Where the user wrote the call: the first frame outside decart_flow (the builder and the kinds)."""
    frame = sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE):
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


def value_node(value: Any, where: Where) -> Node:
    """A Python value as the node a show file would give for it."""
    if isinstance(value, Node):
        return value
    if isinstance(value, Opaque):
        return scalar(value, where)
    if isinstance(value, dict):
        return mapping([(str(k), value_node(v, where)) for k, v in value.items()], where)
    if isinstance(value, (list, tuple)):
        return sequence([value_node(v, where) for v in value], where)
    if isinstance(value, os.PathLike):
        return scalar(os.fspath(value), where)
    if value is None or isinstance(value, (str, int, float, bool)):
        return scalar(value, where)
    return scalar(Opaque(value), where)


def text_node(text: Any, where: Where) -> Node:
    """A prompt text or a `Choice` as a show file writes it."""
    if isinstance(text, Choice):
        return mapping([(text.kind, value_node(list(text.items), where))], where)
    return value_node(text, where)
