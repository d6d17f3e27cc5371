"""Tests that need a tool of the machine: `ffprobe` (Debian: ffmpeg), chromium with playwright, the
official SDK's venvs (from PyPI). On a developer's machine a missing tool skips the test with the
reason; under `.ci/run`, which sets DECART_FLOW_CI=1, it fails it, so CI cannot pass by skipping.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

STRICT_ENV = "DECART_FLOW_CI"


def strict() -> bool:
    return os.environ.get(STRICT_ENV, "") not in ("", "0")


def missing(reason: str) -> None:
    """Skip for `reason`; under CI, fail instead."""
    if strict():
        pytest.fail(f"{reason} ({STRICT_ENV} is set: CI must run this test, not skip it)", pytrace=False)
    pytest.skip(reason)


def importorskip(module: str) -> Any:
    """`pytest.importorskip`, failing under CI."""
    try:
        return __import__(module, fromlist=["_"])
    except ImportError as exc:
        missing(f"{module} is not importable: {exc}")


def mosquitto() -> str:
    """The mosquitto broker's path (Debian: mosquitto, in /usr/sbin); skip, or fail under CI, without it."""
    import shutil

    path = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")
    if path is None:
        missing("mosquitto is not installed (Debian: apt-get install mosquitto)")
    return path  # type: ignore[return-value]
