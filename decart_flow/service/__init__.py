"""The local Decart-compatible service: signaling, looks, stamp, avatar animation.

`read_stamp` is cheap to import; the server classes pull in aiortc, so they load on first use.
"""

from __future__ import annotations

from typing import Any

from decart_flow.service.stamp import read_stamp, write_stamp

__all__ = ["LocalService", "ServiceProcess", "read_stamp", "write_stamp"]


def __getattr__(name: str) -> Any:
    if name == "LocalService":
        from decart_flow.service.app import LocalService

        return LocalService
    if name == "ServiceProcess":
        from decart_flow.service.process import ServiceProcess

        return ServiceProcess
    raise AttributeError(name)
