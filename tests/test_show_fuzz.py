"""Fuzzing the loader: whatever the bytes or the structure, a valid show or a clean ShowError."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_show_assets import make_assets

from decart_flow.show import ShowError, load_show
from decart_flow.show.compile import ACTION_KEYS, CUE_KEYS, SHOW_KEYS
from decart_flow.show.model import ShowModel

FOLDER = make_assets(Path(tempfile.mkdtemp(prefix="show-fuzz-")))
# SHOW_FUZZ_EXAMPLES=5000 for a longer hunt; CI runs the default.
SETTINGS = settings(max_examples=int(os.environ.get("SHOW_FUZZ_EXAMPLES", "100")), deadline=None, suppress_health_check=list(HealthCheck))

VALID = (FOLDER / "valid.yaml")
VALID.write_text(
    """\
name: Fuzz
model: mirage_v2
vars: {city: Tokyo}
initial: {prompt: Anime, image: face.png}
timeline:
  0:30: Cyberpunk {city}
  1:00: {image: refs/ghibli.png, prompt: Ghibli}
cues:
  - name: a
    every: 20s
    from: 1:00
    prompt: {cycle: [x, y]}
  - name: b
    on: osc /fader
    prompt: "Storm {0}"
    then: [{wait: 1s}, {mirror: toggle}]
  - name: c
    cron: "0 * * * *"
    when: {between: ["09:00", "18:00"], days: [mon]}
    log: hi
"""
)


def check(path: Path) -> None:
    """The property: a ShowModel, or a ShowError whose problems are clean one-liners."""
    try:
        show = load_show(path)
    except ShowError as e:
        assert e.problems
        for p in e.problems:
            text = str(p)
            assert "\n" not in text
            assert p.where.line >= 1 and p.where.col >= 1, text
            assert text.startswith(f"{p.where.file}:{p.where.line}:{p.where.col}: ")
            assert p.message.strip()
        return
    assert isinstance(show, ShowModel)
    assert list(show.timeline) == sorted(show.timeline, key=lambda e: e.t)


def write(data: bytes, name: str = "fuzz.yaml") -> Path:
    path = FOLDER / name
    path.write_bytes(data)
    return path


@SETTINGS
@given(st.binary(max_size=2000))
def test_random_bytes(data: bytes):
    check(write(data))


@SETTINGS
@given(st.binary(max_size=500))
def test_random_bytes_as_python(data: bytes):
    check(write(data, "fuzz.py"))


WORDS = st.sampled_from(
    list(SHOW_KEYS) + list(CUE_KEYS) + list(ACTION_KEYS)
    + ["cycle", "shuffle", "random", "between", "days", "key 1", "osc /x", "after a", "state connected",
       "0:30", "1:30", "90s", "5x", "toggle", "next", "face.png", "refs/ghibli.png", "lines/hello.wav",
       "mirage_v2", "live_avatar", "0 * * * *", "{city}", "{0}", "mon", "09:00", "auto", "file:clips/dance.mp4"]
)  # fmt: skip
SCALARS = st.one_of(
    WORDS, st.text(max_size=20), st.integers(-5, 10_000), st.floats(allow_nan=True), st.booleans(), st.none()
)
TREES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(st.one_of(WORDS, st.text(max_size=8)), inner, max_size=6)),
    max_leaves=12,
)


@SETTINGS
@given(TREES)
def test_random_structures(tree):
    check(write(yaml.safe_dump(tree, allow_unicode=True).encode()))


@SETTINGS
@given(
    st.dictionaries(st.sampled_from(SHOW_KEYS), TREES, max_size=5),
    st.lists(st.dictionaries(st.sampled_from(CUE_KEYS), SCALARS | TREES, max_size=5), max_size=3),
)
def test_random_shows(top, cues):
    top = dict(top, model=top.get("model", "mirage_v2"))
    if cues:
        top["cues"] = cues
    check(write(yaml.safe_dump(top, allow_unicode=True).encode()))


@SETTINGS
@given(st.data())
def test_mutated_valid_show(data):
    text = VALID.read_text()
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(text)))
        if data.draw(st.booleans()):
            text = text[:at] + text[at + data.draw(st.integers(1, 8)):]
        else:
            text = text[:at] + data.draw(st.sampled_from([":", " ", "\n", "{", "[", "- ", "x", "'", "5x", "  "])) + text[at:]
    check(write(text.encode()))


def test_the_unmutated_show_is_valid():
    show = load_show(VALID)
    assert [c.name for c in show.cues] == ["a", "b", "c"]
