"""The official `decart` Python SDK, in a virtualenv of its own, against `decart-flow serve`.

This is the proof that the local service speaks the real protocol: not our client, theirs, with its
own pinned aiortc. `tests/sdk_harness/drive_sdk.py` runs one SDK session (loopback only, no STUN)
and prints a JSON result; here we assert on it and decode the frame stamps with `read_stamp`.

- decart 0.0.40 (the last WebRTC-era release): mirage and mirage_v2, initial prompt, set_prompt,
  set_image, frames whose stamp follows each acknowledged change.
- decart 0.0.37 (the last with `play_audio`): live_avatar with a portrait and prompt, video recvonly
  plus audio sendrecv, play_audio of a 1 s clip that visibly moves the avatar.

The SDK venvs are cached under $XDG_CACHE_HOME (or ~/.cache); without PyPI the tests skip.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from needs import missing

from decart_flow.realtime.models import realtime
from decart_flow.service import read_stamp

HARNESS = Path(__file__).parent / "sdk_harness"
DRIVER = HARNESS / "drive_sdk.py"
DRIVER_TIMEOUT_S = 150.0

# slow: the first test per SDK version builds its venv (35-65 s); later ones reuse it (5-9 s each).
pytestmark = [pytest.mark.sdk, pytest.mark.slow, pytest.mark.timeout(900)]


def _load_venv_module() -> Any:
    # Loaded by path so the helper works whether or not tests/ is a package.
    spec = importlib.util.spec_from_file_location("sdk_harness_venv", HARNESS / "sdk_venv.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


sdk_venv = _load_venv_module()


# --- fixtures --------------------------------------------------------------------------------------

def _sdk(version: str) -> Any:
    try:
        env = sdk_venv.ensure_sdk_venv(version)
    except sdk_venv.SdkUnavailable as exc:
        missing(f"official SDK decart[realtime]=={version} not installable here: {exc}")
    print(f"\nSDK {version}: {'reused cached venv' if not env.install_seconds else f'installed in {env.install_seconds:.1f} s'}")
    return env


@pytest.fixture(scope="session")
def sdk_040() -> Any:
    return _sdk("0.0.40")


@pytest.fixture(scope="session")
def sdk_037() -> Any:
    return _sdk("0.0.37")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


REPO = Path(__file__).resolve().parent.parent


def _serve_command(port: int) -> list[str]:
    """`decart-flow serve`, as a user types it: the console script beside this python."""
    script = Path(sys.executable).with_name("decart-flow")
    base = [str(script)] if script.exists() else [sys.executable, "-m", "decart_flow.cli"]
    return [*base, "serve", "--port", str(port)]


def _serve_env() -> dict[str, str]:
    # This checkout's code, whatever state the venv's editable install is in.
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    return env


@pytest.fixture(scope="module")
def service_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    log_path = tmp_path_factory.mktemp("serve") / "serve.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(_serve_command(port), stdout=log, stderr=subprocess.STDOUT,
                                env=_serve_env(), start_new_session=True)
    try:
        deadline = time.monotonic() + 30.0
        while True:
            if proc.poll() is not None:
                pytest.fail(f"decart-flow serve exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"decart-flow serve did not listen on {port} in 30 s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


# --- running the driver ----------------------------------------------------------------------------

def drive(sdk: Any, url: str, out: Path, *args: str) -> dict[str, Any]:
    """One SDK session in the SDK's venv; its JSON result, with the frames' stamps decoded here."""
    model = realtime(args[args.index("--model") + 1])  # the size and rate from our table, in case the SDK lacks it
    geometry = f"{model.width}x{model.height}@{model.fps}"
    cmd = [str(sdk.python), str(DRIVER), "--url", url, "--out", str(out), "--geometry", geometry, *args]
    started = time.monotonic()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=DRIVER_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"SDK driver hung past {DRIVER_TIMEOUT_S:.0f} s; stderr:\n{(exc.stderr or b'')[-3000:]!r}")
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        pytest.fail(f"SDK driver printed no result (exit {done.returncode}); stderr:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    result["wall_seconds"] = round(time.monotonic() - started, 2)
    print(f"SDK {result.get('sdk_version')} {result.get('model')}: driver ran {result['wall_seconds']} s, "
          f"connect {result.get('connect_seconds')} s, {result.get('frames')} frames at {result.get('receive_fps')} fps, "
          f"steps {[(s['step'], s['seconds']) for s in result.get('steps', [])]}")
    if not result.get("ok"):
        wire = [{k: v for k, v in m.items() if k != "sdp"} for m in result.get("wire", [])]
        pytest.fail(
            f"SDK session failed at stage {result.get('stage')!r}: {result.get('error')}\n"
            f"wire: {json.dumps(wire)[:3000]}\nSDK log: {result.get('sdk_log')}\n{result.get('traceback', '')}"
        )
    frames = np.load(out / "frames.npz")
    result["stamps"] = [read_stamp(frames[f"arr_{i}"]) for i in range(len(frames.files))]
    return result


def wire(result: dict[str, Any], direction: str | None = None) -> list[dict[str, Any]]:
    return [m for m in result["wire"] if direction is None or m["dir"] == direction]


def types(result: dict[str, Any], direction: str) -> list[str]:
    return [m["type"] for m in wire(result, direction)]


def one(result: dict[str, Any], direction: str, kind: str) -> dict[str, Any]:
    found = [m for m in wire(result, direction) if m.get("type") == kind]
    assert len(found) == 1, f"expected one {direction} {kind!r}, saw {len(found)}: {types(result, direction)}"
    return found[0]


def assert_loopback_only(result: dict[str, Any]) -> None:
    assert result["network_violations"] == [], "the SDK tried to reach beyond loopback"
    assert result["loopback"]["sdk_ice_servers_dropped"] == ["stun:stun.l.google.com:19302"], (
        "the SDK's STUN server should have been seen and dropped"
    )
    assert result["loopback"]["peer_connections"] == 1
    for kind in ("offer", "answer"):
        candidates = one(result, "out" if kind == "offer" else "in", kind)["sdp"]["candidates"]
        assert candidates, f"the {kind} carries no ICE candidates"
        assert all(c.split()[0] == "127.0.0.1" for c in candidates), f"{kind} candidates off loopback: {candidates}"


def assert_session_basics(result: dict[str, Any], size: str) -> None:
    """What every SDK session needs: the handshake order, a session id, frames of the model's size."""
    out, incoming = types(result, "out"), types(result, "in")
    # The initial state and its ack come before the offer; the answer follows the offer.
    assert out[1] == "offer", f"SDK sent {out}"
    first_ack = "prompt_ack" if out[0] == "prompt" else "set_image_ack"
    assert incoming[0] == first_ack, f"service's first message should be {first_ack}, got {incoming}"
    assert incoming.index("answer") < incoming.index("generation_started"), incoming
    session = one(result, "in", "session_id")
    assert isinstance(session["server_ip"], str) and isinstance(session["server_port"], int)
    assert result["session_id"] == session["session_id"], "the SDK did not take the service's session_id"
    assert result["connection_state_before_disconnect"] in ("connected", "generating")
    assert result["frames"] >= 30 and result["frame_reader_error"] is None
    assert result["frame_sizes"] == [size]
    assert result["sdk_errors"] == [], result["sdk_errors"]
    # The SDK logs (and skips) any message it cannot parse: the service must send none.
    assert not [line for line in result["sdk_log"] if "parse" in line or "handling message" in line], result["sdk_log"]


