"""TUI overhead: cue lateness and received fps with the TUI on, beside the same run headless.

Both cases play the same show through the real `Run` (decart_flow/runner/run.py: embedded local
service in a child process, testsrc at the model's fps, engine, journal, sinks) with one prompt
cue every 0.47 s cycling unique texts (`look k`), in a fresh interpreter each:

- `headless`: what `decart-flow run --headless` does (the journal printer writes every record,
  here to /dev/null).
- `tui`: the Textual app of `decart-flow run` (FlowApp: state 10 Hz, preview 5 fps, journal pane;
  the show on its own loop in a ShowThread, given this Run through `run_factory`; the app's loop
  made as `run_tui` makes it, stepping aside for the show's timers) driven by `App.run_test`
  (Textual's headless driver: every widget renders, nothing is written to a terminal, so the
  cost of a real terminal's output is not counted).

The Run is subclassed here only to listen: `on("sent")` for the WebSocket write time of each cue's
prompt, a frame sink counting received frames, and the source's frame count. Lateness = write time
- intended time (bench_lateness's measure); fps over the cue window. Target (issue 4): the TUI's
lateness and received fps within 10% of headless. Cases alternate `--rounds` times; lateness is
compared on the cues of all rounds pooled per case (a p99 of one 30 s round is its second-worst cue).

    python benchmarks/bench_tui.py [--seconds 30] [--rounds 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import pct, summary, table, write_json  # noqa: E402

MODEL = "mirage"
FROM = 2.0
INTERVAL = 0.47  # not a multiple of the TUI's 100 ms tick: cues meet its work at every phase, as
# the cues of a real show do (at 0.5 s every cue came at the same point of the TUI's cycle)
CASES = ("headless", "tui")
TOLERANCE = 0.10


def _timed_run_class() -> type:
    from decart_flow.runner.run import Run

    class TimedRun(Run):
        """A Run that also notes prompt write times and frames in and out."""

        sent_ns: dict[int, int]
        frame_times: list[float]
        made: list[int]
        made_runs: list[Any] = []  # every instance (the TUI makes its Run on the show thread)

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            TimedRun.made_runs.append(self)

        def _open_source(self, session: Any) -> Any:
            source = super()._open_source(session)
            self.made = [0]
            make = source.make_frame

            def counted(index: int) -> Any:
                self.made[0] += 1
                return make(index)

            source.make_frame = counted
            return source

        def _attach_sinks(self) -> None:
            super()._attach_sinks()
            self.sent_ns, self.frame_times = {}, []

            def on_sent(message: dict[str, Any], t_ns: int) -> None:
                text = message.get("prompt")
                if message.get("type") == "prompt" and isinstance(text, str) and text.startswith("look "):
                    self.sent_ns[int(text[5:])] = t_ns

            assert self.session is not None
            self.session.on("sent", on_sent)
            self.session.add_frame_sink(lambda _f: self.frame_times.append(time.monotonic()))

    return TimedRun


async def run_case(case: str, seconds: float, realtime: bool = True, guard: Any = None) -> dict[str, Any]:
    from decart_flow.runner.headless import printer
    from decart_flow.runner.run import RunOptions
    from decart_flow.show.model import Choice, Cue, EveryTrigger, PromptAction, ShowModel

    count = int(seconds / INTERVAL)
    show = ShowModel("tui-overhead", MODEL, duration=FROM + count * INTERVAL + 1.0,
                     cues=(Cue("tick", EveryTrigger(INTERVAL, start=FROM, times=count),
                               (PromptAction(Choice("cycle", tuple(f"look {k}" for k in range(count))), enhance=False),)),))
    TimedRun = _timed_run_class()
    with tempfile.TemporaryDirectory() as tmp:
        options = RunOptions(headless=case == "headless", journal=str(Path(tmp) / "journal.jsonl"),
                             realtime=realtime)  # on, as `decart-flow run` has it, unless --no-realtime
        if case == "headless":
            run = TimedRun(show, options, say=lambda line: None)
            with open(os.devnull, "w") as null:
                run.journal.events.subscribe(printer(lambda line: print(line, file=null)))
                reason = await run.play()
        else:
            from multiprocessing import resource_tracker

            from decart_flow.tui.app import FlowApp

            resource_tracker.ensure_running()  # as run_command does before Textual takes stderr
            app = FlowApp(show, options, run_factory=TimedRun, guard=guard)
            async with app.run_test(headless=True, size=(160, 48)):
                reason = await asyncio.wrap_future(app.finished)
            run = TimedRun.made_runs[-1]
    engine = run.engine
    assert engine is not None
    intended = [engine.show_clock.mono_of(FROM + k * INTERVAL) for k in range(count)]
    lateness = [(run.sent_ns[k] / 1e9 - intended[k]) * 1000 for k in range(count) if k in run.sent_ns]
    start, end = intended[0], intended[-1]
    received = sum(1 for t in run.frame_times if start <= t < end)
    return {"case": case, "end": reason, "cues": count, "missed": count - len(lateness),
            "sent_ms": summary(lateness), "lateness_ms": [round(x, 4) for x in lateness], "received_fps": round(received / (end - start), 2),
            "made_frames": run.made[0], "loadavg_1min_after": round(os.getloadavg()[0], 2)}


def _child(case: str, seconds: float, realtime: bool) -> dict[str, Any]:
    extra = [] if realtime else ["--no-realtime"]
    out = subprocess.run([sys.executable, __file__, "--case", case, "--seconds", str(seconds), "--json", *extra],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"case {case} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def compare(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Per case lateness p50/p99 over the cues of all rounds, and the median fps; the TUI against headless."""
    def med(case: str, get: Any) -> float:
        return statistics.median(get(r) for r in results if r["case"] == case)

    out: dict[str, Any] = {}
    for case in CASES:
        pooled = [x for r in results if r["case"] == case for x in r["lateness_ms"]]
        out[case] = {"sent_p50_ms": round(pct(pooled, 50), 3), "sent_p99_ms": round(pct(pooled, 99), 3),
                     "cues": len(pooled), "received_fps": med(case, lambda r: r["received_fps"])}
    h, t = out["headless"], out["tui"]
    out["fps_ratio"] = round(t["received_fps"] / h["received_fps"], 3) if h["received_fps"] else None
    out["p99_ratio"] = round(t["sent_p99_ms"] / h["sent_p99_ms"], 3) if h["sent_p99_ms"] else None
    out["fps_within_10pct"] = out["fps_ratio"] is not None and out["fps_ratio"] >= 1 - TOLERANCE
    out["lateness_within_10pct"] = out["p99_ratio"] is not None and out["p99_ratio"] <= 1 + TOLERANCE
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--case", choices=CASES, help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="print only the figures as one JSON line")
    parser.add_argument("--no-realtime", action="store_true", help="both cases at normal priority (run --no-realtime)")
    args = parser.parse_args()
    if args.case:
        if args.case == "tui":  # the TUI's loop as run_tui makes it: stepping aside for the show's timers
            from decart_flow.runner.yielding import CueGuard, run_guarded

            guard = CueGuard()
            result = run_guarded(lambda: run_case(args.case, args.seconds, not args.no_realtime, guard), guard)
            result["guard_yielded"] = guard.yielded
        else:
            result = asyncio.run(run_case(args.case, args.seconds, not args.no_realtime))
        print(json.dumps(result))
        return 0
    results = [_child(case, args.seconds, not args.no_realtime) for _ in range(args.rounds) for case in CASES]
    result = {"rounds": results, "compare": compare(results)}
    if args.json:
        print(json.dumps(result))
        return 0
    rows = [[r["case"], r["sent_ms"]["n"], r["sent_ms"]["p50"], r["sent_ms"]["p95"], r["sent_ms"]["p99"],
             r["sent_ms"]["max"], r["missed"], r["received_fps"], r["loadavg_1min_after"]] for r in results]
    print(f"TUI overhead, {MODEL} @ 25 fps, a cue every {INTERVAL} s for {args.seconds} s per case")
    print(table(["case", "n", "p50 ms", "p95 ms", "p99 ms", "max ms", "missed", "fps in", "load"], rows))
    c = result["compare"]
    for case in CASES:
        print(f"{case}: lateness over {c[case]['cues']} cues p50 {c[case]['sent_p50_ms']} ms, p99 {c[case]['sent_p99_ms']} ms")
    print(f"tui/headless: received fps x{c['fps_ratio']} ({'ok' if c['fps_within_10pct'] else 'NOT'} within 10%), "
          f"lateness p99 x{c['p99_ratio']} ({'ok' if c['lateness_within_10pct'] else 'NOT'} within 10%)")
    print(f"written to {write_json('tui', result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
