"""The local service renders a changed state at once, not at the next tick of its frame clock."""

from __future__ import annotations

import asyncio
import time

from decart_flow.service.avatar import Loudness
from decart_flow.realtime.models import realtime as model_named
from decart_flow.service.renderer import Renderer
from decart_flow.service.tracks import LatestFrame, OutputTrack


async def test_a_change_is_rendered_at_once_and_the_clock_runs_on_from_it() -> None:
    model = model_named("mirage")
    renderer = Renderer(model)
    track = OutputTrack(renderer, LatestFrame(), Loudness())
    first = await track.recv()
    await track.recv()  # the clock's second tick, 40 ms after the first
    # the third frame is due 40 ms after the second: a change 5 ms in brings it forward
    loop = asyncio.get_running_loop()
    origin = track._start
    t0 = time.monotonic()
    loop.call_later(0.005, lambda: (renderer.set_prompt("Anime", False), track.show_change()))
    third = await track.recv()
    # The frame clock runs on from the change: its origin is now the moment the changed frame was
    # asked for (after the change), not the old grid's. Checked on the clock itself, not by timing
    # the frames, which a loaded machine delays either way.
    assert origin is not None and track._start is not None
    assert track._start >= t0 + 0.004, "the changed frame waited for the old grid"
    assert track._index == 1, "the changed frame was not the first of a new grid"  # else it is 3
    assert third.pts > first.pts  # timestamps still only go forward
    # the next frame is due one interval after the changed one, on the new grid
    await track.recv()
    assert time.monotonic() >= track._start + 0.04 - 0.002
    # no change: a frame waits for its tick as before
    t2 = time.monotonic()
    await track.recv()
    assert time.monotonic() - t2 > 0.025
    track.stop()


async def test_output_that_fell_behind_jumps_its_rtp_time_to_the_wall_time() -> None:
    """A service too busy to keep its frame rate (three sessions on a small machine) drops frames as
    a camera does: the RTP time goes on from the wall time, so a receiver's recording keeps the
    show's length; a change shown at once keeps the cadence (the next frame's RTP time)."""
    model = model_named("mirage")
    renderer = Renderer(model)
    track = OutputTrack(renderer, LatestFrame(), Loudness())
    interval = 90000 // model.fps
    first = await track.recv()
    second = await track.recv()
    assert second.pts - first.pts == interval
    began = time.monotonic()
    time.sleep(0.8)  # the loop is held: the output falls 0.8 s behind its frame clock
    late = await track.recv()
    wall = round((time.monotonic() - began) * 90000)
    assert late.pts - second.pts >= 0.75 * 90000, (late.pts, second.pts)  # the stall is a gap in RTP time
    assert late.pts - second.pts <= wall + 2 * interval
    after = await track.recv()
    assert after.pts - late.pts == interval  # and the cadence goes on from there
    renderer.set_prompt("Anime", False)
    track.show_change()
    changed = await track.recv()
    assert changed.pts - after.pts == interval  # a change shown at once takes the next frame's time
    track.stop()
