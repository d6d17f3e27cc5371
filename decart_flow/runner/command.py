"""`decart-flow run FILE`: validate, then play the show headless or in the TUI."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from ..show import ShowError, load_show
from .backend import targets_cloud
from ..show.times import parse_duration
from .headless import printer
from .run import Run, RunError, RunOptions, UsageError, exit_code, journal_problem


def _say(line: str) -> None:
    print(line, flush=True)


def options_from_args(args: argparse.Namespace) -> RunOptions:
    duration = parse_duration(args.duration) if args.duration is not None else None
    return RunOptions(
        headless=bool(args.headless) or not sys.stdout.isatty(),
        duration=duration,
        source=args.source,
        record=args.record,
        journal=args.journal,
        backend=args.backend,
        api_key=args.api_key,
        protocol=getattr(args, "protocol", None),
        osc_port=args.osc_port,
        midi_in=getattr(args, "midi_in", None),
        http_port=args.http_port,
        monitor=args.monitor,
        watch=bool(args.watch),
        resume=args.resume,
        realtime=not getattr(args, "no_realtime", False),
        node=getattr(args, "node", None),
        broker=getattr(args, "broker", None),
        fleet_token=bool(getattr(args, "fleet_token", False)),
    )


def run_command(args: argparse.Namespace) -> int:
    try:
        show = load_show(args.file, cloud=targets_cloud(args.backend, args.api_key))
    except ShowError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    from ..fleet.checks import fleet_problem

    problem = fleet_problem(show, getattr(args, "node", None), getattr(args, "broker", None),
                            bool(getattr(args, "fleet_token", False)))
    if problem:
        print(problem, file=sys.stderr)
        return 2
    try:
        options = options_from_args(args)
    except ValueError as exc:
        print(f"--duration: {exc}", file=sys.stderr)
        return 2
    problem = journal_problem(Path(options.journal)) if options.journal else None
    if problem:
        print(problem, file=sys.stderr)
        return 2
    if options.headless:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        return asyncio.run(_headless(show, options))
    from ..tui.app import run_tui

    return run_tui(show, options, args)


async def _headless(show: Any, options: RunOptions) -> int:
    try:
        run = Run(show, options, say=_say)
    except RunError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    models = show.model if not show.several else ", ".join(f"{n}: {s.model.name}" for n, s in run.sessions.items())
    _say(f"show: {show.name} ({models})")
    _say(f"journal: {run.journal_path}")
    run.journal.events.subscribe(printer(_say))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, run.request_stop, "signal")
    try:
        reason = await run.play()
    except RunError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, UsageError) else 1
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    _say(f"show ended: {reason}")
    return exit_code(reason)
