"""Several sessions in the engine, in virtual time with the engine tests' timed sessions: routing by
`to:`, a choice resolved once, `then` after audio, catch-up per session, the journal's `session`
field, the start, a node's own sessions, and `plan`'s rows."""

from __future__ import annotations

import json
import textwrap
from datetime import datetime, timezone
from pathlib import Path

import pytest
from test_engine_support import TimedSession, play
from test_show_assets import assets  # noqa: F401  (fixture)

from decart_flow.engine import Engine, VirtualClock, VirtualEventLoop
from decart_flow.engine.plan import plan
from decart_flow.show import load_show
from decart_flow.show.model import MirrorAction, PromptAction, ShowModel

HEADER = """\
name: Venue
sessions:
  left:  {model: lucy-restyle-2, initial: {prompt: Anime}}
  right: {model: lucy-restyle-2, initial: {prompt: Anime}}
  host:  {model: live_avatar, initial: {image: face.png, prompt: A friendly guide}}
"""


def load(folder: Path, body: str) -> ShowModel:
    path = folder / "show.yaml"
    path.write_text(HEADER + textwrap.dedent(body))
    return load_show(path)


def three() -> dict[str, TimedSession]:
    return {"left": TimedSession(), "right": TimedSession(), "host": TimedSession()}


def sent(session: TimedSession, kind: str) -> list[tuple[float, object]]:
    return [(round(t, 6), v) for t, k, v in session.calls if k == kind]


def test_to_routes_and_no_to_goes_to_every_session_that_can_take_it(assets: Path):
    show = load(assets, """\
        timeline:
          0:30: {to: [left, right], prompt: Cyberpunk city}
          1:00: {to: host, audio: lines/hello.wav}
          2:00: Watercolor
        cues:
          - name: hello
            on: key 1
            audio: lines/hello.wav
          - name: flip
            at: 0:40
            to: right
            mirror: toggle
        """)
    s = three()
    played = play(show, until=200.0, session=s,
                  script=((150.0, lambda e: e.key("1")),))
    left, right, host = s["left"], s["right"], s["host"]
    assert sent(left, "prompt") == [(30.0, "Cyberpunk city"), (120.0, "Watercolor")]
    assert sent(right, "prompt") == [(30.0, "Cyberpunk city"), (120.0, "Watercolor")]
    assert sent(host, "prompt") == [(120.0, "Watercolor")]
    clip = str(assets / "lines" / "hello.wav")
    assert sent(host, "audio") == [(60.0, clip), (150.0, clip)]  # no `to:`: only the avatar plays audio
    assert sent(left, "audio") == [] and sent(right, "audio") == []
    assert sent(right, "mirror") == [(40.0, True)] and sent(left, "mirror") == []
    assert played.reason == "test"
    # each session's state is its own
    views = {v.name: v for v in played.engine.state.value.sessions}
    assert [v.name for v in played.engine.state.value.sessions] == ["left", "right", "host"]
    assert views["right"].mirror is True and views["left"].mirror is False
    assert views["host"].model == "live_avatar" and views["left"].prompt == "Watercolor"
    assert played.engine.state.value.mirror is False  # the top level is the first session's


def test_a_choice_sent_to_several_sessions_resolves_once(assets: Path):
    show = load(assets, """\
        cues:
          - name: ambient
            every: 10s
            to: [left, right]
            prompt: {cycle: [Lego, Ink, Clay]}
          - name: mixed
            every: 10s
            from: 5s
            prompt: {shuffle: [A, B, C, D, E]}
        """)
    s = three()
    play(show, until=35.0, session=s)
    ambient = [(0.0, "Lego"), (10.0, "Ink"), (20.0, "Clay"), (30.0, "Lego")]
    assert [p for p in sent(s["left"], "prompt") if p[1] in ("Lego", "Ink", "Clay")] == ambient
    assert [p for p in sent(s["right"], "prompt") if p[1] in ("Lego", "Ink", "Clay")] == ambient
    shuffled = [[v for t, v in sent(x, "prompt") if v in "ABCDE"] for x in s.values()]
    assert shuffled[0] == shuffled[1] == shuffled[2] and len(set(shuffled[0])) == 3  # one round, one order


def test_then_after_audio_waits_for_the_clip_on_the_session_that_played_it(assets: Path):
    show = load(assets, """\
        cues:
          - name: greet
            at: 0:10
            to: host
            audio: lines/hello.wav
            then:
              - {to: [left, right], prompt: Wave}
              - wait: 2s
              - prompt: Host again
        """)
    s = three()
    played = play(show, until=30.0, session=s)
    # the timed session's clips last 3 s: the `then` starts at 13; the cue's `to:` is its `then`'s default
    assert sent(s["left"], "prompt") == [(13.0, "Wave")]
    assert sent(s["right"], "prompt") == [(13.0, "Wave")]
    assert sent(s["host"], "prompt") == [(15.0, "Host again")]
    fire = played.events("cue.fire")
    assert fire[0]["cue"] == "greet" and "session" not in fire[0]  # its actions go to several sessions


