"""Every form of SHOW_FORMAT.md parses to the right model."""

from __future__ import annotations

import textwrap
from datetime import time as dtime
from pathlib import Path

import pytest
from test_show_assets import assets  # noqa: F401  (fixture)

from decart_flow.show import ShowError, load_show
from decart_flow.show.model import (
    AtTrigger,
    AudioAction,
    Choice,
    ControlAction,
    CronTrigger,
    EventTrigger,
    EveryTrigger,
    ImageAction,
    Initial,
    LogAction,
    MirrorAction,
    PromptAction,
    WaitAction,
    When,
)

REPO = Path(__file__).resolve().parent.parent

# The example at the top of SHOW_FORMAT.md, word for word except the file paths (our fixture's)
# and the model, which must be live_avatar for `audio:` to be allowed.
WHOLE = """\
name: Neon Night              # shown in the TUI and the journal
model: live_avatar            # mirage | mirage_v2 | lucy_v2v_720p_rt | live_avatar
source: testsrc               # testsrc | camera | camera:/dev/video2 | file:clips/dance.mp4 | image:face.png
duration: 10m                 # optional: the show ends cleanly after this much show time
loop: false                   # optional: with duration, the timeline starts over at the end
vars: {city: Tokyo}           # optional: "{city}" in any text is replaced
initial:                      # applied while connecting, before the first frame
  prompt: Anime
  enhance: true               # default true: the service expands the prompt
  image: refs/start.png       # optional reference image; for live_avatar the portrait (required)
  mirror: false

timeline:                     # show time -> action: the cue list that GO walks through
  0:30: Cyberpunk {city} at night            # a bare string is a prompt
  1:00: {image: refs/ghibli.png, prompt: Studio Ghibli}
  1:30: {mirror: true}

cues:                         # repeating, wall-clock and event cues
  - name: ambient
    every: 20s
    from: 2:00                # show-time window, both ends optional
    until: 10:00
    prompt: {cycle: [Lego world, Watercolor, Claymation]}
  - name: hourly
    cron: "0 * * * *"         # wall clock; optional tz: Europe/Paris (default: local zone)
    prompt: Sunrise over the ocean
  - name: office hours
    every: 5m
    when: {between: ["09:00", "18:00"], days: [mon, tue, wed, thu, fri]}
    prompt: {shuffle: [Marble statue, Oil painting, Neon sign]}
  - name: underwater
    on: key 1
    prompt: Underwater kingdom
    enhance: false
  - name: hello
    at: 2:30                  # one shot at a show time
    audio: lines/hello.wav    # live_avatar only
    then:                     # runs after the clip has finished
      - prompt: Smile warmly and nod
      - wait: 2s
      - prompt: Look excited
"""


