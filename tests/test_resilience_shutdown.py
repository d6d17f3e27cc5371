"""SIGINT or SIGTERM at any moment ends `decart-flow run` within 3 s with a closed journal.

Each test holds the run in one phase: connecting (nothing listens), waiting for an ack (the
service delays acks), reconnecting (the service was killed mid-show).
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import av

from test_resilience_run import KEY, Serve, cli, free_port, journal, wait_journal, write_show

LIMIT_S = 3.0


def stop_within_limit(run: subprocess.Popen, sig: int) -> tuple[str, str]:
    sent = time.monotonic()
    run.send_signal(sig)
    try:
        out, err = run.communicate(timeout=15)
    finally:
        if run.poll() is None:
            run.kill()
    took = time.monotonic() - sent
    assert took < LIMIT_S, f"took {took:.1f} s to stop\n{err}"
    assert run.returncode == 0, err
    assert "Traceback" not in err, err
    return out, err


def assert_closed_journal(path: Path) -> None:
    records = journal(path)
    assert records[-1]["event"] == "show.end" and records[-1]["reason"] == "signal", records[-3:]


def start_run(tmp_path: Path, url: str) -> tuple[subprocess.Popen, Path, Path]:
    rec, jpath = tmp_path / "out.mp4", tmp_path / "j.jsonl"
    run = cli("run", str(write_show(tmp_path)), "--headless", "--backend", url, "--api-key", KEY,
              "--record", str(rec), "--journal", str(jpath), cwd=tmp_path)
    return run, rec, jpath


def connecting(records: list[dict]) -> bool:
    return any(r["event"] == "session.state" and r["state"] == "connecting" for r in records)


def test_sigint_while_connecting_to_nothing(tmp_path: Path) -> None:
    run, rec, jpath = start_run(tmp_path, f"http://127.0.0.1:{free_port()}")
    wait_journal(jpath, connecting, 30, "connecting", run)
    time.sleep(1.5)  # inside the connect retries
    out, _ = stop_within_limit(run, signal.SIGINT)
    assert "show ended: signal" in out
    assert_closed_journal(jpath)
    assert not rec.exists() or rec.stat().st_size == 0  # no frame ever came


def test_sigterm_while_waiting_for_the_initial_ack(tmp_path: Path) -> None:
    service = Serve(free_port(), "ack-delay=30s").start()
    try:
        run, _, jpath = start_run(tmp_path, service.url)
        wait_journal(jpath, connecting, 30, "connecting", run)
        time.sleep(2.0)  # the initial prompt is sent and its ack is held back
        stop_within_limit(run, signal.SIGTERM)
    finally:
        service.stop()
    assert_closed_journal(jpath)
    assert not any(r["event"] == "show.start" for r in journal(jpath))


def test_sigint_while_reconnecting_leaves_a_playable_recording(tmp_path: Path) -> None:
    service = Serve(free_port()).start()
    try:
        run, rec, jpath = start_run(tmp_path, service.url)
        wait_journal(jpath, lambda rs: any(r["event"] == "cue.fire" and r["cue"] == "timeline 0:02" for r in rs),
                     40, "the 0:02 cue", run)
        service.kill()
        wait_journal(jpath, lambda rs: any(r.get("state") == "reconnecting" for r in rs), 10, "reconnecting", run)
        time.sleep(1.0)
        stop_within_limit(run, signal.SIGINT)
    finally:
        service.stop()
    assert_closed_journal(jpath)
    with av.open(str(rec)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames > 5  # ~2 s of video before the service died (fewer on a starved machine)
