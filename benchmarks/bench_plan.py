"""How fast `plan` runs an installation show, and whether its memory stays flat.

The show: a cron cue every minute and an `every: 20s` cycle (issue 5's installation). Target:
`plan --for 30d` in <= 2 s with flat memory. Firings are streamed to a counter (as `plan_command`
streams them to stdout), so memory measures the engine, not a list of results. The `command` rows
time the real `decart-flow plan --for 30d` (table and --json) in a child process, output to
/dev/null: the figure a user sees. Times are the p50 of `--runs` runs, wall clock and CPU (the CPU
figure is steadier on a shared machine).

Run: `/work/venv/bin/python benchmarks/bench_plan.py [--runs 5] [--tree DIR]` (`--tree` times another
checkout's `decart_flow`, e.g. the previous commit, in the same session for a side-by-side).
"""

from __future__ import annotations

import argparse
import gc
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
        every: 20s
        prompt: {cycle: [Lego world, Watercolor, Claymation]}
""")
START = datetime(2026, 3, 1, tzinfo=timezone.utc)
DAY = 86400.0


def show():  # type: ignore[no-untyped-def]
    from decart_flow.show.model import Choice, Cue, CronTrigger, EveryTrigger, PromptAction, ShowModel

    return ShowModel("Installation", "mirage", cues=(
        Cue("minute", CronTrigger("* * * * *", "Europe/Paris"), (PromptAction("Minute"),)),
        Cue("ambient", EveryTrigger(20), (PromptAction(Choice("cycle", ("Lego world", "Watercolor", "Claymation"))),)),
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


def peak_kib(days: float) -> float:
    from decart_flow.engine.plan import stream

    gc.collect()
    tracemalloc.start()
    stream(show(), lambda f: None, days * DAY, START)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1024


def command(path: Path, json_out: bool, start: datetime | None = START) -> tuple[float, float, int, int]:
    """(wall s, cpu s, max RSS KiB, firings printed) of `decart-flow plan PATH --for 30d` in a child process.

    `start=None` leaves `--start` out, as a user does: the plan starts now, a fraction of a second
    into the wall clock's second, which the printer's common case does not cover for the cron
    cue's rows (its shows times then carry milliseconds).

    The output goes to a file (in the page cache, as cheap as /dev/null) so that the firings can be
    counted: the table and the JSON list both hold one firing a line between two other lines (the
    header and `N firings`, or `[` and `]`). The child may write bytecode (PYTHONDONTWRITEBYTECODE
    is dropped from its environment) and callers run it once untimed first, so the timed runs import
    from cached bytecode, as an installed decart-flow does (pip compiles it at install time).
    """
    args = [sys.executable, "-m", "decart_flow.cli", "plan", str(path), "--for", "30d"] + \
        (["--start", start.isoformat()] if start is not None else []) + (["--json"] if json_out else [])
    out_path = path.with_suffix(".out")
    with open(out_path, "wb") as out:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        w0 = time.perf_counter()
        # cwd: the file's directory, not the caller's: `python -m` puts the cwd first on sys.path, and a
        # checkout there would shadow the `--tree` one.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        subprocess.run(args, stdout=out, check=True, env=env, cwd=path.parent)
        wall = time.perf_counter() - w0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(out_path, "rb") as out:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: out.read(1 << 20), b""))
    out_path.unlink()
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return wall, cpu, after.ru_maxrss, lines - 2


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tree", default=None, help="a directory holding another decart_flow to time")
    args = parser.parse_args()
    if args.tree:
        sys.path.insert(0, str(Path(args.tree).resolve()))
        os.environ["PYTHONPATH"] = os.pathsep.join([str(Path(args.tree).resolve()), os.environ.get("PYTHONPATH", "")])
    import decart_flow

    print(f"decart_flow from {Path(decart_flow.__file__).parent}")
    probe = subprocess.run([sys.executable, "-c", "import decart_flow; print(decart_flow.__file__)"],
                           capture_output=True, text=True, env=os.environ, cwd=tempfile.gettempdir())
    print(f"commands use decart_flow from {Path(probe.stdout.strip()).parent}")
    ticks = cpu_ticks()
    print(f"speed probe (common.speed_probe, lower is faster): {speed_probe()} s")
    print(f"{'plan --for':>12}  {'firings':>8}  {'p50 wall s':>10}  {'p50 cpu s':>9}  {'us/firing (cpu)':>15}")
    for days in (1, 7, 30):
        results = [run(days) for _ in range(args.runs)]
        count = results[0][0]
        wall, cpu = pct([r[1] for r in results], 50), pct([r[2] for r in results], 50)
        print(f"{str(days) + 'd':>12}  {count:>8}  {wall:>10.2f}  {cpu:>9.2f}  {cpu / count * 1e6:>15.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "installation.yaml"
        path.write_text(SHOW_YAML)
        for json_out, start in ((False, START), (True, START), (False, None)):
            command(path, json_out, start)  # untimed: writes the bytecode the timed runs then read
            results = [command(path, json_out, start) for _ in range(args.runs)]
            wall, cpu = pct([r[0] for r in results], 50), pct([r[1] for r in results], 50)
            name = "cmd --json" if json_out else "cmd table" if start else "cmd from now"
            count = results[0][3]
            if any(r[3] != count for r in results):
                raise SystemExit(f"{name}: the runs printed different numbers of firings")
            print(f"{name:>12}  {count:>8}  {wall:>10.2f}  {cpu:>9.2f}  {cpu / count * 1e6:>15.1f}")
        print(f"max RSS of a plan command (children): {max(r[2] for r in results) / 1024:.0f} MiB")
    print()
    print(f"{'plan --for':>12}  {'peak KiB (tracemalloc)':>22}")
    for days in (0.25, 2):
        print(f"{str(days) + 'd':>12}  {peak_kib(days):>22.0f}")
    print(f"\nCPU steal over the run: {steal_share(ticks, cpu_ticks())}%")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"\nmax RSS of this process: {rss / 1024:.0f} MiB (python {sys.version.split()[0]}, {os.cpu_count()} cpus)")


if __name__ == "__main__":
    main()
