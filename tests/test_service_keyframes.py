"""The local service's output track: where keyframes fall, and a change that comes mid-encode.

A real OutputTrack with the service's own VP8 encoder; every packet is decoded by a real VP8
decoder and its stamp read, as the client reads it.
"""

from __future__ import annotations

import asyncio
import threading

import av

from decart_flow.service.avatar import Loudness
from decart_flow.realtime.models import realtime as model_named
from decart_flow.service.renderer import Renderer
from decart_flow.service.stamp import read_stamp
from decart_flow.service.tracks import LatestFrame, OutputTrack


def _track(keyframe_interval: float) -> tuple[Renderer, OutputTrack]:
    renderer = Renderer(model_named("mirage"))
    track = OutputTrack(renderer, LatestFrame(), Loudness(), keyframe_interval=keyframe_interval)
    track.encode_vp8_here()
    return renderer, track


def _change(renderer: Renderer, track: OutputTrack, k: int) -> None:
    renderer.set_prompt(f"look {k}", False)  # what the signaling side does for a prompt
    track.show_change()


async def test_a_keyframe_never_falls_on_the_frame_that_first_shows_a_change() -> None:
    renderer, track = _track(keyframe_interval=0.2)  # a keyframe every 5 frames at 25 fps
    decoder = av.CodecContext.create("libvpx", "r")
    keyframes: list[int] = []
    change_frames: list[int] = []
    stamps: list[int | None] = []
    try:
        for i in range(31):
            if i and i % 5 == 0:  # a change on the beat of the keyframe interval: the worst case
                _change(renderer, track, i)
                change_frames.append(i)
            packet = await track.recv()
            assert isinstance(packet, av.Packet)
            if packet.is_keyframe:
                keyframes.append(i)
            frames = decoder.decode(packet)
            stamps.append(read_stamp(frames[0]) if frames else None)
    finally:
        track.stop()
    assert keyframes[0] == 0  # the first frame
    assert not set(keyframes) & set(change_frames), f"keyframes {keyframes} on changes {change_frames}"
    # deferred by one frame, not dropped: one follows each change that would have taken it
    assert [k for k in keyframes if k] == [c + 1 for c in change_frames if c + 1 < 31]
    for c in change_frames:  # and the change frame itself shows the change
        assert stamps[c] == stamps[c - 1] + 1, (c, stamps[c - 1 : c + 1])


async def test_without_changes_keyframes_keep_their_interval() -> None:
    renderer, track = _track(keyframe_interval=0.2)
    keyframes = []
    try:
        for i in range(16):
            packet = await track.recv()
            if packet.is_keyframe:
                keyframes.append(i)
    finally:
        track.stop()
    assert keyframes == [0, 5, 10, 15]


async def test_a_change_during_an_encode_is_drawn_beside_it_and_shows_on_the_next_frame() -> None:
    renderer, track = _track(keyframe_interval=2.0)
    decoder = av.CodecContext.create("libvpx", "r")
    loop = asyncio.get_running_loop()
    assert track._encoder is not None
    encode = track._encoder.encode
    armed, changed = threading.Event(), threading.Event()

    def encode_with_a_change_meanwhile(frame: av.VideoFrame, keyframe: bool = False) -> av.Packet | None:
        # on the worker thread, mid-encode: the signaling side (the loop) takes a prompt now
        if armed.is_set() and not changed.is_set():
            loop.call_soon_threadsafe(lambda: (_change(renderer, track, 1), changed.set()))
            changed.wait(5.0)
        return encode(frame, keyframe)

    track._encoder.encode = encode_with_a_change_meanwhile  # type: ignore[method-assign]
    try:
        for _ in range(3):
            decoder.decode(await track.recv())
        before = renderer.counter
        armed.set()
        stale = await track.recv()  # the frame being encoded when the change came: the old state
        assert changed.is_set()
        early = track._early
        assert early is not None, "no early render was started for a change that came mid-encode"
        fresh = await track.recv()
        assert early.done() and track._early is None  # it was taken for this frame
        old_stamp = read_stamp(decoder.decode(stale)[0])
        new_stamp = read_stamp(decoder.decode(fresh)[0])
    finally:
        track.stop()
    assert old_stamp == before
    assert new_stamp == before + 1
