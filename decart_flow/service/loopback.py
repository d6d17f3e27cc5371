"""Keep WebRTC media on this machine: a client's remote candidates elsewhere are ignored.

What the service gathers (127.0.0.1, or the address it listens on) is realtime/loopback.py's
`gathering_on`; this side filters what a client offers, so no check goes off the machine.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import TYPE_CHECKING, Any

import ifaddr

if TYPE_CHECKING:
    from aiortc import RTCIceCandidate

log = logging.getLogger(__name__)


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


__all__ = ["keep_local_candidates", "is_local_candidate", "add_candidate"]


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
