"""Start-up of `run` on the local service: the child launched early, adopted, discarded, failing.

Real parts: every service here is a real child process listening on 127.0.0.1.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from decart_flow.runner import backend as backend_module
from decart_flow.runner.backend import BackendError, discard_early, launch_local_early, open_backend, wants_local
from decart_flow.service.process import ServiceProcess

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _no_key_no_early(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test starts without a key in the environment and without an early child, and leaves none."""
    monkeypatch.delenv("DECART_API_KEY", raising=False)
    discard_early()
    yield
    discard_early()


async def _status(url: str, key: str) -> int:
    """The service's answer to a token request with `key`: 200 for its own key, 401 otherwise."""
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/v1/client/tokens", headers={"X-API-KEY": key}, json={}) as resp:
            return resp.status


def test_importing_the_launcher_pulls_in_nothing_heavy() -> None:
    """The `run` command imports this before anything else; it must not wait for numpy or aiortc."""
    code = ("import sys, decart_flow.runner.backend, decart_flow.service.process;"
            "print(sorted(m for m in ('numpy', 'aiortc', 'aiohttp', 'av', 'asyncio', 'reactivex') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.stdout.strip() == "[]", out.stdout


def test_wants_local_follows_the_backend_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    assert wants_local(None, None) and wants_local("local", None) and wants_local("local", "sk-x")
    assert not wants_local(None, "sk-x") and not wants_local("ws://127.0.0.1:1", None)
    monkeypatch.setenv("DECART_API_KEY", "sk-env")
    assert not wants_local(None, None) and wants_local("local", None)


async def test_a_run_adopts_the_child_launched_early() -> None:
    launch_local_early()
    early = backend_module._early
    assert early is not None and early.running and early.url is None  # launched, not waited for
    pid = early.pid
    backend = await open_backend(None, None)
    try:
        assert backend.local and backend._service is early and early.pid == pid
        assert backend_module._early is None  # taken: a second run would launch its own
        assert backend.api_key.startswith("local_") and backend.api_key not in backend.label
        assert await _status(backend.url, backend.api_key) == 200
        assert await _status(backend.url, "local_not-the-key") == 401
    finally:
        await backend.close()
    assert not early.running


async def test_a_run_with_faults_starts_its_own_child_and_stops_the_early_one() -> None:
    launch_local_early()
    early = backend_module._early
    assert early is not None
    backend = await open_backend(None, None, faults=("ack-delay=0.1s",))
    try:
        assert backend._service is not early and not early.running
        assert await _status(backend.url, backend.api_key) == 200
    finally:
        await backend.close()


async def test_an_early_child_that_cannot_start_fails_the_run_cleanly() -> None:
    """A port already taken: one line naming the cause, never the key, and no child left behind."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        service = ServiceProcess(port=taken.getsockname()[1], api_key="local_secret-early-key")
        service.launch()
        backend_module._early = service
        with pytest.raises(BackendError) as caught:
            await open_backend(None, None)
    message = str(caught.value)
    assert message.startswith("the embedded local service did not start:"), message
    assert "could not start" in message and "local_secret-early-key" not in message
    assert not service.running


def test_discarding_an_early_child_does_not_wait_for_its_imports() -> None:
    launch_local_early()
    early = backend_module._early
    assert early is not None
    began = time.perf_counter()
    discard_early()
    assert time.perf_counter() - began < 2.0
    assert not early.running and backend_module._early is None


def test_wait_ready_without_launch_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="not launched"):
        ServiceProcess().wait_ready(0.1)


def test_run_of_an_invalid_show_exits_at_once(tmp_path: Path) -> None:
    """The early child must not hold up (or outlive) a `run` that never plays."""
    show = tmp_path / "bad.yaml"
    show.write_text("name: bad\nmodel: nope\n")
    began = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "decart_flow.cli", "run", str(show), "--headless"],
                         capture_output=True, text=True, timeout=60, cwd=tmp_path,
                         env={**{k: v for k, v in os.environ.items() if k != "DECART_API_KEY"}, "PYTHONPATH": str(REPO)})
    elapsed = time.perf_counter() - began
    assert out.returncode == 2, out.stderr
    assert "nope" in out.stderr
    assert elapsed < 8.0, f"took {elapsed:.1f}s"
    assert _processes_in(tmp_path) == [], "the early service child outlived the command"


def _processes_in(folder: Path) -> list[int]:
    """Pids of processes whose working folder is `folder` (the command's children inherit it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if Path(os.readlink(entry / "cwd")) == folder:
                    found.append(int(entry.name))
            except OSError:  # gone, or not ours to read
                pass
    return found
