"""Does the local service keep up? Delivered fps and frame latency at 1280x704, one client.

Starts the service in a child process (as `decart-flow run` does), connects a raw aiortc client
in this process that sends a moving 1280x704 test pattern, and for ~20 s counts the restyled
frames that come back. Latency is measured with the stamp: the client changes the prompt every
second and times how long until the first frame carrying the new stamp arrives (control message
-> visible change, the figure a show cares about). Prints a table and writes
benchmarks/results/service.json.

    python benchmarks/bench_service.py [--seconds 20] [--model mirage]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from decart_flow.service import ServiceProcess  # noqa: E402
from decart_flow.realtime.models import REALTIME_MODELS, realtime as model_named  # noqa: E402
from test_service_helpers import RawClient  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "service.json"


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc): what a frame costs, beside how many came."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def _run(url: str, model: str, seconds: float, service_pid: int) -> dict:
    spec = model_named(model)
    client = RawClient(url, model=model)
    client.keep_frames = False  # read only the stamp: the client must not be the bottleneck
    await client.open()
    try:
        await client.send({"type": "set_image", "image_data": None, "prompt": None})
        await client.wait_for("set_image_ack")
        await client.negotiate()
        await client.wait_for("generation_started", timeout=15)
        await asyncio.sleep(2.0)  # warm-up: encoder start, bitrate ramp
        start_index, start = len(client.frames), time.monotonic()
        cpu_service, cpu_client = _cpu_seconds(service_pid), time.process_time()
        latencies: list[float] = []
        expected = 1
        while time.monotonic() - start < seconds:
            expected += 1
            sent = time.monotonic()
            await client.send({"type": "prompt", "prompt": f"look number {expected}", "enhance_prompt": False})
            while time.monotonic() - sent < 1.0:
                hit = next((t for t, s, _ in client.frames[start_index:] if s == expected), None)
                if hit is not None:
                    latencies.append((hit - sent) * 1000)
                    break
                await asyncio.sleep(0.005)
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - sent)))
        elapsed = time.monotonic() - start
        cpu_service = _cpu_seconds(service_pid) - cpu_service
        cpu_client = time.process_time() - cpu_client
        window = client.frames[start_index:]
        arrivals = [t for t, _, _ in window]
        gaps = [(b - a) * 1000 for a, b in zip(arrivals, arrivals[1:])]
        unreadable = sum(1 for _, s, _ in window if s is None)
        inbound = {"packets_received": 0, "packets_lost": 0}
        assert client.pc is not None
        for stat in (await client.pc.getStats()).values():
            if stat.type == "inbound-rtp" and stat.kind == "video":
                inbound = {"packets_received": stat.packetsReceived, "packets_lost": stat.packetsLost}
        delivered_fps = len(window) / elapsed
        return {
            "model": model,
            "size": f"{spec.width}x{spec.height}",
            "target_fps": spec.fps,
            "seconds": round(elapsed, 2),
            "frames": len(window),
            "delivered_fps": round(delivered_fps, 2),
            "delivered_ratio": round(delivered_fps / spec.fps, 4),
            "unreadable_stamps": unreadable,
            "video_rtp_whole_session": inbound,
            # CPU per delivered frame: less sensitive to other load than the frame rate (though it
            # still grows by half on a crowded machine). service + client under 2 cores * 1/fps
            # is what "fits" means; load_average says how crowded the machine was.
            "cpu_ms_per_frame": {
                "service": round(cpu_service / max(1, len(window)) * 1000, 1),
                "client": round(cpu_client / max(1, len(window)) * 1000, 1),
            },
            "load_average": os.getloadavg()[0],
            "gap_ms": {"p50": round(_pct(gaps, 50), 1), "p95": round(_pct(gaps, 95), 1), "max": round(max(gaps, default=0), 1)},
            "prompt_to_frame_ms": {
                "n": len(latencies),
                "missed": int(seconds) - len(latencies),
                "p50": round(_pct(latencies, 50), 1),
                "p95": round(_pct(latencies, 95), 1),
                "mean": round(statistics.fmean(latencies), 1) if latencies else None,
                "max": round(max(latencies, default=0), 1),
            },
        }
    finally:
        await client.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--model", default="mirage", choices=[m for m in REALTIME_MODELS if not model_named(m).is_avatar])
    parser.add_argument("--service-log", default="warning", help="log level of the service process (debug shows its frame timing)")
    args = parser.parse_args()
    with ServiceProcess(log_level=args.service_log) as service:
        assert service.url is not None
        assert service.pid is not None
        result = asyncio.run(_run(service.url, args.model, args.seconds, service.pid))
    result["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
    ratio_ok = result["delivered_ratio"] >= 0.95
    result["keeps_up"] = ratio_ok
    lat = result["prompt_to_frame_ms"]
    gap = result["gap_ms"]
    print(f"service benchmark: {result['model']} {result['size']} @ {result['target_fps']} fps, {result['seconds']} s, {result['machine']['cpus']} CPUs")
    print(f"  {'delivered fps':<24}{result['delivered_fps']:>8}  ({result['delivered_ratio'] * 100:.1f}% of target, {'OK' if ratio_ok else 'BELOW 95%'})")
    rtp = result["video_rtp_whole_session"]
    print(f"  {'frames':<24}{result['frames']:>8}  unreadable stamps: {result['unreadable_stamps']}; RTP packets lost {rtp['packets_lost']} of {rtp['packets_received'] + rtp['packets_lost']}")
    cpu = result["cpu_ms_per_frame"]
    print(f"  {'CPU ms per frame':<24}{'service':>8}{'client':>8}   (budget {2000 / result['target_fps']:.0f} ms on 2 cores; load average {result['load_average']:.1f})")
    print(f"  {'':<24}{cpu['service']:>8}{cpu['client']:>8}")
    print(f"  {'frame gap ms':<24}{'p50':>8}{'p95':>8}{'max':>8}")
    print(f"  {'':<24}{gap['p50']:>8}{gap['p95']:>8}{gap['max']:>8}")
    print(f"  {'prompt -> frame ms':<24}{'p50':>8}{'p95':>8}{'max':>8}{'n':>6}{'missed':>8}")
    print(f"  {'':<24}{lat['p50']:>8}{lat['p95']:>8}{lat['max']:>8}{lat['n']:>6}{lat['missed']:>8}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"  written to {RESULTS}")
    return 0 if ratio_ok else 1


if __name__ == "__main__":
    sys.exit(main())
