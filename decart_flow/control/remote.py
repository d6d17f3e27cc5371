"""HTTP control: a JSON API, a live WebSocket, `on: http /path` cues and a remote page for a phone.

Everything listens on 127.0.0.1 and needs the run's token: `?token=T` once in the URL (the page
then keeps it in a cookie), or an `X-Token: T` / `Authorization: Bearer T` header. Anything else
gets 401. The token is random per run, printed once, compared in constant time, and never logged
(aiohttp's access log is off, and the journal redacts `token=`).

Routes (all need the token):
    GET  /                    the remote-control page (static/remote.html)
    GET  /api/state           {"state": ShowState, "cues": [...]}
    POST /api/go | /api/back | /api/pause | /api/resume      -> {"ok": bool}
    POST /api/prompt          {"text": "...", "enhance": true}  -> {"ok": true}
                              (a show of several sessions: "to": "left" or ["left", "right"]; none: all)
    GET  /api/live            WebSocket: {"type": "state"|"cues"|"journal", ...} pushed as they change
    POST /cue/<path>          fires `on: http /<path>`; 404 when no cue listens
    POST /<path>              the same, for any other path (so `on: http /scene` is POST /scene)
A cue's `{0}`, `{1}`... come from a JSON body `{"args": [...]}` (or a JSON list), else from the
query string values in order.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from aiohttp import WSMsgType, web

from .intents import CommandError, command
from .web import listen
from .snapshot import cues_json, state_json

if TYPE_CHECKING:
    from ..engine.engine import Engine

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
COOKIE = "decart_flow_token"


MAX_BODY = 64 * 1024  # a prompt is at most 1000 characters: a control request is small
MAX_DEPTH = 8  # {"args": [...]} is two deep; json.loads recurses once per level


class BadBody(ValueError):
    """A request body we do not act on: the reason goes back as a 400."""


async def _json(request: web.Request) -> Any:
    """The request's JSON body, or BadBody: never a RecursionError or a decoding traceback."""
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise BadBody(f"the body is over {MAX_BODY // 1024} KiB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadBody("the body must be JSON in UTF-8") from None
    if _depth(text) > MAX_DEPTH:
        raise BadBody(f"the JSON is nested more than {MAX_DEPTH} levels deep")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise BadBody("the body must be JSON") from None


def _depth(text: str) -> int:
    """How deep arrays and objects nest in JSON text (brackets inside strings do not count)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
        elif ch in "]}":
            depth -= 1
    return deepest


class HttpControl:
    """The control server of one run; symmetric `start()` / `stop()`, `url` once started."""

    def __init__(self, engine: Engine, port: int = 0, host: str = "127.0.0.1", token: str | None = None) -> None:
        self.engine = engine
        self.host = host
        self.port = port
        self.token = token or secrets.token_urlsafe(18)
        self._runner: web.AppRunner | None = None
        self._sockets: set[web.WebSocketResponse] = set()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    @property
    def login_url(self) -> str:
        """The URL to print once: it carries the token."""
        return f"{self.url}?token={self.token}"

    async def start(self) -> None:
        app = web.Application(middlewares=[self._auth])
        app.router.add_get("/", self._page)
        app.router.add_get("/api/state", self._state)
        app.router.add_post("/api/prompt", self._prompt)
        app.router.add_post("/api/{command:go|back|pause|resume}", self._command)
        app.router.add_get("/api/live", self._live)
        app.router.add_post("/cue/{path:.+}", self._cue)
        app.router.add_post("/{path:.+}", self._cue)
        self._runner, self.port = await listen(app, self.host, self.port)

    async def stop(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    # ------------------------------------------------------------ auth

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        offered = [request.headers.get("X-Token"), request.cookies.get(COOKIE), request.query.get("token"),
                   header[7:] if header.startswith("Bearer ") else None]
        expected = self.token.encode()
        # A header or cookie may hold anything, non-ASCII and undecodable bytes too: it is only unequal.
        return any(o is not None and hmac.compare_digest(o.encode("utf-8", "surrogateescape"), expected)
                   for o in offered)

    @web.middleware
    async def _auth(self, request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
        if not self._authorized(request):
            return web.json_response({"error": "token required: open the URL printed at start"}, status=401)
        if "token" in request.query and request.method == "GET" and request.path == "/":
            # keep the token in a cookie and out of the address bar (and out of screenshots)
            response = web.HTTPFound("/")
            response.set_cookie(COOKIE, self.token, httponly=True, samesite="Strict")
            raise response
        return await handler(request)

    # ------------------------------------------------------------ handlers

    async def _page(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "remote.html", headers={"Cache-Control": "no-store"})

    async def _state(self, request: web.Request) -> web.Response:
        return web.json_response({"state": state_json(self.engine.state.value), "cues": cues_json(self.engine.show)})

    async def _command(self, request: web.Request) -> web.Response:
        ok = command(self.engine, request.match_info["command"], source="http")
        return web.json_response({"ok": ok})

    async def _prompt(self, request: web.Request) -> web.Response:
        try:
            body = await _json(request)
            text = body.get("text") if isinstance(body, dict) else None
            enhance = bool(body.get("enhance", True)) if isinstance(body, dict) else True
            if not isinstance(text, str):
                raise CommandError("send {\"text\": \"...\", \"enhance\": true}")
            to = body.get("to")
            if isinstance(to, str):
                to = [to]
            if to is not None and not (isinstance(to, list) and all(isinstance(n, str) for n in to)):
                raise CommandError("\"to\": a session's name or a list of them")
            command(self.engine, "prompt", (text, enhance), source="http", to=to)
        except (CommandError, BadBody) as exc:
            return web.json_response({"ok": False, "error": str(exc)}, status=400)
        return web.json_response({"ok": True})

    async def _cue(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["path"].strip("/")
        args: list[Any] = list(request.query.values())
        if request.can_read_body:
            try:
                body = await _json(request)
            except BadBody as exc:
                return web.json_response({"ok": False, "error": str(exc)}, status=400)
            if isinstance(body, list):
                args = body
            elif isinstance(body, dict) and isinstance(body.get("args"), list):
                args = body["args"]
        if not all(isinstance(a, (str, int, float, bool)) or a is None for a in args):
            return web.json_response({"ok": False, "error": "args are texts or numbers, not lists or objects"},
                                     status=400)
        if not self.engine.fire_event("http", path, args):
            return web.json_response({"ok": False, "error": f"no cue listens to `on: http {path}`"}, status=404)
        return web.json_response({"ok": True})

    # ------------------------------------------------------------ live channel

    async def _live(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=10)
        await ws.prepare(request)
        self._sockets.add(ws)
        outbox: asyncio.Queue[str] = asyncio.Queue(maxsize=500)
        latest: dict[str, Any] = {}
        wake = asyncio.Event()
        shown = {"show": None}

        def on_state(state: Any) -> None:
            latest["state"] = state  # only the newest snapshot matters
            wake.set()

        def on_record(record: dict[str, Any]) -> None:
            if not outbox.full():
                outbox.put_nowait(json.dumps({"type": "journal", "record": record}, default=str))
            wake.set()

        subs = [self.engine.state.subscribe(on_state), self.engine.journal_events.subscribe(on_record)]

        async def push() -> None:
            try:
                await _push()
            except (ConnectionError, RuntimeError):  # the page went away mid-send
                pass

        async def _push() -> None:
            while not ws.closed:
                await wake.wait()
                wake.clear()
                if shown["show"] is not self.engine.show:
                    shown["show"] = self.engine.show
                    await ws.send_str(json.dumps({"type": "cues", "cues": cues_json(self.engine.show)}))
                while not outbox.empty():
                    await ws.send_str(outbox.get_nowait())
                state = latest.pop("state", None)
                if state is not None:
                    await ws.send_str(json.dumps({"type": "state", "state": state_json(state)}, default=str))

        pusher = asyncio.ensure_future(push())
        try:
            async for msg in ws:  # the page sends nothing we need; reading keeps the socket alive
                if msg.type == WSMsgType.ERROR:
                    break
        finally:
            for sub in subs:
                sub.dispose()
            pusher.cancel()
            self._sockets.discard(ws)
        return ws
