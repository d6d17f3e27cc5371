"""Drive the official `decart` 0.2.x SDK (today's protocol, LiveKit) against a service; print JSON.

Runs with the python of the SDK's own virtualenv (`sdk_venv.py 0.2.4`), inside the test's network
namespace (LiveKit's libwebrtc gathers no candidates on loopback; tests/netns.py). It uses only
the SDK's public API: `RealtimeClient.connect` with a camera track of the `livekit` package,
`set_prompt`, `set_image`, `subscribe_token` and `RealtimeClient.subscribe`, the
`generation_tick` and `connection_change` events. The luma of chosen received frames goes to
`frames.npz` for the caller to read stamps with `decart_flow.service.read_stamp`.

Scenarios:
- session: initial prompt, 30 frames, set_prompt, set_image with a prompt, a viewer, ticks;
- reconnect: as session up to the first frames, then waits for the service's fault to drop a
  connection and for the SDK's own reconnect, and counts frames after it.

The last stdout line is the JSON result; `ok` is false with `stage` and `error` when a step failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import struct
import sys
import time
import traceback
import zlib
from pathlib import Path
from typing import Any

import numpy as np

T0 = time.monotonic()
FPS = 30


def now() -> float:
    return round(time.monotonic() - T0, 3)


def png_bytes(rgb: np.ndarray) -> bytes:
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


class Camera:
    """A moving test pattern published as the client's camera, at 30 fps."""

    def __init__(self, rtc: Any, width: int, height: int) -> None:
        self.source = rtc.VideoSource(width, height)
        self.track = rtc.LocalVideoTrack.create_video_track("camera", self.source)
        self._rtc, self._w, self._h = rtc, width, height
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        rtc, w, h = self._rtc, self._w, self._h
        base = np.zeros((h, w, 4), np.uint8)
        base[..., 0] = np.linspace(40, 200, w, dtype=np.uint8)[None, :]
        base[..., 1] = np.linspace(60, 180, h, dtype=np.uint8)[:, None]
        base[..., 2] = 90
        base[..., 3] = 255
        i = 0
        start = time.monotonic()
        while True:
            frame = base.copy()
            x = (i * 8) % (w - 64)
            frame[h // 2 - 32 : h // 2 + 32, x : x + 64, :3] = 250
            self.source.capture_frame(rtc.VideoFrame(w, h, rtc.VideoBufferType.RGBA, frame.tobytes()))
            i += 1
            await asyncio.sleep(max(0.0, start + i / FPS - time.monotonic()))

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()


class Watcher:
    """Reads every frame of a remote track: counts, sizes, and the luma of the latest."""

    def __init__(self, rtc: Any, name: str) -> None:
        self._rtc = rtc
        self.name = name
        self.frames = 0
        self.sizes: set[tuple[int, int]] = set()
        self.latest_luma: np.ndarray | None = None
        self.first_at: float | None = None
        self.tracks = 0
        self.track_times: list[list[float | None]] = []  # per track: subscribed at, first frame at
        self._tasks: list[asyncio.Task[None]] = []

    def on_track(self, track: Any) -> None:
        self.tracks += 1
        times: list[float | None] = [now(), None]
        self.track_times.append(times)
        self._tasks.append(asyncio.get_running_loop().create_task(self._read(track, times)))

    async def _read(self, track: Any, times: list[float | None]) -> None:
        rtc = self._rtc
        stream = rtc.VideoStream(track)
        async for event in stream:
            frame = event.frame
            self.frames += 1
            if times[1] is None:
                times[1] = now()
            self.sizes.add((frame.width, frame.height))
            if self.first_at is None:
                self.first_at = now()
            if self.frames % 5 == 0 or self.frames < 3:
                i420 = frame.convert(rtc.VideoBufferType.I420)
                data = np.frombuffer(bytes(i420.data), np.uint8)
                self.latest_luma = data[: frame.width * frame.height].reshape(frame.height, frame.width).copy()

    async def wait_frames(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.frames < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}: {self.frames} of {count} frames in {timeout:.0f} s")
            await asyncio.sleep(0.05)

    def stop(self) -> None:
        for task in self._tasks:
            task.cancel()


async def settle_luma(watcher: Watcher, seconds: float = 1.0) -> np.ndarray:
    """The luma of a frame received after `seconds` (a change rendered by then)."""
    await asyncio.sleep(seconds)
    seen = watcher.frames
    while watcher.frames < seen + 6:
        await asyncio.sleep(0.05)
    assert watcher.latest_luma is not None
    return watcher.latest_luma


async def run(args: argparse.Namespace, result: dict[str, Any]) -> None:
    from importlib.metadata import version

    from livekit import rtc

    from decart import models
    from decart.realtime.client import RealtimeClient
    from decart.realtime.subscribe import SubscribeOptions
    from decart.realtime.types import RealtimeConnectOptions
    from decart.types import ModelState, Prompt

    result["sdk"] = {"decart": version("decart"), "livekit": version("livekit")}
    if args.two_peer_connections:
        # LiveKit's older mode (`/rtc`, a publisher and a subscriber connection): the SDK does not
        # expose it, so its rooms connect with the Rust client's own option turned off.
        connect = rtc.Room.connect

        async def connect_v0(self: Any, url: str, token: str, options: Any = None) -> None:
            options = options or rtc.RoomOptions()
            options.single_peer_connection = False
            await connect(self, url, token, options)

        rtc.Room.connect = connect_v0  # type: ignore[method-assign]
    model = models.realtime(args.model)
    result["model"] = {"name": model.name, "width": model.width, "height": model.height, "fps": model.fps}
    base = args.url.replace("http://", "ws://")
    lumas: dict[str, np.ndarray] = {}
    states: list[tuple[float, str]] = []
    ticks: list[int] = []
    errors: list[str] = []

    camera = Camera(rtc, 640, 352)
    camera.start()
    main = Watcher(rtc, "client")
    result["stage"] = "connect"
    client = await RealtimeClient.connect(
        base_url=base,
        api_key=args.api_key,
        local_track=camera.track,
        options=RealtimeConnectOptions(
            model=model,
            on_remote_stream=main.on_track,
            initial_state=ModelState(prompt=Prompt(text="a watercolor city", enhance=False)),
            resolution=args.resolution,
            preferred_video_codec=args.codec,
        ),
    )
    client.on("connection_change", lambda s: states.append((now(), s)))
    client.on("generation_tick", lambda m: ticks.append(m.seconds))
    client.on("error", lambda e: errors.append(str(e)))
    result["connected_at"] = now()
    result["session_id"] = client.session_id

    result["stage"] = "first 30 frames"
    await main.wait_frames(30, 30)
    result["first_frame_at"] = main.first_at
    lumas["initial"] = await settle_luma(main)

    if args.scenario == "queue":
        # The service has one slot (--capacity 1): a second client waits in line (its connect
        # does not return) until the first leaves, then gets its own room.
        result["stage"] = "a second client waits in line"
        camera_b = Camera(rtc, 640, 352)
        camera_b.start()
        second = Watcher(rtc, "second")
        pending = asyncio.create_task(RealtimeClient.connect(
            base_url=base, api_key=args.api_key, local_track=camera_b.track,
            options=RealtimeConnectOptions(model=model, on_remote_stream=second.on_track,
                                           initial_state=ModelState(prompt=Prompt(text="the second", enhance=False)))))
        await asyncio.sleep(4)
        result["second_connected_while_first_held_the_slot"] = pending.done()
        result["stage"] = "the first leaves"
        await client.disconnect()
        freed = time.monotonic()
        client_b = await asyncio.wait_for(pending, 30)
        result["second_connected_after_s"] = round(time.monotonic() - freed, 3)
        await second.wait_frames(30, 30)
        lumas["second"] = await settle_luma(second)
        result["second"] = {"frames": second.frames, "sizes": sorted(second.sizes), "session_id": client_b.session_id}
        await client_b.disconnect()
        camera_b.stop()
        second.stop()
        camera.stop()
        main.stop()
        np.savez(Path(args.out) / "frames.npz", **lumas)
        result["ok"] = True
        return
    if args.scenario == "reconnect":
        # A dropped LiveKit connection is healed inside the room (the Rust client resumes or
        # rejoins: a new subscription of the inference track); a dropped control channel by the
        # SDK's own reconnect (state "reconnecting", then a new session).
        result["stage"] = "the service drops a connection"
        deadline = time.monotonic() + args.reconnect_wait
        while time.monotonic() < deadline and main.tracks < 2 and not any(s == "reconnecting" for _, s in states):
            await asyncio.sleep(0.1)
        result["reconnecting_seen"] = any(s == "reconnecting" for _, s in states)
        result["tracks_at_drop"] = main.tracks
        result["dropped_at"] = now()
        result["stage"] = "the SDK reconnects"
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            if client.get_connection_state() in ("connected", "generating") and main.tracks >= 2:
                break
            await asyncio.sleep(0.1)
        result["reconnected_at"] = now()
        result["state_after_reconnect"] = client.get_connection_state()
        # The new subscription's first frame waits for its peer connection and a keyframe (a second
        # or more on a busy machine): the flow is counted over 2 s from that frame on.
        waiting = main.frames
        deadline = time.monotonic() + 15
        while main.frames == waiting and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        result["first_frame_after_reconnect_s"] = round(now() - result["reconnected_at"], 3)
        before = main.frames
        await asyncio.sleep(2)
        result["frames_after_reconnect"] = main.frames - before
        lumas["after_reconnect"] = await settle_luma(main, 0.5)
        await client.set_prompt("after the reconnect", enhance=False)
        lumas["prompt_after_reconnect"] = await settle_luma(main)
    else:
        result["stage"] = "set_prompt"
        await client.set_prompt("a neon night market", enhance=False)
        lumas["prompt"] = await settle_luma(main)
        result["stage"] = "set_image"
        image = np.zeros((64, 64, 3), np.uint8)
        image[...] = (220, 40, 40)
        await client.set_image(png_bytes(image), prompt="in the colours of this picture", enhance=False)
        lumas["image"] = await settle_luma(main)

        result["stage"] = "viewer"
        viewer = Watcher(rtc, "viewer")
        token = client.subscribe_token
        result["subscribe_token"] = bool(token)
        sub = await RealtimeClient.subscribe(base_url=base, api_key=args.api_key,
                                             options=SubscribeOptions(token=token, on_remote_stream=viewer.on_track))
        await viewer.wait_frames(30, 30)
        result["viewer"] = {"frames": viewer.frames, "sizes": sorted(viewer.sizes), "state": sub.get_connection_state()}
        lumas["viewer"] = await settle_luma(viewer, 0.3)
        await sub.disconnect()
        viewer.stop()
        result["stage"] = "ticks"
        deadline = time.monotonic() + 5
        while len(ticks) < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)

    result["frames"] = main.frames
    result["tracks"] = main.tracks
    result["track_times"] = main.track_times
    result["sizes"] = sorted(main.sizes)
    result["states"] = states
    result["ticks"] = ticks
    result["errors"] = errors
    result["stage"] = "disconnect"
    await client.disconnect()
    camera.stop()
    main.stop()
    np.savez(Path(args.out) / "frames.npz", **lumas)
    result["lumas"] = sorted(lumas)
    result["ok"] = True


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--api-key", default="local-test-key")
    parser.add_argument("--model", default="lucy-restyle-2")
    parser.add_argument("--resolution", default=None)
    parser.add_argument("--scenario", default="session", choices=["session", "reconnect", "queue"])
    parser.add_argument("--reconnect-wait", type=float, default=30.0)
    parser.add_argument("--two-peer-connections", action="store_true")
    parser.add_argument("--codec", default="h264", choices=["h264", "vp9"], help="the camera's codec (the SDK's preferred_video_codec)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--timeout", type=float, default=150.0)
    args = parser.parse_args()
    result: dict[str, Any] = {"ok": False, "scenario": args.scenario}
    try:
        asyncio.run(asyncio.wait_for(run(args, result), args.timeout))
    except BaseException as exc:  # noqa: BLE001 - reported as JSON for the test to show
        result["error"] = f"{type(exc).__name__}: {exc}"
        result["traceback"] = traceback.format_exc()[-3000:]
    result["t"] = now()
    print(json.dumps(result, default=str), flush=True)
    return 0 if result.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
