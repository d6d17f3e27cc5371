"""Shared helpers for benchmarks: percentiles, a plain table, a JSON result with the machine."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator, Sequence

RESULTS_DIR = Path(__file__).resolve().parent / "results"
REPO = Path(__file__).resolve().parents[1]

# The two protocols a session can speak (realtime/client.py), and how a table names them.
PROTOCOLS = ("p2p", "livekit")
PROTOCOL_LABEL = {"p2p": "2025 p2p", "livekit": "LiveKit"}
# Both paths play the same model of today, so the protocol is the only difference: 1280x704 at
# 30 fps (the 2025 path plays it peer-to-peer, as the embedded service does by default).
MODEL = "lucy-restyle-2"
BENCH_KEY = "bench_key"  # the key of a service this benchmark starts for itself
_INSIDE = "DECART_FLOW_BENCH_NETNS"  # set in a benchmark re-run inside its namespace


def add_protocol_argument(parser: Any) -> None:
    parser.add_argument("--protocol", choices=PROTOCOLS, default="p2p",
                        help="p2p: the 2025 peer-to-peer path on 127.0.0.1 (default); livekit: today's path, "
                             "the whole benchmark re-run inside a network namespace of its own (needs root)")


def in_own_namespace(protocol: str) -> int | None:
    """For `--protocol livekit`: run this same command again inside a fresh network namespace and
    return its exit code; None when this process is the one to measure (p2p, or already inside).

    LiveKit's clients gather no ICE candidates on loopback, so today's path needs an ordinary
    interface: tests/netns.py makes a namespace with only `lo` and a veth pair (10.200.0.1 for the
    service, 10.200.0.2 for the client); nothing leaves it. The child's stdout and stderr are this
    process's, so its JSON line is the last line either way.
    """
    if protocol != "livekit" or os.environ.get(_INSIDE):
        return None
    sys.path.insert(0, str(REPO / "tests"))
    from netns import Netns, unavailable

    reason = unavailable()
    if reason is not None:
        print(f"{Path(sys.argv[0]).name} --protocol livekit: {reason}; run it as root with iproute2 installed",
              file=sys.stderr)
        return 2
    with Netns() as ns:
        done = subprocess.run(ns.wrap([sys.executable, *sys.argv]), env={**os.environ, _INSIDE: ns.name}, check=False)
    return done.returncode


def service_host(protocol: str) -> str:
    """Where the benchmark's service listens: loopback for the 2025 path, the namespace's veth
    address for LiveKit (tests/netns.py SERVICE_ADDR)."""
    if protocol != "livekit":
        return "127.0.0.1"
    if not os.environ.get(_INSIDE):
        raise SystemExit("the LiveKit path runs inside its namespace: start it with --protocol livekit")
    sys.path.insert(0, str(REPO / "tests"))
    from netns import SERVICE_ADDR

    return SERVICE_ADDR


@contextlib.contextmanager
def played_as_run(loop: Any, clock: Any, realtime: bool = True) -> Iterator[str]:
    """The timing policy `decart-flow run` plays under: real-time priority for this process's threads
    and the cycle collector between cues (runner/priority.py, runner/collector.py); with
    `realtime=False`, neither, as `run --no-realtime`. Yields "on", "off" or "refused"."""
    from decart_flow.runner.collector import Collector
    from decart_flow.runner.priority import RealtimePriority

    priority, collector = RealtimePriority(), Collector(loop, clock)
    refused = priority.engage(loop) if realtime else None
    if realtime:
        collector.start()
    try:
        yield "off" if not realtime else "refused" if refused else "on"
    finally:
        collector.stop()
        priority.release()


class Warnings(logging.Handler):
    """The warnings and errors a played session logged (ours and the media engines'), kept for the
    result's JSON: a reconnect in a long run then says why it happened."""

    NAMES = ("decart_flow", "livekit", "aiortc")

    def __init__(self, keep: int = 50) -> None:
        super().__init__(logging.WARNING)
        self.keep, self.lines = keep, []  # type: ignore[var-annotated]
        self.setFormatter(logging.Formatter("%(asctime)s.%(msecs)03d %(name)s %(levelname)s: %(message)s", "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.lines) < self.keep:
            self.lines.append(self.format(record))

    def __enter__(self) -> "Warnings":
        for name in self.NAMES:
            logging.getLogger(name).addHandler(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        for name in self.NAMES:
            logging.getLogger(name).removeHandler(self)


async def close_played(calibration: Any, feeds: Sequence[Any], client: Any, timing: Any) -> None:
    """The end of a benchmark's played session: the lookahead's calibration if it still runs, its
    latency feeds, the client, the run's timing (`played_as_run`)."""
    if calibration is not None and not calibration.done():
        calibration.cancel()
    for feed in feeds:
        feed.close()
    await client.disconnect()
    timing.close()


def pct(values: Sequence[float], p: float) -> float:
    """The p-th percentile by nearest rank (no interpolation: a reported max is a real sample)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def summary(values: Sequence[float], digits: int = 2) -> dict[str, float | int]:
    """n, p50, p95, p99, max of a sample."""
    return {
        "n": len(values),
        "p50": round(pct(values, 50), digits),
        "p95": round(pct(values, 95), digits),
        "p99": round(pct(values, 99), digits),
        "max": round(max(values), digits) if values else float("nan"),
    }


def cpu_ticks() -> tuple[int, int] | None:
    """(steal, all) CPU ticks so far, summed over cores (Linux `/proc/stat`), or None elsewhere.

    Steal is time the host gave this VM's CPUs to someone else: timing figures taken under it say
    more about the host than about us, so every run says how much there was.
    """
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    return fields[7], sum(fields)


def steal_share(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    """The share of CPU time stolen between two `cpu_ticks()` readings, in percent."""
    if before is None or after is None or after[1] <= before[1]:
        return None
    return round(100.0 * (after[0] - before[0]) / (after[1] - before[1]), 1)


def speed_probe(rounds: int = 3) -> float:
    """Seconds for a fixed pure-Python loop (3 million additions), the best of `rounds`.

    The same code runs 0.35-0.75 s on this shared VM from one hour to the next; a figure in
    seconds is read against this.
    """
    import time

    best = float("inf")
    for _ in range(rounds):
        t0, total = time.perf_counter(), 0
        for i in range(3_000_000):
            total += i
        best = min(best, time.perf_counter() - t0)
    return round(best, 3)


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Left-aligned first column, right-aligned others; widths from the content."""
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for r in cells:
        first = r[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(r[1:], widths[1:])]
        lines.append("  ".join([first, *rest]))
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def write_json(name: str, data: dict[str, Any]) -> Path:
    """benchmarks/results/NAME.json, with the machine it ran on."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps({**data, "machine": machine()}, indent=2) + "\n")
    return path
