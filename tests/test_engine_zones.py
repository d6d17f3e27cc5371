"""One zone for plan and run; `times` with `when`; a cue due at the start (issue 18).

SHOW_FORMAT "Times": the show's zone is `tz:` or the machine's; a cue's `tz` covers its `cron` and
its `when`; `plan --start` with an offset only names an instant.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path

import pytest

from decart_flow.engine.plan import plan
from decart_flow.show import load_show
from decart_flow.show.problems import ShowError


def _show(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "show.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def _rows(path: Path, seconds: float, start: datetime) -> list[tuple[float, str, str]]:
    return [(f.t, f.wall.isoformat(), f.cue) for f in plan(load_show(path), seconds, start)]


OFFICE = """
    name: Office
    model: lucy-restyle-2
    initial: {prompt: Start}
    cues:
      - name: office
        every: 30m
        when: {between: ["12:00", "13:00"]}
        prompt: Lunch
"""


def test_plan_reads_when_in_the_zone_run_would_whatever_the_start_is_written_in(tmp_path, monkeypatch):
    monkeypatch.setenv("TZ", "Europe/Paris")
    path = _show(tmp_path, OFFICE)
    spellings = ["2026-03-27T11:00:00", "2026-03-27T11:00:00+01:00", "2026-03-27T10:00:00Z"]
    plans = [[(t, cue) for t, _, cue in _rows(path, 3 * 3600, datetime.fromisoformat(s))] for s in spellings]
    # 12:00 and 12:30 Paris time: one and two hours after the start, in every spelling
    assert plans[0] == [(3600.0, "office"), (5400.0, "office")]
    assert plans[1] == plans[0] and plans[2] == plans[0]


def test_plan_json_is_the_same_for_the_same_instant(tmp_path):
    path = _show(tmp_path, OFFICE)
    env = {"TZ": "Europe/Paris", "PATH": "/usr/bin:/bin"}
    outs = []
    for start in ("2026-03-27T11:00:00+01:00", "2026-03-27T10:00:00Z"):
        proc = subprocess.run([sys.executable, "-m", "decart_flow.cli", "plan", str(path), "--for", "3h",
                               "--start", start, "--json"], capture_output=True, text=True, env=env, timeout=60)
        assert proc.returncode == 0, proc.stderr
        outs.append([(r["t"], r["cue"]) for r in json.loads(proc.stdout)])
    assert outs[0] == outs[1] == [(3600.0, "office"), (5400.0, "office")]


def test_the_show_tz_covers_when_and_cron(tmp_path, monkeypatch):
    monkeypatch.setenv("TZ", "UTC")  # a machine on UTC driving an installation in Tokyo
    path = _show(tmp_path, """
        name: Tokyo
        model: lucy-restyle-2
        tz: Asia/Tokyo
        cues:
          - name: opening
            every: 1h
            when: {between: ["09:00", "11:00"]}
            prompt: Morning
          - name: nine
            cron: "0 9 * * *"
            prompt: Nine
    """)
    show = load_show(path)
    assert show.tz == "Asia/Tokyo" and show.cues[0].when.tz == "Asia/Tokyo" and show.cues[1].trigger.tz == "Asia/Tokyo"
    rows = _rows(path, 6 * 3600, datetime.fromisoformat("2026-03-27T22:30:00+00:00"))  # 07:30 in Tokyo
    live = [(t, wall, cue) for t, wall, cue in rows if "catch-up" not in cue]
    # slots at 09:30 and 10:30 Tokyo (00:30 and 01:30 UTC) are inside; the cron at 09:00 Tokyo
    assert sorted((t, cue) for t, _, cue in live) == [(5400.0, "nine"), (7200.0, "opening"), (10800.0, "opening")]


def test_a_cue_tz_covers_its_when_and_overrides_the_show(tmp_path, monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    path = _show(tmp_path, """
        name: Two zones
        model: lucy-restyle-2
        tz: Asia/Tokyo
        cues:
          - name: paris
            every: 1h
            tz: Europe/Paris
            when: {between: ["09:00", "10:00"]}
            prompt: Paris morning
    """)
    assert load_show(path).cues[0].when.tz == "Europe/Paris"
    rows = _rows(path, 12 * 3600, datetime.fromisoformat("2026-03-27T00:00:00+00:00"))
    assert [(t, wall) for t, wall, _ in rows] == [(8 * 3600.0, "2026-03-27T08:00:00+00:00")]  # 09:00 CET


def test_tz_alone_on_a_cue_without_cron_or_when_is_refused(tmp_path):
    path = _show(tmp_path, """
        name: Bad
        model: lucy-restyle-2
        cues:
          - name: e
            every: 1m
            tz: Europe/Paris
            prompt: x
    """)
    with pytest.raises(ShowError) as err:
        load_show(path)
    assert [str(p) for p in err.value.problems] == [
        f"{path}:7:5: tz: goes with cron: or when: (the zone they read the wall clock in)"]


def test_a_bad_show_tz_is_one_line(tmp_path):
    path = _show(tmp_path, """
        name: Bad
        model: lucy-restyle-2
        tz: Europe/Pariss
    """)
    with pytest.raises(ShowError) as err:
        load_show(path)
    assert [str(p) for p in err.value.problems] == [
        f"{path}:4:5: unknown time zone 'Europe/Pariss' (did you mean 'Europe/Paris'?): use an IANA name such as Europe/Paris"]


def test_times_counts_firings_that_happened_not_slots_when_suppressed(tmp_path):
    path = _show(tmp_path, """
        name: Capped
        model: lucy-restyle-2
        tz: UTC
        cues:
          - name: e
            every: 30m
            times: 3
            when: {between: ["10:00", "11:00"]}
            prompt: Every
    """)
    rows = _rows(path, 2 * 86400, datetime.fromisoformat("2026-03-27T09:00:00+00:00"))
    # before the fix: only 10:00 (09:00 and 09:30 used up two of the three)
    assert [wall for _, wall, _ in rows] == [
        "2026-03-27T10:00:00+00:00", "2026-03-27T10:30:00+00:00", "2026-03-28T10:00:00+00:00"]


def test_catch_up_with_times_and_when_takes_the_last_firing_that_happened():
    from datetime import time as dtime, timezone

    from test_engine_support import play

    from decart_flow.show.model import Cue, EveryTrigger, PromptAction, ShowModel, When

    when = When(((dtime(10), dtime(11)),), tz="UTC")
    cue = Cue("e", EveryTrigger(1800, times=2, when=when), (PromptAction("E"),), when=when)
    # from 09:00: the slots at 10:00 and 10:30 fire; a reconnect at 12:00 catches up 10:30's
    p = play(ShowModel("T", "mirage_v2", cues=(cue,)), until=3 * 3600 + 1,
             start=datetime(2026, 3, 27, 9, tzinfo=timezone.utc), script=((3 * 3600, lambda e: e.catch_up()),))
    assert [t for t, _ in p.session.prompts()][:2] == [3600.0, 5400.0]
    again = [r for r in p.events("catch_up") if r["reason"] == "reconnect"]
    assert [a["fired"] for a in again[0]["applied"]] == ["2026-03-27T10:30:00+00:00"]


def test_a_cue_due_at_the_start_fires_once(tmp_path):
    path = _show(tmp_path, """
        name: Noon
        model: lucy-restyle-2
        tz: UTC
        initial: {prompt: Start}
        cues:
          - name: c
            cron: "0 12 * * *"
            prompt: Noon
    """)
    exact = _rows(path, 60, datetime.fromisoformat("2026-02-01T12:00:00+00:00"))
    assert exact == [(0.0, "2026-02-01T12:00:00+00:00", "c")]  # before: "c (catch-up)" then "c"
    later = _rows(path, 60, datetime.fromisoformat("2026-02-01T12:00:01+00:00"))
    assert later == [(0.0, "2026-02-01T12:00:01+00:00", "c (catch-up)")]


def test_a_never_matching_cron_is_a_validation_error(tmp_path):
    path = _show(tmp_path, """
        name: Never
        model: lucy-restyle-2
        cues:
          - name: c
            cron: "0 0 30 2 *"
            prompt: x
    """)
    proc = subprocess.run([sys.executable, "-m", "decart_flow.cli", "validate", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stdout.strip().splitlines() + proc.stderr.strip().splitlines() == [
        f"{path}:6:11: cron expression '0 0 30 2 *' never matches a date (e.g. the 30th of February): "
        "check its day and month fields"]
