"""One run of a show: the service, the session, the engine and the media around them.

`Run` owns every resource of a run and releases each exactly once, in reverse order, whatever
happens: a Ctrl-C while connecting, a failed ack, a service that goes away. The TUI, the headless
printer and the control servers all drive the same `Run`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from ..engine.clock import Clock, local_zone
from ..engine.engine import Engine
from ..engine.opening import open_at
from ..engine.journal import Journal, redact
from ..realtime import errors as rt_errors
from ..realtime.client import RealtimeClient
from ..realtime.models import ModelDefinition, realtime
from ..realtime.types import ModelState, Prompt, RealtimeConnectOptions
from ..show.model import ShowModel
from .backend import Backend, BackendError, open_backend
from .collector import Collector
from .priority import RealtimePriority
from .session_run import SessionRun

log = logging.getLogger(__name__)


# The embedded service is restarted when it dies, up to this many times within the window.
MAX_RESTARTS, RESTART_WINDOW_S = 3, 120.0


class RunError(Exception):
    """A run that cannot start: one line that says what and how to fix it."""


class UsageError(RunError):
    """A run that cannot start because an argument (or the show's source) is wrong: exit status 2."""


@dataclass
class RunOptions:
    headless: bool = False
    duration: float | None = None
    source: str | None = None
    record: str | None = None
    journal: str | None = None
    backend: str | None = None
    api_key: str | None = field(default=None, repr=False)
    protocol: str | None = None  # livekit | p2p; None: Backend.protocol_for decides
    faults: tuple[str, ...] = ()
    connect_timeout: float = 30.0
    osc_port: int | None = None
    midi_in: str | None = None  # the MIDI input port (cues, MIDI clock); None: the first there is
    http_port: int | None = None
    monitor: int | None = None
    watch: bool = False
    resume: str | None = None  # a journal to continue from (show time and state)
    realtime: bool = False  # real-time priority for this process's threads (runner/priority.py)
    node: str | None = None  # a show across machines: this machine's node (fleet/node.py)
    broker: str | None = None  # ... and the MQTT broker the fleet meets on
    fleet_token: bool = False  # ... and a client token from the fleet's controller instead of a key here

    def applied_to(self, show: ShowModel) -> ShowModel:
        """`show` with this run's overrides (`--duration`): at start and on every reload."""
        return replace(show, duration=self.duration) if self.duration is not None else show


def default_journal_path(show: ShowModel, now: datetime | None = None) -> Path:
    """`journals/<show>-<YYYYmmdd-HHMMSS>.jsonl` in the working folder."""
    now = now or datetime.now(local_zone())
    slug = re.sub(r"[^A-Za-z0-9]+", "-", show.name).strip("-").lower() or "show"
    return Path("journals") / f"{slug}-{now:%Y%m%d-%H%M%S}.jsonl"


# End reasons that mean the show did not play as written: the command exits 1 on them.
FAILED_ENDS = frozenset({"disconnected", "error", "service lost"})


def exit_code(reason: str) -> int:
    """The exit status of a run that ended for `reason`: 0 for a show that played (or was stopped)."""
    return 1 if reason in FAILED_ENDS else 0


def journal_problem(path: Path) -> str | None:
    """Why `path` cannot be a journal (a folder, an unwritable place), or None."""
    if path.is_dir():
        return f"--journal {path}: is a folder; give a file path such as {path / 'show.jsonl'}"
    return None


def open_journal(path: Path, now: Callable[[], tuple[str, float]]) -> Journal:
    """The run's journal, its folder made; a path that cannot be one is a RunError (one line)."""
    problem = journal_problem(path)
    if problem is None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            return Journal(path, now)
        except OSError as exc:
            problem = f"--journal {path}: cannot write it ({exc.strerror or exc}): give a writable file path"
    raise UsageError(problem)


def played_sessions(show: ShowModel, node: str | None = None) -> tuple[str, ...]:
    """The sessions a run plays: with `--node NAME`, that node's (`show.nodes[NAME]`), else all."""
    if node is not None and show.nodes and node in show.nodes:
        return tuple(show.nodes[node])
    return show.session_names()


class Run:
    def __init__(self, show: ShowModel, options: RunOptions, say: Callable[[str], None] = print) -> None:
        show = options.applied_to(show)
        self.show = show
        self.options = options
        self.say = say
        self.loop = asyncio.get_running_loop()
        self.clock = Clock(self.loop)
        self.journal_path = Path(options.journal) if options.journal else default_journal_path(show)
        self.journal = open_journal(self.journal_path, self._stamp)
        #: every session this run plays, by name, in show order (one-session show: {"main": ...})
        self.sessions: dict[str, SessionRun] = {
            name: SessionRun(name, show.session_spec(name), show.several, self.journal.write)
            for name in played_sessions(show, options.node)}
        self.model: ModelDefinition = self.first.model
        self.backend: Backend | None = None
        self.engine: Engine | None = None
        self.controls: Any = None
        self._calibrating: asyncio.Future[None] | None = None
        self._service_watch: asyncio.Future[None] | None = None
        self.on_reload: Callable[[ShowModel], None] | None = None  # the TUI shows reloads
        self.on_reload_error: Callable[[list[Any]], None] | None = None
        self._stop_reason: str | None = None
        self._stopping = asyncio.Event()
        self._closed = False
        self.started_at = time.perf_counter()
        self.priority = RealtimePriority()
        self.collector: Collector | None = None  # the cycle collector between cues (realtime only)
        self.fleet: Any = None  # fleet.node.FleetNode, with --node
        self.token_lifetime: int | None = None  # with --fleet-token: the node renews its token at half this

    # ------------------------------------------------------------ the first session (one-session code)

    @property
    def first(self) -> SessionRun:
        """The first session played: what one-session code (and the TUI's single view) reads."""
        return next(iter(self.sessions.values()))

    @property
    def several(self) -> bool:
        return len(self.sessions) > 1

    @property
    def session(self) -> RealtimeClient | None:
        return self.first.client

    @property
    def source(self) -> Any:
        return self.first.source

    @property
    def stamps(self) -> Any:
        return self.first.stamps

    @property
    def stats(self) -> Any:
        return self.first.stats

    @property
    def protocol(self) -> str:
        return self.first.protocol

    @property
    def latency_feed(self) -> Any:
        return self.first.latency_feed

    def _stamp(self) -> tuple[str, float]:
        t = self.engine.show_clock.t if self.engine is not None else 0.0
        return self.clock.wall().isoformat(), t

    # ------------------------------------------------------------------ lifecycle

    async def play(self) -> str:
        """Start everything, play the show to its end, release everything: the end reason."""
        if self.options.realtime:  # this thread's loop schedules the cues: it gets the top priority
            why_not = self.priority.engage(self.loop)
            if why_not:
                self.say(f"note: {why_not}")
        heartbeat = asyncio.ensure_future(self._heartbeat())
        try:
            starting = asyncio.ensure_future(self._start())
            if not await self._before_stop(starting):
                starting.cancel()
                try:
                    await starting
                except (asyncio.CancelledError, Exception):  # noqa: BLE001 - we are leaving anyway
                    pass
                reason = self._stop_reason or "stop"
                self.journal.write("show.end", reason=reason)
                return reason
            try:
                starting.result()
            except RunError as exc:
                self.journal.write("error", message=str(exc))
                self.journal.write("show.end", reason="error")
                raise
            except Exception as exc:  # our bug: a traceback in the log, and still a whole journal
                log.exception("the run could not start")
                self.journal.write("error", message=redact(f"the run could not start: {type(exc).__name__}: {exc}"))
                self.journal.write("show.end", reason="error")
                raise RunError(redact(f"the run could not start: {type(exc).__name__}: {exc}")) from exc
            assert self.engine is not None
            if self.options.realtime:
                self.collector = Collector(self.loop, self.clock)
                self.collector.start()
            playing = asyncio.ensure_future(self.engine.run())
            if self.backend is not None and self.backend.local:
                self._service_watch = asyncio.ensure_future(self._watch_service())
            if self.latency_feed is not None and self.engine.uses_auto_lookahead():
                self._calibrating = asyncio.ensure_future(self._calibrate())
            if not await self._before_stop(playing):
                self.engine.stop(self._stop_reason or "stop")
            return await playing
        finally:
            heartbeat.cancel()
            await self.close()

    async def _heartbeat(self, every: float = 1.0) -> None:
        """The journal's modification time follows the run, so `--resume` knows when a crashed run died."""
        while True:
            self.journal.touch()
            await asyncio.sleep(every)

    async def _before_stop(self, task: asyncio.Future[Any]) -> bool:
        """Wait for `task` or a stop request, whichever comes first; True when the task finished."""
        stop = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        return task.done()

    def request_stop(self, reason: str = "stop") -> None:
        """Ctrl-C, SIGTERM, `q` in the TUI: end the show cleanly from any phase."""
        if self._stop_reason is None:
            self._stop_reason = reason
        self._stopping.set()

    async def _start(self) -> None:
        initial = self.first.spec.initial  # the show's, or this node's first session's
        self.resume = None
        if self.options.resume:
            from .resume import ResumeError, read_resume

            try:
                self.resume = read_resume(self.options.resume)
            except ResumeError as exc:
                raise UsageError(str(exc)) from None
        start_fields: dict[str, Any] = {}
        if self.show.several:  # which sessions this run plays, each with its model
            start_fields["sessions"] = {name: s.model.name for name, s in self.sessions.items()}
        self.journal.write("run.start", show=self.show.name, model=self.model.name,
                           journal=str(self.journal_path),
                           initial={"prompt": initial.prompt, "enhance": initial.enhance,
                                    "image": initial.image, "mirror": initial.mirror}, **start_fields)
        for s in self.sessions.values():
            s.source = self._open_source(s)
        if self.options.fleet_token:
            from ..fleet.tokens import FleetError, node_token

            try:
                token, self.token_lifetime = await node_token(self.show, self.options.node, self.options.broker)
            except FleetError as exc:
                raise RunError(str(exc)) from None
            self.options = replace(self.options, api_key=token)
        try:
            self.backend = await open_backend(self.options.backend, self.options.api_key, self.options.faults)
        except BackendError as exc:
            from .backend import wants_local

            wrong = not wants_local(self.options.backend, self.options.api_key)  # a URL or key we were given
            raise (UsageError if wrong else RunError)(str(exc)) from None
        for s in self.sessions.values():
            s.protocol = self.backend.protocol_for(s.model, self.options.protocol)
        from ..realtime.urls import redact_url

        if self.show.several:
            self.say(f"backend: {self.backend.label}")
            for s in self.sessions.values():
                self.say(f"session {s.name}: {s.model.name} ({s.protocol})")
            self.journal.write("backend", url=redact_url(self.backend.url), local=self.backend.local,
                               protocols={s.name: s.protocol for s in self.sessions.values()})
        else:
            self.say(f"backend: {self.backend.label} ({self.protocol})")
            self.journal.write("backend", url=redact_url(self.backend.url), local=self.backend.local,
                               protocol=self.protocol)
        if self.resume is not None:
            self.journal.write("run.resume", journal=str(self.options.resume), t=self.resume.t,
                               state=self.resume.state)
        for s in self.sessions.values():
            s.journal("session.state", state="connecting", protocol=s.protocol)
        await self._connect_all()
        self._attach_sinks()
        clients = {name: s.client for name, s in self.sessions.items()}
        meters = {name: s.meter for name, s in self.sessions.items()}
        self.engine = Engine(self.show, clients, self.clock, self.journal, resume=self.resume, meter=meters)
        for s in self.sessions.values():
            s.meter.changed = self.engine.refresh_state
        if self.options.node is not None and self.options.broker is not None:  # the controller owns the clock
            from ..fleet.node import attach_node

            self.fleet = await attach_node(self.engine, self.options.node, self.options.broker, self.say,
                                           self.token_lifetime)
        first = self.first
        if first.stamps is not None:  # the local service stamps frames: `lookahead: auto` measures on them
            from ..engine.latency import LatencyFeed

            # One estimate for the show: measured on its first session (the sessions share the service).
            first.latency_feed = LatencyFeed(self.engine.latency, first.client, first.stamps, self.loop)
        for s in self.sessions.values():
            assert s.client is not None
            s.last_state = s.client.get_connection_state()
            s.client.on("connection_change", lambda state, s=s: self._on_connection(s, state))
        await self._start_controls()

    async def _connect_all(self) -> None:
        """Connect every session at once; if one cannot, the others are closed by `close()`."""
        if len(self.sessions) == 1:
            await self._connect(self.first)
            return
        tasks = {asyncio.ensure_future(self._connect(s)): s for s in self.sessions.values()}
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    async def _watch_service(self, every: float = 0.25) -> None:
        """The embedded service is this run's child: when it dies, start it again, or end the show.

        The client keeps reconnecting to the same URL; the restarted child listens there with the
        same key, and the reconnect catches up (`_on_connection`). When it cannot come back, the
        show ends 'service lost' (exit 1) instead of playing on against nothing.
        """
        backend = self.backend
        assert backend is not None
        restarts: list[float] = []
        while not self._closed and not self._stopping.is_set():
            await asyncio.sleep(every)
            how = backend.died
            if how is None or self._closed or self._stopping.is_set():
                continue
            now = time.monotonic()
            restarts = [t for t in restarts if now - t < RESTART_WINDOW_S]
            if len(restarts) >= MAX_RESTARTS:
                self._service_lost(f"the embedded local service died ({how}) {len(restarts) + 1} times within "
                                   f"{RESTART_WINDOW_S:.0f} s; giving up")
                return
            restarts.append(now)
            self.journal.write("service.died", reason=how)
            self.say(f"the embedded local service died ({how}); restarting it")
            try:
                await backend.restart()
            except BackendError as exc:
                self._service_lost(f"the embedded local service died ({how}); {exc}")
                return
            self.journal.write("service.restart", attempt=len(restarts))
            self.say("the embedded local service is back; reconnecting")

    def _service_lost(self, message: str) -> None:
        self.journal.write("error", message=message)
        self.say(f"error: {message}")
        self.request_stop("service lost")

    async def _calibrate(self) -> None:
        """`lookahead: auto` measures send-to-glass before the first cue (`latency.calibrate`)."""
        from ..engine.latency import calibrate, show_idle

        engine = self.engine
        assert engine is not None
        try:
            measured = await calibrate(self.latency_feed, show_idle(engine, self.clock))
        except Exception:  # noqa: BLE001 - the show plays on with the default estimate
            log.exception("lookahead calibration failed")
            return
        if measured:
            self.journal.write("lookahead.calibrated", latency_ms=[round(x * 1000.0, 1) for x in measured],
                               estimate_ms=round(engine.latency.seconds * 1000.0, 1))

    def _on_connection(self, s: SessionRun, state: Any) -> None:
        """After a reconnect, what should be showing now on that session goes out again (cues fired
        in its outage); the other sessions play on untouched."""
        previous, s.last_state = s.last_state, str(state)
        if previous == "reconnecting" and s.last_state in ("connected", "generating"):
            if s.stamps is not None:
                s.stamps.reset()
            if self.engine is not None:
                if self.several:
                    self.engine.catch_up(s.name)
                else:
                    self.engine.catch_up()
        elif (s.last_state == "disconnected" and not self._stopping.is_set() and not self._closed
              and not (s.client is not None and s.client.suspended)):
            s.lost = True
            s.journal("error", message="the session was lost and could not be re-established")
            if all(x.lost for x in self.sessions.values()):
                self.request_stop("disconnected")

    async def _start_controls(self) -> None:
        from ..control.servers import Controls

        assert self.engine is not None
        o = self.options
        self.controls = Controls(
            self.engine, self.session, osc_port=o.osc_port, http_port=o.http_port, monitor_port=o.monitor,
            midi=True if o.midi_in else None, midi_port=o.midi_in,
            watch=self.show.path if o.watch else None, say=self.say,
            on_reload=lambda show: self.on_reload and self.on_reload(show),
            on_reload_error=lambda problems: self.on_reload_error and self.on_reload_error(problems),
            adjust=o.applied_to,
            sessions={name: s.client for name, s in self.sessions.items()} if self.several else None)
        await self.controls.start()

    def _open_source(self, s: SessionRun) -> Any:
        """Session `s`'s source (`--source` stands in for every session's); None for an avatar."""
        if s.model.is_avatar:
            return None
        from ..media import SourceError, open_source

        spec = self.options.source or s.spec.source
        try:
            return open_source(spec, s.model.width, s.model.height, s.model.fps)
        except SourceError as exc:
            raise UsageError(f"{s.label()}{exc}") from None

    async def _connect(self, s: SessionRun) -> RealtimeClient:
        assert self.backend is not None
        initial = s.spec.initial
        now = {"prompt": initial.prompt, "enhance": initial.enhance, "image": initial.image,
               "mirror": initial.mirror}
        if self.resume is not None:  # each session shows at once what it showed in the resumed run
            if self.resume.sessions:
                part = self.resume.sessions.get(s.name)
                now.update(part.state if part is not None else {})
            elif s is self.first:
                now.update(self.resume.state)
        image = now["image"]
        state = ModelState(
            prompt=Prompt(now["prompt"], enrich=bool(now["enhance"])) if now["prompt"] else None,
            mirror=bool(now["mirror"]),
            image=Path(image) if image and "://" not in image else image,
        )
        # A show keeps trying for as long as it runs (every 10 s at most); a refused key still stops.
        options = RealtimeConnectOptions(model=s.model, initial_state=state,
                                         connect_timeout=self.options.connect_timeout,
                                         reconnect_attempts=None,
                                         protocol=s.protocol,  # type: ignore[arg-type]
                                         resolution=s.spec.resolution,  # type: ignore[arg-type]
                                         speed=s.spec.speed,  # type: ignore[arg-type]
                                         on_queue_position=s.meter.queue_position)
        # Outside opening hours the session waits, checked, for the engine to open it.
        closed = not open_at(self.show.session, self.clock.wall())
        try:
            client = await RealtimeClient.connect(self.backend.url, self.backend.api_key, s.source, options,
                                                  suspended=closed)
            # At once, before the client hands on what it held while connecting (one loop pass later).
            s.client = client
            # Why a session ended for good (a refused key after a restart): one clear journal line.
            client.on("error", lambda exc: s.journal("error", message=redact(str(exc))))
            s.meter.attach(client)
            return client
        except rt_errors.InvalidAPIKeyError as exc:
            raise RunError(f"{s.label()}the service refused the API key ({redact(str(exc))}): check --api-key or DECART_API_KEY") from None
        except rt_errors.DecartSDKError as exc:
            raise RunError(f"{s.label()}could not connect to the {self.backend.label}: {redact(str(exc))}") from None

    def _attach_sinks(self) -> None:
        """Stats, preview, stamps and the recording on every session (`out-NAME.mp4` when several)."""
        from ..media import RecorderError

        for s in self.sessions.values():
            try:
                s.attach_sinks(bool(self.backend is not None and self.backend.local), self.options.record,
                               on_error=lambda message, s=s: self._media_error(message, s))
            except RecorderError as exc:
                raise UsageError(str(exc)) from None
            if s.record_path is not None:
                self.say(f"recording: {s.record_path}")

    def _media_error(self, message: str, s: SessionRun) -> None:
        """A sink failed on the media thread (a full disk): journal it, the show goes on."""
        self.loop.call_soon_threadsafe(lambda: s.journal("error", message=message))

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.fleet is not None:
            await self.fleet.stop()
        if self.controls is not None:
            try:
                await self.controls.stop()
            except Exception as exc:  # noqa: BLE001 - the rest must still be released
                log.warning("stopping the control servers: %s", exc)
        if self._calibrating is not None:
            self._calibrating.cancel()
        if self._service_watch is not None:
            self._service_watch.cancel()
        # Every session at once: disconnects and recordings do not wait for each other.
        await asyncio.gather(*(s.close() for s in self.sessions.values()), return_exceptions=True)
        if self.backend is not None:
            await self.backend.close()
        if self.collector is not None:
            self.collector.stop()
            log.debug("cycle collector: %s", self.collector.describe())
        self.priority.release()
        self.journal.close()
