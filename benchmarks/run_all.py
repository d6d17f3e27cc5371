"""Every performance figure of decart-flow, side by side: one table, one JSON file.

Each benchmark runs in a fresh subprocess, one after another, so none disturbs another; the load
average is recorded before and after each (the machine is shared: read every figure beside it).
The session figures (lateness, glass, lookahead, throughput, startup) run twice, back to back: on
the 2025 peer-to-peer path on 127.0.0.1 and on today's LiveKit path (`--protocol livekit`: the
benchmark re-runs itself inside a network namespace of its own, service on 10.200.0.1), both on
lucy-restyle-2, so the protocol is the only difference. Plan and TUI run once.

    python benchmarks/run_all.py [--quick] [--only lateness,glass,...] [--protocols p2p,livekit]

--quick takes about 6 minutes, the full run about 20. Writes benchmarks/results/all.json
(with --only or --protocols: all_<names>.json, so a partial run leaves the last complete one
alone) and prints, last, the figures as a markdown table for the README, the paths side by side.
What each figure means: benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import (  # noqa: E402
    PROTOCOL_LABEL, PROTOCOLS, RESULTS_DIR, cpu_ticks, pct, speed_probe, steal_share, table,
)

PY = sys.executable
Row = list[Any]  # figure, value, target, met


def _bench(script: str, *args: str) -> list[str]:
    return [PY, str(HERE / script), *args, "--json"]


# name -> (argv for quick, argv for full); each prints its figures as one JSON object on its last line.
PLANS: dict[str, tuple[list[str], list[str]]] = {
    "lateness": (_bench("bench_lateness.py", "--case", "video", "--seconds", "20"),
                 _bench("bench_lateness.py", "--case", "video", "--seconds", "60")),
    "glass": (_bench("bench_glass.py", "--seconds", "20"), _bench("bench_glass.py", "--seconds", "60")),
    "lookahead": (_bench("bench_glass.py", "--seconds", "20", "--lookahead", "auto"),
                  _bench("bench_glass.py", "--seconds", "60", "--lookahead", "auto")),
    # LiveKit only: the same landing with the service leaving the receiver its own playout smoothing
    # (`serve --playout-delay auto`), as a room not configured for low latency would.
    "smoothed": (_bench("bench_glass.py", "--seconds", "20", "--lookahead", "auto", "--playout-delay", "auto",
                        "--protocol", "livekit"),
                 _bench("bench_glass.py", "--seconds", "60", "--lookahead", "auto", "--playout-delay", "auto",
                        "--protocol", "livekit")),
    "throughput": (_bench("bench_throughput.py", "--seconds", "15"), _bench("bench_throughput.py", "--seconds", "60")),
    "startup": (_bench("bench_startup.py", "--runs", "3"), _bench("bench_startup.py", "--runs", "10")),
    "plan": ([PY, __file__, "--plan-child", "2"], [PY, __file__, "--plan-child", "5"]),
    "tui": (_bench("bench_tui.py", "--seconds", "15"), _bench("bench_tui.py", "--seconds", "30", "--rounds", "4")),
    # The service alone with Decart's own SDK client (decart 0.2.4, LiveKit's Rust client) beside
    # ours on the 2025 path, one service in one namespace (bench_livekit.py; builds that SDK's venv
    # on first use).
    "sdk": ([PY, __file__, "--sdk-child", "10", "1"], [PY, __file__, "--sdk-child", "30", "2"]),
    # `every: 1 beat` against an Ableton Link peer, lookahead 0 and `auto`, in a namespace of its
    # own (Link multicasts on every interface): only loopback on the 2025 path, the veth pair beside
    # it on today's.
    "tempo": (_bench("bench_tempo.py", "--seconds", "15"), _bench("bench_tempo.py", "--seconds", "30")),
    # a show across machines: two node processes on a mosquitto on loopback (needs mosquitto)
    "fleet": (_bench("bench_fleet.py", "--seconds", "15"), _bench("bench_fleet.py", "--seconds", "30")),
}
# Measured on each protocol (`--protocol NAME` added to the argv); the others once, as they are.
BOTH_PATHS = ("lateness", "glass", "lookahead", "throughput", "startup", "tempo")
# How the table names the path of a benchmark that runs once: the TUI plays `mirage` on the
# embedded service (2025 peer-to-peer); the plan opens no session.
ONE_PATH = {"plan": "-", "tui": "2025 p2p", "sdk": "both", "smoothed": PROTOCOL_LABEL["livekit"],
            "fleet": "2025 p2p"}
SDK_PATH = {"2025": "2025 p2p", "livekit": "LiveKit"}  # bench_livekit's names of the paths


def plan_child(runs: int) -> dict[str, Any]:
    """bench_plan's measures: `plan --for 30d` (cron every minute + every 30 s) beside croniter alone."""
    import bench_plan

    return bench_plan.measure(runs)


