"""Which service a run talks to, and with which key: the embedded local one unless told otherwise.

Order: `--backend URL` (or `local`, or `cloud`), else the local service when no key is known, else
the Decart cloud with `--api-key` / `DECART_API_KEY`. The local service gets a fresh random key for this run
only, so nothing else on the machine can join the session.

Start-up: the service child spends about a second importing aiortc, av and numpy, as the `run`
command itself does. `launch_local_early()`, called right after the arguments are parsed and
before those imports, starts the child so both import at once (on two cores); `open_backend`
then adopts that child instead of spawning one. This module imports little for that reason.
"""

from __future__ import annotations

import atexit
import os
import secrets
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..service.process import ServiceProcess

CLOUD_URL = "wss://api.decart.ai"
PROTOCOLS = ("livekit", "p2p")


class BackendError(Exception):
    """A backend that cannot be used: the message says how to fix it."""


@dataclass
class Backend:
    url: str
    api_key: str = field(repr=False)
    local: bool = False
    cloud: bool = False
    _service: object | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        """What may be printed: never the key."""
        from ..realtime.urls import redact_url

        where = "embedded local service" if self.local else "Decart cloud" if self.cloud else "service"
        return f"{where} at {redact_url(self.url)}"

    def protocol_for(self, model: Any, override: str | None = None) -> str:
        """The protocol a session of `model` uses here: `override`, else the client's own rule
        (`realtime.client.default_protocol`: peer-to-peer on loopback and for 2025 models)."""
        from ..realtime.client import default_protocol

        return override or default_protocol(model, self.url)

    @property
    def died(self) -> str | None:
        """How an embedded service child that ended by itself ended; None while it runs (or none is ours)."""
        service = self._service
        if service is None or service.running:  # type: ignore[attr-defined]
            return None
        code = service.exitcode  # type: ignore[attr-defined]
        if code is None:
            return "gone"
        return f"killed by signal {-code}" if code < 0 else f"exit code {code}"

    async def restart(self) -> None:
        """Start the embedded service again on the same port and key, so the client's reconnect finds it."""
        import asyncio

        service = self._service
        if service is None:
            raise BackendError("this run does not own its service: it cannot restart it")
        await asyncio.to_thread(_stop_quietly, service)  # reap the dead child, close its pipe
        try:
            url = await asyncio.to_thread(service.start)  # type: ignore[attr-defined]
        except Exception as exc:  # noqa: BLE001 - one line for the journal
            raise BackendError(f"the embedded local service could not be restarted: {exc}") from None
        if url != self.url:
            raise BackendError(f"the embedded local service came back at another address ({url})")

    async def close(self) -> None:
        import asyncio

        service, self._service = self._service, None
        if service is not None:
            await asyncio.to_thread(service.stop)  # type: ignore[attr-defined]


def wants_local(backend: str | None, api_key: str | None) -> bool:
    """Whether `open_backend(backend, api_key)` would start the embedded service."""
    key = api_key or os.environ.get("DECART_API_KEY") or None
    return backend in (None, "", "local") and (backend == "local" or key is None)


def targets_cloud(backend: str | None, api_key: str | None) -> bool:
    """Whether the show will play on Decart's cloud (then retired models and audio are errors)."""
    if backend == "cloud":
        return True
    return not wants_local(backend, api_key) and backend in (None, "")


async def open_backend(backend: str | None, api_key: str | None, faults: tuple[str, ...] = ()) -> Backend:
    key = api_key or os.environ.get("DECART_API_KEY") or None
    if wants_local(backend, api_key):
        return await _start_local(faults)
    if backend in (None, "", "cloud"):
        if key is None:
            raise BackendError("--backend cloud needs a key: pass --api-key KEY or set DECART_API_KEY")
        return Backend(CLOUD_URL, key, cloud=True)
    assert backend is not None
    if not backend.startswith(("ws://", "wss://", "http://", "https://")):
        raise BackendError(f"--backend {backend!r}: use 'local', 'cloud' or a ws://, wss://, http:// or https:// URL")
    if key is None:
        raise BackendError("--backend URL needs a key: pass --api-key KEY or set DECART_API_KEY")
    return Backend(backend, key)


# ---------------------------------------------------------------------------- the early child

_early: ServiceProcess | None = None
_early_lock = threading.Lock()  # the TUI opens the backend on its show thread


def launch_local_early() -> None:
    """Spawn the embedded service now, without waiting; the next local `open_backend` adopts it.

    Never raises: if the launch fails, `open_backend` starts a service the usual way and reports
    that failure. A child nobody adopts is stopped by `discard_early()` or at exit.
    """
    global _early
    from ..service.process import ServiceProcess

    with _early_lock:
        if _early is not None:
            return
        service = ServiceProcess(port=0, api_key=_new_key())
        try:
            service.launch()
        except Exception:  # noqa: BLE001 - the ordinary start will meet (and report) the same trouble
            _stop_quietly(service)
            return
        _early = service


def discard_early() -> None:
    """Stop an early child that no run adopted (the show did not validate, the command failed)."""
    global _early
    with _early_lock:
        service, _early = _early, None
    if service is not None:
        _stop_quietly(service)


atexit.register(discard_early)


def _adopt_early(faults: tuple[str, ...]) -> ServiceProcess | None:
    """The early child, if there is one and it fits (it runs without faults)."""
    global _early
    if faults:
        discard_early()
        return None
    with _early_lock:
        service, _early = _early, None
    return service


def _new_key() -> str:
    return "local_" + secrets.token_urlsafe(18)


def _stop_quietly(service: ServiceProcess) -> None:
    try:
        service.stop()
    except Exception:  # noqa: BLE001 - a child that never started has nothing to stop
        pass


async def _start_local(faults: tuple[str, ...]) -> Backend:
    import asyncio

    from ..service.process import ServiceProcess

    service = _adopt_early(faults)
    if service is None:
        service = ServiceProcess(port=0, api_key=_new_key(), faults=faults)
    try:
        url = await asyncio.to_thread(service.start)  # an adopted child is launched: this only waits
    except Exception as exc:  # noqa: BLE001 - any failure to start is one line for the user
        await asyncio.to_thread(_stop_quietly, service)
        raise BackendError(f"the embedded local service did not start: {type(exc).__name__}: {exc}") from None
    assert service.api_key is not None
    return Backend(url, service.api_key, local=True, _service=service)
