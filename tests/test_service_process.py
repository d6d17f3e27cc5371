"""The service as a child process, and `decart-flow serve` as a user runs it."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp

from decart_flow.service import ServiceProcess
from test_service_helpers import RawClient

REPO = Path(__file__).resolve().parents[1]


async def test_service_process_serves_and_stops() -> None:
    with ServiceProcess(api_key="sk-proc-test") as service:
        assert service.url is not None and service.url.startswith("http://127.0.0.1:")
        assert service.running
        client = RawClient(service.url, api_key="sk-proc-test")
        await client.open()
        try:
            await client.send({"type": "prompt", "prompt": "child", "enhance_prompt": False})
            assert (await client.wait_for("prompt_ack"))["success"] is True
            await client.negotiate()
            await client.frame_with_stamp(1)
        finally:
            await client.close()
        url = service.url
    assert not service.running
    async with aiohttp.ClientSession() as http:
        try:
            await http.post(f"{url}/v1/client/tokens")
            raise AssertionError("the service still answers after stop()")
        except aiohttp.ClientConnectionError:
            pass


def test_serve_command_prints_its_url_and_stops_on_ctrl_c() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "decart_flow.cli", "serve", "--port", "0", "--api-key", "sk-cli-secret"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        assert line.startswith("decart-flow service listening on http://127.0.0.1:"), line
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0
        assert "sk-cli-secret" not in out + err
    finally:
        if proc.poll() is None:
            proc.kill()


def test_serve_refuses_a_bad_fault() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-m", "decart_flow.cli", "serve", "--fault", "ack-delay=soon"], capture_output=True, text=True, env=env, timeout=30)
    assert result.returncode == 2
    assert "ack-delay takes a duration" in result.stderr


def test_service_process_refuses_a_bad_fault_up_front() -> None:
    import pytest

    from decart_flow.service.faults import FaultError

    with pytest.raises(FaultError, match="reject-prompts"):
        ServiceProcess(faults=["reject-prompts=7"])


def test_service_process_exit_fault_ends_the_child() -> None:
    import time

    with ServiceProcess(faults=["exit-after=300ms"]) as service:
        deadline = time.monotonic() + 10
        while service.running and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not service.running


def test_service_logging_keeps_aiortc_and_aioice_at_warning_even_in_debug() -> None:
    """One rule for `serve` and the child process: the service's own debug lines, no SDP dumps."""
    code = ("import logging; from decart_flow.service.process import service_logging; service_logging('debug', 'service ');"
            "print(logging.getLogger().level, logging.getLogger('aiortc').level, logging.getLogger('aioice').level,"
            " logging.getLogger('decart_flow.service').getEffectiveLevel());"
            "logging.getLogger('decart_flow.service.app').debug('hello')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == [str(logging.DEBUG), str(logging.WARNING), str(logging.WARNING), str(logging.DEBUG)]
    assert "service DEBUG decart_flow.service.app: hello" in out.stderr
