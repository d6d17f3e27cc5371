"""The service end to end over real WebSocket + WebRTC on 127.0.0.1, driven by a raw client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np
import pytest

from decart_flow.service import LocalService
from test_service_helpers import RawClient


@pytest.fixture
async def service() -> AsyncIterator[LocalService]:
    svc = LocalService()
    await svc.start()
    yield svc
    await svc.stop()


async def test_python_sdk_order_acks_answer_frames_and_generation(service: LocalService) -> None:
    client = RawClient(service.url)
    await client.open()
    try:
        await client.send({"type": "prompt", "prompt": "a watercolor harbour", "enhance_prompt": False})
        ack = await client.wait_for("prompt_ack")
        assert ack == {"type": "prompt_ack", "prompt": "a watercolor harbour", "success": True, "error": None}
        await client.negotiate()
        sid = await client.wait_for("session_id")
        assert isinstance(sid["session_id"], str) and sid["session_id"]
        assert sid["server_ip"] == "127.0.0.1" and sid["server_port"] == service.port
        await client.wait_for("generation_started")
        await client.wait_for("generation_tick", timeout=5, seconds=1)
        luma = await client.frame_with_stamp(1)
        assert luma.shape == (704, 1280)
    finally:
        await client.close()


def _png_b64(color: tuple[int, int, int], size: tuple[int, int] = (64, 48)) -> str:
    import base64
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


async def _connected(service: LocalService, **kwargs: object) -> RawClient:
    client = RawClient(service.url, **kwargs)  # type: ignore[arg-type]
    await client.open()
    await client.send({"type": "set_image", "image_data": None, "prompt": None})
    assert (await client.wait_for("set_image_ack"))["success"] is True
    await client.negotiate()
    await client.frame_with_stamp(1)
    return client


async def test_answer_candidates_are_loopback_only(service: LocalService) -> None:
    client = await _connected(service)
    try:
        answer = await client.wait_for("answer")
        candidates = [line for line in answer["sdp"].splitlines() if line.startswith("a=candidate:")]
        assert candidates
        assert all(line.split()[4] == "127.0.0.1" for line in candidates), candidates
    finally:
        await client.close()


async def test_stamp_counts_accepted_prompt_image_and_mirror(service: LocalService) -> None:
    client = await _connected(service)
    try:
        await client.send({"type": "prompt", "prompt": "pencil sketch", "enhance_prompt": True})
        await client.wait_for("prompt_ack", prompt="pencil sketch")
        await client.frame_with_stamp(2)
        await client.send({"type": "prompt", "prompt": "x" * 1001, "enhance_prompt": True})
        rejected = await client.wait_for("prompt_ack", prompt="x" * 1001)
        assert rejected["success"] is False and "1000" in rejected["error"]
        await client.send({"type": "set_image", "image_data": _png_b64((200, 20, 20)), "prompt": "red hot"})
        assert (await client.wait_for("set_image_ack"))["success"] is True
        await client.frame_with_stamp(3)
        await client.send({"type": "switch_camera", "rotateY": 2})
        await client.frame_with_stamp(4)
        await client.send({"type": "switch_camera", "rotateY": 0})
        await client.frame_with_stamp(5)
        # Stamps never go backwards once the change is visible.
        seen = [s for _, s, _ in client.frames if s is not None]
        assert seen == sorted(seen)
        missing = sum(1 for _, s, _ in client.frames if s is None)
        assert missing <= max(2, len(client.frames) // 20), f"{missing} of {len(client.frames)} frames had no readable stamp"
    finally:
        await client.close()


async def test_distinct_prompts_look_distinct_on_the_wire(service: LocalService) -> None:
    client = await _connected(service)
    try:
        for n, prompt in enumerate(["underwater coral reef", "golden hour desert"], start=2):
            await client.send({"type": "prompt", "prompt": prompt, "enhance_prompt": False})
            await client.wait_for("prompt_ack", prompt=prompt)
            await client.frame_with_stamp(n)
            await asyncio.sleep(0.3)
        a, b = client.thumbs[2].astype(np.int16), client.thumbs[3].astype(np.int16)
        passthrough = client.thumbs[1].astype(np.int16)
        assert np.abs(a - b).mean() > 8
        assert np.abs(a - passthrough).mean() > 8
    finally:
        await client.close()


async def test_bad_set_image_is_refused_with_a_reason(service: LocalService) -> None:
    client = await _connected(service)
    try:
        await client.send({"type": "set_image", "image_data": "bm90IGFuIGltYWdl"})
        ack = await client.wait_for("set_image_ack", success=False)
        assert "not a readable image" in ack["error"]
        await client.send({"type": "prompt", "prompt": "still alive", "enhance_prompt": False})
        assert (await client.wait_for("prompt_ack", prompt="still alive"))["success"]
        await client.frame_with_stamp(2)  # the refused image did not count
    finally:
        await client.close()


async def test_malformed_and_unknown_messages_are_skipped(service: LocalService) -> None:
    client = RawClient(service.url)
    await client.open()
    try:
        await client.ws.send_str("this is not json")
        await client.ws.send_str("[1, 2, 3]")
        await client.send({"no": "type"})
        await client.send({"type": "dance"})
        await client.send({"type": "prompt", "prompt": 42})
        await client.send({"type": "switch_camera", "rotateY": 7})
        await client.send({"type": "ice-candidate", "candidate": "garbage"})
        await client.send({"type": "offer", "sdp": 5})
        await client.send({"type": "offer", "sdp": "v=0\r\nthis is no sdp\r\n"})
        await client.send({"type": "prompt", "prompt": "after the junk", "enhance_prompt": False})
        ack = await client.wait_for("prompt_ack")
        assert ack["prompt"] == "after the junk" and ack["success"] is True
        assert [m["type"] for m in client.messages] == ["prompt_ack"]
        assert not service.pcs, "a refused offer left a peer connection behind"
        await client.negotiate()  # a good offer after a bad one still works
        await client.frame_with_stamp(1)
    finally:
        await client.close()


async def test_js_order_offer_first_with_trickled_candidates(service: LocalService) -> None:
    client = RawClient(service.url, model="mirage_v2")
    await client.open()
    try:
        await client.negotiate(trickle=True)
        await client.wait_for("generation_started")
        await client.send({"type": "prompt", "prompt": "neon", "enhance_prompt": True})
        await client.wait_for("prompt_ack", prompt="neon")
        await client.frame_with_stamp(1)
    finally:
        await client.close()


async def test_unknown_model_gets_an_error_and_close(service: LocalService) -> None:
    client = RawClient(service.url, model="mirage_v9")
    await client.open()
    try:
        error = await client.wait_for("error")
        assert "mirage_v9" in error["error"]
        await client.wait_for("_closed")
    finally:
        await client.close()


async def test_stop_closes_sessions_and_peer_connections() -> None:
    service = LocalService()
    await service.start()
    client = await _connected(service)
    pc = next(iter(service.pcs))
    try:
        await service.stop()
        ended = await client.wait_for("generation_ended")
        assert ended["reason"] == "service_stopped" and ended["seconds"] >= 0
        await client.wait_for("_closed")
        assert not service.pcs and not service.sessions
        assert pc.connectionState == "closed"
        import aiohttp

        async with aiohttp.ClientSession() as http:
            with pytest.raises(aiohttp.ClientConnectionError):
                await http.post(f"{service.url}/v1/client/tokens", headers={"X-API-KEY": "k"})
    finally:
        await client.close()


async def test_client_leaving_frees_its_peer_connection(service: LocalService) -> None:
    client = await _connected(service)
    assert len(service.pcs) == 1
    await client.close()
    for _ in range(50):
        if not service.pcs and not service.sessions:
            break
        await asyncio.sleep(0.1)
    assert not service.pcs and not service.sessions


async def test_oversized_image_gets_a_clear_refusal(service: LocalService) -> None:
    client = RawClient(service.url)
    await client.open()
    try:
        await client.send({"type": "set_image", "image_data": "A" * (28 * 1024 * 1024)})
        ack = await client.wait_for("set_image_ack", timeout=20)
        assert ack["success"] is False and "larger than 20 MB" in ack["error"]
        await client.send({"type": "prompt", "prompt": "fine", "enhance_prompt": False})
        assert (await client.wait_for("prompt_ack"))["success"] is True
    finally:
        await client.close()


async def test_vp8_is_chosen_even_when_the_offer_lists_h264_first(service: LocalService) -> None:
    client = RawClient(service.url)
    await client.open()
    try:
        await client.negotiate(h264_first=True)
        answer = await client.wait_for("answer")
        video = answer["sdp"].split("m=video", 1)[1]
        first_pt = video.split("\r\n", 1)[0].split()[2]
        assert f"a=rtpmap:{first_pt} VP8/90000" in video
        await client.frame_with_stamp(0)
    finally:
        await client.close()
