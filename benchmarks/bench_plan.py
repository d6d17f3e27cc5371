"""How fast `plan` runs an installation show, and whether its memory stays flat.

The show: a cron cue every minute and an `every: 20s` cycle (issue 5's installation). Target:
`plan --for 30d` in <= 2 s with flat memory. Run: `/work/venv/bin/python benchmarks/bench_plan.py`.
Firings are streamed to a counter (as `plan_command` streams them to stdout), so memory measures
the engine, not a list of results.
"""

from __future__ import annotations

import gc
import resource
import sys
import time
import tracemalloc
from datetime import datetime, timezone

from decart_flow.engine.plan import stream
from decart_flow.show.model import Choice, Cue, CronTrigger, EveryTrigger, PromptAction, ShowModel

SHOW = ShowModel("Installation", "mirage", cues=(
    Cue("minute", CronTrigger("* * * * *", "Europe/Paris"), (PromptAction("Minute"),)),
    Cue("ambient", EveryTrigger(20), (PromptAction(Choice("cycle", ("Lego world", "Watercolor", "Claymation"))),)),
))
START = datetime(2026, 3, 1, tzinfo=timezone.utc)
DAY = 86400.0


def run(days: float) -> tuple[int, float]:
    gc.collect()
    count = 0

    def emit(_f: object) -> None:
        nonlocal count
        count += 1

    t0 = time.perf_counter()
    stream(SHOW, emit, days * DAY, START)
    return count, time.perf_counter() - t0


def peak_kib(days: float) -> float:
    gc.collect()
    tracemalloc.start()
    stream(SHOW, lambda f: None, days * DAY, START)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1024


def main() -> None:
    print(f"{'plan --for':>10}  {'firings':>8}  {'seconds':>8}  {'us/firing':>9}")
    for days in (1, 7, 30):
        count, secs = run(days)
        print(f"{str(days) + 'd':>10}  {count:>8}  {secs:>8.2f}  {secs / count * 1e6:>9.1f}")
    print()
    print(f"{'plan --for':>10}  {'peak KiB (tracemalloc)':>22}")
    for days in (0.25, 2):
        print(f"{str(days) + 'd':>10}  {peak_kib(days):>22.0f}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"\nmax RSS of this process: {rss / 1024:.0f} MiB (python {sys.version.split()[0]})")


if __name__ == "__main__":
    main()
