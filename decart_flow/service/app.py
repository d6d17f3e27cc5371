"""The HTTP side of the local service: the WebSocket endpoints, client tokens, start and stop.

Like aiortc's example server, the whole service is plain handlers plus one set of peer
connections (and one of sessions) that `stop()` closes, so nothing outlives the service.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import time

from aiohttp import web
from aiortc import RTCPeerConnection

from decart_flow.service.faults import Faults
from decart_flow.service.keys import KeyStore, TokenRequestError
from decart_flow.realtime.memory import limit_arenas, trim
from decart_flow.realtime.models import STREAM_PATHS, ModelDefinition
from decart_flow.realtime.models import find as find_model
from decart_flow.service.livekit.server import LiveKitServer
from decart_flow.service.signaling import StreamSession
from decart_flow.service.today import Today

log = logging.getLogger(__name__)

# set_image carries up to 20 MB of image as base64 (4/3 larger): a bit more gets a clear
# "too large" ack; far bigger messages close the socket (aiohttp refuses them unread).
MAX_MESSAGE_BYTES = 32 * 1024 * 1024


# Idle connections are bounded twice (500 idle WebSockets once cost 780 MB): a connection that
# has not started media (an `offer`, or `livekit_join`) this long after it opened is closed
# with an error, and a service takes at most this many control connections at once.
IDLE_TIMEOUT_S = 30.0
MAX_CONNECTIONS = 100

SWITCH_INTERVAL = 0.001
MALLOC_ARENAS = 2  # see decart_flow.realtime.memory.limit_arenas
PLAYOUT_DELAYS = ("0", "auto")


class LocalService:
    """A Decart-compatible realtime service on loopback. `await start()`, then `.url`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, api_key: str | None = None, faults: Faults | list[str] | tuple[str, ...] | None = None,
                 capacity: int | None = None, idle_timeout: float = IDLE_TIMEOUT_S, max_connections: int = MAX_CONNECTIONS,
                 playout_delay: str = "0") -> None:
        """`playout_delay`: "0" asks LiveKit receivers to show each frame as soon as it is decoded;
        "auto" leaves the delay to the receiver's own smoothing (`serve --playout-delay`)."""
        if playout_delay not in PLAYOUT_DELAYS:
            raise ValueError(f"playout delay {playout_delay!r}: give one of {', '.join(PLAYOUT_DELAYS)}")
        self.playout_delay = playout_delay
        self.host = host
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections
        self.port = port
        self.faults = faults if isinstance(faults, Faults) else Faults.parse(faults)
        self.keys = KeyStore(api_key)
        self.pcs: set[RTCPeerConnection] = set()
        self.sessions: set[StreamSession] = set()
        self.taken = 0  # stream sessions taken so far (the first may be dropped: drop-first-ws-after)
        self.today = Today(capacity)
        self._runner: web.AppRunner | None = None
        self._exit_task: asyncio.Task[None] | None = None
        self.stopped = asyncio.Event()
        self._started = time.monotonic()

    @property
    def url(self) -> str:
        return f"http://{_url_host(self.host)}:{self.port}"

    async def start(self) -> None:
        # Rendering and encoding run in worker threads that hold the GIL for stretches; with
        # Python's 5 ms switch interval a prompt waited up to that long to be read off the socket.
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
        limit_arenas(MALLOC_ARENAS)
        self._started = time.monotonic()
        app = web.Application()
        for path in STREAM_PATHS:
            app.router.add_get(path, self._stream)
        app.router.add_post("/v1/client/tokens", self._tokens)
        app.router.add_post("/watch-stream/{room}", self._watch_stream)
        app.router.add_route("OPTIONS", "/watch-stream/{room}", self._watch_stream_preflight)
        LiveKitServer(self.today.signer, self.today.rooms, self.host, self.pcs,
                      lambda: self.faults.drop_livekit_after, zero_playout=self.playout_delay == "0").add_routes(app)
        # No access log: the key rides in the query string of every stream URL.
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self._runner.addresses:  # port 0: learn the one the OS picked
            self.port = self._runner.addresses[0][1]
        self.today.livekit_url = "ws" + self.url.removeprefix("http")
        if self.faults.exit_after is not None:
            self._exit_task = asyncio.get_running_loop().create_task(self._exit_after(self.faults.exit_after))
        log.debug("service listening on %s", self.url)

    async def stop(self) -> None:
        """Close every session, peer connection and socket."""
        if self._exit_task is not None and self._exit_task is not asyncio.current_task():
            self._exit_task.cancel()
        for session in list(self.sessions):
            with contextlib.suppress(Exception):
                await session.close("service_stopped")
        await self.today.stop()
        for pc in list(self.pcs):
            await pc.close()
        self.pcs.clear()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
        self.stopped.set()

    async def __aenter__(self) -> "LocalService":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _exit_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        log.warning("fault: service exits after %.1fs", seconds)
        await self.stop()

    # -- handlers -----------------------------------------------------------------------------

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES, heartbeat=None)
        await ws.prepare(request)
        if len(self.sessions) >= self.max_connections:
            log.warning("refused a connection: %d connections open, the most this service takes", len(self.sessions))
            await ws.send_str(json.dumps({"type": "error", "error": f"service is full: {len(self.sessions)} connections "
                                          "open, the most it takes; close idle ones or try again later"}))
            await ws.close()
            return ws
        if time.monotonic() - self._started < self.faults.full_for:
            log.info("refused a connection: at capacity (fault full-for)")
            await ws.send_str(json.dumps({"type": "error", "error": "Server at capacity, please retry later"}))
            await ws.close()
            return ws
        key = request.query.get("api_key")
        model_name = request.query.get("model", "")
        model = find_model(model_name)
        if not self.keys.allows(key, model_name, request.headers.get("Origin")):
            log.info("refused a connection: invalid API key")
            await ws.send_str(json.dumps({"type": "error", "error": "Invalid API key"}))
            await ws.close()
            return ws
        if model is None:
            log.info("refused a connection: unknown model %r", model_name[:60])
            await ws.send_str(json.dumps({"type": "error", "error": f"Unknown model: {model_name[:60]}"}))
            await ws.close()
            return ws
        rooms = request.query.get("livekit_early_room_info") == "true"
        resolution, speed = request.query.get("resolution"), request.query.get("speed")
        if rooms or model.era == 2026:
            problem = _room_problem(model) if rooms else None
            problem = problem or model.option_problem(resolution, speed)
            if problem is not None:
                log.info("refused a connection: %s", problem)
                # "not allowed" marks it permanent for the SDKs: retrying cannot help
                await ws.send_str(json.dumps({"type": "error", "error": f"not allowed: {problem}"}))
                await ws.close()
                return ws
        else:
            resolution = None  # a 2025 model streams its one size
        session = StreamSession(ws, model, self.faults, self.pcs, self.host, self.port,
                                today=self.today, rooms=rooms, resolution=resolution, idle_timeout=self.idle_timeout)
        if self.taken == 0 and self.faults.drop_first_ws_after is not None:
            session.drop_after = self.faults.drop_first_ws_after
        self.taken += 1
        self.sessions.add(session)
        log.info("session %s: %s connected", session.id[:8], model.name)
        try:
            await session.run()
        finally:
            self.sessions.discard(session)
            log.info("session %s: ended", session.id[:8])
        if not self.sessions:  # between sessions: nothing is rendering while the heap is walked
            await asyncio.get_running_loop().run_in_executor(None, trim)
        return ws

    async def _tokens(self, request: web.Request) -> web.Response:
        if not self.keys.is_api_key(request.headers.get("X-API-KEY")):
            return web.json_response({"error": "Invalid API key"}, status=401)
        try:
            body = await request.json() if request.can_read_body else {}
        except (ValueError, RecursionError):  # not JSON, or nested too deeply for json
            return web.json_response({"error": "body must be JSON (an object, not nested thousands deep)"}, status=400)
        try:
            return web.json_response(self.keys.mint(body))
        except TokenRequestError as exc:
            return web.json_response({"error": str(exc)}, status=400)


    async def _watch_stream(self, request: web.Request) -> web.Response:
        """Viewer credentials for a live room: subscribe-only, as the cloud's /watch-stream.

        A browser page calls it from its own origin (the JS SDK's subscribe), hence CORS.
        """
        if not self.keys.is_api_key(request.headers.get("x-api-key")):
            return web.json_response({"error": "Invalid API key"}, status=401, headers=_CORS)
        name = request.match_info["room"]
        credentials = self.today.viewer_credentials(name)
        if credentials is None:
            return web.json_response({"error": f"room {name[:60]} is not live"}, status=404, headers=_CORS)
        return web.json_response(credentials, headers=_CORS)

    async def _watch_stream_preflight(self, request: web.Request) -> web.Response:
        return web.Response(status=204, headers={**_CORS, "Access-Control-Allow-Methods": "POST, OPTIONS",
                                                 "Access-Control-Allow-Headers": "x-api-key, content-type",
                                                 "Access-Control-Max-Age": "600"})


_CORS = {"Access-Control-Allow-Origin": "*"}


def _room_problem(model: ModelDefinition) -> str | None:
    if model.is_avatar:
        return f"{model.name} has no LiveKit session (retired in 2026 with every audio feature); use the 2025 protocol"
    return None


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
