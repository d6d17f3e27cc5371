"""Today's protocol (LiveKit) beside the 2025 one: frames delivered and glass-to-glass, one run.

One `decart-flow serve` in a network namespace of this run (tests/netns.py: LiveKit's libwebrtc
gathers no candidates on loopback), on 10.200.0.1. For each path, one client in another process
(benchmarks/livekit_probe.py) publishes a 1280x704 camera at 30 fps, receives the rendered
lucy-restyle-2 video (1280x704, 30 fps) and sends a prompt every 0.5 s:
- livekit: the `livekit` package's rtc module (the Rust client inside Decart's SDK), through the
  control channel, `livekit_join` and the room;
- 2025: decart-flow's own RealtimeClient over the 2025 protocol, on the same service.

Frames delivered = frames received / (seconds x 30) over the measured window (the service's
frame clock also draws a change at once, so a little over 100% is possible). Glass-to-glass =
from the prompt's WebSocket write to the first received frame whose stamp shows it. Needs root
(the namespace) and the decart 0.2.4 venv (built on first use, like the SDK tests).

    python benchmarks/bench_livekit.py [--seconds 20] [--rounds 1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests" / "sdk_harness"))

from common import MODEL, cpu_ticks, machine, pct, steal_share, table, write_json  # noqa: E402
from decart_flow.realtime.models import realtime  # noqa: E402
from netns import Netns, unavailable  # noqa: E402
from sdk_venv import ensure_sdk_venv  # noqa: E402

TARGET_DELIVERED = 99.0


def probe(ns: Netns, python: str, path: str, url: str, seconds: float) -> dict[str, Any]:
    before = cpu_ticks()
    model = realtime(MODEL)
    done = ns.run([python, str(HERE / "livekit_probe.py"), "--path", path, "--url", url, "--seconds", str(seconds),
                   "--model", model.name, "--geometry", f"{model.width}x{model.height}@{model.fps}"],
                  timeout=seconds + 120, cwd=REPO)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise SystemExit(f"{path} probe failed: {done.stderr[-2000:]}")
    result = json.loads(lines[-1])
    # Other work on the machine moves these figures: say how busy it was.
    result["steal_pct"] = steal_share(before, cpu_ticks())
    result["load_1min"] = os.getloadavg()[0]
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=1, help="alternate the two paths this many times")
    args = parser.parse_args()
    reason = unavailable()
    if reason:
        print(f"bench_livekit: {reason}", file=sys.stderr)
        return 2
    sdk = str(ensure_sdk_venv("0.2.4").python)
    results: list[dict[str, Any]] = []
    with Netns() as ns:
        service = ns.popen([sys.executable, "-m", "decart_flow.cli", "serve", "--host", ns.service_addr, "--port", "0",
                            "--log-level", "warning"], stdout=subprocess.PIPE, text=True, cwd=REPO)
        assert service.stdout is not None
        url = service.stdout.readline().split("listening on", 1)[1].strip()
        for _ in range(args.rounds):
            results.append(probe(ns, sys.executable, "2025", url, args.seconds))
            results.append(probe(ns, sdk, "livekit", url, args.seconds))
            time.sleep(1)
    rows = []
    for r in results:
        delivered = 100.0 * r["frames"] / r["expected"]
        g = r["glass_ms"]
        rows.append([r["path"], f"{r['frames']}/{r['expected']}", f"{delivered:.1f}%",
                     "yes" if delivered >= TARGET_DELIVERED else "no",
                     f"{pct(g, 50):.1f} / {pct(g, 95):.1f}", f"{len(g)}/{r['changes']}",
                     f"{r['load_1min']:.1f}", "" if r["steal_pct"] is None else f"{r['steal_pct']:.1f}%"])
        r["delivered_pct"] = delivered
    print(table(["path", "frames / 30 fps x s", "delivered", ">= 99%", "glass p50 / p95 ms", "changes seen",
                 "load (1 min)", "steal"], rows))
    out = write_json("bench_livekit", {"machine": machine(), "seconds": args.seconds, "results": results})
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
