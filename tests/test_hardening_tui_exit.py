"""After quitting the TUI the terminal keeps how the show ended and where its journal and
recording are (the TUI's screen is gone by then)."""

from __future__ import annotations

import os
import re
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

SHOW = """\
name: Leaving
model: mirage_v2
source: testsrc
initial: {prompt: Calm}
timeline:
  0:30: Neon
"""


def _read(fd: int, timeout: float) -> bytes:
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    return out


def test_quitting_the_tui_prints_the_journal_and_recording_paths(tmp_path: Path) -> None:
    (tmp_path / "show.yaml").write_text(SHOW)
    master, slave = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"}
    env.pop("DECART_API_KEY", None)
    proc = subprocess.Popen([sys.executable, "-m", "decart_flow.cli", "run", "show.yaml", "--journal", "j.jsonl",
                             "--record", "out.mp4", "--no-realtime"], stdin=slave, stdout=slave, stderr=slave,
                            cwd=tmp_path, env=env, close_fds=True)
    os.close(slave)
    try:
        seen = b""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and b"show.start" not in seen:
            seen += _read(master, 0.5)
        assert b"show.start" in seen, seen[-2000:]
        os.write(master, b"q")
        time.sleep(1.0)
        os.write(master, b"y")
        tail = _read(master, 20)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert proc.returncode == 0
    text = tail.decode(errors="replace").replace("\r", "")
    lines = [re.split(r"\x1b\[[0-9;?<>=]*[A-Za-z]", line)[-1].strip() for line in text.splitlines()]
    end = [line for line in lines if line][-3:]
    assert end == ["show ended: quit", "journal: j.jsonl", "recording: out.mp4"], end