def sdk_child(seconds: str, rounds: str) -> dict[str, Any]:
    """bench_livekit's figures (it makes its own namespace and writes results/bench_livekit.json)."""
    done = subprocess.run([PY, str(HERE / "bench_livekit.py"), "--seconds", seconds, "--rounds", rounds],
                          capture_output=True, text=True, check=False, cwd=HERE.parent)
    if done.returncode != 0:
        raise SystemExit(f"bench_livekit.py exited {done.returncode}: {done.stderr.strip()[-1500:]}")
    return json.loads((RESULTS_DIR / "bench_livekit.json").read_text())


# ---------------------------------------------------------------- figures -> table rows

def _met(ok: bool | None) -> str:
    return "n/a" if ok is None else ("yes" if ok else "NO")


def rows_lateness(r: dict[str, Any]) -> list[Row]:
    s, n = r["sent_ms"], r["noise_floor_ms"]
    f = r["frames"]
    return [
        ["1 cue lateness p50 (cue -> WebSocket)", f"{s['p50']:.2f} ms", "", ""],
        ["1 cue lateness p99", f"{s['p99']:.2f} ms", "<= 2 ms", _met(s["p99"] <= 2.0)],
        ["1 cue lateness max", f"{s['max']:.2f} ms", "<= 10 ms", _met(s["max"] <= 10.0)],
        ["1 cue lateness p99 / max, cues queued behind an ack left out",
         f"{r['sent_ms_not_queued']['p99']:.2f} / {r['sent_ms_not_queued']['max']:.2f} ms", "(context)", ""],
        ["1 cues missed / queued behind an ack", f"{r['missed']} / {r['queued_behind_ack']} of {r['cues']}", "0 missed", _met(r["missed"] == 0)],
        ["1 session reconnects during the run", f"{r.get('reconnects', 0)}", "(context)", ""],
        ["1 machine noise floor p99 / max", f"{n['p99']:.2f} / {n['max']:.2f} ms", "(context)", ""],
        ["1 fps out / in during the cues", f"{f['sent_fps']:.1f} / {f['received_fps']:.1f}", "(context)", ""],
    ]


def rows_glass(r: dict[str, Any]) -> list[Row]:
    c, fr, s, land, est = (r["cue_to_glass_ms"], r["cue_to_glass_frames"], r["send_to_glass_ms"],
                           r["landing_abs_ms"], r["lookahead_estimate"])
    limit = 2 * r["frame_interval_ms"]
    return [
        ["2 cue -> glass p50", f"{c['p50']:.1f} ms = {fr.get('p50', float('nan')):.2f} frames", f"<= 2 frames ({limit:.0f} ms)", _met(c["p50"] <= limit)],
        ["2 cue -> glass p95", f"{c['p95']:.1f} ms = {fr.get('p95', float('nan')):.2f} frames", "", ""],
        ["2 cues whose frame never came / session reconnects", f"{r['unseen']} of {r['cues']} / {r.get('reconnects', 0)}",
         "", ""],
        ["3 landing |glass - cue| p95, no lookahead", f"{land['p95']:.1f} ms", "", ""],
        ["3 send -> glass p5 / p50 / p95", f"{s['p5']:.1f} / {s['p50']:.1f} / {s['p95']:.1f} ms", "(lookahead must cover)", ""],
        ["3 landing p95 with a fixed lookahead (estimate)", f"{est['landing_p95_ms']} ms at L={est['lookahead_ms']} ms", "(estimate)", ""],
    ]