def assert_stamps_follow_acks(result: dict[str, Any]) -> None:
    """The stamp counts acknowledged changes: 1 after the initial state, +1 per later ack.

    Frames rendered before an ack can still be on the wire after it, so only the last frames of
    each phase must show the new value; the sequence never goes back.
    """
    stamps, phases = result["stamps"], result["frame_phases"]
    decoded = [s for s in stamps if s is not None]
    assert len(decoded) >= 0.9 * len(stamps), f"only {len(decoded)} of {len(stamps)} frames carry a stamp"
    assert decoded == sorted(decoded), f"stamp went backwards: {stamps}"
    controls = [s for s in result["steps"] if s["step"] in ("set_prompt", "set_image")]
    by_phase = {p: [s for s, q in zip(stamps, phases) if q == p and s is not None] for p in set(phases)}
    assert by_phase[0][-5:] == [1] * 5, f"initial state should be stamp 1; phase 0 ends with {by_phase[0][-5:]}"
    for step in controls:
        phase = step["phase_after"]
        expected = 1 + sum(1 for s in controls if s["phase_after"] <= phase)
        tail = by_phase[phase][-5:]
        assert tail == [expected] * 5, f"after {step['step']} frames should carry stamp {expected}, got {tail}"


# --- the scenarios ---------------------------------------------------------------------------------

# Each of 0.0.40's three initial-state orders, over three video models. mirage and lucy_v2v_720p_rt
# left 0.0.40's registry, so the driver hands the SDK a ModelDefinition of its own, as users do.
INITIAL_MESSAGES = {
    "prompt": {"type": "prompt", "prompt": "a watercolor city at dawn", "enhance_prompt": False},
    "image": {"type": "set_image", "image_data": "<image>", "prompt": "a watercolor city at dawn", "enhance_prompt": False},
    "none": {"type": "set_image", "image_data": None, "prompt": None},
}


