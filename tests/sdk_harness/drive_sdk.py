"""Drive the official `decart` Python SDK against a Decart-compatible service; print one JSON line.

Runs with the python of the SDK's own virtualenv, where decart_flow is not installed, so it is
self-contained: it makes its own test pattern, PNG and WAV, and saves the luma of the frames it
receives (`frames.npz`) for the caller to decode stamps with `decart_flow.service.read_stamp`.

Before the SDK is imported anywhere it is made loopback-only:
- its peer connection gets `RTCConfiguration(iceServers=[])` instead of its public STUN server,
  and a guard asserts that no ICE server is left;
- aioice offers 127.0.0.1 as the host candidate (it leaves loopback out by default);
- a guard on UDP sends and TCP connects refuses and records any non-loopback destination.

Usage: python drive_sdk.py --url http://127.0.0.1:PORT --model mirage --scenario video --out DIR
The last stdout line is the JSON result; `ok` is false with `stage` and `error` when a step failed.
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import importlib
import io
import ipaddress
import json
import logging
import math
import re
import struct
import sys
import time
import traceback
import wave
import zlib
from importlib.metadata import version
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

LOOPBACK = {"127.0.0.1", "::1", "localhost"}
T0 = time.monotonic()


def now() -> float:
    return round(time.monotonic() - T0, 4)


# --- loopback only --------------------------------------------------------------------------------

class NetworkGuard:
    """Refuses (and records) every UDP datagram or TCP connect to an address that is not loopback."""

    def __init__(self) -> None:
        self.violations: list[str] = []

    def check(self, host: Any, what: str) -> bool:
        host = str(host)
        try:
            ok = host in LOOPBACK or ipaddress.ip_address(host).is_loopback
        except ValueError:
            ok = False
        if not ok:
            self.violations.append(f"{what} to {host}")
        return ok

    def install(self) -> None:
        from asyncio import base_events, selector_events

        guard = self
        original_sendto = selector_events._SelectorDatagramTransport.sendto

        def sendto(self: Any, data: bytes, addr: Any = None) -> None:
            target = addr if addr is not None else self._address
            if target is not None and not guard.check(target[0], "UDP datagram"):
                return
            original_sendto(self, data, addr)

        selector_events._SelectorDatagramTransport.sendto = sendto  # type: ignore[method-assign]

        original_connect = base_events.BaseEventLoop.create_connection

        async def create_connection(self: Any, protocol_factory: Any, host: Any = None, port: Any = None,
                                    **kwargs: Any) -> Any:
            if host is not None and not guard.check(host, "TCP connect"):
                raise ConnectionRefusedError(f"loopback guard: refused TCP connect to {host}")
            return await original_connect(self, protocol_factory, host, port, **kwargs)

        base_events.BaseEventLoop.create_connection = create_connection  # type: ignore[method-assign]


def keep_media_on_loopback(connection_module: Any) -> dict[str, Any]:
    """Patch the SDK's WebRTC module: no ICE servers, host candidates on 127.0.0.1. Returns a report."""
    import aioice.ice
    from aiortc import RTCConfiguration, RTCPeerConnection

    if not callable(getattr(aioice.ice, "get_host_addresses", None)):
        raise RuntimeError("aioice.ice.get_host_addresses is gone: cannot offer 127.0.0.1 candidates")

    def loopback_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return ["127.0.0.1"] if use_ipv4 else []

    aioice.ice.get_host_addresses = loopback_addresses
    report: dict[str, Any] = {"sdk_ice_servers_dropped": [], "peer_connections": 0}

    def no_ice_servers(*args: Any, **kwargs: Any) -> RTCConfiguration:
        for server in kwargs.get("iceServers") or (args[0] if args else None) or []:
            report["sdk_ice_servers_dropped"].extend(
                [server.urls] if isinstance(server.urls, str) else list(server.urls)
            )
        kwargs["iceServers"] = []
        return RTCConfiguration(*args[1:], **kwargs)

    class LoopbackPeerConnection(RTCPeerConnection):
        def __init__(self, configuration: Any = None) -> None:
            servers = getattr(configuration, "iceServers", None)
            if configuration is None or servers:
                # aiortc puts a public STUN server in when given no configuration at all.
                raise AssertionError(f"SDK peer connection would use ICE servers: {servers!r}")
            report["peer_connections"] += 1
            super().__init__(configuration=configuration)

    if not hasattr(connection_module, "RTCConfiguration") or not hasattr(connection_module, "RTCPeerConnection"):
        raise RuntimeError("the SDK no longer builds its peer connection in webrtc_connection: patch moved")
    connection_module.RTCConfiguration = no_ice_servers
    connection_module.RTCPeerConnection = LoopbackPeerConnection
    return report