def rows_lookahead(r: dict[str, Any]) -> list[Row]:
    c, land = r["cue_to_glass_ms"], r["landing_abs_ms"]
    half = r["frame_interval_ms"] / 2
    smoothed = r.get("playout_delay") == "auto"  # the receiver's own smoothing: context, not the target's case
    target = ["(context)", ""] if smoothed else [f"p95 <= half a frame ({half:.1f} ms)", _met(land["p95"] <= half)]
    return [
        [f"3 landing |glass - cue| p50 / p95, lookahead: {r['lookahead']}{', receiver smoothing' if smoothed else ''}",
         f"{land['p50']:.1f} / {land['p95']:.1f} ms", *target],
        [f"3 glass - cue p5 / p50 / p95 (signed), lookahead: {r['lookahead']}", f"{pct_row(c)}", "", ""],
        ["3 cues whose frame never came / session reconnects (lookahead run)",
         f"{r['unseen']} of {r['cues']} / {r.get('reconnects', 0)}", "", ""],
    ]


def pct_row(c: dict[str, Any]) -> str:
    return f"{c.get('p5', float('nan')):.1f} / {c['p50']:.1f} / {c['p95']:.1f} ms"


def rows_throughput(r: dict[str, Any]) -> list[Row]:
    cpu = r["cpu_percent"]
    return [
        ["4 delivered / sent frames", f"{r['delivered_ratio']:.1%} ({r['frames_received']}/{r['frames_sent']})", ">= 99%", _met(r["meets_target"])],
        ["4 fps sent / received, session reconnects", f"{r['sent_fps']:.1f} / {r['received_fps']:.1f} (model {r['model_fps']}), "
         f"{r.get('reconnects', 0)}", "", ""],
        ["4 CPU client / service (% of a core)", f"{cpu['client']} / {cpu['service']} %", "(context)", ""],
    ]


def rows_startup(r: dict[str, Any]) -> list[Row]:
    cli, first, frame = r["cli_to_generating_s"], r["run_to_first_stamped_s"], r["run_to_first_frame_s"]
    return [
        ["5 startup: Run spawn -> first transformed frame p50", f"{first['p50']:.2f} s", "<= 1.5 s", _met(first["p50"] <= 1.5)],
        ["5 startup: Run spawn -> first transformed frame p95", f"{first['p95']:.2f} s", "", ""],
        ["5 startup: Run spawn -> first frame p50", f"{frame['p50']:.2f} s", "", ""],
        ["5 startup: cli spawn -> session generating p50 / p95", f"{cli['p50']:.2f} / {cli['p95']:.2f} s", "", ""],
        ["5 startup: imports + show loaded p50", f"{r['run_to_run_created_s']['p50']:.2f} s", "(context)", ""],
        # Not like for like: the 2025 figure keeps its meaning (the run starts its own service);
        # the embedded service speaks p2p only, so the LiveKit runs join a service already up.
        ["5 startup: the service", "already up (serve on 10.200.0.1)" if r.get("protocol") == "livekit"
         else "embedded, started by the run", "(context)", ""],
        ["5 startup: timed runs that failed at exit, after their marks", f"{len(r.get('exit_failures', []))} of {r['runs']}",
         "0", _met(not r.get("exit_failures"))],
    ]


def _plan_ratio(r: dict[str, Any]) -> float:
    return r["command_cpu_s"] / r["croniter_child_cpu_s"]


def rows_plan(r: dict[str, Any]) -> list[Row]:
    flat = r["peak_kib_2d"] <= 1.5 * max(1, r["peak_kib_0.25d"])
    return [
        ["6 plan --for 30d, command / croniter alone in a child (cpu)",
         f"{r['command_cpu_s']:.2f} / {r['croniter_child_cpu_s']:.2f} s = {_plan_ratio(r):.2f}", "<= 1",
         _met(_plan_ratio(r) <= 1.0)],
        ["6 plan --for 30d, command (wall) / --json / from now (wall)",
         f"{r['command_wall_s']:.2f} / {r['command_json_wall_s']:.2f} / {r['command_now_wall_s']:.2f} s", "", ""],
        ["6 plan --for 30d, engine / croniter get_next(datetime) / get_next(float), cpu",
         f"{r['engine_cpu_s']:.2f} / {r['croniter_cpu_s']:.2f} / {r['croniter_float_cpu_s']:.2f} s", "(context)", ""],
        ["6 plan: command max RSS", f"{r['command_max_rss_mib']} MiB", "", ""],
        ["6 plan: peak traced memory 6 h / 2 d", f"{r['peak_kib_0.25d']} / {r['peak_kib_2d']} KiB", "flat", _met(flat)],
    ]


