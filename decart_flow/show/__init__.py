"""The show language: YAML and Python shows, checked and turned into a `ShowModel`.

- `load_show(path)`: a .yaml/.yml or .py show -> `ShowModel`, or `ShowError` with every problem.
- `BUILTIN_KEYS`: keys the TUI keeps; `on: key K` may not use them.
- `decart_flow.show.runtime.check_action(action, show)`: the load-time checks for an action made
  while the show runs (the engine checks each action a reactive cue puts out).

Inside: `yamlsrc` (YAML -> nodes with line/col), `builder` (Python -> the same nodes), `compile`
(nodes -> model, every rule once), `checks` (files, cron, zones, models), `times`.
"""

from __future__ import annotations

from decart_flow.engine.triggers.event import BUILTIN_KEYS
from decart_flow.show.loader import load_show
from decart_flow.show.problems import Problem, ShowError

__all__ = ["BUILTIN_KEYS", "Problem", "ShowError", "load_show"]
