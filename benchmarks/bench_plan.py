"""How fast `plan --for 30d` runs an installation show, beside croniter alone, and whether its memory stays flat.

The show (issue 15's target): a cron cue every minute (in Europe/Paris) and an `every: 30s` cycle of
prompts, 129,600 firings in 30 days. Target: the plan is no slower than croniter alone stepping
the same number of firings, measured side by side in this run:
- `command`: the real `decart-flow plan --for 30d` in a child process, output to a file, against
  `croniter child`: a child process that imports croniter and steps it as many times (the same
  start-up cost of a Python process and its imports on both sides);
- `engine`: the plan streamed in this process (firings counted, nothing printed), against
  `croniter`: as many `get_next` calls in this process.
croniter steps an aware start with `get_next(datetime)`, as a user iterates a schedule in a zone;
the `get_next(float)` row (a naive start, POSIX floats) is shown beside it as croniter's cheapest way.
Times are the p50 of `--runs` runs, wall clock and CPU (CPU is steadier on a shared machine).

Run: `python benchmarks/bench_plan.py [--runs 5] [--tree DIR] [--json]` (`--tree` times another
checkout's `decart_flow`, e.g. the previous commit, in the same session for a side-by-side).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
import tracemalloc
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from common import cpu_ticks, pct, speed_probe, steal_share

SHOW_YAML = textwrap.dedent("""
    name: Installation
    model: mirage
    cues:
      - name: minute
        cron: "* * * * *"
        tz: Europe/Paris
        prompt: Minute
      - name: ambient
        every: 30s
        prompt: {cycle: [Lego world, Watercolor, Claymation]}
""")
START = datetime(2026, 3, 1, tzinfo=timezone.utc)
DAY = 86400.0
DAYS = 30

CRONITER_CHILD = """
import sys, time
from datetime import datetime
from zoneinfo import ZoneInfo
from croniter import croniter
it = croniter("* * * * *", datetime(2026, 3, 1, 1, 0, tzinfo=ZoneInfo("Europe/Paris")))
for _ in range(int(sys.argv[1])):
    it.get_next(datetime)
"""


def show():  # type: ignore[no-untyped-def]
    from decart_flow.show.model import Choice, Cue, CronTrigger, EveryTrigger, PromptAction, ShowModel

    return ShowModel("Installation", "mirage", cues=(
        Cue("minute", CronTrigger("* * * * *", "Europe/Paris"), (PromptAction("Minute"),)),
        Cue("ambient", EveryTrigger(30), (PromptAction(Choice("cycle", ("Lego world", "Watercolor", "Claymation"))),)),
    ))


def run(days: float) -> tuple[int, float, float]:
    """(firings, wall s, cpu s) of one streamed plan."""
    from decart_flow.engine.plan import stream

    gc.collect()
    count = 0

    def emit(_f: object) -> None:
        nonlocal count
        count += 1

    w0, c0 = time.perf_counter(), time.process_time()
    stream(show(), emit, days * DAY, START)
    return count, time.perf_counter() - w0, time.process_time() - c0


def croniter_steps(count: int, as_float: bool) -> tuple[float, float]:
    """(wall s, cpu s) of `count` croniter steps of the show's cron rule in this process."""
    from zoneinfo import ZoneInfo

    from croniter import croniter

    gc.collect()
    if as_float:
        it, kind = croniter("* * * * *", datetime(2026, 3, 1, 1, 0)), float
    else:
        it, kind = croniter("* * * * *", START.astimezone(ZoneInfo("Europe/Paris"))), datetime
    w0, c0 = time.perf_counter(), time.process_time()
    for _ in range(count):
        it.get_next(kind)
    return time.perf_counter() - w0, time.process_time() - c0


def peak_kib(days: float) -> float:
    from decart_flow.engine.plan import stream

    gc.collect()
    tracemalloc.start()
    stream(show(), lambda f: None, days * DAY, START)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1024


