"""Does memory stay flat over a long run? A real-time soak of `decart-flow run` (not in CI).

Starts `decart-flow serve` and `decart-flow run --headless --record` as subprocesses, with a show
that changes the prompt every 3 s, the mirror every 7 s and the image every 11 s, and samples the
resident memory (VmRSS) of both every 5 s. Growth is the mean of the last minute against the
mean of the minute after warm-up (the first 60 s fill caches, codecs and queues). Prints a
table and writes benchmarks/results/soak.json.

    python benchmarks/bench_soak.py [--minutes 10] [--fault drop-ws-after=60s] [--no-record]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import table, write_json  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
KEY = "soak_" + os.urandom(8).hex()
WARMUP_S = 60.0
WINDOW_S = 60.0
SAMPLE_S = 5.0

SHOW = """\
name: Soak
model: mirage_v2
source: testsrc
duration: {seconds}s
initial:
  prompt: Soak start
cues:
  - name: prompts
    every: 3s
    prompt: {{cycle: [Neon city, Watercolor meadow, Oil painting, Pixel art, Stained glass]}}
  - name: mirror
    every: 7s
    mirror: toggle
  - name: image
    every: 11s
    image: {image}
    prompt: Studio Ghibli meadow
"""


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(*args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "decart_flow.cli", *args], env=env, text=True, **kw)


def growth(samples: list[tuple[float, float]], total_s: float) -> dict[str, float]:
    base = [mb for t, mb in samples if WARMUP_S <= t < WARMUP_S + WINDOW_S]
    last = [mb for t, mb in samples if t >= total_s - WINDOW_S]
    if not base or not last:
        return {"base_mb": float("nan"), "end_mb": float("nan"), "growth_pct": float("nan")}
    b, e = statistics.mean(base), statistics.mean(last)
    return {"base_mb": round(b, 1), "end_mb": round(e, 1), "growth_pct": round(100 * (e - b) / b, 2),
            "max_mb": round(max(mb for _, mb in samples), 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--fault", action="append", default=[], help="passed to decart-flow serve")
    parser.add_argument("--no-record", action="store_true", help="without --record (tells the recorder's share)")
    parser.add_argument("--name", default="soak", help="results/NAME.json")
    args = parser.parse_args()
    total_s = args.minutes * 60
    work = Path(tempfile.mkdtemp(prefix="decart-soak-"))
    show = work / "soak.yaml"
    show.write_text(SHOW.format(seconds=int(total_s), image=ROOT / "scenes" / "refs" / "ghibli.png"))
    port = free_port()
    serve_args = ["serve", "--port", str(port), "--api-key", KEY, "--log-level", "warning"]
    for fault in args.fault:
        serve_args += ["--fault", fault]
    service = cli(*serve_args, stdout=subprocess.PIPE)
    assert service.stdout is not None and "listening" in service.stdout.readline()
    journal = work / "soak.jsonl"
    record = [] if args.no_record else ["--record", str(work / "soak.mp4")]
    run = cli("run", str(show), "--headless", "--backend", f"http://127.0.0.1:{port}", "--api-key", KEY,
              *record, "--journal", str(journal),
              stdout=subprocess.DEVNULL, stderr=open(work / "run.stderr", "w"))
    samples: dict[str, list[tuple[float, float]]] = {"run": [], "service": []}
    began = time.monotonic()
    try:
        while run.poll() is None:
            t = time.monotonic() - began
            for name, proc in (("run", run), ("service", service)):
                mb = rss_mb(proc.pid)
                if mb is not None:
                    samples[name].append((t, mb))
            if int(t) % 60 < SAMPLE_S:
                print(f"{t:6.0f} s  run {samples['run'][-1][1]:7.1f} MB  service {samples['service'][-1][1]:7.1f} MB",
                      flush=True)
            time.sleep(SAMPLE_S)
    finally:
        if run.poll() is None:
            run.send_signal(signal.SIGINT)
            run.wait(10)
        service.send_signal(signal.SIGINT)
        service.wait(10)
    records = [json.loads(line) for line in journal.read_text().splitlines() if line.strip()]
    acks = [r for r in records if r["event"] == "action.ack"]
    result = {
        "minutes": args.minutes,
        "faults": args.fault,
        "record": not args.no_record,
        "load_average_at_end": os.getloadavg(),
        "run": growth(samples["run"], total_s),
        "service": growth(samples["service"], total_s),
        "acks": len(acks),
        "failed_acks": sum(1 for a in acks if not a["success"]),
        "reconnects": sum(1 for r in records if r["event"] == "session.state" and r["state"] == "reconnecting"),
        "end": records[-1].get("reason") if records else None,
        "samples": {k: [[round(t, 1), round(mb, 1)] for t, mb in v] for k, v in samples.items()},
    }
    rows = [[name, result[name]["base_mb"], result[name]["end_mb"], result[name].get("max_mb", "-"),
             f"{result[name]['growth_pct']:+.2f} %"] for name in ("run", "service")]
    print(table(["process", "RSS after warm-up MB", "RSS last minute MB", "max MB", "growth"], rows))
    print(f"acks {result['acks']} (failed {result['failed_acks']}), reconnects {result['reconnects']}, "
          f"ended: {result['end']}")
    path = write_json(args.name, result)
    print(f"wrote {path}")
    worst = max(result["run"]["growth_pct"], result["service"]["growth_pct"])
    return 0 if worst < 5.0 else 1


if __name__ == "__main__":
    sys.exit(main())