def test_audio_to_two_avatars_waits_for_both_clips(assets: Path):
    path = assets / "show.yaml"
    path.write_text("name: Two hosts\nsessions:\n"
                    "  a: {model: live_avatar, initial: {image: face.png}}\n"
                    "  b: {model: live_avatar, initial: {image: face.png}}\n"
                    "cues:\n  - {at: 1, audio: lines/hello.wav, then: [{log: done}, {prompt: After}]}\n")
    show = load_show(path)

    class Slow(TimedSession):
        async def play_audio(self, audio):  # this one's clip ends later
            self.calls.append((self._t(), "audio", audio))
            import asyncio
            await asyncio.sleep(5.0)

    a, b = TimedSession(), Slow()
    play(show, until=20.0, session={"a": a, "b": b})
    assert sent(a, "prompt") == sent(b, "prompt") == [(6.0, "After")]


def test_catch_up_after_one_session_reconnects_goes_to_it_alone(assets: Path):
    show = load(assets, """\
        timeline:
          0:10: {to: [left, right], prompt: Ten}
          0:20: {to: left, prompt: Twenty}
          0:25: {to: right, mirror: true}
        """)
    s = three()

    def drop(engine: Engine) -> None:
        s["left"].set_state("reconnecting")

    def back(engine: Engine) -> None:
        s["left"].set_state("generating")
        engine.catch_up("left")  # what the runner does for the session that came back

    played = play(show, until=40.0, session=s, script=((30.0, drop), (31.0, back)))
    assert sent(s["left"], "prompt") == [(10.0, "Ten"), (20.0, "Twenty"), (31.0, "Twenty")]
    assert sent(s["right"], "prompt") == [(10.0, "Ten")]  # nothing again for the session that stayed
    assert sent(s["right"], "mirror") == [(25.0, True)] and sent(s["left"], "mirror") == []
    catch = played.events("catch_up")
    starts = [c for c in catch if c["reason"] == "start"]
    assert sorted(c["session"] for c in starts) == ["host", "left", "right"]  # each session at the start
    again = [c for c in catch if c["reason"] == "reconnect"]
    assert len(again) == 1 and again[0]["session"] == "left"
    assert [a["kind"] for a in again[0]["applied"]] == ["prompt"]
    states = [(r["session"], r["state"]) for r in played.events("session.state")]
    assert ("left", "reconnecting") in states and states[-1] == ("left", "generating")
    assert played.engine.connection_of("left") == "generating"
    assert played.engine.connection_of("right") == "generating"


def test_catch_up_at_the_start_resolves_a_choice_once(assets: Path):
    show = load(assets, """\
        cues:
          - name: ambient
            every: 1m
            to: [left, right]
            prompt: {cycle: [Lego, Ink, Clay]}
        """)
    s = three()
    resume = type("Resume", (), {"t": 130.0, "state": {}, "applied": {}, "fired": {}})()
    play(show, until=10.0, session=s, resume=resume)
    assert sent(s["left"], "prompt")[0] == sent(s["right"], "prompt")[0] == (0.0, "Lego")  # 2:00's, caught up


def test_journal_records_name_their_session_only_with_several(assets: Path):
    show = load(assets, """\
        timeline:
          0:10: {to: left, prompt: Ten}
          0:20: Everyone
        """)
    played = play(show, until=30.0, session=three())
    fires = {r["cue"]: r for r in played.events("cue.fire")}
    assert fires["timeline 0:10"]["session"] == "left"  # a cue for one session says which
    assert "session" not in fires["timeline 0:20"]
    sends = [(r["session"], r["action"]["prompt"]) for r in played.events("action.send")]
    assert ("left", "Ten") in sends and {("left", "Everyone"), ("right", "Everyone"), ("host", "Everyone")} <= set(sends)
    assert all("session" in r for r in played.events("action.ack"))
    assert {r["session"] for r in played.events("session.state")} == {"left", "right", "host"}
    # the record's keys keep the journal's order: session right after the event
    assert list(played.events("action.send")[0])[:4] == ["ts", "t", "event", "session"]

    one = ShowModel("One", "lucy-restyle-2", timeline=load_show(_one_session(assets)).timeline)
    alone = play(one, until=30.0)
    for record in alone.records:
        assert "session" not in record, record


def _one_session(folder: Path) -> Path:
    path = folder / "one.yaml"
    path.write_text("name: One\nmodel: lucy-restyle-2\ntimeline:\n  0:10: Ten\n  0:20: Everyone\n")
    return path


