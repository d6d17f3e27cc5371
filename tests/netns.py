"""A network namespace of the test's own, with a veth pair on test addresses.

libwebrtc (inside both LiveKit clients) gathers no ICE candidates on a loopback interface, so
tests of the 2026 path cannot keep media on 127.0.0.1. Instead each test makes a namespace with
only `lo` and one veth pair, both ends inside it, on 10.200.0.1/24 and 10.200.0.2/24: libwebrtc
sees an ordinary interface, and no packet can leave the namespace (it has no other link and no
route out). The machine's own interfaces are never used.

    with Netns() as ns:
        service = ns.popen(["decart-flow", "serve", "--host", ns.service_addr, ...])
        done = ns.run([python, "drive.py", "--url", f"http://{ns.service_addr}:{port}"])

`Netns(veth=False)` has only `lo`, with multicast on and the multicast range routed to it: Ableton
Link's peers find each other there (Link multicasts on every interface, so its tests must never run
outside a namespace).

Processes run inside through `ip netns exec`. Leaving the `with` (also on a failed assertion)
kills every process started through it and deletes the namespace; namespaces left by a test run
that was killed outright are swept the next time a Netns is made. Needs root (CI is root);
`unavailable()` gives the reason to skip when it cannot work here.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

PREFIX = "dflow-t"
SERVICE_ADDR = "10.200.0.1"
CLIENT_ADDR = "10.200.0.2"
_counter = itertools.count()
_NAME = re.compile(rf"^{PREFIX}(\d+)-\d+$")


class NetnsError(RuntimeError):
    """A namespace could not be made or a command in it could not start."""


def unavailable() -> str | None:
    """Why a namespace cannot be made here (a skip reason), or None when it can."""
    if os.geteuid() != 0:
        return "network namespaces need root (CI runs as root)"
    if shutil.which("ip") is None:
        return "the `ip` tool (iproute2) is not installed"
    return None


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise NetnsError(f"ip {' '.join(args)}: {done.stderr.strip() or done.stdout.strip()}")
    return done


def sweep_stale() -> list[str]:
    """Delete namespaces of ours whose creating process is gone; the names deleted."""
    listed = _ip("netns", "list", check=False).stdout.split("\n")
    gone: list[str] = []
    for line in listed:
        name = line.split(" ", 1)[0].strip()
        match = _NAME.match(name)
        if match is None:
            continue
        pid = int(match.group(1))
        if pid == os.getpid() or _alive(pid):
            continue  # a live run's namespace: its owner deletes it
        _kill_inside(name)
        _ip("netns", "del", name, check=False)
        gone.append(name)
    return gone


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_inside(name: str) -> None:
    pids = _ip("netns", "pids", name, check=False).stdout.split()
    for pid in pids:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass


class Netns:
    """One namespace with `lo` up and a veth pair on SERVICE_ADDR and CLIENT_ADDR (both inside)."""

    def __init__(self, veth: bool = True) -> None:
        self.name = f"{PREFIX}{os.getpid()}-{next(_counter)}"
        self.veth = veth
        self.service_addr = SERVICE_ADDR
        self.client_addr = CLIENT_ADDR
        self._procs: list[subprocess.Popen[Any]] = []
        self._made = False

    # -- lifetime -----------------------------------------------------------------------------

    def create(self) -> "Netns":
        reason = unavailable()
        if reason is not None:
            raise NetnsError(reason)
        sweep_stale()
        _ip("netns", "add", self.name)
        self._made = True
        try:
            n = self.name
            _ip("-n", n, "link", "set", "lo", "up")
            if not self.veth:
                self.route_multicast()
                return self
            _ip("-n", n, "link", "add", "veth-svc", "type", "veth", "peer", "name", "veth-cli")
            _ip("-n", n, "addr", "add", f"{SERVICE_ADDR}/24", "dev", "veth-svc")
            _ip("-n", n, "addr", "add", f"{CLIENT_ADDR}/24", "dev", "veth-cli")
            _ip("-n", n, "link", "set", "veth-svc", "up")
            _ip("-n", n, "link", "set", "veth-cli", "up")
            self._wait_addresses()
        except BaseException:
            self.delete()
            raise
        return self

    def _wait_addresses(self, timeout: float = 5.0) -> None:
        """Until both addresses are usable (not tentative), so a bind right after cannot fail."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = _ip("-n", self.name, "-4", "addr", "show", check=False).stdout
            if SERVICE_ADDR in out and CLIENT_ADDR in out and "tentative" not in out:
                return
            time.sleep(0.05)
        raise NetnsError(f"namespace {self.name}: addresses did not come up in {timeout:.0f} s")

    def delete(self) -> None:
        """Kill what was started inside, then delete the namespace; safe to call twice."""
        for proc in self._procs:
            if proc.poll() is None:
                proc.kill()
        for proc in self._procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self._procs.clear()
        if self._made:
            _kill_inside(self.name)
            _ip("netns", "del", self.name, check=False)
            self._made = False

    def __enter__(self) -> "Netns":
        return self.create()

    def __exit__(self, *exc: object) -> None:
        self.delete()

    def route_multicast(self) -> None:
        """Multicast on `lo`, the multicast range routed to it: Ableton Link's peers inside find each
        other there (with the veth pair too, so a LiveKit session and Link share one namespace)."""
        _ip("-n", self.name, "link", "set", "lo", "multicast", "on")
        _ip("-n", self.name, "route", "add", "224.0.0.0/4", "dev", "lo")

    def interfaces(self) -> list[str]:
        """The names of the links inside (for a test to show that nothing else is there)."""
        out = _ip("-n", self.name, "-o", "link", "show").stdout
        return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if ":" in line]

    # -- running things inside ----------------------------------------------------------------

    def wrap(self, argv: Sequence[str]) -> list[str]:
        """The command line that runs argv inside this namespace."""
        return ["ip", "netns", "exec", self.name, *argv]

    def popen(self, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
        """Start argv inside; it is killed when the namespace is deleted."""
        try:
            proc = subprocess.Popen(self.wrap(argv), **kwargs)
        except OSError as exc:
            raise NetnsError(f"could not start {argv[0]} in {self.name}: {exc}") from exc
        self._procs.append(proc)
        return proc

    def run(self, argv: Sequence[str], timeout: float, **kwargs: Any) -> subprocess.CompletedProcess[Any]:
        """Run argv inside to completion (killed at timeout: subprocess.TimeoutExpired)."""
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        return subprocess.run(self.wrap(argv), timeout=timeout, **kwargs)

    def wait_port(self, port: int, addr: str | None = None, timeout: float = 30.0, proc: subprocess.Popen[Any] | None = None) -> None:
        """Until something inside listens on addr:port (TCP); NetnsError if proc exits first."""
        addr = addr or self.service_addr
        deadline = time.monotonic() + timeout
        probe = f"import socket; socket.create_connection(({addr!r}, {port}), timeout=1).close()"
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise NetnsError(f"the process meant to listen on {addr}:{port} exited with {proc.returncode}")
            if self.run([sys.executable, "-c", probe], timeout=10).returncode == 0:
                return
            time.sleep(0.2)
        raise NetnsError(f"nothing listened on {addr}:{port} in {self.name} within {timeout:.0f} s")
