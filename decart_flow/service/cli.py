"""`decart-flow serve`: the local service in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from decart_flow.service.faults import FaultError, Faults
from decart_flow.service.process import service_logging


def serve_command(args: argparse.Namespace) -> int:
    capacity = getattr(args, "capacity", None)
    if capacity is not None and capacity < 1:
        print(f"decart-flow serve: --capacity {capacity}: give at least 1 session (leave it out for no limit)", file=sys.stderr)
        return 2
    try:
        faults = Faults.parse(args.fault)
    except FaultError as exc:
        print(f"decart-flow serve: {exc}", file=sys.stderr)
        return 2
    service_logging(getattr(args, "log_level", "info"))
    try:
        return asyncio.run(_serve(args.host, args.port, args.api_key, faults, getattr(args, "capacity", None)))
    except KeyboardInterrupt:
        return 130


async def _serve(host: str, port: int, api_key: str | None, faults: Faults, capacity: int | None = None) -> int:
    from decart_flow.service.app import LocalService

    service = LocalService(host=host, port=port, api_key=api_key, faults=faults, capacity=capacity)
    try:
        await service.start()
    except OSError as exc:
        print(f"decart-flow serve: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, service.stopped.set)
    print(f"decart-flow service listening on {service.url}", flush=True)
    await service.stopped.wait()
    await service.stop()
    print("decart-flow service stopped", flush=True)
    return 0
