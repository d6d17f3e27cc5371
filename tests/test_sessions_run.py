"""A show of several sessions, played by `decart-flow run --headless` on a real service.

Two sessions on one `decart-flow serve` (real WebRTC on loopback, the 2025 peer-to-peer path): each
connects with its own initial state, gets only the prompts addressed `to:` it (the journal's
`session` field, and the stamp the service draws, which counts every prompt a session accepted),
records to its own file, and when the service drops one session's connection that session
reconnects and catches up while the other plays on. The run is stopped with SIGINT, as Ctrl-C
would, and both recordings must still be read by ffprobe.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from test_resilience_run import KEY, Serve, changes, cli, free_port, journal, stamps_of, timed_stamps, wait_journal

SHOW = """\
name: Two Screens
duration: 1m
sessions:
  left:  {model: mirage_v2, initial: {prompt: left one}}
  right: {model: mirage_v2, initial: {prompt: right one}}
timeline:
  0:01.5: {to: left, prompt: left two}
  0:02:   {to: right, prompt: right two}
  0:05.5: {to: left, prompt: left three}
  0:06:   Both now
"""

# The prompts each session must get (initial state aside), in order.
OWN = {"left": ["left two", "left three", "Both now"], "right": ["right two", "Both now"]}


def ffprobe_seconds(path: Path) -> float:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", str(path)],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return float(json.loads(out.stdout)["format"]["duration"])


def sent_prompts(records: list[dict[str, Any]], session: str) -> list[str]:
    return [r["action"]["prompt"] for r in records if r["event"] == "action.send" and r.get("session") == session
            and isinstance(r.get("action"), dict) and "prompt" in r["action"]]


def once(values: list[str]) -> list[str]:
    """Repeats in a row dropped: a prompt that failed in an outage is sent again by catch-up."""
    return [v for i, v in enumerate(values) if i == 0 or v != values[i - 1]]


def longest_gap(recording: Path) -> float:
    """The longest time between two frames of a recording (an outage stays a gap in it)."""
    times = [t for t, _ in timed_stamps(recording)]
    return max(b - a for a, b in zip(times, times[1:]))


def states(records: list[dict[str, Any]], session: str) -> list[str]:
    return [r["state"] for r in records if r["event"] == "session.state" and r.get("session") == session]


@pytest.mark.skipif(shutil.which("ffprobe") is None, reason="needs ffprobe (Debian: ffmpeg)")
def test_two_sessions_play_their_own_cues_record_apart_and_one_reconnects_alone(tmp_path: Path) -> None:
    show = tmp_path / "two.yaml"
    show.write_text(SHOW)
    service = Serve(free_port(), "drop-first-ws-after=3s").start()
    rec, jpath = tmp_path / "out.mp4", tmp_path / "j.jsonl"
    run = cli("run", str(show), "--headless", "--backend", service.url, "--api-key", KEY, "--no-realtime",
              "--record", str(rec), "--journal", str(jpath), cwd=tmp_path)
    try:
        def both_acked_last(records: list[dict[str, Any]]) -> bool:
            return {r.get("session") for r in records if r["event"] == "action.ack" and r.get("cue") == "timeline 0:06"
                    and r.get("success")} == {"left", "right"}

        wait_journal(jpath, both_acked_last, 60, "both sessions to acknowledge the 0:06 prompt", run)
        time.sleep(1.0)  # frames of the last look in both recordings
        run.send_signal(signal.SIGINT)  # Ctrl-C: the recordings must be finalized (or at least playable)
        out, err = run.communicate(timeout=30)
    finally:
        if run.poll() is None:
            run.kill()
        service.stop()
    assert run.returncode == 0, err
    assert "show ended: signal" in out
    records = journal(jpath)

    # Both sessions connected, each with its own protocol line and `session` on its records.
    for name in ("left", "right"):
        assert "generating" in states(records, name), (name, states(records, name))
        assert f"session={name}" in out
    # The service dropped the first session that connected (whichever it was); only that one reconnected.
    dropped = [n for n in ("left", "right") if "reconnecting" in states(records, n)]
    assert len(dropped) == 1, {n: states(records, n) for n in ("left", "right")}
    dropped_name = dropped[0]
    kept = "right" if dropped_name == "left" else "left"

    # Each session was sent only its own prompts (a prompt sent in an outage fails, and is sent again by catch-up).
    assert sent_prompts(records, kept) == OWN[kept]
    assert once(sent_prompts(records, dropped_name)) == OWN[dropped_name]
    assert all(r.get("session") in ("left", "right") for r in records if r["event"] in ("action.send", "action.ack"))
    # The dropped session caught up alone after its reconnect, with its own latest prompt.
    catch = [r for r in records if r["event"] == "catch_up" and r.get("reason") == "reconnect"]
    assert catch and all(r.get("session") == dropped_name for r in catch), catch
    assert all(r.get("session") != kept for r in records if r["event"] == "catch_up" and r.get("reason") == "reconnect")

    # The glass: the kept session's stamp counts its initial prompt and exactly its own prompts.
    left, right = tmp_path / "out-left.mp4", tmp_path / "out-right.mp4"
    assert not rec.exists() and left.exists() and right.exists()
    kept_file = left if kept == "left" else right
    assert changes(stamps_of(kept_file)) == list(range(1, 2 + len(OWN[kept]))), changes(stamps_of(kept_file))
    # The dropped one's new service session counts again from its caught-up state, and ends on a look of its own.
    dropped_file = right if kept == "left" else left
    assert changes(stamps_of(dropped_file))[-1] >= 2
    # The kept session's stream went on through the other's outage, frame after frame.
    assert longest_gap(kept_file) < 0.5, longest_gap(kept_file)

    # Both recordings play: ffprobe reads them, each about as long as its session streamed.
    end_t = records[-1]["t"]  # the show's length when it was stopped: each session streamed about as long
    for path in (left, right):
        seconds = ffprobe_seconds(path)
        assert end_t - 2.5 < seconds < end_t + 1.0, (path.name, seconds, end_t)


def test_resume_reads_each_sessions_own_state(tmp_path: Path) -> None:
    """`--resume` of a show of several sessions: a session's acks set only its own state, even when
    two sessions acknowledge the same cue (a cue without `to:`)."""
    from decart_flow.runner.resume import read_resume

    def rec(t: float, event: str, **fields: Any) -> str:
        return json.dumps({"ts": "2026-12-06T01:00:00+00:00", "t": t, "event": event, **fields})

    path = tmp_path / "j.jsonl"
    path.write_text("\n".join([
        rec(0.0, "run.start", show="Two", initial={"prompt": "left one", "enhance": True, "image": None,
                                                    "mirror": False}, sessions={"left": "mirage_v2", "right": "mirage_v2"}),
        rec(1.0, "action.send", session="right", cue="timeline 0:01", action={"prompt": "right two"}),
        rec(1.0, "action.ack", session="right", cue="timeline 0:01", kind="prompt", success=True),
        rec(2.0, "action.send", session="left", cue="all", action={"prompt": "both"}),
        rec(2.0, "action.send", session="right", cue="all", action={"prompt": "both"}),
        rec(2.0, "action.ack", session="right", cue="all", kind="prompt", success=True),
        rec(2.1, "action.ack", session="left", cue="all", kind="prompt", success=False),  # failed on left
        rec(3.0, "show.end", reason="stop"),
    ]) + "\n")
    resume = read_resume(path)
    left, right = resume.sessions["left"], resume.sessions["right"]
    assert left.state["prompt"] == "left one" and left.applied == {}  # its only prompt failed: its initial one
    assert right.state["prompt"] == "both" and right.applied["prompt"] == (2.0, "all")
    assert resume.state == left.state and resume.applied == {}
