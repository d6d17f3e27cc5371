"""`load_show(path)`: a YAML or Python show file in, a validated `ShowModel` out (or ShowError)."""

from __future__ import annotations

import os
from pathlib import Path

from decart_flow.show.compile import Compiler
from decart_flow.show.model import ShowModel, Where
from decart_flow.show.problems import Problem, ShowError
from decart_flow.show.yamlsrc import read_yaml


def load_show(path: str | os.PathLike[str], cloud: bool = False) -> ShowModel:
    """Load and check a show; every problem in the file is in the ShowError's `.problems`.

    `cloud`: the show will play on Decart's cloud, which refuses retired models and audio.
    """
    show = _load(path)
    if cloud:
        from decart_flow.show.cloud import cloud_problems

        problems = cloud_problems(show)
        if problems:
            raise ShowError(problems)
    return show


def _load(path: str | os.PathLike[str]) -> ShowModel:
    label = os.fspath(path)
    start = Where(label, 1, 1)
    if not os.path.exists(label):
        raise ShowError([Problem(start, "no such file")])
    if os.path.isdir(label):
        raise ShowError([Problem(start, "is a folder: give a show file (.yaml, .yml or .py)")])
    if Path(label).suffix.lower() == ".py":
        from decart_flow.show.pyshow import load_python_show

        return load_python_show(label)
    try:
        with open(label, "rb") as f:
            data = f.read(_yaml_limit() + 1)
    except OSError as e:
        raise ShowError([Problem(start, f"cannot read the file: {e.strerror or e}")]) from None
    root = read_yaml(label, data)
    return Compiler(label).compile(root)


def _yaml_limit() -> int:
    from decart_flow.show.yamlsrc import MAX_BYTES

    return MAX_BYTES