def rows_tui(r: dict[str, Any]) -> list[Row]:
    c = r["compare"]
    h, t = c["headless"], c["tui"]
    return [
        ["7 headless: lateness p50 / p99, fps in", f"{h['sent_p50_ms']:.2f} / {h['sent_p99_ms']:.2f} ms, {h['received_fps']:.1f}", "", ""],
        ["7 TUI:      lateness p50 / p99, fps in", f"{t['sent_p50_ms']:.2f} / {t['sent_p99_ms']:.2f} ms, {t['received_fps']:.1f}", "", ""],
        ["7 TUI / headless received fps", f"x{c['fps_ratio']}", ">= x0.9", _met(c["fps_within_10pct"])],
        ["7 TUI / headless lateness p99", f"x{c['p99_ratio']}", "<= x1.1", _met(c["lateness_within_10pct"])],
    ]


def rows_sdk(r: dict[str, Any]) -> list[Row]:
    """One row per figure and path; the 5th cell names the path (this benchmark runs both)."""
    rows: list[Row] = []
    for path in ("2025", "livekit"):
        got = [x for x in r["results"] if x["path"] == path]
        if not got:
            continue
        frames, expected = sum(x["frames"] for x in got), sum(x["expected"] for x in got)
        glass = [g for x in got for g in x["glass_ms"]]
        who = "service alone, clients: ours on p2p, SDK 0.2.4 on LiveKit"
        ratio = 100.0 * frames / expected if expected else float("nan")
        rows.append([f"8 {who}: frames delivered at 30 fps", f"{ratio:.1f}% ({frames}/{expected})",
                     ">= 99%", _met(ratio >= 99.0), SDK_PATH[path]])
        rows.append([f"8 {who}: send -> glass p50 / p95",
                     f"{pct(glass, 50):.1f} / {pct(glass, 95):.1f} ms ({len(glass)}/{sum(x['changes'] for x in got)} seen)",
                     "", "", SDK_PATH[path]])
    return rows


def rows_tempo(r: dict[str, Any]) -> list[Row]:
    s, g = r["sends"], r["glass"]
    half = g["frame_interval_ms"] / 2
    return [
        [f"10 beat cues vs a Link peer at {r['peer_bpm']:g} bpm: median interval / the peer's beat",
         f"{s['median_interval_s']} / {s['peer_beat_s']} s (error {s['interval_error']:.2%})", "within 1%",
         _met(s["meets_interval"])],
        ["10 |send - peer beat| p50 / p95, lookahead 0", f"{s['send_abs_ms']['p50']:.2f} / {s['send_abs_ms']['p95']:.2f} ms",
         "p95 <= 5 ms", _met(s["send_abs_ms"]["p95"] <= 5.0)],
        ["10 |glass - peer beat| p50 / p95, lookahead: auto", f"{g['glass_abs_ms']['p50']:.1f} / {g['glass_abs_ms']['p95']:.1f} ms",
         f"p95 <= {half:.1f} ms (half a frame)", _met(g["glass_abs_ms"]["p95"] <= half)],
    ]


def rows_fleet(r: dict[str, Any]) -> list[Row]:
    s, o = r["spread_ms"], r["offset_ms"]
    offsets = " / ".join("-" if o[n] is None else f"{o[n]:+.2f}" for n in ("a", "b"))
    c = r.get("clock_spread_ms") or {}
    fired = f" (the two show clocks apart: {c['p50']:.2f} / {c['p95']:.2f} / {c['max']:.2f} ms" if c else " ("
    return [["11 fleet: the same cue's send time across two nodes, p50 / p95 / max",
             f"{s['p50']:.2f} / {s['p95']:.2f} / {s['max']:.2f} ms{fired}; {r['cues']} cues, "
             f"{r.get('queued_behind_ack', 0)} sends waited for an ack; measured offsets {offsets} ms)",
             f"p95 <= {r['target_p95_ms']:.1f} ms (5 ms + offsets)", _met(r["met"])]]