def test_a_node_runs_only_its_own_sessions(assets: Path):
    show = load(assets, """\
        timeline:
          0:10: {to: [left, right], prompt: Ten}
          0:20: {to: host, prompt: Host}
          0:30: Everyone
        """)
    host = TimedSession()
    played = play(show, until=40.0, session={"host": host})
    assert sent(host, "prompt") == [(20.0, "Host"), (30.0, "Everyone")]
    assert list(played.engine.sessions) == ["host"] and played.engine.session is host
    assert [r["cue"] for r in played.events("cue.fire")] == ["timeline 0:10", "timeline 0:20", "timeline 0:30"]
    with pytest.raises(ValueError, match="the show's sessions are left, right, host"):
        Engine(show, {"stage": host}, VirtualClock(VirtualEventLoop()))


def test_the_show_starts_when_every_session_is_up_or_after_the_timeout(assets: Path):
    show = load(assets, "timeline:\n  0:00: Start\n")
    s = three()
    s["right"].state = "connecting"
    played = play(show, until=20.0, session=s, script=((4.0, lambda e: s["right"].set_state("generating")),))
    starts = played.events("show.start")
    assert len(starts) == 1 and sent(s["left"], "prompt") == [(4.0, "Start")]

    class Connecting(TimedSession):
        """Refuses calls until it is up, as the wire client does before its first connection."""

        async def set_prompt(self, text: str, enrich: bool = True) -> None:
            if not self.is_connected():
                raise RuntimeError("not connected")
            await super().set_prompt(text, enrich)

    s = three()
    s["host"] = Connecting(state="connecting")
    late = play(show, until=20.0, session=s, start_timeout=5.0,
                script=((8.0, lambda e: s["host"].set_state("generating")),))
    assert sent(s["left"], "prompt") == [(5.0, "Start")]
    assert sent(s["host"], "prompt") == [(8.0, "Start")]  # caught up when it came
    errors = [r["message"] for r in late.events("error") if "session" not in r]
    assert errors == ["show started without host: not up after 5 s; they catch up when they connect"]
    catch = [(r["session"], r["reason"]) for r in late.events("catch_up")]
    assert catch.count(("host", "late")) == 1 and ("left", "late") not in catch


TWO_SCREENS = """\
from reactivex import operators as ops
from decart_flow import Show, audio, prompt

show = Show("Venue")
show.session("left", model="lucy-restyle-2")
show.session("right", model="lucy-restyle-2")
"""  # a Python show of two sessions; the tests add its cues


def test_handlers_get_their_session_and_manual_actions_take_to(assets: Path):
    path = assets / "venue.py"
    path.write_text(TWO_SCREENS + textwrap.dedent("""\
        @show.on("key 1", to="right")
        async def to_right(session):
            await session.set_prompt("Right only")

        @show.on("key 2")
        async def first(session):
            await session.set_mirror(True)
        """))
    show = load_show(path)
    s = {"left": TimedSession(), "right": TimedSession()}
    script = ((1.0, lambda e: e.key("1")), (2.0, lambda e: e.key("2")),
              (3.0, lambda e: e.manual(PromptAction("Typed"), "prompt box", to=("right",))),
              (4.0, lambda e: e.manual(MirrorAction("toggle"), "mirror key")))
    played = play(show, until=10.0, session=s, script=script)
    assert sent(s["right"], "prompt") == [(1.0, "Right only"), (3.0, "Typed")]
    assert sent(s["left"], "prompt") == []
    # without to=, a handler gets the first session; the mirror key toggles each session's own mirror
    assert sent(s["left"], "mirror") == [(2.0, True), (4.0, False)]
    assert sent(s["right"], "mirror") == [(4.0, True)]
    assert played.engine.lane["left"].store.get("mirror") is False
    # a node that runs only `right`: the handler without to= belongs to `left`'s node, not this one
    alone = {"right": TimedSession()}
    play(show, until=10.0, session=alone, script=((1.0, lambda e: e.key("1")), (2.0, lambda e: e.key("2"))))
    assert sent(alone["right"], "prompt") == [(1.0, "Right only")] and sent(alone["right"], "mirror") == []


