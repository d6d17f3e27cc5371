"""Decart's official Python SDK of today (`decart[realtime]==0.2.4`) against `decart-flow serve`.

The SDK joins LiveKit rooms through the Rust client inside the `livekit` package, whose
libwebrtc gathers no candidates on loopback: each test makes a network namespace with a veth
pair (tests/netns.py), runs the service on 10.200.0.1 and the SDK on the same namespace. The SDK
runs unmodified in a cached virtualenv of its own (tests/sdk_harness/sdk_venv.py) and reports a
JSON line (tests/sdk_harness/drive_sdk_livekit.py); stamps in the received frames say which
state the service rendered.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from decart_flow.service import read_stamp
from netns import Netns, unavailable

HARNESS = Path(__file__).parent / "sdk_harness"
SDK_VERSION = "0.2.4"
REPO = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.sdk,
    pytest.mark.slow,
    pytest.mark.skipif(unavailable() is not None, reason=unavailable() or ""),
]


def _sdk_venv_module() -> Any:
    spec = importlib.util.spec_from_file_location("sdk_harness_venv", HARNESS / "sdk_venv.py")
    assert spec is not None and spec.loader is not None
    module = sys.modules.get(spec.name) or importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def sdk_python() -> Path:
    venv = _sdk_venv_module()
    try:
        return venv.ensure_sdk_venv(SDK_VERSION).python
    except venv.SdkUnavailable as exc:
        pytest.skip(str(exc))


def serve(ns: Netns, log_path: Path, *args: str) -> tuple[subprocess.Popen[str], str]:
    """`decart-flow serve` inside the namespace on the service address; (process, base URL)."""
    cmd = [sys.executable, "-m", "decart_flow.cli", "serve", "--host", ns.service_addr, "--port", "0", *args]
    log = open(log_path, "w")
    proc = ns.popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True, cwd=REPO)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert "listening on" in line, f"service did not start: {line!r}; log: {log_path.read_text()[-2000:]}"
    return proc, line.split("listening on", 1)[1].strip()


def drive(ns: Netns, python: Path, url: str, out: Path, *args: str, timeout: float = 180) -> dict[str, Any]:
    done = ns.run([str(python), str(HARNESS / "drive_sdk_livekit.py"), "--url", url, "--out", str(out), *args],
                  timeout=timeout)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no result from the SDK driver; stderr: {done.stderr[-3000:]}"
    result = json.loads(lines[-1])
    result["stderr"] = done.stderr[-3000:]
    return result


def camera_shows(luma: np.ndarray) -> bool:
    """Does the picture come from the client's camera (a vertical gradient in the drivers), not the
    waiting picture (a horizontal gradient: every row alike)? Rows clear of stamp and caption."""
    rows = luma[64:600, 200:1200].astype(np.float32).mean(axis=1)
    return float(rows.max() - rows.min()) > 10


def stamps(out: Path) -> dict[str, int | None]:
    lumas = np.load(out / "frames.npz")
    return {name: read_stamp(lumas[name]) for name in lumas.files}


def _explain(result: dict[str, Any], log: Path) -> str:
    return (f"stage {result.get('stage')}: {result.get('error')}\n{result.get('traceback', '')}\n"
            f"driver stderr: {result.get('stderr', '')[-1500:]}\nservice log: {log.read_text()[-3000:]}")


MODES = {"one-pc": [], "two-pcs": ["--two-peer-connections"], "vp9": ["--codec", "vp9"]}


@pytest.mark.parametrize("mode", list(MODES))
def test_sdk_024_session_prompt_image_viewer_ticks(sdk_python: Path, tmp_path: Path, mode: str) -> None:
    """`/rtc/v1` (one peer connection, the client's default), `/rtc` (publisher + subscriber), and
    the camera in VP9 (`preferred_video_codec="vp9"`) instead of the default H.264."""
    log = tmp_path / "service.log"
    with Netns() as ns:
        _, url = serve(ns, log)
        result = drive(ns, sdk_python, url, tmp_path, *MODES[mode])
    assert result["ok"], _explain(result, log)
    assert result["sdk"] == {"decart": "0.2.4", "livekit": result["sdk"]["livekit"]}
    # 30 frames and more of the model's size from the inference-server track
    assert result["frames"] >= 30
    assert result["sizes"] == [[1280, 704]]
    assert result["tracks"] == 1
    # the initial prompt, set_prompt, set_image with a prompt: one stamp step each
    seen = stamps(tmp_path)
    assert seen["initial"] == 1, seen
    assert seen["prompt"] == 2, seen
    assert seen["image"] == 3, seen
    # the client's camera reached the renderer (through the room, H.264 or VP9 from the Rust client)
    lumas = np.load(tmp_path / "frames.npz")
    assert camera_shows(lumas["prompt"]) and camera_shows(lumas["image"])
    # a viewer through subscribe_token and RealtimeClient.subscribe sees the same picture
    assert result["subscribe_token"]
    assert result["viewer"]["frames"] >= 30
    assert result["viewer"]["sizes"] == [[1280, 704]]
    assert seen["viewer"] == 3, seen
    # generation_tick once a second, counting up from 1
    ticks = result["ticks"]
    assert len(ticks) >= 3 and ticks[:3] == [1, 2, 3], ticks
    assert ["generating"] == [s for _, s in result["states"] if s == "generating"][:1]
    assert result["errors"] == []
    assert "failed to decode" not in log.read_text()
    joined = "two peer connections" if mode == "two-pcs" else "one peer connection"
    assert log.read_text().count(f"joined (publisher, {joined})") == 1
    assert log.read_text().count(f"joined (viewer, {joined})") == 1


def test_sdk_024_1080p(sdk_python: Path, tmp_path: Path) -> None:
    log = tmp_path / "service.log"
    with Netns() as ns:
        _, url = serve(ns, log)
        result = drive(ns, sdk_python, url, tmp_path, "--model", "lucy-2.6", "--resolution", "1080p")
    assert result["ok"], _explain(result, log)
    assert result["sizes"] == [[1920, 1080]]
    assert stamps(tmp_path)["prompt"] == 2


@pytest.mark.parametrize("fault", ["drop-ws-after=8s", "drop-livekit-after=8s"])
def test_sdk_024_reconnects_after_a_drop(sdk_python: Path, tmp_path: Path, fault: str) -> None:
    log = tmp_path / "service.log"
    with Netns() as ns:
        _, url = serve(ns, log, "--fault", fault)
        result = drive(ns, sdk_python, url, tmp_path, "--scenario", "reconnect")
    assert result["ok"], _explain(result, log)
    assert result["tracks"] >= 2, result  # the inference track came again after the drop
    assert result["state_after_reconnect"] in ("connected", "generating")
    assert result["frames_after_reconnect"] >= 10, result
    seen = stamps(tmp_path)
    # Control channel dropped: the SDK's own reconnect opens a new session, which comes back in
    # passthrough (stamp 1: the SDK does not re-send the prompt). LiveKit dropped: the Rust client
    # rejoins the same room, whose session still shows the initial prompt (stamp 1 too).
    if fault.startswith("drop-ws"):
        assert result["reconnecting_seen"]
    assert seen["after_reconnect"] == 1, seen
    assert seen["prompt_after_reconnect"] == 2, seen  # and the session takes a prompt after it
    assert camera_shows(np.load(tmp_path / "frames.npz")["prompt_after_reconnect"])  # the camera came back too
    assert result["errors"] == []
