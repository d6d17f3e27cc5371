"""Each TUI binding against a show on the real local service: the key, then the engine's effect."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from unittest import mock

import pytest

from decart_flow.runner.run import RunOptions
from decart_flow.show import load_show
from decart_flow.tui.app import FlowApp
from decart_flow.tui.header import ShowHeader
from decart_flow.tui.stats_panel import StatsPanel

SHOW = """\
name: keys
model: mirage_v2
source: testsrc
initial:
  prompt: Calm lake
timeline:
  0:30: First look
  0:40: Second look
  0:50: Third look
cues:
  - name: flash
    on: key 1
    prompt: Lightning storm
"""


@pytest.fixture
def show_file(tmp_path: Path) -> Path:
    path = tmp_path / "show.yaml"
    path.write_text(SHOW)
    (tmp_path / "refs").mkdir()
    from PIL import Image

    Image.new("RGB", (32, 32), (200, 40, 40)).save(tmp_path / "refs" / "red.png")
    return path


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def wait_for(pilot, check, timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out waiting for the TUI")
        await pilot.pause(0.05)


class Live:
    """A FlowApp playing `show_file` on the embedded local service, started and playing."""

    def __init__(self, show_file: Path, tmp_path: Path, **options) -> None:
        self.journal = tmp_path / "journal.jsonl"
        self.app = FlowApp(load_show(show_file), RunOptions(journal=str(self.journal), **options))

    def events(self, name: str) -> list[dict]:
        return [r for r in records(self.journal) if r["event"] == name]

    async def started(self, pilot) -> None:
        await wait_for(pilot, lambda: self.app.glance is not None and self.app.glance.state.started, 30.0)


async def _key_gap(*_args: object, **_kwargs: object) -> None:
    """Between two keys of `pilot.press` on a playing show: a fast typist's gap. Textual waits for
    the process to go idle there, up to a second twice per key; a playing show's media threads
    never let it, so every key cost two seconds. `press` still waits, after its last key, until the
    screen has handled every message."""
    await asyncio.sleep(0.05)


async def play(show_file: Path, tmp_path: Path, body, **options) -> Live:
    live = Live(show_file, tmp_path, **options)
    try:
        with mock.patch("textual.app.wait_for_idle", _key_gap):
            async with live.app.run_test(size=(160, 50)) as pilot:
                await live.started(pilot)
                await body(live, pilot)
    finally:
        await live.app.shutdown_run()
    return live


async def test_space_pauses_and_resumes(show_file, tmp_path):
    async def body(live, pilot):
        await pilot.press("space")
        await wait_for(pilot, lambda: "PAUSED" in str(live.app.query_one(ShowHeader).render_line(0).text))
        assert live.events("show.pause")
        await pilot.press("space")
        await wait_for(pilot, lambda: bool(live.events("show.resume")))
        await wait_for(pilot, lambda: "PAUSED" not in str(live.app.query_one(ShowHeader).render_line(0).text))

    await play(show_file, tmp_path, body)


async def test_go_keys_fire_timeline(show_file, tmp_path):
    async def body(live, pilot):
        await pilot.press("g")
        await wait_for(pilot, lambda: len(live.events("go")) == 1)
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(live.events("go")) == 2)
        await pilot.press("b")
        await wait_for(pilot, lambda: len(live.events("go")) == 3)
        gos = live.events("go")
        assert [(g["direction"], g["index"]) for g in gos] == [("next", 0), ("next", 1), ("back", 0)]
        await wait_for(pilot, lambda: any(r["action"].get("prompt") == "Second look"
                                          for r in live.events("action.send")))

    await play(show_file, tmp_path, body)


async def test_the_stream_panel_shows_frames_and_the_cue_to_glass_of_a_go(show_file, tmp_path):
    """The figures come from the run (fps in and out, the glass meter on the session) down the bound glance."""
    async def body(live, pilot):
        panel = live.app.query_one(StatsPanel)
        await wait_for(pilot, lambda: (live.app.glance.fps_in or 0) > 0 and (live.app.glance.fps_out or 0) > 0)
        await pilot.press("g")
        await wait_for(pilot, lambda: live.app.glance.glass_ms is not None)
        glance = live.app.glance
        assert panel.glance is glance  # bound: the panel draws the app's glance, not a copy
        assert 0 < glance.glass_ms < 2000, glance.glass_ms  # a GO on loopback reaches the glass within 2 s
        text = "".join(str(panel.render_line(y).text) for y in range(2))
        assert f"{glance.glass_ms:.0f} ms" in text and "fps" in text
        thread = live.app.show_thread
        last = thread.figures()[2]
        thread.request_stop("quit")
        await wait_for(pilot, thread.finished.done)
        assert last is not None and thread.figures()[2] == last  # the last figure stays once the show ended

    await play(show_file, tmp_path, body)


@pytest.mark.slow  # Pilot waits for the screen to settle after each key: ~25 s on a loaded 2-core box
async def test_prompt_box_sends_prompt(show_file, tmp_path):
    async def body(live, pilot):
        await pilot.press("p")
        await pilot.press(*"Paper")
        live.app.screen.query_one("#prompt").insert_text_at_cursor(" cutout city")  # typing, minus the waits
        await pilot.press("ctrl+e", "enter")
        await wait_for(pilot, lambda: any(r["action"].get("prompt") == "Paper cutout city"
                                          for r in live.events("action.send")))
        sent = [r for r in live.events("action.send") if r["action"].get("prompt") == "Paper cutout city"][0]
        assert sent["action"]["enhance"] is False
        assert live.events("manual")[0]["source"] == "prompt box"
        await wait_for(pilot, lambda: live.app.glance.state.prompt == "Paper cutout city")

    await play(show_file, tmp_path, body)


@pytest.mark.slow
async def test_image_chooser_sends_image(show_file, tmp_path):
    async def body(live, pilot):
        await pilot.press("i")
        await pilot.press(*"refs/re", "tab", "enter")  # tab takes the completion: refs/red.png
        want = str((tmp_path / "refs" / "red.png").resolve())
        await wait_for(pilot, lambda: any(r["action"].get("image") == want for r in live.events("action.send")))
        await wait_for(pilot, lambda: bool([r for r in live.events("action.ack") if r["kind"] == "image"]))

    await play(show_file, tmp_path, body)


async def test_mirror_and_show_key(show_file, tmp_path):
    async def body(live, pilot):
        await pilot.press("m")
        await wait_for(pilot, lambda: any(r["action"].get("mirror") is True for r in live.events("action.send")))
        await pilot.press("1")
        await wait_for(pilot, lambda: any(r["cue"] == "flash" for r in live.events("cue.fire")))
        await wait_for(pilot, lambda: any(r["action"].get("prompt") == "Lightning storm"
                                          for r in live.events("action.send")))

    await play(show_file, tmp_path, body)


async def test_reload_checks_first(show_file, tmp_path):
    async def body(live, pilot):
        assert live.app.show.duration == 600.0  # the header's length is the run's --duration from the start
        show_file.write_text(SHOW.replace("model: mirage_v2", "model: nosuchmodel"))
        await pilot.press("r")
        await wait_for(pilot, lambda: live.app.note is not None and "refused" in live.app.note)
        assert not live.events("show.reload")
        live.app.note = None
        show_file.write_text(SHOW.replace("model: mirage_v2", "model: mirage"))  # valid, but needs a restart
        await pilot.press("r")
        await wait_for(pilot, lambda: live.app.note is not None and "refused" in live.app.note)
        assert not live.events("show.reload") and live.app.show.model == "mirage_v2"
        show_file.write_text(SHOW.replace("Lightning storm", "Hail storm"))
        await pilot.press("r")
        await wait_for(pilot, lambda: bool(live.events("show.reload")))
        assert live.app.show.duration == 600.0  # the run's --duration holds over the reload
        await pilot.press("1")
        await wait_for(pilot, lambda: any(r["action"].get("prompt") == "Hail storm"
                                          for r in live.events("action.send")))

    await play(show_file, tmp_path, body, duration=600.0)


async def test_help_lists_show_keys_and_quit_is_confirmed(show_file, tmp_path):
    async def body(live, pilot):
        await pilot.press("question_mark")
        from decart_flow.tui.help_screen import HelpScreen

        assert isinstance(live.app.screen, HelpScreen)
        keys = live.app.screen.query_one("#keys")
        text = "\n".join(keys.render_line(y).text for y in range(keys.size.height))
        assert "flash" in text
        await pilot.press("escape")
        await pilot.press("q")
        await pilot.press("n")
        await pilot.pause(0.2)
        assert live.app.phase == "playing"
        await pilot.press("q", "y")
        await wait_for(pilot, lambda: live.app.return_code is not None, 15.0)  # exits once the run closed
        assert live.app.return_code == 0 and live.app.finished.done()

    live = await play(show_file, tmp_path, body)
    ends = live.events("show.end")
    assert ends and ends[-1]["reason"] == "quit"
    assert live.events("session.state")[-1]["state"] == "disconnected" or live.app.show_run._closed
