"""The projector monitor: the session's frames re-served over loopback WebRTC to headless chromium.

The page's <video> is drawn into a canvas and its pixels read back: the stamp the local service
draws on every frame must follow the cues the engine fires.
"""

from __future__ import annotations

import asyncio
import base64
import time

import numpy as np
import pytest
from needs import importorskip
from aiortc import VideoStreamTrack

from decart_flow.control.monitor import MonitorServer, loopback_sdp
from decart_flow.engine.clock import Clock
from decart_flow.engine.engine import Engine
from decart_flow.realtime import ModelState, Prompt, RealtimeClient, RealtimeConnectOptions, models
from decart_flow.service import LocalService, read_stamp
from decart_flow.service.stamp import stamp_shape
from decart_flow.show.model import PromptAction, ShowModel, TimelineEntry

KEY = "monitor-test-key"

GRAB = """(rows) => {
  const v = document.querySelector('video');
  if (!v || v.readyState < 2 || v.videoWidth === 0) return null;
  const c = document.createElement('canvas');
  c.width = v.videoWidth; c.height = rows;
  const g = c.getContext('2d', { willReadFrequently: true });
  g.drawImage(v, 0, 0, v.videoWidth, rows, 0, 0, v.videoWidth, rows);
  const d = g.getImageData(0, 0, c.width, rows).data;
  let s = '';
  for (let i = 0; i < d.length; i += 0x8000) s += String.fromCharCode.apply(null, d.subarray(i, i + 0x8000));
  return { w: c.width, h: rows, t: v.currentTime, b64: btoa(s) };
}"""


def test_loopback_sdp_keeps_only_loopback_candidates():
    sdp = "v=0\r\na=candidate:1 1 udp 1 127.0.0.1 5000 typ host\r\na=candidate:2 1 udp 1 10.0.0.5 5001 typ host\r\na=end\r\n"
    assert loopback_sdp(sdp) == "v=0\r\na=candidate:1 1 udp 1 127.0.0.1 5000 typ host\r\na=end\r\n"


@pytest.fixture
async def browser():
    playwright_api = importorskip("playwright.async_api")
    async with playwright_api.async_playwright() as p:
        b = await p.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--allow-loopback-in-peer-connection",
            "--disable-features=WebRtcHideLocalIpsWithMdns", "--autoplay-policy=no-user-gesture-required"])
        yield b
        await b.close()


async def test_monitor_page_plays_the_stream_and_its_stamp_follows_the_cues(tmp_path, browser):
    service = LocalService(port=0, api_key=KEY)
    await service.start()
    client = await RealtimeClient.connect(service.url, KEY, VideoStreamTrack(), RealtimeConnectOptions(
        model=models.realtime("mirage"), initial_state=ModelState(prompt=Prompt("neon city"))))
    timeline = tuple(TimelineEntry(t, (PromptAction(p),)) for t, p in [(100, "first"), (200, "second")])
    engine = Engine(ShowModel("Monitor", "mirage", timeline=timeline), client, Clock(asyncio.get_running_loop()),
                    tmp_path / "journal.jsonl")
    playing = asyncio.ensure_future(engine.run())
    monitor = MonitorServer(client, port=0)
    await monitor.start()
    try:
        page = await browser.new_page()
        await page.goto(monitor.login_url)
        rows = stamp_shape(1280)[0]

        async def stamp_on_screen(want: int, timeout: float = 20.0) -> list[float]:
            deadline, times, last = time.monotonic() + timeout, [], None
            while time.monotonic() < deadline:
                got = await page.evaluate(GRAB, rows)
                if got is not None:
                    rgb = np.frombuffer(base64.b64decode(got["b64"]), np.uint8).reshape(got["h"], got["w"], 4)[:, :, :3]
                    last = read_stamp(np.ascontiguousarray(rgb))
                    times.append(got["t"])
                    if last == want:
                        return times
                await asyncio.sleep(0.1)
            raise AssertionError(f"stamp on screen {last}, wanted {want}")

        async def acked(want: int) -> None:
            deadline = time.monotonic() + 10
            while client.expected_stamp != want and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            assert client.expected_stamp == want

        start = client.expected_stamp
        first = await stamp_on_screen(start)
        assert monitor.viewers == 1
        assert await page.evaluate("document.querySelector('video').videoWidth") == 1280

        await asyncio.sleep(0.3)
        assert engine.go_next()
        await acked(start + 1)
        later = await stamp_on_screen(start + 1)
        assert later[-1] > first[-1]  # the video moves on
        assert engine.go_next()
        await acked(start + 2)
        await stamp_on_screen(start + 2)
    finally:
        await monitor.stop()
        engine.stop("test")
        await asyncio.wait_for(playing, 5)
        await client.disconnect()
        await service.stop()
    assert monitor.viewers == 0


async def screen_stamp(frame, rows: int) -> int | None:
    """The stamp on the <video> of a page or a frame of it, or None before a picture."""
    got = await frame.evaluate(GRAB, rows)
    if got is None:
        return None
    rgb = np.frombuffer(base64.b64decode(got["b64"]), np.uint8).reshape(got["h"], got["w"], 4)[:, :, :3]
    return read_stamp(np.ascontiguousarray(rgb))


async def until_stamp(frame, rows: int, want: int, timeout: float = 20.0) -> None:
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        last = await screen_stamp(frame, rows)
        if last == want:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"stamp on screen {last}, wanted {want} ({frame.url})")


async def test_a_show_of_two_sessions_has_a_page_each_and_both_side_by_side(browser):
    """`/session/NAME` is that session's output; `/` frames every session's page, named."""
    service = LocalService(port=0, api_key=KEY)
    await service.start()
    clients = {}
    for name, prompt in (("left", "neon city"), ("right", "deep forest")):
        clients[name] = await RealtimeClient.connect(service.url, KEY, VideoStreamTrack(), RealtimeConnectOptions(
            model=models.realtime("mirage"), initial_state=ModelState(prompt=Prompt(prompt))))
    await clients["right"].set_prompt("forest in the rain")  # right's stamp moves on: 2 against left's 1
    stamps = {name: c.expected_stamp for name, c in clients.items()}
    assert stamps["right"] == stamps["left"] + 1
    monitor = MonitorServer(None, port=0, sessions=clients)
    await monitor.start()
    rows = stamp_shape(1280)[0]
    try:
        page = await browser.new_page()
        await page.goto(monitor.session_url("right") + f"?token={monitor.token}")
        assert page.url == monitor.session_url("right")  # the token went to the cookie
        await until_stamp(page, rows, stamps["right"])
        await page.goto(monitor.url)
        assert await page.locator("figcaption").all_inner_texts() == ["left", "right"]
        frames = {f.url.rsplit("/", 1)[-1]: f for f in page.frames if "/session/" in f.url}
        assert set(frames) == {"left", "right"}
        for name, frame in frames.items():
            await until_stamp(frame, rows, stamps[name])
        missing = await page.request.get(monitor.url + "session/nobody")
        assert missing.status == 404
    finally:
        await monitor.stop()
        for client in clients.values():
            await client.disconnect()
        await service.stop()
    assert monitor.viewers == 0
