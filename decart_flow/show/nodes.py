"""The document tree both front ends produce: values that remember where they were written.

The YAML reader builds it from the file (line and column of every key and value); the Python
builder builds it from calls (the caller's line). One compiler (`compile.py`) reads it, so a
Python show is checked by exactly the rules a YAML show is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from decart_flow.show.model import Where


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
