"""Beat places (`bar 17`, `beat 5`) and beat spans (`1 bar`, `2 beats`, `1/2 beat`) as a show writes them.

Both are read without knowing the show's `beats_per_bar` (a cue may be read before `tempo:`); they
become beats with `.beats(beats_per_bar)`. A text with no `bar`/`beat` word is not ours: plain
times keep meaning seconds (`is_beat_text` tells the loader which reader to use).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..show.problems import did_you_mean
from fractions import Fraction


UNITS = ("bar", "bars", "beat", "beats")
PLACE_FORMS = "use 'bar N' or 'beat N' (1-based), e.g. 'bar 17'"
SPAN_FORMS = "use a count of beats or bars, e.g. '1 bar', '2 beats', '1/2 beat'"
_NUMBER = r"(\d+(?:\.\d+)?|\d+/\d+|\.\d+)"
_PLACE = re.compile(rf"([a-z]+)\s+{_NUMBER}")
_SPAN = re.compile(rf"{_NUMBER}\s*([a-z]+)")
_WORD = re.compile(r"[a-z]+")


def _number(text: str) -> Fraction:
    return Fraction(text)


def _unit(word: str, forms: str, shown: str) -> str:
    if word in UNITS:
        return word.rstrip("s")
    raise ValueError(f"bad {'beat place' if forms is PLACE_FORMS else 'beat count'} '{shown}': "
                     f"'{word}' is not a unit{did_you_mean(word, UNITS)}; {forms}")


def is_beat_text(value: object) -> bool:
    """True for a text that means beats or bars (so a misspelt `bra 3` still gets our message)."""
    if not isinstance(value, str):
        return False
    words = _WORD.findall(value.lower())
    return any(w in UNITS or did_you_mean(w, UNITS) for w in words) and any(c.isdigit() for c in value)


@dataclass(frozen=True)
class BeatPlace:
    """`bar N` or `beat N`, both 1-based."""

    unit: str  # "bar" | "beat"
    n: Fraction

    def beats(self, beats_per_bar: int) -> float:
        return float((self.n - 1) * (beats_per_bar if self.unit == "bar" else 1))

    def __str__(self) -> str:
        return f"{self.unit} {self.n}"


@dataclass(frozen=True)
class BeatSpan:
    """A count of beats or bars."""

    unit: str  # "bar" | "beat"
    count: Fraction

    def beats(self, beats_per_bar: int) -> float:
        return float(self.count * (beats_per_bar if self.unit == "bar" else 1))

    def __str__(self) -> str:
        return f"{self.count} {self.unit}{'' if self.count == 1 else 's'}"


def parse_place(value: object) -> BeatPlace:
    """`bar N` / `beat N`; ValueError with a user-facing message."""
    shown = str(value).strip()
    match = _PLACE.fullmatch(shown.lower())
    if not match:
        raise ValueError(f"bad beat place '{shown}': {PLACE_FORMS}")
    unit = _unit(match.group(1), PLACE_FORMS, shown)
    n = _number(match.group(2))
    if n < 1:
        raise ValueError(f"bad beat place '{shown}': bars and beats count from 1")
    return BeatPlace(unit, n)


def parse_span(value: object, *, allow_zero: bool = False) -> BeatSpan:
    """`1 bar`, `2 beats`, `1/2 beat`, `1.5 beats`; ValueError with a user-facing message."""
    shown = str(value).strip()
    match = _SPAN.fullmatch(shown.lower())
    if not match:
        raise ValueError(f"bad beat count '{shown}': {SPAN_FORMS}")
    unit = _unit(match.group(2), SPAN_FORMS, shown)
    try:
        count = _number(match.group(1))
    except ZeroDivisionError:
        raise ValueError(f"bad beat count '{shown}': a fraction cannot divide by 0") from None
    if count < 0 or (count == 0 and not allow_zero):
        raise ValueError(f"bad beat count '{shown}': it must be more than 0")
    return BeatSpan(unit, count)


def read_place(c: Any, node: Any, what: str) -> BeatPlace | None:
    """A beat place from a show's node, or None after one problem at the node (`c`: the compiler)."""
    return _read(c, node, what, parse_place)


def read_span(c: Any, node: Any, what: str) -> BeatSpan | None:
    return _read(c, node, what, parse_span)


def _read(c: Any, node: Any, what: str, parse: Any) -> Any:
    try:
        return parse(_text_of(node))
    except ValueError as exc:
        c.error(node.where, f"{what}: {exc}")
        return None


def _text_of(node: Any) -> str:
    text = node.scalar_text() if node.is_scalar else None
    return text if text is not None else node.kind()


def accepts(node: Any) -> bool:
    """For a key shared with a seconds kind (`every`, `at`): is this value ours?"""
    return bool(node.is_scalar and is_beat_text(node.scalar_text()))
