"""A registry of kinds (triggers, actions): the kinds in order, each found by its model's class."""

from __future__ import annotations

from typing import Any, Generic, Iterable, Iterator, Protocol, TypeVar


class _Kind(Protocol):
    model: type


K = TypeVar("K", bound=_Kind)


class Kinds(Generic[K]):
    def __init__(self, what: str, kinds: Iterable[K]) -> None:
        self.what = what
        self.all: tuple[K, ...] = tuple(kinds)
        self._by_model = {kind.model: kind for kind in self.all}

    def __iter__(self) -> Iterator[K]:
        return iter(self.all)

    def of(self, obj: Any) -> K:
        """The kind of a model object (a trigger, an action); TypeError when none reads it."""
        try:
            return self._by_model[type(obj)]
        except KeyError:
            raise TypeError(f"no {self.what} kind for {type(obj).__name__}") from None
