"""Our side of a Link session: the show clock, the Conductor with `source: link` and a timer on
every beat. Prints one JSON line per beat: {"mono", "beat" (the show's), "link_beat" (the
session's beat it should be), "bpm", "peers"}, then {"done": true, ...}.

    python ours.py --bpm 120 --seconds 8 [--publish-at 5 --publish-bpm 100]

Run it only inside a network namespace (Link multicasts on every interface).
"""

from __future__ import annotations

import argparse
import asyncio
import json

from decart_flow.engine.clock import Clock
from decart_flow.engine.showclock import ShowClock
from decart_flow.tempo.conductor import Conductor
from decart_flow.tempo.timers import BeatTimer


async def main(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    sc = ShowClock(Clock(loop))
    conductor = Conductor(args.bpm, 4, "link", sc, now=loop.time, later=loop.call_later)
    conductor.start_source()
    for _ in range(100):  # until the peer is found (Link says within a second or so)
        if conductor.link.peers:  # type: ignore[union-attr]
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)  # a peer is counted before its session's timeline is taken on
    started = loop.create_future()

    def start() -> None:  # as the engine does: the show starts on the session's next bar line
        sc.start(0.0)
        conductor.started()
        started.set_result(None)

    if not conductor.defer_start(start):
        start()
    await started
    start_bar_phase = conductor.link.beat_at(loop.time()) % 4  # type: ignore[union-attr]
    done = loop.create_future()

    def on_beat(beat: int) -> None:
        def fire(_t: float, _lead: float) -> None:
            print(json.dumps({"mono": loop.time(), "beat": beat, "link_beat": beat - conductor.offset,
                              "bpm": conductor.grid.bpm, "peers": conductor.link.peers}), flush=True)  # type: ignore[union-attr, operator]
            if sc.t < args.seconds:
                on_beat(beat + 1)
            elif not done.done():
                done.set_result(None)
        BeatTimer(sc, conductor.grid, float(beat), fire)

    on_beat(0)
    if args.publish_at is not None:
        loop.call_later(args.publish_at, conductor.set_bpm, args.publish_bpm)
    await done
    print(json.dumps({"done": True, "start_bar_phase": start_bar_phase, "offset": conductor.offset}), flush=True)
    conductor.stop_source()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--bpm", type=float, default=120.0)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--publish-at", type=float)
    parser.add_argument("--publish-bpm", type=float, default=100.0)
    asyncio.run(main(parser.parse_args()))
