"""The realtime client against the real `LocalService` on 127.0.0.1, over real WebRTC.

A small WebSocket relay sits in front of the service where a test needs to count connections,
refuse some, or slip malformed messages in; everything else goes to the service untouched.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import threading
import time
from typing import Any

import aiohttp
import av
import numpy as np
import pytest
from aiohttp import web
from aiortc import VideoStreamTrack
from PIL import Image

from decart_flow.realtime import (
    DecartClient,
    DecartSDKError,
    InvalidAPIKeyError,
    InvalidInputError,
    ModelNotFoundError,
    ModelState,
    Prompt,
    Session,
    RealtimeClient,
    RealtimeConnectOptions,
    WebRTCError,
    models,
)
from decart_flow.service import LocalService, ServiceProcess, read_stamp

KEY = "test-key-0123"


@pytest.fixture
async def service():
    svc = LocalService(port=0, api_key=KEY)
    await svc.start()
    yield svc
    await svc.stop()


class Relay:
    """ws://127.0.0.1:PORT -> the service; counts connections, can refuse some or inject frames."""

    def __init__(self, target: str) -> None:
        self.target = target.replace("http://", "ws://")
        self.connections = 0
        self.refuse_first = 0
        self.inject: list[str] = []  # sent to the client before each message from the service
        self.to_service: list[str] = []  # sent to the service right after the client's first message
        self.from_client: list[dict[str, Any]] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/v1/stream", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"

    async def stop(self) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.WebSocketResponse:
        self.connections += 1
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        if self.connections <= self.refuse_first:
            await ws.close()
            return ws
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(f"{self.target}{request.path_qs}", max_msg_size=0) as upstream:

                async def down() -> None:
                    async for msg in upstream:
                        for junk in self.inject:
                            await ws.send_str(junk)
                        await ws.send_str(msg.data)
                    await ws.close()

                task = asyncio.ensure_future(down())
                first = True
                async for msg in ws:
                    self.from_client.append(json.loads(msg.data))
                    await upstream.send_str(msg.data)
                    if first:
                        first = False
                        for junk in self.to_service:
                            await upstream.send_str(junk)
                await upstream.close()
                await task
        return ws


@pytest.fixture
async def relay(service: LocalService):
    r = Relay(service.url)
    await r.start()
    yield r
    await r.stop()


def options(model: str, **kw: Any) -> RealtimeConnectOptions:
    return RealtimeConnectOptions(model=models.realtime(model), **kw)


def portrait_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (256, 256), (200, 150, 120)).save(buffer, format="PNG")
    return buffer.getvalue()


def tone_then_silence_wav(tone_s: float = 0.4, silence_s: float = 0.2) -> bytes:
    rate = 16_000
    t = np.arange(int(tone_s * rate)) / rate
    pcm = np.concatenate([0.6 * np.sin(2 * np.pi * 300 * t), np.zeros(int(silence_s * rate))])
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="wav") as out:
        stream = out.add_stream("pcm_s16le", rate=rate, layout="mono")
        frame = av.AudioFrame.from_ndarray((pcm * 32767).astype(np.int16)[None, :], format="s16", layout="mono")
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return buffer.getvalue()


