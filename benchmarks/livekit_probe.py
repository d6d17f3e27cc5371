"""One client of bench_livekit.py, in a process of its own: frames and glass-to-glass on either path.

- `--path livekit`: today's protocol with the `livekit` package's rtc module (the Rust client that
  Decart's SDK uses): control channel, `livekit_join`, room, a published 1280x704 camera at 30 fps,
  the inference-server track read frame by frame. Runs with the python of the decart 0.2.4 SDK venv
  (tests/sdk_harness/sdk_venv.py), where `livekit` is installed and decart_flow is not.
- `--path 2025`: the 2025 protocol with decart-flow's own RealtimeClient, same model and size.

Both send a prompt every `--interval` seconds after a warm-up and note when the first frame
carrying its stamp arrives (stamp.py, loaded by path: it needs numpy only). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("flow_stamp", REPO / "decart_flow" / "service" / "stamp.py")
assert _spec is not None and _spec.loader is not None
stamp = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(stamp)

# The model and its output size and rate, from decart-flow's model table: bench_livekit.py passes
# them (`--model`, `--geometry`), since the SDK's python that runs this cannot import decart_flow.
MODEL, WIDTH, HEIGHT, FPS = "", 0, 0, 0


class Meter:
    """Frame arrivals and the glass time of each stamp value."""

    def __init__(self) -> None:
        self.arrivals: list[float] = []
        self.first_seen: dict[int, float] = {}
        self.rows = stamp.stamp_shape(WIDTH)[0]

    def frame(self, luma_band: np.ndarray, t: float) -> None:
        self.arrivals.append(t)
        value = stamp.read_stamp(luma_band)
        if value is not None and value not in self.first_seen:
            self.first_seen[value] = t

    def glass_ms(self, sends: list[tuple[int, float]]) -> list[float]:
        out = []
        for expected, sent in sends:
            seen = [t for v, t in self.first_seen.items() if v >= expected]
            if seen:
                out.append((min(seen) - sent) * 1000)
        return out

    def delivered(self, start: float, end: float) -> dict[str, Any]:
        got = sum(1 for t in self.arrivals if start <= t < end)
        return {"frames": got, "seconds": end - start, "expected": round((end - start) * FPS)}


async def livekit_path(args: argparse.Namespace) -> dict[str, Any]:
    import aiohttp
    from livekit import rtc

    meter = Meter()
    done = asyncio.Event()
    session = aiohttp.ClientSession()
    ws_url = args.url.replace("http", "ws") + f"/v1/stream?api_key=k&model={MODEL}&livekit_early_room_info=true"
    ws = await session.ws_connect(ws_url)
    acks: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def control() -> None:
        async for msg in ws:
            message = json.loads(msg.data)
            if message["type"] in ("livekit_room_info", "prompt_ack", "set_image_ack"):
                await acks.put(message)

    reader = asyncio.create_task(control())
    await ws.send_json({"type": "livekit_join"})
    info = await asyncio.wait_for(acks.get(), 15)
    room = rtc.Room()
    tasks: list[asyncio.Task[None]] = []

    async def read(track: Any) -> None:
        async for event in rtc.VideoStream(track):
            t = time.perf_counter()
            frame = event.frame.convert(rtc.VideoBufferType.I420)
            y = np.frombuffer(bytes(frame.data), np.uint8, count=WIDTH * meter.rows)
            meter.frame(y.reshape(meter.rows, WIDTH), t)
            if done.is_set():
                return

    @room.on("track_subscribed")
    def on_track(track: Any, publication: Any, participant: Any) -> None:
        if participant.identity.startswith("inference-server-") and track.kind == rtc.TrackKind.KIND_VIDEO:
            tasks.append(asyncio.create_task(read(track)))

    await room.connect(info["livekit_url"], info["token"])
    source = rtc.VideoSource(WIDTH, HEIGHT)
    await room.local_participant.publish_track(rtc.LocalVideoTrack.create_video_track("camera", source),
                                               rtc.TrackPublishOptions())

    async def camera() -> None:
        base = np.zeros((HEIGHT, WIDTH, 4), np.uint8)
        base[..., 0] = np.linspace(40, 200, WIDTH, dtype=np.uint8)[None, :]
        base[..., 3] = 255
        start, i = time.monotonic(), 0
        while not done.is_set():
            frame = base.copy()
            x = (i * 8) % (WIDTH - 64)
            frame[300:364, x : x + 64, :3] = 250
            source.capture_frame(rtc.VideoFrame(WIDTH, HEIGHT, rtc.VideoBufferType.RGBA, frame.tobytes()))
            i += 1
            await asyncio.sleep(max(0.0, start + i / FPS - time.monotonic()))

    tasks.append(asyncio.create_task(camera()))
    await ws.send_json({"type": "set_image", "image_data": None, "prompt": None})  # passthrough: stamp 1
    await asyncio.wait_for(acks.get(), 15)

    async def send_prompt(k: int) -> float:
        await ws.send_json({"type": "prompt", "prompt": f"look {k}", "enhance_prompt": False})
        return time.perf_counter()

    result = await _play(meter, send_prompt, args, first_expected=2, acks=acks)
    done.set()
    await room.disconnect()
    for task in tasks:
        task.cancel()
    reader.cancel()
    await ws.close()
    await session.close()
    return result


async def path_2025(args: argparse.Namespace) -> dict[str, Any]:
    sys.path.insert(0, str(REPO))
    from decart_flow.media import open_source
    from decart_flow.realtime import RealtimeClient, RealtimeConnectOptions, models

    meter = Meter()
    source = open_source("testsrc", WIDTH, HEIGHT, FPS)

    def sink(frame: Any) -> None:
        t = time.perf_counter()
        plane = frame.planes[0]
        raw = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
        meter.frame(raw[: meter.rows, :WIDTH], t)

    client = await RealtimeClient.connect(args.url, "k", source, RealtimeConnectOptions(model=models.realtime(MODEL)))
    client.add_frame_sink(sink)
    sent: dict[str, float] = {}
    client.on("sent", lambda message, t_ns: sent.__setitem__(message.get("prompt") or "", t_ns / 1e9))
    base = client.expected_stamp

    async def send_prompt(k: int) -> float:
        await client.set_prompt(f"look {k}", enrich=False)
        return sent.get(f"look {k}", time.perf_counter())

    result = await _play(meter, send_prompt, args, first_expected=base + 1, acks=None)
    client.remove_frame_sink(sink)
    await client.disconnect()
    source.stop()
    return result


async def _play(meter: Meter, send_prompt: Any, args: argparse.Namespace, first_expected: int,
                acks: asyncio.Queue[dict[str, Any]] | None) -> dict[str, Any]:
    await asyncio.sleep(args.warmup)
    start = time.perf_counter()
    sends: list[tuple[int, float]] = []
    k = 0
    while time.perf_counter() - start < args.seconds:
        k += 1
        sends.append((first_expected + k - 1, await send_prompt(k)))
        if acks is not None:
            await asyncio.wait_for(acks.get(), 15)
        await asyncio.sleep(max(0.0, start + k * args.interval - time.perf_counter()))
    end = time.perf_counter()
    await asyncio.sleep(0.5)  # the last change reaches the glass
    glass = meter.glass_ms(sends)
    return {"path": args.path, **meter.delivered(start, end), "glass_ms": glass, "changes": len(sends)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--path", choices=["livekit", "2025"], required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("--model", required=True)
    parser.add_argument("--geometry", required=True, metavar="WxH@FPS", help="the model's output, e.g. 1280x704@30")
    args = parser.parse_args()
    global MODEL, WIDTH, HEIGHT, FPS
    size, fps = args.geometry.split("@")
    MODEL, FPS = args.model, int(fps)
    WIDTH, HEIGHT = (int(x) for x in size.split("x"))
    run = livekit_path if args.path == "livekit" else path_2025
    print(json.dumps(asyncio.run(run(args))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
