"""Which service a run talks to, and with which key: the embedded local one unless told otherwise.

Order: `--backend URL` (or `local`), else the local service when no key is known, else the Decart
cloud with `--api-key` / `DECART_API_KEY`. The local service gets a fresh random key for this run
only, so nothing else on the machine can join the session.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from dataclasses import dataclass, field

from ..realtime.urls import redact_url

CLOUD_URL = "wss://api3.decart.ai"


class BackendError(Exception):
    """A backend that cannot be used: the message says how to fix it."""


@dataclass
class Backend:
    url: str
    api_key: str = field(repr=False)
    local: bool = False
    _service: object | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        """What may be printed: never the key."""
        where = "embedded local service" if self.local else "service"
        return f"{where} at {redact_url(self.url)}"

    async def close(self) -> None:
        service, self._service = self._service, None
        if service is not None:
            await asyncio.to_thread(service.stop)  # type: ignore[attr-defined]


async def open_backend(backend: str | None, api_key: str | None, faults: tuple[str, ...] = ()) -> Backend:
    key = api_key or os.environ.get("DECART_API_KEY") or None
    if backend in (None, "", "local") and (backend == "local" or key is None):
        return await _start_local(faults)
    if backend in (None, ""):
        return Backend(CLOUD_URL, key or "")
    assert backend is not None
    if not backend.startswith(("ws://", "wss://", "http://", "https://")):
        raise BackendError(f"--backend {backend!r}: use 'local' or a ws://, wss://, http:// or https:// URL")
    if key is None:
        raise BackendError("--backend URL needs a key: pass --api-key KEY or set DECART_API_KEY")
    return Backend(backend, key)


async def _start_local(faults: tuple[str, ...]) -> Backend:
    from ..service.process import ServiceProcess

    key = "local_" + secrets.token_urlsafe(18)
    service = ServiceProcess(port=0, api_key=key, faults=faults)
    try:
        url = await asyncio.to_thread(service.start)
    except Exception as exc:  # noqa: BLE001 - any failure to start is one line for the user
        try:
            await asyncio.to_thread(service.stop)
        except Exception:  # noqa: BLE001 - a child that never started has nothing to stop
            pass
        raise BackendError(f"the embedded local service did not start: {type(exc).__name__}: {exc}") from None
    return Backend(url, key, local=True, _service=service)
