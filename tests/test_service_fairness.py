"""One client must not starve the service (issue #19, item 1): real service, real WebSockets.

A client that pipelines long prompts (reading its acks or not) once held the event loop for
seconds per prompt; every other session's handshake and acks waited behind it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import aiohttp
import pytest

from decart_flow.service import ServiceProcess
from test_service_helpers import RawClient

LONG = ("a slow pan across a watercolor harbour at dusk, boats and gulls, warm light on the water, " * 11)[:950]
# A frame is 40 ms at 25 fps; the bound leaves room for a loaded 2-core test machine, and is
# still far below what one flood cost before (2 s per 950-character prompt, for every session).
BOUND_S = 0.4


@pytest.fixture
def service() -> Iterator[ServiceProcess]:
    # A process of its own, as `run` starts it: a blocked service loop cannot hide the delay
    # it causes by also blocking the clients that measure it.
    with ServiceProcess() as svc:
        yield svc


async def _flood(service: ServiceProcess, count: int) -> tuple[aiohttp.ClientSession, aiohttp.ClientWebSocketResponse]:
    """A client that writes `count` long prompts at once and never reads a thing."""
    http = aiohttp.ClientSession()
    ws = await http.ws_connect(str(service.url).replace("http://", "ws://") + "/v1/stream?api_key=k&model=mirage")
    for n in range(count):
        await ws.send_str(json.dumps({"type": "prompt", "prompt": f"{n} {LONG}"[:950], "enhance_prompt": False}))
    return http, ws


async def _ack_latencies(client: RawClient, count: int) -> list[float]:
    latencies = []
    for n in range(count):
        before = len(client.messages)
        started = time.monotonic()
        await client.send({"type": "prompt", "prompt": f"calm {n}", "enhance_prompt": False})
        ack = await client.wait_for("prompt_ack", timeout=30, after=before)
        latencies.append(time.monotonic() - started)
        assert ack["prompt"] == f"calm {n}" and ack["success"] is True
    return latencies


async def test_a_flood_that_never_reads_delays_no_other_handshake_or_ack(service: ServiceProcess) -> None:
    http, ws = await _flood(service, 40)
    try:
        await asyncio.sleep(0.2)  # the flood is being handled
        started = time.monotonic()
        client = RawClient(str(service.url))
        await client.open()  # the handshake: waits for the service's event loop
        try:
            handshake = time.monotonic() - started
            latencies = await _ack_latencies(client, 10)
        finally:
            await client.close()
        assert handshake < BOUND_S, f"handshake took {handshake:.2f}s beside a flood"
        assert max(latencies) < BOUND_S, f"acks took up to {max(latencies):.2f}s beside a flood: {latencies}"
    finally:
        await ws.close()
        await http.close()


async def test_a_flood_that_reads_its_acks_gets_them_all_in_order_and_delays_no_other(service: ServiceProcess) -> None:
    flood = RawClient(str(service.url))
    await flood.open()
    good = RawClient(str(service.url))
    await good.open()
    try:
        for n in range(40):
            await flood.send({"type": "prompt", "prompt": f"{n} {LONG}"[:950], "enhance_prompt": False})
        await asyncio.sleep(0.1)
        latencies = await _ack_latencies(good, 10)
        assert max(latencies) < BOUND_S, f"acks took up to {max(latencies):.2f}s beside a flood: {latencies}"
        await flood.wait_for("prompt_ack", timeout=60, prompt=f"39 {LONG}"[:950])
        acks = [m["prompt"].split(" ", 1)[0] for m in flood.messages if m["type"] == "prompt_ack"]
        assert acks == [str(n) for n in range(40)]  # none dropped, none reordered
    finally:
        await flood.close()
        await good.close()


async def test_a_long_backlog_is_handled_in_turns_with_other_sessions(service: ServiceProcess) -> None:
    """Hundreds of prompts that arrived together are not handled in one go while others wait."""
    flood = RawClient(str(service.url))
    await flood.open()
    good = RawClient(str(service.url))
    await good.open()
    try:
        for n in range(400):
            await flood.send({"type": "prompt", "prompt": f"{n} {LONG}"[:950], "enhance_prompt": False})
        await asyncio.sleep(0.3)
        latencies = await _ack_latencies(good, 10)
        assert max(latencies) < BOUND_S, f"acks took up to {max(latencies):.2f}s beside a backlog: {latencies}"
        done = await flood.wait_for("prompt_ack", timeout=120, prompt=f"399 {LONG}"[:950])
        assert done["success"] is True
    finally:
        await flood.close()
        await good.close()
