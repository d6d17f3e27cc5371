"""The service's bounds and its malformed-input paths (issue #19, items 5 and 8), real sockets.

Pictures are bounded in pixels before they are decoded; idle connections are closed and their
number capped; malformed control messages of both eras and of the LiveKit signalling are logged
and skipped, and the session goes on.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import socket
import time
import zlib
from collections.abc import AsyncIterator

import aiohttp
import pytest
from livekit.protocol import rtc
from PIL import Image

from decart_flow.service import LocalService
from test_service_helpers import RawClient
from test_service_livekit_control import join_param, open_control, receive, signal


@pytest.fixture
async def service() -> AsyncIterator[LocalService]:
    svc = LocalService()
    await svc.start()
    yield svc
    await svc.stop()


def _png_b64(size: tuple[int, int], mode: str = "1") -> str:
    buf = io.BytesIO()
    Image.new(mode, size).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


# -- item 5: pictures bounded in pixels ---------------------------------------------------------

@pytest.mark.parametrize("size", [(13000, 13000), (5000, 4000), (20000, 20000)])
async def test_a_picture_over_the_pixel_bound_is_refused_before_it_is_decoded(service: LocalService, size: tuple[int, int]) -> None:
    data = _png_b64(size)
    assert len(data) < 1024 * 1024  # small in bytes: only the pixel count can refuse it
    client = RawClient(service.url)
    await client.open()
    try:
        started = time.monotonic()
        await client.send({"type": "set_image", "image_data": data, "prompt": None})
        ack = await client.wait_for("set_image_ack", timeout=30)
        took = time.monotonic() - started
        assert ack["success"] is False
        assert "megapixel" in ack["error"] and "scale it down" in ack["error"]
        if size != (20000, 20000):  # over Pillow's own bomb limit, it does not say the size
            assert f"{size[0]} x {size[1]}" in ack["error"]
        assert took < 2.0, f"refusing took {took:.2f}s: the pixels were decoded"
        # the session goes on, and a picture within the bound is taken
        await client.send({"type": "set_image", "image_data": _png_b64((640, 360), "RGB"), "prompt": "ok"})
        assert (await client.wait_for("set_image_ack", after=len(client.messages)))["success"] is True
    finally:
        await client.close()


# -- item 5: idle connections -----------------------------------------------------------------

async def test_a_connection_that_never_starts_media_is_closed_after_the_timeout() -> None:
    async with LocalService(idle_timeout=1.0) as service:
        idle = RawClient(service.url)
        await idle.open()
        busy = RawClient(service.url)
        await busy.open()
        try:
            await idle.send({"type": "prompt", "prompt": "still here", "enhance_prompt": False})
            await idle.wait_for("prompt_ack")
            await busy.negotiate()
            await busy.wait_for("session_id")
            error = await idle.wait_for("error", timeout=5)
            assert "idle connection" in error["error"] and "offer" in error["error"]
            await idle.wait_for("_closed", timeout=5)
            await asyncio.sleep(0.5)
            assert not any(m["type"] in ("error", "_closed") for m in busy.messages)  # media started: kept
            assert len(service.sessions) == 1
        finally:
            await idle.close()
            await busy.close()


async def test_a_today_connection_that_never_joins_is_closed_after_the_timeout() -> None:
    async with LocalService(idle_timeout=1.0) as service:
        http, ws = await open_control(service)  # livekit_early_room_info=true: today's protocol
        try:
            error = await receive(ws, "error")
            assert "livekit_join" in error["error"]
            assert (await ws.receive()).type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        finally:
            await ws.close()
            await http.close()


async def test_connections_beyond_the_cap_are_refused_with_one_clear_error() -> None:
    async with LocalService(max_connections=3) as service:
        clients = [RawClient(service.url) for _ in range(3)]
        for client in clients:
            await client.open()
            await client.send({"type": "prompt", "prompt": "hi", "enhance_prompt": False})
            await client.wait_for("prompt_ack")
        extra = RawClient(service.url)
        await extra.open()
        try:
            error = await extra.wait_for("error")
            assert "service is full" in error["error"] and "3 connections" in error["error"]
            await extra.wait_for("_closed")
            await clients[0].close()
            await asyncio.sleep(0.3)
            again = RawClient(service.url)  # a freed place is taken again
            await again.open()
            await again.send({"type": "prompt", "prompt": "in", "enhance_prompt": False})
            assert (await again.wait_for("prompt_ack"))["success"] is True
            await again.close()
        finally:
            await extra.close()
            for client in clients[1:]:
                await client.close()


# -- item 8: malformed input is logged and skipped --------------------------------------------

MALFORMED = [
    "[" * 100_000 + "]" * 100_000,  # deeply nested: RecursionError in json
    '{"type": "prompt", "prompt": ' + "[" * 50_000 + "]" * 50_000 + "}",
    '{"type": "prompt", "x": ' + '{"a":' * 900 + "1" + "}" * 900 + "}",  # parses; no prompt text
    '{"type": "set_image", "image_data": ' + "[" * 5000 + "]" * 5000 + "}",
    '{"type": "prompt", "prompt": 5}',
    '{"type": "prompt", "prompt": ["a"]}',
    '{"type": "set_image", "image_data": {"a": 1}}',
    '{"type": "set_image", "image_data": "%%%not base64%%%"}',
    '{"type": "set_image", "image_data": "aGVsbG8="}',  # base64, not an image
    '{"type": "offer", "sdp": 7}',
    '{"type": "offer", "sdp": "v=0 garbage"}',
    '{"type": "ice-candidate", "candidate": "x"}',
    '{"type": "ice-candidate", "candidate": {"candidate": 5}}',
    '{"type": "switch_camera", "rotateY": "2"}',
    '{"type": 5}',
    "null",
    '"text"',
    "\udcff not json",
]


async def test_malformed_2025_messages_are_skipped_and_the_session_goes_on(service: LocalService) -> None:
    client = RawClient(service.url)
    await client.open()
    try:
        for text in MALFORMED:
            await client.ws.send_str(text.encode("utf-8", "replace").decode())
        await client.send({"type": "prompt", "prompt": "bad \ud800 prompt", "enhance_prompt": False})
        refused = await client.wait_for("prompt_ack")
        assert refused["success"] is False and "surrogate" in refused["error"]
        await client.send({"type": "prompt", "prompt": "still alive", "enhance_prompt": False})
        ack = await client.wait_for("prompt_ack", prompt="still alive")
        assert ack["success"] is True
        await client.negotiate()  # and media still starts
        await client.wait_for("session_id")
        assert not any(m["type"] == "_closed" for m in client.messages)
    finally:
        await client.close()


async def test_malformed_today_messages_are_skipped_and_the_session_goes_on(service: LocalService) -> None:
    http, ws = await open_control(service)
    try:
        for text in MALFORMED + ['{"type": "livekit_join", "initial_state": ' + "[" * 50_000 + "]" * 50_000 + "}",
                                 '{"type": "livekit_join", "initial_state": {"type": "prompt", "prompt": ' + "[" * 900 + "]" * 900 + "}}"]:
            await ws.send_str(text.encode("utf-8", "replace").decode())
        await ws.send_json({"type": "prompt", "prompt": "still alive", "enhance_prompt": False})
        seen = []
        while not seen or seen[-1].get("prompt") != "still alive":
            msg = await asyncio.wait_for(ws.receive(), 10)
            assert msg.type == aiohttp.WSMsgType.TEXT, msg  # never closed
            seen.append(json.loads(msg.data))
        assert seen[-1] == {"type": "prompt_ack", "prompt": "still alive", "success": True, "error": None}
        # every malformed set_image got its refusing ack, the join that parsed its room; nothing else
        acks = [m for m in seen[:-1] if m["type"] == "set_image_ack"]
        assert len(acks) == 3 and not any(m["success"] for m in acks)
        assert sorted(m["type"] for m in seen[:-1] if m["type"] != "set_image_ack") in ([], ["livekit_room_info"])
    finally:
        await ws.close()
        await http.close()


async def test_malformed_livekit_signalling_is_skipped_and_the_connection_goes_on(service: LocalService) -> None:
    http, ws = await open_control(service)
    try:
        await ws.send_json({"type": "livekit_join"})
        info = await receive(ws, "livekit_room_info")
        url = f"{info['livekit_url']}/rtc/v1"
        async with aiohttp.ClientSession() as lk_http:
            # a join request whose gzip is broken, or inflates far beyond any real one: 400, not 500
            broken = rtc.WrappedJoinRequest(join_request=b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03garbage",
                                            compression=rtc.WrappedJoinRequest.Compression.GZIP)
            deflater = zlib.compressobj(wbits=31)
            bomb = rtc.WrappedJoinRequest(join_request=deflater.compress(b"\0" * 50_000_000) + deflater.flush(),
                                          compression=rtc.WrappedJoinRequest.Compression.GZIP)
            for wrapped in (broken, bomb):
                param = base64.urlsafe_b64encode(wrapped.SerializeToString()).decode().rstrip("=")
                with pytest.raises(aiohttp.WSServerHandshakeError) as bad:
                    await lk_http.ws_connect(url, params={"join_request": param, "access_token": info["token"]})
                assert bad.value.status == 400
            async with lk_http.ws_connect(url, params={"join_request": join_param(rtc.JoinRequest()),
                                                       "access_token": info["token"]}) as lk:
                assert (await signal(lk)).WhichOneof("message") == "join"
                for candidate_init in ("[" * 100_000 + "]" * 100_000, "[1, 2]", '"text"', "{not json",
                                       json.dumps({"candidate": 5}), json.dumps({"candidate": "candidate:garbage"})):
                    trickle = rtc.TrickleRequest(candidateInit=candidate_init, target=rtc.SignalTarget.PUBLISHER)
                    await lk.send_bytes(rtc.SignalRequest(trickle=trickle).SerializeToString())
                await lk.send_bytes(b"\x0a\xff\xff\xff\xff\x0f")  # a protobuf whose length runs past its end
                await lk.send_str("text is not signalling")
                await lk.send_bytes(rtc.SignalRequest(ping_req=rtc.Ping(timestamp=77)).SerializeToString())
                pong = await signal(lk)
                while pong.WhichOneof("message") != "pong_resp":
                    pong = await signal(lk)
                assert pong.pong_resp.last_ping_timestamp == 77
    finally:
        await ws.close()
        await http.close()


BAD_CANDIDATES = [
    {"candidate": "candidate:1 1 udp notanumber 127.0.0.1 5000 typ host", "sdpMid": "0"},
    {"candidate": "candidate:1 1 udp 5 127.0.0.1 notaport typ host", "sdpMid": "0"},
    {"candidate": "candidate:1 1 udp 5 127.0.0.1 5000 typ host", "sdpMid": 7},
    {"candidate": "candidate:1 1 udp 5 127.0.0.1 5000 typ host", "sdpMLineIndex": "zero"},
    {"candidate": "candidate:1 1 udp 5 127.0.0.1 5000 typ host", "sdpMLineIndex": -1},
]


async def test_malformed_candidates_after_the_offer_are_one_warning_each_not_a_traceback(
        service: LocalService, caplog: pytest.LogCaptureFixture) -> None:
    client = RawClient(service.url)
    await client.open()
    try:
        await client.negotiate()
        await client.wait_for("session_id")
        caplog.clear()
        for candidate in BAD_CANDIDATES:
            await client.send({"type": "ice-candidate", "candidate": candidate})
        await client.send({"type": "prompt", "prompt": "after", "enhance_prompt": False})
        assert (await client.wait_for("prompt_ack", prompt="after"))["success"] is True
        skipped = [r for r in caplog.records if "skipped a malformed candidate" in r.getMessage()]
        assert len(skipped) == len(BAD_CANDIDATES)
        assert not any(r.exc_info for r in caplog.records), "a malformed candidate logged a traceback"
        await client.frame_with_stamp(1)  # media goes on, with the prompt that came after
    finally:
        await client.close()


def _status_line(port: int, request: bytes) -> bytes:
    """Send raw bytes (headers aiohttp's client would not write) and read the status line."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(request)
        data = b""
        while b"\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
    return data.split(b"\r\n", 1)[0]


NESTED = b"[" * 100_000 + b"]" * 100_000
UPGRADE = b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
HTTP_CASES = [
    (b"POST /v1/client/tokens HTTP/1.1\r\nHost: x\r\nX-API-KEY: sk-limits\r\nContent-Type: application/json\r\n"
     b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(NESTED) + NESTED, b"400"),
    (b"POST /v1/client/tokens HTTP/1.1\r\nHost: x\r\nX-API-KEY: sk-\xc3\xa9\xff\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}", b"401"),
    (b"POST /watch-stream/abc HTTP/1.1\r\nHost: x\r\nx-api-key: \xff\xfe\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", b"401"),
    (b"GET /rtc/v1?join_request=AAAA HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe\r\nConnection: close\r\n\r\n", b"401"),
    (b"GET /rtc/v1?access_token=%ff%fe&join_request=AAAA HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"401"),
    (b"GET /v1/stream?api_key=%ff%fe&model=mirage HTTP/1.1\r\nHost: x\r\n" + UPGRADE + b"\r\n", b"101"),
]


async def test_non_utf8_keys_and_nested_json_on_the_http_endpoints_get_a_status_not_a_traceback(
        caplog: pytest.LogCaptureFixture) -> None:
    async with LocalService(api_key="sk-limits") as service:
        loop = asyncio.get_running_loop()
        for request, status in HTTP_CASES:
            line = await loop.run_in_executor(None, _status_line, service.port, request)
            assert line.split()[1] == status, (request[:60], line)
        await asyncio.sleep(0.2)
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR" or r.exc_info]
    assert errors == []
