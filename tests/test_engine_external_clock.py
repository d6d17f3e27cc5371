"""A show clock owned elsewhere (a fleet node's controller): `autostart` off, `start_at`, `go_to`, `seek`.

In virtual time, as the rest of the engine's tests."""

from __future__ import annotations

from typing import Any, Callable

import pytest
from test_engine_support import play

from decart_flow.engine.engine import Engine
from decart_flow.show.model import Cue, EveryTrigger, PromptAction, ShowModel, TimelineEntry

SHOW = ShowModel("X", "mirage_v2", timeline=tuple(TimelineEntry(t, (PromptAction(n),)) for t, n in
                                                   [(0, "Zero"), (10, "A"), (20, "B"), (30, "C")]),
                 cues=(Cue("e", EveryTrigger(4, start=2), (PromptAction("e"),)),))


def drive(script: tuple[tuple[float, Callable[[Engine], Any]], ...], until: float) -> tuple[Engine, Any, list]:
    p = play(SHOW, until, script=script, autostart=False)
    return p.engine, p.session, p.records


def test_without_autostart_the_clock_waits_for_start_at():
    engine, session, records = drive(((5, lambda e: e.start_at(0.0)),), until=16)
    assert session.prompts() == [(5, "Zero"), (7, "e"), (11, "e"), (15, "A"), (15, "e")]
    assert [r["t"] for r in records if r["event"] == "show.start"] == [0.0]


def test_a_start_in_the_future_fires_the_entry_at_zero_on_time():
    engine, session, _ = drive(((5, lambda e: e.start_at(-0.5)),), until=6)
    assert session.prompts() == [(5.5, "Zero")]


def test_a_late_start_catches_up_as_a_restarted_show():
    engine, session, records = drive(((1, lambda e: e.start_at(23.0)),), until=4.5)
    # B (t=20) and the grid's slot at 22 were due before: catch-up sends the newest (22: e); the next slot is 26
    assert session.prompts() == [(1, "e"), (4, "e")]
    caught = [r for r in records if r["event"] == "catch_up"][0]
    assert [a["cue"] for a in caught["applied"]] == ["e"]
    assert engine.show_clock.t == pytest.approx(26.5)


def test_go_to_fires_that_entry_and_seek_replans_without_firing():
    engine, session, records = drive((
        (0, lambda e: e.start_at(0.0)),
        (1, lambda e: e.go_to(2)),      # B now; show time 20
        (2, lambda e: e.seek(9.0)),     # back to 9: A (10) and the grid's slot at 10 due at loop 3
    ), until=3.5)
    # nothing is caught up at the seek: B, sent at loop 1, is newer than anything due before 9
    assert sorted(session.prompts()) == [(0, "Zero"), (1, "B"), (3, "A"), (3, "e")]
    assert engine.start_at(0.0) is False
    assert [r["to"] for r in records if r["event"] == "show.seek"] == [9.0]
