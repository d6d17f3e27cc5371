"""Cue-to-glass: from a cue's intended time to the first received frame that shows it.

The real path of `decart-flow run`: the local service in a child process (ServiceProcess), a
RealtimeClient in this process sending a moving 1280x704 test pattern at the model's fps, and the
real engine playing one `every:` cue that cycles unique prompts (`look k`).

How a frame is tied to a cue. The service stamps every frame with a counter of the state changes it
accepted; the client's `expected_stamp` counts the same. The engine keeps one prompt in flight
(latest wins), so when prompt k is written (`on("sent")`), every earlier change is acknowledged and
prompt k's stamp is `expected_stamp + 1`. A `StampWatcher` frame sink notes the perf_counter_ns at
which each stamp value first arrived: that is the glass time of cue k. perf_counter and the loop's
monotonic clock are the same clock on Linux (bench_lateness checks it), so

    cue -> glass  = glass - intended        (target: p50 <= 2 frame intervals)
    send -> glass = glass - WebSocket write (what a lookahead must cover)
    landing       = |glass - cued time|      (without lookahead: cue -> glass itself)

Lookahead: `--lookahead auto|SECONDS` sets it on the show; with `auto` a LatencyFeed learns
send -> glass from the stamps, as the runner does, and the engine sends each cue that much early.
Landing is then |glass - cued time| with the cue sent early. Without lookahead,
`estimate_lookahead` says what a fixed lookahead would give, from this run's distribution (the
lookahead is chosen on the first half of the cues, the landing is scored on the second half).

`play()` is also the harness of bench_throughput (frames and CPU of the same session).

`--protocol livekit`: the same session over today's protocol (prompts on the WebSocket, media
through a LiveKit room; the stamps and `expected_stamp` count alike), the whole script re-run inside
a network namespace of its own with the service on 10.200.0.1 (common.in_own_namespace).

    python benchmarks/bench_glass.py [--seconds 30] [--interval 0.5] [--lookahead auto|0.2] [--protocol livekit]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    BENCH_KEY, MODEL, PROTOCOL_LABEL, Warnings, add_protocol_argument, close_played, in_own_namespace, pct, played_as_run,
    service_host, summary, table, write_json,
)

FROM = 2.0  # first cue at show time 2 s: the encoder and bitrate have settled by then
TARGET_FRAMES = 2.0  # cue -> glass p50 in frame intervals
OPENING = "Opening look"  # the show's initial prompt, as most shows have one


def cpu_seconds(pid: int | str = "self") -> float:
    """User + system CPU of a process from /proc/PID/stat (psutil is not installed)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _service_pid() -> int | None:
    for child in multiprocessing.active_children():
        if child.name == "decart-flow-service":
            return child.pid
    return None