ROWS: dict[str, Callable[[dict[str, Any]], list[Row]]] = {
    "lateness": rows_lateness, "glass": rows_glass, "lookahead": rows_lookahead, "smoothed": rows_lookahead,
    "throughput": rows_throughput,
    "startup": rows_startup, "plan": rows_plan, "tui": rows_tui, "sdk": rows_sdk, "tempo": rows_tempo,
    "fleet": rows_fleet,
}


# ------------------------------------------ the README's rows: one per figure, as its table has them

def _reconnects(r: dict[str, Any]) -> str:
    """A session that dropped mid-run says so beside its figures (none: nothing is added)."""
    n = r.get("reconnects", 0)
    return f"; the session reconnected {n} time{'s' if n != 1 else ''}" if n else ""


def readme_lateness(r: dict[str, Any]) -> list[Row]:
    s, n = r["sent_ms"], r["noise_floor_ms"]
    ok = r["missed"] == 0 and s["p99"] <= 2.0 and s["max"] <= 10.0
    return [
        ["1 cue lateness, intended time to the WebSocket write, p50 / p99 / max (video both ways)",
         f"{s['p50']:.2f} / {s['p99']:.2f} / {s['max']:.2f} ms, {r['missed']} missed{_reconnects(r)}", "p99 <= 2, max <= 10 ms",
         _met(ok)],
        ["1 (the machine's noise floor beside it: a normal-priority process sleeping to a 20 ms tick, p99 / max)",
         f"{n['p99']:.1f} / {n['max']:.1f} ms", "", ""],
    ]


def readme_glass(r: dict[str, Any]) -> list[Row]:
    c, fr, s = r["cue_to_glass_ms"], r["cue_to_glass_frames"], r["send_to_glass_ms"]
    return [
        ["2 cue to glass p50 / p95", f"{c['p50']:.1f} / {c['p95']:.1f} ms ({fr.get('p50', float('nan')):.2f} / "
         f"{fr.get('p95', float('nan')):.2f} frames), {r['unseen']} unseen{_reconnects(r)}", "p50 <= 2 frames",
         _met(c["p50"] <= 2 * r["frame_interval_ms"])],
        ["3 send to glass p5 / p50 / p95 (same run)", f"{s['p5']:.1f} / {s['p50']:.1f} / {s['p95']:.1f} ms", "", ""],
    ]


def readme_lookahead(r: dict[str, Any]) -> list[Row]:
    land, half = r["landing_abs_ms"], r["frame_interval_ms"] / 2
    return [[f"3 landing |glass - cue| p50 / p95, `lookahead: {r['lookahead']}`",
             f"{land['p50']:.1f} / {land['p95']:.1f} ms (glass - cue p5 / p50 / p95: {pct_row(r['cue_to_glass_ms'])})"
             f"{_reconnects(r)}",
             f"p95 <= {half:.1f} ms (half a frame)", _met(land["p95"] <= half)]]


def readme_smoothed(r: dict[str, Any]) -> list[Row]:
    land = r["landing_abs_ms"]
    return [["3 the same with the receiver's own playout smoothing (`serve --playout-delay auto`): landing p50 / p95",
             f"{land['p50']:.1f} / {land['p95']:.1f} ms (send to glass p5 / p50 / p95: {pct_row(r['send_to_glass_ms'])})"
             f"{_reconnects(r)}", "(context)", ""]]


def readme_throughput(r: dict[str, Any]) -> list[Row]:
    cpu = r["cpu_percent"]
    return [["4 frames delivered / sent, engine + service",
             f"{r['delivered_ratio']:.1%} ({r['frames_received']}/{r['frames_sent']}), "
             f"client {cpu['client']}% / service {cpu['service']}% of a core{_reconnects(r)}", ">= 99%",
             _met(r["meets_target"])]]


def readme_startup(r: dict[str, Any]) -> list[Row]:
    first = r["run_to_first_stamped_s"]
    service = "service already up" if r.get("protocol") == "livekit" else "embedded service started by the run"
    return [["5 startup, `run` to the first transformed frame p50 / p95",
             f"{first['p50']:.2f} / {first['p95']:.2f} s ({service})", "p50 <= 1.5 s", _met(first["p50"] <= 1.5)]]


