"""Beat cues through the whole engine in virtual time: bars in the timeline, `every: 1 bar`, `at: bar N`,
a tempo change mid-show, pause, GO with `quantize`, quantized keys, `wait:` in beats, the journal's
bar.beat, and the problems `validate` reports for bad tempo input."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from test_engine_support import play

from decart_flow.show import load_show
from decart_flow.show.problems import ShowError

HEAD = """\
name: beats
model: mirage_v2
"""


def show(tmp_path: Path, body: str, tempo: str = "tempo: {bpm: 120}\n"):  # type: ignore[no-untyped-def]
    path = tmp_path / "show.yaml"
    path.write_text(HEAD + tempo + textwrap.dedent(body))
    return load_show(path)


def test_bars_and_beats_land_on_the_grid_at_the_shows_bpm(tmp_path: Path) -> None:
    s = show(tmp_path, """\
        timeline:
          bar 2: Two
          beat 3: Beat three
        cues:
          - every: 1 bar
            from: bar 3
            until: bar 5
            prompt: {cycle: [A, B, C]}
          - at: bar 6
            prompt: Six
        """)
    p = play(s, until=30)
    # 120 bpm, 4 beats a bar: a beat is 0.5 s, a bar 2 s; bar N starts at 2(N-1) s
    assert p.session.prompts() == [(1.0, "Beat three"), (2.0, "Two"), (4.0, "A"), (6.0, "B"), (10.0, "Six")]
    bars = [(r["cue"], r["bar"]) for r in p.events("cue.fire")]
    assert bars == [("timeline beat 3", "1.3"), ("timeline bar 2", "2.1"), ("cue 1", "3.1"), ("cue 1", "4.1"),
                    ("cue 2", "6.1")]


def test_a_tempo_change_mid_show_moves_every_beat_still_to_come(tmp_path: Path) -> None:
    s = show(tmp_path, """\
        timeline:
          bar 3: Three
        cues:
          - every: 1 beat
            until: bar 2
            log: beat
        """)
    p = play(s, until=30, script=((1.25, lambda e: e.set_tempo(60)),))
    beats = [r["t"] for r in p.events("cue.fire") if r["cue"] == "cue 1"]
    # 0, 0.5, 1.0 at 120 bpm; from 1.25 (beat 2.5) a beat is 1 s: beat 3 at 1.75
    assert beats == pytest.approx([0.0, 0.5, 1.0, 1.75])
    # bar 3 is beat 8: 5.5 beats after the change, at 1 s each
    assert p.session.prompts() == [(6.75, "Three")]
    tempo = p.events("tempo")
    assert tempo[0]["bpm"] == 60 and tempo[0]["bar"] == "1.3"


def test_pause_stops_the_grid(tmp_path: Path) -> None:
    s = show(tmp_path, """\
        timeline:
          bar 2: Two
        """)
    p = play(s, until=30, script=((1.0, lambda e: e.pause()), (11.0, lambda e: e.resume())))
    assert p.session.prompts() == [(12.0, "Two")]


def test_go_waits_for_the_bar_line_and_the_grid_goes_on_from_the_entry(tmp_path: Path) -> None:
    s = show(tmp_path, """\
        go: {quantize: 1 bar}
        timeline:
          bar 9: Nine
          bar 10: Ten
        """)
    p = play(s, until=30, script=((1.2, lambda e: e.go_next()), (1.5, lambda e: e.go_next())))
    # GO at 1.2 waits for bar 2 (2.0); the show jumps to bar 9; bar 10 comes one bar (2 s) later
    assert p.session.prompts() == [(2.0, "Nine"), (4.0, "Ten")]
    assert len(p.events("go")) == 1  # the second press while waiting changed nothing


def test_a_quantized_key_waits_for_the_next_bar_and_wait_counts_beats(tmp_path: Path) -> None:
    s = show(tmp_path, """\
        cues:
          - on: key d
            quantize: 1 bar
            prompt: Drop
            then:
              - wait: 2 beats
              - prompt: After
          - on: key h
            quantize: 1/2 beat
            log: half
        """, tempo="tempo: {bpm: 120, beats_per_bar: 3}\n")
    p = play(s, until=30, script=((0.3, lambda e: e.key("d")), (4.0, lambda e: e.set_tempo(60)),
                                   (4.6, lambda e: e.key("d")), (4.6, lambda e: e.key("h"))))
    # a bar of 3 beats is 1.5 s at 120: the first press fires on 1.5, its wait of 2 beats ends at 2.5;
    # after the change to 60 at 4.0 (beat 8), the bar line after 4.6 is beat 9 at 5.0, the wait 2 s
    assert p.session.prompts() == [(1.5, "Drop"), (2.5, "After"), (5.0, "Drop"), (7.0, "After")]
    half = [r["t"] for r in p.events("cue.fire") if r["cue"] == "cue 2"]
    assert half == pytest.approx([5.0])  # beat 8.6 -> the half beat line 9.0


def test_tapping_sets_the_tempo_and_is_journaled(tmp_path: Path) -> None:
    s = show(tmp_path, """\
        cues:
          - every: 1 bar
            log: bar
        """, tempo="tempo: {bpm: 120, source: tap}\n")
    taps = [(1.0 + 0.4 * i, lambda e: e.tap()) for i in range(4)]
    p = play(s, until=4, script=tuple(taps))
    assert p.engine.tempo.grid.bpm == pytest.approx(150.0)
    assert [round(r["bpm"], 3) for r in p.events("tempo")] == [150.0, 150.0, 150.0]
    assert p.engine.state.value.tempo.source == "tap"


@pytest.mark.parametrize("tempo, body, message", [
    ("tempo: {bpm: 120, source: lnk}\n", "", "3:27: bad tempo source 'lnk' (did you mean 'link'?)"),
    ("tempo: {bpm: 2000}\n", "", "3:14: bad bpm '2000': a number from 1 to 999"),
    ("tempo: {bmp: 120}\n", "", "3:9: unknown key 'bmp' (did you mean 'bpm'?)"),
    ("", "timeline:\n  bar 2: Two\n", "4:3: this counts beats, and the show has no tempo: add `tempo: {bpm: 120}`"),
    ("tempo: {bpm: 120}\n", "timeline:\n  bra 2: Two\n", "5:3: timeline: bad beat place 'bra 2': 'bra' is not a unit (did you mean 'bar'?)"),
    ("tempo: {bpm: 120}\n", "cues:\n  - every: 2 baets\n    log: x\n", "5:12: every: bad beat count '2 baets': 'baets' is not a unit (did you mean 'beats'?)"),
    ("tempo: {bpm: 120}\n", "cues:\n  - every: 1 bar\n    from: 10s\n    log: x\n", "6:11: from (with every: in beats, a beat place): bad beat place '10s'"),
    ("tempo: {bpm: 120}\n", "go: {quantise: 1 bar}\n", "4:6: unknown key 'quantise' (did you mean 'quantize'?)"),
])
def test_bad_tempo_input_is_one_line_where_what_and_how(tmp_path: Path, tempo: str, body: str, message: str) -> None:
    path = tmp_path / "show.yaml"
    path.write_text(HEAD + tempo + body)
    with pytest.raises(ShowError) as err:
        load_show(path)
    lines = [str(p) for p in err.value.problems]
    assert any(line.startswith(f"{path}:{message}") for line in lines), lines


def test_beat_cues_go_out_early_by_the_lookahead_and_keep_their_beat(tmp_path: Path) -> None:
    s = show(tmp_path, """\
        lookahead: 100ms
        timeline:
          bar 2: Two
        cues:
          - every: 1 beat
            from: beat 2
            until: beat 4
            log: beat
        """)
    p = play(s, until=10)
    assert p.session.prompts() == [(1.9, "Two")]
    fires = [(r["cue"], r["intended_t"], r["lookahead_ms"], r["bar"]) for r in p.events("cue.fire")]
    assert fires == [("cue 1", 0.5, 100.0, "1.2"), ("cue 1", 1.0, 100.0, "1.3"), ("timeline bar 2", 2.0, 100.0, "2.1")]


def test_midi_clock_through_the_midi_input_sets_the_tempo_and_start_stop_pause_the_show(tmp_path: Path) -> None:
    import mido

    from decart_flow.control.midi import MidiInput

    s = show(tmp_path, """\
        cues:
          - every: 1 beat
            log: beat
        """, tempo="tempo: {bpm: 120, source: midi-clock}\n")
    step = 60.0 / 90 / 24  # 90 bpm on the wire
    script: list = []

    def feed(message, at):  # type: ignore[no-untyped-def]
        script.append((at, lambda e, m=message, a=at: MidiInput(e).handle(m, a)))

    feed(mido.Message("start"), 0.99)
    for i in range(24 * 4):  # four beats of clock, from 1.0
        feed(mido.Message("clock"), 1.0 + i * step)
    feed(mido.Message("stop"), 1.0 + 24 * 4 * step)  # at beat 4 of the clock
    feed(mido.Message("continue"), 10.0)
    p = play(s, until=11.5, script=tuple(script))
    assert p.engine.tempo.grid.bpm == pytest.approx(90.0)
    assert [r["event"] for r in p.records if r["event"] in ("show.pause", "show.resume")] == ["show.pause", "show.resume"]
    fired = [(r["ts"], r["t"], r["bar"]) for r in p.events("cue.fire")]
    # 120 bpm until the clock's first beat at 1.0, which the grid puts on the next bar line (bar 2);
    # from there a beat every 2/3 s, on the clock's pulses, until the clock stops at 1.0 + 4 beats
    bars = [bar for _, t, bar in fired if t >= 1.0]
    assert bars[:4] == ["2.1", "2.2", "2.3", "2.4"]
    beats = [t for _, t, _ in fired if t >= 1.0]
    assert [round(b - a, 3) for a, b in zip(beats[:4], beats[1:4])] == [pytest.approx(60 / 90, abs=0.001)] * 3


def test_osc_tap_and_tempo_commands(tmp_path: Path) -> None:
    from decart_flow.control.intents import CommandError, command

    s = show(tmp_path, """\
        cues:
          - every: 1 bar
            log: bar
        """)
    errors: list[str] = []

    def bad(e):  # type: ignore[no-untyped-def]
        for args in ((), ("fast",), (0,)):
            try:
                command(e, "tempo", args, source="osc")
            except CommandError as exc:
                errors.append(str(exc))

    p = play(s, until=3, script=((1.0, lambda e: command(e, "tempo", ("128",), source="osc")), (1.5, bad)))
    assert p.engine.tempo.grid.bpm == 128.0
    assert errors == ["tempo needs a BPM between 1 and 999, e.g. /tempo 128"] * 3


def test_a_python_show_writes_the_same_beats_and_plan_lays_the_grid_out_at_bpm(tmp_path: Path) -> None:
    from decart_flow.engine.plan import plan

    path = tmp_path / "beats.py"
    path.write_text(textwrap.dedent("""\
        from decart_flow import Show, prompt

        show = Show("Py beats", model="lucy-restyle-2", tempo={"bpm": 90, "beats_per_bar": 3})
        show.timeline("bar 2", prompt("Two"))
        show.every("1 bar", prompt.cycle("A", "B"), start="bar 3", until="bar 5")
        show.at("bar 6", prompt("Six"))
        show.on("key d", prompt("Drop"), quantize="1 bar")
        """))
    rows = [(f.t, f.bar, f.action.get("prompt")) for f in plan(load_show(path), 15)]
    # 90 bpm, 3 beats a bar: a bar is 2 s
    assert rows == [(2.0, "2.1", "Two"), (4.0, "3.1", "A"), (6.0, "4.1", "B"), (10.0, "6.1", "Six")]
    assert plan(load_show(path), 15)[0].to_json()["bar"] == "2.1"
    pressed = play(load_show(path), until=12, script=((0.3, lambda e: e.key("d")),))
    assert (2.0, "Drop") in pressed.session.prompts()  # quantize= waits for bar 2


def test_a_tempo_action_sets_the_tempo_from_its_place_on(tmp_path: Path) -> None:
    s = show(tmp_path, """\
        timeline:
          bar 3: {tempo: 60}
        cues:
          - every: 1 bar
            until: bar 6
            log: bar
        """)
    p = play(s, until=20)
    assert [r["t"] for r in p.events("cue.fire") if r["cue"] == "cue 1"] == [0.0, 2.0, 4.0, 8.0, 12.0]
    assert [(r["bpm"], r["source"], r["bar"]) for r in p.events("tempo")] == [(60.0, "timeline bar 3", "3.1")]
    bad = tmp_path / "bad.yaml"
    bad.write_text(HEAD + "tempo: {bpm: 120}\ntimeline:\n  bar 2: {tempo: fast}\n")
    with pytest.raises(ShowError, match=r"bad.yaml:5:18: bad tempo 'fast': a bpm from 1 to 999"):
        load_show(bad)


def test_a_reload_with_a_new_bpm_sets_it_and_the_grid_goes_on(tmp_path: Path) -> None:
    body = """\
        cues:
          - every: 1 bar
            log: bar
        """
    first, second = show(tmp_path, body), show(tmp_path, body, tempo="tempo: {bpm: 60}\n")
    p = play(first, until=12, script=((3.0, lambda e: e.reload(second)),))
    # bars at 0, 2 at 120; at 3 (beat 6) 60 bpm: bar 3 (beat 8) at 5, then every 4 s
    assert [r["t"] for r in p.events("cue.fire")] == [0.0, 2.0, 5.0, 9.0]
    assert [(r["bpm"], r["source"]) for r in p.events("tempo")] == [(60.0, "reload")]