async def play(seconds: float, interval: float, lookahead: float | str | None = None, *,
               realtime: bool = True, marker_buffer: bool = True, calibrate: bool = True,
               protocol: str = "p2p", faults: tuple[str, ...] = (), playout_delay: str = "0") -> dict[str, Any]:
    """One session playing one show; raw per-cue times, frame counts and CPU of both processes.

    As `decart-flow run` plays it: real-time priority and the cycle collector between cues
    (`played_as_run`; `realtime=False`: as `run --no-realtime`), received frames handed on
    at their marked last packet (`marker_buffer=False`: aiortc's own buffer, one frame later), and
    with `lookahead: auto` send-to-glass measured before the first cue (`calibrate=False`: not).
    `protocol`: p2p (2025) or livekit (today's; this process must be inside its namespace).
    `faults`: the service's `--fault` specs (a drop mid-run shows as `reconnects` in the figures).
    `playout_delay`: the service's `--playout-delay` (LiveKit: "auto" lets the receiver smooth).
    """
    from bench_lateness import _video_track

    from decart_flow.realtime import jitter

    if not marker_buffer:
        jitter.install = lambda: False  # type: ignore[assignment]

    from decart_flow.engine import Engine
    from decart_flow.engine.clock import Clock
    from decart_flow.media import StampWatcher
    from decart_flow.realtime import RealtimeClient
    from decart_flow.realtime.models import realtime
    from decart_flow.realtime.types import ModelState, Prompt, RealtimeConnectOptions
    from decart_flow.service import ServiceProcess
    from decart_flow.show.model import Choice, Cue, EveryTrigger, Initial, PromptAction, ShowModel

    loop = asyncio.get_running_loop()
    t_start = time.monotonic()
    spec = realtime(MODEL)
    count = int(seconds / interval)
    show = ShowModel(
        "glass", MODEL, duration=FROM + count * interval + 1.0, lookahead=lookahead,  # type: ignore[arg-type]
        initial=Initial(prompt=OPENING, enhance=False),
        cues=(Cue("tick", EveryTrigger(interval, start=FROM, times=count),
                  (PromptAction(Choice("cycle", tuple(f"look {k}" for k in range(count))), enhance=False),)),),
    )
    sent_frames, got_frames = [0], [0]
    sent: dict[int, tuple[int, int]] = {}  # cue k -> (write perf_counter_ns, its stamp)
    window: dict[str, Any] = {}

    with ServiceProcess(api_key=BENCH_KEY, host=service_host(protocol), faults=faults,
                        playout_delay=playout_delay) as service, \
            tempfile.TemporaryDirectory() as tmp, Warnings() as warned:
        assert service.url is not None
        service_pid = _service_pid()
        client = await RealtimeClient.connect(
            service.url, BENCH_KEY, _video_track(sent_frames),
            RealtimeConnectOptions(model=MODEL, initial_state=ModelState(prompt=Prompt(OPENING, enrich=False)),
                                   protocol=protocol))  # type: ignore[arg-type]
        stamps = StampWatcher(keep=4096)
        # A session that drops and comes back counts its stamps from 1 again: a cue's frame is the
        # first with its stamp in the session it was sent in, so every stamp is kept with the
        # number of the session it came in (0, then 1 after the first reconnect, ...).
        session = [0]
        glass_ns: dict[tuple[int, int], int] = {}
        states: list[tuple[float, str]] = []

        def on_state(state: Any) -> None:
            states.append((time.monotonic(), str(state)))
            if str(state) == "reconnecting":
                session[0] += 1
                stamps.reset()  # so the new session's values are new again, as the runner does

        def on_stamp(value: int, t_ns: int) -> None:  # on the media thread
            glass_ns.setdefault((session[0], value), t_ns)

        stamps.on_stamp(on_stamp)

        def on_sent(message: dict[str, Any], t_ns: int) -> None:
            text = message.get("prompt")
            if message.get("type") == "prompt" and isinstance(text, str) and text.startswith("look "):
                sent[int(text[5:])] = (t_ns, client.expected_stamp + 1, session[0])

        def count_frame(_frame: Any) -> None:
            got_frames[0] += 1

        def snapshot(key: str) -> None:
            window[key] = (time.monotonic(), sent_frames[0], got_frames[0], cpu_seconds(),
                           cpu_seconds(service_pid) if service_pid else float("nan"), os.getloadavg()[0])

        feeds: list[Any] = []
        calibration: asyncio.Future[list[float]] | None = None
        timing = contextlib.ExitStack()
        try:
            client.on("sent", on_sent)
            client.on("connection_change", on_state)
            client.add_frame_sink(count_frame)
            client.add_frame_sink(stamps)
            clock = Clock(loop)
            engine = Engine(show, client, clock, Path(tmp) / "journal.jsonl")
            rt_state = timing.enter_context(played_as_run(loop, clock, realtime))
            if lookahead is not None:  # `auto` learns send -> glass as the runner does
                from decart_flow.engine.latency import LatencyFeed

                feeds.append(LatencyFeed(engine.latency, client, stamps, loop))
            loop.call_later(FROM, snapshot, "start")
            loop.call_later(FROM + count * interval, snapshot, "end")
            playing = asyncio.ensure_future(engine.run())
            if lookahead == "auto" and calibrate:  # and measures before the first cue, as the runner does
                from decart_flow.engine.latency import calibrate as measure_first, show_idle

                calibration = asyncio.ensure_future(measure_first(feeds[0], show_idle(engine, clock)))
            reason = await playing
            await asyncio.sleep(0.5)  # the last cue's frame is still on its way
            intended = [engine.show_clock.mono_of(FROM + k * interval) for k in range(count)]
        finally:
            await close_played(calibration, feeds, client, timing)
    t0, s0, g0, c0, v0, load0 = window["start"]
    t1, s1, g1, c1, v1, load1 = window["end"]
    wall = t1 - t0
    cues = []
    for k in range(count):
        t_ns, stamp, in_session = sent.get(k, (None, None, None))
        glass = glass_ns.get((in_session, stamp)) if stamp is not None else None
        cues.append({"k": k, "intended_s": round(intended[k], 6),
                     "sent_s": t_ns / 1e9 if t_ns is not None else None, "stamp": stamp, "session": in_session,
                     "glass_s": glass / 1e9 if glass is not None else None})
    # Two cues with one stamp in one session (a refused prompt) cannot be told apart: both are left out.
    seen = [(c["session"], c["stamp"]) for c in cues if c["stamp"] is not None]
    for c in cues:
        if c["stamp"] is not None and seen.count((c["session"], c["stamp"])) > 1:
            c["glass_s"] = None
    return {
        "model": MODEL, "protocol": client.protocol, "playout_delay": playout_delay, "size": f"{spec.width}x{spec.height}", "fps": spec.fps, "end": reason,
        "cues_planned": count, "interval_s": interval, "lookahead": lookahead,
        # a reconnect mid-run: the frames lost in it count against throughput, its cues' frames may never come
        "reconnects": session[0], "states": [(round(t - t_start, 3), state) for t, state in states],
        "warnings": warned.lines,  # what the client and the media engine logged: why a reconnect happened
        "realtime": rt_state, "marker_buffer": marker_buffer,
        "calibration_ms": [round(x * 1000.0, 1) for x in calibration.result()]
        if calibration is not None and calibration.done() and not calibration.cancelled() and not calibration.exception()
        else None,
        "cues": cues,
        "window": {"seconds": round(wall, 3), "frames_sent": s1 - s0, "frames_received": g1 - g0,
                   "cpu_client_s": round(c1 - c0, 3), "cpu_service_s": round(v1 - v0, 3),
                   "service_pid_found": service_pid is not None,
                   "loadavg_1min": [round(load0, 2), round(load1, 2)]},
    }


