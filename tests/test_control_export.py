"""Export: a journal of a live set (cues, GO, pause, operator actions) -> a show whose plan replays it."""

from __future__ import annotations

import json

import pytest
from test_engine_support import play

from decart_flow.cli import main
from decart_flow.control.export import export
from decart_flow.engine.plan import plan
from decart_flow.show import load_show
from decart_flow.show.model import (
    Choice, Cue, EventTrigger, EveryTrigger, MirrorAction, PromptAction, ShowModel, TimelineEntry,
)


def live_set(tmp_path):
    timeline = tuple(TimelineEntry(t, (PromptAction(p, enhance=False),)) for t, p in [(10, "A"), (20, "B"), (30, "C")])
    cues = (Cue("ambient", EveryTrigger(15), (PromptAction(Choice("cycle", ("x", "y"))),)),
            Cue("scene", EventTrigger("osc", "/scene"), (PromptAction("Scene {0}"),)))
    show = ShowModel("Live Set", "mirage_v2", timeline=timeline, cues=cues)
    journal = tmp_path / "live.jsonl"
    play(show, until=26, journal=journal, script=(
        (5, lambda e: e.manual(PromptAction("M1 {curly}"), "tui")),
        (12, lambda e: e.fire_event("osc", "/scene", ("Tokyo",))),
        (14, lambda e: e.go_next()),         # B now: show time jumps 14 -> 20
        (17, lambda e: e.pause()),           # show 23 ...
        (20, lambda e: e.resume()),          # ... still 23
        (22, lambda e: e.manual(MirrorAction(True), "http")),  # show 25
    ))
    return journal


def test_export_replays_the_journal_at_the_same_show_times(tmp_path):
    journal = live_set(tmp_path)
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    out = tmp_path / "replay.yaml"
    rec = export(journal, out)
    assert rec.skipped == 0

    replay = load_show(out)  # valid SHOW_FORMAT
    assert replay.name == "Live Set (replay)" and replay.model == "mirage_v2"
    firings = [(round(f.t, 6), f.action) for f in plan(replay)]
    assert firings == [
        (0, {"prompt": "x", "enhance": True}),
        (5, {"prompt": "M1 {curly}", "enhance": True}),
        (10, {"prompt": "A", "enhance": False}),
        (12, {"prompt": "Scene Tokyo", "enhance": True}),
        (20, {"prompt": "B", "enhance": False}),
        (25, {"mirror": True}),
    ]
    # the same show times as the journal's firings and operator actions
    journal_times = sorted({r["intended_t"] for r in records if r["event"] == "cue.fire"}
                           | {r["t"] for r in records if r["event"] == "manual"})
    assert sorted({t for t, _ in firings}) == journal_times
    assert replay.duration == pytest.approx(29)  # ends where the set ended


def test_export_command_writes_a_show_that_validates_and_plans(tmp_path, capsys):
    journal = live_set(tmp_path)
    with journal.open("a") as f:
        f.write("{not json\n")
    out = tmp_path / "show.yaml"
    assert main(["export", str(journal), "-o", str(out)]) == 0
    said = capsys.readouterr().out
    assert "6 actions" in said and "1 malformed lines skipped" in said
    assert main(["validate", str(out)]) == 0
    capsys.readouterr()
    assert main(["plan", str(out), "--json"]) == 0
    planned = json.loads(capsys.readouterr().out)
    assert [p["t"] for p in planned] == [0, 5, 10, 12, 20, 25]


def test_export_refuses_a_journal_with_nothing_to_replay(tmp_path, capsys):
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"ts": "x", "t": 0, "event": "run.start", "show": "S", "model": "mirage"}\n')
    assert main(["export", str(empty), "-o", str(tmp_path / "o.yaml")]) == 2
    assert "nothing to replay" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "missing.jsonl"), "-o", str(tmp_path / "o.yaml")]) == 2
    assert "cannot read" in capsys.readouterr().err
