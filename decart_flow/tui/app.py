"""`decart-flow run` in a terminal: the show at a glance and under the performer's fingers.

The app renders state and sends intents; the engine owns every decision. The show plays on a
loop of its own (`ShowThread`): a repaint here never delays a cue or a frame there. The app reads
the latest `ShowState`, the journal and the stream's figures at a bounded rate (state 10 Hz,
preview 5 fps) into one `Glance`, its reactive attribute, which every widget is bound to; every
intent (keys, prompt box, image chooser, mirror, reload) goes to the show loop through
`ShowThread.call`. How the screen steps aside for cues is the runner's (runner/yielding.py).

A show of several sessions gets a column per session beside the timeline (tabs past three: see
session_view.py), each with that session's connection, picture, state and stream; GO and pause
stay show-wide, and the prompt box and the image chooser ask which session.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import logging
from collections import deque
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import numpy as np
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import TabbedContent, TabPane
from textual.events import Key
from textual.reactive import var
from textual.screen import ModalScreen
from textual.widgets import Footer

from ..control.watch import reload_problem
from ..engine.clock import local_zone
from ..engine.state import ShowState
from ..runner.run import Run, RunError, RunOptions, UsageError, exit_code, played_sessions
from ..runner.session_run import record_path
from ..runner.thread import RunFactory, ShowThread
from ..runner.yielding import CueGuard, run_guarded
from ..show import ShowError, load_show
from ..show.model import EventTrigger, ImageAction, MirrorAction, PromptAction, ShowModel
from .confirm_quit import ConfirmQuit
from .glance import Glance, go_target
from .glance_view import GlanceView
from .header import ShowHeader
from .tempo_view import TempoView
from .help_screen import HelpScreen
from .image_chooser import ImageChooser
from .journal_log import JournalLog
from .preview import PreviewView
from .prompt_box import PromptBox, PromptChoice
from .session_view import SIDE_BY_SIDE, SessionColumn
from .state_panel import StatePanel
from .stats_panel import StatsPanel
from .timeline import Timeline

STATE_HZ = 10.0
PREVIEW_FPS = 5.0
log = logging.getLogger(__name__)


def show_keys(show: ShowModel) -> list[tuple[str, str]]:
    """The show's `on: key K` cues as (key, cue name), in file order."""
    return [(c.trigger.arg, c.name) for c in show.cues
            if isinstance(c.trigger, EventTrigger) and c.trigger.kind == "key"]


class _LogTap(logging.Handler):
    """Warnings from any room go to the log pane, not over the screen."""

    def __init__(self, lines: deque[tuple[str, str]]) -> None:
        super().__init__(logging.WARNING)
        self.lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        style = "bold red" if record.levelno >= logging.ERROR else "yellow"
        try:
            self.lines.append((f"{record.levelname.lower()} {record.name}: {record.getMessage()}", style))
        except Exception:  # noqa: BLE001 - logging must never raise
            pass