def write(folder: Path, text: str, name: str = "show.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def load(folder: Path, body: str, header: str = "name: T\nmodel: mirage_v2\n"):
    return load_show(write(folder, header + textwrap.dedent(body)))


def test_whole_example(assets: Path):
    show = load_show(write(assets, WHOLE))
    assert show.name == "Neon Night"
    assert show.model == "live_avatar"
    assert show.source == "testsrc"
    assert show.duration == 600.0 and show.loop is False
    assert show.vars == {"city": "Tokyo"}
    assert show.initial == Initial("Anime", True, str(assets / "refs" / "start.png"), False)
    assert [e.t for e in show.timeline] == [30.0, 60.0, 90.0]
    first, second, third = (e.actions for e in show.timeline)
    assert first[0].text == "Cyberpunk Tokyo at night"
    assert isinstance(second[0], ImageAction)
    assert second[0].image == str(assets / "refs" / "ghibli.png") and second[0].prompt == "Studio Ghibli"
    assert isinstance(third[0], MirrorAction) and third[0].value is True
    assert show.timeline[0].label == "Cyberpunk Tokyo at night"
    assert [c.name for c in show.cues] == ["ambient", "hourly", "office hours", "underwater", "hello"]
    ambient, hourly, office, underwater, hello = show.cues
    assert ambient.trigger == EveryTrigger(20.0, 120.0, 600.0, None)
    assert ambient.actions[0].text == Choice("cycle", ("Lego world", "Watercolor", "Claymation"))
    assert hourly.trigger == CronTrigger("0 * * * *", None)
    assert office.trigger == EveryTrigger(300.0)
    assert office.when == When(((dtime(9), dtime(18)),), frozenset({"mon", "tue", "wed", "thu", "fri"}))
    assert office.actions[0].text.kind == "shuffle"
    assert underwater.trigger == EventTrigger("key", "1")
    assert underwater.actions[0].enhance is False
    assert hello.trigger == AtTrigger(150.0)
    assert isinstance(hello.actions[0], AudioAction) and len(hello.actions) == 1
    assert hello.actions[0].path == str(assets / "lines" / "hello.wav")
    assert abs(hello.actions[0].seconds - 0.2) < 0.01  # measured at load, for plan
    assert [type(a) for a in hello.then] == [PromptAction, WaitAction, PromptAction]
    assert hello.then[1].seconds == 2.0
    assert show.path == assets / "show.yaml"
    # Positions: the 0:30 entry's prompt is on line 14, column 9.
    assert (first[0].where.line, first[0].where.col) == (14, 9)
    assert (hello.where.line, hello.where.col) == (35, 5)


@pytest.mark.parametrize("spelling", ["1:30", "'1:30'", '"1:30"', "90", "90s", "1m30s", "1:30.0"])
def test_unquoted_and_quoted_times_mean_the_same(tmp_path: Path, spelling: str):
    show = load(tmp_path, f"timeline:\n  {spelling}: Lego\ncues:\n  - at: {spelling}\n    prompt: x\n")
    assert show.timeline[0].t == 90.0
    assert show.cues[0].trigger == AtTrigger(90.0)


def test_hours_minutes_seconds(tmp_path: Path):
    show = load(tmp_path, "duration: 1:02:03\ntimeline:\n  1:02:03: end\n  500ms: start\n  2h: late\n")
    assert show.duration == 3723.0
    assert [e.t for e in show.timeline] == [0.5, 3723.0, 7200.0]  # sorted


def test_sources(assets: Path):
    header = "name: T\nmodel: mirage\n"
    for text, expected in [
        ("testsrc", "testsrc"),
        ("camera", "camera"),
        ("camera:/dev/video2", "camera:/dev/video2"),
        ("file:clips/dance.mp4", f"file:{assets / 'clips' / 'dance.mp4'}"),
        ("image:face.png", f"image:{assets / 'face.png'}"),
    ]:
        assert load(assets, f"source: {text}\n", header).source == expected


@pytest.mark.parametrize("alias", ["live_avatar", "live-avatar", "avatar-live"])
def test_model_aliases(assets: Path, alias: str):
    show = load(assets, "initial: {image: face.png}\n", f"name: T\nmodel: {alias}\n")
    assert show.model == "live_avatar"


@pytest.mark.parametrize("model", ["mirage", "mirage_v2", "lucy_v2v_720p_rt"])
def test_video_models(tmp_path: Path, model: str):
    assert load(tmp_path, "", f"model: {model}\n").model == model


def test_triggers(tmp_path: Path):
    show = load(
        tmp_path,
        """\
        cues:
          - {name: a, at: 2:30, log: at}
          - {name: b, every: 20s, from: 1m, until: 5m, times: 3, log: every}
          - {name: c, cron: "@hourly", tz: Europe/Paris, log: cron}
          - {name: d, on: key 1, log: key}
          - {name: e, on: osc /fader, log: "osc {0} {1}"}
          - {name: f, on: http /go, log: "http {0}"}
          - {name: g, on: state reconnecting, log: state}
          - {name: h, on: after a, log: after}
          - {name: i, on: midi note 60, log: "note {0}"}
          - {name: j, on: midi cc 7, log: "cc {0}"}
        """,
    )
    triggers = [c.trigger for c in show.cues]
    assert triggers == [
        AtTrigger(150.0),
        EveryTrigger(20.0, 60.0, 300.0, 3),
        CronTrigger("@hourly", "Europe/Paris"),
        EventTrigger("key", "1"),
        EventTrigger("osc", "/fader"),
        EventTrigger("http", "/go"),
        EventTrigger("state", "reconnecting"),
        EventTrigger("after", "a"),
        EventTrigger("midi", "note 60"),
        EventTrigger("midi", "cc 7"),
    ]
    assert show.cue("e").actions[0] == LogAction("osc {0} {1}", show.cue("e").actions[0].where)


def test_actions(tmp_path: Path):
    from PIL import Image

    Image.new("RGB", (8, 8)).save(tmp_path / "x.png")  # image URLs are fetched at load: test_hardening_images
    show = load(
        tmp_path,
        """\
        timeline:
          1: {prompt: {random: [a, b]}, enhance: false}
          2: {image: x.png}
          3: {image: null}
          4: {mirror: toggle}
          5: {mirror: false}
          6: {log: hello}
          7: {go: next}
          8: {go: back}
          9: [{pause: }, {resume: true}, {stop: }, {go: pause}]
        """,
    )
    acts = [e.actions for e in show.timeline]
    assert acts[0][0].text == Choice("random", ("a", "b")) and acts[0][0].enhance is False
    assert acts[1][0].image == str(tmp_path / "x.png")
    assert acts[2][0].image is None
    assert acts[3][0].value == "toggle" and acts[4][0].value is False
    assert acts[5][0].text == "hello"
    assert [a.command for a in acts[6] + acts[7] + acts[8]] == ["next", "back", "pause", "resume", "stop", "pause"]
    assert all(isinstance(a, ControlAction) for a in acts[8])


def test_when_forms(tmp_path: Path):
    show = load(
        tmp_path,
        """\
        cues:
          - every: 1m
            when: {between: [["22:00", "02:00"], ["12:00", "13:00"]], days: weekend}
            log: x
          - every: 1m
            when: {between: [09:00, 18:00], days: [Monday, fri]}
            log: y
        """,
    )
    first, second = show.cues
    assert first.when.between == ((dtime(22), dtime(2)), (dtime(12), dtime(13)))
    assert first.when.days == frozenset({"sat", "sun"})
    assert second.when.between == ((dtime(9), dtime(18)),)  # unquoted 18:00 is YAML's 1080
    assert second.when.days == frozenset({"mon", "fri"})


def test_default_cue_names_and_modes_and_lookahead(tmp_path: Path):
    show = load(
        tmp_path,
        """\
        lookahead: auto
        cues:
          - {every: 1m, log: a, mode: queue, lookahead: 200ms}
          - {every: 1m, log: b, mode: single, lookahead: auto}
          - {name: named, every: 1m, log: c, mode: parallel}
          - {every: 1m, log: d}
        """,
    )
    assert [c.name for c in show.cues] == ["cue 1", "cue 2", "named", "cue 4"]
    assert [c.mode for c in show.cues] == ["queue", "single", "parallel", "restart"]
    assert [c.lookahead for c in show.cues] == [0.2, "auto", None, None]
    assert show.lookahead == "auto"


def test_vars_are_substituted_everywhere_and_args_kept(assets: Path):
    show = load(
        assets,
        """\
        vars: {city: Tokyo, n: 3, pic: face}
        initial: "Hello {city}"
        timeline:
          1: {prompt: {cycle: ["{city} {n}", b]}}
          2: {image: "{pic}.png", prompt: "{city}"}
        cues:
          - on: osc /x
            prompt: "{city} {0}"
            then: [{log: "{1} in {city}"}]
        """,
    )
    assert show.initial.prompt == "Hello Tokyo"
    assert show.timeline[0].actions[0].text.items == ("Tokyo 3", "b")
    assert show.timeline[1].actions[0].image == str(assets / "face.png")
    assert show.cues[0].actions[0].text == "Tokyo {0}"
    assert show.cues[0].then[0].text == "{1} in Tokyo"


def test_on_key_is_not_read_as_yaml_boolean(tmp_path: Path):
    # YAML 1.1 reads a bare `on` key as True; the loader keeps the key as written.
    show = load(tmp_path, "cues:\n  - on: key 5\n    prompt: x\n")
    assert show.cues[0].trigger == EventTrigger("key", "5")


def test_text_prompts_keep_their_spelling(tmp_path: Path):
    show = load(tmp_path, "timeline:\n  1: yes\n  2: 1984\n  3: {prompt: off}\n")
    assert [e.actions[0].text for e in show.timeline] == ["yes", "1984", "off"]


def test_initial_string_and_name_default(tmp_path: Path):
    show = load_show(write(tmp_path, "model: mirage\ninitial: Anime\n", "my show.yaml"))
    assert show.name == "my show"
    assert show.initial == Initial(prompt="Anime")


def test_loop_with_duration(tmp_path: Path):
    show = load(tmp_path, "duration: 1m\nloop: true\n")
    assert show.loop is True and show.duration == 60.0


def test_timeline_list_form(tmp_path: Path):
    show = load(tmp_path, "timeline:\n  - {at: 10, prompt: a}\n  - {at: 10, mirror: true}\n")
    assert [e.t for e in show.timeline] == [10.0, 10.0]


@pytest.mark.parametrize("name", ["quickstart.yaml", "performance.yaml", "installation.yaml", "avatar.yaml", "reactive.py"])
def test_example_scenes_validate(name: str):
    show = load_show(REPO / "scenes" / name)
    assert show.name
    assert show.timeline or show.cues


def test_scene_avatar_has_then_and_audio():
    show = load_show(REPO / "scenes" / "avatar.yaml")
    assert show.model == "live_avatar" and show.initial.image.endswith("portrait.png")
    hello = show.cue("hello")
    assert isinstance(hello.actions[0], AudioAction) and len(hello.then) == 3


def test_problem_string_format(tmp_path: Path):
    path = write(tmp_path, "name: x\nmodel: mirage\nduration: 5x\n")
    with pytest.raises(ShowError) as e:
        load_show(path)
    assert [str(p) for p in e.value.problems] == [
        f"{path}:3:11: bad duration '5x': use 90, 90s, 1m30s, 500ms, 2h or 1:30"
    ]
