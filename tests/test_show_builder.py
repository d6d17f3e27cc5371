"""Python shows: the SHOW_FORMAT.md vocabulary, checked by the same rules as YAML, errors at lines."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path

import pytest
import reactivex as rx
from test_show_assets import assets  # noqa: F401  (fixture)

from decart_flow.show import ShowError, load_show
from decart_flow.show.model import (
    AtTrigger,
    CallAction,
    Choice,
    ControlAction,
    EventTrigger,
    EveryTrigger,
    ImageAction,
    LogAction,
    MirrorAction,
    PromptAction,
    ReactiveTrigger,
    WaitAction,
)

EXAMPLE = """\
from reactivex import operators as ops
from decart_flow import Show, prompt

show = Show("Neon Night", model="mirage_v2", initial=prompt("Anime"))
show.at("0:30", prompt("Cyberpunk city at night"))
show.every("20s", prompt.cycle("Lego world", "Watercolor"), start="2:00")

@show.on("key 1")
async def underwater(session):
    await session.set_prompt("Underwater kingdom", enhance=False)

@show.reactive
def fader(events):
    # any reactivex pipeline over the event streams, returning actions
    return events.osc("/fader").pipe(ops.map(lambda v: prompt(f"Storm, intensity {v[0]}")))
"""


def write(folder: Path, text: str, name: str = "show.py") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def problems(path: Path) -> list[tuple[int, int, str]]:
    with pytest.raises(ShowError) as e:
        load_show(path)
    for p in e.value.problems:
        assert str(p).startswith(f"{path}:{p.where.line}:{p.where.col}: ")
    return [(p.where.line, p.where.col, p.message) for p in e.value.problems]


class Recorder:
    """A stand-in session that records what the handler asked for (the Session protocol's calls)."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    async def set_prompt(self, text: str, enrich: bool = True, **kw) -> None:
        self.calls.append(("set_prompt", text, kw.get("enhance", enrich)))


class Events:
    def __init__(self, osc_values: list[list[float]]):
        self.values = osc_values

    def osc(self, address: str):
        assert address == "/fader"
        return rx.from_iterable(self.values)


def test_the_show_format_example(tmp_path: Path):
    show = load_show(write(tmp_path, EXAMPLE))
    assert (show.name, show.model, show.initial.prompt) == ("Neon Night", "mirage_v2", "Anime")
    at, every, underwater, fader = show.cues
    assert at.trigger == AtTrigger(30.0) and at.actions[0].text == "Cyberpunk city at night"
    assert every.trigger == EveryTrigger(20.0, 120.0)
    assert every.actions[0].text == Choice("cycle", ("Lego world", "Watercolor"))
    assert underwater.name == "underwater" and underwater.trigger == EventTrigger("key", "1")
    assert isinstance(underwater.actions[0], CallAction)
    session = Recorder()
    asyncio.run(underwater.actions[0].fn(session))
    assert session.calls == [("set_prompt", "Underwater kingdom", False)]
    assert fader.name == "fader" and isinstance(fader.trigger, ReactiveTrigger)
    out: list = []
    fader.trigger.fn(Events([[0.25], [0.75]])).subscribe(out.append)
    assert [a.text for a in out] == ["Storm, intensity 0.25", "Storm, intensity 0.75"]
    # Positions point into the .py file: the at() call is on line 5.
    assert at.where.file == str(tmp_path / "show.py") and at.where.line == 5
    assert underwater.where.line == 8 and fader.where.line == 12


def test_the_whole_vocabulary(assets: Path):
    show = load_show(
        write(
            assets,
            """\
            from decart_flow import Show, prompt, image, mirror, audio, wait, log, go

            show = Show("All", model="live-avatar", initial=image("face.png", prompt="Hi {who}"),
                        duration="5m", loop=True, vars={"who": "Ada"}, lookahead="auto", source="testsrc")
            show.timeline("0:10", prompt("Look {who}"), mirror("toggle"))
            show.timeline(20, image("refs/ghibli.png"), log("image"))
            show.timeline("1:00", image(None), go("next"))
            show.at("2:30", audio("lines/hello.wav"), then=[prompt("Smile"), wait("2s"), prompt("Nod")], name="hello")
            show.every("20s", prompt.shuffle(["a", "b"]), start="1m", until="4m", times=3, mode="single")
            show.cron("0 * * * *", prompt.random("x", "y"), tz="Europe/Paris", when={"between": ["09:00", "18:00"]})
            show.on("osc /fader", prompt("Storm {0}"), name="fader")
            show.on("after hello", log("done"), lookahead="200ms")
            show.on("key 5", go("pause"))
            """,
        )
    )
    assert show.model == "live_avatar" and show.duration == 300.0 and show.loop and show.lookahead == "auto"
    assert show.initial.image == str(assets / "face.png") and show.initial.prompt == "Hi Ada"
    e0, e1, e2 = show.timeline
    assert e0.t == 10.0 and e0.actions[0].text == "Look Ada" and e0.actions[1] == MirrorAction("toggle", e0.actions[1].where)
    assert isinstance(e1.actions[0], ImageAction) and e1.actions[0].image == str(assets / "refs" / "ghibli.png")
    assert isinstance(e1.actions[1], LogAction)
    assert e2.actions[0].image is None and e2.actions[1] == ControlAction("next", e2.actions[1].where)
    assert e0.label == "Look Ada, mirror toggle"
    hello = show.cue("hello")
    assert hello.actions[0].path == str(assets / "lines" / "hello.wav")
    assert [type(a) for a in hello.then] == [PromptAction, WaitAction, PromptAction]
    every = show.cues[1]
    assert every.trigger == EveryTrigger(20.0, 60.0, 240.0, 3) and every.mode == "single"
    assert every.actions[0].text == Choice("shuffle", ("a", "b"))
    cron = show.cues[2]
    assert cron.trigger.tz == "Europe/Paris" and cron.when.between[0][0].hour == 9
    assert show.cue("fader").actions[0].text == "Storm {0}"
    assert show.cues[4].lookahead == 0.2
    assert show.cues[5].actions[0].command == "pause"


def test_errors_point_at_the_calls(assets: Path):
    path = write(
        assets,
        """\
        from decart_flow import Show, prompt, image, audio

        show = Show("Bad", model="mirage_v2", initial=prompt("{nobody}"))
        show.every("5x", prompt("a"))
        show.timeline("0:10", image("missing.png"))
        show.at(3, audio("lines/hello.wav"))
        show.cron("61 * * * *", prompt("b"))
        show.on("key g", prompt("c"))
        show.at(1, prompt.cycle())
        show.at(2, prompt("a"), name="dup")
        show.at(2, prompt("a"), name="dup")
        show.on("after nobody", prompt("d"))

        @show.on("key 1")
        def not_async(session):
            pass
        """,
    )
    found = problems(path)
    lines = {(line, words) for line, _, m in found for words in [
        "unknown placeholder '{nobody}'", "bad duration '5x'", "file not found", "plays only on the live_avatar",
        "bad cron expression", "belongs to the TUI", "the list is empty", "duplicate cue name 'dup'",
        "no cue has that name", "must be `async def",
    ] if words in m}
    assert lines == {
        (3, "unknown placeholder '{nobody}'"), (4, "bad duration '5x'"), (5, "file not found"),
        (6, "plays only on the live_avatar"), (7, "bad cron expression"), (8, "belongs to the TUI"),
        (9, "the list is empty"), (11, "duplicate cue name 'dup'"), (12, "no cue has that name"),
        (14, "must be `async def"),
    }  # fmt: skip
    # The column is the call's: `show.every(` starts at column 1, `prompt("{nobody}")` at 47.
    assert (3, 47) in {(line, col) for line, col, m in found if "nobody" in m}


@pytest.mark.parametrize(
    "source, line, col, words",
    [
        ("show = Show('x', model='mirage_v2'\n", 1, 12, "SyntaxError"),
        ("from decart_flow import Show\nx = 1\nshow = Show('x', model=undefined_name)\n", 3, 24, "NameError: name 'undefined_name'"),
        ("import sys\nsys.exit(3)\n", 2, 1, "SystemExit"),
        ("x = 1\n", 1, 1, "no module-level `show`"),
        ("show = 42\n", 1, 1, "`show` is a int"),
        ("from decart_flow import Show, wait\nshow = Show('x', model='mirage')\nshow.at(1, wait('5x'))\n", 3, 12, "bad duration '5x'"),
        # model= is optional since a show may have sessions (show.session(...)): without either, the compiler says so
        ("from decart_flow import Show\nshow = Show('x')\n", 2, 8, "missing `model:`"),
        ("from decart_flow import Show\nshow = Show('x', model='mirage', loop=True)\n", 2, 8, "loop: true needs a duration"),
    ],
)
def test_broken_python_files(tmp_path: Path, source: str, line: int, col: int, words: str):
    found = problems(write(tmp_path, source))
    assert any(words in m and (ln, c) == (line, col) for ln, c, m in found), found


def test_helper_modules_beside_the_show_can_be_imported(tmp_path: Path):
    (tmp_path / "looks.py").write_text("LOOKS = ['Lego', 'Clay']\n")
    show = load_show(
        write(
            tmp_path,
            "from decart_flow import Show, prompt\nfrom looks import LOOKS\n"
            "show = Show('x', model='mirage')\nshow.every('10s', prompt.cycle(*LOOKS))\n",
        )
    )
    assert show.cues[0].actions[0].text.items == ("Lego", "Clay")


def test_vocabulary_is_importable_lazily():
    import decart_flow

    assert decart_flow.prompt("x").text == "x"
    assert isinstance(decart_flow.wait(1.5), WaitAction) and decart_flow.wait("1:30").seconds == 90.0
    assert decart_flow.mirror().value == "toggle"
    assert decart_flow.go().command == "next"


def test_runtime_actions_get_the_load_time_checks():
    """A reactive cue's output is checked like a show file's action (vars, paths, model)."""
    from decart_flow import audio, image, prompt
    from decart_flow.show.runtime import check_action

    repo = Path(__file__).resolve().parent.parent
    show = load_show(repo / "scenes" / "performance.yaml")
    assert check_action(prompt("Storm over {city}"), show)[0].text == "Storm over Tokyo"
    img = check_action(image("refs/neon.png", prompt="x"), show)[0]
    assert img.image == str(repo / "scenes" / "refs" / "neon.png")
    for bad, words in [(audio("lines/hello.wav"), "live_avatar"), (image("nope.png"), "file not found"), (prompt(""), "empty prompt")]:
        with pytest.raises(ShowError, match=words):
            check_action(bad, show)


def test_the_show_and_a_cue_take_a_zone_as_yaml_does(tmp_path: Path):
    show = load_show(write(tmp_path, """
        from decart_flow import Show, prompt

        show = Show("Tokyo", model="mirage", tz="Asia/Tokyo")
        show.every("1h", prompt("Morning"), when={"between": ["09:00", "11:00"]})
        show.every("1h", prompt("Paris"), times=2, when={"days": ["mon"]}, tz="Europe/Paris")
        show.cron("0 9 * * *", prompt("Nine"))
    """))
    tokyo, paris, nine = show.cues
    assert show.tz == "Asia/Tokyo"
    assert tokyo.when.tz == "Asia/Tokyo" and nine.trigger.tz == "Asia/Tokyo"
    assert paris.when.tz == "Europe/Paris" and paris.trigger.when == paris.when  # `times` counts inside `when`