def readme_plan(r: dict[str, Any]) -> list[Row]:
    flat = r["peak_kib_2d"] <= 1.5 * max(1, r["peak_kib_0.25d"])
    return [[f"6 `plan --for 30d` ({r['firings_30d']:,} firings, cron every minute + every 30 s): command / croniter "
             "alone stepping as many firings, cpu",
             f"{r['command_cpu_s']:.2f} / {r['croniter_child_cpu_s']:.2f} s (ratio {_plan_ratio(r):.2f}; command wall "
             f"{r['command_wall_s']:.2f} s); peak {r['peak_kib_0.25d']} KiB traced for 6 h, {r['peak_kib_2d']} KiB "
             f"for 2 d, {r['command_max_rss_mib']:.0f} MiB RSS", "<= croniter alone, flat memory",
             _met(_plan_ratio(r) <= 1.0 and flat)]]


def readme_tui(r: dict[str, Any]) -> list[Row]:
    c = r["compare"]
    h, t = c["headless"], c["tui"]
    return [["7 TUI on vs headless: lateness p50 / p99, received fps",
             f"{t['sent_p50_ms']:.2f} / {t['sent_p99_ms']:.2f} ms vs {h['sent_p50_ms']:.2f} / {h['sent_p99_ms']:.2f} ms "
             f"(p99 x{c['p99_ratio']}), fps x{c['fps_ratio']}", "within 10%",
             _met(c["fps_within_10pct"] and c["lateness_within_10pct"])]]


def readme_sdk(r: dict[str, Any]) -> list[Row]:
    rows = rows_sdk(r)  # per path: frames, then glass
    out: list[Row] = []
    for frames, glass in zip(rows[0::2], rows[1::2]):
        out.append(["8 the service alone, frames delivered at 30 fps; send to glass p50 / p95 "
                    "(clients: ours on 2025 p2p, Decart's SDK 0.2.4 on LiveKit)",
                    f"{frames[1]}; {glass[1]}", frames[2], frames[3], frames[4]])
    return out


def readme_tempo(r: dict[str, Any]) -> list[Row]:
    s, g = r["sends"], r["glass"]
    half = g["frame_interval_ms"] / 2
    parts = (s["meets_interval"], s["send_abs_ms"]["p95"] <= 5.0, g["glass_abs_ms"]["p95"] <= half)
    return [[f"10 `every: 1 beat` against an Ableton Link peer at {r['peer_bpm']:g} bpm (the show asks 120): interval "
             "error; |send - beat| p50 / p95, lookahead 0; |glass - beat| p50 / p95, `lookahead: auto` "
             "(`bench_tempo.py`)",
             f"{s['interval_error']:.2%}; {s['send_abs_ms']['p50']:.2f} / {s['send_abs_ms']['p95']:.2f} ms; "
             f"{g['glass_abs_ms']['p50']:.1f} / {g['glass_abs_ms']['p95']:.1f} ms",
             f"within 1%; p95 <= 5 ms; p95 <= {half:.1f} ms", " / ".join(_met(ok) for ok in parts)]]


README_ROWS: dict[str, Callable[[dict[str, Any]], list[Row]]] = {
    "lateness": readme_lateness, "glass": readme_glass, "lookahead": readme_lookahead, "smoothed": readme_smoothed,
    "throughput": readme_throughput, "startup": readme_startup, "plan": readme_plan, "tui": readme_tui,
    "sdk": readme_sdk, "tempo": readme_tempo, "fleet": rows_fleet,
}


# ---------------------------------------------------------------- running

def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run_one(name: str, argv: list[str], timeout: float, protocol: str | None = None) -> dict[str, Any]:
    before, t0, ticks = load(), time.monotonic(), cpu_ticks()
    if protocol is not None:
        argv = [*argv, "--protocol", protocol]
    exit_failure = None
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, cwd=HERE.parent)
        error = None if out.returncode == 0 else f"exit {out.returncode}: {out.stderr.strip()[-2000:]}"
        data = _last_json(out.stdout)
        if error is not None and data is not None:
            # The result was printed, then the process failed on its way out (a native thread
            # aborting it at exit, say): the figures stand, the failure is a row of its own.
            exit_failure, error = error, None
        elif error is None and data is None:
            error = "no JSON result on the last line"
    except subprocess.TimeoutExpired:
        error, data = f"timed out after {timeout:.0f} s", None
    if error is None and protocol is not None and isinstance(data, dict) and data.get("protocol", protocol) != protocol:
        error, data = f"asked for {protocol}, the session spoke {data.get('protocol')}", None
    return {"name": name, "protocol": protocol, "path": PROTOCOL_LABEL[protocol] if protocol else ONE_PATH.get(name, "-"),
            "argv": argv[1:], "seconds": round(time.monotonic() - t0, 1),
            "loadavg_before": before, "loadavg_after": load(), "steal_percent": steal_share(ticks, cpu_ticks()),
            "error": error, "exit_failure": exit_failure, "result": data}


