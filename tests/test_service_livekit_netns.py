"""The namespace helper every test of the 2026 path stands on (tests/netns.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from netns import CLIENT_ADDR, SERVICE_ADDR, Netns, unavailable

pytestmark = pytest.mark.skipif(unavailable() is not None, reason=unavailable() or "")

ECHO = """
import socket, sys
a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); a.bind((sys.argv[1], 0))
b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); b.bind((sys.argv[2], 0)); b.settimeout(5)
a.sendto(b"over the veth", b.getsockname())
data, src = b.recvfrom(100)
print(data.decode(), src[0])
"""


def _names() -> str:
    return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout


def test_namespace_has_the_pair_and_nothing_else() -> None:
    with Netns() as ns:
        links = ns.run(["ip", "-o", "link", "show"], timeout=10).stdout
        names = sorted(line.split(":")[1].strip().split("@")[0] for line in links.splitlines())
        assert names == ["lo", "veth-cli", "veth-svc"]
        routes = ns.run(["ip", "-4", "route", "show"], timeout=10).stdout
        assert "default" not in routes  # nothing can leave the namespace
        done = ns.run([sys.executable, "-c", ECHO, CLIENT_ADDR, SERVICE_ADDR], timeout=20)
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == ["over", "the", "veth", CLIENT_ADDR]
        name = ns.name
        assert name in _names()
    assert name not in _names()


def test_namespace_and_processes_go_even_when_the_test_fails() -> None:
    with pytest.raises(AssertionError):
        with Netns() as ns:
            name = ns.name
            sleeper = ns.popen(["sleep", "60"])
            assert False, "a failing test"
    assert sleeper.poll() is not None
    assert name not in _names()
