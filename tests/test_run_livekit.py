"""`decart-flow run` over today's protocol: our client, a LiveKit room, `decart-flow serve`, as a user runs them.

LiveKit's clients gather no ICE candidates on loopback, so each test makes a network namespace
with a veth pair (tests/netns.py): the service listens on 10.200.0.1, the run talks to it as to
any `--backend URL`, and nothing leaves the namespace. The journal says what the engine did; the
stamps on the recorded frames say what the service rendered.
"""

from __future__ import annotations

import collections
import json
import shutil
import subprocess
import sys
from pathlib import Path

import av
import pytest

from decart_flow.service import read_stamp
from needs import missing
from netns import Netns, unavailable

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _namespaces() -> None:
    """Skipped where namespaces cannot be made (not root); under CI that fails instead."""
    why = unavailable()
    if why is not None:
        missing(why)

ROOT = Path(__file__).resolve().parent.parent
KEY = "lk-test-key"  # the key of a service this test starts inside its own namespace
PORT = 8791


def _serve(ns: Netns, tmp_path: Path, *extra: str) -> subprocess.Popen:
    log = open(tmp_path / "service.log", "w")
    service = ns.popen([sys.executable, "-m", "decart_flow.cli", "serve", "--host", ns.service_addr,
                        "--port", str(PORT), "--api-key", KEY, *extra], stdout=log, stderr=subprocess.STDOUT)
    ns.wait_port(PORT, proc=service)
    return service


def _run(ns: Netns, tmp_path: Path, show: Path, *extra: str, name: str = "run", timeout: float = 120.0,
         wait: bool = True) -> subprocess.CompletedProcess | subprocess.Popen:
    argv = [sys.executable, "-m", "decart_flow.cli", "run", str(show), "--headless", "--no-realtime",
            "--backend", f"ws://{ns.service_addr}:{PORT}", "--api-key", KEY,
            "--journal", str(tmp_path / f"{name}.jsonl"), *extra]
    if not wait:
        return ns.popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    return ns.run(argv, timeout=timeout, capture_output=True, text=True, cwd=tmp_path)


def _journal(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _stamps(recording: Path) -> list[int | None]:
    with av.open(str(recording)) as container:
        return [read_stamp(frame) for frame in container.decode(video=0)]


def test_the_quickstart_plays_over_livekit_prompts_image_and_stamps(tmp_path: Path) -> None:
    with Netns() as ns:
        _serve(ns, tmp_path)
        rec = tmp_path / "out.mp4"
        done = _run(ns, tmp_path, ROOT / "scenes" / "quickstart.yaml", "--record", str(rec))
        assert done.returncode == 0, done.stderr
    assert "(livekit)" in done.stdout and "show ended: duration" in done.stdout
    assert KEY not in done.stdout + done.stderr
    records = _journal(tmp_path / "run.jsonl")
    states = [r for r in records if r["event"] == "session.state"]
    assert states and all(r["protocol"] == "livekit" for r in states)
    assert "generating" in [r["state"] for r in states]
    acks = [r for r in records if r["event"] == "action.ack"]
    # quickstart: two prompts, one image with a prompt, two mirror toggles; every one acknowledged
    assert [r["kind"] for r in acks] == ["prompt", "mirror", "image", "mirror", "prompt"]
    assert all(r["success"] for r in acks), acks
    assert any(r["event"] == "session.billed" and r["seconds"] >= 15 for r in records)
    assert records[-1]["event"] == "show.end" and records[-1]["reason"] == "duration"
    # What came back over the room: the model's size at about 30 fps, and every acknowledged prompt
    # and image rendered in order (the mirror flips our frames; it does not move the stamp).
    with av.open(str(rec)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (1280, 704)
    stamps = _stamps(rec)
    assert len(stamps) >= 20 * 30 * 0.8, len(stamps)
    seen = [s for s in stamps if s is not None]
    assert seen == sorted(seen) and set(seen) >= {1, 2, 3, 4}, collections.Counter(seen)
    if shutil.which("ffprobe"):
        probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", str(rec)],
                               capture_output=True, text=True, timeout=30)
        assert probe.returncode == 0 and float(json.loads(probe.stdout)["format"]["duration"]) > 15


@pytest.mark.parametrize("fault", ["drop-ws-after=4s", "drop-livekit-after=4s"])
def test_a_dropped_connection_comes_back_with_the_state_in_effect(tmp_path: Path, fault: str) -> None:
    show = tmp_path / "show.yaml"
    show.write_text("name: Drop\nmodel: lucy-restyle-2\nduration: 14s\ninitial: {prompt: First light}\n"
                    "timeline:\n  0:02: Neon rain\n")
    with Netns() as ns:
        _serve(ns, tmp_path, "--fault", fault)
        rec = tmp_path / "out.mp4"
        done = _run(ns, tmp_path, show, "--record", str(rec))
        assert done.returncode == 0, done.stderr
    records = _journal(tmp_path / "run.jsonl")
    states = [r["state"] for r in records if r["event"] == "session.state"]
    assert "reconnecting" in states and states[-1] in ("connected", "generating"), states
    after = states.index("reconnecting")
    assert "generating" in states[after:] or "connected" in states[after:]
    # Catch-up re-applied the prompt in effect (the timeline's, not the initial one) on the new session.
    catch = [r for r in records if r["event"] == "catch_up" and r["reason"] == "reconnect"]
    assert catch and any(a["cue"] == "timeline 0:02" for a in catch[-1]["applied"]), catch
    sends = [r for r in records if r["event"] == "action.send"]
    assert sends[-1]["action"]["prompt"] == "Neon rain"
    assert records[-1]["event"] == "show.end" and records[-1]["reason"] == "duration"


def test_a_full_service_queues_the_second_session_and_journals_it(tmp_path: Path) -> None:
    first_show, second_show = tmp_path / "first.yaml", tmp_path / "second.yaml"
    first_show.write_text("name: First\nmodel: lucy-restyle-2\nduration: 8s\ninitial: {prompt: One}\n")
    second_show.write_text("name: Second\nmodel: lucy-restyle-2\nduration: 3s\ninitial: {prompt: Two}\n")
    with Netns() as ns:
        _serve(ns, tmp_path, "--capacity", "1")
        first = _run(ns, tmp_path, first_show, name="first", wait=False)
        # the second starts once the first is generating
        for _ in range(200):
            path = tmp_path / "first.jsonl"
            if path.exists() and any(r["event"] == "show.start" for r in _journal(path)):
                break
            subprocess.run(["sleep", "0.1"])
        second = _run(ns, tmp_path, second_show, name="second", timeout=120)
        out, err = first.communicate(timeout=60)
        assert first.returncode == 0, err
        assert second.returncode == 0, second.stderr
    records = _journal(tmp_path / "second.jsonl")
    queued = [r for r in records if r["event"] == "session.queue"]
    assert queued and queued[0]["position"] >= 1 and queued[0]["queue_size"] >= 1, queued
    started = next(r for r in records if r["event"] == "show.start")
    first_end = next(r for r in _journal(tmp_path / "first.jsonl") if r["event"] == "show.end")
    assert started["ts"] >= first_end["ts"]  # the slot freed when the first session left
    assert queued[0]["ts"] < first_end["ts"]
