"""`plan`: the engine in virtual time with a session that acknowledges at once.

What `plan` lists is what `run` would send, cue for cue and choice for choice, because it is the
same engine: only the event loop's clock is virtual. `--for` defaults to the show's `duration`,
else one hour.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Callable

from ..show.model import ShowModel
from .clock import VirtualClock, local_zone
from .engine import Engine, fmt_t
from .loop import VirtualEventLoop

DEFAULT_FOR = 3600.0


class Firing:
    """One planned action: show seconds, wall clock, cue, action.

    The wall clock is worked out when first read (a month of plan makes 170,000 of these).
    """

    __slots__ = ("t", "cue", "action", "_wall", "_clock", "_mono")

    def __init__(self, t: float, wall: datetime | None, cue: str, action: dict[str, Any],
                 clock: VirtualClock | None = None, mono: float = 0.0) -> None:
        self.t, self.cue, self.action = t, cue, action
        self._wall, self._clock, self._mono = wall, clock, mono

    @property
    def wall(self) -> datetime | None:
        if self._wall is None and self._clock is not None:
            self._wall = self._clock.wall_at(self._mono)
        return self._wall

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Firing):
            return NotImplemented
        return (self.t, self.wall, self.cue, self.action) == (other.t, other.wall, other.cue, other.action)

    def __repr__(self) -> str:
        return f"Firing(t={self.t!r}, wall={self.wall!r}, cue={self.cue!r}, action={self.action!r})"

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
        """Returns when the clip would have finished, as the wire client does: its length in virtual time."""
        if self.calls is not None:
            self.calls.append(("play_audio", (audio,)))
        seconds = clip_seconds(str(audio)) if isinstance(audio, (str, os.PathLike)) else 0.0
        if seconds > 0:
            await asyncio.sleep(seconds)

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


@lru_cache(maxsize=256)
def clip_seconds(path: str) -> float:
    """An audio file's length, read once per file with PyAV (the loader has checked it decodes)."""
    import av  # only a show with audio pays for importing PyAV

    with av.open(path) as container:
        stream = container.streams.audio[0]
        if stream.duration and stream.time_base:
            return float(stream.duration * stream.time_base)
        if container.duration:
            return container.duration / av.time_base
        return sum(frame.samples / frame.sample_rate for frame in container.decode(stream))


def plan(show: ShowModel, for_seconds: float | None = None, start_wall: datetime | None = None) -> list[Firing]:
    """Every action the show would perform in its first `for_seconds`, in order."""
    firings: list[Firing] = []
    stream(show, firings.append, for_seconds, start_wall)
    return firings


def stream(show: ShowModel, emit: Callable[[Firing], None], for_seconds: float | None = None,
           start_wall: datetime | None = None) -> int:
    """Like `plan`, handing each firing to `emit` as it happens (flat memory for a month of plan)."""
    return stream_raw(show, lambda t, clock, mono, cue, action: emit(Firing(t, None, cue, action, clock, mono)),
                      for_seconds, start_wall)


RawEmit = Callable[[float, VirtualClock, float, str, dict[str, Any]], None]


def stream_raw(show: ShowModel, emit: RawEmit, for_seconds: float | None = None,
               start_wall: datetime | None = None) -> int:
    """`stream` without a `Firing` per firing: `emit(show t, clock, loop time, cue, action)`."""
    if for_seconds is None:
        for_seconds = show.duration if show.duration is not None else DEFAULT_FOR
    loop = VirtualEventLoop()
    count = 0
    try:
        clock = VirtualClock(loop, start_wall)
        engine = Engine(show, VirtualSession(), clock, journal=None, observe_state=False)
        end_at = loop.time() + for_seconds

        failure: BaseException | None = None

        def record(t: float, cue: str, action: dict[str, Any]) -> None:
            nonlocal count, failure
            now = loop.time()
            if now < end_at - 1e-6 and failure is None:
                count += 1
                try:
                    emit(t, clock, now, cue, action)
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
    """Stream the plan to stdout in chunks; a (cue, action) pair is formatted once, not per firing."""
    out = _Chunks(sys.stdout, json_list=as_json)
    walls: _WallText | None = None

    def wall_text(clock: VirtualClock) -> _WallText:
        nonlocal walls
        if walls is None:
            walls = _WallText(clock)
        return walls

    if as_json:
        def emit_json(t: float, clock: VirtualClock, mono: float, cue: str, action: dict[str, Any]) -> None:
            out.add(f'{{"t": {round(t, 6)!r}, "wall": "{(walls or wall_text(clock)).iso(mono)}", '
                    f'{_json_tail(cue, action)}')

        stream_raw(show, emit_json, for_seconds, start)
        out.close()
        return 0
    width = max([len("cue")] + [len(c.name) for c in show.cues] + [len("timeline 0:00:00.000")]) + len(" (catch-up)")
    out.add(f"{'show time':>10}  {'wall clock':<19}  {'cue':<{width}}  action")
    last_t, last_text = -1.0, ""

    def emit_row(t: float, clock: VirtualClock, mono: float, cue: str, action: dict[str, Any]) -> None:
        nonlocal last_t, last_text
        if t != last_t:  # firings at the same instant share their time columns
            last_t, last_text = t, f"{fmt_t(t):>10}  {(walls or wall_text(clock)).row(mono)}  "
        out.add(last_text + _row_tail(cue, action, width))

    count = stream_raw(show, emit_row, for_seconds, start)
    out.add(f"{count} firings")
    out.close()
    return 0


