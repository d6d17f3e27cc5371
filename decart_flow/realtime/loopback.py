"""Host ICE candidates on one address (127.0.0.1, or the service's), for one peer connection at a time.

aioice's `get_host_addresses` leaves 127.0.0.1 out, so two peers on this machine would pair over
the LAN address (or find nothing in a sandbox with no LAN), and a service in a network namespace
must offer the one address it listens on. We wrap that function once, for the whole process; the
wrapper answers with the chosen address only inside `gathering_on()` / `loopback_candidates()`,
which set a context variable. aiortc gathers in `setLocalDescription`, in tasks that copy the
caller's context, so the effect stays in the connection that asked for it: other connections,
loops and threads gather as usual.

The one owner of the patch: the realtime client (its offer), the monitor page and the local
service (its answers, service/loopback.py) all gather through it:

    with loopback_candidates():
        await pc.setLocalDescription(offer)
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from typing import Callable, Iterator

import aioice
import aioice.ice

LOOPBACK = "127.0.0.1"

#: the addresses gathering offers in this context; None: aioice's own choice
_only: contextvars.ContextVar[tuple[str, ...] | None] = contextvars.ContextVar("decart_flow_gather_on", default=None)
_install_lock = threading.Lock()


def _wrap(original: Callable[..., list[str]]) -> Callable[..., list[str]]:
    def get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        only = _only.get()
        if only is not None:
            return [a for a in only if (use_ipv6 if ":" in a else use_ipv4)]
        return original(use_ipv4=use_ipv4, use_ipv6=use_ipv6)

    get_host_addresses.__wrapped__ = original  # type: ignore[attr-defined]
    get_host_addresses._decart_flow_loopback = True  # type: ignore[attr-defined]
    return get_host_addresses


class AioiceChanged(RuntimeError):
    """aioice no longer gathers host addresses the way the loopback patch wraps."""


CHECKED = "aioice 0.13"  # what the patch was read from (pyproject pins it)


def check_aioice() -> None:
    """Raise `AioiceChanged` unless `Connection.gather_candidates` still looks host addresses up
    through the module-level `get_host_addresses(use_ipv4, use_ipv6)` that the patch wraps.
    Wrapping a function nobody calls would silently put LAN
    addresses back into the offer, and a sandbox without a LAN would find no candidates at all."""
    import inspect

    def changed(what: str) -> AioiceChanged:
        version = getattr(aioice, "__version__", "?")
        return AioiceChanged(f"aioice {version}: {what}; the loopback patch (realtime/loopback.py) "
                             f"was checked against {CHECKED} (pinned in pyproject.toml): update the patch or the pin")

    fn = getattr(aioice.ice, "get_host_addresses", None)
    if not callable(fn):
        raise changed("aioice.ice.get_host_addresses is gone")
    params = list(inspect.signature(inspect.unwrap(fn)).parameters)
    if params != ["use_ipv4", "use_ipv6"]:
        raise changed(f"get_host_addresses takes ({', '.join(params)}), not (use_ipv4, use_ipv6)")
    gather = getattr(getattr(aioice.ice, "Connection", None), "gather_candidates", None)
    if gather is None or "get_host_addresses" not in gather.__code__.co_names:
        raise changed("Connection.gather_candidates no longer calls the module's get_host_addresses")


def install() -> None:
    """Wrap aioice's host-address lookup (idempotent, thread-safe); `AioiceChanged` if it changed shape."""
    with _install_lock:
        current = aioice.ice.get_host_addresses
        if not getattr(current, "_decart_flow_loopback", False):
            check_aioice()
        current = aioice.ice.get_host_addresses
        if not getattr(current, "_decart_flow_loopback", False):
            aioice.ice.get_host_addresses = _wrap(current)


@contextlib.contextmanager
def gathering_on(address: str | None) -> Iterator[None]:
    """Within this block (and tasks started in it), ICE host candidates are on `address` only.

    None or a wildcard address (0.0.0.0, ::) leaves aioice's own choice of interfaces, even
    inside an outer block that chose one.
    """
    install()
    token = _only.set(None if address in (None, "", "0.0.0.0", "::") else (address,))
    try:
        yield
    finally:
        _only.reset(token)


def loopback_candidates(enabled: bool = True) -> contextlib.AbstractContextManager[None]:
    """Within this block (and tasks started in it), ICE host candidates are 127.0.0.1 only."""
    return gathering_on(LOOPBACK if enabled else None)
