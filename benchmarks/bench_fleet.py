"""A show across machines: how far apart two nodes send the same cue.

Two `decart-flow run SHOW --node a|b --broker mqtt://127.0.0.1:PORT --headless` processes on this
machine, as `run` plays them (real-time priority when permitted), both on one local service (2025
peer-to-peer, lucy-restyle-2 at 1280x704, 30 fps), a real mosquitto on loopback, and the
controller in this process. The show sends a prompt every 250 ms; nothing is sent per cue over
MQTT, each node fires on the controller's clock. For every cue both nodes sent, the spread is
|send at a - send at b|, each send time read from the node's journal (`action.send`, its wall
clock, written right after the WebSocket write). The controller's measured clock offset of each
node is printed beside it: on one machine both are ~0, so the target is p95 <= 5 ms plus the
offsets' difference.

    python benchmarks/bench_fleet.py [--seconds 30] [--no-realtime] [--json]

BENCH_FLEET_KEEP=DIR keeps the nodes' journals there (each node journals `fleet.align` when it
moves its show clock to the fleet's: in the runs of 2026-12-05, never after the start).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from common import BENCH_KEY, MODEL, cpu_ticks, steal_share, summary, table, write_json  # noqa: E402

INTERVAL_S = 0.25
TARGET_MS = 5.0

SHOW = f"""\
name: Fleet Bench
model: {MODEL}
duration: 10m
initial: {{prompt: Anime}}
nodes:
  a: [main]
  b: [main]
cues:
  - name: beat
    every: {int(INTERVAL_S * 1000)}ms
    prompt: {{cycle: [Red city, Blue forest, Gold desert, Green sea]}}
