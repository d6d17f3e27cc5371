"""The show clock's timers set `again`: one timer for a grid, in the order `call_at` would give."""

from __future__ import annotations

from decart_flow.engine.clock import VirtualClock
from decart_flow.engine.loop import VirtualEventLoop
from decart_flow.engine.showclock import ShowClock


def _run(build) -> list[tuple[float, str]]:  # type: ignore[no-untyped-def]
    loop = VirtualEventLoop()
    try:
        sc = ShowClock(VirtualClock(loop))
        seen: list[tuple[float, str]] = []
        build(sc, seen)
        sc.start(0.0)
        loop.call_at(100.0, loop.stop)
        loop.run_forever()
        return seen
    finally:
        loop.close()


def test_a_returned_time_sets_the_timer_again_after_timers_set_before_it() -> None:
    def build(sc: ShowClock, seen: list) -> None:  # type: ignore[type-arg]
        def grid() -> float | None:
            seen.append((sc.t, "grid"))
            if sc.t == 10.0:
                sc.call_at(20.0, lambda: seen.append((sc.t, "set at 10, after the grid's turn")))
            return sc.t + 10.0 if sc.t < 30.0 else None

        sc.call_at(20.0, lambda: seen.append((sc.t, "set first")))
        sc.call_at(0.0, grid, again=True)

    assert _run(build) == [(0.0, "grid"), (10.0, "grid"), (20.0, "set first"),
                           (20.0, "set at 10, after the grid's turn"), (20.0, "grid"), (30.0, "grid")]


def test_a_timer_cancelled_by_its_own_callback_is_not_set_again() -> None:
    def build(sc: ShowClock, seen: list) -> None:  # type: ignore[type-arg]
        def grid() -> float:
            seen.append((sc.t, "grid"))
            if sc.t == 20.0:
                timer.cancel()  # as a subscription disposed while its cue fires
            return sc.t + 10.0

        timer = sc.call_at(0.0, grid, again=True)

    assert _run(build) == [(0.0, "grid"), (10.0, "grid"), (20.0, "grid")]


def test_without_again_a_returned_value_is_ignored() -> None:
    def build(sc: ShowClock, seen: list) -> None:  # type: ignore[type-arg]
        sc.call_at(5.0, lambda: seen.append((sc.t, "once")) or 50.0)

    assert _run(build) == [(5.0, "once")]


def test_shift_moves_show_time_by_exactly_that_much_and_keeps_relative_timers():
    import asyncio
    from datetime import datetime, timezone

    loop = VirtualEventLoop()
    fired: list[tuple[str, float]] = []
    try:
        sc = ShowClock(VirtualClock(loop, datetime(2026, 1, 1, tzinfo=timezone.utc)))

        async def main() -> None:
            sc.start(0.0)
            sc.call_at(10.0, lambda: fired.append(("abs", loop.time())))
            sc.call_later(5.0, lambda: fired.append(("rel", loop.time())))
            await asyncio.sleep(1.0)
            sc.shift(0.25)  # show time 1.25 at loop 1: the cue at 10 comes at loop 9.75
            assert sc.t == 1.25
            await asyncio.sleep(10.0)

        loop.run_until_complete(main())
    finally:
        loop.close()
    assert fired == [("rel", 5.0), ("abs", 9.75)]
