"""The realtime client rides out drops, restarts, stalls and bad input against the real service.

Every test runs `LocalService` on 127.0.0.1 over real WebRTC; outages are made by stopping the
service and starting a new one on the same port, the way a crashed service comes back.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from aiortc import VideoStreamTrack

from decart_flow.realtime import (
    DecartSDKError,
    InvalidAPIKeyError,
    InvalidInputError,
    ModelState,
    NotConnectedError,
    Prompt,
    RealtimeClient,
)
from decart_flow.realtime.audio import decode_clip
from decart_flow.realtime.client import MAX_RETRY_DELAY_S, backoff_delay
from decart_flow.service import LocalService
from test_realtime_e2e import Relay, StampWatch, options, wait_for

KEY = "resilience-key-5f3a9c"


def test_backoff_doubles_and_stays_capped_for_weeks() -> None:
    assert [backoff_delay(n, 0.5) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]
    assert backoff_delay(6, 0.5) == MAX_RETRY_DELAY_S
    # A week of 10 s retries is ~60k attempts: no overflow, still the cap.
    assert backoff_delay(60_480, 1.0) == MAX_RETRY_DELAY_S
    assert backoff_delay(10**9, 1.0) == MAX_RETRY_DELAY_S


async def _connect(url: str, **kw: Any) -> RealtimeClient:
    kw.setdefault("initial_state", ModelState(prompt=Prompt("first")))
    kw.setdefault("retry_delay", 0.05)
    return await RealtimeClient.connect(url, KEY, VideoStreamTrack(), options("mirage", **kw))


async def test_restarted_service_keeps_being_retried_and_gets_the_latest_state(caplog) -> None:
    caplog.set_level(logging.WARNING, logger="decart_flow.realtime.client")
    svc = LocalService(port=0, api_key=KEY)
    await svc.start()
    port = svc.port
    client = await _connect(svc.url, reconnect_attempts=None, max_attempts=2)
    states: list[str] = []
    client.on("connection_change", states.append)
    restarted: LocalService | None = None
    try:
        await client.set_mirror(True)
        await svc.stop()  # the service dies: the WebSocket closes
        await wait_for(lambda: "reconnecting" in states, 5, "reconnecting")
        # Asked for during the outage: refused now, remembered for the next session.
        with pytest.raises(NotConnectedError, match="applied when the session is back") as refused:
            await client.set_prompt("during the outage")
        assert refused.value.deferred
        with pytest.raises(NotConnectedError):
            await client.set_mirror(False)
        failures = lambda: sum("connect to" in r.getMessage() for r in caplog.records)  # noqa: E731
        # More failures than max_attempts: with reconnect_attempts=None it never gives up.
        await wait_for(lambda: failures() >= 5, 15, "five failed reconnect attempts")
        assert client.get_connection_state() == "reconnecting"
        restarted = LocalService(port=port, api_key=KEY)
        await restarted.start()
        await wait_for(client.is_connected, 20, "connected to the restarted service")
        assert states[-1] in ("connected", "generating")
        (session,) = restarted.sessions
        assert session.renderer.prompt == "during the outage"
        assert client.expected_stamp == 1  # the prompt's ack; mirror off needs no message
        watch = StampWatch()
        client.add_frame_sink(watch)
        await wait_for(lambda: watch.last() == 1, 10, "frames of the new session")
        await client.set_prompt("after")
        assert session.renderer.prompt == "after"
        assert KEY not in caplog.text
    finally:
        await client.disconnect()
        if restarted is not None:
            await restarted.stop()


async def test_a_stalled_video_counts_as_a_drop() -> None:
    svc = LocalService(port=0, api_key=KEY, faults=["stall-video-after=1.5s"])
    await svc.start()
    client = await _connect(svc.url, stall_timeout=1.0)
    states: list[str] = []
    client.on("connection_change", states.append)
    try:
        await client.set_prompt("stalls soon")
        await wait_for(lambda: "reconnecting" in states, 8, "the stall to be noticed")
        watch = StampWatch()
        client.add_frame_sink(watch)
        await wait_for(lambda: client.is_connected() and watch.stamps, 10, "frames after the reconnect")
        # The new session starts from the prompt asked for before the stall.
        assert watch.last() == 1
        assert client.get_connection_state() in ("connected", "generating")
    finally:
        await client.disconnect()
        await svc.stop()


async def test_a_refused_key_after_a_restart_stops_retrying_with_a_clear_error() -> None:
    svc = LocalService(port=0, api_key=KEY)
    await svc.start()
    port = svc.port
    client = await _connect(svc.url, reconnect_attempts=None)
    states: list[str] = []
    errors: list[BaseException] = []
    client.on("connection_change", states.append)
    client.on("error", errors.append)
    other = LocalService(port=port, api_key="a-different-key-123")
    try:
        await svc.stop()
        await other.start()
        await wait_for(lambda: states and states[-1] == "disconnected", 15, "giving up on a refused key")
        assert isinstance(errors[-1], InvalidAPIKeyError)
        assert "refused the key" in str(errors[-1]) and KEY not in str(errors[-1])
        await asyncio.sleep(0.5)
        assert client.get_connection_state() == "disconnected" and not other.sessions
        with pytest.raises(NotConnectedError) as refused:
            await client.set_prompt("too late")
        assert not refused.value.deferred  # disconnected for good: nothing will apply it
    finally:
        await client.disconnect()
        await other.stop()


async def test_oversized_and_over_long_inputs_get_clear_errors_and_the_session_goes_on(tmp_path) -> None:
    async with LocalService(port=0, api_key=KEY) as svc:
        client = await _connect(svc.url)
        try:
            big = tmp_path / "huge.png"
            big.write_bytes(b"\x89PNG" + bytes(50 * 2**20))
            with pytest.raises(InvalidInputError, match=r"50\.0 MB; the service takes images up to 20 MB"):
                await client.set_image(big)
            with pytest.raises(InvalidInputError, match="MB"):
                await client.set_image(bytes(50 * 2**20))
            with pytest.raises(DecartSDKError, match="longer than 1000 characters"):
                await client.set_prompt("x" * 1001)
            assert client.is_connected()
            await client.set_prompt("y" * 1000)  # the limit itself is fine
            (session,) = svc.sessions
            assert session.renderer.prompt == "y" * 1000
        finally:
            await client.disconnect()


def test_an_audio_file_that_is_not_audio_is_refused(tmp_path) -> None:
    fake = tmp_path / "speech.wav"
    fake.write_text("this is not audio at all\n" * 100)
    with pytest.raises(InvalidInputError, match="speech.wav"):
        decode_clip(fake)
    with pytest.raises(InvalidInputError):
        decode_clip(b"\x00\x01garbage" * 1000)


async def test_malformed_and_oversized_messages_from_the_service(caplog) -> None:
    caplog.set_level(logging.WARNING, logger="decart_flow.realtime.client")
    async with LocalService(port=0, api_key=KEY) as svc:
        relay = Relay(svc.url)
        await relay.start()
        client = await _connect(relay.url, reconnect_attempts=None)
        states: list[str] = []
        client.on("connection_change", states.append)
        try:
            relay.inject = ["{not json", "[1,2]", '{"type":"prompt_ack","prompt":5}', '{"type":"who-knows"}']
            await client.set_prompt("through the junk")
            assert client.is_connected() and "reconnecting" not in states
            assert "skipping a malformed message" in caplog.text
            # Past aiohttp's 4 MB frame limit the socket cannot be read on: that is a drop.
            relay.inject = ['{"type":"error","error":"' + "x" * (5 * 2**20) + '"}']
            with pytest.raises(NotConnectedError, match="applied when the session is back"):
                await client.set_prompt("meets a 5 MB frame")
            relay.inject = []
            await wait_for(lambda: "reconnecting" in states, 5, "reconnecting")
            await wait_for(client.is_connected, 15, "connected again")
            (session,) = svc.sessions
            assert session.renderer.prompt == "meets a 5 MB frame"  # it was asked for last
            await client.set_prompt("after")
        finally:
            await client.disconnect()
            await relay.stop()
