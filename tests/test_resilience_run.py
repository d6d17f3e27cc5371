"""`decart-flow run --headless` as a subprocess against a `decart-flow serve` subprocess.

The service is killed and restarted, held in a phase with faults, or given a full disk; the
journal says what the engine did and the stamps in the recording say what reached the glass.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import av
import pytest

from decart_flow.service import read_stamp

KEY = "sk_resilience_Q7wYc2m9TzK4"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(*args: str, preexec_fn: Callable[[], None] | None = None, cwd: Path | None = None) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("DECART_API_KEY", None)
    return subprocess.Popen([sys.executable, "-m", "decart_flow.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, preexec_fn=preexec_fn, cwd=cwd)


class Serve:
    """`decart-flow serve --port P` in a subprocess: start, kill, start again on the same port."""

    def __init__(self, port: int, *faults: str, key: str = KEY) -> None:
        self.port, self.faults, self.key = port, faults, key
        self.proc: subprocess.Popen | None = None
        self.outputs: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Serve":
        args = ["serve", "--port", str(self.port), "--api-key", self.key, "--log-level", "debug"]
        for fault in self.faults:
            args += ["--fault", fault]
        self.proc = cli(*args)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert "listening on" in line, line + (self.proc.stderr.read() if self.proc.stderr else "")
        self.outputs.append(line)
        return self

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            out, err = self.proc.communicate(timeout=10)
            self.outputs += [out, err]
            self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGINT)
            try:
                out, err = self.proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                out, err = self.proc.communicate()
            self.outputs += [out, err]
            self.proc = None


def journal(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_journal(path: Path, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float, what: str,
                 proc: subprocess.Popen) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        records = journal(path)
        if predicate(records):
            return records
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    out, err = proc.communicate()
    pytest.fail(f"timed out waiting for {what}\nstdout:\n{out}\nstderr:\n{err}\njournal:\n{journal(path)}")


def stamps_of(recording: Path) -> list[int | None]:
    with av.open(str(recording)) as container:
        return [read_stamp(frame) for frame in container.decode(video=0)]


def timed_stamps(recording: Path) -> list[tuple[float, int | None]]:
    with av.open(str(recording)) as container:
        return [(float(frame.time), read_stamp(frame)) for frame in container.decode(video=0)]


def changes(values: list[int | None]) -> list[int]:
    seen = [v for v in values if v is not None]
    return [v for i, v in enumerate(seen) if i == 0 or v != seen[i - 1]]


SHOW = """\
name: Restart
model: mirage_v2
source: testsrc
duration: {duration}
initial:
  prompt: first light
timeline:
  0:02: before the crash
  0:03.5: during the outage
  0:14: after the restart
"""


def write_show(tmp_path: Path, duration: str = "17s") -> Path:
    path = tmp_path / "show.yaml"
    path.write_text(SHOW.format(duration=duration))
    return path


def fired(records: list[dict[str, Any]], cue: str) -> bool:
    return any(r["event"] == "cue.fire" and r.get("cue") == cue for r in records)


def test_a_killed_and_restarted_service_mid_show_carries_the_show_on(tmp_path: Path) -> None:
    port = free_port()
    service = Serve(port).start()
    rec, jpath = tmp_path / "out.mp4", tmp_path / "j.jsonl"
    run = cli("run", str(write_show(tmp_path)), "--headless", "--backend", service.url, "--api-key", KEY,
              "--record", str(rec), "--journal", str(jpath), cwd=tmp_path)
    try:
        def acked(records: list[dict[str, Any]]) -> bool:
            return any(r["event"] == "action.ack" and r.get("cue") == "timeline 0:02" and r["success"] for r in records)

        wait_journal(jpath, acked, 40, "the 0:02 prompt to be acknowledged", run)
        time.sleep(0.8)  # frames of stamp 2 in the recording
        service.kill()
        # Back at once: a new service takes 1-5 s to import and listen, so the client's retries
        # (about 0, 1, 3, 7 s after the drop) fail at first and the 0:03.5 cue fires in the outage.
        service = Serve(port).start()
        out, err = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
        service.stop()
    assert run.returncode == 0, err
    assert "show ended: duration" in out
    records = journal(jpath)
    assert records[-1]["event"] == "show.end" and records[-1]["reason"] == "duration"
    states = [r["state"] for r in records if r["event"] == "session.state"]
    lost = states.index("reconnecting")
    assert any(s in ("connected", "generating") for s in states[lost:]), states
    # The show clock went on through the outage: the 0:03.5 cue fired on time, and failed.
    fire4 = next(r for r in records if r["event"] == "cue.fire" and r["cue"] == "timeline 0:03.5")
    assert abs(fire4["t"] - 3.5) < 0.5
    ack4 = next(r for r in records if r["event"] == "action.ack" and r["cue"] == "timeline 0:03.5")
    assert ack4["success"] is False and "not connected" in ack4["error"]
    # On reconnect the latest state (the 0:03.5 prompt) was applied, before the 0:14 cue.
    catch = [r for r in records if r["event"] == "catch_up" and r["reason"] == "reconnect"]
    assert catch and any(a["cue"] == "timeline 0:03.5" and a["kind"] == "prompt" for a in catch[0]["applied"]), catch
    ack14 = next(r for r in records if r["event"] == "action.ack" and r["cue"] == "timeline 0:14")
    assert ack14["success"] is True
    assert abs(records[-1]["t"] - 17.0) < 1.0
    # The glass: session 1 showed 1 (initial) then 2 (0:02); session 2 starts afresh (its 1 may
    # not reach a frame before the caught-up prompt makes it 2), then the 0:14 prompt makes it 3.
    stamped = timed_stamps(rec)
    order = changes([s for _, s in stamped])
    assert order[:2] == [1, 2], order
    # The 0:14 prompt reached the glass on time after the restart: its stamp (the last) first
    # shows about 14 s into the recording (timestamps are arrival times from the first frame).
    first_last = next(t for t, s in stamped if s == order[-1])
    assert order[-1] >= 3 and 13.8 < first_last < 15.5, (order, first_last)
    sessions = {r.get("session_id") for r in records if r["event"] == "session.state" and r.get("session_id")}
    assert len(sessions) == 2, sessions  # a new session, not a resumed one


def test_a_full_service_at_start_is_waited_for_and_journaled(tmp_path: Path) -> None:
    """`Server at capacity` while connecting: retried however long, each refusal an `error` record,
    then the show plays from its start."""
    service = Serve(free_port(), "full-for=2.5s").start()
    jpath = tmp_path / "j.jsonl"
    run = cli("run", str(write_show(tmp_path, duration="4s")), "--headless", "--backend", service.url,
              "--api-key", KEY, "--journal", str(jpath), cwd=tmp_path)
    try:
        out, err = run.communicate(timeout=60)
    finally:
        run.kill()
        service.stop()
    assert run.returncode == 0, err
    records = journal(jpath)
    full = [r for r in records if r["event"] == "error" and "capacity" in r["message"]]
    assert full, records
    first_fire = next(i for i, r in enumerate(records) if r["event"] == "cue.fire")
    assert records.index(full[0]) < first_fire
    assert fired(records, "timeline 0:02") and records[-1]["event"] == "show.end"
    assert KEY not in jpath.read_text()
