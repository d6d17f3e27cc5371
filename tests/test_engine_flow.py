"""Modes, latest-wins, GO, pause, duration and loop, catch-up, failures: all in virtual time."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from test_engine_support import TimedSession, play

from decart_flow.engine.plan import plan
from decart_flow.show.model import (
    AtTrigger, AudioAction, Choice, ControlAction, Cue, CronTrigger, EventTrigger, EveryTrigger, ImageAction,
    Initial, MirrorAction, PromptAction, ShowModel, TimelineEntry, WaitAction,
)


def seq_cue(mode: str) -> Cue:
    return Cue("seq", EventTrigger("key", "s"), (PromptAction("a"),),
               then=(WaitAction(10), PromptAction("b")), mode=mode)  # type: ignore[arg-type]


def press(*times: float):  # type: ignore[no-untyped-def]
    return tuple((t, lambda e: e.key("s")) for t in times)


@pytest.mark.parametrize("mode, expected", [
    ("restart", [(0, "a"), (5, "a"), (15, "b")]),
    ("queue", [(0, "a"), (10, "b"), (10, "a"), (20, "b")]),
    ("parallel", [(0, "a"), (5, "a"), (10, "b"), (15, "b")]),
    ("single", [(0, "a"), (10, "b")]),
])
def test_modes(mode, expected):
    show = ShowModel("M", "mirage_v2", cues=(seq_cue(mode),))
    p = play(show, until=60, script=press(0, 5))
    assert p.session.prompts() == expected
    if mode == "single":
        assert p.events("cue.ignored")[0]["cue"] == "seq"


def test_prompts_are_latest_wins_and_the_skipped_are_journaled():
    show = ShowModel("L", "mirage_v2", cues=(Cue("k", EventTrigger("osc", "/p"), (PromptAction("p{0}"),)),))
    script = tuple((t, lambda e, i=i: e.fire_event("osc", "/p", (i,))) for i, t in enumerate([0, 0.1, 0.2, 0.3]))
    p = play(show, until=10, session=TimedSession(ack_delay=1.0), script=script)
    assert p.session.prompts() == [(0, "p0"), (1.0, "p3")]
    assert [r["action"]["prompt"] for r in p.events("action.superseded")] == ["p1", "p2"]
    assert [r["action"]["prompt"] for r in p.events("action.send")] == ["p0", "p3"]
    acks = p.events("action.ack")
    assert [a["success"] for a in acks] == [True, True] and acks[0]["latency_ms"] == pytest.approx(1000)
    assert len(p.events("cue.fire")) == 4  # every firing is in the journal


def timeline_show(**kw) -> ShowModel:  # type: ignore[no-untyped-def]
    entries = tuple(TimelineEntry(t, (PromptAction(name),)) for t, name in [(10, "A"), (20, "B"), (30, "C"), (40, "D")])
    return ShowModel("G", "mirage_v2", timeline=entries, **kw)


def test_go_next_fires_now_and_jumps_the_clock_go_back_reapplies():
    p = play(timeline_show(), until=17.5, script=(
        (2, lambda e: e.go_next()),   # A now; show time 10; B due at loop 12
        (5, lambda e: e.go_next()),   # show 13 -> B now; show time 20; C due at loop 15
        (6, lambda e: e.go_back()),   # re-apply A; show time 10; B again at loop 16
    ))
    assert p.session.prompts() == [(2, "A"), (5, "B"), (6, "A"), (16, "B")]
    assert p.engine.show_clock.t == pytest.approx(21.5)
    assert [r["direction"] for r in p.events("go")] == ["next", "next", "back"]


def test_go_jump_skips_show_time_cues_in_between_and_keeps_every_on_its_grid():
    show = ShowModel("G", "mirage_v2", timeline=(TimelineEntry(100, (PromptAction("T"),)),),
                     cues=(Cue("e", EveryTrigger(30), (PromptAction("e"),)), Cue("at", AtTrigger(50), (PromptAction("x"),))))
    p = play(show, until=25, script=((1, lambda e: e.go_next()),))
    # e at 0, GO at loop 1 -> show 100: e's next grid point is 120 -> loop 21; `at 50` is skipped
    assert p.session.prompts() == [(0, "e"), (1, "T"), (21, "e")]


def test_pause_and_resume_stop_show_time_only():
    show = ShowModel("P", "mirage_v2", cues=(Cue("e", EveryTrigger(10), (PromptAction("e"),)),))
    p = play(show, until=61, script=((15, lambda e: e.pause()), (45, lambda e: e.resume())))
    assert [t for t, _ in p.session.prompts()] == [0, 10, 50, 60]  # show 20 is loop 50
    assert [r["event"] for r in p.records if r["event"].startswith("show.")][:3] == ["show.start", "show.pause", "show.resume"]


def test_wait_in_then_pauses_with_the_show():
    show = ShowModel("W", "mirage_v2", cues=(seq_cue("restart"),))
    p = play(show, until=60, script=press(0) + ((5, lambda e: e.pause()), (25, lambda e: e.resume())))
    assert p.session.prompts() == [(0, "a"), (30, "b")]


def test_duration_ends_cleanly():
    p = play(timeline_show(duration=30), until=100)
    assert p.reason == "duration"
    assert p.session.prompts() == [(10, "A"), (20, "B")]
    assert p.events("show.end")[0]["reason"] == "duration"


def test_loop_restarts_the_timeline():
    show = ShowModel("Loop", "mirage_v2", duration=25, loop=True,
                     timeline=(TimelineEntry(0, (PromptAction("A"),)), TimelineEntry(10, (PromptAction("B"),))))
    p = play(show, until=60)
    assert p.session.prompts() == [(0, "A"), (10, "B"), (25, "A"), (35, "B"), (50, "A")]
    assert len(p.events("show.loop")) == 2


def test_catch_up_at_start_applies_the_latest_wall_clock_state():
    show = ShowModel("C", "mirage_v2", initial=Initial(prompt="Initial"), cues=(
        Cue("hourly", CronTrigger("0 * * * *", "UTC"), (PromptAction("Sunrise"), MirrorAction(True))),
        Cue("morning", CronTrigger("0 8 * * *", "UTC"), (ImageAction("/x/a.png"),)),
        Cue("old", CronTrigger("0 3 * * *", "UTC"), (PromptAction("Night"),)),
    ))
    p = play(show, until=1)  # starts 14:10: 14:00 hourly is the latest prompt, 08:00 the latest image
    assert p.session.calls == [(0, "image", ("/x/a.png", None)), (0, "prompt", "Sunrise"), (0, "mirror", True)]
    applied = p.events("catch_up")[0]["applied"]
    assert [(a["cue"], a["kind"]) for a in applied] == [("morning", "image"), ("hourly", "prompt"), ("hourly", "mirror")]
    assert applied[1]["fired"].startswith("2026-01-05T14:00")
    assert p.engine.state.value.prompt == "Sunrise"


def test_catch_up_after_reconnect_resends_the_current_state():
    show = ShowModel("R", "mirage_v2", cues=(Cue("k", EventTrigger("key", "1"), (PromptAction("Manual"),)),),
                     timeline=(TimelineEntry(10, (PromptAction("T10"),)),))
    p = play(show, until=30, script=((12, lambda e: e.key("1")), (20, lambda e: e.catch_up())))
    assert p.session.prompts() == [(10, "T10"), (12, "Manual"), (20, "Manual")]
    assert p.events("catch_up")[-1]["reason"] == "reconnect"


def test_a_failing_action_is_journaled_and_the_show_goes_on():
    show = ShowModel("F", "mirage_v2", timeline=(
        TimelineEntry(1, (PromptAction("bad"),)), TimelineEntry(2, (PromptAction("good"),))))
    p = play(show, until=5, session=TimedSession(fail={"bad"}))
    assert p.session.prompts() == [(1, "bad"), (2, "good")]
    ack = p.events("action.ack")[0]
    assert ack["success"] is False and "rejected" in ack["error"]
    assert any("rejected" in r["message"] for r in p.events("error"))
    assert p.events("action.ack")[1]["success"] is True


def test_audio_then_runs_after_the_clip():
    show = ShowModel("A", "live_avatar", cues=(
        Cue("hello", AtTrigger(1), (AudioAction("/x/hello.wav"),), then=(PromptAction("Smile"),)),))
    p = play(show, until=10)
    assert [(t, k) for t, k, _ in p.session.calls] == [(1, "audio"), (4, "prompt")]


def test_control_actions_and_choices():
    show = ShowModel("K", "mirage_v2", cues=(
        Cue("c", EveryTrigger(1, times=4), (PromptAction(Choice("cycle", ("x", "y", "z"))),)),
        Cue("stop", AtTrigger(6), (ControlAction("stop"),)),
    ))
    p = play(show, until=100)
    assert p.reason == "cue" and [v for _, v in p.session.prompts()] == ["x", "y", "z", "x"]


def test_shuffle_is_a_new_order_each_round_and_the_same_in_plan_and_run():
    items = tuple("abcde")
    show = ShowModel("S", "mirage_v2", cues=(Cue("s", EveryTrigger(1, times=15), (PromptAction(Choice("shuffle", items)),)),))
    ran = [v for _, v in play(show, until=100).session.prompts()]
    planned = [f.action["prompt"] for f in plan(show, 100)]
    assert ran == planned
    rounds = [ran[i:i + 5] for i in range(0, 15, 5)]
    assert all(sorted(r) == list(items) for r in rounds) and len({tuple(r) for r in rounds}) > 1


def test_state_snapshots_for_the_tui():
    p = play(timeline_show(), until=25)
    state = p.engine.state.value
    assert state.prompt == "B" and state.ended == "test" and state.go_index == 2
    assert [f.cue for f in state.past] == ["timeline 0:10", "timeline 0:20"]
    assert state.upcoming[0].t == 30


def test_journal_file_lines_and_redaction(tmp_path):
    path = tmp_path / "j.jsonl"
    show = ShowModel("J", "mirage_v2", timeline=(TimelineEntry(1, (PromptAction("see api_key=sk_live_abcdefghijklmnop"),)),))
    play(show, until=3, journal=path)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert all({"ts", "t", "event"} <= set(line) for line in lines)
    # the session's state as the engine found it, then the show
    assert [line["event"] for line in lines[:2]] == ["session.state", "show.start"]
    assert lines[-1]["event"] == "show.end"
    assert "sk_live" not in path.read_text() and "abcdefghijklmnop" not in path.read_text()


def test_a_full_disk_does_not_stop_the_show():
    show = ShowModel("D", "mirage_v2", timeline=(TimelineEntry(1, (PromptAction("one"),)), TimelineEntry(2, (PromptAction("two"),))))
    p = play(show, until=3, journal="/dev/full")
    assert [v for _, v in p.session.prompts()] == ["one", "two"]
    errors = [r for r in p.events("error") if "journal" in r["message"]]
    assert len(errors) == 1


def test_plan_lists_what_run_sends():
    show = ShowModel("Plan", "mirage_v2", timeline=(TimelineEntry(30, (PromptAction("T"),)),),
                     cues=(Cue("hourly", CronTrigger("0 * * * *", "UTC"), (PromptAction("H"),)),))
    start = datetime(2026, 1, 5, 14, 59, 30, tzinfo=timezone.utc)
    firings = plan(show, 120, start)
    rows = [f.to_json() for f in firings]
    assert [r["cue"] for r in rows] == ["hourly (catch-up)", "timeline 0:30", "hourly"]
    assert rows[2] == {"t": 30.0, "wall": "2026-01-05T15:00:00+00:00", "cue": "hourly",
                       "action": {"prompt": "H", "enhance": True}}
