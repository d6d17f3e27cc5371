"""Issue #19 item 2: the embedded service dies mid-show. The run restarts the child it owns and the
client reconnects and catches up; when the child cannot come back the run ends non-zero and the
journal says so."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

from test_resilience_run import changes, cli, journal, timed_stamps, wait_journal

SHOW = """\
name: Dies
model: mirage_v2
source: testsrc
duration: 16s
initial: {prompt: first light}
timeline:
  0:02: before the death
  0:13: after the restart
"""


def service_child(pid: int) -> int:
    """The embedded service: the run's child process named by multiprocessing's spawn."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
                if b"multiprocessing" in cmdline and b"spawn" in cmdline:
                    return int(child)
        time.sleep(0.1)
    raise AssertionError("the run has no service child")


def acked(cue: str):
    def check(records: list[dict[str, Any]]) -> bool:
        return any(r["event"] == "action.ack" and r.get("cue") == cue and r["success"] for r in records)
    return check


def test_a_killed_embedded_service_is_restarted_and_the_show_catches_up(tmp_path: Path) -> None:
    (tmp_path / "show.yaml").write_text(SHOW)
    jpath = tmp_path / "j.jsonl"
    run = cli("run", "show.yaml", "--headless", "--journal", str(jpath), "--record", "out.mp4", cwd=tmp_path)
    try:
        wait_journal(jpath, acked("timeline 0:02"), 60, "the 0:02 prompt to be acknowledged", run)
        first = service_child(run.pid)
        os.kill(first, signal.SIGKILL)
        out, err = run.communicate(timeout=90)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, out + err
    assert "show ended: duration" in out and "restarting it" in out, out
    records = journal(jpath)
    events = [r["event"] for r in records]
    died = events.index("service.died")
    assert "killed by signal 9" in records[died]["reason"]
    assert "service.restart" in events[died:]
    before = next(i for i, r in enumerate(records) if acked("timeline 0:02")([r]))
    states = [r["state"] for r in records[before:] if r["event"] == "session.state"]
    lost = states.index("reconnecting")
    assert any(s in ("connected", "generating") for s in states[lost:]), states
    # Caught up after the reconnect, and the 0:13 cue went out on the new session and was acknowledged.
    assert any(r["event"] == "catch_up" and r.get("reason") == "reconnect" for r in records[died:])
    assert acked("timeline 0:13")(records)
    assert records[-1]["event"] == "show.end" and records[-1]["reason"] == "duration"
    # The recording goes on after the restart: the new session's frames, up to the 0:13 prompt's stamp.
    stamped = timed_stamps(tmp_path / "out.mp4")
    order = changes([s for _, s in stamped])
    assert order[:2] == [1, 2] and order[-1] >= 2 and len(order) >= 3, order
    assert stamped[-1][0] > 12.0, stamped[-1]


def test_a_service_that_cannot_come_back_ends_the_run_non_zero_and_says_so(tmp_path: Path) -> None:
    (tmp_path / "show.yaml").write_text(SHOW)
    jpath = tmp_path / "j.jsonl"
    run = cli("run", "show.yaml", "--headless", "--journal", str(jpath), cwd=tmp_path)
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past the TIME_WAITs of the old sessions
    try:
        wait_journal(jpath, acked("timeline 0:02"), 60, "the 0:02 prompt to be acknowledged", run)
        child = service_child(run.pid)
        port = next(int(r["url"].rsplit(":", 1)[1]) for r in journal(jpath) if r["event"] == "backend")
        os.kill(child, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while True:  # take the service's port the moment the dead child let go of it
            try:
                blocker.bind(("127.0.0.1", port))
                blocker.listen()
                break
            except OSError:
                assert time.monotonic() < deadline, "the port stayed in use"
                time.sleep(0.005)
        out, err = run.communicate(timeout=90)
    finally:
        blocker.close()
        if run.poll() is None:
            run.kill()
    assert run.returncode == 1, out + err
    assert "show ended: service lost" in out, out
    records = journal(jpath)
    errors = [r["message"] for r in records if r["event"] == "error"]
    assert any("could not be restarted" in m for m in errors), errors
    assert records[-1]["event"] == "show.end" and records[-1]["reason"] == "service lost"
    assert records[-1]["t"] < 12  # it ended when the service was lost, not at the show's duration
