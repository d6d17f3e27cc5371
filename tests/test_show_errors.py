"""Every validation error: its line, its column, its words; and all problems at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_show_assets import assets, make_assets  # noqa: F401  (fixture)

from decart_flow.show import BUILTIN_KEYS, ShowError, load_show

H = "name: T\nmodel: mirage_v2\n"  # two header lines: the cases below start on line 3
A = "name: T\nmodel: live_avatar\ninitial: {image: face.png}\n"  # avatar header: three lines

CASES = [
    # (show text, line, col, words in the message)
    (H + "timelin: {}\n", 3, 1, "unknown key 'timelin' (did you mean 'timeline'?)"),
    (H + "cues:\n  - nmae: x\n    every: 1m\n    log: x\n", 4, 5, "unknown key 'nmae' (did you mean 'name'?)"),
    (H + "timeline:\n  1: {promt: x}\n", 4, 7, "did you mean 'prompt'?"),
    (H + "duration: 5x\n", 3, 11, "bad duration '5x': use 90, 90s, 1m30s, 500ms, 2h or 1:30"),
    (H + "timeline:\n  soon: x\n", 4, 3, "bad show time 'soon'"),
    (H + "cues:\n  - every: 0s\n    log: x\n", 4, 12, "must be more than 0"),
    ("name: T\nmodel: mirage_3\n", 2, 8, "unknown model 'mirage_3' (did you mean 'mirage'?)"),
    ("name: T\n", 1, 1, "missing `model:`"),
    (H + "cues:\n  - cron: '61 * * * *'\n    log: x\n", 4, 11, "bad cron expression '61 * * * *'"),
    (H + "cues:\n  - cron: '* * * *'\n    log: x\n", 4, 11, "five fields"),
    (H + "cues:\n  - cron: '@hourly'\n    tz: Mars/Base\n    log: x\n", 5, 9, "unknown time zone 'Mars/Base'"),
    (H + "timeline:\n  1: {audio: lines/hello.wav}\n", 4, 7, "audio: plays only on the live_avatar model"),
    ("name: T\nmodel: live_avatar\n", 2, 1, "live_avatar needs a portrait"),
    ("name: T\nmodel: live_avatar\ninitial: {prompt: hi}\n", 3, 1, "live_avatar needs a portrait"),
    (H + "initial: {image: missing.png}\n", 3, 18, "file not found"),
    (H + "initial: {image: broken.png}\n", 3, 18, "cannot decode the image"),
    (A + "timeline:\n  1: {audio: broken.wav}\n", 5, 14, "cannot decode the audio"),
    (A + "timeline:\n  1: {audio: face.png}\n", 5, 14, "no audio stream"),
    (H + "cues:\n  - {name: a, at: 1, log: x}\n  - {name: a, at: 2, log: y}\n", 5, 12, "duplicate cue name 'a'"),
    (H + "cues:\n  - {name: a, at: 1, log: x}\n  - {on: after b, log: y}\n", 5, 10, "on: after 'b': no cue has that name"),
    (H + "cues:\n  - name: a\n    log: x\n", 4, 5, "cue 'a' has no trigger"),
    (H + "cues:\n  - name: a\n    at: 1\n    every: 2s\n    log: x\n", 6, 5, "has two triggers (at: and every:)"),
    (H + "cues:\n  - {at: 1, log: x, mode: restrat}\n", 4, 27, "bad mode 'restrat' (did you mean 'restart'?)"),
    (H + "cues:\n  - {at: 1, wait: 2s}\n", 4, 13, "wait: only inside a cue's then: list"),
    (H + "timeline:\n  1: {wait: 2s}\n", 4, 7, "wait: only inside"),
    (H + "timeline:\n  1: Hi {citty}\n", 4, 6, "unknown placeholder '{citty}'"),
    (H + "vars: {city: x}\ntimeline:\n  1: Hi {citty}\n", 5, 6, "did you mean 'city'?"),
    (H + "timeline:\n  1: Hi {0}\n", 4, 6, "'{0}' is an event argument"),
    (H + "cues:\n  - {on: key 1, prompt: 'Hi {0}'}\n", 4, 25, "'{0}' is an event argument"),
    (H + "cues:\n  - {every: 1m, log: x, when: {between: ['9am', '18:00']}}\n", 4, 42, "bad time of day '9am'"),
    (H + "cues:\n  - {every: 1m, log: x, when: {between: ['09:00']}}\n", 4, 41, "between: takes a pair"),
    (H + "cues:\n  - {every: 1m, log: x, when: {days: [mon, funday]}}\n", 4, 44, "bad day 'funday'"),
    (H + "cues:\n  - {on: kee 1, log: x}\n", 4, 10, "bad event 'kee 1' (did you mean 'key'?)"),
    (H + "cues:\n  - {on: key, log: x}\n", 4, 10, "on: key needs an argument"),
    (H + "cues:\n  - {on: osc fader, log: x}\n", 4, 10, "must start with /"),
    (H + "cues:\n  - {on: http go, log: x}\n", 4, 10, "must start with /"),
    (H + "cues:\n  - {on: state generatin, log: x}\n", 4, 10, "unknown state 'generatin' (did you mean 'generating'?)"),
    (H + "cues:\n  - {on: midi note 200, log: x}\n", 4, 10, "bad midi event"),
    (H + "cues:\n  - {on: midi pitch 2, log: x}\n", 4, 10, "bad midi event"),
    (H + "cues:\n  - {on: key g, log: x}\n", 4, 10, "key 'g' belongs to the TUI"),
    (H + "cues:\n  - on: key ?\n    log: x\n", 4, 9, "belongs to the TUI"),
    (H + "cues:\n  - {on: key space, log: x}\n", 4, 10, "belongs to the TUI"),
    (H + "source: webcam\n", 3, 9, "bad source 'webcam'"),
    (H + "source: file:nothing.mp4\n", 3, 9, "file not found"),
    (H + "source: file:lines/hello.wav\n", 3, 9, "no video stream"),
    (H + "source: image:broken.png\n", 3, 9, "cannot decode the image"),
    (H + "timeline:\n  1: {prompt: ''}\n", 4, 15, "empty prompt"),
    (H + "timeline:\n  1: {prompt: }\n", 4, 14, "empty prompt"),
    (H + "timeline:\n  1: " + "x" * 1001 + "\n", 4, 6, "prompt too long (1001 characters): at most 1000"),
    (H + "timeline:\n  1: {prompt: {cycle: []}}\n", 4, 23, "cycle: the list is empty"),
    (H + "timeline:\n  1: {prompt: {shuffle: []}}\n", 4, 25, "shuffle: the list is empty"),
    (H + "timeline:\n  1: {prompt: {random: []}}\n", 4, 24, "random: the list is empty"),
    (H + "timeline:\n  1: {prompt: {cycel: [a]}}\n", 4, 16, "did you mean 'cycle'?"),
    (H + "loop: true\n", 3, 1, "loop: true needs a duration:"),
    (H + "timeline:\n  1: {mirror: sideways}\n", 4, 15, "mirror: use true, false or toggle"),
    (H + "timeline:\n  1: {go: nxt}\n", 4, 11, "(did you mean 'next'?)"),
    (H + "timeline:\n  1: {enhance: false}\n", 4, 7, "enhance: goes beside prompt: or image:"),
    (H + "cues:\n  - {at: 1, from: 2, log: x}\n", 4, 13, "from: goes with every:"),
    (H + "cues:\n  - {at: 1, tz: UTC, log: x}\n", 4, 13, "tz: goes with cron:"),
    (H + "cues:\n  - {every: 1m, from: 2m, until: 1m, log: x}\n", 4, 34, "until (1:00) must come after from (2:00)"),
    (H + "cues:\n  - {every: 1m, times: 0, log: x}\n", 4, 24, "times: a whole number above 0"),
    (H + "cues:\n  - {name: x, every: 1m}\n", 4, 5, "cue 'x' does nothing"),
    (H + "lookahead: soon\n", 3, 12, "bad lookahead 'soon'"),
    (H + "cues:\n  - {name: a, at: 1, log: x}\n    # comment\n  - {name: a, at: 1, log: x}\n", 6, 12, "first at line 4"),
    (H + "name: again\n", 3, 1, "duplicate key 'name' (first at line 1)"),
    (H + "timeline:\n  1: {prompt: a, b c}\n", 4, 18, "a comma starts a new key"),
    (H + "cues: {a: 1}\n", 3, 7, "cues: is a list"),
    ("- a\n- b\n", 1, 1, "a show is a mapping"),
    ("name: [unclosed\n", 2, 1, "YAML:"),
    ("", 1, 1, "empty show"),
]


@pytest.mark.parametrize("text, line, col, words", CASES, ids=[c[3][:40] for c in CASES])
def test_each_error_has_its_position(assets: Path, text: str, line: int, col: int, words: str):
    path = assets / "show.yaml"
    path.write_text(text)
    with pytest.raises(ShowError) as e:
        load_show(path)
    found = [(p.where.line, p.where.col, p.message) for p in e.value.problems]
    assert any(words in m for _, _, m in found), found
    assert any(words in m and (ln, c) == (line, col) for ln, c, m in found), found
    for p in e.value.problems:
        assert str(p) == f"{path}:{p.where.line}:{p.where.col}: {p.message}"


def test_all_problems_are_collected(assets: Path):
    path = assets / "show.yaml"
    path.write_text(H + "duration: 5x\nsource: webcam\ncues:\n  - {on: key g, log: x, mode: bad}\n  - {at: soon, log: y}\n")
    with pytest.raises(ShowError) as e:
        load_show(path)
    assert [(p.where.line, p.where.col) for p in e.value.problems] == [(3, 11), (4, 9), (6, 10), (6, 31), (7, 10)]


def test_missing_file_and_folder(tmp_path: Path):
    for target, words in [(tmp_path / "nope.yaml", "no such file"), (tmp_path, "is a folder")]:
        with pytest.raises(ShowError) as e:
            load_show(target)
        assert words in e.value.problems[0].message


def test_builtin_keys_exported():
    assert {"space", "enter", "g", "b", "p", "i", "m", "r", "q", "question_mark", "?"} <= BUILTIN_KEYS
    assert "1" not in BUILTIN_KEYS


def test_a_valid_show_does_not_fail_later_for_a_file(tmp_path: Path):
    # The check reads the file, so swapping a good image for a broken one is noticed on reload.
    make_assets(tmp_path)
    path = tmp_path / "show.yaml"
    path.write_text(H + "initial: {image: face.png}\n")
    assert load_show(path).initial.image == str(tmp_path / "face.png")
    (tmp_path / "face.png").write_bytes(b"garbage")
    with pytest.raises(ShowError, match="cannot decode the image"):
        load_show(path)
