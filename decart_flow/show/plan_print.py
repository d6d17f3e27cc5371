"""`decart-flow plan FILE`: what the show would send, as a table or a JSON list, streamed.

The engine plays the show in virtual time (`engine/plan.py`); this prints each firing as it comes,
so a month of plan needs no memory for the rows.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime, timedelta
from typing import Any, Callable

from decart_flow.show.loader import load_show
from decart_flow.show.model import ShowModel
from decart_flow.show.problems import ShowError


def plan_command(args: argparse.Namespace) -> int:
    from decart_flow.engine.clock import local_zone
    from decart_flow.runner.backend import targets_cloud
    from decart_flow.show.times import parse_duration

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
    span = for_seconds if for_seconds is not None else (show.duration if show.duration is not None else 3600.0)
    try:  # the wall clock of the whole plan, and a day of a cron rule's look beyond it, must be a datetime
        start + timedelta(seconds=span, days=2)
        start - timedelta(days=2)
    except OverflowError:
        print(f"decart-flow plan: --start {args.start}: the plan would run past the years 1-9999 a clock can "
              "show; give a --start nearer today or a shorter --for", file=sys.stderr)
        return 2
    only = getattr(args, "session", None)
    if only is not None and only not in show.session_names():
        from decart_flow.show.problems import did_you_mean

        names = show.session_names()
        print(f"decart-flow plan: --session {only}: no such session{did_you_mean(only, names)}; "
              f"this show's sessions are {', '.join(names)}", file=sys.stderr)
        return 2
    try:
        return print_plan(show, for_seconds, start, args.json, session=only)
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


def print_plan(show: ShowModel, for_seconds: float | None, start: datetime, as_json: bool, out: Any = None,
               session: str | None = None) -> int:
    """Stream the plan to `out` (stdout): a row per firing, or one JSON list; `session`: only that
    session's rows (and the show-wide ones: logs, GO, ...) of a show of several."""
    from decart_flow.engine.engine import fmt_t
    from decart_flow.engine.plan import Firing, stream

    out = out or sys.stdout
    write = out.write
    shown = 0
    if as_json:
        separator = "[\n "

        def emit(firing: Firing) -> None:
            nonlocal separator, shown
            if session is not None and firing.session not in (session, None):
                return
            write(separator + json.dumps(firing.to_json()))
            separator = ",\n "
            shown += 1

        stream(show, emit, for_seconds, start)
        write("\n]\n" if shown else "[]\n")
        return 0
    width = max([len("cue")] + [len(c.name) for c in show.cues] + [len("timeline 0:00:00.000")]) + len(" (catch-up)")
    bar = show.tempo is not None  # a show on a beat grid: its bar.beat beside the show time
    if bar:
        write(f"{'bar':>7}  ")
    several = show.several  # a session column (a one-session show's table is as it always was)
    named = max([len("session")] + [len(n) for n in show.session_names()])
    write(f"{'show time':>10}  {'wall clock':<19}  " + (f"{'session':<{named}}  " if several else "")
          + f"{'cue':<{width}}  action\n")

    def row(firing: Firing) -> None:
        nonlocal shown
        if session is not None and firing.session not in (session, None):
            return
        wall = firing.wall.isoformat(" ", "seconds")[:19]  # YYYY-MM-DD HH:MM:SS
        if bar:
            write(f"{firing.bar or '':>7}  ")
        if several:
            write(f"{fmt_t(firing.t):>10}  {wall}  {firing.session or '':<{named}}  {firing.cue:<{width}}  "
                  f"{describe(firing.action)}\n")
        else:
            write(f"{fmt_t(firing.t):>10}  {wall}  {firing.cue:<{width}}  {describe(firing.action)}\n")
        shown += 1

    stream(show, row, for_seconds, start)
    write(f"{shown} firings\n")
    return 0


def describe(action: dict[str, Any]) -> str:
    """An action as the table shows it: `prompt: 'Lego world'`, `mirror: true` (`enhance` only when off)."""
    parts = []
    for key, value in action.items():
        if key == "enhance" and value is True:
            continue
        parts.append(f"{key}: {value!r}" if isinstance(value, str) else f"{key}: {json.dumps(value)}")
    return ", ".join(parts)
