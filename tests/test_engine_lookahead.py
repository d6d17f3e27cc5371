"""Lookahead: timed cues go out early by a fixed lead or the measured send-to-glass latency; virtual time."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable

import av
import pytest
from test_engine_support import play

from decart_flow.engine.latency import LatencyEstimator, LatencyFeed
from decart_flow.engine.plan import plan
from decart_flow.media import StampWatcher
from decart_flow.media.yuv import frame_planes
from decart_flow.service.stamp import write_stamp
from decart_flow.show.model import (
    AtTrigger, Cue, CronTrigger, EventTrigger, EveryTrigger, PromptAction, ShowModel, TimelineEntry, WaitAction,
)


def at_show(lookahead: Any = None, cue_lookahead: Any = None, t: float = 10.0) -> ShowModel:
    return ShowModel("LA", "mirage", lookahead=lookahead,
                     cues=(Cue("c", AtTrigger(t), (PromptAction("x"),), lookahead=cue_lookahead),))


def fire_records(p: Any) -> list[dict[str, Any]]:
    return [r for r in p.events("cue.fire")]


def test_a_fixed_lookahead_sends_early_and_the_journal_keeps_the_cued_time():
    p = play(at_show(lookahead=0.2), until=20)
    assert p.session.prompts() == [(9.8, "x")]
    fire = fire_records(p)[0]
    assert fire["intended_t"] == 10.0 and fire["lookahead_ms"] == 200.0
    assert abs(fire["lateness_ms"]) < 1e-3  # measured against the early send time
    assert p.events("action.send")[0]["t"] == pytest.approx(9.8)


def test_without_lookahead_nothing_moves_and_the_journal_is_unchanged():
    p = play(at_show(), until=20)
    assert p.session.prompts() == [(10.0, "x")]
    assert "lookahead_ms" not in fire_records(p)[0]


def test_auto_uses_the_estimate_of_the_moment_it_fires():
    fed = lambda e: [e.latency.add(s, s + 0.12) for s in (0.0, 1.0, 2.0)]  # noqa: E731
    p = play(at_show(lookahead="auto"), until=20, script=((1.0, fed),))  # planned at 0 with the default
    assert p.session.prompts() == [(9.88, "x")]
    assert fire_records(p)[0]["lookahead_ms"] == pytest.approx(120.0)


def test_auto_before_any_measurement_is_two_frame_intervals_of_the_model():
    p = play(at_show(lookahead="auto"), until=20)
    assert p.session.prompts() == [(pytest.approx(10 - 2 / 25), "x")]  # mirage: 25 fps
    show = ShowModel("LA", "mirage_v2", lookahead="auto")
    assert play(show, until=1).engine.latency.seconds == pytest.approx(2 / 22)


def test_a_cue_setting_overrides_the_show_and_zero_switches_it_off():
    show = ShowModel("LA", "mirage", lookahead=0.5, cues=(
        Cue("own", AtTrigger(10), (PromptAction("own"),), lookahead=0.1),
        Cue("show", AtTrigger(20), (PromptAction("show"),)),
        Cue("off", AtTrigger(30), (PromptAction("off"),), lookahead=0.0),
        Cue("key", EventTrigger("key", "k"), (PromptAction("key"),)),  # events are never early
    ))
    p = play(show, until=40, script=((35.0, lambda e: e.key("k")),))
    assert p.session.prompts() == [(9.9, "own"), (19.5, "show"), (30.0, "off"), (35.0, "key")]


def test_every_stays_on_its_grid_early_and_then_waits_keep_the_lead():
    show = ShowModel("LA", "mirage", lookahead=0.25, cues=(
        Cue("e", EveryTrigger(10, start=10, times=3), (PromptAction("e"),)),
        Cue("seq", AtTrigger(40), (PromptAction("a"),), then=(WaitAction(2), PromptAction("b"))),
    ))
    p = play(show, until=60)
    assert p.session.prompts() == [(9.75, "e"), (19.75, "e"), (29.75, "e"), (39.75, "a"), (41.75, "b")]
    assert [r["intended_t"] for r in fire_records(p)] == [10, 20, 30, 40]


def test_pause_after_the_early_send_does_not_send_again_and_before_it_shifts_it():
    after = play(at_show(lookahead=0.2), until=40, script=((9.9, lambda e: e.pause()), (20, lambda e: e.resume())))
    assert after.session.prompts() == [(9.8, "x")]
    before = play(at_show(lookahead=0.2), until=40, script=((5, lambda e: e.pause()), (15, lambda e: e.resume())))
    assert before.session.prompts() == [(19.8, "x")]  # show 9.8 is loop 19.8 after 10 s of pause


def timeline(lookahead: Any = 0.2) -> ShowModel:
    entries = tuple(TimelineEntry(t, (PromptAction(n),)) for t, n in [(10, "A"), (20, "B"), (30, "C")])
    return ShowModel("LA", "mirage", timeline=entries, lookahead=lookahead,
                     cues=(Cue("at", AtTrigger(25), (PromptAction("at"),)),))


def test_timeline_entries_go_early_and_go_itself_is_not_advanced():
    assert play(timeline(), until=40).session.prompts() == [(9.8, "A"), (19.8, "B"), (24.8, "at"), (29.8, "C")]
    p = play(timeline(), until=40, script=((2, lambda e: e.go_next()),))  # A now, show time 10 at loop 2
    assert p.session.prompts() == [(2, "A"), (11.8, "B"), (16.8, "at"), (21.8, "C")]
    go = fire_records(p)[0]
    assert go["intended_t"] == 10 and "lookahead_ms" not in go


def test_go_just_before_a_cue_that_went_early_does_not_send_it_twice():
    # B (20) went out at show 19.8; GO at 19.9 fires C (30) and jumps there: B is not sent again.
    p = play(timeline(), until=40, script=((19.9, lambda e: e.go_next()),))
    assert p.session.prompts() == [(9.8, "A"), (19.8, "B"), (19.9, "C")]
    # `go back` to A re-plans what comes after it, early again
    back = play(timeline(), until=40, script=((20.5, lambda e: e.go_back()),))
    assert back.session.prompts() == [(9.8, "A"), (19.8, "B"), (20.5, "A"), (30.3, "B"), (35.3, "at")]


def test_a_reload_between_the_early_send_and_the_cued_time_does_not_send_again():
    show = at_show(lookahead=0.2)
    p = play(show, until=20, script=((9.9, lambda e: e.reload(show)),))
    assert p.session.prompts() == [(9.8, "x")]


def test_a_cue_due_within_its_lead_of_the_start_goes_at_once():
    p = play(at_show(lookahead=0.5, t=0.3), until=5)
    assert p.session.prompts() == [(0.0, "x")]
    assert fire_records(p)[0]["intended_t"] == pytest.approx(0.3)


def test_cron_goes_early_on_the_wall_clock():
    show = ShowModel("LA", "mirage", cues=(Cue("m", CronTrigger("* * * * *", tz="UTC"), (PromptAction("m"),),
                                               lookahead=0.2),))
    p = play(show, until=100, start=datetime(2026, 1, 5, 14, 10, 30, tzinfo=timezone.utc))
    assert p.session.prompts() == [(0.0, "m"), (29.8, "m"), (89.8, "m")]  # catch-up at start, then early
    assert [r["lookahead_ms"] for r in fire_records(p)] == [200.0, 200.0]


def test_plan_lists_cued_times():
    firings = plan(timeline(lookahead="auto"), for_seconds=40)
    assert [(f.t, f.action["prompt"]) for f in firings] == [(10, "A"), (20, "B"), (25, "at"), (30, "C")]
    assert plan(at_show(lookahead=0.2), for_seconds=20)[0].t == pytest.approx(10.0)


# ------------------------------------------------------------------ the estimator


def test_estimator_default_median_window_outliers_and_clamp():
    est = LatencyEstimator.for_fps(25)
    assert not est.measured and est.seconds == pytest.approx(0.08)
    for latency in (0.10, 0.12, 0.11, 0.95, 0.12):  # one frame stuck behind a slow encode
        assert est.add(100.0, 100.0 + latency)
    assert est.seconds == pytest.approx(0.12)
    assert not est.add(5.0, 4.9) and not est.add(0.0, 60.0)  # the wrong way round, or paired wrongly
    assert est.rejected == 2 and len(est.samples) == 5
    for _ in range(20):
        est.add(0.0, 0.3)
    assert len(est.samples) == est.window and est.seconds == pytest.approx(0.3)  # old samples age out
    slow = LatencyEstimator(clamp=(0.0, 0.5))
    for _ in range(3):
        slow.add(0.0, 2.0)
    assert slow.seconds == 0.5


# ------------------------------------------------------------------ the live feed


class Wire:
    """The events of a RealtimeClient that the feed reads, driven by hand (the wire itself is in the bench)."""

    def __init__(self) -> None:
        self.expected_stamp = 0
        self.callbacks: dict[str, list[Callable[..., None]]] = {"sent": [], "ack": [], "connection_change": []}

    def on(self, event: str, cb: Callable[..., None]) -> None:
        self.callbacks[event].append(cb)

    def off(self, event: str, cb: Callable[..., None]) -> None:
        self.callbacks[event].remove(cb)

    def emit(self, event: str, *args: Any) -> None:
        for cb in list(self.callbacks[event]):
            cb(*args)


def stamped(value: int) -> av.VideoFrame:
    frame = av.VideoFrame(320, 176, "yuv420p")
    y, u, v = frame_planes(frame)
    y[:], u[:], v[:] = 90, 128, 128
    write_stamp(y, value)
    return frame


async def test_the_feed_pairs_each_acknowledged_change_with_the_first_frame_of_its_stamp():
    loop = asyncio.get_running_loop()
    est, wire, stamps = LatencyEstimator(), Wire(), StampWatcher()
    feed = LatencyFeed(est, wire, stamps, loop)  # type: ignore[arg-type]
    frames = [stamped(1), stamped(2)]

    # a prompt: written, acknowledged (stamp 1), then its frame arrives on another thread
    wire.emit("sent", {"type": "prompt", "prompt": "a"}, time.perf_counter_ns())
    wire.expected_stamp = 1
    wire.emit("ack", "prompt_ack", True, 5.0, None)
    await asyncio.sleep(0.05)
    worker = threading.Thread(target=stamps, args=(frames[0],))
    worker.start()
    worker.join()
    await asyncio.sleep(0.01)  # the hop to the loop
    assert len(est.samples) == 1 and 0.04 < est.samples[0] < 1.0

    # an image whose frame came before its ack; then a refused prompt feeds nothing
    wire.emit("sent", {"type": "set_image", "image_data": None}, time.perf_counter_ns())
    time.sleep(0.005)
    stamps(frames[1])
    wire.expected_stamp = 2
    wire.emit("ack", "set_image_ack", True, 5.0, None)
    assert len(est.samples) == 2 and 0.004 < est.samples[1] < 0.05
    wire.emit("sent", {"type": "prompt", "prompt": "b"}, time.perf_counter_ns())
    wire.emit("ack", "prompt_ack", False, 5.0, "refused")
    assert len(est.samples) == 2

    feed.close()
    assert all(not cbs for cbs in wire.callbacks.values())


# ------------------------------------------------------------------ the show file


def test_timeline_entries_take_their_own_lookahead_in_both_forms(tmp_path):
    from decart_flow.show import ShowError, load_show

    path = tmp_path / "la.yaml"
    path.write_text("name: T\nmodel: mirage\nlookahead: 500ms\ntimeline:\n"
                    "  0:10: {prompt: A, lookahead: 200ms}\n  0:20: B\n  0:30: {prompt: C, lookahead: 0}\n")
    show = load_show(path)
    assert [(e.t, e.lookahead) for e in show.timeline] == [(10, 0.2), (20, None), (30, 0.0)]
    assert show.timeline[0].label == "{prompt: A, lookahead: 200ms}"
    assert play(show, until=40).session.prompts() == [(9.8, "A"), (19.5, "B"), (30.0, "C")]
    listed = tmp_path / "list.yaml"
    listed.write_text("name: T\nmodel: mirage\ntimeline:\n  - {at: 10, prompt: A, lookahead: auto}\n")
    assert load_show(listed).timeline[0].lookahead == "auto"
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: T\nmodel: mirage\ntimeline:\n  0:10: {prompt: A, lookahead: soon}\n")
    with pytest.raises(ShowError) as err:
        load_show(bad)
    assert "bad lookahead 'soon'" in str(err.value.problems[0])
