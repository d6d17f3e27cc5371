"""Issue #19 items 4 and 5: image URLs work (fetched and checked at load, and from the TUI's
chooser), and an image's size in pixels is bounded at validation and in the client. The images
are served by an aiohttp server on 127.0.0.1 made here."""

from __future__ import annotations

import asyncio
import base64
import io
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp import web
from PIL import Image
from textual.app import App
from textual.widgets import Label

from decart_flow.realtime.errors import InvalidInputError
from decart_flow.realtime.images import MAX_IMAGE_PIXELS, image_to_base64
from decart_flow.show import ShowError, load_show
from decart_flow.tui.image_chooser import ImageChooser
from test_resilience_run import journal


def png(width: int, height: int, colour: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB" if width * height <= MAX_IMAGE_PIXELS else "1", (width, height),
              colour if width * height <= MAX_IMAGE_PIXELS else 0).save(out, "PNG")
    return out.getvalue()


class Pictures:
    """A web server on 127.0.0.1 that serves a few images and counts the requests."""

    def __init__(self) -> None:
        self.files = {"/red.png": png(64, 48), "/huge.png": png(13000, 13000), "/text.png": b"not an image"}
        self.hits: list[str] = []
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def _serve(self, request: web.Request) -> web.Response:
        self.hits.append(request.path)
        data = self.files.get(request.path)
        if data is None:
            return web.Response(status=404)
        return web.Response(body=data, content_type="image/png")

    async def __aenter__(self) -> "Pictures":
        app = web.Application()
        app.router.add_get("/{name}", self._serve)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"


SHOW = """\
name: Pictures
model: mirage_v2
source: testsrc
duration: 4s
initial: {{prompt: Anime}}
timeline:
  0:01: {{image: "{url}", prompt: Studio Ghibli}}
"""


async def test_an_image_url_is_fetched_and_checked_at_load(tmp_path: Path) -> None:
    async with Pictures() as pictures:
        path = tmp_path / "s.yaml"
        path.write_text(SHOW.format(url=pictures.url("red.png")))
        show = await asyncio.to_thread(load_show, path)
        assert show.timeline[0].actions[0].image == pictures.url("red.png")
        assert pictures.hits == ["/red.png"]
        for name, words in (("missing.png", "HTTP 404"), ("text.png", "cannot decode"), ("huge.png", "13000 x 13000")):
            path.write_text(SHOW.format(url=pictures.url(name)))
            with pytest.raises(ShowError) as caught:
                await asyncio.to_thread(load_show, path)
            [problem] = caught.value.problems
            assert str(problem).startswith(f"{path}:7:") and words in str(problem), problem


async def test_a_run_sends_the_image_of_a_url(tmp_path: Path) -> None:
    """The whole way: validate (one fetch), then the image goes out in a set_image and is acknowledged."""
    async with Pictures() as pictures:
        (tmp_path / "s.yaml").write_text(SHOW.format(url=pictures.url("red.png")))
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "decart_flow.cli", "run", "s.yaml", "--headless", "--journal", "j.jsonl",
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 90)
        assert proc.returncode == 0, err.decode()
        records = journal(tmp_path / "j.jsonl")
        ack = [r for r in records if r["event"] == "action.ack" and r["cue"] == "timeline 0:01"]
        assert ack and ack[0]["kind"] == "image" and ack[0]["success"] is True, records
        assert pictures.hits == ["/red.png"]  # fetched once, at load; the cue sent those bytes


def test_validate_bounds_pixels_without_pillows_raw_warning(tmp_path: Path) -> None:
    (tmp_path / "huge.png").write_bytes(png(13000, 13000))
    (tmp_path / "s.yaml").write_text(SHOW.format(url="huge.png").replace('"huge.png"', "huge.png"))
    done = subprocess.run([sys.executable, "-m", "decart_flow.cli", "validate", "s.yaml"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "DecompressionBomb" not in done.stderr + done.stdout
    assert done.stdout.strip().count("\n") == 0 and "13000 x 13000" in done.stdout, done.stdout


async def test_the_client_refuses_an_image_over_the_pixel_bound(tmp_path: Path) -> None:
    big = png(5000, 4000)
    with pytest.raises(InvalidInputError, match="5000 x 4000"):
        await image_to_base64(big)
    with pytest.raises(InvalidInputError, match="5000 x 4000"):
        await image_to_base64("data:image/png;base64," + base64.b64encode(big).decode())
    (tmp_path / "big.png").write_bytes(big)
    with pytest.raises(InvalidInputError, match="5000 x 4000"):
        await image_to_base64(tmp_path / "big.png")
    assert await image_to_base64(png(64, 48))


class ChooserApp(App[None]):
    CSS_PATH = str(Path(__file__).resolve().parent.parent / "decart_flow" / "tui" / "app.tcss")

    def __init__(self, base: Path) -> None:
        super().__init__()
        self.base = base
        self.chosen: list[tuple[str | None] | None] = []

    def on_mount(self) -> None:
        self.push_screen(ImageChooser(self.base), self.chosen.append)


async def _type(pilot, text: str) -> None:
    await pilot.press(*text, "enter")


async def test_the_image_chooser_says_what_is_wrong_and_takes_a_url(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not an image")
    async with Pictures() as pictures:
        app = ChooserApp(tmp_path)
        async with app.run_test(size=(100, 40)) as pilot:
            await _type(pilot, "notes.txt")
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, ImageChooser) and app.chosen == []
            label = screen.query_one("#problem", Label)
            assert "not an image" in screen.problem
            assert label.region.height >= 1 and label.region.width > 20  # on screen, not a zero-size label
            assert label.region in screen.region or screen.region.contains_region(label.region)
            screen.query_one("#path").value = ""
            await _type(pilot, pictures.url("red.png"))
            for _ in range(100):
                if app.chosen:
                    break
                await pilot.pause(0.05)
        assert app.chosen == [(pictures.url("red.png"),)]
        assert pictures.hits == ["/red.png"]
