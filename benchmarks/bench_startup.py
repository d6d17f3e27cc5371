"""Startup: `decart-flow run scenes/quickstart.yaml --headless` to the first transformed frame.

Two measures, each run N times, every run a fresh process (interpreter start and imports count):

- `cli`: the real command in a subprocess, from spawn to the `session.state generating` journal
  line on its stdout (the headless printer prints every journal record as it is written); then
  SIGTERM. This is what a user waits for, but generating means "first frame on its way", not seen.
- `run`: a child interpreter that builds a `Run` (decart_flow/runner/run.py) for the same show
  with one extra frame sink: from spawn to the first received frame (`first_frame`), and to the
  first frame stamped with an accepted state (`first_stamped`: the initial prompt is applied, so
  the frame is transformed). perf_counter is CLOCK_MONOTONIC, one clock for parent and child.

Target: p50 <= 1.5 s to the first transformed frame.

    python benchmarks/bench_startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import summary, table, write_json  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHOW = ROOT / "scenes" / "quickstart.yaml"
TARGET_S = 1.5
TIMEOUT_S = 60.0


def cli_once(tmp: Path) -> float | None:
    """Seconds from spawning the command to its `session.state generating` line; None if never."""
    args = [sys.executable, "-m", "decart_flow.cli", "run", str(SHOW), "--headless", "--journal", str(tmp / "cli.jsonl")]
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=tmp)
    found = None
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "session.state" in line and "state=generating" in line:
                found = time.perf_counter() - t0
                break
            if time.perf_counter() - t0 > TIMEOUT_S:
                break
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return found


_CHILD = r"""
import asyncio, json, sys, time
t_start = time.perf_counter_ns()
from decart_flow.runner.run import Run, RunOptions
from decart_flow.service.stamp import read_stamp
from decart_flow.show import load_show

marks = {"interpreter_ready_ns": t_start}

class TimedRun(Run):
    def _attach_sinks(self):
        super()._attach_sinks()
        def sink(frame):
            now = time.perf_counter_ns()
            marks.setdefault("first_frame_ns", now)
            stamp = read_stamp(frame)
            if stamp is not None and stamp >= 1 and "first_stamped_ns" not in marks:
                marks["first_stamped_ns"] = now
                self.loop.call_soon_threadsafe(self.request_stop, "bench")
        self.session.add_frame_sink(sink)

async def main():
    show = load_show(sys.argv[1])
    marks["run_created_ns"] = time.perf_counter_ns()
    run = TimedRun(show, RunOptions(headless=True, journal=sys.argv[2]), say=lambda line: None)
    def on_record(rec):
        if rec.get("event") == "session.state" and rec.get("state") == "generating":
            marks.setdefault("generating_ns", time.perf_counter_ns())
    run.journal.events.subscribe(on_record)
    await asyncio.wait_for(run.play(), 60)

asyncio.run(main())
print(json.dumps(marks))
"""


def run_once(tmp: Path) -> dict[str, float | None]:
    """Seconds from spawn to each mark of an in-process Run (see _CHILD)."""
    t0 = time.perf_counter_ns()
    out = subprocess.run([sys.executable, "-c", _CHILD, str(SHOW), str(tmp / "run.jsonl")],
                         capture_output=True, text=True, cwd=tmp, timeout=TIMEOUT_S + 30, check=False)
    if out.returncode != 0:
        raise SystemExit(f"the timed Run failed:\n{out.stderr[-3000:]}")
    marks = json.loads(out.stdout.strip().splitlines()[-1])
    return {key[:-3]: (marks[key] - t0) / 1e9 if key in marks else None
            for key in ("interpreter_ready_ns", "run_created_ns", "generating_ns", "first_frame_ns", "first_stamped_ns")}


def measure(runs: int) -> dict[str, Any]:
    cli: list[float | None] = []
    inproc: list[dict[str, float | None]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(runs):  # interleaved, so a busy minute hits both alike
            cli.append(cli_once(Path(tmp)))
            inproc.append(run_once(Path(tmp)))
    load = round(os.getloadavg()[0], 2)

    def s(values: list[float | None]) -> dict[str, Any]:
        got = [v for v in values if v is not None]
        return {**summary(got, 3), "failed": len(values) - len(got)}

    result = {
        "show": str(SHOW.relative_to(ROOT)), "runs": runs, "target_p50_s": TARGET_S,
        "cli_to_generating_s": s(cli),
        **{f"run_to_{k}_s": s([r[k] for r in inproc]) for k in ("interpreter_ready", "run_created", "generating", "first_frame", "first_stamped")},
        "loadavg_1min_after": load,
    }
    result["meets_target"] = result["run_to_first_stamped_s"]["p50"] <= TARGET_S
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print only the figures as one JSON line")
    args = parser.parse_args()
    result = measure(args.runs)
    if args.json:
        print(json.dumps(result))
        return 0
    rows = []
    for key, label in (("cli_to_generating_s", "cli: spawn -> generating"),
                       ("run_to_interpreter_ready_s", "Run: spawn -> python up"),
                       ("run_to_run_created_s", "Run: spawn -> imports + show loaded"),
                       ("run_to_generating_s", "Run: spawn -> generating"),
                       ("run_to_first_frame_s", "Run: spawn -> first frame"),
                       ("run_to_first_stamped_s", "Run: spawn -> first transformed frame")):
        v = result[key]
        rows.append([label, v["n"], v["p50"], v["p95"], v["max"], v["failed"]])
    print(f"startup of {result['show']}, {args.runs} runs each, load {result['loadavg_1min_after']}")
    print(table(["measure (s)", "n", "p50", "p95", "max", "failed"], rows))
    print(f"target first transformed frame p50 <= {TARGET_S} s: {'yes' if result['meets_target'] else 'NO'}")
    print(f"written to {write_json('startup', result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