# --- what goes over the wire ------------------------------------------------------------------------

def sdp_summary(sdp: str) -> dict[str, Any]:
    """Media sections (kind, mid, direction, codecs) and candidate addresses of an SDP."""
    media: list[dict[str, Any]] = []
    candidates: list[str] = []
    for line in sdp.splitlines():
        if line.startswith("m="):
            media.append({"kind": line[2:].split()[0], "mid": None, "direction": None, "codecs": []})
        elif line.startswith("a=mid:") and media:
            media[-1]["mid"] = line[6:]
        elif line[2:] in ("sendrecv", "sendonly", "recvonly", "inactive") and media:
            media[-1]["direction"] = line[2:]
        elif line.startswith("a=rtpmap:") and media:
            media[-1]["codecs"].append(line.split()[1].split("/")[0])
        elif line.startswith("a=candidate:"):
            parts = line.split()
            candidates.append(f"{parts[4]} {parts[7]}")  # address and type (host, srflx, relay)
    for m in media:
        m["codecs"] = sorted(set(m["codecs"]) - {"rtx"})
    return {"media": media, "candidates": candidates}


def summarize(message: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in message.items():
        if key == "sdp" and isinstance(value, str):
            out["sdp"] = sdp_summary(value)
        elif key == "image_data" and isinstance(value, str):
            out["image_data"] = f"<{len(value)} base64 chars>"
        else:
            out[key] = value
    return out


class WireSpy:
    """Records every message the SDK writes and every one it reads, in order, with times."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def install(self, connection_module: Any) -> None:
        spy = self
        original_to_json = connection_module.message_to_json
        original_handle = connection_module.WebRTCConnection._handle_message

        def message_to_json(message: Any) -> str:
            text = original_to_json(message)
            spy.messages.append({"t": now(), "dir": "out", **summarize(json.loads(text))})
            return text

        async def handle_message(self: Any, data: dict[str, Any]) -> None:
            spy.messages.append({"t": now(), "dir": "in", **summarize(data)})
            await original_handle(self, data)

        connection_module.message_to_json = message_to_json
        connection_module.WebRTCConnection._handle_message = handle_message


class LogTap(logging.Handler):
    """Keeps the SDK's warnings and errors: they name what it could not parse or handle."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name}: {record.getMessage()}"[:500])


# --- media made here --------------------------------------------------------------------------------

def png_bytes(rgb: np.ndarray) -> bytes:
    """An RGB array as PNG bytes (no Pillow in the SDK's venv)."""
    height, width = rgb.shape[:2]
    raw = b"".join(b"\x00" + rgb[row].astype(np.uint8).tobytes() for row in range(height))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def reference_png() -> bytes:
    """A colour wheel-ish gradient: a style reference for video models."""
    y, x = np.mgrid[0:256, 0:256]
    rgb = np.stack([x, y, 255 - (x + y) // 2], axis=-1)
    return png_bytes(rgb)


def portrait_png() -> bytes:
    """A face-like portrait: skin-tone oval with eyes on a blue backdrop, for the avatar model."""
    size = 512
    y, x = np.mgrid[0:size, 0:size]
    rgb = np.zeros((size, size, 3), np.uint8)
    rgb[:] = (40, 70, 140)
    face = ((x - 256) / 150.0) ** 2 + ((y - 270) / 200.0) ** 2 <= 1.0
    rgb[face] = (224, 172, 140)
    for cx in (200, 312):
        rgb[((x - cx) ** 2 + (y - 220) ** 2) <= 18**2] = (30, 30, 30)
    rgb[(abs(y - 360) < 8) & (abs(x - 256) < 60)] = (150, 60, 60)
    return png_bytes(rgb)


def tone_wav(seconds: float, hz: float = 440.0, rate: int = 48000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    samples = (0.3 * 32767 * np.sin(2 * math.pi * hz * t)).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return buf.getvalue()


def make_pattern_track(width: int, height: int, fps: int) -> Any:
    """A moving-bar yuv420p test pattern at the model's size and rate (the camera of a user)."""
    import av
    from aiortc import MediaStreamTrack

    variants = []
    for i in range(fps):
        yuv = np.full((height * 3 // 2, width), 128, np.uint8)
        yuv[:height] = np.linspace(40, 200, width, dtype=np.uint8)[None, :]
        x = (i * width // fps) % width
        yuv[:height, x : x + width // 16] = 235
        variants.append(yuv)

    class PatternTrack(MediaStreamTrack):
        kind = "video"

        def __init__(self) -> None:
            super().__init__()
            self._n = 0
            self._start: float | None = None

        async def recv(self) -> Any:
            loop = asyncio.get_running_loop()
            if self._start is None:
                self._start = loop.time()
            delay = self._start + self._n / fps - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            frame = av.VideoFrame.from_ndarray(variants[self._n % fps], format="yuv420p")
            frame.pts = self._n
            frame.time_base = fractions.Fraction(1, fps)
            self._n += 1
            return frame

    return PatternTrack()


# --- what comes back ----------------------------------------------------------------------------------

def thumbnail(luma: np.ndarray, block: int = 8) -> np.ndarray:
    """The whole frame's luma averaged over 8x8 blocks: enough to see an avatar's mouth move."""
    h, w = (luma.shape[0] // block) * block, (luma.shape[1] // block) * block
    small = luma[:h, :w].reshape(h // block, block, w // block, block).mean(axis=(1, 3))
    return small.astype(np.uint8)


class Receiver:
    """Reads the remote tracks with track.recv(); keeps each video frame's top luma rows by phase.

    The stamp sits in the top-left corner (decart_flow/service/stamp.py), so the top quarter of
    each frame at full width is enough to decode it and keeps the saved file small.
    """

    def __init__(self) -> None:
        self.phase = 0
        self.frames: list[dict[str, Any]] = []
        self.lumas: list[np.ndarray] = []
        self.thumbs: list[np.ndarray] = []
        self.audio_frames = 0
        self.tracks: list[str] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.error: str | None = None

    def on_remote_stream(self, track: Any) -> None:
        self.tracks.append(track.kind)
        reader = self._read_video if track.kind == "video" else self._drain_audio
        self.tasks.append(asyncio.ensure_future(reader(track)))

    async def _read_video(self, track: Any) -> None:
        from aiortc.mediastreams import MediaStreamError

        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            try:
                if frame.format.name in ("yuv420p", "yuvj420p"):
                    plane = frame.planes[0]
                    luma = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, : frame.width]
                else:
                    luma = frame.to_ndarray(format="gray")
                rows = min(frame.height, max(128, frame.height // 4))
                self.lumas.append(np.ascontiguousarray(luma[:rows]))
                self.thumbs.append(thumbnail(luma))
                self.frames.append({"t": now(), "phase": self.phase, "w": frame.width, "h": frame.height})
            except Exception as e:  # keep reading; report the first problem
                self.error = self.error or f"{type(e).__name__}: {e}"

    async def _drain_audio(self, track: Any) -> None:
        from aiortc.mediastreams import MediaStreamError

        while True:
            try:
                await track.recv()
            except MediaStreamError:
                return
            self.audio_frames += 1

    def in_phase(self) -> int:
        return sum(1 for f in self.frames if f["phase"] == self.phase)

    async def wait_frames(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.in_phase() < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.in_phase()} of {count} frames in phase {self.phase} after {timeout:.0f} s")
            await asyncio.sleep(0.02)

    def save(self, out: Path) -> None:
        np.savez(out / "frames.npz", *self.lumas)
        if len({t.shape for t in self.thumbs}) == 1:
            np.save(out / "thumbs.npy", np.stack(self.thumbs))

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


# --- the scenarios --------------------------------------------------------------------------------

class Run:
    """One SDK session: the steps taken, their timings, and the stage reached, for the JSON line."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.result: dict[str, Any] = {"ok": False, "scenario": args.scenario, "model": args.model, "steps": []}
        self.stage = "setup"
        self.receiver = Receiver()
        self.states: list[tuple[float, str]] = []
        self.ticks: list[int] = []
        self.errors: list[str] = []

    async def step(self, name: str, coro: Any, timeout: float) -> float:
        """Await one SDK call within a timeout; the next frames belong to a new phase."""
        self.stage = name
        frames_at_start = len(self.receiver.frames)
        started = time.monotonic()
        await asyncio.wait_for(coro, timeout)
        seconds = time.monotonic() - started
        self.result["steps"].append({"step": name, "seconds": round(seconds, 4), "phase_after": self.receiver.phase + 1,
                                     "frames_at_start": frames_at_start,
                                     "frames_before": len(self.receiver.frames)})
        self.receiver.phase += 1
        return seconds

    async def frames(self, count: int) -> None:
        self.stage = f"receive {count} frames in phase {self.receiver.phase}"
        await self.receiver.wait_frames(count, self.args.frame_timeout)

    def watch(self, client: Any) -> None:
        client.on("connection_change", lambda s: self.states.append((now(), s)))
        client.on("error", lambda e: self.errors.append(str(e)[:300]))
        client.on("generation_tick", lambda m: self.ticks.append(getattr(m, "seconds", -1)))


def model_definition(models_module: Any, name: str, geometry: str) -> tuple[Any, str]:
    """The SDK's own definition when its registry has the name, else a custom one (as users do),
    of `geometry` (WxH@FPS, from decart-flow's model table: this python cannot import decart_flow)."""
    try:
        return models_module.models.realtime(name), "registry"
    except Exception:
        size, fps = geometry.split("@")
        width, height = (int(x) for x in size.split("x"))
        return models_module.ModelDefinition(name=name, url_path="/v1/stream", fps=int(fps), width=width, height=height), "custom"


async def video_scenario(run: Run, sdk: Any) -> None:
    args = run.args
    model, origin = model_definition(sdk.models, args.model, args.geometry)
    run.result["model_definition"] = {"origin": origin, "fps": model.fps, "width": model.width, "height": model.height}
    track = make_pattern_track(model.width, model.height, model.fps)
    extra = {"resolution": args.resolution} if args.resolution else {}
    initial = {
        "prompt": sdk.ModelState(prompt=sdk.Prompt(text="a watercolor city at dawn", enhance=False)),
        "image": sdk.ModelState(image=reference_png(), prompt=sdk.Prompt(text="a watercolor city at dawn", enhance=False)),
        "none": None,  # the SDK then asks for passthrough: set_image with image_data and prompt null
    }[args.initial]
    options = sdk.RealtimeConnectOptions(
        model=model, on_remote_stream=run.receiver.on_remote_stream, initial_state=initial, **extra
    )
    run.stage = "connect"
    started = time.monotonic()
    client = await asyncio.wait_for(
        sdk.RealtimeClient.connect(base_url=args.url, api_key=args.api_key, local_track=track, options=options),
        args.step_timeout,
    )
    run.result["connect_seconds"] = round(time.monotonic() - started, 4)
    run.watch(client)
    try:
        await run.frames(15)
        await run.step("set_prompt", client.set_prompt("neon noir alley in the rain", enhance=False), args.step_timeout)
        await run.frames(25)
        await run.step("set_image", client.set_image(reference_png()), args.step_timeout)
        await run.frames(25)
        run.result["session_id"] = client.session_id
        run.result["connection_state_before_disconnect"] = client.get_connection_state()
    finally:
        run.stage = "disconnect"
        await asyncio.wait_for(client.disconnect(), args.step_timeout)
        track.stop()


async def avatar_scenario(run: Run, sdk: Any) -> None:
    args = run.args
    model, origin = model_definition(sdk.models, args.model, args.geometry)
    run.result["model_definition"] = {"origin": origin, "fps": model.fps, "width": model.width, "height": model.height}
    options = sdk.RealtimeConnectOptions(
        model=model,
        on_remote_stream=run.receiver.on_remote_stream,
        initial_state=sdk.ModelState(image=portrait_png(), prompt=sdk.Prompt(text="a friendly presenter", enhance=False)),
    )
    run.stage = "connect"
    started = time.monotonic()
    # local_track=None: the SDK makes its own audio track (silence until play_audio) for live_avatar.
    client = await asyncio.wait_for(
        sdk.RealtimeClient.connect(base_url=args.url, api_key=args.api_key, local_track=None, options=options),
        args.step_timeout,
    )
    run.result["connect_seconds"] = round(time.monotonic() - started, 4)
    run.watch(client)
    try:
        await run.frames(15)
        if not hasattr(client, "play_audio"):
            raise RuntimeError("this SDK version has no play_audio")
        clip = args.audio_seconds
        seconds = await run.step("play_audio", client.play_audio(tone_wav(clip)), clip + args.step_timeout)
        run.result["play_audio"] = {"clip_seconds": clip, "returned_after": round(seconds, 4)}
        await run.frames(5)
        await run.step("set_prompt", client.set_prompt("a cheerful news anchor", enhance=False), args.step_timeout)
        await run.frames(25)
        run.result["session_id"] = client.session_id
        run.result["connection_state_before_disconnect"] = client.get_connection_state()
    finally:
        run.stage = "disconnect"
        await asyncio.wait_for(client.disconnect(), args.step_timeout)


async def main_async(args: argparse.Namespace, guard: NetworkGuard, loopback: dict[str, Any],
                     spy: WireSpy, sdk: Any) -> dict[str, Any]:
    run = Run(args)
    scenario = video_scenario if args.scenario == "video" else avatar_scenario
    try:
        await asyncio.wait_for(scenario(run, sdk), args.total_timeout)
        run.result["ok"] = True
    except BaseException as e:  # report every failure as data, including timeouts
        if isinstance(e, KeyboardInterrupt):
            raise
        detail = str(e) or f"no answer in time at stage {run.stage!r}"
        run.result["error"] = f"{type(e).__name__}: {detail}"[:1000]
        run.result["traceback"] = traceback.format_exc()[-3000:]
    finally:
        await run.receiver.stop()
    run.result["stage"] = run.stage
    r = run.receiver
    run.result.update(
        frames=len(r.frames),
        frames_by_phase=[sum(1 for f in r.frames if f["phase"] == p) for p in range(r.phase + 1)],
        frame_phases=[f["phase"] for f in r.frames],
        frame_sizes=sorted({f"{f['w']}x{f['h']}" for f in r.frames}),
        receive_fps=_fps(r.frames),
        audio_frames_received=r.audio_frames,
        remote_tracks=r.tracks,
        frame_reader_error=r.error,
        states=[s for _, s in run.states],
        generation_ticks=run.ticks,
        sdk_errors=run.errors,
        wire=spy.messages,
        loopback=loopback,
        network_violations=guard.violations,
    )
    if r.lumas:
        r.save(Path(args.out))
        run.result["frames_file"] = str(Path(args.out) / "frames.npz")
    return run.result


def _fps(frames: list[dict[str, Any]]) -> float | None:
    if len(frames) < 2:
        return None
    span = frames[-1]["t"] - frames[0]["t"]
    return round((len(frames) - 1) / span, 2) if span > 0 else None


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", required=True, help="service base, http://127.0.0.1:PORT")
    p.add_argument("--model", required=True)
    p.add_argument("--geometry", required=True, metavar="WxH@FPS", help="the model's output (if the SDK lacks it)")
    p.add_argument("--scenario", choices=["video", "avatar"], required=True)
    p.add_argument("--out", required=True, help="directory for frames.npz")
    p.add_argument("--api-key", default="sdk-compat-test-key")
    p.add_argument("--resolution", default=None, help="0.0.40+: 720p or 1080p")
    p.add_argument("--initial", choices=["prompt", "image", "none"], default="prompt",
                   help="video scenario: initial state (prompt, image with prompt, or passthrough)")
    p.add_argument("--audio-seconds", type=float, default=1.0)
    p.add_argument("--step-timeout", type=float, default=20.0)
    p.add_argument("--frame-timeout", type=float, default=15.0)
    p.add_argument("--total-timeout", type=float, default=90.0)
    return p.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    host = re.sub(r"^\w+://", "", args.url).split("/")[0].rsplit(":", 1)[0].strip("[]")
    guard = NetworkGuard()
    if not guard.check(host, "service URL"):
        print(json.dumps({"ok": False, "stage": "setup", "error": f"refusing a non-loopback service: {host}"}))
        return 2
    guard.install()
    tap = LogTap()
    logging.getLogger("decart").addHandler(tap)

    # The SDK is imported only now, after the guard is in place.
    import decart.realtime.webrtc_connection as connection_module
    from decart.realtime.client import RealtimeClient
    from decart.realtime.types import RealtimeConnectOptions
    from decart.types import ModelState, Prompt

    # `decart.models` the attribute is the Models registry object; the module holds ModelDefinition.
    models_module = importlib.import_module("decart.models")
    loopback = keep_media_on_loopback(connection_module)
    spy = WireSpy()
    spy.install(connection_module)
    sdk = SimpleNamespace(models=models_module, RealtimeClient=RealtimeClient,
                          RealtimeConnectOptions=RealtimeConnectOptions, ModelState=ModelState, Prompt=Prompt)
    result = asyncio.run(main_async(args, guard, loopback, spy, sdk))
    result["sdk_version"] = version("decart")
    result["aiortc_version"] = version("aiortc")
    result["sdk_log"] = tap.lines[-30:]
    print(json.dumps(result), flush=True)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
