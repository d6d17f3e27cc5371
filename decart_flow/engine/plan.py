"""`plan`: the engine in virtual time with a session that acknowledges at once.

What `plan` lists is what `run` would send, cue for cue and choice for choice, because it is the
same engine: only the event loop's clock is virtual. `--for` defaults to the show's `duration`,
else one hour.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import marshal
import math
import os
import struct
import sys
import traceback
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, Callable

from ..show.model import ShowModel
from .clock import VirtualClock, local_zone
from .engine import Engine, fmt_t
from .executor import ACKED, Acked
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
    """A session that is generating from the start and acknowledges every call at once.

    The calls are plain functions returning `ACKED` (awaitable, complete): the executor then needs
    no coroutine per call. Audio is a coroutine, since it lasts the clip's length.
    """

    session_id: str | None = "plan"
    acks_at_once = True  # every call but audio returns `ACKED`: the engine may take its lean way (engine/compiled.py)

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] | None = None  # set to [] to record calls

    def set_prompt(self, text: str, enrich: bool = True) -> Acked:
        if self.calls is not None:
            self.calls.append(("set_prompt", (text, enrich)))
        return ACKED

    def set_image(self, image: Any, prompt: str | None = None, enrich: bool = True) -> Acked:
        if self.calls is not None:
            self.calls.append(("set_image", (image, prompt, enrich)))
        return ACKED

    def set_mirror(self, enabled: bool) -> Acked:
        if self.calls is not None:
            self.calls.append(("set_mirror", (enabled,)))
        return ACKED

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
Row = tuple[float, float, str, dict[str, Any]]  # (show t, loop time, cue, action)
OnBatch = Callable[[VirtualClock, list[Row]], None]


def stream_raw(show: ShowModel, emit: RawEmit, for_seconds: float | None = None,
               start_wall: datetime | None = None) -> int:
    """`stream` without a `Firing` per firing: `emit(show t, clock, loop time, cue, action)`."""

    def on_batch(clock: VirtualClock, rows: list[Row]) -> None:
        for t, mono, cue, action in rows:
            emit(t, clock, mono, cue, action)

    return stream_batches(show, on_batch, for_seconds, start_wall, size=1)


def stream_batches(show: ShowModel, on_batch: OnBatch, for_seconds: float | None = None,
                   start_wall: datetime | None = None, size: int = 2048) -> int:
    """The firings `size` at a time: `on_batch(clock, rows)`, rows `(show t, loop time, cue, action)`.

    What the printer wants: a row costs a tuple, not a call. `rows` is emptied after each call.
    """
    if for_seconds is None:
        for_seconds = show.duration if show.duration is not None else DEFAULT_FOR
    loop = VirtualEventLoop()
    rows: list[Row] = []
    count = 0
    try:
        clock = VirtualClock(loop, start_wall)
        engine = Engine(show, VirtualSession(), clock, journal=None, observe_state=False)
        end_at = loop.time() + for_seconds
        cutoff = end_at - 1e-6  # a firing at the end itself is not listed
        now, append = loop.time, rows.append
        failure: BaseException | None = None

        def flush() -> None:
            nonlocal count, failure
            count += len(rows)
            try:
                on_batch(clock, rows)
            except BaseException as exc:  # the reader's problem (a closed pipe): stop, then raise it
                failure = exc
                engine.stop("error")
            rows.clear()

        def record(t: float, cue: str, action: dict[str, Any]) -> None:
            at = now()
            if at < cutoff and failure is None:
                append((t, at, cue, action))
                if len(rows) >= size:
                    flush()

        engine.on_action.append(record)

        async def main() -> str:
            loop.call_at(end_at, engine.stop, "plan")
            return await engine.run()

        loop.run_until_complete(main())
        if rows and failure is None:
            flush()
        if failure is not None:
            raise failure
    finally:
        loop.close()
    return count


def plan_command(args: argparse.Namespace) -> int:
    from ..runner.backend import targets_cloud
    from ..show import ShowError, load_show  # the loader is the show room's
    from ..show.times import parse_duration

    try:
        show = load_show(args.file, cloud=targets_cloud(getattr(args, "backend", None), getattr(args, "api_key", None)))
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
    span = for_seconds if for_seconds is not None else (show.duration if show.duration is not None else DEFAULT_FOR)
    try:  # the wall clock of the whole plan, and a day of a cron rule's look beyond it, must be a datetime
        start + timedelta(seconds=span, days=2)
        start - timedelta(days=2)
        overflow = False
    except OverflowError:
        overflow = True
    if overflow:
        print(f"decart-flow plan: --start {args.start}: the plan would run past the years 1-9999 a clock can "
              "show; give a --start nearer today or a shorter --for", file=sys.stderr)
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


def _print_plan(show: ShowModel, for_seconds: float | None, start: datetime, as_json: bool,
                fork: bool = True) -> int:
    """Stream the plan to stdout a batch of rows at a time (see `_Printer`), a long one through `_Relay`."""
    out = sys.stdout
    if as_json:
        printer = _Printer(out, None)
        relay = _Relay(printer.json_rows, out, fork)
    else:
        width = max([len("cue")] + [len(c.name) for c in show.cues] + [len("timeline 0:00:00.000")]) + len(" (catch-up)")
        out.write(f"{'show time':>10}  {'wall clock':<19}  {'cue':<{width}}  action\n")
        relay = _Relay(_Printer(out, width).table_rows, out, fork)
    try:
        count = stream_batches(show, relay, for_seconds, start)
    finally:
        relay.close()  # the child has printed everything when this returns
    if as_json:
        out.write("\n]\n" if count else "[]\n")
    else:
        out.write(f"{count} firings\n")
    return 0


_PICKLED = 0x80000000  # a batch's length word: this bit set when marshal could not take it


class _Relay:
    """`on_batch` for the printer: the first batch printed here, the rest by a child process.

    A month of plan is 170,000 rows, and printing them is a fifth of the command's time. A machine
    with two cores can give the printer one and the engine the other: the child, forked at the
    second batch, inherits the printer as it stands (its caches, the wall clock's minute) and prints
    each batch the engine sends over a pipe. A short plan never forks; neither does a platform
    without `fork`, an output that is not a file, or `fork=False`. The batches' rows are marshalled
    (a fraction of a microsecond a row), pickled when a value is something marshal cannot write.
    """

    def __init__(self, print_batch: OnBatch, out: Any, fork: bool = True) -> None:
        self.print_batch, self.out = print_batch, out
        self.fork = fork and hasattr(os, "fork") and os.cpu_count() != 1
        self.pid: int | None = None
        self.pipe: Any = None
        self.batches = 0

    def __call__(self, clock: VirtualClock, rows: list[Row]) -> None:
        self.batches += 1
        if self.pid is None and (self.batches == 1 or not self._start(clock)):
            self.print_batch(clock, rows)
            return
        try:
            data, flag = marshal.dumps(rows), 0
        except ValueError:  # a value marshal cannot write (rare: event arguments, a str subclass)
            import pickle

            data, flag = pickle.dumps(rows, pickle.HIGHEST_PROTOCOL), _PICKLED
        self.pipe.write(struct.pack("=I", len(data) | flag))
        self.pipe.write(data)

    def _start(self, clock: VirtualClock) -> bool:
        if not self.fork:
            return False
        try:
            self.out.fileno()
        except (AttributeError, OSError, ValueError):  # a StringIO, pytest's capture: the child's writes would be lost
            return False
        self.out.flush()  # else the child would print what is still buffered a second time
        read, write = os.pipe()
        try:  # room for several batches (Linux): the engine runs on while the printer catches up
            import fcntl

            fcntl.fcntl(write, fcntl.F_SETPIPE_SZ, 1 << 20)
        except (ImportError, AttributeError, OSError):
            pass
        self.pid = os.fork()
        if self.pid == 0:
            os.close(write)
            os._exit(self._child(clock, read))  # never back into the engine's loop or the parent's cleanup
        os.close(read)
        self.pipe = os.fdopen(write, "wb", buffering=1 << 16)
        return True

    def _child(self, clock: VirtualClock, read: int) -> int:
        try:
            with os.fdopen(read, "rb") as pipe:
                while head := pipe.read(4):
                    (size,) = struct.unpack("=I", head)
                    data = pipe.read(size & ~_PICKLED)
                    if size & _PICKLED:
                        import pickle

                        self.print_batch(clock, pickle.loads(data))
                    else:
                        self.print_batch(clock, marshal.loads(data))
            self.out.flush()
            return 0
        except BrokenPipeError:  # the reader of stdout went away: the parent finds its pipe closed
            return 0
        except KeyboardInterrupt:
            return 130
        except BaseException:  # noqa: BLE001 - a bug of ours: say it, and the parent fails too
            traceback.print_exc()
            sys.stderr.flush()
            return 1

    def close(self) -> None:
        """Wait for the child to print what it was sent; raise if it failed."""
        if self.pid is None:
            return
        pid, self.pid = self.pid, None
        try:
            self.pipe.close()
        except BrokenPipeError:
            pass
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if code == 130:
            raise KeyboardInterrupt
        if code != 0:
            raise RuntimeError(f"the plan's printer process failed (exit status {code})")


_SS = tuple(f"{i:02d}" for i in range(60))  # seconds of a minute as the columns write them
_SS2 = tuple(f"{i:02d}  " for i in range(60))  # ... and the two spaces after the column
# Seconds into a minute, looked up by float: `_SECS.get(x - x0)` (x0 a whole second that starts the
# minute, x below 2**53) is an int exactly when x is a whole second of that minute: x - x0 is exact
# for x >= x0 (both multiples of x's ulp), and negative (so missing) for x < x0.
_SECS = {float(i): i for i in range(60)}


def _show_head(minute: int) -> str:
    """`fmt_t` of a whole second in this minute, right-aligned to 10, less its two digits."""
    hours, m = divmod(minute, 60)
    return f"{f'{hours}:{_SS[m]}:':>8}" if hours else _FIRST_HOUR[m]


_FIRST_HOUR = tuple(f"{f'{m}:':>8}" for m in range(60))
_HHMM = tuple(f"{h:02d}:{m:02d}:" for h in range(24) for m in range(60))  # a minute of the day as ISO writes it
_LAST_DAY = date.max.toordinal()
_WHOLE = 10**15  # below this a float that equals an int is that int exactly


class _Printer:
    """Rows of the table or items of the JSON list, a batch per write.

    A month of plan is 170,000 rows, so the common case is cheap: a firing at a whole second of
    show time and of wall clock (the start's fraction aside) costs two dict lookups and one string,
    inline. Its minute's texts (show time `H:MM:`, the wall clock's date, hour, minute and UTC
    offset, through `_WallText`) are worked out once a minute, and a (cue, action) pair is
    formatted once (`_tail`). Anything else takes the general way (`fmt_t`, `_WallText`), which
    gives the same text.
    """

    def __init__(self, out: Any, width: int | None) -> None:
        self.out, self.width = out, width
        self.written = 0
        self.walls: _WallText | None = None
        self._last_t: float | None = None
        self._last_cols = ("", "", "", "")  # the last row's time columns, in four pieces (see `table_rows`)
        # The minutes the last whole-second row was in: show time and wall clock offset (from the
        # start) at the minute's second 0, and the minute's texts (see `table_rows`, `json_rows`).
        self._t0 = self._m0 = math.nan
        self._show_head = self._wall_head = self._wall_offset = ""
        self._tails: dict[Any, str] = {}

    def table_rows(self, clock: VirtualClock, rows: list[Row]) -> None:
        walls = self.walls or self._walls(clock)
        start_mono, start_s = walls.start_mono, walls.start_s
        last_t, (a, b, c, d) = self._last_t, self._last_cols
        t0, show_head, m0, wall_head = self._t0, self._show_head, self._m0, self._wall_head
        tails, tail_of, secs = self._tails, self._tail, _SECS
        lines: list[str] = []
        append = lines.append
        for t, mono, cue, action in rows:
            if t != last_t:  # firings at the same instant share their time columns
                last_t = t
                offset = mono - start_mono
                # A whole second inside the minutes last seen: one lookup each (see `_SECS`).
                sec, wall_sec = secs.get(t - t0), secs.get(offset - m0)
                if sec is None or wall_sec is None:
                    whole, seconds = int(t), int(offset)
                    if whole == t and seconds == offset and 0 <= whole < _WHOLE and 0 <= seconds < _WHOLE:
                        minute, sec = divmod(whole, 60)
                        t0, show_head = float(whole - sec), _show_head(minute)
                        wall_minute, wall_sec = divmod(start_s + seconds, 60)
                        if wall_minute != walls.minute and not walls.advance(wall_minute):
                            walls.split(mono)  # brings the wall's minute texts up to date
                        m0, wall_head = float(seconds - wall_sec), walls.head_row
                    else:
                        a, b, c, d = f"{fmt_t(t):>10}  {walls.row(mono)}  ", "", "", ""
                        sec = None
                if sec is not None:
                    a, b, c, d = show_head, _SS2[sec], wall_head, _SS2[wall_sec]
            try:
                tail = tails[cue, *action, *action.values()]
            except (KeyError, TypeError):
                tail = tail_of(cue, action)
            append(f"{a}{b}{c}{d}{tail}")  # the row in one string: show time, wall clock, cue, action
        self._last_t, self._last_cols = last_t, (a, b, c, d)
        self._t0, self._show_head, self._m0, self._wall_head = t0, show_head, m0, wall_head
        append("")
        self.out.write("\n".join(lines))

    def json_rows(self, clock: VirtualClock, rows: list[Row]) -> None:
        walls = self.walls or self._walls(clock)
        start_mono, start_s, whole_start = walls.start_mono, walls.start_s, walls.whole
        m0, wall_head, wall_offset = self._m0, self._wall_head, self._wall_offset
        tails, tail_of, secs = self._tails, self._tail, _SECS
        lines: list[str] = []
        append = lines.append
        for t, mono, cue, action in rows:
            whole = int(t)
            t_text = f"{whole}.0" if whole == t and 0 < whole < _WHOLE else repr(round(t, 6))
            offset = mono - start_mono
            sec = secs.get(offset - m0) if whole_start else None
            if sec is None:
                seconds = int(offset)
                if whole_start and seconds == offset and 0 <= seconds < _WHOLE:
                    minute, sec = divmod(start_s + seconds, 60)
                    if minute != walls.minute and not walls.advance(minute):
                        walls.split(mono)
                    m0, wall_head, wall_offset = float(seconds - sec), walls.head, walls.offset
            try:
                tail = tails[cue, *action, *action.values()]
            except (KeyError, TypeError):
                tail = tail_of(cue, action)
            if sec is not None:
                append(f'{{"t": {t_text}, "wall": "{wall_head}{_SS[sec]}{wall_offset}", {tail}')
            else:
                append(f'{{"t": {t_text}, "wall": "{walls.iso(mono)}", {tail}')
        self._m0, self._wall_head, self._wall_offset = m0, wall_head, wall_offset
        self.out.write(("[\n " if not self.written else ",\n ") + ",\n ".join(lines))
        self.written += len(lines)

    def _tail(self, cue: str, action: dict[str, Any]) -> str:
        """The cue and action columns (the table's) or fields (the JSON's), kept by (cue, action).

        Bounded: texts with event arguments vary. An unhashable value is formatted every time.
        """
        if self.width is not None:
            text = f"{cue:<{self.width}}  {describe(action)}"
        else:
            text = f'"cue": {json.dumps(cue)}, "action": {json.dumps(action)}}}'
        try:
            key = (cue, *action, *action.values())  # keys, then values: as unambiguous as items, cheaper
            if len(self._tails) >= 4096:
                self._tails.clear()
            self._tails[key] = text
        except TypeError:
            pass
        return text

    def _walls(self, clock: VirtualClock) -> _WallText:
        self.walls = _WallText(clock)
        return self.walls


class _WallText:
    """A firing's wall clock as ISO text, cheaply: a month of plan is 170,000 of them.

    `VirtualClock.wall_at(mono)` moves the start on by `mono - start_mono` seconds of real time, and
    UTC offsets are whole minutes, so within one minute only the seconds (and microseconds) change.
    The minute's text (date, hour, minute, UTC offset) comes from `wall_at` itself, once a minute.
    """

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.start_mono = clock.start_mono
        start = clock.start_wall
        self.start_s = start.toordinal() * 86400 + start.hour * 3600 + start.minute * 60 + start.second
        self._start_us = self.start_s * 1_000_000 + start.microsecond
        self.whole = start.microsecond == 0  # whole seconds after the start land on whole seconds
        self.minute: int | None = None  # the minute (counted from year 1) the texts below are for
        self.head_row = self.head = self.offset = ""  # the minute's texts: row, ISO up to seconds, UTC offset
        # A fixed UTC offset (`--start ...+01:00`): the wall clock is the start's reading plus the time
        # gone by, so `minute` is the local minute and its texts are arithmetic, without `wall_at`.
        self._fixed: str | None = None
        if type(start.tzinfo) is timezone:
            text = start.isoformat()
            self._fixed = text[26:] if start.microsecond else text[19:]
        self._day = -1
        self._date = ""

    def split(self, mono: float) -> tuple[int, int]:
        """(seconds, microseconds) of the wall clock at `mono`, with the minute's texts up to date."""
        td = timedelta(seconds=mono - self.start_mono)  # exactly what `wall_at` adds
        minute, rest = divmod(self._start_us + (td.days * 86400 + td.seconds) * 1_000_000 + td.microseconds,
                              60_000_000)
        if minute != self.minute and not self.advance(minute):
            wall = self.clock.wall_at(mono)
            text = wall.isoformat()  # YYYY-MM-DDTHH:MM:SS[.ffffff][+HH:MM]
            self.minute, self.head, self.head_row = minute, text[:17], f"{text[:10]} {text[11:17]}"
            self.offset = text[26:] if wall.microsecond else text[19:]
        return divmod(rest, 1_000_000)

    def advance(self, minute: int) -> bool:
        """The texts of `minute` (as `split` counts them) by arithmetic: True for a fixed offset."""
        if self._fixed is None:
            return False
        day, of_day = divmod(minute, 1440)
        if day != self._day:
            if not 0 < day <= _LAST_DAY:
                return False
            self._day, self._date = day, date.fromordinal(day).isoformat()
        self.minute, self.offset = minute, self._fixed
        self.head, self.head_row = f"{self._date}T{_HHMM[of_day]}", f"{self._date} {_HHMM[of_day]}"
        return True

    def iso(self, mono: float) -> str:
        """`wall_at(mono).isoformat()`."""
        sec, micro = self.split(mono)
        return f"{self.head}{sec:02d}.{micro:06d}{self.offset}" if micro else f"{self.head}{sec:02d}{self.offset}"

    def row(self, mono: float) -> str:
        """`wall_at(mono).strftime("%Y-%m-%d %H:%M:%S")`."""
        sec = self.split(mono)[0]  # first: it brings the minute's text up to date
        return f"{self.head_row}{sec:02d}"


def describe(action: dict[str, Any]) -> str:
    parts = []
    for key, value in action.items():
        if key == "enhance" and value is True:
            continue
        parts.append(f"{key}: {value!r}" if isinstance(value, str) else f"{key}: {json.dumps(value)}")
    return ", ".join(parts)
