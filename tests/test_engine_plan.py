"""`plan` in virtual time: audio clips take their length, the output is the same firings `run` makes."""

from __future__ import annotations

import json
from argparse import Namespace
from datetime import datetime, timezone
from pathlib import Path

import av
import pytest

from decart_flow.engine.plan import plan
from decart_flow.show.plan_print import plan_command
from decart_flow.show import load_show
from decart_flow.show.model import AudioAction

SCENES = Path(__file__).resolve().parent.parent / "scenes"
START = datetime(2026, 1, 5, 14, 0, tzinfo=timezone.utc)


def decoded_seconds(path: Path) -> float:
    """A clip's length by decoding every sample (independent of the header the loader reads)."""
    with av.open(str(path)) as container:
        return sum(frame.samples / frame.sample_rate for frame in container.decode(audio=0))


def test_the_loader_measures_each_clip_once_for_plan():
    """`AudioAction.seconds` is the one owner of a clip's length: plan's session reads it."""
    show = load_show(SCENES / "avatar.yaml")
    clips = [a for c in show.cues for a in c.actions + c.then if isinstance(a, AudioAction)]
    assert clips and all(a.seconds == pytest.approx(decoded_seconds(a.path), abs=1e-3) for a in clips)


def test_avatar_then_steps_are_planned_after_the_clip():
    show = load_show(SCENES / "avatar.yaml")
    hello = decoded_seconds(SCENES / "lines" / "hello.wav")
    story = decoded_seconds(SCENES / "lines" / "story.wav")
    goodbye = decoded_seconds(SCENES / "lines" / "goodbye.wav")
    rows = [(round(f.t, 3), f.cue, f.action) for f in plan(show, None, START) if "(catch-up)" not in f.cue]
    expected = [
        (3.0, "hello", {"audio": str(SCENES / "lines" / "hello.wav")}),
        (round(3 + hello, 3), "hello", {"prompt": "Smile warmly and nod", "enhance": True}),
        (round(3 + hello + 2, 3), "hello", {"prompt": "Look excited", "enhance": True}),
        (round(3 + hello + 2, 3), "story", {"audio": str(SCENES / "lines" / "story.wav")}),  # `on: after hello`
        (round(3 + hello + 2 + story, 3), "story", {"log": "story told"}),
        (45.0, "goodbye", {"audio": str(SCENES / "lines" / "goodbye.wav")}),
        (round(45 + goodbye, 3), "goodbye", {"prompt": "Wave goodbye", "enhance": True}),
        (round(45 + goodbye + 3, 3), "goodbye", {"stop": True}),
    ]
    assert [(t, c, a) for t, c, a in rows] == [(pytest.approx(t, abs=2e-3), c, a) for t, c, a in expected]


def test_plan_command_json_of_the_avatar_scene(capsys):
    code = plan_command(Namespace(file=str(SCENES / "avatar.yaml"), for_=None, start=START.isoformat(), json=True))
    assert code == 0
    rows = json.loads(capsys.readouterr().out)
    smile = next(r for r in rows if r["action"].get("prompt") == "Smile warmly and nod")
    assert smile["t"] == pytest.approx(3 + decoded_seconds(SCENES / "lines" / "hello.wav"), abs=2e-3)
    assert smile["wall"].startswith("2026-01-05T14:00:05.")


def test_plan_output_is_chunked_but_complete(tmp_path, capsys):
    # More firings than one chunk: every line is there, in order, and the JSON list is well formed.
    path = tmp_path / "busy.yaml"
    path.write_text("name: Busy\nmodel: mirage\ncues:\n  - name: tick\n    every: 1s\n    prompt: {cycle: [a, b, c]}\n")
    args = Namespace(file=str(path), for_="1h30m", start=START.isoformat(), json=True)
    assert plan_command(args) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 5400 and [r["t"] for r in rows] == [float(i) for i in range(5400)]
    assert [r["action"]["prompt"] for r in rows[:4]] == ["a", "b", "c", "a"]
    assert rows[3600]["wall"] == "2026-01-05T15:00:00+00:00"
    args.json = False
    assert plan_command(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5402 and lines[-1] == "5400 firings"
    assert lines[3601].split() == ["1:00:00", "2026-01-05", "15:00:00", "tick", "prompt:", "'a'"]
