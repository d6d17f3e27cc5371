"""The live avatar: portrait from set_image, mouth driven by the received audio, still in silence."""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import AsyncIterator

import numpy as np
import pytest
from PIL import Image, ImageDraw

from decart_flow.service import LocalService
from test_service_helpers import RawClient

MOUTH = (slice(390, 500), slice(540, 740))  # rows, columns around the mouth of a 1280x720 frame


def _portrait() -> str:
    image = Image.new("RGB", (480, 640), (60, 90, 140))
    draw = ImageDraw.Draw(image)
    draw.ellipse((110, 120, 370, 460), fill=(230, 190, 160))
    buf = io.BytesIO()
    image.save(buf, format="JPEG")
    return base64.b64encode(buf.getvalue()).decode()


@pytest.fixture
async def service() -> AsyncIterator[LocalService]:
    async with LocalService() as svc:
        yield svc


def _mouth_change(frames: list[np.ndarray]) -> float:
    """Largest mean difference around the mouth between any frame and the first."""
    first = frames[0][MOUTH].astype(np.int16)
    return max(float(np.abs(f[MOUTH].astype(np.int16) - first).mean()) for f in frames[1:])


async def _frames_for(client: RawClient, seconds: float) -> list[np.ndarray]:
    start = len(client.frames)
    await asyncio.sleep(seconds)
    return [luma for _, _, luma in client.frames[start:]]


@pytest.mark.parametrize(("model", "path"), [("live_avatar", "/v1/stream"), ("avatar-live", "/v1/avatar-live/stream")])
async def test_avatar_speaks_with_audio_and_rests_in_silence(service: LocalService, model: str, path: str) -> None:
    client = RawClient(service.url, model=model, path=path)
    await client.open()
    try:
        # Python SDK 0.0.37 order: portrait and prompt together, then the offer.
        await client.send({"type": "set_image", "image_data": _portrait(), "prompt": "a friendly host", "enhance_prompt": False})
        assert (await client.wait_for("set_image_ack"))["success"] is True
        await client.negotiate(avatar=True)
        await client.wait_for("generation_started")
        await client.frame_with_stamp(1)
        assert client.frames[-1][2].shape == (720, 1280)
        await asyncio.sleep(0.5)
        silent = await _frames_for(client, 1.0)
        client.audio.loud = True
        await asyncio.sleep(0.4)
        loud = await _frames_for(client, 1.0)
        client.audio.loud = False
        assert _mouth_change(silent) < 3, "the avatar moves in silence"
        assert np.abs(loud[-1][MOUTH].astype(np.int16) - silent[-1][MOUTH].astype(np.int16)).mean() > 5, "the mouth did not open"
        session = next(iter(service.sessions))
        assert session.loudness.level > 0.3
        await asyncio.sleep(1.0)
        assert session.loudness.level == 0.0, "the mouth closes when the audio stops"
    finally:
        await client.close()


async def test_js_avatar_order_image_then_prompt_then_offer_with_null_candidate(service: LocalService) -> None:
    client = RawClient(service.url, model="live_avatar")
    await client.open()
    try:
        await client.send({"type": "set_image", "image_data": _portrait()})
        assert (await client.wait_for("set_image_ack"))["success"] is True
        await client.send({"type": "prompt", "prompt": "news anchor", "enhance_prompt": True})
        assert (await client.wait_for("prompt_ack", prompt="news anchor"))["success"] is True
        await client.negotiate(avatar=True, trickle=True)
        await client.wait_for("generation_started")
        await client.frame_with_stamp(2)
    finally:
        await client.close()