def _last_json(stdout: str) -> dict[str, Any] | None:
    lines = stdout.strip().splitlines()
    try:
        data = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def rows_of(run: dict[str, Any], figures: dict[str, Callable[[dict[str, Any]], list[Row]]] = ROWS) -> list[Row]:
    """The table rows of one benchmark run (`figures`: ROWS, or README_ROWS); a failed or unreadable
    one is one NO row."""
    if run["error"] is not None:
        return [[f"{run['name']}: FAILED", run["error"].splitlines()[-1][:80] if run["error"] else "", "", "NO"]]
    try:
        found = figures[run["name"]](run["result"])
        if run.get("exit_failure"):
            found.append([f"{run['name']}: the process failed after printing its result",
                          run["exit_failure"].splitlines()[-1][:80], "", "NO"])
        return found
    except (KeyError, TypeError, ValueError) as exc:
        return [[f"{run['name']}: unreadable result", f"{type(exc).__name__}: {exc}", "", "NO"]]


def side_by_side(runs: list[dict[str, Any]], protocols: list[str],
                 figures: dict[str, Callable[[dict[str, Any]], list[Row]]] = README_ROWS) -> list[dict[str, Any]]:
    """One entry per figure: its target and, per protocol, the value and met? (paired row by row,
    the rows of a benchmark coming out in the same order on either path)."""
    out: list[dict[str, Any]] = []
    done: set[str] = set()
    for run in runs:
        if run["name"] in done:
            continue
        done.add(run["name"])
        if run["protocol"] is None:  # one run; rows of one figure on several paths (sdk) share an entry
            mine: dict[str, dict[str, Any]] = {}
            for row in rows_of(run, figures):
                figure, value, target, met = row[:4]
                if figure not in mine:
                    mine[figure] = {"figure": figure, "target": target, "paths": {}}
                    out.append(mine[figure])
                mine[figure]["paths"][row[4] if len(row) > 4 else run["path"]] = {"value": value, "met": met}
            continue
        per = {r["protocol"]: (r["error"] is None, rows_of(r, figures)) for r in runs if r["name"] == run["name"]}
        good = [rows for ok, rows in per.values() if ok] or [rows for _, rows in per.values()]
        for i, row in enumerate(max(good, key=len)):
            entry: dict[str, Any] = {"figure": row[0], "target": row[2], "paths": {}}
            for protocol in protocols:
                if protocol not in per:
                    continue
                ok, rows = per[protocol]
                if not ok:  # one FAILED row: its reason beside the first figure, FAILED beside the rest
                    entry["paths"][PROTOCOL_LABEL[protocol]] = {
                        "value": f"FAILED: {rows[0][1]}" if i == 0 else "FAILED", "met": "NO"}
                elif i < len(rows):
                    entry["paths"][PROTOCOL_LABEL[protocol]] = {"value": rows[i][1], "met": rows[i][3]}
            out.append(entry)
    return out


