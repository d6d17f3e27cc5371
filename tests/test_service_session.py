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
