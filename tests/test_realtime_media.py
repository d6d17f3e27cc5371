"""The media thread, loop-hopping tracks, loopback candidates and the avatar audio track."""

from __future__ import annotations

import asyncio
import io
import sys
import threading

import av
import numpy as np
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.mediastreams import MediaStreamError

from decart_flow.realtime import InvalidInputError, MediaLoop
from decart_flow.realtime.audio import FRAME_BYTES, SAMPLE_RATE, AvatarAudioTrack, decode_clip, decode_clip_async
from decart_flow.realtime.loopback import loopback_candidates
from decart_flow.realtime.tracks import HoppingTrack


def wav_bytes(seconds: float, rate: int = 22_050, freq: float = 440.0, channels: int = 2) -> bytes:
    """A tone as a WAV file in memory, in a format the client has to resample and downmix."""
    samples = int(seconds * rate)
    t = np.arange(samples) / rate
    tone = (0.5 * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16)
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="wav") as out:
        stream = out.add_stream("pcm_s16le", rate=rate, layout="stereo" if channels == 2 else "mono")
        frame = av.AudioFrame.from_ndarray(np.repeat(tone[None, :], channels, 0).reshape(1, -1), format="s16",
                                           layout="stereo" if channels == 2 else "mono")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buffer.getvalue()


async def test_media_loop_runs_coroutines_on_its_own_thread_and_stops_clean() -> None:
    before = set(threading.enumerate())
    saved = sys.getswitchinterval()
    media = MediaLoop("test-media")
    media.start()
    assert sys.getswitchinterval() <= 0.001
    caller = threading.current_thread()

    async def where() -> threading.Thread:
        await asyncio.sleep(0)
        return threading.current_thread()

    thread = await media.run(where())
    assert thread is not caller and thread.name == "test-media"

    async def boom() -> None:
        raise KeyError("x")

    with pytest.raises(KeyError):
        await media.run(boom())
    media.submit(asyncio.sleep(3600))  # a task left running must not keep the thread alive
    media.stop()
    assert set(threading.enumerate()) == before
    assert sys.getswitchinterval() == saved
    media.stop()  # idempotent


async def test_hopping_track_hands_frames_across_threads_and_ends() -> None:
    track = HoppingTrack("video", asyncio.get_running_loop())

    def producer() -> None:
        for i in range(3):
            track.push(i)
        track.end()

    reader = asyncio.ensure_future(track.recv())
    await asyncio.sleep(0.01)  # the reader waits before anything is pushed
    thread = threading.Thread(target=producer)
    thread.start()
    thread.join()
    assert await reader == 0
    assert [await track.recv(), await track.recv()] == [1, 2]
    with pytest.raises(MediaStreamError):
        await track.recv()


async def test_hopping_track_keeps_only_the_newest_frames() -> None:
    track = HoppingTrack("video", asyncio.get_running_loop())
    for i in range(10):
        track.push(i)
    assert await track.recv() == 6 and track.dropped == 6


async def _host_candidates(loopback: bool) -> list[str]:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        pc.addTransceiver("video", direction="recvonly")
        offer = await pc.createOffer()
        with loopback_candidates(loopback):
            await pc.setLocalDescription(offer)
        sdp = pc.localDescription.sdp
        return [line.split()[4] for line in sdp.splitlines() if line.startswith("a=candidate:")]
    finally:
        await pc.close()


async def test_loopback_candidates_are_127_0_0_1_only_inside_the_block() -> None:
    assert await _host_candidates(True) == ["127.0.0.1"]
    assert "127.0.0.1" not in await _host_candidates(False)  # aioice as usual outside the block


def test_decode_clip_resamples_to_48k_mono_20ms_chunks() -> None:
    chunks = decode_clip(wav_bytes(0.5))
    assert all(len(c) == FRAME_BYTES for c in chunks)
    assert len(chunks) in (25, 26)  # 0.5 s = 25 frames of 20 ms (+ resampler tail)
    pcm = np.frombuffer(b"".join(chunks[2:20]), np.int16)
    assert 10_000 < np.abs(pcm).max() < 20_000  # the tone, at about half scale, downmixed


@pytest.mark.parametrize("bad", [b"not audio at all", "/nonexistent/clip.wav", 42])
def test_decode_clip_rejects_bad_input(bad: object) -> None:
    with pytest.raises(InvalidInputError):
        decode_clip(bad)  # type: ignore[arg-type]


async def test_decode_clip_async_leaves_no_thread() -> None:
    before = set(threading.enumerate())
    assert len(await decode_clip_async(wav_bytes(0.1))) >= 5
    assert set(threading.enumerate()) == before


async def test_avatar_audio_track_sends_silence_then_the_clip_then_silence() -> None:
    track = AvatarAudioTrack()
    done = asyncio.Event()
    first = await track.recv()
    assert (first.sample_rate, first.samples, first.format.name, first.layout.name) == (SAMPLE_RATE, 960, "s16", "mono")
    assert not np.any(first.to_ndarray())
    clip = [bytes([1, 0]) * 960] * 3
    track.play(clip, done.set)
    frames = [await track.recv() for _ in range(3)]
    assert done.is_set() and all(np.all(f.to_ndarray() == 1) for f in frames)
    assert not np.any((await track.recv()).to_ndarray())
    assert [f.pts for f in frames] == [960, 1920, 2880]
    track.stop()


async def test_a_new_clip_replaces_the_one_playing() -> None:
    track = AvatarAudioTrack()
    first, second = asyncio.Event(), asyncio.Event()
    track.play([bytes(FRAME_BYTES)] * 100, first.set)
    await track.recv()
    track.play([bytes([2, 0]) * 960], second.set)
    assert first.is_set() and not second.is_set()  # the replaced clip's caller is released
    assert np.all((await track.recv()).to_ndarray() == 2) and second.is_set()
    track.stop()


def test_one_patch_serves_every_gatherer_and_blocks_nest() -> None:
    """Client, monitor and service gather through one wrapper of aioice's lookup, never a stack."""
    import aioice.ice

    from decart_flow.realtime.loopback import gathering_on

    with loopback_candidates():
        lookup = aioice.ice.get_host_addresses
        assert lookup(use_ipv4=True, use_ipv6=True) == ["127.0.0.1"]
        with gathering_on("10.200.0.1"):  # the LiveKit side in a test's namespace
            assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=True) == ["10.200.0.1"]
            with gathering_on("0.0.0.0"):  # a wildcard: aioice's own choice again
                assert "10.200.0.1" not in aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=False)
        assert lookup(use_ipv4=False, use_ipv6=True) == []  # an IPv4 address is no IPv6 candidate
    assert aioice.ice.get_host_addresses is lookup
    assert not getattr(lookup.__wrapped__, "_decart_flow_loopback", False)  # wraps aioice's own
