"""Bad input around a run: a source that cannot be read, a journal or recording on a full disk.

The disk is made full without root: the journal goes to /dev/full (every write fails with ENOSPC),
and the recording runs under RLIMIT_FSIZE in the run's own process (writes past it fail with EFBIG).
"""

from __future__ import annotations

import resource
import signal
from pathlib import Path

import av
import pytest

from test_resilience_run import KEY, Serve, cli, free_port, journal, write_show


@pytest.fixture
def service():
    svc = Serve(free_port()).start()
    yield svc
    svc.stop()


def test_a_source_that_cannot_be_read_is_one_clear_line(tmp_path: Path, service: Serve) -> None:
    broken = tmp_path / "clip.mp4"
    broken.write_bytes(b"this is not a video" * 100)
    for source in (f"file:{tmp_path / 'missing.mp4'}", f"file:{broken}"):
        run = cli("run", str(write_show(tmp_path, "3s")), "--headless", "--backend", service.url,
                  "--api-key", KEY, "--source", source, "--journal", str(tmp_path / "j.jsonl"), cwd=tmp_path)
        out, err = run.communicate(timeout=60)
        assert run.returncode == 2, (out, err)  # a bad --source is a bad argument (#19 item 9)
        assert "Traceback" not in err
        name = source.split(":", 1)[1]
        assert name in err or Path(name).name in err, err


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_journal_on_a_full_disk_is_reported_and_the_show_goes_on(tmp_path: Path, service: Serve) -> None:
    rec = tmp_path / "out.mp4"
    run = cli("run", str(write_show(tmp_path, "4s")), "--headless", "--backend", service.url, "--api-key", KEY,
              "--journal", "/dev/full", "--record", str(rec), cwd=tmp_path)
    out, err = run.communicate(timeout=60)
    assert run.returncode == 0, err
    assert "journal write failed" in out + err
    assert (out + err).count("journal write failed") <= 2  # said once (screen and log), not per record
    assert "show ended: duration" in out
    with av.open(str(rec)) as container:
        assert sum(1 for _ in container.decode(video=0)) > 5


def limit_files_to(size: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    return apply


def test_a_recording_on_a_full_disk_is_reported_and_the_show_goes_on(tmp_path: Path, service: Serve) -> None:
    rec, jpath = tmp_path / "out.mp4", tmp_path / "j.jsonl"
    run = cli("run", str(write_show(tmp_path, "6s")), "--headless", "--backend", service.url, "--api-key", KEY,
              "--journal", str(jpath), "--record", str(rec), cwd=tmp_path, preexec_fn=limit_files_to(256 * 1024))
    out, err = run.communicate(timeout=60)
    assert run.returncode == 0, err
    assert "show ended: duration" in out
    assert "Traceback" not in err
    assert f"recording to {rec} stopped" in out + err
    records = journal(jpath)
    assert records[-1]["event"] == "show.end" and records[-1]["reason"] == "duration"
    assert any(r["event"] == "action.ack" and r["cue"] == "timeline 0:02" and r["success"] for r in records)
    # What was written before the disk filled still plays (fragmented mp4), up to the cut fragment.
    frames = 0
    with av.open(str(rec)) as container:
        try:
            for _ in container.decode(video=0):
                frames += 1
        except av.error.InvalidDataError:
            pass  # the fragment the disk cut short
    assert frames > 5
