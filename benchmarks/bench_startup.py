"""Startup: `decart-flow run scenes/quickstart.yaml --headless` to the first transformed frame.

Two measures, each run N times, every run a fresh process (interpreter start and imports count):

- `cli`: the real command in a subprocess, from spawn to the `session.state generating` journal
  line on its stdout (the headless printer prints every journal record as it is written); then
  SIGTERM. This is what a user waits for, but generating means "first frame on its way", not seen.
- `run`: a child interpreter that does what `decart-flow run` does before its imports (launch the
  local service child early, `runner.backend.launch_local_early`), then builds a `Run`
  (decart_flow/runner/run.py) for the same show with one extra frame sink: from spawn to the
  first received frame (`first_frame`), and to the first frame stamped with an accepted state
  (`first_stamped`: the initial prompt is applied, so the frame is transformed). perf_counter is
  CLOCK_MONOTONIC, one clock for parent and child.

Target: p50 <= 1.5 s to the first transformed frame.

`--protocol livekit`: today's path. The embedded service speaks peer-to-peer on loopback only, so
the script re-runs itself inside a network namespace of its own (common.in_own_namespace), starts
one service there on 10.200.0.1 before the timed runs (as the cloud is already up when a user
runs a show), and each run is `run --backend ws://10.200.0.1:PORT --protocol livekit` with the key
in DECART_API_KEY: spawn to the first frame through the LiveKit room. The 2025 figure includes the
embedded service's own start (overlapped with the run's imports); this one does not.

    python benchmarks/bench_startup.py [--runs 5] [--tree DIR ...] [--protocol livekit]

`--tree DIR` (repeatable) times the decart_flow in DIR instead (PYTHONPATH), every tree's runs
interleaved with the others', so a before/after pair on a shared, noisy machine sees the same load:
`git worktree add /tmp/base HEAD~3 && python benchmarks/bench_startup.py --tree /tmp/base --tree .`
"""

from __future__ import annotations

import argparse
import contextlib
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

from common import (  # noqa: E402
    BENCH_KEY, PROTOCOL_LABEL, add_protocol_argument, in_own_namespace, service_host, summary, table, write_json,
)

ROOT = Path(__file__).resolve().parents[1]
SHOW = ROOT / "scenes" / "quickstart.yaml"
TARGET_S = 1.5
TIMEOUT_S = 60.0


def _env(tree: Path | None, backend: str | None = None) -> dict[str, str] | None:
    """The environment of a child that imports decart_flow from `tree` (None: the installed one);
    with a `backend`, the key of this script's service in DECART_API_KEY (not on a command line)."""
    if tree is None and backend is None:
        return None
    env = dict(os.environ)
    if tree is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(tree), os.environ.get("PYTHONPATH", "")) if p)
    if backend is not None:
        env["DECART_API_KEY"] = BENCH_KEY
    return env


def cli_once(tmp: Path, tree: Path | None = None, backend: str | None = None) -> float | None:
    """Seconds from spawning the command to its `session.state generating` line; None if never.
    `backend`: a service URL to play on over LiveKit (None: the embedded service, peer-to-peer)."""
    args = [sys.executable, "-m", "decart_flow.cli", "run", str(SHOW), "--headless", "--journal", str(tmp / "cli.jsonl")]
    if backend is not None:
        args += ["--backend", backend, "--protocol", "livekit"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=tmp,
                            env=_env(tree, backend))
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
    _check_protocol(tmp / "cli.jsonl", "p2p" if backend is None else "livekit")
    return found


def _check_protocol(journal: Path, meant: str) -> None:
    """The journal's `session.state` lines say which protocol the session spoke: it must be `meant`."""
    try:
        lines = journal.read_text().splitlines()
    except OSError:
        return
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        spoke = record.get("protocol") if record.get("event") == "session.state" else None
        if spoke is not None and spoke != meant:
            raise SystemExit(f"{journal.name}: the session spoke {spoke}, not {meant}: its figures would be the wrong path's")


_CHILD = r"""
import asyncio, json, sys, time
t_start = time.perf_counter_ns()
backend = sys.argv[3] or None  # a service URL (LiveKit), or none: the embedded service (2025 p2p)
try:  # what `decart-flow run` does right after parsing its arguments
    from decart_flow.runner.backend import launch_local_early
except ImportError:  # a tree from before the early launch
    launch_local_early = None
if launch_local_early is not None and backend is None:
    launch_local_early()
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
    extra = {} if backend is None else {"backend": backend, "protocol": "livekit"}
    run = TimedRun(show, RunOptions(headless=True, journal=sys.argv[2], **extra), say=lambda line: None)
    def on_record(rec):
        if rec.get("event") == "session.state" and rec.get("state") == "generating":
            marks.setdefault("generating_ns", time.perf_counter_ns())
    run.journal.events.subscribe(on_record)
    await asyncio.wait_for(run.play(), 60)
    marks["protocol"] = getattr(run, "protocol", None)  # what the session spoke (a tree before 2026: none)

asyncio.run(main())
print(json.dumps(marks))
"""


