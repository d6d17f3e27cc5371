"""Several sessions in the show language: `sessions:`, `to:`, their errors (line:col, did-you-mean)
and the Python builder's `show.session(...)` and `to=`."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from test_show_assets import assets  # noqa: F401  (fixture)

from decart_flow.show import ShowError, load_show
from decart_flow.show.model import MAIN, AudioAction, CallAction, LogAction, MirrorAction, PromptAction, ShowModel

SESSIONS = """\
name: Venue
sessions:
  left:  {model: lucy-restyle-2, source: "camera:/dev/video0", initial: {prompt: Anime}}
  right: {model: lucy-restyle-latest, source: "file:clips/dance.mp4", initial: {prompt: Ink}, resolution: 1080p}
  host:  {model: live_avatar, initial: {image: face.png, prompt: A friendly guide}}
"""
# `SESSIONS` takes five lines: the cases below start on line 6


def load(folder: Path, text: str) -> ShowModel:
    path = folder / "show.yaml"
    path.write_text(text)
    return load_show(path)


def problems(folder: Path, text: str) -> list[tuple[int, int, str]]:
    path = folder / "show.yaml"
    path.write_text(text)
    with pytest.raises(ShowError) as e:
        load_show(path)
    for p in e.value.problems:
        assert str(p) == f"{path}:{p.where.line}:{p.where.col}: {p.message}"
    return [(p.where.line, p.where.col, p.message) for p in e.value.problems]


def test_sessions_become_specs_in_order_and_the_first_is_the_top_level(assets: Path):
    show = load(assets, SESSIONS + "timeline:\n  0:30: {to: [left, right], prompt: Cyberpunk city}\n")
    assert show.session_names() == ("left", "right", "host")
    assert show.several
    left, right, host = show.sessions
    assert (left.model, left.source, left.initial.prompt) == ("lucy-restyle-2", "camera:/dev/video0", "Anime")
    assert right.model == "lucy-restyle-latest" and right.resolution == "1080p"
    assert right.source == f"file:{assets / 'clips' / 'dance.mp4'}"
    assert host.model == "live_avatar" and host.initial.image == str(assets / "face.png")
    assert (left.where.line, left.where.col) == (3, 3) and (left.model_where.line, left.model_where.col) == (3, 11)
    # code that knows one session reads the first one at the top
    assert (show.model, show.source, show.initial) == (left.model, left.source, left.initial)
    assert show.session_spec("host") is host
    with pytest.raises(KeyError):
        show.session_spec("nobody")


def test_a_top_level_model_is_one_session_named_main(assets: Path):
    show = load(assets, "name: One\nmodel: lucy-restyle-2\nsource: testsrc\ninitial: Anime\ntimeline:\n  1: Ink\n")
    assert show.session_names() == (MAIN,) and not show.several
    spec = show.sessions[0]
    assert (spec.model, spec.source, spec.initial.prompt) == ("lucy-restyle-2", "testsrc", "Anime")
    assert show.targets(show.timeline[0].actions[0]) == (MAIN,)
    # built in Python as before (tests and tools make ShowModel directly): still one session
    direct = ShowModel("Direct", "mirage")
    assert direct.session_names() == (MAIN,) and direct.sessions[0].model == "mirage"
    from dataclasses import replace

    assert replace(direct, model="mirage_v2").sessions[0].model == "mirage_v2"  # kept in step
    from decart_flow.show.model import SessionSpec

    two = ShowModel("Two", "", sessions=(SessionSpec("a", "lucy-2.6", "camera"), SessionSpec("b", "mirage")))
    assert (two.model, two.source, two.several) == ("lucy-2.6", "camera", True)  # the first session's, at the top


def test_to_on_actions_entries_and_cues_and_targets(assets: Path):
    show = load(assets, SESSIONS + textwrap.dedent("""\
        timeline:
          0:30: {to: [left, right], prompt: Cyberpunk city}
          1:00: {to: host, audio: lines/hello.wav}
          2:00: Watercolor
          3:00: [{to: right, mirror: true}, {log: three}]
        cues:
          - name: greet
            at: 0:10
            to: host
            prompt: Hello
            then:
              - prompt: Smile
              - {to: [left], prompt: Wave}
              - wait: 1s
          - name: any audio
            on: key 1
            audio: lines/hello.wav
        """))
    entries = {e.label or e.t: e for e in show.timeline}
    t30, t60, t120, t180 = show.timeline
    assert t30.actions[0].to == ("left", "right") and show.targets(t30.actions[0]) == ("left", "right")
    assert isinstance(t60.actions[0], AudioAction) and show.targets(t60.actions[0]) == ("host",)
    assert t120.actions[0].to is None  # no `to`: every session that can take a prompt
    assert show.targets(t120.actions[0]) == ("left", "right", "host")
    mirror, log = t180.actions
    assert isinstance(mirror, MirrorAction) and show.targets(mirror) == ("right",)
    assert isinstance(log, LogAction) and show.targets(log) == ()  # show-wide
    listed = load(assets, SESSIONS + "timeline:\n  - at: 4:00\n    to: left\n    prompt: Four\n")
    assert listed.timeline[0].actions[0].to == ("left",)  # a timeline written as a list takes `to:` too
    greet = show.cue("greet")
    assert greet.actions[0].to == ("host",)
    smile, wave, wait = greet.then
    assert smile.to == ("host",)  # the cue's `to:` is the default of its `then` too
    assert wave.to == ("left",)  # an action's own `to:` wins
    audio = show.cue("any audio").actions[0]
    assert audio.to is None and show.targets(audio) == ("host",)  # only the avatar plays audio
    assert len(entries) == 4


ERRORS = [
    # (text after the header, line, col, words)
    ("model: lucy-restyle-2\n", 6, 1, "model: and sessions: do not go together"),
    ("initial: {prompt: x}\n", 6, 1, "initial: and sessions: do not go together"),
    ("timeline:\n  1: {to: [left, rihgt], prompt: x}\n", 7, 18, "to: unknown session 'rihgt' (did you mean 'right'?)"),
    ("timeline:\n  1: {to: lfet, prompt: x}\n", 7, 11, "(did you mean 'left'?): this show's sessions are left, right, host"),
    ("cues:\n  - {at: 1, to: hots, prompt: x}\n", 7, 17, "to: unknown session 'hots' (did you mean 'host'?)"),
    ("timeline:\n  1: {to: [], prompt: x}\n", 7, 11, "to: give a session or a list of them"),
    ("timeline:\n  1: {to: [left, left], prompt: x}\n", 7, 18, "to: session 'left' is named twice"),
    ("timeline:\n  1: {to: left, log: x}\n", 7, 7, "to: goes with actions that go to a session"),
    ("timeline:\n  1: {to: left}\n", 7, 6, "nothing to do"),
    ("timeline:\n  1: {to: left, audio: lines/hello.wav}\n", 7, 11,
     "to: left: audio: plays only on the live_avatar model (lucy-restyle-2 plays no audio): send it to host"),
    ("cues:\n  - name: a\n    at: 1\n    to: [host, right]\n    audio: lines/hello.wav\n", 9, 9,
     "to: right: audio: plays only on the live_avatar model"),
    ("cues:\n  - {at: 1, to: left, log: x}\n", 7, 13, "to: goes with actions that go to a session (prompt:, image:, mirror: or audio:); cue 'cue 1' has none"),
    ("nodes: {stage: [left, hots]}\n", 6, 23, "node 'stage': unknown session 'hots' (did you mean 'host'?)"),
]


@pytest.mark.parametrize("text, line, col, words", ERRORS, ids=[e[3][:40] for e in ERRORS])
def test_each_sessions_error_has_its_position(assets: Path, text: str, line: int, col: int, words: str):
    found = problems(assets, SESSIONS + text)
    assert any(words in m and (ln, c) == (line, col) for ln, c, m in found), found


SESSION_ERRORS = [
    # (the sessions block, line, col, words)
    ("sessions: {}\n", 2, 11, "sessions: is a mapping of session name"),
    ("sessions: [left, right]\n", 2, 11, "sessions: is a mapping of session name"),
    ("sessions:\n  '9lives': {model: mirage}\n", 3, 3, "session name '9lives': use a word"),
    ("sessions:\n  left: mirage\n", 3, 9, "session 'left' is a mapping"),
    ("sessions:\n  left: {modle: mirage}\n", 3, 10, "unknown key 'modle' (did you mean 'model'?)"),
    ("sessions:\n  left: {source: testsrc}\n", 3, 3, "missing `model:` in session 'left'"),
    ("sessions:\n  left: {model: mirgae}\n", 3, 17, "unknown model 'mirgae' (did you mean 'mirage'?)"),
    ("sessions:\n  left: {model: mirage, speed: fast}\n", 3, 32, "mirage has no `speed: fast`"),
    ("sessions:\n  left: {model: mirage, source: webcam}\n", 3, 33, "bad source 'webcam'"),
    ("sessions:\n  left: {model: mirage}\n  host: {model: live_avatar}\n", 4, 10, "live_avatar needs a portrait"),
    ("sessions:\n  left: {model: mirage}\n  left: {model: mirage}\n", 4, 3, "duplicate key 'left'"),
    ("sessions:\n  a: {model: mirage}\n  b: {model: mirage}\ntimeline:\n  1: {audio: lines/hello.wav}\n", 6, 7,
     "audio: plays only on the live_avatar model (mirage plays no audio): no session of this show can take it"),
]


@pytest.mark.parametrize("text, line, col, words", SESSION_ERRORS, ids=[e[3][:40] for e in SESSION_ERRORS])
def test_each_session_error_has_its_position(assets: Path, text: str, line: int, col: int, words: str):
    found = problems(assets, "name: T\n" + text)
    assert any(words in m and (ln, c) == (line, col) for ln, c, m in found), found


def test_a_one_session_show_may_name_its_session_main(assets: Path):
    show = load(assets, "name: T\nmodel: mirage\ntimeline:\n  1: {to: main, prompt: x}\nnodes: {stage: [main]}\n")
    assert show.timeline[0].actions[0].to == (MAIN,)
    assert problems(assets, "name: T\nmodel: mirage\ntimeline:\n  1: {to: mian, prompt: x}\n") == [
        (4, 11, "to: unknown session 'mian' (did you mean 'main'?): this show's sessions are main")]


def test_validate_prints_each_problem_as_file_line_col(assets: Path):
    path = assets / "show.yaml"
    path.write_text(SESSIONS + "model: mirage\ntimeline:\n  1: {to: lfet, prompt: x}\n")
    done = subprocess.run([str(Path(sys.executable).parent / "decart-flow"), "validate", str(path)], capture_output=True, text=True)
    assert done.returncode == 2, done
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith(f"{path}:6:1: model: and sessions: do not go together")
    assert lines[1].startswith(f"{path}:8:11: to: unknown session 'lfet' (did you mean 'left'?)")
    assert "Traceback" not in done.stderr
    path.write_text(SESSIONS + "timeline:\n  1: {to: left, prompt: x}\n")
    done = subprocess.run([str(Path(sys.executable).parent / "decart-flow"), "validate", str(path)],
                          capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout == f"{path}: valid (3 sessions: left, right, host; 1 timeline entry, 0 cues)\n"


PY_SHOW = """\
from decart_flow import Show, audio, mirror, prompt

