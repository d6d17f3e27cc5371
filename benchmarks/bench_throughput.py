"""Throughput of one stream: frames delivered / frames sent, and the CPU it costs each process.

The session of bench_glass (engine playing a prompt cue every 0.5 s, RealtimeClient sending a moving
1280x704 test pattern at the model's fps, local service in a child process). Over the cue window:

    delivered/sent = frames received by the client's sinks / frames the source made (target >= 99%)
    sent fps       = frames made per second: below the model's fps, the client itself falls behind
    CPU per stream = process CPU time / wall time, from /proc/self/stat and /proc/PID/stat of the
                     service child (100% = one core; the machine has `nproc` cores)

`--protocol livekit`: the same over today's protocol, the media through a LiveKit room, re-run
inside a network namespace of its own (bench_glass, common.in_own_namespace).

    python benchmarks/bench_throughput.py [--seconds 30] [--protocol livekit]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_glass import play  # noqa: E402
from common import PROTOCOL_LABEL, add_protocol_argument, in_own_namespace, table, write_json  # noqa: E402

TARGET_RATIO = 0.99


def figures(raw: dict[str, Any]) -> dict[str, Any]:
    w = raw["window"]
    wall = w["seconds"]
    ratio = w["frames_received"] / w["frames_sent"] if w["frames_sent"] else float("nan")
    return {
        "model": raw["model"], "protocol": raw["protocol"], "size": raw["size"], "model_fps": raw["fps"], "seconds": wall,
        "frames_sent": w["frames_sent"], "frames_received": w["frames_received"],
        "delivered_ratio": round(ratio, 4),
        "sent_fps": round(w["frames_sent"] / wall, 2),
        "received_fps": round(w["frames_received"] / wall, 2),
        "cpu_percent": {"client": round(100 * w["cpu_client_s"] / wall, 1),
                        "service": round(100 * w["cpu_service_s"] / wall, 1) if w["service_pid_found"] else None},
        "loadavg_1min": w["loadavg_1min"],
        "reconnects": raw["reconnects"],
        # a reconnect's moments and what was logged around it (the full run keeps only this JSON)
        **({"states": raw["states"], "warnings": raw["warnings"]} if raw["reconnects"] else {}),
        "meets_target": ratio >= TARGET_RATIO,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--json", action="store_true", help="print only the figures as one JSON line")
    add_protocol_argument(parser)
    args = parser.parse_args()
    if (code := in_own_namespace(args.protocol)) is not None:
        return code
    result = figures(asyncio.run(play(args.seconds, 0.5, protocol=args.protocol)))
    if args.json:
        print(json.dumps(result))
        return 0
    cpu = result["cpu_percent"]
    print(f"throughput, {PROTOCOL_LABEL[args.protocol]}, {result['model']} {result['size']} @ {result['model_fps']} fps, {result['seconds']} s, "
          f"load {result['loadavg_1min']}")
    print(table(["sent", "received", "delivered/sent", "sent fps", "received fps", "CPU client %", "CPU service %"], [
        [result["frames_sent"], result["frames_received"], f"{result['delivered_ratio']:.1%}", result["sent_fps"],
         result["received_fps"], cpu["client"], cpu["service"]]]))
    print(f"target delivered/sent >= {TARGET_RATIO:.0%}: {'yes' if result['meets_target'] else 'NO'}")
    print(f"written to {write_json('throughput' if args.protocol == 'p2p' else f'throughput_{args.protocol}', result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
