"""Every trigger kind, in virtual time: "at t=30 this happens"."""

from __future__ import annotations

from datetime import datetime, time as dtime, timezone
from zoneinfo import ZoneInfo

from reactivex import operators as ops
from test_engine_support import TimedSession, play

from decart_flow.engine.when import inside
from decart_flow.show.model import (
    AtTrigger, Cue, CronTrigger, EventTrigger, EveryTrigger, LogAction, PromptAction, ReactiveTrigger, ShowModel,
    When,
)


def show(*cues: Cue, **kw) -> ShowModel:  # type: ignore[no-untyped-def]
    return ShowModel(name="T", model="mirage_v2", cues=cues, **kw)


def test_at_fires_once_at_its_show_time():
    p = play(show(Cue("a", AtTrigger(30), (PromptAction("Thirty"),))), until=100)
    assert p.session.prompts() == [(30.0, "Thirty")]
    fire = p.events("cue.fire")[0]
    assert fire["cue"] == "a" and fire["intended_t"] == 30 and abs(fire["lateness_ms"]) < 1e-3


def test_every_from_until_and_times():
    p = play(show(
        Cue("grid", EveryTrigger(20, start=10, until=75), (PromptAction("g"),)),
        Cue("capped", EveryTrigger(7, times=3), (PromptAction("c"),)),
    ), until=200)
    times = [(t, v) for t, v in p.session.prompts()]
    assert [t for t, v in times if v == "g"] == [10, 30, 50, 70]
    assert [t for t, v in times if v == "c"] == [0, 7, 14]


def test_cron_follows_the_wall_clock_in_its_zone_across_dst():
    # 2026-03-29: Paris skips 02:00-03:00. Start 00:30 CET = 23:30 UTC the day before.
    start = datetime(2026, 3, 29, 0, 30, tzinfo=ZoneInfo("Europe/Paris"))
    p = play(show(Cue("hourly", CronTrigger("0 * * * *", "Europe/Paris"), (PromptAction("chime"),))),
             until=4 * 3600, start=start)
    live = [t for t, v in p.session.prompts()][1:]  # the first is the catch-up of 00:00
    assert live == [1800, 5400, 9000, 12600]  # 01:00 CET, 03:00 CEST, 04:00, 05:00


def test_cron_keeps_firing_while_the_show_is_paused():
    p = play(show(Cue("m", CronTrigger("* * * * *", "UTC"), (PromptAction("tick"),))), until=200,
             script=((1, lambda e: e.pause()),))
    # 14:10 is due at the start: it fires once (no catch-up of 14:09 before it), then 14:11...14:13
    assert [t for t, _ in p.session.prompts()] == [0, 60, 120, 180]
    assert p.engine.show_clock.paused


def test_when_window_across_midnight_belongs_to_the_day_it_opens():
    when = When(between=((dtime(22, 0), dtime(2, 0)),), days=frozenset({"fri"}))
    fri = datetime(2026, 1, 2, tzinfo=timezone.utc)  # a Friday
    assert inside(when, fri.replace(hour=23))
    assert inside(when, datetime(2026, 1, 3, 1, 59, tzinfo=timezone.utc))  # Saturday night, Friday's window
    assert not inside(when, datetime(2026, 1, 3, 2, 0, tzinfo=timezone.utc))
    assert not inside(when, datetime(2026, 1, 3, 23, 0, tzinfo=timezone.utc))  # Saturday's own window: no
    assert not inside(when, fri.replace(hour=21, minute=59))
    # In a running show: every hour from Friday 20:00 for 30 h.
    p = play(show(Cue("night", EveryTrigger(3600), (PromptAction("n"),), when=when)),
             until=30 * 3600 + 1, start=fri.replace(hour=20))
    assert [t / 3600 for t, _ in p.session.prompts()] == [2, 3, 4, 5]  # 22:00, 23:00, 00:00, 01:00


def test_when_days_without_window():
    when = When(days=frozenset({"sat", "sun"}))
    assert inside(when, datetime(2026, 1, 3, 12, tzinfo=timezone.utc))
    assert not inside(when, datetime(2026, 1, 5, 12, tzinfo=timezone.utc))


