"""`decart-flow run` as a user runs it: a 20 s show headless against the embedded local service.

The journal says what the engine did; the stamps in the recording say what reached the glass. Both
must agree that every cue landed, in order.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import pytest
from needs import missing

from decart_flow.service import read_stamp

ROOT = Path(__file__).resolve().parent.parent
SCENES = ROOT / "scenes"


def decart_flow(*args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("DECART_API_KEY", None)
    return subprocess.Popen([sys.executable, "-m", "decart_flow.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, **kw)


def journal(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def stamped_frames(recording: Path) -> list[tuple[float, int | None]]:
    """(seconds into the recording, stamp) of every frame."""
    with av.open(str(recording)) as container:
        return [(float(frame.time or 0.0), read_stamp(frame)) for frame in container.decode(video=0)]


def ffprobe_ok(path: Path) -> dict:
    if shutil.which("ffprobe") is None:
        missing("ffprobe is not installed (Debian: apt-get install ffmpeg)")
    out = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_quickstart_plays_every_cue_in_order(tmp_path: Path) -> None:
    rec, jpath = tmp_path / "out.mp4", tmp_path / "show.jsonl"
    proc = decart_flow("run", str(SCENES / "quickstart.yaml"), "--headless", "--record", str(rec),
                       "--journal", str(jpath), cwd=tmp_path)
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err
    assert f"journal: {jpath}" in out
    assert "show ended: duration" in out

    records = journal(jpath)
    events = [r["event"] for r in records]
    assert events[-1] == "show.end" and records[-1]["reason"] == "duration"
    assert "show.start" in events
    fired = [r["cue"] for r in records if r["event"] == "cue.fire"]
    timeline = ["timeline 0:04", "timeline 0:08", "timeline 0:10", "timeline 0:14", "timeline 0:16"]
    assert [c for c in fired if c.startswith("timeline")] == timeline
    for r in records:
        if r["event"] == "cue.fire" and r["cue"].startswith("timeline"):
            assert abs(r["t"] - r["intended_t"]) < 0.5, r
    acks = [r for r in records if r["event"] == "action.ack"]
    assert acks and all(a["success"] for a in acks), acks
    assert not [r for r in records if r["event"] == "error"]

    probe = ffprobe_ok(rec)
    video = [s for s in probe["streams"] if s["codec_type"] == "video"][0]
    assert (int(video["width"]), int(video["height"])) == (1280, 704)

    # initial prompt = 1, then 0:04 prompt, 0:08 mirror, 0:10 image+prompt, 0:14 mirror, 0:16 prompt.
    frames = [(t, s) for t, s in stamped_frames(rec) if s is not None]
    assert len(frames) > 20  # 20 s of video: even a crowded machine delivers a frame a second
    stamps = [s for _, s in frames]
    order = [s for i, s in enumerate(stamps) if i == 0 or s != stamps[i - 1]]
    assert order == [1, 2, 3, 4, 5, 6], order
    # Each change reached the glass as far after the previous one as the show says (the recording's
    # timestamps are arrival times); 1.5 s of slack for a loaded machine, where an image takes longest.
    first = {s: next(t for t, x in frames if x == s) for s in order}
    for (a, b), gap in {(2, 3): 4, (3, 4): 2, (4, 5): 4, (5, 6): 2}.items():
        assert abs(first[b] - first[a] - gap) < 1.5, (a, b, first)


def test_ctrl_c_ends_cleanly_with_a_playable_recording(tmp_path: Path) -> None:
    rec, jpath = tmp_path / "out.mp4", tmp_path / "show.jsonl"
    proc = decart_flow("run", str(SCENES / "quickstart.yaml"), "--headless", "--record", str(rec),
                       "--journal", str(jpath), cwd=tmp_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if jpath.exists() and any(r["event"] == "action.ack" and r["cue"] == "timeline 0:04" for r in journal(jpath)):
            break
        time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("the show did not reach 0:04")
    time.sleep(1.0)  # let the acknowledged prompt reach the glass and the recording
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=10)
    assert time.monotonic() - sent < 3.0
    assert proc.returncode == 0, err
    records = journal(jpath)
    assert records[-1]["event"] == "show.end" and records[-1]["reason"] == "signal"
    ffprobe_ok(rec)
    seen = [s for _, s in stamped_frames(rec) if s is not None]
    assert 2 in seen  # the 0:04 prompt reached the recording


def test_invalid_show_never_starts(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nmodel: mirage_v3\ntimeline:\n  0:05: hello\n")
    jpath = tmp_path / "j.jsonl"
    proc = decart_flow("run", str(bad), "--headless", "--journal", str(jpath), cwd=tmp_path)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert f"{bad}:2:" in err and "mirage_v3" in err
    assert "Traceback" not in err
    assert not jpath.exists()


def test_resume_continues_from_the_journal_with_its_state(tmp_path: Path) -> None:
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    proc = decart_flow("run", str(SCENES / "quickstart.yaml"), "--headless", "--journal", str(first), cwd=tmp_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if first.exists() and any(r["event"] == "action.ack" and r["cue"] == "timeline 0:04" for r in journal(first)):
            break
        time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("the show did not reach 0:04")
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=10)
    stopped_at = journal(first)[-1]["t"]
    assert 4.0 <= stopped_at < 8.0

    proc = decart_flow("run", str(SCENES / "quickstart.yaml"), "--headless", "--resume", str(first),
                       "--journal", str(second), cwd=tmp_path)
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err
    records = journal(second)
    start = next(r for r in records if r["event"] == "show.start")
    assert abs(start["t"] - stopped_at) < 0.5
    fired = [r["cue"] for r in records if r["event"] == "cue.fire" and r["cue"].startswith("timeline")]
    assert fired == ["timeline 0:08", "timeline 0:10", "timeline 0:14", "timeline 0:16"]  # 0:04 not again
    resumed = next(r for r in records if r["event"] == "run.resume")
    assert resumed["state"]["prompt"] == "Cyberpunk city at night, neon signs"
    assert records[-1]["event"] == "show.end" and records[-1]["reason"] == "duration"