def child(args: list[str], out_path: Path, cwd: Path) -> tuple[float, float, int]:
    """(wall s, cpu s, max RSS KiB) of a child process writing its stdout to `out_path`."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with open(out_path, "wb") as out:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        w0 = time.perf_counter()
        subprocess.run(args, stdout=out, check=True, env=env, cwd=cwd)
        wall = time.perf_counter() - w0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return wall, cpu, after.ru_maxrss


def command(path: Path, json_out: bool = False, start: datetime | None = START) -> tuple[float, float, int, int]:
    """(wall s, cpu s, max RSS KiB, firings printed) of `decart-flow plan PATH --for 30d`.

    `start=None` leaves `--start` out, as a user does: the plan starts now. The output goes to a
    file (in the page cache, as cheap as /dev/null) so that the firings can be counted: one a line
    between two other lines. The child may write bytecode and callers run it once untimed first, so
    the timed runs import from cached bytecode, as an installed decart-flow does. cwd is the file's
    directory: `python -m` puts the cwd first on sys.path, and a checkout there would shadow `--tree`.
    """
    args = [sys.executable, "-m", "decart_flow.cli", "plan", str(path), "--for", f"{DAYS}d"] + \
        (["--start", start.isoformat()] if start is not None else []) + (["--json"] if json_out else [])
    out_path = path.with_suffix(".out")
    wall, cpu, rss = child(args, out_path, path.parent)
    with open(out_path, "rb") as out:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: out.read(1 << 20), b""))
    out_path.unlink()
    return wall, cpu, rss, lines - 2


def croniter_child(count: int, tmp: Path) -> tuple[float, float]:
    wall, cpu, _ = child([sys.executable, "-c", CRONITER_CHILD, str(count)], tmp / "croniter.out", tmp)
    return wall, cpu


def measure(runs: int) -> dict[str, Any]:
    """Every figure, the plan and croniter alternating run by run (so load falls on both alike)."""
    engine, cron_dt, cron_float, cmd, cmd_json, cmd_now, cron_child = [], [], [], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        path = tmp / "installation.yaml"
        path.write_text(SHOW_YAML)
        count = run(DAYS)[0]
        for json_out, start in ((False, START), (True, START), (False, None)):
            command(path, json_out, start)  # untimed: writes the bytecode the timed runs then read
        croniter_child(10, tmp)
        for _ in range(runs):
            engine.append(run(DAYS))
            cron_dt.append(croniter_steps(count, as_float=False))
            cron_float.append(croniter_steps(count, as_float=True))
            cmd.append(command(path))
            cron_child.append(croniter_child(count, tmp))
            cmd_json.append(command(path, True))
            cmd_now.append(command(path, False, None))
    for name, results in (("command", cmd), ("command --json", cmd_json)):
        if any(r[3] != count for r in results):
            raise SystemExit(f"{name}: printed {[r[3] for r in results]} firings, the engine made {count}")

    def p50(rows: list[tuple[Any, ...]], i: int) -> float:
        return round(pct([r[i] for r in rows], 50), 3)

    return {
        "runs": runs, "firings_30d": count,
        "engine_wall_s": p50(engine, 1), "engine_cpu_s": p50(engine, 2),
        "croniter_wall_s": p50(cron_dt, 0), "croniter_cpu_s": p50(cron_dt, 1),
        "croniter_float_wall_s": p50(cron_float, 0), "croniter_float_cpu_s": p50(cron_float, 1),
        "command_wall_s": p50(cmd, 0), "command_cpu_s": p50(cmd, 1),
        "command_json_wall_s": p50(cmd_json, 0), "command_json_cpu_s": p50(cmd_json, 1),
        "command_now_wall_s": p50(cmd_now, 0), "command_now_cpu_s": p50(cmd_now, 1),
        "croniter_child_wall_s": p50(cron_child, 0), "croniter_child_cpu_s": p50(cron_child, 1),
        "command_max_rss_mib": round(max(r[2] for r in cmd) / 1024, 1),
        "peak_kib_0.25d": round(peak_kib(0.25)), "peak_kib_2d": round(peak_kib(2)),
    }


def print_table(r: dict[str, Any]) -> None:
    n = r["firings_30d"]
    print(f"plan --for {DAYS}d of cron '* * * * *' + every 30s: {n:,} firings; croniter steps as many times")
    print(f"{'':>34}  {'p50 wall s':>10}  {'p50 cpu s':>9}  {'us/firing (cpu)':>15}")
    for label, key in (("command (table)", "command"), ("croniter child (import + steps)", "croniter_child"),
                       ("command --json", "command_json"), ("command from now", "command_now"),
                       ("engine (in process)", "engine"), ("croniter get_next(datetime)", "croniter"),
                       ("croniter get_next(float)", "croniter_float")):
        wall, cpu = r[f"{key}_wall_s"], r[f"{key}_cpu_s"]
        print(f"{label:>34}  {wall:>10.2f}  {cpu:>9.2f}  {cpu / n * 1e6:>15.1f}")
    print(f"\nratio command / croniter child (cpu): {r['command_cpu_s'] / r['croniter_child_cpu_s']:.2f}"
          f"   (wall: {r['command_wall_s'] / r['croniter_child_wall_s']:.2f}; target <= 1)")
    print(f"ratio engine / croniter get_next(datetime) (cpu): {r['engine_cpu_s'] / r['croniter_cpu_s']:.2f}"
          f"   / get_next(float): {r['engine_cpu_s'] / r['croniter_float_cpu_s']:.2f}")
    print(f"max RSS of a plan command: {r['command_max_rss_mib']} MiB; peak traced memory 6 h / 2 d: "
          f"{r['peak_kib_0.25d']} / {r['peak_kib_2d']} KiB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tree", default=None, help="a directory holding another decart_flow to time")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON on the last line")
    args = parser.parse_args()
    if args.tree:
        sys.path.insert(0, str(Path(args.tree).resolve()))
        os.environ["PYTHONPATH"] = os.pathsep.join([str(Path(args.tree).resolve()), os.environ.get("PYTHONPATH", "")])
    import decart_flow

    print(f"decart_flow from {Path(decart_flow.__file__).parent}")
    ticks = cpu_ticks()
    print(f"speed probe (common.speed_probe, lower is faster): {speed_probe()} s")
    r = measure(args.runs)
    r["steal_pct"] = steal_share(ticks, cpu_ticks())
    print_table(r)
    print(f"CPU steal over the run: {r['steal_pct']}%; load average {os.getloadavg()[0]:.2f}; "
          f"python {sys.version.split()[0]}, {os.cpu_count()} cpus")
    if args.json:
        print(json.dumps(r))


if __name__ == "__main__":
    main()
