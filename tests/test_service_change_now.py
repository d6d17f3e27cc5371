"""The local service renders a changed state at once, not at the next tick of its frame clock."""

from __future__ import annotations

import asyncio
import time

from decart_flow.service.avatar import Loudness
from decart_flow.service.models import MODELS
from decart_flow.service.renderer import Renderer
from decart_flow.service.tracks import LatestFrame, OutputTrack


async def test_a_change_is_rendered_at_once_and_the_clock_runs_on_from_it() -> None:
    model = MODELS["mirage"]
    renderer = Renderer(model)
    track = OutputTrack(renderer, LatestFrame(), Loudness())
    first = await track.recv()
    await track.recv()  # the clock's second tick, 40 ms after the first
    # the third frame is due 40 ms after the second: a change 5 ms in brings it forward
    loop = asyncio.get_running_loop()
    t0 = time.monotonic()
    loop.call_later(0.005, lambda: (renderer.set_prompt("Anime", False), track.show_change()))
    third = await track.recv()
    waited = time.monotonic() - t0
    r0 = time.perf_counter()
    renderer.render(None)
    render = time.perf_counter() - r0
    # at once: 5 ms + one render; at the tick it would be about 35 ms + one render
    assert waited < 0.028 + render, f"waited {waited * 1000:.1f} ms for a changed frame (render {render * 1000:.1f} ms)"
    assert third.pts > first.pts  # timestamps still only go forward
    # the next frame is due one interval after the change (t0 + 5 ms + 40 ms), not at the old
    # tick's next (t0 + 35 ms + 40 ms); it returns once rendered
    await track.recv()
    fourth = time.monotonic() - t0
    assert 0.040 < fourth < 0.065 + render, f"the frame after the change came {fourth * 1000:.1f} ms after it"
    # no change: a frame waits for its tick as before
    t2 = time.monotonic()
    await track.recv()
    assert time.monotonic() - t2 > 0.025
    track.stop()
