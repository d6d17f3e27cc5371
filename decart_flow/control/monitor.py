"""`--monitor PORT`: the transformed stream re-served to a browser for a projector.

A page with one full-screen <video> (static/monitor.html) offers to receive video; we answer with
aiortc on a media loop of our own (encoding must not share a loop with the show engine or the
client's media), with ICE on 127.0.0.1 only. `FrameRelay` is a frame sink on the session: it runs
on the client's media thread, keeps the newest frame and wakes each viewer's track on the monitor
loop. A slow viewer skips frames rather than queueing them.

The page needs the run's monitor token (printed once at start, `?token=T`, then kept in a cookie),
and at most MAX_VIEWERS peer connections live at once: an offer that never connects is closed
after CONNECT_TIMEOUT_S, so abandoned offers do not keep sockets and encoders.

Browsers leave loopback out of their candidates unless started with
`--allow-loopback-in-peer-connection` (and, for Chrome, `--disable-features=WebRtcHideLocalIpsWithMdns`).
With `loopback_only=False` both sides use this machine's host addresses instead.

A show of several sessions has a relay per session: `/session/NAME` is that session's output full
screen (its page offers to `/session/NAME/offer`), and `/` puts every session side by side, each in
a frame of its own `/session/NAME` page with its name over it. A one-session show's page is `/`.
"""

from __future__ import annotations

import asyncio
import fractions
import hmac
import html
import logging
import secrets
import threading
import time
from pathlib import Path
from typing import Any

import av
from aiohttp import web
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from ..realtime.loopback import LOOPBACK, loopback_candidates
from ..realtime.media_loop import MediaLoop
from ..realtime.memory import trim
from .web import listen

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
CLOCK_RATE = 90000
MAX_VIEWERS = 4  # a projector or two, and a preview: each costs an encoder
CONNECT_TIMEOUT_S = 20.0  # an answered offer that has not connected by then is closed
TRIM_AFTER_S = 2.0  # after a viewer leaves, its memory is handed back to the OS this much later
COOKIE = "decart_flow_monitor"
TIME_BASE = fractions.Fraction(1, CLOCK_RATE)


