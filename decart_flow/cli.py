"""The `decart-flow` command: parse, then hand over to the room that does the work.

Each command's implementation is imported only when that command runs, so `validate` does not
import aiortc and `serve` does not import Textual.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import NoReturn

COMMANDS = {
    "serve": "decart_flow.service.cli:serve_command",
    "validate": "decart_flow.show.commands:validate_command",
    "plan": "decart_flow.show.plan_print:plan_command",
    "run": "decart_flow.runner.command:run_command",
    "export": "decart_flow.control.export:export_command",
    "fleet": "decart_flow.fleet.command:fleet_command",
}


class _Parser(argparse.ArgumentParser):
    """A bad argument is one line (which option, what is wrong, where to look) and exit 2.

    argparse's own way prints the whole usage first, which hides the line that matters.
    """

    def error(self, message: str) -> "NoReturn":  # type: ignore[override]
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def port(text: str) -> int:
    """A TCP/UDP port on 127.0.0.1: 0 (any free one) to 65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a port number: use 0-65535") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port: use 0-65535 (0 picks a free one)")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="decart-flow",
        description="Show control for Decart realtime AI video.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    serve = sub.add_parser("serve", help="run the local Decart-compatible service on loopback")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to bind (default 127.0.0.1); LiveKit media is offered on it too")
    serve.add_argument("--port", type=port, default=8765, help="port (default 8765; 0 picks a free one)")
    serve.add_argument("--api-key", default=None, help="accept only this key and tokens minted with it")
    serve.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="inject a fault: drop-ws-after=10s, drop-first-ws-after=10s (only the first session, once), ack-delay=2s, reject-prompts=0.2, "
        "stall-video-after=5s, exit-after=20s, drop-livekit-after=10s, queue-for=5s, full-for=5s (repeatable)",
    )
    serve.add_argument("--capacity", type=int, default=None, metavar="N",
                       help="at most N sessions of today's protocol at once; more wait in line, told their queue_position (default: no limit)")
    serve.add_argument("--playout-delay", default="0", choices=["0", "auto"],
                       help="LiveKit video: 0 (default) asks receivers to show each frame as soon as it is decoded, "
                       "as a LiveKit room configured for low latency does; auto leaves it to the receiver's smoothing")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])

    validate = sub.add_parser("validate", help="check a show file; exit 0 when valid, 2 when not")
    validate.add_argument("file", nargs="+", help="one or more show files")
    _backend_options(validate)

    plan = sub.add_parser("plan", help="list every firing of a show, computed in virtual time")
    plan.add_argument("file")
    plan.add_argument("--for", dest="for_", default=None, metavar="DURATION", help="how much show time")
    plan.add_argument("--start", default=None, metavar="ISO-DATETIME", help="wall-clock start (default now)")
    plan.add_argument("--json", action="store_true", help="print a JSON list")
    plan.add_argument("--session", default=None, metavar="NAME", help="only this session's rows (a show of several)")
    _backend_options(plan)

    run = sub.add_parser("run", help="play a show on a live session")
    run.add_argument("file")
    run.add_argument("--headless", action="store_true", help="no TUI: one line per event")
    run.add_argument("--duration", default=None, metavar="D", help="end after this much show time")
    run.add_argument("--source", default=None, help="testsrc | camera[:DEV] | file:PATH | image:PATH")
    run.add_argument("--record", default=None, metavar="OUT.mp4", help="record the transformed stream")
    run.add_argument("--journal", default=None, metavar="PATH", help="journal path (default printed at start)")
    _backend_options(run)
    run.add_argument("--protocol", default=None, choices=["livekit", "p2p"],
                     help="override the protocol (default: p2p on the embedded service and for 2025 models, "
                     "else livekit)")
    run.add_argument("--resume", default=None, metavar="JOURNAL", help="continue from a journal's position")
    run.add_argument("--watch", action="store_true", help="reload the show file when it is saved")
    run.add_argument("--osc-port", type=port, default=None, help="listen for OSC on 127.0.0.1:PORT")
    run.add_argument("--midi-in", default=None, metavar="PORT",
                     help="the MIDI input for `on: midi` cues and `tempo: {source: midi-clock}` (default: the first)")
    run.add_argument("--http-port", type=port, default=None, help="remote-control page on 127.0.0.1:PORT")
    run.add_argument("--monitor", type=port, default=None, metavar="PORT", help="projector page on 127.0.0.1:PORT")
    run.add_argument("--no-realtime", action="store_true",
                     help="run at normal OS priority (default: real-time priority when permitted, for cue timing)")
    run.add_argument("--node", default=None, help="a show across machines: play this node's sessions (with --broker)")
    run.add_argument("--broker", default=None, metavar="mqtt[s]://HOST:PORT", help="the fleet's MQTT broker")
    run.add_argument("--fleet-token", action="store_true",
                     help="with --node: play on a client token from the fleet's controller, no key on this machine")

    fleet = sub.add_parser("fleet", help="control a show across machines: the show clock and every node")
    fleet.add_argument("file")
    fleet.add_argument("--broker", required=True, metavar="mqtt[s]://HOST:PORT", help="the fleet's MQTT broker")
    fleet.add_argument("--headless", action="store_true", help="no TUI: one line per event")
    fleet.add_argument("--start-timeout", default="30s", metavar="D",
                       help="start show time after this long even if not every node generates (default 30s)")
    fleet.add_argument("--new", action="store_true", help="start the show afresh, not adopt the running clock")
    fleet.add_argument("--mint-tokens", action="store_true",
                       help="mint a client token for each node that asks (run --fleet-token), with this key")
    _backend_options(fleet)
    fleet.add_argument("--token-lifetime", default="10m", metavar="D", help="a token's lifetime, 1s-1h (default 10m)")

    export = sub.add_parser("export", help="turn a journal into a show that replays it")
    export.add_argument("journal")
    export.add_argument("-o", "--output", required=True)
    return parser


def _backend_options(command: argparse.ArgumentParser) -> None:
    """Where the show plays: `validate` and `plan` check it against the same backend `run` uses."""
    command.add_argument("--backend", default=None, metavar="local|cloud|URL",
                         help="service: local (default without a key), cloud (default with a key) or a ws(s):// URL")
    command.add_argument("--api-key", default=None, help="API key (default: $DECART_API_KEY)")


def _version() -> str:
    from decart_flow import __version__

    return __version__


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    early = args.command == "run" and _launch_service_early(args)
    try:
        module_name, func_name = COMMANDS[args.command].split(":")
        func = getattr(importlib.import_module(module_name), func_name)
        return int(func(args) or 0)
    except KeyboardInterrupt:
        return 130
    finally:
        if early:
            from decart_flow.runner.backend import discard_early

            discard_early()


def _launch_service_early(args: argparse.Namespace) -> bool:
    """`run` on the local service: spawn it now, so it imports while `run` imports (both ~1 s).

    The run adopts it; a show that does not validate leaves it to `discard_early`.
    """
    from decart_flow.runner.backend import launch_local_early, wants_local

    if not wants_local(args.backend, args.api_key):
        return False
    launch_local_early()
    return True


if __name__ == "__main__":
    sys.exit(main())
