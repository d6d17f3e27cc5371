"""cycle / shuffle / random, seeded from the show and cue names so `plan` shows what `run` sends."""

from __future__ import annotations

import hashlib
import random
import re
from typing import Sequence

from ..show.model import Choice, Text

_ARG = re.compile(r"\{\{|\}\}|\{(\d+)\}")  # `{{` and `}}` are braces; `{0}` an event argument


class Chooser:
    """One per (cue, place in the cue): remembers where its cycle or shuffle is."""

    def __init__(self, choice: Choice, seed: str) -> None:
        self.choice = choice
        self.rng = random.Random(int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big"))
        self.index = 0
        self.order: list[str] = []
        self.items = choice.items
        if choice.kind == "cycle":  # the common kind, without the checks (a month of plan asks 130,000 times)
            self.next = self._cycle  # type: ignore[method-assign]

    def _cycle(self) -> str:
        items = self.items
        item = items[self.index % len(items)]
        self.index += 1
        return item

    def next(self) -> str:
        items = self.choice.items
        if self.choice.kind == "random":
            return self.rng.choice(items)
        if self.choice.kind == "cycle":
            return self._cycle()
        if not self.order:
            self.order = list(items)
            self.rng.shuffle(self.order)
        return self.order.pop(0)


class Choices:
    def __init__(self, show_name: str) -> None:
        self.show_name = show_name
        self._choosers: dict[tuple[str, str], Chooser] = {}

    def resolve(self, text: Text, cue: str, place: str, args: Sequence[object] = ()) -> str:
        """The text to send now: the next item of a choice, with `{0}`, `{1}` filled from `args`."""
        if type(text) is not str and isinstance(text, Choice):
            key = (cue, place)
            chooser = self._choosers.get(key)
            if chooser is None:
                chooser = self._choosers[key] = Chooser(text, f"{self.show_name}\0{cue}\0{place}")
            text = chooser.next()
        return fill(text, args) if args or _ESCAPED in text or "}}" in text else text


_ESCAPED = "{{"


def fill(text: str, args: Sequence[object]) -> str:
    """`{0}`, `{1}` from the event's arguments; `{{` and `}}` (kept by the loader for this) become braces."""
    if "{" not in text and "}}" not in text:
        return text

    def sub(m: re.Match[str]) -> str:
        if m.group(1) is None:
            return m.group(0)[0]
        i = int(m.group(1))
        return str(args[i]) if i < len(args) else m.group(0)

    return _ARG.sub(sub, text)
