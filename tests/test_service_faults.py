"""Injected faults behave as `decart-flow serve --fault` promises, and bad specs are refused."""

from __future__ import annotations

import asyncio
import time

import pytest

from decart_flow.service import LocalService
from decart_flow.service.faults import FaultError, Faults
from test_service_helpers import RawClient


def test_fault_specs_parse() -> None:
    faults = Faults.parse(["drop-ws-after=10s", "ack-delay=500ms", "reject-prompts=0.2", "stall-video-after=5", "exit-after=2m"])
    assert faults == Faults(drop_ws_after=10, ack_delay=0.5, reject_prompts=0.2, stall_video_after=5, exit_after=120)
    assert Faults.parse(None) == Faults()


@pytest.mark.parametrize(("spec", "message"), [("nope=1", "NAME one of"), ("ack-delay", "NAME=VALUE"), ("ack-delay=soon", "duration"), ("reject-prompts=2", "share from 0 to 1"), ("exit-after=-1s", "duration")])
def test_bad_fault_specs_say_how_to_fix_them(spec: str, message: str) -> None:
    with pytest.raises(FaultError, match=message):
        Faults.parse([spec])


async def test_reject_prompts_and_ack_delay() -> None:
    async with LocalService(faults=["reject-prompts=1", "ack-delay=300ms"]) as service:
        client = RawClient(service.url)
        await client.open()
        try:
            sent = time.monotonic()
            await client.send({"type": "prompt", "prompt": "anything", "enhance_prompt": False})
            ack = await client.wait_for("prompt_ack")
            assert time.monotonic() - sent >= 0.3
            assert ack["success"] is False and "fault" in ack["error"]
            assert next(iter(service.sessions)).renderer.counter == 0
        finally:
            await client.close()


async def test_drop_ws_after() -> None:
    async with LocalService(faults=["drop-ws-after=300ms"]) as service:
        client = RawClient(service.url)
        await client.open()
        try:
            await client.wait_for("_closed", timeout=3)
        finally:
            await client.close()


async def test_stall_video_after() -> None:
    async with LocalService(faults=["stall-video-after=1s"]) as service:
        client = RawClient(service.url)
        await client.open()
        try:
            await client.negotiate()
            await client.wait_for("generation_started")
            await asyncio.sleep(2.0)
            count = len(client.frames)
            assert count >= 3, "no video before the stall"
            await asyncio.sleep(1.0)
            assert len(client.frames) == count, "frames kept coming after the stall"
        finally:
            await client.close()


async def test_exit_after_stops_the_service() -> None:
    service = LocalService(faults=["exit-after=300ms"])
    await service.start()
    client = RawClient(service.url)
    await client.open()
    try:
        await asyncio.wait_for(service.stopped.wait(), 3)
        await client.wait_for("_closed", timeout=3)
    finally:
        await client.close()
        await service.stop()