class _WallText:
    """A firing's wall clock as ISO text, cheaply: a month of plan is 170,000 of them.

    `VirtualClock.wall_at(mono)` is `start + timedelta(seconds=mono - start_mono)`, arithmetic on the
    start's fields; so within one minute of the result only the seconds (and microseconds) change.
    The minute's text (date, hour, minute, UTC offset) comes from `wall_at` itself, once a minute.
    """

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        start = clock.start_wall
        self._start_us = ((start.toordinal() * 86400 + start.hour * 3600 + start.minute * 60 + start.second)
                          * 1_000_000 + start.microsecond)
        self._minute: int | None = None
        self._head = self._head_row = self._offset = ""

    def _split(self, mono: float) -> tuple[int, int]:
        """(seconds, microseconds) of the wall clock at `mono`, with the minute's texts up to date."""
        td = timedelta(seconds=mono - self.clock.start_mono)  # exactly what `wall_at` adds
        minute, rest = divmod(self._start_us + (td.days * 86400 + td.seconds) * 1_000_000 + td.microseconds,
                              60_000_000)
        if minute != self._minute:
            wall = self.clock.wall_at(mono)
            text = wall.isoformat()  # YYYY-MM-DDTHH:MM:SS[.ffffff][+HH:MM]
            self._minute, self._head, self._head_row = minute, text[:17], wall.isoformat(" ")[:17]
            self._offset = text[26:] if wall.microsecond else text[19:]
        return divmod(rest, 1_000_000)

    def iso(self, mono: float) -> str:
        """`wall_at(mono).isoformat()`."""
        sec, micro = self._split(mono)
        return f"{self._head}{sec:02d}.{micro:06d}{self._offset}" if micro else f"{self._head}{sec:02d}{self._offset}"

    def row(self, mono: float) -> str:
        """`wall_at(mono).strftime("%Y-%m-%d %H:%M:%S")`."""
        sec = self._split(mono)[0]  # first: it brings the minute's text up to date
        return f"{self._head_row}{sec:02d}"


class _Chunks:
    """Lines gathered and written a few thousand at a time: a write per line costs as much as planning it.

    `json_list`: the lines are the items of a JSON list, written as `[`, items joined by commas, `]`.
    """

    SIZE = 2048

    def __init__(self, out: Any, json_list: bool = False) -> None:
        self.out, self.json_list = out, json_list
        self.lines: list[str] = []
        self.written = 0

    def add(self, line: str) -> None:
        self.lines.append(line)
        if len(self.lines) >= self.SIZE:
            self.flush()

    def flush(self) -> None:
        lines = self.lines
        if not lines:
            return
        if self.json_list:
            text = ("[\n " if not self.written else ",\n ") + ",\n ".join(lines)
        else:
            text = "\n".join(lines) + "\n"
        self.written += len(lines)
        lines.clear()
        self.out.write(text)

    def close(self) -> None:
        self.flush()
        if self.json_list:
            self.out.write("\n]\n" if self.written else "[]\n")


def _cached(fn: Callable[..., str]) -> Callable[..., str]:
    """Memoize a formatter on (cue, action items, ...), bounded: texts with event arguments vary."""
    cache: dict[Any, str] = {}

    def wrapper(cue: str, action: dict[str, Any], *rest: Any) -> str:
        try:
            key = (cue, tuple(action.items()), *rest)
            text = cache.get(key)
        except TypeError:  # an unhashable value: format it every time
            return fn(cue, action, *rest)
        if text is None:
            if len(cache) >= 4096:
                cache.clear()
            text = cache[key] = fn(cue, action, *rest)
        return text

    return wrapper


@_cached
def _row_tail(cue: str, action: dict[str, Any], width: int) -> str:
    return f"{cue:<{width}}  {describe(action)}"


@_cached
def _json_tail(cue: str, action: dict[str, Any]) -> str:
    return f'"cue": {json.dumps(cue)}, "action": {json.dumps(action)}}}'


def describe(action: dict[str, Any]) -> str:
    parts = []
    for key, value in action.items():
        if key == "enhance" and value is True:
            continue
        parts.append(f"{key}: {value!r}" if isinstance(value, str) else f"{key}: {json.dumps(value)}")
    return ", ".join(parts)
