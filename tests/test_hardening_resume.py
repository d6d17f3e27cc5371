"""Issue #19 item 7: `--resume` after a crash continues from when the process died, and never
fires again a cue that its lookahead had already sent."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from test_resilience_run import cli, journal, wait_journal

SHOW = """\
name: Crash
model: mirage_v2
source: testsrc
duration: 14s
lookahead: 2s
initial: {prompt: Anime}
timeline:
  0:04: Neon
  0:09: {mirror: toggle}
"""


def test_resume_after_a_crash_starts_when_the_run_died_and_sends_no_early_cue_twice(tmp_path: Path) -> None:
    (tmp_path / "show.yaml").write_text(SHOW)
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    run = cli("run", "show.yaml", "--headless", "--journal", str(first), cwd=tmp_path)
    try:
        def toggled(records):
            return any(r["event"] == "action.send" and r.get("cue") == "timeline 0:09" for r in records)

        wait_journal(first, toggled, 60, "the 0:09 toggle to be sent early", run)
        last = journal(first)[-1]
        time.sleep(1.8)  # a quiet stretch: no records, the show clock runs on
        run.send_signal(signal.SIGKILL)  # a crash: no show.end
        run.communicate(timeout=10)
    finally:
        if run.poll() is None:
            run.kill()
    records = journal(first)
    assert records[-1]["event"] != "show.end"
    fire = next(r for r in records if r["event"] == "cue.fire" and r["cue"] == "timeline 0:09")
    assert fire["intended_t"] == 9.0 and fire["t"] < 8.0  # sent early by the lookahead
    quiet = records[-1]
    assert quiet["t"] <= last["t"] + 0.2  # nothing was journaled in the quiet stretch

    run = cli("run", "show.yaml", "--headless", "--resume", str(first), "--journal", str(second), cwd=tmp_path)
    out, err = run.communicate(timeout=90)
    assert run.returncode == 0, err
    resumed = journal(second)
    start = next(r for r in resumed if r["event"] == "show.start")
    # The run died about 1.8 s after its last record: it goes on from there, not from the record.
    assert start["t"] > quiet["t"] + 0.7, (start, quiet)
    assert start["t"] < quiet["t"] + 1.8 + 0.5, (start, quiet)
    state = next(r for r in resumed if r["event"] == "run.resume")["state"]
    assert state["mirror"] is True and state["prompt"] == "Neon"
    again = [r for r in resumed if r["event"] in ("cue.fire", "action.send") and r.get("cue") == "timeline 0:09"]
    assert again == [], again  # the toggle is not sent a second time: the mirror stays on
    assert not any(r["event"] == "action.send" and "mirror" in r["action"] and r["action"]["mirror"] is False
                   for r in resumed)
    assert resumed[-1]["event"] == "show.end" and resumed[-1]["reason"] == "duration"
