"""Problems found in a show, and the one error that carries them all.

A user's mistake is reported as `FILE:LINE:COL: message`, every problem at once, so that one
`validate` run shows everything to fix.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Iterable

from decart_flow.show.model import Where


@dataclass(frozen=True)
class Problem:
    where: Where
    message: str

    def __str__(self) -> str:
        # One line per problem, whatever the message holds.
        text = " ".join(self.message.split())
        return f"{self.where}: {text}"


class ShowError(Exception):
    """The show cannot be used; `.problems` says where and why."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems) or "invalid show")


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """' (did you mean 'x'?)' when a choice is close to the word, else ''."""
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
