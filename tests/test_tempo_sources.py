"""Tap tempo and MIDI clock driven by synthetic input (mido Messages with timestamps)."""

from __future__ import annotations

import mido
import pytest

from decart_flow.tempo.conductor import Conductor
from decart_flow.tempo.midiclock import PPQN, MidiClock
from decart_flow.tempo.tap import TapTempo


class FakeShowTime:
    """Show time read off a number the test moves (the conductor only reads `t`, `started`, `paused`)."""

    def __init__(self) -> None:
        self.started, self.paused, self.now = True, False, 0.0

    @property
    def t(self) -> float:
        return self.now


def test_tap_takes_the_median_of_the_last_intervals() -> None:
    taps = TapTempo()
    times = [0.0, 0.5, 1.0, 1.62, 2.0, 2.5]  # one late tap among taps at 120 bpm
    got = [taps.tap(t) for t in times]
    assert got[0] is None
    assert got[-1] == pytest.approx(120.0)


def test_tap_starts_a_new_count_after_a_gap() -> None:
    taps = TapTempo()
    for t in (0.0, 0.5, 1.0):
        taps.tap(t)
    assert taps.tap(5.0) is None  # 4 s later: a new song
    assert taps.tap(5.4) == pytest.approx(150.0)


def test_a_tap_sets_the_tempo_and_puts_the_beat_on_it_and_a_pause_resets_the_count() -> None:
    show = FakeShowTime()
    conductor = Conductor(120, 4, "tap", show, now=lambda: show.now)
    for t in (10.0, 10.4, 10.8, 11.2):
        show.now = t
        conductor.tap()
    assert conductor.grid.bpm == pytest.approx(150.0)
    beat = conductor.grid.beat_at(11.2)
    assert beat == pytest.approx(round(beat), abs=1e-9)  # the last tap is a beat
    assert conductor.grid.t_at(conductor.grid.beat_at(11.2) + 1) == pytest.approx(11.6)
    conductor.paused()
    show.now = 11.6
    assert conductor.tap() is None  # counting starts over after a pause


def _clock_at(bpm: float, start: float, pulses: int, jitter: float = 0.0) -> list[mido.Message]:
    step = 60.0 / bpm / PPQN
    return [mido.Message("clock", time=start + i * step + (jitter if i % 2 else -jitter)) for i in range(pulses)]


def test_midi_clock_reads_the_tempo_over_a_beat_of_pulses() -> None:
    clock = MidiClock()
    clock.feed(mido.Message("start"), 0.0)
    beats = [e for m in _clock_at(128, 0.0, 24 * 4 + 1, jitter=0.0004) if (e := clock.feed(m, m.time))]
    assert [e.beat for e in beats if e.kind == "beat"] == [0, 1, 2, 3, 4]
    assert beats[-1].bpm == pytest.approx(128, rel=0.002)


def test_midi_start_and_stop_start_and_pause_and_the_grid_follows_the_clock() -> None:
    show = FakeShowTime()
    show.started = False
    conductor = Conductor(120, 4, "midi-clock", show, now=lambda: show.now)
    assert conductor.midi_clock(mido.Message("start"), 0.0) == "start"
    show.started = True  # the engine starts the show on it
    for m in _clock_at(90, 0.0, 24 * 8):
        show.now = m.time
        conductor.midi_clock(m, m.time)
    assert conductor.grid.bpm == pytest.approx(90.0)
    assert conductor.grid.beat_at(show.now) == pytest.approx(8 - 1 / 24, abs=1e-6)
    assert conductor.grid.bar_beat(show.now) == "2.4"
    assert conductor.midi_clock(mido.Message("stop"), show.now) == "stop"
    assert conductor.midi_clock(mido.Message("continue"), show.now) == "continue"
    assert conductor.midi_clock(mido.Message("note_on", note=60), show.now) is None


def test_osc_tempo_sets_the_grid_from_now_on() -> None:
    show = FakeShowTime()
    conductor = Conductor(120, 4, "internal", show, now=lambda: show.now)
    show.now = 2.0
    conductor.set_bpm(60)
    assert conductor.grid.beat_at(3.0) == pytest.approx(5.0)
    show.now = 3.0
    state = conductor.state()
    assert (state.bpm, state.source, state.peers, state.bar_beat(3.0)) == (60.0, "internal", None, "2.2")
    assert state.bar_beat(4.0) == "2.3"  # the TUI moves it on with show time


def test_link_without_aalink_is_one_line_saying_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from decart_flow.tempo.link import LinkSession, LinkUnavailable

    monkeypatch.setitem(sys.modules, "aalink", None)  # as if not installed
    with pytest.raises(LinkUnavailable, match=r"pip install 'decart-flow\[link\]'"):
        LinkSession(120).start()


async def test_osc_tap_and_tempo_over_real_udp(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from pythonosc.udp_client import SimpleUDPClient
    from test_control_support import live_engine

    from decart_flow.control.osc import OscServer
    from decart_flow.show import load_show

    path = tmp_path / "show.yaml"
    path.write_text("name: o\nmodel: mirage_v2\ntempo: {bpm: 120, source: tap}\ncues:\n  - every: 1 bar\n    log: bar\n")
    async with live_engine(load_show(path), tmp_path) as live:
        server = OscServer(live.engine, port=0)
        await server.start()
        try:
            client = SimpleUDPClient("127.0.0.1", server.port)
            client.send_message("/tempo", [128.0])
            await live.until(lambda: live.engine.tempo.grid.bpm == 128.0)
            for _ in range(4):
                client.send_message("/tap", [])
                await asyncio.sleep(0.5)
            await live.until(lambda: len(live.events("tempo")) >= 4)
            assert [r["source"] for r in live.events("tempo")] == ["set", "tap", "tap", "tap"]
            assert live.engine.tempo.grid.bpm == pytest.approx(120.0, rel=0.05)  # taps 0.5 s apart
            client.send_message("/tempo", ["fast"])  # malformed: one warning, the tempo stays
            await asyncio.sleep(0.2)
            assert live.engine.tempo.grid.bpm == pytest.approx(120.0, rel=0.05)
        finally:
            await server.stop()
