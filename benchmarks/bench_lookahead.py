"""Lookahead: how close to its cued time a change reaches the glass, without and with `lookahead: auto`.

The real path of `decart-flow run` against the local service: ServiceProcess (its own core), a
RealtimeClient sending a 1280x704 TestSource at 25 fps, a StampWatcher frame sink, and the real
Engine playing one `every:` cue of unique prompts (`look k`). With `auto`, a `LatencyFeed` feeds
the engine's estimator from the same session, exactly as the runner attaches it.

A cue's glass time is when the first frame stamped with its change arrived (the engine keeps one
change in flight, so prompt k's stamp is `expected_stamp + 1` when it is written). Landing =
glass time - cued time; the figure is |landing| p50/p95. Target with lookahead: p95 <= half a frame
interval (20 ms at 25 fps). The first WARMUP cues of the `auto` run (the estimator still at its
default) are reported apart.

    python benchmarks/bench_lookahead.py [--cues 40] [--interval 0.5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import pct, summary, table, write_json  # noqa: E402

MODEL = "mirage"
FROM = 2.0  # first cue at show time 2 s: the encoder has settled by then
WARMUP = 3  # cues of the auto run scored apart: the estimator has few or no measurements yet


async def play(cues: int, interval: float, lookahead: str | None) -> dict[str, Any]:
    """One session playing one show; per cue: cued, sent and glass times (seconds, perf clock)."""
    from bench_lateness import _video_track

    from decart_flow.engine import Engine
    from decart_flow.engine.clock import Clock
    from decart_flow.engine.latency import LatencyFeed
    from decart_flow.media import StampWatcher
    from decart_flow.realtime import RealtimeClient
    from decart_flow.realtime.types import RealtimeConnectOptions
    from decart_flow.service import ServiceProcess
    from decart_flow.show.model import Choice, Cue, EveryTrigger, PromptAction, ShowModel

    loop = asyncio.get_running_loop()
    show = ShowModel(
        "lookahead", MODEL, duration=FROM + cues * interval + 1.0, lookahead=lookahead,  # type: ignore[arg-type]
        cues=(Cue("tick", EveryTrigger(interval, start=FROM, times=cues),
                  (PromptAction(Choice("cycle", tuple(f"look {k}" for k in range(cues))), enhance=False),)),),
    )
    sent: dict[int, tuple[int, int]] = {}  # cue k -> (write perf_counter_ns, its stamp)
    fired: list[dict[str, Any]] = []
    with ServiceProcess(api_key="bench_key") as service, tempfile.TemporaryDirectory() as tmp:
        assert service.url is not None
        client = await RealtimeClient.connect(service.url, "bench_key", _video_track([0]),
                                              RealtimeConnectOptions(model=MODEL))
        stamps = StampWatcher(keep=4096)

        def on_sent(message: dict[str, Any], t_ns: int) -> None:
            text = message.get("prompt")
            if message.get("type") == "prompt" and isinstance(text, str) and text.startswith("look "):
                sent[int(text[5:])] = (t_ns, client.expected_stamp + 1)

        feed = None
        try:
            client.on("sent", on_sent)
            client.add_frame_sink(stamps)
            engine = Engine(show, client, Clock(loop), Path(tmp) / "journal.jsonl")
            feed = LatencyFeed(engine.latency, client, stamps, loop)  # what runner/run.py attaches
            engine.journal_events.subscribe(lambda r: r["event"] == "cue.fire" and fired.append(r))
            reason = await engine.run()
            await asyncio.sleep(0.6)  # the last cue's frame is still on its way
            cued = [engine.show_clock.mono_of(FROM + k * interval) for k in range(cues)]
            estimate = engine.latency.seconds
            samples = list(engine.latency.samples)
        finally:
            if feed is not None:
                feed.close()
            await client.disconnect()
    rows = []
    for k in range(cues):
        t_ns, stamp = sent.get(k, (None, None))
        glass = stamps.first_seen(stamp) if stamp is not None else None
        rows.append({"k": k, "cued_s": cued[k], "sent_s": t_ns / 1e9 if t_ns else None, "stamp": stamp,
                     "glass_s": glass / 1e9 if glass is not None else None,
                     "lookahead_ms": fired[k].get("lookahead_ms") if k < len(fired) else None})
    seen = [r["stamp"] for r in rows if r["stamp"] is not None]
    for r in rows:  # two cues with one stamp (a refused prompt) cannot be told apart
        if r["stamp"] is not None and seen.count(r["stamp"]) > 1:
            r["glass_s"] = None
    return {"lookahead": lookahead, "end": reason, "estimate_end_ms": round(estimate * 1000, 1),
            "estimator_samples_ms": [round(s * 1000, 1) for s in samples], "cues": rows}


def figures(raw: dict[str, Any], skip: int = 0) -> dict[str, Any]:
    ok = [r for r in raw["cues"][skip:] if r["glass_s"] is not None and r["sent_s"] is not None]
    landing = [(r["glass_s"] - r["cued_s"]) * 1000 for r in ok]
    s2g = [(r["glass_s"] - r["sent_s"]) * 1000 for r in ok]
    return {"n": len(ok), "unseen": len(raw["cues"]) - skip - len(ok),
            "landing_abs_ms": summary([abs(v) for v in landing], 1),
            "landing_signed_ms": {"p5": round(pct(landing, 5), 1), "p50": round(pct(landing, 50), 1),
                                  "p95": round(pct(landing, 95), 1)},
            "send_to_glass_ms": summary(s2g, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cues", type=int, default=40)
    parser.add_argument("--interval", type=float, default=0.5)
    args = parser.parse_args()
    frame_ms = 1000.0 / 25
    target = frame_ms / 2
    runs = {name: asyncio.run(play(args.cues, args.interval, la)) for name, la in (("none", None), ("auto", "auto"))}
    results = {"none": figures(runs["none"]), "auto": figures(runs["auto"]),
               f"auto after {WARMUP}": figures(runs["auto"], skip=WARMUP)}
    print(f"landing |glass - cued|, {MODEL} 1280x704 @ 25 fps, {args.cues} cues every {args.interval} s, "
          f"load {os.getloadavg()[0]:.2f} on {os.cpu_count()} cpus")
    print(table(["lookahead", "n", "|landing| p50 ms", "|landing| p95 ms", "signed p50 ms", "send->glass p50",
                 "send->glass p95"], [
        [name, f["n"], f["landing_abs_ms"]["p50"], f["landing_abs_ms"]["p95"], f["landing_signed_ms"]["p50"],
         f["send_to_glass_ms"]["p50"], f["send_to_glass_ms"]["p95"]] for name, f in results.items()]))
    p95 = results[f"auto after {WARMUP}"]["landing_abs_ms"]["p95"]
    print(f"auto estimate at the end: {runs['auto']['estimate_end_ms']} ms; target |landing| p95 <= {target:.0f} ms "
          f"with lookahead: {'yes' if p95 <= target else 'NO'} ({p95} ms)")
    path = write_json("lookahead", {"model": MODEL, "size": "1280x704", "fps": 25, "frame_interval_ms": frame_ms,
                                    "target_p95_ms": target, "meets_target": p95 <= target,
                                    "loadavg_1min": os.getloadavg()[0], "figures": results, "raw": runs})
    print(f"written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
