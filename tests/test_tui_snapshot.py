"""The main screen at a fixed moment (state, clock, picture, journal): no session, no randomness."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from decart_flow.tui.app import FlowApp
from decart_flow.tui.header import ShowHeader
from decart_flow.tui.journal_log import JournalLog
from decart_flow.tui.timeline import Timeline
from test_tui_fixtures import WALL, still_frame, still_glance, still_show

RECORDS = [
    {"ts": "2026-03-14T21:30:00+00:00", "t": 0.0, "event": "show.start", "show": "Neon Night (performance)"},
    {"ts": "2026-03-14T21:30:10+00:00", "t": 10.0, "event": "cue.fire", "cue": "timeline 0:10", "lateness_ms": 0.4},
    {"ts": "2026-03-14T21:30:10+00:00", "t": 10.0, "event": "action.ack", "cue": "timeline 0:10",
     "kind": "prompt", "latency_ms": 41.2, "success": True},
    {"ts": "2026-03-14T21:30:14+00:00", "t": 14.2, "event": "cue.fire", "cue": "underwater", "lateness_ms": 0.0},
    {"ts": "2026-03-14T21:30:25+00:00", "t": 25.0, "event": "cue.fire", "cue": "timeline 0:25", "lateness_ms": 1.3},
]


def still_app(paused: bool = False) -> FlowApp:
    return FlowApp(still_show(), live=False, now=lambda: WALL, still=still_glance(paused), still_frame=still_frame())


async def _with_journal(pilot) -> None:
    pilot.app.query_one(JournalLog).add_records(RECORDS)
    await pilot.pause()


def test_main_screen(snap_compare):
    assert snap_compare(still_app(), terminal_size=(160, 50), run_before=_with_journal)


def test_main_screen_paused(snap_compare):
    assert snap_compare(still_app(paused=True), terminal_size=(160, 50), run_before=_with_journal)


def test_help_screen(snap_compare):
    async def open_help(pilot) -> None:
        await pilot.press("question_mark")

    assert snap_compare(still_app(), terminal_size=(160, 50), run_before=open_help)


async def test_paused_mark_and_go_target_are_drawn():
    app = still_app(paused=True)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        text = "\n".join(w.render_line(y).text for w in (app.query_one(ShowHeader), app.query_one(Timeline))
                         for y in range(w.size.height))
    assert "PAUSED" in text
    assert "GO" in text and "{mirror: true}" in text
    assert "-12.7s" in text  # 0:40 minus the show clock at 0:27.3
    assert "+1.3ms" in text  # the lateness of the 0:25 entry


async def test_journal_pane_keeps_one_row_per_record():
    """A long record is cut with an ellipsis, never wrapped onto a second row; the newest are shown."""
    app = still_app()
    long = {"ts": "2026-03-14T21:30:30+00:00", "t": 30.0, "event": "action.send", "cue": "x",
            "action": {"prompt": "a very long prompt " * 12}}
    async with app.run_test(size=(160, 50)) as pilot:
        log_view = app.query_one(JournalLog)
        log_view.add_records(RECORDS * 3 + [long])
        await pilot.pause()
        rows = [log_view.render_line(y).text.rstrip() for y in range(log_view.size.height)]
    assert rows[-1].startswith("21:30:30") and rows[-1].endswith("…")
    assert rows[0].startswith("21:30:14 t=   0:14.2 cue.fire")  # the newest 8 of 16: RECORDS[3] onwards
    assert len(rows) == 8


def test_clip_lengths_are_the_loaders_measure():
    """The avatar row's progress bar reads each clip's length from the show (AudioAction.seconds)."""
    from decart_flow.show import load_show

    show = load_show(Path(__file__).resolve().parent.parent / "scenes" / "avatar.yaml")
    lengths = show.clip_lengths()
    assert lengths and all(Path(p).suffix == ".wav" for p in lengths)
    for path, seconds in lengths.items():
        assert seconds is not None and seconds > 0.2, (path, seconds)
        with av.open(path) as container:  # independent of the loader: decode every sample
            decoded = sum(f.samples / f.sample_rate for f in container.decode(audio=0))
        assert seconds == pytest.approx(decoded, abs=0.05)
