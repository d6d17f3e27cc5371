"""The engine: plays a show as timed and event-driven calls on a session.

`Engine` plays a show (real time for `run`, virtual time for tests); `engine.plan.plan` runs the
same engine in virtual time and lists what it would send. The names below are imported when first used, so
that the show room can read the kinds' modules (engine/triggers, engine/actions) without loading
the whole engine.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "Clock": ".clock", "VirtualClock": ".clock", "Engine": ".engine", "VirtualEventLoop": ".loop",
    "Firing": ".plan", "VirtualSession": ".plan",
    "PastFiring": ".state", "ShowState": ".state", "Upcoming": ".state",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