def run_once(tmp: Path, tree: Path | None = None, backend: str | None = None) -> dict[str, Any]:
    """Seconds from spawn to each mark of an in-process Run (see _CHILD)."""
    t0 = time.perf_counter_ns()
    out = subprocess.run([sys.executable, "-c", _CHILD, str(SHOW), str(tmp / "run.jsonl"), backend or ""],
                         capture_output=True, text=True, cwd=tmp, timeout=TIMEOUT_S + 30, check=False,
                         env=_env(tree, backend))
    printed = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 and not printed:
        raise SystemExit(f"the timed Run failed:\n{out.stderr[-3000:]}")
    marks = json.loads(printed[-1])
    # The marks are printed after the Run ended: a non-zero exit after them is the process's
    # teardown failing (counted and shown as `exit_failures`), not the start-up measured.
    marks["exit_failure"] = None if out.returncode == 0 else f"exit {out.returncode}: {out.stderr.strip()[-300:]}"
    spoke, meant = marks.pop("protocol", None), "p2p" if backend is None else "livekit"
    if spoke not in (None, meant):
        raise SystemExit(f"the timed Run spoke {spoke}, not {meant}: its figures would be the wrong path's")
    times: dict[str, Any] = {key[:-3]: (marks[key] - t0) / 1e9 if key in marks else None
                             for key in ("interpreter_ready_ns", "run_created_ns", "generating_ns", "first_frame_ns",
                                         "first_stamped_ns")}
    return {**times, "exit_failure": marks["exit_failure"]}


def measure(runs: int, trees: list[Path | None], protocol: str = "p2p") -> list[dict[str, Any]]:
    """One result per tree; run i of every tree before run i + 1 of any, so load hits all alike.
    With protocol livekit, every run plays on one service started here first (inside the namespace)."""
    cli: list[list[float | None]] = [[] for _ in trees]
    inproc: list[list[dict[str, Any]]] = [[] for _ in trees]
    with contextlib.ExitStack() as stack:
        backend = None
        if protocol == "livekit":
            from decart_flow.service import ServiceProcess

            service = stack.enter_context(ServiceProcess(api_key=BENCH_KEY, host=service_host(protocol)))
            assert service.url is not None
            backend = "ws://" + service.url.split("://", 1)[1]
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        for _ in range(runs):
            for i, tree in enumerate(trees):
                cli[i].append(cli_once(Path(tmp), tree, backend))
                inproc[i].append(run_once(Path(tmp), tree, backend))
    load = round(os.getloadavg()[0], 2)

    def s(values: list[float | None]) -> dict[str, Any]:
        got = [v for v in values if v is not None]
        return {**summary(got, 3), "failed": len(values) - len(got)}

    results = []
    for i, tree in enumerate(trees):
        result = {
            "show": str(SHOW.relative_to(ROOT)), "protocol": protocol, "runs": runs, "target_p50_s": TARGET_S,
            "tree": str(tree) if tree is not None else None,
            "cli_to_generating_s": s(cli[i]),
            **{f"run_to_{k}_s": s([r[k] for r in inproc[i]]) for k in ("interpreter_ready", "run_created", "generating", "first_frame", "first_stamped")},
            "loadavg_1min_after": load,
            # timed runs whose process failed after printing its marks (their figures are kept)
            "exit_failures": [r["exit_failure"] for r in inproc[i] if r["exit_failure"]],
        }
        result["meets_target"] = result["run_to_first_stamped_s"]["p50"] <= TARGET_S
        results.append(result)
    return results


ROWS = (("cli_to_generating_s", "cli: spawn -> generating"),
        ("run_to_interpreter_ready_s", "Run: spawn -> python up"),
        ("run_to_run_created_s", "Run: spawn -> imports + show loaded"),
        ("run_to_generating_s", "Run: spawn -> generating"),
        ("run_to_first_frame_s", "Run: spawn -> first frame"),
        ("run_to_first_stamped_s", "Run: spawn -> first transformed frame"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tree", action="append", default=[], metavar="DIR",
                        help="time the decart_flow in DIR (repeatable: trees are interleaved)")
    parser.add_argument("--json", action="store_true", help="print only the figures as one JSON line")
    add_protocol_argument(parser)
    args = parser.parse_args()
    if (code := in_own_namespace(args.protocol)) is not None:
        return code
    trees: list[Path | None] = [Path(t).resolve() for t in args.tree] or [None]
    results = measure(args.runs, trees, args.protocol)
    if args.json:
        print(json.dumps(results[0] if len(results) == 1 else results))
        return 0
    for result in results:
        rows = []
        for key, label in ROWS:
            v = result[key]
            rows.append([label, v["n"], v["p50"], v["p95"], v["max"], v["failed"]])
        where = f" from {result['tree']}" if result["tree"] else ""
        print(f"startup of {result['show']}{where}, {PROTOCOL_LABEL[args.protocol]}, {args.runs} runs each, load {result['loadavg_1min_after']}")
        print(table(["measure (s)", "n", "p50", "p95", "max", "failed"], rows))
        print(f"target first transformed frame p50 <= {TARGET_S} s: {'yes' if result['meets_target'] else 'NO'}")
        if result["exit_failures"]:
            print(f"{len(result['exit_failures'])} of {args.runs} timed runs failed at exit, after their marks; "
                  f"the first: {result['exit_failures'][0]}")
        print()
    suffix = "" if args.protocol == "p2p" else f"_{args.protocol}"
    if len(results) == 1:
        print(f"written to {write_json('startup' + suffix, results[0])}")
    else:
        print(f"written to {write_json('startup_trees' + suffix, {'trees': results})}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
