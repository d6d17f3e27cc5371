"""Opening hours and a daily budget (`session: {when, budget}`): plan in virtual time, then a real run.

An installation must not pay for nights: outside the window the session is disconnected, it opens
early enough to generate at the window's start, and the day's budget closes it until tomorrow.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from decart_flow.engine.plan import plan
from decart_flow.show import ShowError, load_show

INSTALLATION = """\
name: Hours
model: lucy-restyle-2
tz: Europe/Paris
session:
  when: {between: ["09:45", "18:00"], days: weekdays}
  budget: 6h/day
initial: {prompt: Morning}
cues:
  - cron: "0 12 * * *"
    prompt: Noon
"""


def _show(tmp_path: Path, text: str):
    path = tmp_path / "show.yaml"
    path.write_text(text)
    return load_show(path)


def _sessions(show, for_seconds: float, start: str) -> list[tuple[str, str]]:
    rows = plan(show, for_seconds, datetime.fromisoformat(start))
    return [(f.wall.isoformat(), f.action["session"]) for f in rows if f.cue == "session"]


def test_plan_lists_connects_and_disconnects_by_window_days_and_budget(tmp_path: Path) -> None:
    show = _show(tmp_path, INSTALLATION)
    # Friday 2026-12-04 from 08:00 Paris for four days: closed at start, open 09:45, the 6 h budget
    # ends it at 15:45, the weekend stays closed, Monday opens again.
    assert _sessions(show, 4 * 86400, "2026-12-04T08:00:00+01:00") == [
        ("2026-12-04T08:00:00+01:00", "disconnect"),
        ("2026-12-04T09:45:00+01:00", "connect"),
        ("2026-12-04T15:45:00+01:00", "disconnect"),
        ("2026-12-07T09:45:00+01:00", "connect"),
        ("2026-12-07T15:45:00+01:00", "disconnect"),
    ]


def test_plan_reads_the_window_in_the_show_zone_whatever_start_offset(tmp_path: Path) -> None:
    show = _show(tmp_path, INSTALLATION)
    same_instant = ["2026-12-04T08:00:00+01:00", "2026-12-04T07:00:00+00:00", "2026-12-04T16:00:00+09:00"]
    plans = [[(datetime.fromisoformat(w).timestamp(), a) for w, a in _sessions(show, 86400, s)] for s in same_instant]
    assert plans[0] == plans[1] == plans[2]


def test_a_window_across_midnight_and_a_budget_without_window(tmp_path: Path) -> None:
    night = _show(tmp_path, INSTALLATION.replace('["09:45", "18:00"], days: weekdays', '["22:00", "02:00"]')
                  .replace("  budget: 6h/day\n", ""))
    assert _sessions(night, 86400, "2026-12-04T12:00:00+01:00") == [
        ("2026-12-04T12:00:00+01:00", "disconnect"),
        ("2026-12-04T22:00:00+01:00", "connect"),
        ("2026-12-05T02:00:00+01:00", "disconnect"),
    ]
    budget_only = _show(tmp_path, INSTALLATION.replace('  when: {between: ["09:45", "18:00"], days: weekdays}\n', "")
                        .replace("6h/day", "90m/day"))
    # Open at once; the budget closes it after 90 min; a new day opens it at midnight.
    assert _sessions(budget_only, 86400, "2026-12-04T20:00:00+01:00") == [
        ("2026-12-04T21:30:00+01:00", "disconnect"),
        ("2026-12-05T00:00:00+01:00", "connect"),
        ("2026-12-05T01:30:00+01:00", "disconnect"),
    ]


@pytest.mark.parametrize("value, message", [
    ("6h/week", "budget: '6h/week' is not a daily budget"),
    ("25h/day", "budget: '25h/day' is not a daily budget"),
    ("lots", "budget: 'lots' is not a daily budget"),
])
def test_a_bad_budget_names_its_place(tmp_path: Path, value: str, message: str) -> None:
    with pytest.raises(ShowError) as err:
        _show(tmp_path, INSTALLATION.replace("6h/day", value))
    assert [str(p).split(": ", 1)[1] for p in err.value.problems][0].startswith(message)
    assert str(err.value.problems[0]).split(":")[1:3] == ["6", "11"]


def test_a_misspelt_session_key_gets_a_did_you_mean(tmp_path: Path) -> None:
    with pytest.raises(ShowError) as err:
        _show(tmp_path, INSTALLATION.replace("  budget:", "  budjet:"))
    assert "did you mean 'budget'" in str(err.value.problems[0])


def _clock(at: datetime) -> str:
    return at.strftime("%H:%M:%S")


@pytest.mark.slow
def test_a_real_run_opens_and_closes_on_a_window_of_seconds(tmp_path: Path) -> None:
    """The embedded service, a window from 7 s to 15 s after the start: nothing before, ticks inside."""
    now = datetime.now().astimezone()
    opens, closes = now + timedelta(seconds=7), now + timedelta(seconds=15)
    if opens.date() != closes.date() or closes.date() != now.date():
        pytest.skip("too close to midnight for a same-day window")
    show = tmp_path / "hours.yaml"
    show.write_text(
        "name: Hours\nmodel: lucy-restyle-2\nduration: 22s\n"
        f'session:\n  when: {{between: ["{_clock(opens)}", "{_clock(closes)}"]}}\n'
        "initial: {prompt: Night}\n"
        "cues:\n  - every: 2s\n    prompt: {cycle: [Red, Blue]}\n"
    )
    jpath = tmp_path / "j.jsonl"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("DECART_API_KEY", None)
    done = subprocess.run([sys.executable, "-m", "decart_flow.cli", "run", str(show), "--headless",
                           "--journal", str(jpath), "--no-realtime"],
                          capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in jpath.read_text().splitlines()]
    wall = lambda r: datetime.fromisoformat(r["ts"])  # noqa: E731
    schedule = [(r["action"], wall(r)) for r in records if r["event"] == "session.schedule"]
    assert [a for a, _ in schedule] == ["disconnect", "connect", "disconnect"], schedule
    # It connects ahead of the window by the connect lead, and closes at the window's end.
    assert schedule[1][1] < opens and (opens - schedule[1][1]).total_seconds() < 10
    assert abs((schedule[2][1] - closes).total_seconds()) < 1.0
    states = [(r["state"], wall(r)) for r in records if r["event"] == "session.state"]
    generating = [at for state, at in states if state == "generating"]
    assert generating and schedule[1][1] <= generating[0] <= opens + timedelta(seconds=1), states
    # Nothing was acknowledged while closed: the cues still fired, their prompts were kept (deferred,
    # not errors) and caught up on opening.
    acked = [wall(r) for r in records if r["event"] == "action.ack" and r["success"]]
    assert acked and all(schedule[1][1] <= at <= closes + timedelta(seconds=1) for at in acked), acked
    closed = [r for r in records if r["event"] == "action.ack" and not r["success"]]
    assert closed and all(r["deferred"] for r in closed)
    assert not [r for r in records if r["event"] == "error"]
    assert any(r["event"] == "catch_up" and r["reason"] == "reconnect" and r["applied"] for r in records)
    billed = [r["seconds"] for r in records if r["event"] == "session.billed"]
    generated = (schedule[2][1] - generating[0]).total_seconds()  # the service ticks while generating
    assert billed and abs(billed[-1] - generated) <= 1.5, (billed, generated)
    assert records[-1]["event"] == "show.end"