def markdown(entries: list[dict[str, Any]], protocols: list[str]) -> str:
    """The README's table: figure, each path's value, target, met? per path."""
    labels = [PROTOCOL_LABEL[p] for p in protocols]

    def cell(text: Any) -> str:
        return str(text).replace("|", "\\|")

    lines = ["| figure | " + " | ".join(labels) + " | target | met (" + " / ".join(labels) + ") |",
             "|---|" + "---|" * len(labels) + "---|---|"]
    for e in entries:
        paths = e["paths"]
        if len(paths) == 1 and not set(paths) & set(labels):  # a figure with no protocol (the plan)
            only = next(iter(paths.values()))
            values = [only["value"]] + ["(same: no session)"] * (len(labels) - 1)
            mets = [only["met"]]
        else:
            values = [paths[label]["value"] if label in paths else "not measured" for label in labels]
            mets = [paths[label]["met"] if label in paths else "" for label in labels]
        met = " / ".join(m for m in mets if m) if any(mets) else ""
        lines.append("| " + " | ".join(cell(x) for x in [e["figure"], *values, e["target"], met]) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs: about 6 minutes in all")
    parser.add_argument("--only", default=None, help=f"comma-separated subset of: {', '.join(PLANS)}")
    parser.add_argument("--protocols", default=",".join(PROTOCOLS),
                        help=f"the paths of {', '.join(BOTH_PATHS)}: comma-separated subset of {', '.join(PROTOCOLS)} "
                             "(default: both)")
    parser.add_argument("--plan-child", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--sdk-child", nargs=2, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plan_child is not None:
        print(json.dumps(plan_child(args.plan_child)))
        return 0
    if args.sdk_child is not None:
        print(json.dumps(sdk_child(*args.sdk_child)))
        return 0
    names = list(PLANS) if args.only is None else [n.strip() for n in args.only.split(",")]
    unknown = [n for n in names if n not in PLANS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(PLANS)}")
    protocols = [p.strip() for p in args.protocols.split(",") if p.strip()]
    if not protocols or any(p not in PROTOCOLS for p in protocols):
        parser.error(f"--protocols {args.protocols!r}: choose from {', '.join(PROTOCOLS)}, comma-separated")
    machine = {"cpu_model": cpu_model(), "cores": os.cpu_count(), "python": platform.python_version(),
               "platform": platform.platform(), "loadavg_before": load(), "speed_probe_s_before": speed_probe()}
    t0 = time.monotonic()
    runs = []
    for name in names:
        argv = PLANS[name][0 if args.quick else 1]
        # Both paths of one figure back to back, so they run under much the same load.
        for protocol in (protocols if name in BOTH_PATHS else [None]):
            where = f" ({PROTOCOL_LABEL[protocol]})" if protocol else ""
            print(f"running {name}{where} ...", file=sys.stderr, flush=True)
            runs.append(run_one(name, argv, timeout=600, protocol=protocol))
    machine["loadavg_after"], machine["speed_probe_s_after"] = load(), speed_probe()
    rows: list[Row] = []
    for r in runs:
        rows.extend([row[0], row[4] if len(row) > 4 else r["path"], *row[1:4]] for row in rows_of(r))
    loads = [[r["name"], r["path"], f"{r['seconds']:.0f} s", " ".join(map(str, r["loadavg_before"])),
              " ".join(map(str, r["loadavg_after"])),
              "n/a" if r["steal_percent"] is None else f"{r['steal_percent']}%"] for r in runs]
    entries = side_by_side(runs, protocols)
    print(f"machine: {machine['cpu_model']}, {machine['cores']} cores, python {machine['python']}")
    print(f"load average (1/5/15 min) before {machine['loadavg_before']}, after {machine['loadavg_after']}; "
          f"{'quick' if args.quick else 'full'} run, {time.monotonic() - t0:.0f} s")
    print(f"speed probe (common.speed_probe, lower is faster) before {machine['speed_probe_s_before']} s, "
          f"after {machine['speed_probe_s_after']} s")
    print()
    print(table(["figure", "path", "value", "target", "met?"], rows))
    print()
    print(table(["benchmark", "path", "took", "load before", "load after", "CPU steal"], loads))
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    # A partial run does not overwrite the last complete one.
    parts = (names if args.only is not None else []) + (protocols if protocols != list(PROTOCOLS) else [])
    path = RESULTS_DIR / (f"all_{'_'.join(parts)}.json" if parts else "all.json")
    path.write_text(json.dumps({"quick": args.quick, "machine": machine, "protocols": protocols,
                                "table": [dict(zip(("figure", "path", "value", "target", "met"), row)) for row in rows],
                                "side_by_side": entries, "runs": runs}, indent=2) + "\n")
    print(f"\nwritten to {path}")
    print("\nREADME table (markdown, the paths side by side):\n")
    print(markdown(entries, protocols))
    return 1 if any(r["error"] or r["exit_failure"] for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