async def wait_for(predicate, timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


class StampWatch:
    """A frame sink that keeps the stamp of every received frame (called on the media thread)."""

    def __init__(self) -> None:
        self.stamps: list[int | None] = []
        self.threads: set[str] = set()

    def __call__(self, frame: av.VideoFrame) -> None:
        self.threads.add(threading.current_thread().name)
        self.stamps.append(read_stamp(frame))

    def last(self) -> int | None:
        return self.stamps[-1] if self.stamps else None


@pytest.mark.parametrize("model", ["mirage", "mirage_v2", "lucy_v2v_720p_rt"])
async def test_video_model_prompt_changes_the_stamp_on_frames(service: LocalService, model: str) -> None:
    remote: list[Any] = []
    states: list[str] = []
    client = await RealtimeClient.connect(
        service.url, KEY, VideoStreamTrack(),
        options(model, on_remote_stream=remote.append, initial_state=ModelState(prompt=Prompt("neon city"))),
    )
    try:
        client.on("connection_change", states.append)
        assert client.is_connected() and client.session_id
        assert isinstance(client, Session)
        assert client.expected_stamp == 1  # the initial prompt's ack
        watch = StampWatch()
        client.add_frame_sink(watch)
        await wait_for(lambda: watch.last() == 1, what="frames stamped 1")
        assert watch.threads and threading.current_thread().name not in watch.threads

        sent: list[tuple[dict, int]] = []
        acks: list[tuple] = []
        client.on("sent", lambda m, t: sent.append((m, t)))
        client.on("ack", lambda *a: acks.append(a))
        before = time.perf_counter_ns()
        await client.set_prompt("underwater", enrich=False)
        assert sent[0][0] == {"type": "prompt", "prompt": "underwater", "enhance_prompt": False}
        assert before < sent[0][1] < time.perf_counter_ns()
        assert acks[0][:2] == ("prompt_ack", True) and 0 < acks[0][2] < 5000
        assert client.expected_stamp == 2
        await wait_for(lambda: watch.last() == 2, what="frames stamped 2")

        # The user reads on their own loop: buffered frames first (in order), then live ones.
        read = [await asyncio.wait_for(remote[0].recv(), 5) for _ in range(6)]
        assert all((f.width, f.height) == (1280, 704) for f in read)
        assert [read_stamp(f) for f in read][-1] == 2
        await wait_for(lambda: "generating" in states or client.get_connection_state() == "generating", what="generating")
    finally:
        await client.disconnect()
    assert client.get_connection_state() == "disconnected" and not client.is_connected()


async def test_set_image_and_set_mirror_advance_the_stamp(service: LocalService, tmp_path) -> None:
    path = tmp_path / "ref.png"
    path.write_bytes(portrait_png())
    client = await RealtimeClient.connect(service.url, KEY, VideoStreamTrack(), options("mirage"))
    try:
        assert client.expected_stamp == 1  # passthrough set_image acked
        watch = StampWatch()
        client.add_frame_sink(watch)
        await client.set_image(path, prompt="oil painting")
        await client.set_image(str(path))
        await client.set_image(None)
        assert client.expected_stamp == 4
        await client.set_mirror(True)
        await client.set_mirror(False)
        assert client.expected_stamp == 6
        await wait_for(lambda: watch.last() == 6, what="frames stamped 6")
        client.remove_frame_sink(watch)
        count = len(watch.stamps)
        await asyncio.sleep(0.2)
        assert len(watch.stamps) == count  # removed sinks get nothing more
        with pytest.raises(InvalidInputError):
            await client.set_image(tmp_path / "missing.png")
        with pytest.raises(InvalidInputError):
            await client.set_prompt("   ")
        with pytest.raises(DecartSDKError, match="1000"):
            await client.set_prompt("x" * 1001)  # the service refuses it: success false
        with pytest.raises(DecartSDKError, match="image"):
            await client.set_image(b"definitely not an image")
        assert client.expected_stamp == 6
    finally:
        await client.disconnect()


async def test_a_failing_frame_sink_does_not_stop_the_stream(service: LocalService) -> None:
    client = await RealtimeClient.connect(service.url, KEY, VideoStreamTrack(), options("mirage"))
    try:
        def broken(frame: av.VideoFrame) -> None:
            raise RuntimeError("sink bug")

        watch = StampWatch()
        ticks: list[Any] = []
        client.on("generation_tick", ticks.append)
        client.add_frame_sink(broken)
        client.add_frame_sink(watch)
        await wait_for(lambda: len(watch.stamps) >= 10, what="10 frames after a broken sink")
        await wait_for(lambda: bool(ticks), 3, "a generation tick")
        assert ticks[0].seconds >= 1
    finally:
        await client.disconnect()


@pytest.mark.parametrize("name", ["live_avatar", "live-avatar", "avatar-live"])
async def test_live_avatar_connects_with_portrait_and_plays_audio(service: LocalService, relay: Relay, name: str) -> None:
    client = await RealtimeClient.connect(
        relay.url, KEY, None,
        options(name, initial_state=ModelState(prompt=Prompt("friendly host"), image=portrait_png())),
    )
    try:
        first = relay.from_client[0]
        assert first["type"] == "set_image" and first["prompt"] == "friendly host" and first["image_data"]
        offer = relay.from_client[1]
        assert offer["type"] == "offer"
        sections = offer["sdp"].split("m=")[1:]
        assert sections[0].startswith("video") and "a=recvonly" in sections[0]
        assert sections[1].startswith("audio") and "a=sendrecv" in sections[1]
        candidates = [line.split()[4] for line in offer["sdp"].splitlines() if line.startswith("a=candidate:")]
        assert candidates and set(candidates) == {"127.0.0.1"}  # media stays on loopback
        watch = StampWatch()
        client.add_frame_sink(watch)
        await wait_for(lambda: watch.last() == 1, what="avatar frames")
        assert client.model.height == 720

        clip = tone_then_silence_wav()
        started = time.monotonic()
        await asyncio.wait_for(client.play_audio(clip), 10)
        elapsed = time.monotonic() - started
        assert 0.45 < elapsed < 3.0  # paced in real time: 0.6 s of clip
        assert client._audio_track.clip_frames_sent >= 30  # type: ignore[union-attr]

        long_clip = asyncio.ensure_future(client.play_audio(tone_then_silence_wav(3.0, 0)))
        await asyncio.sleep(0.3)
        await asyncio.wait_for(client.play_audio(clip), 10)  # replaces the long clip
        assert long_clip.done()
        await long_clip
    finally:
        await client.disconnect()


async def test_play_audio_on_a_video_model_is_refused(service: LocalService) -> None:
    client = await RealtimeClient.connect(service.url, KEY, VideoStreamTrack(), options("mirage"))
    try:
        with pytest.raises(InvalidInputError, match="live_avatar"):
            await client.play_audio(tone_then_silence_wav())
    finally:
        await client.disconnect()


async def test_wrong_key_is_invalid_api_key_without_retry(service: LocalService, relay: Relay, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    started = time.monotonic()
    with pytest.raises(InvalidAPIKeyError, match="Invalid API key"):
        await RealtimeClient.connect(relay.url, "wrong-key-xyz", VideoStreamTrack(), options("mirage", retry_delay=1.0))
    assert relay.connections == 1 and time.monotonic() - started < 1.0
    assert "wrong-key-xyz" not in caplog.text and "api_key=***" in caplog.text


async def test_missing_key_and_unknown_model_fail_before_anything_is_sent(relay: Relay, monkeypatch) -> None:
    with pytest.raises(InvalidAPIKeyError):
        await RealtimeClient.connect(relay.url, "", VideoStreamTrack(), options("mirage"))
    with pytest.raises(ModelNotFoundError):
        await RealtimeClient.connect(relay.url, KEY, VideoStreamTrack(), RealtimeConnectOptions(model="lucy-9"))
    with pytest.raises(InvalidInputError, match="portrait|PORTRAIT"):
        await RealtimeClient.connect(relay.url, KEY, None, options("live_avatar"))
    monkeypatch.delenv("DECART_API_KEY", raising=False)
    with pytest.raises(InvalidAPIKeyError):
        DecartClient()
    assert relay.connections == 0


async def test_service_side_unknown_model_is_model_not_found(service: LocalService, relay: Relay) -> None:
    bogus = models.ModelDefinition("mirage_v9", "/v1/stream", 25, 1280, 704)
    with pytest.raises(ModelNotFoundError, match="mirage_v9"):
        await RealtimeClient.connect(relay.url, KEY, VideoStreamTrack(), RealtimeConnectOptions(model=bogus))
    assert relay.connections == 1


async def test_transient_failures_are_retried_with_backoff(service: LocalService, relay: Relay) -> None:
    relay.refuse_first = 2
    client = await RealtimeClient.connect(relay.url, KEY, VideoStreamTrack(), options("mirage", retry_delay=0.05))
    try:
        assert relay.connections == 3 and client.is_connected()
    finally:
        await client.disconnect()
    relay.refuse_first, relay.connections = 10, 0
    with pytest.raises(DecartSDKError):
        await RealtimeClient.connect(relay.url, KEY, VideoStreamTrack(), options("mirage", retry_delay=0.01, max_attempts=3))
    assert relay.connections == 3


async def test_malformed_messages_are_logged_and_skipped_both_ways(service: LocalService, relay: Relay, caplog) -> None:
    caplog.set_level(logging.WARNING)
    relay.inject = ["not json", '{"type": "prompt_ack"}', '{"type": "mystery"}', "[]"]
    relay.to_service = ["{broken", '{"type": "prompt"}', '{"type": "switch_camera", "rotateY": 7}']
    client = await RealtimeClient.connect(relay.url, KEY, VideoStreamTrack(), options("mirage"))
    try:
        await client.set_prompt("still works")
        assert client.expected_stamp == 2
        watch = StampWatch()
        client.add_frame_sink(watch)
        await wait_for(lambda: watch.last() == 2, what="stamp 2 despite junk")
    finally:
        await client.disconnect()
    assert "skipping a malformed message from the service" in caplog.text


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_disconnect_leaves_no_task_thread_or_socket() -> None:
    # The service runs in a child process here, so every thread, task and fd of this process
    # that is not in the baseline would be the client's.
    with ServiceProcess(api_key=KEY) as svc:
        url = svc.url
        assert url is not None
        threads, tasks, fds = set(threading.enumerate()), set(asyncio.all_tasks()), _fds()
        got: list[Any] = []
        client = await RealtimeClient.connect(
            url, KEY, None,
            options("live_avatar", on_remote_stream=got.append, initial_state=ModelState(image=portrait_png())),
        )
        await wait_for(lambda: bool(got), what="remote track")
        reading = asyncio.ensure_future(got[0].recv())
        await client.play_audio(tone_then_silence_wav(0.1, 0))
        assert len(threading.enumerate()) > len(threads)  # the media thread
        assert _fds() > fds
        await client.disconnect()
        await asyncio.gather(reading, return_exceptions=True)
        assert set(asyncio.all_tasks()) - {asyncio.current_task()} <= tasks
        assert set(threading.enumerate()) == threads
        assert _fds() <= fds


async def test_tokens_and_decart_client_connect(service: LocalService) -> None:
    async with DecartClient(api_key=KEY, base_url=service.url) as decart:
        token = await decart.tokens.create(expires_in=120, metadata={"role": "viewer"})
        assert token.api_key and token.api_key != KEY and token.expires_at
        assert KEY not in repr(decart) and token.api_key not in repr(token)
        with pytest.raises(InvalidInputError):
            await decart.tokens.create(expires_in=0)
        client = await decart.realtime.connect("mirage", local_track=VideoStreamTrack(),
                                               initial_state=ModelState(prompt=Prompt("hi")))
        await client.disconnect()
    async with DecartClient(api_key="nope", base_url=service.url) as bad:
        with pytest.raises(InvalidAPIKeyError):
            await bad.tokens.create()
    # A client token is a key for new sessions.
    session = await RealtimeClient.connect(service.url, token.api_key, VideoStreamTrack(), options("mirage"))
    await session.disconnect()


async def test_a_dropped_session_reconnects_with_the_current_state() -> None:
    svc = LocalService(port=0, api_key=KEY, faults=["drop-ws-after=1.5s"])
    await svc.start()
    states: list[str] = []
    remote: list[Any] = []
    try:
        client = await RealtimeClient.connect(
            svc.url, KEY, VideoStreamTrack(), options("mirage", on_remote_stream=remote.append, retry_delay=0.05)
        )
        client.on("connection_change", states.append)
        try:
            await client.set_prompt("before the drop")
            await client.set_mirror(True)
            await wait_for(lambda: "reconnecting" in states, 5, "reconnecting")
            await wait_for(client.is_connected, 5, "connected again")
            # The new session starts from what the old one showed: prompt (1 ack) + mirror (1).
            assert client.expected_stamp == 2
            watch = StampWatch()
            client.add_frame_sink(watch)
            await wait_for(lambda: watch.last() == 2, 5, "frames of the new session")
            assert len(remote) == 2  # a fresh remote track for the new session
        finally:
            await client.disconnect()
    finally:
        await svc.stop()


async def test_an_ack_that_comes_too_late_times_out_but_still_counts(monkeypatch) -> None:
    import decart_flow.realtime.client as client_module

    svc = LocalService(port=0, api_key=KEY, faults=["ack-delay=0.4s"])
    await svc.start()
    try:
        client = await RealtimeClient.connect(svc.url, KEY, VideoStreamTrack(), options("mirage"))
        try:
            monkeypatch.setattr(client_module, "PROMPT_TIMEOUT_S", 0.1)
            with pytest.raises(DecartSDKError, match="timed out"):
                await client.set_prompt("slow")
            assert client.expected_stamp == 1
            await wait_for(lambda: client.expected_stamp == 2, 3, "the late ack to be counted")
        finally:
            await client.disconnect()
        with pytest.raises(WebRTCError, match="not connected"):
            await client.set_prompt("after disconnect")
    finally:
        await svc.stop()
