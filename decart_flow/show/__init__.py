"""The show language: YAML and Python shows, checked and turned into a `ShowModel`."""

from __future__ import annotations

from decart_flow.show.compile import BUILTIN_KEYS
from decart_flow.show.loader import load_show
from decart_flow.show.problems import Problem, ShowError

__all__ = ["BUILTIN_KEYS", "Problem", "ShowError", "load_show"]
