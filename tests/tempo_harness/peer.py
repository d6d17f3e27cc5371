"""A Link peer that is not us: aalink directly. Prints its beat readings as JSON lines.

    python peer.py --bpm 97 --seconds 10 [--change-at 3 --change-bpm 140]

Each line: {"mono": monotonic seconds, "wall": time.time() then, "beat": the session's beat then, "tempo", "peers"}; the beat
is read between two clock readings and stamped with their middle, as our LinkSession does.
Run it only inside a network namespace (Link multicasts on every interface).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from aalink import Link


async def main(args: argparse.Namespace) -> None:
    link = Link(args.bpm)
    link.quantum = 4
    link.enabled = True
    start = time.monotonic()
    changed = False
    while (now := time.monotonic()) - start < args.seconds:
        if args.change_at is not None and not changed and now - start >= args.change_at:
            link.tempo, changed = args.change_bpm, True
        m0 = time.monotonic()
        beat = link.beat
        m1 = time.monotonic()
        print(json.dumps({"mono": (m0 + m1) / 2, "wall": time.time(), "beat": beat, "tempo": link.tempo, "peers": link.num_peers}), flush=True)
        await asyncio.sleep(args.every)
    link.enabled = False


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--bpm", type=float, default=97.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--every", type=float, default=0.02)
    parser.add_argument("--change-at", type=float)
    parser.add_argument("--change-bpm", type=float, default=140.0)
    asyncio.run(main(parser.parse_args()))