def estimate_lookahead(cue_to_glass_ms: list[float]) -> dict[str, Any]:
    """A fixed lookahead L = median cue->glass of the first half; |landing| p95 on the second half."""
    half = len(cue_to_glass_ms) // 2
    if half < 2:
        return {"lookahead_ms": None, "landing_p95_ms": None, "n": 0}
    lead = pct(cue_to_glass_ms[:half], 50)
    errors = [abs(v - lead) for v in cue_to_glass_ms[half:]]
    return {"lookahead_ms": round(lead, 1), "landing_p95_ms": round(pct(errors, 95), 1), "n": len(errors)}


def figures(raw: dict[str, Any]) -> dict[str, Any]:
    """The glass figures of one `play()`."""
    frame_ms = 1000.0 / raw["fps"]
    ok = [c for c in raw["cues"] if c["glass_s"] is not None and c["sent_s"] is not None]
    c2g = [(c["glass_s"] - c["intended_s"]) * 1000 for c in ok]
    s2g = [(c["glass_s"] - c["sent_s"]) * 1000 for c in ok]
    c2g_sum = {**summary(c2g, 1), "p5": round(pct(c2g, 5), 1)}
    return {
        "protocol": raw["protocol"], "playout_delay": raw.get("playout_delay", "0"),
        "model": raw["model"],
        "frame_interval_ms": frame_ms,
        "cues": raw["cues_planned"],
        "unseen": raw["cues_planned"] - len(ok),
        "reconnects": raw["reconnects"],
        "cue_to_glass_ms": c2g_sum,
        "cue_to_glass_frames": {k: round(c2g_sum[k] / frame_ms, 2) for k in ("p50", "p95", "p99", "max")} if c2g else {},
        "send_to_glass_ms": {**summary(s2g, 1), "p5": round(pct(s2g, 5), 1), "min": round(min(s2g), 1) if s2g else None},
        "landing_abs_ms": summary([abs(v) for v in c2g], 1),
        "lookahead": raw["lookahead"],
        "marker_buffer": raw["marker_buffer"],
        "calibration_ms": raw.get("calibration_ms"),
        "first_cues_landing_ms": [round((c["glass_s"] - c["intended_s"]) * 1000.0, 1) if c["glass_s"] else None
                                  for c in raw["cues"][:3]],
        "lookahead_estimate": estimate_lookahead(c2g),
        "loadavg_1min": raw["window"]["loadavg_1min"],
        "meets_target": bool(c2g) and c2g_sum["p50"] <= TARGET_FRAMES * frame_ms,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("--lookahead", default=None, help="set the show's lookahead (auto or seconds)")
    parser.add_argument("--json", action="store_true", help="print only the figures as one JSON line")
    parser.add_argument("--no-realtime", action="store_true", help="normal priority, as run --no-realtime")
    parser.add_argument("--aiortc-buffer", action="store_true",
                        help="aiortc's own jitter buffer (a frame goes on when the next one starts)")
    parser.add_argument("--no-calibrate", action="store_true",
                        help="with --lookahead auto: no measuring before the first cue (the default estimate)")
    parser.add_argument("--fault", action="append", default=[], metavar="SPEC",
                        help="a fault of the service, as `serve --fault` (e.g. drop-livekit-after=4s): how a drop "
                             "shows in the figures")
    parser.add_argument("--playout-delay", default="0", choices=["0", "auto"],
                        help="the service's --playout-delay: auto leaves LiveKit receivers their own smoothing")
    add_protocol_argument(parser)
    args = parser.parse_args()
    if (code := in_own_namespace(args.protocol)) is not None:
        return code
    lookahead = args.lookahead if args.lookahead in (None, "auto") else float(args.lookahead)
    raw = asyncio.run(play(args.seconds, args.interval, lookahead, realtime=not args.no_realtime,
                           marker_buffer=not args.aiortc_buffer, calibrate=not args.no_calibrate,
                           protocol=args.protocol, faults=tuple(args.fault),
                           playout_delay=args.playout_delay))
    result = figures(raw)
    if args.json:
        print(json.dumps(result))
        return 0
    c, s, f = result["cue_to_glass_ms"], result["send_to_glass_ms"], result["cue_to_glass_frames"]
    print(f"cue -> glass, {PROTOCOL_LABEL[args.protocol]}, {MODEL} {raw['size']} @ {raw['fps']} fps (frame interval {result['frame_interval_ms']:.0f} ms), "
          f"{result['cues']} cues, {result['unseen']} unseen, load {result['loadavg_1min']}")
    print(table(["measure", "n", "p50", "p95", "p99", "max"], [
        ["cue->glass ms", c["n"], c["p50"], c["p95"], c["p99"], c["max"]],
        ["cue->glass frames", c["n"], f.get("p50"), f.get("p95"), f.get("p99"), f.get("max")],
        ["send->glass ms", s["n"], s["p50"], s["p95"], s["p99"], s["max"]],
    ]))
    if lookahead is not None:
        print(f"calibration before the first cue: {result['calibration_ms']} ms; "
              f"first cues glass - cue: {result['first_cues_landing_ms']} ms")
    est = result["lookahead_estimate"]
    print(f"target p50 <= {TARGET_FRAMES:.0f} frames: {'yes' if result['meets_target'] else 'NO'}; "
          f"a fixed lookahead of {est['lookahead_ms']} ms would land within {est['landing_p95_ms']} ms (p95, estimate)")
    name = "glass" if args.protocol == "p2p" else f"glass_{args.protocol}"
    name += "" if args.playout_delay == "0" else "_smoothed"
    print(f"written to {write_json(name, {**result, 'raw': raw})}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
