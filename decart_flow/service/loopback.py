"""Keep WebRTC media on this machine: gather 127.0.0.1 only, ignore remote candidates elsewhere.

aioice leaves 127.0.0.1 out of its host candidates and offers every interface instead. We wrap
`aioice.ice.get_host_addresses` once, and the wrapper answers "127.0.0.1 only" just for ICE
gathering that runs inside `loopback_gathering()` (a context variable, so it follows our own
tasks and nobody else's). Everything else in the process keeps aioice's behaviour.
"""

from __future__ import annotations

import contextlib
import contextvars
import ipaddress
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Callable

import aioice.ice
import ifaddr

from decart_flow.realtime.loopback import check_aioice

if TYPE_CHECKING:
    from aiortc import RTCIceCandidate

log = logging.getLogger(__name__)

_GATHER_ON: contextvars.ContextVar[tuple[str, ...] | None] = contextvars.ContextVar("gather_on", default=None)
_installed = False


def _install() -> None:
    global _installed
    if _installed:
        return
    check_aioice()  # fails loudly when aioice changed shape
    original: Callable[[bool, bool], list[str]] = aioice.ice.get_host_addresses

    def get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        only = _GATHER_ON.get()
        if only is not None:
            return list(only)
        return original(use_ipv4, use_ipv6)

    aioice.ice.get_host_addresses = get_host_addresses
    _installed = True


@contextlib.contextmanager
def loopback_gathering() -> Iterator[None]:
    """ICE gathering started in this block (e.g. `setLocalDescription`) binds 127.0.0.1 only."""
    with gathering_on("127.0.0.1"):
        yield


@contextlib.contextmanager
def gathering_on(address: str) -> Iterator[None]:
    """ICE gathering started in this block offers candidates on `address` only.

    The LiveKit side listens on one address (`serve --host`) and offers candidates there only: in
    a test's network namespace that is the veth end, never an interface of the machine. A
    wildcard address (0.0.0.0, ::) leaves aioice's own choice of interfaces.
    """
    _install()
    wildcard = address in ("0.0.0.0", "::", "")
    token = _GATHER_ON.set(None if wildcard else (address,))
    try:
        yield
    finally:
        _GATHER_ON.reset(token)


def _local_addresses() -> set[str]:
    addresses = {"127.0.0.1", "::1"}
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            addresses.add(ip.ip if isinstance(ip.ip, str) else ip.ip[0])
    return addresses


def is_local_candidate(candidate_line: str) -> bool:
    """True when an SDP candidate points at this machine, so checks to it stay on the host.

    mDNS (.local) names are dropped too: resolving them would multicast on the network.
    """
    parts = candidate_line.removeprefix("a=").removeprefix("candidate:").split()
    if len(parts) < 6:
        return False
    host = parts[4]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or host in _local_addresses()


def keep_local_candidates(sdp: str) -> str:
    """The SDP without remote candidates that would send packets off this machine."""
    lines = sdp.splitlines()
    kept = [line for line in lines if not line.startswith("a=candidate:") or is_local_candidate(line)]
    return "\r\n".join(kept) + "\r\n"


__all__ = ["keep_local_candidates", "is_local_candidate", "loopback_gathering", "gathering_on", "add_candidate"]


async def add_candidate(pc: Any, line: str, mid: object, index: object, tag: str) -> None:
    """A remote candidate of either era's client into `pc`: one on another machine is ignored and a
    malformed one is one warning line, so neither sends a packet off this machine nor ends a session."""
    if not is_local_candidate(line):
        log.debug("%s: ignored a candidate that is not on this machine", tag)
        return
    candidate = parse_candidate(line, mid, index)
    if candidate is None:
        log.warning("%s: skipped a malformed candidate %r", tag, line[:80])
        return
    await pc.addIceCandidate(candidate)


def parse_candidate(line: str, mid: object, index: object) -> RTCIceCandidate | None:
    """An SDP candidate line with its sdpMid / sdpMLineIndex, or None when any of it is malformed
    (a bad port, a number where a name goes): the caller logs one line and skips it."""
    from aiortc.sdp import candidate_from_sdp

    if mid is not None and not isinstance(mid, str):
        return None
    if index is not None and (not isinstance(index, int) or isinstance(index, bool) or index < 0):
        return None
    try:
        candidate = candidate_from_sdp(line.removeprefix("candidate:"))
    except (ValueError, IndexError, AssertionError):  # aiortc asserts on a line it cannot split
        return None
    candidate.sdpMid = mid
    candidate.sdpMLineIndex = index
    if mid is None and index is None:
        candidate.sdpMLineIndex = 0
    return candidate
