"""Our side of a Link session: the show clock, the Conductor with `source: link` and a timer on
every beat. Prints one JSON line per beat: {"mono" (when it fired), "intended" (the monotonic time the grid
put the beat at), "beat" (the show's), "link_beat" (the session's beat it should be), "bpm", "peers"}, then {"done": true, ...}.

    python ours.py --bpm 120 --seconds 12 [--publish-after 140 --publish-bpm 100]

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
        def fire(t: float, _lead: float) -> None:
            print(json.dumps({"mono": loop.time(), "intended": sc.mono_of(t), "beat": beat, "link_beat": beat - conductor.offset,
                              "bpm": conductor.grid.bpm, "peers": conductor.link.peers}), flush=True)  # type: ignore[union-attr, operator]
            if sc.t < args.seconds:
                on_beat(beat + 1)
            elif not done.done():
                done.set_result(None)
        BeatTimer(sc, conductor.grid, float(beat), fire)

    on_beat(0)
    if args.publish_after is not None:  # once a peer has moved the session to this tempo, publish ours
        async def publish() -> None:
            while abs(conductor.grid.bpm - args.publish_after) > 0.01:
                await asyncio.sleep(0.05)
            await asyncio.sleep(1.0)
            conductor.set_bpm(args.publish_bpm)

        publishing = asyncio.ensure_future(publish())
    await done
    if args.publish_after is not None:
        publishing.cancel()
    print(json.dumps({"done": True, "start_bar_phase": start_bar_phase, "offset": conductor.offset}), flush=True)
    conductor.stop_source()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--bpm", type=float, default=120.0)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--publish-after", type=float, help="publish --publish-bpm once the session is at this tempo")
    parser.add_argument("--publish-bpm", type=float, default=100.0)
    asyncio.run(main(parser.parse_args()))