@pytest.mark.parametrize(
    ("model", "initial", "extra"),
    [("mirage", "prompt", []), ("mirage_v2", "image", ["--resolution", "720p"]), ("lucy_v2v_720p_rt", "none", [])],
    ids=["mirage-prompt", "mirage_v2-image-720p", "lucy_v2v_720p_rt-passthrough"],
)
def test_sdk_040_video_model(sdk_040: Any, service_url: str, tmp_path: Path, model: str, initial: str,
                             extra: list[str]) -> None:
    result = drive(sdk_040, service_url, tmp_path, "--model", model, "--scenario", "video", "--initial", initial, *extra)
    assert result["sdk_version"] == "0.0.40"
    assert_loopback_only(result)
    assert_session_basics(result, "1280x704")
    first = {k: ("<image>" if k == "image_data" and v else v) for k, v in wire(result, "out")[0].items() if k not in ("t", "dir")}
    assert first == INITIAL_MESSAGES[initial]
    acks = [(m["type"], m["success"]) for m in wire(result, "in") if m["type"].endswith("_ack")]
    initial_ack = "prompt_ack" if initial == "prompt" else "set_image_ack"
    assert acks == [(initial_ack, True), ("prompt_ack", True), ("set_image_ack", True)]
    later_prompt = [m for m in wire(result, "in") if m["type"] == "prompt_ack"][-1]
    assert later_prompt["prompt"] == "neon noir alley in the rain"
    offer = one(result, "out", "offer")["sdp"]["media"]
    answer = one(result, "in", "answer")["sdp"]["media"]
    assert [(m["kind"], m["direction"]) for m in offer] == [("video", "sendrecv")]
    assert [(m["kind"], m["direction"]) for m in answer] == [("video", "sendrecv")], answer
    assert "VP8" in answer[0]["codecs"]
    assert result["frames_by_phase"][1] >= 25 and result["frames_by_phase"][2] >= 25
    assert_stamps_follow_acks(result)


def test_sdk_037_live_avatar(sdk_037: Any, service_url: str, tmp_path: Path) -> None:
    result = drive(sdk_037, service_url, tmp_path, "--model", "live_avatar", "--scenario", "avatar")
    assert result["sdk_version"] == "0.0.37"
    assert_loopback_only(result)
    assert_session_basics(result, "1280x720")
    initial = wire(result, "out")[0]
    assert initial["type"] == "set_image" and initial["prompt"] == "a friendly presenter"
    assert initial["image_data"].endswith("base64 chars>"), "the portrait should ride in the first set_image"
    offer = one(result, "out", "offer")["sdp"]["media"]
    answer = one(result, "in", "answer")["sdp"]["media"]
    assert [(m["kind"], m["mid"], m["direction"]) for m in offer] == [("video", "0", "recvonly"), ("audio", "1", "sendrecv")]
    assert [(m["kind"], m["mid"], m["direction"]) for m in answer] == [("video", "0", "sendonly"), ("audio", "1", "recvonly")]
    # play_audio returns when the clip's last frame is sent: about its length, never a hang.
    played = result["play_audio"]
    assert 0.8 * played["clip_seconds"] <= played["returned_after"] <= played["clip_seconds"] + 3.0, played
    assert_avatar_moved_with_audio(result, tmp_path)
    assert_stamps_follow_acks(result)


def assert_avatar_moved_with_audio(result: dict[str, Any], out: Path) -> None:
    """Frames while the clip plays differ from the idle portrait: the service heard the audio."""
    thumbs = np.load(out / "thumbs.npy").astype(np.float32)
    play = next(s for s in result["steps"] if s["step"] == "play_audio")
    idle = thumbs[5 : play["frames_at_start"]]
    assert len(idle) >= 5, "too few idle frames before play_audio"
    reference = np.median(idle, axis=0)
    rows = slice(thumbs.shape[1] // 5, None)  # below the stamp and any caption at the top

    def change(frames: np.ndarray) -> float:
        return float(np.abs(frames[:, rows] - reference[rows]).max()) if len(frames) else 0.0

    idle_change = change(idle)
    playing_change = change(thumbs[play["frames_at_start"] : play["frames_before"]])
    assert idle_change < 25, f"the idle avatar should hold still (max change {idle_change})"
    assert playing_change > idle_change + 40, (
        f"the avatar did not react to play_audio: max change {playing_change} vs idle {idle_change}"
    )
