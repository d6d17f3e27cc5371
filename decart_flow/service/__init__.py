"""The local Decart-compatible service: signaling, looks, stamp, avatar animation.

Everything loads on first use: the stamp needs numpy, the server classes aiortc, and the `run`
command imports `service.process` first thing to launch the child before its own heavy imports.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["LocalService", "ServiceProcess", "read_stamp", "write_stamp"]

_LAZY = {
    "LocalService": "decart_flow.service.app",
    "ServiceProcess": "decart_flow.service.process",
    "read_stamp": "decart_flow.service.stamp",
    "write_stamp": "decart_flow.service.stamp",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'decart_flow.service' has no attribute {name!r}")