class FlowApp(App[int]):
    """The glance flows down (`glance`, bound to every widget); intents go up to the show loop."""

    CSS_PATH = "app.tcss"
    TITLE = "decart-flow"
    BINDINGS = [
        Binding("space", "pause_resume", "pause"),
        Binding("enter,g", "go_next", "GO", key_display="g"),
        Binding("b", "go_back", "back"),
        Binding("p", "prompt", "prompt"),
        Binding("i", "image", "image"),
        Binding("m", "mirror", "mirror"),
        Binding("r", "reload", "reload"),
        Binding("t", "tap", "tap tempo", show=False),
        Binding("question_mark", "help", "help", key_display="?"),
        Binding("q", "request_quit", "quit"),
        Binding("ctrl+q,ctrl+c", "quit", "quit now", show=False, priority=True),
    ]
    #: what the screen draws now; `watch_glance` hands it to every GlanceView
    glance: var[Glance | None] = var(None)

    def __init__(
        self,
        show: ShowModel,
        options: RunOptions | None = None,
        *,
        live: bool = True,
        now: Callable[[], datetime] | None = None,
        still: Glance | None = None,
        still_frame: np.ndarray | None = None,
        run_factory: RunFactory = Run,
        guard: CueGuard | None = None,
    ) -> None:
        super().__init__()
        self.options = options or RunOptions()
        self.show = self.options.applied_to(show)  # the header shows the length the run plays (--duration)
        self.live = live
        self.now = now or (lambda: datetime.now(local_zone()))
        self.phase = "starting" if live else "playing"
        self.note: str | None = None
        self.exit_code = 0
        self._still = still
        self._still_frame = still_frame
        #: the show's loop; with `guard`, this app's loop steps aside for its timers (runner/yielding.py)
        self.show_thread = ShowThread(show, self.options, run_factory=run_factory, guard=guard)
        #: the show's end reason once its run closed (RunError if it could not start)
        self.finished: concurrent.futures.Future[str] = self.show_thread.finished
        self._lines: deque[tuple[str, str]] = deque(maxlen=500)
        self._state: ShowState | None = None
        self._connection = "connecting"
        self._ended_seen = False
        self._clip_lengths = show.clip_lengths()
        self._tap: _LogTap | None = None
        self._views: list[GlanceView] = []
        #: the sessions drawn side by side: a show of several's (this node's with --node); () for one
        played = played_sessions(self.show, self.options.node)
        self.session_names: tuple[str, ...] = played if len(played) > 1 else ()
        self._previews: dict[str, PreviewView] = {}

    # ------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield ShowHeader(id="header")
        yield TempoView(id="tempo")
        with Horizontal(id="body", classes="several" if self.session_names else ""):
            yield Timeline(id="timeline")
            if not self.session_names:
                with Vertical(id="side"):
                    yield PreviewView(id="preview")
                    yield StatePanel(id="state")
                    yield StatsPanel(id="stats")
            elif len(self.session_names) <= SIDE_BY_SIDE:
                with Horizontal(id="sessions"):
                    for name in self.session_names:
                        yield SessionColumn(name)
            else:
                with TabbedContent(id="sessions"):
                    for name in self.session_names:
                        with TabPane(name, id=f"tab-{name}"):
                            yield SessionColumn(name)
        yield JournalLog(id="log")
        yield Footer()

    def on_mount(self) -> None:
        # Kept by reference: while a dialog is up, queries would look in the dialog's screen.
        self._log_view = self.query_one(JournalLog)
        self._views = list(self.query(GlanceView))
        self.query_one("#timeline").border_title = "timeline"
        if self.session_names:
            self._previews = {c.session_name: c.preview for c in self.query(SessionColumn)}
        else:
            self._previews = {"": self.query_one(PreviewView)}
            self.query_one("#preview").border_title = "output"
            self.query_one("#state").border_title = "now"
            self.query_one("#stats").border_title = "stream"
        self._preview = next(iter(self._previews.values()))
        self.query_one("#log").border_title = "journal"
        if not self.live:
            self.glance = self._still
            for preview in self._previews.values():
                preview.show_frame(self._still_frame)
            return
        self._tap = _LogTap(self._lines)
        logging.getLogger().addHandler(self._tap)
        self.show_thread.start()
        self.set_interval(1.0 / STATE_HZ, self._tick)
        self.set_interval(1.0 / PREVIEW_FPS, self._preview_tick)
        self._tick()

    @property
    def show_run(self) -> Run | None:
        """The run on the show loop: read its figures here, call into it through `show_thread.call`."""
        return self.show_thread.run

    def _check_end(self) -> None:
        """Once the show thread finished: why, on the screen, once."""
        if self._ended_seen or not self.finished.done():
            return
        self._ended_seen = True
        exc = self.finished.exception()
        if isinstance(exc, RunError):
            self.phase, self.note, self.exit_code = "failed", f"error: {exc}", 2 if isinstance(exc, UsageError) else 1
            self._lines.append((f"error: {exc}", "bold red"))
        elif exc is not None:  # our bug: say it, keep the screen
            log.error("the run failed", exc_info=exc)
            self.phase, self.note, self.exit_code = "failed", f"error: {type(exc).__name__}: {exc}", 1
        else:
            reason = self.finished.result()
            if self.phase != "stopping":
                self.note = f"show ended ({reason}): q quits"
            self.phase = "ended"
            self.exit_code = exit_code(reason)

    # ------------------------------------------------------------ the bounded-rate tick

    def _tick(self) -> None:
        thread = self.show_thread
        run = thread.run
        if run is None or thread.guard.imminent():  # a cue is about to go out: it goes first
            return
        if not hasattr(self, "_journal_said"):
            self._journal_said = True
            self._lines.append((f"journal: {run.journal_path}", "dim"))
        for line in thread.drain_lines():
            self._lines.append((line, "dim"))
        state = thread.snapshot()
        if state is not None:
            self._state = state
            if self.phase == "starting":
                self.phase = "playing"
        self._check_end()
        records = thread.drain_records()
        for record in records:
            if record.get("event") == "session.state":
                self._connection = str(record.get("state", self._connection))
        log_view = self._log_view
        while self._lines:
            line, style = self._lines.popleft()
            log_view.add_line(line, style)
        if records:
            log_view.add_records(records)
        self.glance = self._glance()

    def watch_glance(self, glance: Glance | None) -> None:
        """Hand the new glance to every view at once, inside the tick the cue guard let run
        (a view repaints only when its own part changed)."""
        for view in self._views:
            view.glance = glance

    def _glance(self) -> Glance:
        state = self._state or ShowState(show=self.show.name, model=self.show.model, connection=self._connection)
        t = state.t
        if self._state is not None and state.started and not state.paused and state.ended is None:
            t += self.show_thread.snapshot_age()
        go_t, go_label = go_target(self.show, state)
        fps_in, fps_out, glass = self.show_thread.figures()
        audio_length = self._clip_lengths.get(state.audio) if state.audio is not None else None
        return Glance(
            state=state, t=t, wall=self.now(), duration=self.show.duration, go_t=go_t, go_label=go_label,
            fps_in=fps_in, fps_out=fps_out, glass_ms=glass, audio_length=audio_length, phase=self.phase,
            note=self.note, session_figures=self.show_thread.session_figures() if self.session_names else (),
        )

    def _preview_tick(self) -> None:
        run = self.show_run
        if self.show_thread.guard.imminent():
            return
        if run is None:
            return
        for name, view in self._previews.items():
            played = run.sessions.get(name) if name else run.first
            latest = getattr(played.preview if played is not None else None, "latest", None)
            if callable(latest):
                try:
                    view.show_frame(latest())
                except Exception as exc:  # noqa: BLE001 - a preview hiccup must not stop the screen
                    log.debug("preview: %s", exc)

    # ------------------------------------------------------------ intents (run on the show loop)

    def _intent(self, name: str, *args: Any, then: Callable[[Any], None] | None = None) -> None:
        """`engine.<name>(*args)` on the show loop; `then(result)` back here. Returns at once."""
        run = self.show_run
        engine = run.engine if run is not None else None
        if engine is None or self.phase in ("ended", "failed"):
            self.notify("the show is not playing", severity="warning", timeout=2)
            return
        here = asyncio.get_running_loop()

        def done(fut: concurrent.futures.Future[Any]) -> None:
            exc = fut.exception()
            if exc is not None:
                log.warning("%s: %s", name, exc)
            elif then is not None:
                try:
                    here.call_soon_threadsafe(then, fut.result())
                except RuntimeError:  # the app is gone: nobody to tell
                    pass

        self.show_thread.call(_engine_call, engine, name, args).add_done_callback(done)

    def action_pause_resume(self) -> None:
        self._intent("pause_or_resume")

    def action_go_next(self) -> None:
        self._intent("go_next", then=lambda ok: ok or self.notify("GO: no timeline entry left", timeout=2))

    def action_go_back(self) -> None:
        self._intent("go_back", then=lambda ok: ok or self.notify("GO back: nothing before this", timeout=2))

    def action_tap(self) -> None:
        """`t`: a tap of the tempo (a show's own `on: key t` cue keeps the key)."""
        if any(k == "t" for k, _ in show_keys(self.show)):
            self._intent("key", "t")
        elif self.show.tempo is not None:
            self._intent("tap")

    def action_mirror(self) -> None:
        self._intent("manual", MirrorAction("toggle"), "key m")

    def action_prompt(self) -> None:
        state = self._state
        current = state.prompt if state else self.show.initial.prompt
        enhance = state.enhance if state else self.show.initial.enhance

        def send(choice: PromptChoice | None) -> None:
            if choice is not None:
                self._manual(PromptAction(choice.text, enhance=choice.enhance), "prompt box", choice.to)

        self.push_screen(PromptBox(current, enhance, self.session_names), send)

    def action_image(self) -> None:
        base = self.show.path.parent if self.show.path is not None else Path.cwd()

        def send(choice: tuple[Any, ...] | None) -> None:
            if choice is not None:
                self._manual(ImageAction(image=choice[0]), "image chooser", choice[1] if len(choice) > 1 else None)

        self.push_screen(ImageChooser(base, self.session_names), send)

    def _manual(self, action: Any, source: str, to: tuple[str, ...] | None) -> None:
        """The prompt box's or the image chooser's action: to one session, or (None) every one."""
        if to is None:
            self._intent("manual", action, source)
        else:
            self._intent("manual_to", action, source, to)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(show_keys(self.show)))

    async def action_reload(self) -> None:
        path = self.show.path
        if path is None:
            self.notify("this show has no file to reload", severity="warning")
            return
        try:
            show = await asyncio.to_thread(load_show, path)
        except ShowError as exc:
            self.note = f"reload refused: {len(exc.problems)} problem(s), the show goes on"
            for problem in exc.problems:
                self._lines.append((f"reload: {problem}", "bold red"))
            self.notify(str(exc.problems[0]) if exc.problems else "reload refused", severity="error", timeout=6)
            return
        problem = reload_problem(path, self.show, show)
        if problem is not None:
            self.note = "reload refused: the show goes on"
            self._lines.append((f"reload: {problem}", "bold red"))
            self.notify(problem, severity="error", timeout=6)
            return
        show = self.options.applied_to(show)
        if self.show_run is None or self.show_run.engine is None or self.phase in ("ended", "failed"):
            self.notify("the show is not playing", severity="warning", timeout=2)
            return
        self._intent("reload", show)  # checked above, off the show loop; swapped in on it
        self.show = show
        self._clip_lengths = show.clip_lengths()
        self.note = f"reloaded {path.name}"

    def on_key(self, event: Key) -> None:
        """The show's own keys: any `on: key K` cue (they never clash with the bindings above)."""
        if isinstance(self.screen, ModalScreen):
            return
        keys = {k for k, _ in show_keys(self.show)}
        k = event.key if event.key in keys else event.character if event.character in keys else None
        if k is None:
            return
        event.stop()
        self._intent("key", k)

    # ------------------------------------------------------------ leaving

    def action_request_quit(self) -> None:
        if self.phase in ("ended", "failed") or not self.live:
            self.exit(self.exit_code, return_code=self.exit_code)
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self.run_worker(self._quit())

        self.push_screen(ConfirmQuit(), answer)

    async def action_quit(self) -> None:
        await self._quit()

    async def _quit(self) -> None:
        if self.phase not in ("ended", "failed"):
            self.phase, self.note = "stopping", "stopping: disconnecting and closing the recording…"
            if self.show_run is not None:
                self.glance = self._glance()
        await self.shutdown_run()
        self.exit(self.exit_code, return_code=self.exit_code)

    def leaving_lines(self) -> list[str]:
        """What the terminal keeps after the TUI closes: the end, the journal and the recording."""
        run = self.show_thread.run
        lines = []
        if self.finished.done():
            exc = self.finished.exception()
            lines.append(f"error: {exc}" if exc is not None else f"show ended: {self.finished.result()}")
        if run is not None:
            lines.append(f"journal: {run.journal_path}")
            if run.options.record:  # out.mp4, or out-NAME.mp4 for each of several sessions
                for name in run.sessions:
                    lines.append(f"recording: {record_path(run.options.record, name, run.show.several)}")
        return lines

    async def shutdown_run(self, timeout: float = 15.0) -> None:
        """End the run cleanly (disconnect, finalize the recording); safe to call more than once."""
        thread = self.show_thread
        if thread.alive and not self.finished.done():
            thread.request_stop("quit")
            try:
                await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(self.finished)), timeout)
            except asyncio.TimeoutError:
                log.error("the run did not stop within %.0f s", timeout)
            except Exception:  # noqa: BLE001 - a failed run is told by _check_end
                pass
        if self.finished.done():
            self._check_end()
        await asyncio.to_thread(thread.join, 2.0)
        if self._tap is not None:
            logging.getLogger().removeHandler(self._tap)
            self._tap = None


def _engine_call(engine: Any, name: str, args: tuple[Any, ...]) -> Any:
    """On the show loop: one intent (`pause_or_resume` is a toggle decided there)."""
    if name == "pause_or_resume":
        return engine.pause() or engine.resume()
    if name == "manual_to":  # (action, source, to): one session of several
        action, source, to = args
        return engine.manual(action, source, to=to)
    return getattr(engine, name)(*args)


def run_tui(show: ShowModel, options: RunOptions, args: argparse.Namespace | None = None) -> int:
    """Play `show` in the TUI until the operator quits; the exit code."""
    logging.getLogger().setLevel(logging.WARNING)

    guard = CueGuard()

    app = FlowApp(show, options, guard=guard)

    async def main() -> int:
        try:
            await app.run_async()
        finally:
            await app.shutdown_run()
        return app.exit_code if app.return_code is None else app.return_code

    try:
        return run_guarded(main, guard)
    finally:
        for line in app.leaving_lines():  # the screen is gone: where to find what the show left
            print(line, flush=True)