class FrameRelay:
    """A frame sink: the newest frame, handed to every viewer track (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._frame: av.VideoFrame | None = None
        self._count = 0
        self._tracks: set[RelayTrack] = set()

    def __call__(self, frame: av.VideoFrame) -> None:  # the client's media thread
        with self._lock:
            self._frame = frame
            self._count += 1
            tracks = list(self._tracks)
        for track in tracks:
            track.wake()

    def latest(self) -> tuple[int, av.VideoFrame | None]:
        with self._lock:
            return self._count, self._frame

    def attach(self, track: RelayTrack) -> None:
        with self._lock:
            self._tracks.add(track)

    def detach(self, track: RelayTrack) -> None:
        with self._lock:
            self._tracks.discard(track)


class RelayTrack(MediaStreamTrack):
    """One viewer's video: the relay's frames, re-timed on our own clock (lives on the monitor loop)."""

    kind = "video"

    def __init__(self, relay: FrameRelay, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._relay = relay
        self._loop = loop
        self._new = asyncio.Event()
        self._seen = -1
        self._start: float | None = None
        relay.attach(self)

    def wake(self) -> None:
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._new.set)

    async def recv(self) -> av.VideoFrame:
        while True:
            count, frame = self._relay.latest()
            if frame is not None and count != self._seen:
                break
            self._new.clear()
            await self._new.wait()
        self._seen = count
        # A frame of our own: the session's frame is shared with the recorder and the preview.
        out = av.VideoFrame.from_ndarray(frame.to_ndarray(format="yuv420p"), format="yuv420p")
        now = time.monotonic()
        if self._start is None:
            self._start = now
        out.pts = int((now - self._start) * CLOCK_RATE)
        out.time_base = TIME_BASE
        return out

    def stop(self) -> None:
        self._relay.detach(self)
        super().stop()


def loopback_sdp(sdp: str) -> str:
    """The offer with every ICE candidate that is not on 127.0.0.1 removed: we send nowhere else."""
    lines = sdp.splitlines()
    kept = [ln for ln in lines if not ln.startswith("a=candidate:") or f" {LOOPBACK} " in ln]
    return "\r\n".join(kept) + "\r\n"


class MonitorServer:
    """The projector page and its WebRTC answers; symmetric `start()` / `stop()`.

    `session` is anything with `add_frame_sink` / `remove_frame_sink` (the realtime client); a show
    of several sessions passes `sessions`, each by name (then `session` is not used), and each
    session may have `max_viewers` viewers.
    """

    def __init__(self, session: Any, port: int = 0, host: str = "127.0.0.1", loopback_only: bool = True,
                 token: str | None = None, max_viewers: int = MAX_VIEWERS,
                 sessions: dict[str, Any] | None = None) -> None:
        self.sessions: dict[str, Any] = dict(sessions) if sessions else {"": session}
        self.session = next(iter(self.sessions.values()))
        self.host = host
        self.port = port
        self.loopback_only = loopback_only
        self.token = token or secrets.token_urlsafe(18)
        self.max_viewers = max_viewers * len(self.sessions)
        self.relays = {name: FrameRelay() for name in self.sessions}
        self.relay = next(iter(self.relays.values()))  # the first (the only one of a one-session show)
        self._media = MediaLoop("decart-monitor")
        self._pcs: set[RTCPeerConnection] = set()
        self._timers: set[asyncio.Future[None]] = set()  # on the monitor loop: closes offers that never connect
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    @property
    def login_url(self) -> str:
        """The URL to print once: it carries the token."""
        return f"{self.url}?token={self.token}"

    def _authorized(self, request: web.Request) -> bool:
        offered = [request.query.get("token"), request.cookies.get(COOKIE), request.headers.get("X-Token")]
        expected = self.token.encode()
        return any(o is not None and hmac.compare_digest(o.encode("utf-8", "surrogateescape"), expected)
                   for o in offered)

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if not self._authorized(request):
            return web.json_response({"error": "token required: open the monitor URL printed at start"}, status=401)
        if "token" in request.query and request.method == "GET" and request.path in self._pages():
            response = web.HTTPFound(request.path)  # the token goes to a cookie, out of the address bar
            response.set_cookie(COOKIE, self.token, httponly=True, samesite="Strict")
            raise response
        return await handler(request)

    @property
    def several(self) -> bool:
        return "" not in self.sessions

    def _pages(self) -> set[str]:
        return {"/"} | {f"/session/{name}" for name in self.sessions if name}

    def session_url(self, name: str) -> str:
        """One session's page (a show of several)."""
        return f"{self.url}session/{name}"

    async def start(self) -> None:
        self._media.start()
        for name, session in self.sessions.items():
            session.add_frame_sink(self.relays[name])
        app = web.Application(middlewares=[self._auth])
        if self.several:
            app.router.add_get("/", self._side_by_side)
            app.router.add_get("/session/{name}", self._page)
            app.router.add_post("/session/{name}/offer", self._offer)
        else:
            app.router.add_get("/", self._page)
            app.router.add_post("/offer", self._offer)
        self._runner, self.port = await listen(app, self.host, self.port)

    async def stop(self) -> None:
        for name, session in self.sessions.items():
            try:
                session.remove_frame_sink(self.relays[name])
            except Exception:  # noqa: BLE001 - a session already gone is fine
                pass
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        if self._media.running:
            await self._media.run(self._close_all())
        self._media.stop()

    @property
    def viewers(self) -> int:
        return len(self._pcs)

    def _relay_of(self, request: web.Request) -> FrameRelay:
        """The relay a page or an offer is for: raises 404 for a session the show does not have."""
        name = request.match_info.get("name", "")
        relay = self.relays.get(name)
        if relay is None:
            raise web.HTTPNotFound(text=f"no session {name[:60]!r}: this show has {', '.join(self.sessions)}")
        return relay

    async def _page(self, request: web.Request) -> web.StreamResponse:
        self._relay_of(request)
        return web.FileResponse(STATIC / "monitor.html", headers={"Cache-Control": "no-store"})

    async def _side_by_side(self, request: web.Request) -> web.StreamResponse:
        """Every session of the show in a row (a grid past three), each its own page in a frame."""
        cells = "".join(
            f'<figure><iframe src="/session/{html.escape(name)}" allow="autoplay" title="{html.escape(name)}">'
            f'</iframe><figcaption>{html.escape(name)}</figcaption></figure>' for name in self.sessions)
        columns = min(3, len(self.sessions))
        page = (STATIC / "monitor_sessions.html").read_text(encoding="utf-8")
        page = page.replace("{columns}", str(columns)).replace("{cells}", cells)
        return web.Response(text=page, content_type="text/html", headers={"Cache-Control": "no-store"})

    async def _offer(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            sdp, kind = body["sdp"], body.get("type", "offer")
            if not isinstance(sdp, str) or kind != "offer":
                raise ValueError("not an offer")
        except (ValueError, KeyError, TypeError) as exc:
            return web.json_response({"error": f"send {{\"sdp\": ..., \"type\": \"offer\"}} ({exc})"}, status=400)
        if self.loopback_only:
            sdp = loopback_sdp(sdp)
        relay = self._relay_of(request)
        if len(self._pcs) >= self.max_viewers:
            return web.json_response({"error": f"the monitor serves at most {self.max_viewers} viewers; "
                                               "close another first"}, status=503)
        try:
            answer = await self._media.run(self._answer(sdp, relay))
        except Exception as exc:  # noqa: BLE001 - a bad offer is the viewer's problem, not the show's
            log.warning("monitor: offer refused: %s", exc)
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"sdp": answer, "type": "answer"})

    async def _answer(self, sdp: str, relay: FrameRelay) -> str:  # on the monitor loop
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self._pcs.add(pc)
        track = RelayTrack(relay, asyncio.get_running_loop())

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed") and pc in self._pcs:
                await self._drop(pc, track)

        try:
            pc.addTrack(track)
            await pc.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
            answer = await pc.createAnswer()
            with loopback_candidates(self.loopback_only):
                await pc.setLocalDescription(answer)
        except Exception:
            track.stop()
            self._pcs.discard(pc)
            await pc.close()
            raise

        async def close_unless_connected() -> None:
            await asyncio.sleep(CONNECT_TIMEOUT_S)
            if pc in self._pcs and pc.connectionState != "connected":
                log.info("monitor: a viewer did not connect within %.0f s; closed", CONNECT_TIMEOUT_S)
                await self._drop(pc, track)

        self._later(close_unless_connected())
        return pc.localDescription.sdp

    async def _drop(self, pc: RTCPeerConnection, track: RelayTrack) -> None:
        """A viewer gone: its track and peer connection closed, and its encoder's memory given back.

        A 720p encoder and its buffers are ~70 MB; glibc keeps freed heap in the monitor thread's
        arena (4 viewers left ~300 MB behind) unless asked to return it.
        """
        track.stop()
        self._pcs.discard(pc)
        await pc.close()
        self._later(self._trim_later())

    def _later(self, coro: Any) -> None:
        """A task on the monitor loop that `_close_all` cancels."""
        timer = asyncio.ensure_future(coro)
        self._timers.add(timer)
        timer.add_done_callback(self._timers.discard)

    @staticmethod
    async def _trim_later() -> None:
        await asyncio.sleep(TRIM_AFTER_S)  # the encoder's threads and cycles let go of it first
        await asyncio.to_thread(trim)

    async def _close_all(self) -> None:
        for timer in list(self._timers):
            timer.cancel()
        pcs, self._pcs = list(self._pcs), set()
        await asyncio.gather(*(pc.close() for pc in pcs), return_exceptions=True)
