"""The show language: YAML and Python shows, checked and turned into a `ShowModel`.

- `load_show(path)`: a .yaml/.yml or .py show -> `ShowModel`, or `ShowError` with every problem.
- `BUILTIN_KEYS`: keys the TUI keeps; `on: key K` may not use them.
- `decart_flow.show.runtime.check_action(action, show)`: the load-time checks for an action made
  while the show runs (the engine checks each action a reactive cue puts out).

Inside: `yamlsrc` (YAML -> nodes with line/col), `builder` (Python -> the same nodes), `compile`
(nodes -> model, asking the kinds for theirs), `reading` (what a kind reads with), `checks` (files, cron, zones, models), `times`.
"""

from __future__ import annotations

import importlib
from typing import Any

from decart_flow.show.problems import Problem, ShowError

# Imported when first used: the kinds' modules (engine/triggers, engine/actions) read the show
# model, and the compiler reads the kinds' registries, so the package itself must not load either.
_LAZY = {"load_show": "decart_flow.show.loader", "BUILTIN_KEYS": "decart_flow.engine.triggers.event"}

__all__ = ["BUILTIN_KEYS", "Problem", "ShowError", "load_show"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