def test_plan_rows_name_their_session(assets: Path):
    show = load(assets, """\
        timeline:
          0:10: {to: left, prompt: Ten}
          0:20: {to: host, audio: lines/hello.wav}
          0:30: {log: thirty}
        session:
          when: {between: ["09:00", "18:00"]}
        """)
    rows = plan(show, 40.0, datetime(2026, 1, 5, 14, 0, tzinfo=timezone.utc))
    listed = [(r.t, r.session, r.cue, r.action) for r in rows]
    assert (10.0, "left", "timeline 0:10", {"prompt": "Ten", "enhance": True}) in listed
    assert (20.0, "host", "timeline 0:20", {"audio": str(assets / "lines" / "hello.wav")}) in listed
    assert (30.0, None, "timeline 0:30", {"log": "thirty"}) in listed  # show-wide: no session
    assert json.loads(json.dumps(rows[-1].to_json())) == {"t": 30.0, "wall": "2026-01-05T14:00:30+00:00",
                                                          "cue": "timeline 0:30", "action": {"log": "thirty"}}
    assert list(next(r for r in rows if r.session == "left").to_json()) == ["t", "wall", "session", "cue", "action"]

    closing = plan(show, 5 * 3600.0, datetime(2026, 1, 5, 14, 0, tzinfo=timezone.utc))
    shut = [(r.session, r.action) for r in closing if r.cue == "session"]
    assert shut == [(name, {"session": "disconnect"}) for name in ("left", "right", "host")]  # hours for every session

    one = load_show(_one_session(assets))
    assert all(r.session is None and "session" not in r.to_json() for r in plan(one, 30.0))


def test_plan_command_session_column_and_filter(assets: Path, capsys: pytest.CaptureFixture[str]):
    from decart_flow.show.plan_print import print_plan

    show = load(assets, """\
        timeline:
          0:10: {to: left, prompt: Ten}
          0:20: Everyone
        """)
    start = datetime(2026, 1, 5, 14, 0, tzinfo=timezone.utc)
    print_plan(show, 30.0, start, False)
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["show", "time", "wall", "clock", "session", "cue", "action"]
    assert table[1].split()[3:5] == ["left", "timeline"]
    assert table[-1] == "4 firings"
    print_plan(show, 30.0, start, True, session="host")
    rows = json.loads(capsys.readouterr().out)
    assert [(r["session"], r["action"]["prompt"]) for r in rows] == [("host", "Everyone")]


def test_a_timeline_toggle_to_several_sessions_flips_each_ones_own_mirror(assets: Path):
    show = load(assets, """\
        timeline:
          0:05: {to: left, mirror: true}
          0:10: {to: [left, right], mirror: toggle}
          0:15: {log: fifteen}
        """)
    s = three()
    played = play(show, until=20.0, session=s, script=((16.0, lambda e: e.go_back()),))
    # GO back at 16 re-applies 0:10 as it first played: each session's toggle as the value it set
    # there (left off, right on), not one value for both and not a flip
    assert sent(s["left"], "mirror") == [(5.0, True), (10.0, False), (16.0, False)]
    assert sent(s["right"], "mirror") == [(10.0, True), (16.0, True)]
    assert played.engine.lane["right"].store.get("mirror") is True


def test_a_resumed_run_gives_each_session_its_own_state(assets: Path):
    show = load(assets, """\
        timeline:
          0:10: {to: left, prompt: Ten}
        """)
    part = type("Part", (), {})
    left, right = part(), part()
    left.state, left.applied = {"prompt": "Left was", "mirror": True}, {"prompt": (5.0, "timeline 0:05")}
    right.state, right.applied = {"prompt": "Right was"}, {"prompt": (6.0, "manual:prompt box")}
    resume = type("Resume", (), {"t": 20.0, "state": {}, "applied": {}, "fired": {},
                                 "sessions": {"left": left, "right": right}})()
    s = three()
    played = play(show, until=5.0, session=s, resume=resume)
    lanes = played.engine.lane
    assert lanes["left"].store.get("prompt") == "Ten"  # 0:10 is newer than what left had at 0:05: caught up
    assert lanes["left"].store.get("mirror") is True
    assert lanes["right"].store.get("prompt") == "Right was" and sent(s["right"], "prompt") == []
    assert lanes["host"].store.get("prompt") == "A friendly guide"  # no part: its initial state


def test_a_reactive_cues_actions_take_to_and_are_checked_against_their_sessions(assets: Path):
    path = assets / "venue.py"
    path.write_text(TWO_SCREENS + textwrap.dedent("""\
        @show.reactive
        def fader(events):
            return events.osc("/fader").pipe(ops.map(lambda v: prompt(f"Storm {v[0]}", to="right")))

        @show.reactive
        def wrong(events):
            return events.osc("/clip").pipe(ops.map(lambda v: audio("lines/hello.wav", to="left")))
        """))
    show = load_show(path)
    s = {"left": TimedSession(), "right": TimedSession()}
    played = play(show, until=5.0, session=s, script=((1.0, lambda e: e.fire_event("osc", "/fader", (3,))),
                                                      (2.0, lambda e: e.fire_event("osc", "/clip", ()))))
    assert sent(s["right"], "prompt") == [(1.0, "Storm 3")] and sent(s["left"], "prompt") == []
    assert sent(s["left"], "audio") == []
    errors = [r["message"] for r in played.events("error")]
    assert len(errors) == 1 and "to: left: audio: plays only on the live_avatar model" in errors[0], errors