def test_key_osc_http_midi_events_with_arguments():
    cues = (
        Cue("k", EventTrigger("key", "1"), (PromptAction("Underwater"),)),
        Cue("o", EventTrigger("osc", "/look"), (PromptAction("Storm {0} at {1}"),)),
        Cue("h", EventTrigger("http", "/scene"), (PromptAction("Scene {0}"),)),
        Cue("m", EventTrigger("midi", "note 60"), (PromptAction("Note {0}"),)),
    )
    handled: list[bool] = []
    p = play(show(*cues), until=50, script=(
        (5, lambda e: handled.append(e.key("1"))),
        (6, lambda e: handled.append(e.key("2"))),
        (10, lambda e: e.fire_event("osc", "/look", (0.7, "dawn"))),
        (20, lambda e: e.fire_event("http", "/scene", ["b"])),
        (30, lambda e: e.fire_event("midi", "note  60", (100,))),
    ))
    assert handled == [True, False]
    assert p.session.prompts() == [(5, "Underwater"), (10, "Storm 0.7 at dawn"), (20, "Scene b"), (30, "Note 100")]


def test_state_and_after_events():
    session = TimedSession(state="connecting")
    cues = (
        Cue("up", EventTrigger("state", "generating"), (PromptAction("Live"),)),
        Cue("first", AtTrigger(10), (PromptAction("A"),)),
        Cue("second", EventTrigger("after", "first"), (LogAction("after first"), PromptAction("B"))),
    )
    p = play(show(*cues), until=60, session=session, script=((4, lambda e: session.set_state("generating")),))
    # show time starts at 4 (loop time) when the session generates
    assert p.session.prompts() == [(4, "Live"), (14, "A"), (14, "B")]
    assert [r["state"] for r in p.events("session.state")] == ["connecting", "generating"]  # as found at the start, then the change
    assert p.events("show.start")[0]["t"] == 0
    assert [r["text"] for r in p.events("log")] == ["after first"]


def test_reactive_pipeline_over_osc():
    def fader(events):  # type: ignore[no-untyped-def]
        return events.osc("/fader").pipe(
            ops.filter(lambda v: v[0] > 0.5), ops.map(lambda v: PromptAction(f"Storm, intensity {v[0]}")))

    p = play(show(Cue("fader", ReactiveTrigger(fader), ())), until=20, script=(
        (2, lambda e: e.fire_event("osc", "/fader", (0.2,))),
        (3, lambda e: e.fire_event("osc", "/fader", (0.9,))),
    ))
    assert p.session.prompts() == [(3, "Storm, intensity 0.9")]
    assert p.events("cue.fire")[0]["cue"] == "fader"


def test_a_reactive_cues_actions_are_checked_like_a_show_files(tmp_path):
    """`show/runtime.check_action`: vars filled in, paths taken from the show's folder, the model's
    rules; a bad action is one journaled error line, nothing is sent, and the cue goes on."""
    import shutil
    from pathlib import Path

    from decart_flow.show.model import AudioAction, ImageAction

    scenes = Path(__file__).resolve().parent.parent / "scenes"
    shutil.copy(scenes / "refs" / "neon.png", tmp_path / "neon.png")
    shutil.copy(scenes / "lines" / "hello.wav", tmp_path / "hello.wav")

    def fader(events):  # type: ignore[no-untyped-def]
        def out(v):  # type: ignore[no-untyped-def]
            if v[0] == "audio":
                return AudioAction("hello.wav")  # audio plays only on live_avatar
            if v[0] == "image":
                return ImageAction("neon.png", "Neon over {city}")
            return PromptAction("Storm over {city}")
        return events.osc("/fader").pipe(ops.map(out))

    p = play(show(Cue("fader", ReactiveTrigger(fader), ()), vars={"city": "Lisbon"}, path=tmp_path / "show.py"),
             until=20, script=(
        (2, lambda e: e.fire_event("osc", "/fader", ("audio",))),
        (3, lambda e: e.fire_event("osc", "/fader", ("prompt",))),
        (4, lambda e: e.fire_event("osc", "/fader", ("image",))),
    ))
    assert p.session.prompts() == [(3, "Storm over Lisbon")]
    assert [c[2] for c in p.session.calls if c[1] == "image"] == [(str(tmp_path / "neon.png"), "Neon over Lisbon")]
    errors = [r["message"] for r in p.events("error")]
    assert len(errors) == 1 and "audio: plays only on the live_avatar model" in errors[0], errors
    assert not [c for c in p.session.calls if c[1] == "audio"]
