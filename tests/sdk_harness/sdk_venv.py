"""A cached virtualenv per official SDK version, so the SDK runs with its own pinned deps.

The official `decart` SDK pins its own aiortc/numpy/opencv ranges; installing it next to decart-flow
would let one project's pins hide the other's bugs. Each version gets a venv under the user cache
(`$XDG_CACHE_HOME` or `~/.cache`), built once and reused, so repeated runs in one CI job are quick.

Run as a script to warm the cache: `python tests/sdk_harness/sdk_venv.py 0.0.40 0.0.37 0.2.4`
(0.2.4 is today's SDK, driven by drive_sdk_livekit.py; the JS SDK is cached by js_sdk.py).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

INSTALL_TIMEOUT_S = 600.0
READY_MARKER = ".decart-flow-ready"
# 0.0.x meets the 2025 protocol with aiortc; 0.2.x joins LiveKit rooms through the `livekit` package.
_IMPORT_CHECK_2025 = "import decart.realtime.client, aioice.ice, aiortc"
_IMPORT_CHECK_2026 = "import decart.realtime.client, livekit.rtc"


class SdkUnavailable(RuntimeError):
    """The SDK could not be installed here (no network, no index): tests skip with this reason."""


@dataclass(frozen=True)
class SdkVenv:
    version: str
    python: Path
    install_seconds: float  # 0.0 when the cached venv was reused


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base)


def venv_dir(version: str) -> Path:
    return cache_root() / f"decart-flow-sdk-venv-{version}"


def ensure_sdk_venv(version: str, base_python: str = sys.executable) -> SdkVenv:
    """The venv with `decart[realtime]==version`, built on first use; SdkUnavailable if pip fails."""
    root = venv_dir(version)
    root.parent.mkdir(parents=True, exist_ok=True)
    python = root / "bin" / "python"
    # A lock file beside the venv: two pytest processes must not build the same venv at once.
    with open(root.parent / f".{root.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        marker = root / READY_MARKER
        if marker.exists() and marker.read_text().strip() == version and python.exists():
            return SdkVenv(version, python, 0.0)
        shutil.rmtree(root, ignore_errors=True)
        started = time.monotonic()
        _run([base_python, "-m", "venv", str(root)], "create the virtualenv")
        _run(
            [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--no-input", "-q",
             f"decart[realtime]=={version}"],
            f"pip install decart[realtime]=={version}",
        )
        # Prove the install imports before marking it ready.
        _run([str(python), "-c", _IMPORT_CHECK_2026 if version.startswith("0.2") else _IMPORT_CHECK_2025], "import the SDK")
        (root / READY_MARKER).write_text(version)
        return SdkVenv(version, python, time.monotonic() - started)


def _run(cmd: list[str], what: str) -> None:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise SdkUnavailable(f"could not {what}: timed out after {INSTALL_TIMEOUT_S:.0f} s") from None
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        tail = " | ".join([line for line in lines if line.startswith("ERROR")] or lines[-3:])
        raise SdkUnavailable(f"could not {what} (exit {done.returncode}): {tail}")


if __name__ == "__main__":
    for v in sys.argv[1:] or ["0.0.40", "0.0.37", "0.2.4"]:
        env = ensure_sdk_venv(v)
        print(f"decart {v}: {env.python} (installed in {env.install_seconds:.1f} s)")
