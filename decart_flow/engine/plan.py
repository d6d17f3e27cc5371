"""`plan`: the engine in virtual time with a session that acknowledges at once.

What `plan` lists is what `run` would send, cue for cue and choice for choice, because it is the
same engine: only the event loop's clock is virtual. `--for` defaults to the show's `duration`,
else one hour.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from ..show.model import ShowModel
from .clock import VirtualClock, local_zone
from .engine import Engine, fmt_t
from .loop import VirtualEventLoop

DEFAULT_FOR = 3600.0


@dataclass(frozen=True)
class Firing:
    t: float  # show seconds
    wall: datetime | None
    cue: str
    action: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"t": round(self.t, 6), "wall": self.wall.isoformat() if self.wall else None,
                "cue": self.cue, "action": self.action}


class VirtualSession:
    """A session that is generating from the start and acknowledges every call at once."""

    session_id: str | None = "plan"

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] | None = None  # set to [] to record calls

    async def set_prompt(self, text: str, enrich: bool = True) -> None:
        if self.calls is not None:
            self.calls.append(("set_prompt", (text, enrich)))

    async def set_image(self, image: Any, prompt: str | None = None, enrich: bool = True) -> None:
        if self.calls is not None:
            self.calls.append(("set_image", (image, prompt, enrich)))

    async def set_mirror(self, enabled: bool) -> None:
        if self.calls is not None:
            self.calls.append(("set_mirror", (enabled,)))

    async def play_audio(self, audio: Any) -> None:
        if self.calls is not None:
            self.calls.append(("play_audio", (audio,)))

    def is_connected(self) -> bool:
        return True

    def get_connection_state(self) -> str:
        return "generating"

    def on(self, event: str, callback: Callable[[Any], None]) -> None:
        pass

    def off(self, event: str, callback: Callable[[Any], None]) -> None:
        pass

    async def disconnect(self) -> None:
        pass


def plan(show: ShowModel, for_seconds: float | None = None, start_wall: datetime | None = None) -> list[Firing]:
    """Every action the show would perform in its first `for_seconds`, in order."""
    firings: list[Firing] = []
    stream(show, firings.append, for_seconds, start_wall)
    return firings


def stream(show: ShowModel, emit: Callable[[Firing], None], for_seconds: float | None = None,
           start_wall: datetime | None = None) -> int:
    """Like `plan`, handing each firing to `emit` as it happens (flat memory for a month of plan)."""
    if for_seconds is None:
        for_seconds = show.duration if show.duration is not None else DEFAULT_FOR
    loop = VirtualEventLoop()
    count = 0
    try:
        clock = VirtualClock(loop, start_wall)
        engine = Engine(show, VirtualSession(), clock, journal=None, observe_state=False)
        end_at = loop.time() + for_seconds

        failure: BaseException | None = None

        def record(t: float, wall: datetime, cue: str, action: dict[str, Any]) -> None:
            nonlocal count, failure
            if loop.time() < end_at - 1e-6 and failure is None:
                count += 1
                try:
                    emit(Firing(t, wall, cue, action))
                except BaseException as exc:  # the reader's problem (a closed pipe): stop, then raise it
                    failure = exc
                    engine.stop("error")

        engine.on_action.append(record)

        async def main() -> str:
            loop.call_at(end_at, engine.stop, "plan")
            return await engine.run()

        loop.run_until_complete(main())
        if failure is not None:
            raise failure
    finally:
        loop.close()
    return count


def plan_command(args: argparse.Namespace) -> int:
    from ..show import ShowError, load_show  # the loader is the show room's
    from ..show.times import parse_duration

    try:
        show = load_show(args.file)
    except ShowError as exc:
        for problem in exc.problems:
            print(problem)
        return 2
    try:
        for_seconds = _for_seconds(args.for_, parse_duration) if args.for_ else None
        start = datetime.fromisoformat(args.start) if args.start else datetime.now(local_zone())
    except ValueError as exc:
        print(f"decart-flow plan: {exc}", file=sys.stderr)
        return 2
    try:
        return _print_plan(show, for_seconds, start, args.json)
    except BrokenPipeError:  # `plan ... | head`: the reader has seen enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _for_seconds(text: str, parse_duration: Callable[[str], float]) -> float:
    """`--for`: any show duration, plus days (`30d`, `1d12h`), which a plan of an installation needs."""
    text = text.strip()
    days, sep, rest = text.partition("d")
    if sep and days.replace(".", "", 1).isdigit():
        return float(days) * 86400.0 + (parse_duration(rest) if rest else 0.0)
    return parse_duration(text)


def _print_plan(show: ShowModel, for_seconds: float | None, start: datetime, as_json: bool) -> int:
    out = sys.stdout
    if as_json:
        first = True

        def emit_json(f: Firing) -> None:
            nonlocal first
            out.write(("[\n " if first else ",\n ") + json.dumps(f.to_json()))
            first = False

        stream(show, emit_json, for_seconds, start)
        out.write("[]\n" if first else "\n]\n")
        return 0
    width = max([len("cue")] + [len(c.name) for c in show.cues] + [len("timeline 0:00:00.000")]) + len(" (catch-up)")
    out.write(f"{'show time':>10}  {'wall clock':<19}  {'cue':<{width}}  action\n")

    def emit_row(f: Firing) -> None:
        wall = f.wall.strftime("%Y-%m-%d %H:%M:%S") if f.wall else "-"
        out.write(f"{fmt_t(f.t):>10}  {wall:<19}  {f.cue:<{width}}  {describe(f.action)}\n")

    count = stream(show, emit_row, for_seconds, start)
    out.write(f"{count} firings\n")
    return 0


def describe(action: dict[str, Any]) -> str:
    parts = []
    for key, value in action.items():
        if key == "enhance" and value is True:
            continue
        parts.append(f"{key}: {value!r}" if isinstance(value, str) else f"{key}: {json.dumps(value)}")
    return ", ".join(parts)
