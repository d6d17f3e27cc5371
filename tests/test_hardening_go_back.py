"""GO back on a `mirror: toggle` entry re-applies what the entry did; the timeline lists each entry
once, and fired rows say what they did."""

from __future__ import annotations

from pathlib import Path

from test_engine_support import play

from decart_flow.show import load_show

SHOW = """\
name: Toggles
model: mirage_v2
initial: {prompt: Calm}
timeline:
  0:10: Neon city
  0:20: {mirror: toggle}
  0:30: Watercolor
"""


def test_go_back_to_a_toggle_leaves_the_mirror_as_that_entry_left_it(tmp_path: Path) -> None:
    path = tmp_path / "show.yaml"
    path.write_text(SHOW)
    played = play(load_show(path), until=8, script=(
        (1, lambda e: e.go_next()),  # 0:10 Neon city
        (2, lambda e: e.go_next()),  # 0:20 mirror toggle: on
        (3, lambda e: e.go_next()),  # 0:30 Watercolor
        (4, lambda e: e.go_back()),  # back to 0:20: the mirror was on after it, and stays on
    ))
    mirrors = [v for _, kind, v in played.session.calls if kind == "mirror"]
    assert mirrors == [True, True], mirrors
    state = played.engine.state.value
    assert state.mirror is True
    past = [p.cue for p in state.past]
    upcoming = [u.cue for u in state.upcoming]
    # Each entry once: 0:10 and 0:20 fired (0:20 re-applied), 0:30 ahead again, by what they do.
    assert past == ["Neon city", "{mirror: toggle}"], past
    assert upcoming[:1] == ["Watercolor"] and "Watercolor" not in past, upcoming
