"""The tempo line and the `t` key against a show on the real local service; the line drawn from a
fixed glance."""

from __future__ import annotations

import statistics
import time
from dataclasses import replace
from pathlib import Path

import pytest
from test_tui_fixtures import still_glance
from test_tui_keys import play, wait_for

from decart_flow.tempo.conductor import TempoState
from decart_flow.tui.tempo_view import TempoView, beat_lights
from decart_flow.tui.timeline import Timeline

SHOW = """\
name: tempo keys
model: mirage_v2
source: testsrc
initial:
  prompt: Calm lake
tempo: {bpm: 120, beats_per_bar: 4, source: tap}
cues:
  - name: pulse
    every: 1 bar
    log: bar
"""


@pytest.fixture
def show_file(tmp_path: Path) -> Path:
    path = tmp_path / "show.yaml"
    path.write_text(SHOW)
    return path


def test_the_line_shows_bpm_source_peers_bar_beat_and_the_lit_beat() -> None:
    glance = still_glance()
    tempo = TempoState(bpm=128.0, source="link", peers=2, beats_per_bar=4, t=glance.t - 0.5, beat=9.9)
    view = TempoView()
    view.glance = replace(glance, state=replace(glance.state, tempo=tempo))
    text = view.render().plain  # type: ignore[union-attr]
    # 0.5 s at 128 bpm is 1.07 beats: beat 10.97 is bar 3, beat 3
    assert "128.0 BPM" in text and "link" in text and "2 peers" in text and "bar 3.3" in text
    assert beat_lights(10.97, 4).plain == "○ ○ ● ○"


async def test_t_taps_the_tempo_and_the_line_and_timeline_show_the_beat(show_file, tmp_path):
    async def body(live, pilot):
        line = live.app.query_one(TempoView)
        await wait_for(pilot, lambda: "120.0 BPM" in str(line.render_line(0).text))
        assert "tap" in str(line.render_line(0).text)
        timeline = live.app.query_one(Timeline)
        # the upcoming `every: 1 bar` is listed by its bar line, not its show time
        await wait_for(pilot, lambda: any(f" {n}.1 " in str(timeline.render_line(y).text)
                                          for y in range(timeline.size.height) for n in range(2, 40)))
        pressed = []
        for _ in range(4):
            pressed.append(time.monotonic())
            await pilot.press("t")
            await pilot.pause(0.4)
        await wait_for(pilot, lambda: len(live.events("tempo")) >= 3)
        bpm = live.events("tempo")[-1]["bpm"]
        tapped = 60.0 / statistics.median(b - a for a, b in zip(pressed, pressed[1:]))
        assert bpm == pytest.approx(tapped, rel=0.1)  # give or take the screen's and the hop's jitter
        await wait_for(pilot, lambda: f"{bpm:.1f} BPM" in str(line.render_line(0).text))
        assert all("bar" in r for r in live.events("cue.fire"))

    await play(show_file, tmp_path, body)
