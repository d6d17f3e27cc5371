"""`decart-flow fleet SHOW --broker URL`: the controller, in a TUI or `--headless` (one line per event)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from typing import Any

from ..runner.headless import format_event
from ..show import ShowError, load_show
from ..show.times import parse_duration
from .broker import FleetError, broker_from_url


def fleet_command(args: argparse.Namespace) -> int:
    try:
        show = load_show(args.file)
    except ShowError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    if not show.nodes:
        print(f"{args.file}: the show has no `nodes:`: add one, e.g. nodes: {{stage: [main]}}", file=sys.stderr)
        return 2
    try:
        timeout = parse_duration(args.start_timeout, allow_zero=True)
    except ValueError as exc:
        print(f"--start-timeout: {exc}", file=sys.stderr)
        return 2
    try:
        broker = broker_from_url(args.broker)
    except FleetError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    options: dict[str, Any] = {"start_timeout": timeout, "new": bool(getattr(args, "new", False))}
    if getattr(args, "mint_tokens", False):
        problem = _minter(args, show, options)
        if problem:
            print(problem, file=sys.stderr)
            return 2
    if args.headless or not sys.stdout.isatty():
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        return asyncio.run(_headless(show, broker, options))
    from .tui import run_fleet_tui

    return run_fleet_tui(show, broker, options)


def _minter(args: argparse.Namespace, show: Any, options: dict[str, Any]) -> str | None:
    """`--mint-tokens`: the key and the backend it mints on, or why not (one line)."""
    import os

    from ..realtime.models import realtime
    from ..runner.backend import CLOUD_URL
    from .tokens import TokenMinter

    key = args.api_key or os.environ.get("DECART_API_KEY") or None
    if key is None:
        return "--mint-tokens needs the Decart key here: --api-key KEY or DECART_API_KEY (it never goes over MQTT)"
    backend = args.backend or "cloud"
    if backend == "local":
        return "--mint-tokens: the nodes' embedded services need no token; give --backend cloud or a URL"
    url = CLOUD_URL if backend == "cloud" else backend
    if not url.startswith(("ws://", "wss://", "http://", "https://")):
        return f"--backend {backend!r}: use 'cloud' or a ws://, wss://, http:// or https:// URL"
    try:
        lifetime = parse_duration(args.token_lifetime)
    except ValueError as exc:
        return f"--token-lifetime: {exc}"
    if not 1 <= lifetime <= 3600:
        return f"--token-lifetime {args.token_lifetime}: a client token lives 1 s to 1 h"
    models = list(dict.fromkeys(realtime(spec.model).name for spec in show.sessions))  # every session's
    options["minter"] = TokenMinter(url, key, models[0] if len(models) == 1 else models, show.name, int(lifetime))
    return None


async def _headless(show: Any, broker: Any, options: dict[str, Any]) -> int:
    from .controller import Controller

    def say(line: str) -> None:
        print(line, flush=True)

    controller = Controller(show, broker, emit=lambda record: say(format_event(record)), **options)
    say(f"fleet: {show.name}, nodes {', '.join(show.nodes)} on {broker.label}, topics {controller.topics.root}/")
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, controller.stop, "signal")
    try:
        reason = await controller.run()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    say(f"fleet ended: {reason}")
    return 0
