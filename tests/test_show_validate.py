"""`decart-flow validate`: exit codes, output lines, and never a traceback."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from decart_flow.cli import main

REPO = Path(__file__).resolve().parent.parent


def run_main(capsys, *args: str) -> tuple[int, list[str]]:
    code = main(["validate", *args])
    out = capsys.readouterr()
    return code, (out.out + out.err).splitlines()


def test_valid_show(capsys, tmp_path: Path):
    path = tmp_path / "ok.yaml"
    path.write_text("name: x\nmodel: mirage\ntimeline:\n  1: a\n  2: b\n  3: c\ncues:\n" + "  - {every: 1m, log: x}\n" * 5)
    code, lines = run_main(capsys, str(path))
    assert code == 0
    assert lines == [f"{path}: valid (3 timeline entries, 5 cues)"]


def test_singular_counts(capsys, tmp_path: Path):
    path = tmp_path / "one.yaml"
    path.write_text("name: x\nmodel: mirage\ntimeline: {1: a}\ncues: [{at: 1, log: x}]\n")
    assert run_main(capsys, str(path)) == (0, [f"{path}: valid (1 timeline entry, 1 cue)"])


def test_problems_one_per_line_with_did_you_mean(capsys, tmp_path: Path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nmodle: mirage\ntimelin:\n  1: a\nduration: 5x\n")
    code, lines = run_main(capsys, str(path))
    assert code == 2
    assert lines == [
        f"{path}:1:1: missing `model:`: use a model of today (lucy-restyle-2, lucy-2.1, lucy-2.5, lucy-2.6, "
        "lucy-vton-3.5, lucy-vton-3.6) or of 2025, local service only (mirage, mirage_v2, lucy_v2v_720p_rt, live_avatar)",
        f"{path}:2:1: unknown key 'modle' (did you mean 'model'?)",
        f"{path}:3:1: unknown key 'timelin' (did you mean 'timeline'?)",
        f"{path}:5:11: bad duration '5x': use 90, 90s, 1m30s, 500ms, 2h or 1:30",
    ]


@pytest.mark.parametrize("name", ["quickstart.yaml", "performance.yaml", "installation.yaml", "avatar.yaml", "reactive.py"])
def test_example_scenes(capsys, name: str):
    code, lines = run_main(capsys, str(REPO / "scenes" / name))
    assert code == 0 and len(lines) == 1 and lines[0].endswith(")") and ": valid (" in lines[0]


def _broken_inputs(folder: Path) -> dict[str, Path]:
    files = {
        "list": ("list.yaml", b"- a\n- b\n"),
        "scalar": ("scalar.yaml", b"just words\n"),
        "binary": ("bin.yaml", bytes(range(256)) * 8),
        "nul": ("nul.yaml", b"name: \x00\n"),
        "bad yaml": ("tabs.yaml", b"name: x\n\tmodel: y\n"),
        "two docs": ("docs.yaml", b"a: 1\n---\nb: 2\n"),
        "anchors loop": ("loop.yaml", b"a: &x [*x]\n"),
        "laughs": ("laughs.yaml", b"a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
                   b"d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
                   b"cues: *f\nmodel: mirage\n"),
        "deep": ("deep.yaml", b"a: " + b"[" * 20000 + b"\n"),
        "huge": ("huge.yaml", b"name: " + b"x" * 3_000_000 + b"\n"),
        "python tag": ("tag.yaml", b"name: !!python/object/apply:os.system ['true']\nmodel: mirage\n"),
        "py syntax": ("broken.py", b"show = (\n"),
        "py raises": ("raises.py", b"raise RuntimeError('boom')\n"),
        "py binary": ("binary.py", bytes(range(256))),
    }
    out = {}
    for label, (name, data) in files.items():
        (folder / name).write_bytes(data)
        out[label] = folder / name
    out["missing"] = folder / "nope.yaml"
    out["directory"] = folder
    return out


def test_never_a_traceback_in_process(capsys, tmp_path: Path):
    for label, path in _broken_inputs(tmp_path).items():
        code, lines = run_main(capsys, str(path))
        assert code == 2, label
        assert lines, label
        for line in lines:
            assert line.startswith(f"{path}:") or line.startswith(str(path)), (label, line)
            assert "Traceback" not in line and "internal error" not in line, (label, line)


def test_never_a_traceback_as_a_command(tmp_path: Path):
    """The real command line, in a child process: exit 2 and clean lines on stdout, nothing on stderr."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    inputs = _broken_inputs(tmp_path)
    for label in ("binary", "list", "py raises", "missing", "directory", "laughs"):
        path = inputs[label]
        proc = subprocess.run(
            [sys.executable, "-m", "decart_flow.cli", "validate", str(path)],
            capture_output=True, text=True, cwd=REPO, env=env, timeout=60,
        )  # fmt: skip
        assert proc.returncode == 2, (label, proc.stdout, proc.stderr)
        assert proc.stderr == "", (label, proc.stderr)
        assert re.match(rf"{re.escape(str(path))}:\d+:\d+: \S", proc.stdout), (label, proc.stdout)


def test_several_files_when_the_cli_passes_a_list(capsys, tmp_path: Path):
    import argparse

    from decart_flow.show.commands import validate_command

    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\n")
    good = REPO / "scenes" / "quickstart.yaml"
    assert validate_command(argparse.Namespace(file=[str(good), str(good)])) == 0
    assert validate_command(argparse.Namespace(file=[str(good), str(bad)])) == 2
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == [f"{good}: valid (5 timeline entries, 1 cue)"] * 2
    assert lines[2] == f"{good}: valid (5 timeline entries, 1 cue)"
    assert lines[3].startswith(f"{bad}:1:1: missing `model:`")


@pytest.mark.parametrize("text", [
    'prompt: "' + "[" * 61 + '"',  # the reproduction
    "prompt: '" + "{" * 80 + " and ''quoted'' " + "[" * 80 + "'",
    "prompt: Neon  # " + "[" * 80,
    'prompt: {cycle: ["' + "[" * 70 + '", Calm sea]}',
    "prompt: Rock'n'roll",
])
def test_brackets_in_quoted_text_or_comments_are_not_nesting(capsys, tmp_path: Path, text: str):
    path = tmp_path / "brackets.yaml"
    path.write_text(f"name: Brackets\nmodel: mirage\ncues:\n  - name: c\n    every: 1m\n    {text}\n")
    assert main(["validate", str(path)]) == 0, capsys.readouterr().out


def test_real_nesting_after_quotes_and_apostrophes_is_still_refused(capsys, tmp_path: Path):
    path = tmp_path / "deep.yaml"
    path.write_text("name: \"Deep [[[\"\nmodel: mirage\nnote: Rock'n'roll\nvars: " + "[" * 61 + "]" * 61 + "\n")
    assert main(["validate", str(path)]) == 2
    assert capsys.readouterr().out.strip() == f"{path}:1:1: YAML nested too deeply for a show"
