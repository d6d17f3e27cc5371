"""Does one flooding client delay another's acks? A well-behaved client's ack latency, flood off and on.

Starts the service in a child process (as `decart-flow run` does). A well-behaved client (a raw
aiortc client streaming the 1280x704 test pattern, as a show does) sends a short prompt every
100 ms and times each `prompt_ack` from just before the send to its arrival. It does so three
times, back to back, in one run: with no other client; beside a client that writes 950-character
prompts as fast as the socket takes them and never reads a thing; beside one that writes them as
fast and reads its acks. Prints a table and writes benchmarks/results/fairness.json.

    python benchmarks/bench_fairness.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import aiohttp  # noqa: E402

from common import summary, table, write_json  # noqa: E402
from decart_flow.realtime.models import realtime  # noqa: E402
from decart_flow.service import ServiceProcess  # noqa: E402
from test_service_helpers import RawClient  # noqa: E402

LONG = ("a slow pan across a watercolor harbour at dusk, boats and gulls, warm light on the water, " * 11)[:950]
PHASES = ("flood off", "flood, never reads", "flood, reads acks")
MODEL = "mirage"  # what the well-behaved client streams to (RawClient's 25 fps test pattern)
FRAME_MS = 1000.0 / realtime(MODEL).fps  # one frame: the bound one session's backlog may cost another


async def _flood(url: str, reads: bool, stop: asyncio.Event, counts: dict[str, int]) -> None:
    """Writes long prompts as fast as the socket takes them until `stop`; reads its acks or not."""
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(url.replace("http://", "ws://") + f"/v1/stream?api_key=k&model={MODEL}")

        async def drain() -> None:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT and '"prompt_ack"' in msg.data:
                    counts["acks"] += 1

        reader = asyncio.create_task(drain()) if reads else None
        n = 0
        try:
            while not stop.is_set():
                # send_str waits while the socket is full: the service's backpressure is felt here
                await ws.send_str(json.dumps({"type": "prompt", "prompt": f"{n} {LONG}"[:950], "enhance_prompt": False}))
                counts["sent"] += 1
                n += 1
                if n % 20 == 0:
                    await asyncio.sleep(0)  # let the well-behaved client's own tasks run in this process
        finally:
            if reader is not None:
                reader.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):  # a flood that never read may not close cleanly
                await asyncio.wait_for(ws.close(), 2)


async def _measure(client: RawClient, seconds: float) -> tuple[list[float], int]:
    latencies, missed, n = [], 0, 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        n += 1
        before = len(client.messages)
        sent = time.monotonic()
        await client.send({"type": "prompt", "prompt": f"calm {n}", "enhance_prompt": False})
        try:
            await client.wait_for("prompt_ack", timeout=max(1.0, end - time.monotonic()), after=before, prompt=f"calm {n}")
            latencies.append((time.monotonic() - sent) * 1000)
        except asyncio.TimeoutError:
            missed += 1
            break
        await asyncio.sleep(max(0.0, 0.1 - (time.monotonic() - sent)))
    return latencies, missed


async def _run(url: str, seconds: float) -> dict[str, Any]:
    client = RawClient(url)
    client.keep_frames = False
    await client.open()
    results: dict[str, Any] = {}
    try:
        await client.send({"type": "set_image", "image_data": None, "prompt": None})
        await client.wait_for("set_image_ack")
        await client.negotiate()
        await client.wait_for("generation_started", timeout=15)
        await asyncio.sleep(1.0)
        for phase in PHASES:
            stop, counts = asyncio.Event(), {"sent": 0, "acks": 0}
            flood = None
            if phase != "flood off":
                flood = asyncio.create_task(_flood(url, phase.endswith("reads acks"), stop, counts))
                await asyncio.sleep(0.5)  # the flood's backlog builds up first
            frames_before = len(client.frames)
            started = time.monotonic()
            latencies, missed = await _measure(client, seconds)
            fps = (len(client.frames) - frames_before) / (time.monotonic() - started)
            stop.set()
            if flood is not None:  # a flood that never reads is stuck in a send the service holds back: cancel it
                await asyncio.sleep(0.1)
                flood.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await flood
            results[phase] = {"ack_ms": summary(latencies, 1), "missed": missed, "fps": round(fps, 1),
                              "flood_prompts_sent": counts["sent"], "flood_acks_read": counts["acks"]}
            await asyncio.sleep(1.0)  # the service finishes the flood's backlog before the next phase
    finally:
        await client.close()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measuring time per phase")
    args = parser.parse_args()
    with ServiceProcess() as service:
        assert service.url is not None
        results = asyncio.run(_run(service.url, args.seconds))
    rows = []
    for phase, r in results.items():
        ack = r["ack_ms"]
        rows.append([phase, ack["n"], ack["p50"], ack["p99"], ack["max"], r["missed"], r["fps"], r["flood_prompts_sent"]])
    print(f"fairness benchmark: a well-behaved client's prompt acks beside a flood of 950-character prompts, "
          f"{args.seconds:g} s per phase, load {os.getloadavg()[0]:.2f}")
    print(table(["phase", "acks", "ack p50 ms", "ack p99 ms", "ack max ms", "missed", "its fps", "flood prompts"], rows))
    worst = max(r["ack_ms"]["p99"] for r in results.values())
    print(f"worst p99 {worst:.1f} ms ({'within' if worst <= FRAME_MS else 'OVER'} one frame, {FRAME_MS:.0f} ms)")
    path = write_json("fairness", {"seconds_per_phase": args.seconds, "phases": results, "load_average": os.getloadavg()[0]})
    print(f"wrote {path.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
