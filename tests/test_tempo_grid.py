"""The beat grid in virtual time: tempo changes mid-show, pause, GO and quantize, on the show clock."""

from __future__ import annotations

import pytest

from decart_flow.engine.clock import VirtualClock
from decart_flow.engine.loop import VirtualEventLoop
from decart_flow.engine.showclock import ShowClock
from decart_flow.tempo import BeatGrid, parse_place, parse_span
from decart_flow.tempo.timers import BeatTimer


def test_beats_and_show_time_both_ways_across_a_tempo_change() -> None:
    grid = BeatGrid(120)
    assert grid.t_at(8) == 4.0 and grid.beat_at(4.0) == 8.0
    grid.set_tempo(4.0, 60)  # at beat 8 the tempo halves
    assert grid.beat_at(6.0) == 10.0
    assert grid.t_at(10) == 6.0
    assert grid.t_at(4) == 2.0  # before the change, the old tempo still holds
    assert grid.beat_at(2.0) == 4.0
    assert grid.bar_beat(4.0) == "3.1" and grid.bar_beat(6.5) == "3.3"


def test_a_grid_put_on_a_heard_beat_reaches_passed_beats_at_the_jump() -> None:
    grid = BeatGrid(120)
    grid.align(1.0, 3.0)  # the source says beat 3 at 1 s (the grid had 2): it jumps forward
    assert grid.t_at(2.5, after=0.9) == 1.0  # passed over: reached at the jump
    assert grid.t_at(4.0, after=1.0) == pytest.approx(1.5)
    grid.align(2.0, 4.5)  # and back a little (had 5): beat 4.75 comes (again) after 2 s
    assert grid.t_at(4.75, after=2.0) == pytest.approx(2.125)


def test_quantize_is_the_next_grid_line_and_a_line_is_its_own() -> None:
    grid = BeatGrid(120, beats_per_bar=3)
    assert grid.next_line(0.1, 3) == 1.5  # a bar of 3 beats at 120 bpm
    assert grid.next_line(1.5, 3) == 1.5
    assert grid.next_line(1.6, 1) == 2.0
    assert grid.next_line(1.6, 0.5) == 1.75


def test_places_and_spans_become_beats_with_the_shows_bar() -> None:
    assert parse_place("bar 17").beats(4) == 64.0
    assert parse_place("beat 5").beats(4) == 4.0
    assert parse_span("1/2 beat").beats(4) == 0.5
    assert parse_span("2 bars").beats(3) == 6.0
    with pytest.raises(ValueError, match="did you mean 'bar'"):
        parse_place("bra 3")
    with pytest.raises(ValueError, match="more than 0"):
        parse_span("0 beats")


def _run(build, until: float = 60.0):  # type: ignore[no-untyped-def]
    loop = VirtualEventLoop()
    try:
        sc = ShowClock(VirtualClock(loop))
        seen: list = []
        build(loop, sc, seen)
        sc.start(0.0)
        loop.call_at(until, loop.stop)
        loop.run_forever()
        return seen
    finally:
        loop.close()


def _every_beat(sc: ShowClock, grid: BeatGrid, seen: list, count: int) -> None:  # type: ignore[type-arg]
    def place(beat: int) -> None:
        def fire(_t: float, _lead: float) -> None:
            seen.append((round(sc.t, 6), beat))
            if beat + 1 < count:
                place(beat + 1)
        BeatTimer(sc, grid, beat, fire)
    place(0)


def test_beat_timers_follow_a_tempo_change_made_mid_show() -> None:
    grid = BeatGrid(120)

    def build(loop, sc, seen):  # type: ignore[no-untyped-def]
        _every_beat(sc, grid, seen, 8)
        loop.call_at(1.25, lambda: grid.set_tempo(sc.t, 60))  # between beat 2 (1.0) and 3 (1.5)

    seen = _run(build)
    # beats 0..2 at 0.5 s, beat 2.5 at the change, then 1 s a beat
    assert seen == [(0.0, 0), (0.5, 1), (1.0, 2), (1.75, 3), (2.75, 4), (3.75, 5), (4.75, 6), (5.75, 7)]


def test_a_pause_stops_the_grid_and_go_moves_along_it() -> None:
    grid = BeatGrid(120)

    def build(loop, sc, seen):  # type: ignore[no-untyped-def]
        _every_beat(sc, grid, seen, 8)
        loop.call_at(0.75, sc.pause)  # show time stops at 0.75 (beat 1.5) for 10 s
        loop.call_at(10.75, sc.resume)

    seen = _run(build)
    assert seen == [(0.0, 0), (0.5, 1), (1.0, 2), (1.5, 3), (2.0, 4), (2.5, 5), (3.0, 6), (3.5, 7)]

    def build_go(loop, sc, seen):  # type: ignore[no-untyped-def]
        def fire(_t: float, _lead: float) -> None:
            seen.append((round(sc.t, 6), round(loop.time(), 6)))
        BeatTimer(sc, grid, 16.0, fire)  # bar 5 at 8 s of show time
        loop.call_at(1.0, lambda: sc.jump(6.0))  # GO: show time 6 at loop time 1

    assert _run(build_go) == [(8.0, 3.0)]  # the bar comes 2 s after the jump, on the grid


def test_a_beat_timer_with_a_lead_fires_early_by_it() -> None:
    from decart_flow.engine.lookahead import Lead

    grid = BeatGrid(120)

    def build(loop, sc, seen):  # type: ignore[no-untyped-def]
        BeatTimer(sc, grid, 4.0, lambda t, lead: seen.append((round(sc.t, 6), t, lead)), Lead(0.12))

    assert _run(build) == [(1.88, 2.0, 0.12)]