"""


def sends(path: Path) -> tuple[dict[float, float], dict[float, float], int, dict[float, float]]:
    """The beat in a node's journal: show time -> wall time it fired, show time -> wall time its
    prompt went out (later than the firing when it waited for the previous prompt's ack), how
    many waited so, and show time -> the node's own lateness (the engine's `lateness_ms`)."""
    fired: dict[float, float] = {}
    sent: dict[float, float] = {}
    late: dict[float, float] = {}
    queued = 0
    intended = None
    if not path.exists():
        return fired, sent, queued, late
    for line in path.read_text().splitlines():
        try:
            r = json.loads(line)
        except ValueError:
            continue
        if r.get("event") == "cue.fire" and r.get("cue") == "beat":
            intended = r["intended_t"]
            fired.setdefault(intended, datetime.fromisoformat(r["ts"]).timestamp())
            late.setdefault(intended, float(r.get("lateness_ms") or 0.0))
        elif r.get("event") == "action.send" and r.get("cue") == "beat" and intended is not None:
            sent.setdefault(intended, datetime.fromisoformat(r["ts"]).timestamp())
            queued += 1 if r.get("queued_ms") else 0
    return fired, sent, queued, late


async def measure(seconds: float, realtime: bool) -> dict[str, Any]:
    from mqtt_broker import Mosquitto

    from decart_flow.fleet.broker import broker_from_url
    from decart_flow.fleet.controller import Controller
    from decart_flow.service import ServiceProcess
    from decart_flow.show import load_show

    keep = os.environ.get("BENCH_FLEET_KEEP")  # a folder to keep the nodes' journals in
    with tempfile.TemporaryDirectory() as tmp, ServiceProcess(api_key=BENCH_KEY) as service:
        folder = Path(keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        show = folder / "fleet.yaml"
        show.write_text(SHOW)
        with Mosquitto(folder) as broker:
            controller = Controller(load_show(show), broker_from_url(broker.url, {}), start_timeout=60.0)
            playing = asyncio.ensure_future(controller.run())
            procs, journals = [], {}
            for name in ("a", "b"):
                journals[name] = folder / f"{name}.jsonl"
                args = [sys.executable, "-m", "decart_flow.cli", "run", str(show), "--node", name, "--broker",
                        broker.url, "--headless", "--backend", service.url.replace("http://", "ws://"),
                        "--journal", str(journals[name])] + ([] if realtime else ["--no-realtime"])
                procs.append(subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                              env={**os.environ, "DECART_API_KEY": BENCH_KEY}))
            try:
                deadline = time.monotonic() + 90
                while controller.clock.state == "waiting" and time.monotonic() < deadline:
                    await asyncio.sleep(0.1)
                if controller.clock.state == "waiting":
                    raise SystemExit("the nodes did not start within 90 s")
                ticks = cpu_ticks()
                load_before = os.getloadavg()[0]
                await asyncio.sleep(2.0 + seconds)  # the first 2 s: both sessions settle
                steal = steal_share(ticks, cpu_ticks())
                offsets = {n: (v.offset_ms, v.rtt_ms) for n, v in controller.nodes.items()}
            finally:
                for p in procs:
                    p.terminate()
                for p in procs:
                    try:
                        p.wait(15)
                    except subprocess.TimeoutExpired:
                        p.kill()
                controller.stop("done")
                await playing
            (fired_a, a, queued_a, late_a), (fired_b, b, queued_b, late_b) = sends(journals["a"]), sends(journals["b"])
    shared = sorted(t for t in set(a) & set(b) if t >= 2.0)
    spread = [abs(a[t] - b[t]) * 1000.0 for t in shared]
    both_fired = sorted(t for t in set(fired_a) & set(fired_b) if t >= 2.0)
    fire_spread = [abs(fired_a[t] - fired_b[t]) * 1000.0 for t in both_fired]
    # where each node's show clock put the cue (its firing less its own lateness): the clocks alone
    clocks = [abs((fired_a[t] - late_a[t] / 1000.0) - (fired_b[t] - late_b[t] / 1000.0)) * 1000.0
              for t in both_fired if t in late_a and t in late_b]
    offset_a, offset_b = (offsets.get("a") or (None, None))[0], (offsets.get("b") or (None, None))[0]
    allowance = abs((offset_a or 0.0) - (offset_b or 0.0))
    figures = summary(spread)
    return {
        "cues": len(shared), "expected": int(seconds / INTERVAL_S), "spread_ms": figures,
        "fire_spread_ms": summary(fire_spread), "queued_behind_ack": queued_a + queued_b,
        "clock_spread_ms": summary(clocks),
        # each node against its own timer: what of the spread is one node firing late
        "lateness_ms": {"a": summary([v for t, v in late_a.items() if t >= 2.0]),
                        "b": summary([v for t, v in late_b.items() if t >= 2.0])},
        "offset_ms": {"a": offset_a, "b": offset_b},
        "rtt_ms": {n: (offsets.get(n) or (None, None))[1] for n in ("a", "b")},
        "target_p95_ms": round(TARGET_MS + allowance, 2), "met": figures["p95"] <= TARGET_MS + allowance,
        "realtime": realtime, "load_1min": round(load_before, 2), "steal": steal,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--no-realtime", action="store_true", help="the nodes at normal priority")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line, last")
    args = parser.parse_args()
    result = asyncio.run(measure(args.seconds, not args.no_realtime))
    s = result["spread_ms"]
    print(table(["figure", "value"], [
        ["cues both nodes sent", f"{result['cues']} of ~{result['expected']}"],
        ["send spread p50 / p95 / max", f"{s['p50']:.2f} / {s['p95']:.2f} / {s['max']:.2f} ms"],
        ["fire spread p50 / p95 / max", "{p50:.2f} / {p95:.2f} / {max:.2f} ms".format(**result["fire_spread_ms"])],
        ["sends that waited for an ack (both nodes)", result["queued_behind_ack"]],
        ["the two show clocks apart, p50 / p95 / max", "{p50:.2f} / {p95:.2f} / {max:.2f} ms".format(**result["clock_spread_ms"])],
        *[[f"node {n} lateness p50 / p95 / max", "{p50:.2f} / {p95:.2f} / {max:.2f} ms".format(**result["lateness_ms"][n])]
          for n in ("a", "b")],
        ["measured clock offset a / b", f"{result['offset_ms']['a']} / {result['offset_ms']['b']} ms"],
        ["target", f"p95 <= {result['target_p95_ms']} ms: {'met' if result['met'] else 'NOT met'}"],
        ["load (1 min) / steal", f"{result['load_1min']} / {result['steal']}"],
    ]))
    write_json("bench_fleet", result)
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
