"""Today's protocol on the client side, piece by piece: URL, messages, protocol choice, mirror, cloud checks, billing.

The whole path (a LiveKit room against `decart-flow serve`) is played in test_run_livekit.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from decart_flow.engine.billing import SessionMeter
from decart_flow.realtime import messages, models
from decart_flow.realtime.client import GenerationTick, QueuePosition, default_protocol
from decart_flow.realtime.livekit_media import i420
from decart_flow.realtime.urls import redact_url, stream_url
from decart_flow.runner.backend import CLOUD_URL, Backend, targets_cloud

ROOT = Path(__file__).resolve().parent.parent


def test_the_control_url_asks_for_room_info_early_with_options() -> None:
    url = stream_url("https://api.decart.ai", "/v1/stream", "k&ey", "lucy-2.5", "1080p", livekit=True, speed="fast")
    assert url.startswith("wss://api.decart.ai/v1/stream?api_key=k%26ey&model=lucy-2.5")
    assert "&livekit_early_room_info=true&resolution=1080p&speed=fast&user_agent=" in url
    assert "k%26ey" not in redact_url(url)
    assert "livekit_early_room_info" not in stream_url("http://127.0.0.1:1", "/v1/stream", "k", "mirage")


def test_room_info_and_queue_messages_are_checked_like_every_other() -> None:
    info = messages.parse(json.dumps({"type": "livekit_room_info", "livekit_url": "ws://h:1", "token": "t",
                                      "room_name": "r", "session_id": "s"}))
    assert info["room_name"] == "r"
    assert messages.parse('{"type": "queue_position", "position": 2, "queue_size": 5}')["position"] == 2
    for bad in ('{"type": "livekit_room_info", "livekit_url": "ws://h:1", "room_name": "r"}',
                '{"type": "queue_position", "position": "2", "queue_size": 5}',
                '{"type": "queue_position", "position": true, "queue_size": 5}'):
        with pytest.raises(messages.MalformedMessage):
            messages.parse(bad)
    assert messages.livekit_join() == {"type": "livekit_join"}


def test_which_protocol_a_session_speaks() -> None:
    today, retired = models.realtime("lucy-restyle-2"), models.realtime("mirage_v2")
    assert default_protocol(today, "wss://api.decart.ai") == "livekit"
    assert default_protocol(today, "http://127.0.0.1:8765") == "p2p"  # LiveKit gathers nothing on loopback
    assert default_protocol(retired, "wss://api.decart.ai") == "p2p"
    local, cloud = Backend("http://127.0.0.1:1", "k", local=True), Backend(CLOUD_URL, "k", cloud=True)
    assert local.protocol_for(today) == "p2p" and cloud.protocol_for(today) == "livekit"
    assert cloud.protocol_for(retired) == "p2p" and local.protocol_for(today, "livekit") == "livekit"
    # `serve` on this machine's loopback, named by URL: LiveKit could not gather there either
    assert Backend("ws://127.0.0.1:8765", "k").protocol_for(today) == "p2p"
    assert Backend("ws://10.200.0.1:8765", "k").protocol_for(today) == "livekit"
    assert CLOUD_URL == "wss://api.decart.ai"
    label = Backend(CLOUD_URL, "sk-secret-key", cloud=True).label
    assert label == "Decart cloud at wss://api.decart.ai" and "sk-secret" not in label


def test_the_backend_that_checks_for_the_cloud(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DECART_API_KEY", raising=False)
    assert not targets_cloud(None, None)  # no key: the embedded service
    assert targets_cloud(None, "key") and targets_cloud("cloud", None)
    assert not targets_cloud("ws://127.0.0.1:9", "key") and not targets_cloud("local", "key")
    monkeypatch.setenv("DECART_API_KEY", "key")
    assert targets_cloud(None, None)


def _validate(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k != "DECART_API_KEY"}
    return subprocess.run([sys.executable, "-m", "decart_flow.cli", *args], capture_output=True, text=True,
                          timeout=60, env={**base, **(env or {})}, cwd=ROOT)


def test_validate_for_the_cloud_names_the_successor_and_refuses_audio(tmp_path: Path) -> None:
    show = tmp_path / "old.yaml"
    show.write_text("name: Old\nmodel: mirage_v2\ninitial: {prompt: Anime}\n")
    assert _validate("validate", str(show)).returncode == 0  # offline, every 2025 model still plays
    done = _validate("validate", str(show), "--backend", "cloud", "--api-key", "sk-secret")
    assert done.returncode == 2
    assert done.stdout.strip() == f"{show}:2:1: model: mirage_v2 was retired by Decart in 2026; use lucy-restyle-2"
    avatar = _validate("validate", "scenes/avatar.yaml", env={"DECART_API_KEY": "sk-secret"})
    assert avatar.returncode == 2 and "sk-secret" not in avatar.stdout + avatar.stderr
    lines = avatar.stdout.strip().splitlines()
    assert "retired by Decart in 2026" in lines[0] and sum("audio: no model of Decart's cloud" in x for x in lines) == 4
    plan = _validate("plan", "scenes/avatar.yaml", "--backend", "cloud", "--api-key", "x")
    assert plan.returncode == 2 and "retired" in plan.stdout
    assert _validate("validate", "scenes/quickstart.yaml", "--backend", "cloud", "--api-key", "x").returncode == 0


def test_resolution_and_speed_are_checked_against_the_model(tmp_path: Path) -> None:
    show = tmp_path / "s.yaml"
    show.write_text("name: S\nmodel: lucy-restyle-2\nresolution: 4k\nspeed: fast\n")
    lines = _validate("validate", str(show)).stdout.strip().splitlines()
    assert lines == [f"{show}:3:13: resolution must be one of 720p, 1080p, got '4k'",
                     f"{show}:4:8: lucy-restyle-2 has no `speed: fast` (models that have it: lucy-2.5, lucy-2.6, "
                     "lucy-vton-3.5, lucy-vton-3.6)"]
    show.write_text("name: S\nmodel: lucy-2.6\nresolution: 1080p\nspeed: fast\n")
    assert _validate("validate", str(show)).returncode == 0


def test_mirror_flips_the_frames_we_send_left_to_right() -> None:
    width, height = 64, 32
    rgb = np.zeros((height, width, 3), dtype=np.uint8)
    rgb[:, : width // 4] = (255, 0, 0)  # a red band on the left
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
    plain, mirrored = i420(frame, width, height, False), i420(frame, width, height, True)
    assert len(plain) == len(mirrored) == width * height * 3 // 2
    y_plain = np.frombuffer(plain, np.uint8)[: width * height].reshape(height, width)
    y_mirror = np.frombuffer(mirrored, np.uint8)[: width * height].reshape(height, width)
    assert np.array_equal(y_mirror, y_plain[:, ::-1])
    v = lambda data: np.frombuffer(data, np.uint8)[width * height * 5 // 4:].reshape(height // 2, width // 2)  # noqa: E731
    assert v(plain)[:, 0].mean() > 200 and v(mirrored)[:, -1].mean() > 200  # red is high V: now on the right


def test_the_meter_journals_queue_and_billed_seconds_across_connections() -> None:
    written: list[tuple[str, dict]] = []

    class Session:
        def __init__(self) -> None:
            self.callbacks: dict[str, list] = {}

        def on(self, event: str, cb) -> None:
            self.callbacks.setdefault(event, []).append(cb)

        def off(self, event: str, cb) -> None:
            self.callbacks[event].remove(cb)

        def emit(self, event: str, *args) -> None:
            for cb in list(self.callbacks.get(event, [])):
                cb(*args)

    meter = SessionMeter(lambda event, **fields: written.append((event, fields)))
    meter.queue_position(QueuePosition(2, 3))
    session = Session()
    meter.attach(session)
    for s in (1, 2, 3):
        session.emit("generation_tick", GenerationTick(s))
    assert meter.queue is None and meter.billed_seconds == 3
    session.emit("connection_change", "reconnecting")  # the old connection's seconds are kept
    for s in (1, 2):
        session.emit("generation_tick", GenerationTick(s))
    assert meter.billed_seconds == 5
    meter.close()
    assert written[0] == ("session.queue", {"position": 2, "queue_size": 3})
    billed = [f["seconds"] for e, f in written if e == "session.billed"]
    assert billed[0] == 1 and billed[-1] == 5 and 3 in billed  # the first tick, the drop, the end
    assert session.callbacks == {"generation_tick": [], "connection_change": []}


async def test_a_full_service_is_waited_for_past_the_attempt_limit() -> None:
    """`Server at capacity` is not a failure of ours: it is retried however many attempts that takes."""
    from aiohttp import web

    from decart_flow.realtime import RealtimeClient, RealtimeConnectOptions
    from decart_flow.realtime.errors import InvalidAPIKeyError
    from decart_flow.media import open_source

    seen: list[int] = []

    async def stream(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        seen.append(1)
        # six times full, then a refused key: a permanent error ends the retrying
        text = "Server at capacity, please retry" if len(seen) <= 6 else "Invalid API key"
        await ws.send_str(json.dumps({"type": "error", "error": text}))
        await ws.close()
        return ws

    app = web.Application()
    app.router.add_get("/v1/stream", stream)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    source = open_source("testsrc", 320, 176, 30)
    try:
        with pytest.raises(InvalidAPIKeyError):
            await RealtimeClient.connect(f"http://127.0.0.1:{port}", "key", source, RealtimeConnectOptions(
                model="lucy-restyle-2", max_attempts=2, retry_delay=0.01))
    finally:
        source.stop()
        await runner.cleanup()
    assert len(seen) == 7  # past max_attempts=2 while the service said it was full


def test_a_python_show_takes_models_of_today_and_their_options(tmp_path: Path) -> None:
    from decart_flow.show import load_show

    good = tmp_path / "today.py"
    good.write_text("from decart_flow import Show, prompt\n"
                    "show = Show('Today', model='lucy-latest', resolution='1080p', speed='fast', initial=prompt('Anime'))\n"
                    "show.at('0:05', prompt('Neon'))\n")
    show = load_show(good)
    assert (show.model, show.resolution, show.speed) == ("lucy-latest", "1080p", "fast")
    bad = tmp_path / "bad.py"
    bad.write_text("from decart_flow import Show\nshow = Show('Bad', model='lucy-restyle-2', speed='fast')\n")
    done = _validate("validate", str(bad))
    assert done.returncode == 2 and f"{bad}:2:" in done.stdout and "has no `speed: fast`" in done.stdout


def test_the_tui_header_shows_protocol_queue_and_billed_seconds() -> None:
    from dataclasses import replace

    from rich.console import Console

    from decart_flow.tui.header import ShowHeader
    from test_tui_fixtures import still_glance

    glance = still_glance()
    header = ShowHeader()

    def text(g) -> str:
        header.glance = g
        console = Console(width=200, record=True)
        console.print(header.render())
        return console.export_text()

    plain = text(glance)
    assert "livekit" not in plain and "billed" not in plain and "queued" not in plain
    waiting = replace(glance, state=replace(glance.state, protocol="livekit", queue=(2, 5)))
    assert "livekit" in text(waiting) and "queued 2/5" in text(waiting)
    billed = replace(glance, state=replace(glance.state, protocol="livekit", billed_s=3725.4))
    assert "billed 1:02:05" in text(billed) and "queued" not in text(billed)
