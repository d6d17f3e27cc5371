"""A new user's first tries: every scene the scenes README offers plays on a machine without a camera."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCENES = Path(__file__).resolve().parent.parent / "scenes"


def test_the_installation_scene_plays_without_a_camera(tmp_path: Path) -> None:
    env_free = {"PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "decart_flow.cli", "run", str(SCENES / "installation.yaml"),
                           "--headless", "--duration", "2s", "--journal", "j.jsonl"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=90, env=env_free)
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in (tmp_path / "j.jsonl").read_text().splitlines()]
    assert records[-1]["event"] == "show.end" and records[-1]["reason"] == "duration"
    assert not any(r["event"] == "error" for r in records)