show = Show("Venue")
show.session("left", model="lucy-restyle-2", initial=prompt("Anime"))
show.session("right", model="lucy-restyle-2", source="testsrc", initial="Ink")
show.session("host", model="live_avatar", initial={"image": "face.png", "prompt": "A friendly guide"})
show.timeline("0:30", prompt("Cyberpunk"), mirror(True, to="left"), to=["left", "right"])
show.at("0:10", audio("lines/hello.wav", to="host"), then=[prompt("Smile")], name="greet")
show.every("20s", prompt.cycle("Lego", "Ink"), to=["left", "right"], name="ambient")

@show.on("key 1", to="host")
async def hello(session):
    await session.set_prompt("Wave")
"""


def test_the_python_builder_writes_sessions_and_to(assets: Path):
    path = assets / "venue.py"
    path.write_text(PY_SHOW)
    show = load_show(path)
    assert show.session_names() == ("left", "right", "host")
    assert show.sessions[2].initial.image == str(assets / "face.png")
    cyber, mirror = show.timeline[0].actions
    assert cyber.to == ("left", "right") and mirror.to == ("left",)
    greet = show.cue("greet")
    assert greet.actions[0].to == ("host",)
    assert greet.then[0].to is None  # the body's own to= is not the then's
    assert show.targets(greet.then[0]) == ("left", "right", "host")
    assert show.cue("ambient").actions[0].to == ("left", "right")
    handler = show.cue("hello").actions[0]
    assert isinstance(handler, CallAction) and handler.to == ("host",)


def test_python_mistakes_are_reported_at_their_line(assets: Path):
    path = assets / "venue.py"
    path.write_text(PY_SHOW + 'show.at("1:00", prompt("a", to="left"), mirror(True, to="rigth"))\n'
                              'show.timeline("2:00", audio("lines/hello.wav"), to="left")\n')
    with pytest.raises(ShowError) as e:
        load_show(path)
    found = [(p.where.line, p.message) for p in e.value.problems]
    assert any(line == 14 and "the actions of one cue go to one set of sessions" in m for line, m in found), found
    assert any(line == 15 and "to: left: audio: plays only on the live_avatar model" in m for line, m in found), found


def test_prompt_choices_and_handlers_take_to(assets: Path):
    from decart_flow import audio, image, mirror, prompt

    assert prompt("x", to="left").to == ("left",)
    assert prompt.shuffle("a", "b", to=["left", "right"]).to == ("left", "right")
    assert image("face.png", to="host").to == ("host",)
    assert mirror(to=("left",)).to == ("left",)
    assert audio("a.wav").to is None
    assert isinstance(prompt("x"), PromptAction) and prompt("x").to is None


def test_every_kind_that_goes_to_sessions_has_to_and_the_show_wide_ones_do_not():
    from dataclasses import fields

    from decart_flow.engine.actions import REGISTRY

    for kind in REGISTRY:
        has_to = "to" in {f.name for f in fields(kind.model)}
        assert has_to == (kind.routed is not None), kind.model.__name__
        assert kind.routed in (None, "each", "first")
    routed = {kind.model.__name__: kind.routed for kind in REGISTRY if kind.routed}
    assert routed == {"PromptAction": "each", "ImageAction": "each", "MirrorAction": "each", "AudioAction": "each",
                      "CallAction": "first"}
