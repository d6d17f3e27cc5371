"""Decart's JS SDK from the npm registry, bundled for a page, cached like the Python SDK venvs.

`ensure_js_bundle("0.1.20")` installs `@decartai/sdk@0.1.20` and esbuild with npm into a cache
directory (`$XDG_CACHE_HOME` or `~/.cache`, never the repository), bundles the SDK into one IIFE
script that sets `window.Decart = {createDecartClient, models}`, and returns its path. Built
once and reused, so CI pays the install once per machine.

Run as a script to warm the cache: `python tests/sdk_harness/js_sdk.py 0.1.20`.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
import sys
from pathlib import Path

from sdk_venv import SdkUnavailable, cache_root

INSTALL_TIMEOUT_S = 600.0
ESBUILD = "0.28.2"
READY_MARKER = ".decart-flow-ready"
ENTRY = 'import { createDecartClient, models } from "@decartai/sdk";\nwindow.Decart = { createDecartClient, models };\n'


def bundle_dir(version: str) -> Path:
    return cache_root() / f"decart-flow-js-sdk-{version}"


def ensure_js_bundle(version: str) -> Path:
    """The bundled SDK (one .js file); SdkUnavailable when npm or node are missing or fail."""
    root = bundle_dir(version)
    bundle = root / "decart-sdk.bundle.js"
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / f".{root.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        marker = root / READY_MARKER
        if marker.exists() and marker.read_text().strip() == version and bundle.exists():
            return bundle
        if shutil.which("npm") is None or shutil.which("node") is None:
            raise SdkUnavailable("node and npm are needed to bundle the JS SDK (apt-get install nodejs npm)")
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        (root / "package.json").write_text(json.dumps({"name": "decart-flow-js-sdk", "private": True}))
        _run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error",
              f"@decartai/sdk@{version}", f"esbuild@{ESBUILD}"], root, f"npm install @decartai/sdk@{version}")
        (root / "entry.js").write_text(ENTRY)
        esbuild = root / "node_modules" / ".bin" / "esbuild"
        _run([str(esbuild), "entry.js", "--bundle", "--format=iife", "--platform=browser",
              f"--outfile={bundle.name}", "--log-level=error"], root, "bundle the SDK with esbuild")
        marker.write_text(version)
        return bundle


def _run(cmd: list[str], cwd: Path, what: str) -> None:
    try:
        done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise SdkUnavailable(f"could not {what}: timed out after {INSTALL_TIMEOUT_S:.0f} s") from None
    if done.returncode != 0:
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        raise SdkUnavailable(f"could not {what} (exit {done.returncode}): {tail}")


if __name__ == "__main__":
    for v in sys.argv[1:] or ["0.1.20"]:
        print(f"@decartai/sdk {v}: {ensure_js_bundle(v)}")
