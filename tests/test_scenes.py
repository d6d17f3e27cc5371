"""Every example show validates, plans, and plays headless on the embedded local service."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from decart_flow.engine.plan import plan
from decart_flow.show import load_show

SCENES = sorted(p for p in (Path(__file__).resolve().parent.parent / "scenes").iterdir()
                if p.suffix in (".yaml", ".py"))


@pytest.mark.parametrize("scene", SCENES, ids=lambda p: p.name)
def test_scene_validates_plans_and_runs(scene: Path, tmp_path: Path) -> None:
    show = load_show(scene)
    firings = plan(show, 600.0)
    assert firings, f"{scene.name} plans nothing in 10 minutes"

    jpath = tmp_path / "j.jsonl"
    env = {k: v for k, v in os.environ.items() if k != "DECART_API_KEY"}
    # This machine has no camera: a camera show runs on the test pattern, as a user without one would.
    source = ["--source", "testsrc"] if show.source.startswith("camera") else []
    proc = subprocess.run([sys.executable, "-m", "decart_flow.cli", "run", str(scene), "--headless",
                           "--duration", "3s", "--journal", str(jpath), *source],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in jpath.read_text().splitlines()]
    events = [r["event"] for r in records]
    assert "show.start" in events
    assert records[-1] == {**records[-1], "event": "show.end", "reason": "duration"}
    assert any(r["event"] == "session.state" and r["state"] in ("connected", "generating") for r in records)
    # Offline, every scene (today's models and the 2025 avatar alike) plays peer-to-peer on loopback.
    assert {r.get("protocol") for r in records if r["event"] == "session.state"} == {"p2p"}
    assert not [r for r in records if r["event"] == "error"], records
    assert "Traceback" not in proc.stderr
