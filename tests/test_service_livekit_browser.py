"""Decart's JS SDK of today (`@decartai/sdk` 0.1.20, with `livekit-client` 2.20) in headless Chromium.

The SDK comes from the npm registry, bundled once into a cache dir (tests/sdk_harness/js_sdk.py).
Chromium (Debian's /usr/bin/chromium) runs inside the test's network namespace through a wrapper
given to Playwright as `executable_path`, so its libwebrtc finds the veth address; the page
loads the bundle and tests/sdk_harness/browser_page.js, and points `realtimeBaseUrl` (and
`baseUrl`, for watch-stream) at the service on 10.200.0.1.
"""

from __future__ import annotations

import base64
import importlib.util
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from decart_flow.service import read_stamp
from decart_flow.service.stamp import stamp_shape
from netns import Netns, unavailable
from test_service_livekit_sdk import serve

HARNESS = Path(__file__).parent / "sdk_harness"
JS_SDK_VERSION = "0.1.20"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--autoplay-policy=no-user-gesture-required",
    # host candidates as addresses, not mDNS names (which the service would have to resolve)
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]

pytestmark = [
    pytest.mark.sdk,
    pytest.mark.slow,
    pytest.mark.skipif(unavailable() is not None, reason=unavailable() or ""),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed"),
]


def _load(name: str) -> Any:
    sys.path.insert(0, str(HARNESS))  # js_sdk imports its sibling sdk_venv
    try:
        spec = importlib.util.spec_from_file_location(f"sdk_harness_{name}", HARNESS / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(HARNESS))


@pytest.fixture(scope="module")
def bundle() -> Path:
    js = _load("js_sdk")
    try:
        return js.ensure_js_bundle(JS_SDK_VERSION)
    except js.SdkUnavailable as exc:
        pytest.skip(str(exc))


def chromium_in(ns: Netns, where: Path) -> Path:
    """A wrapper that starts Chromium inside the namespace (Playwright's executable_path)."""
    wrapper = where / "chromium-in-netns.sh"
    wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {ns.name} {CHROMIUM} "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


class Page:
    def __init__(self, page: Any) -> None:
        self.page = page

    def call(self, fn: str, *args: Any) -> Any:
        return self.page.evaluate(f"(args) => window.Flow.{fn}(...args)", list(args))

    def wait_frames(self, name: str, count: int, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            seen = self.call("frames", name)
            if seen["frames"] >= count:
                return seen
            assert time.monotonic() < deadline, f"{name}: {seen['frames']} of {count} frames in {timeout:.0f} s; {self.call('result')}"
            time.sleep(0.1)

    def stamp(self, name: str, settle: float = 1.0) -> int | None:
        time.sleep(settle)
        width = self.call("frames", name)["sizes"][-1].split("x")[0]
        rows = stamp_shape(int(width))[0]
        band = self.call("band", name, rows)
        rgba = np.frombuffer(base64.b64decode(band["rgba"]), np.uint8).reshape(band["rows"], band["width"], 4)
        return read_stamp(rgba[..., :3])


def test_js_sdk_0120_in_chromium(bundle: Path, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    log = tmp_path / "service.log"
    with Netns() as ns:
        _, url = serve(ns, log)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(chromium_in(ns, tmp_path)), args=CHROMIUM_FLAGS, headless=True)
            try:
                page = browser.new_page()
                console: list[str] = []
                page.on("console", lambda m: console.append(f"{m.type}: {m.text}"[:300]))
                page.set_content("<!doctype html><title>decart-flow</title><body></body>")
                page.add_script_tag(path=str(bundle))
                page.add_script_tag(path=str(HARNESS / "browser_page.js"))
                flow = Page(page)
                try:
                    connected = flow.call("connect", {"url": url, "apiKey": "local-test-key", "model": "lucy-restyle-2",
                                                      "prompt": "a watercolor city"})
                    assert connected["sessionId"]
                    first = flow.wait_frames("client", 30)
                    assert first["sizes"] == ["1280x704"]
                    assert flow.stamp("client") == 1  # the initial prompt
                    flow.call("setPrompt", "a neon night market")
                    assert flow.stamp("client") == 2
                    flow.call("setImage", "in the colours of this picture")
                    assert flow.stamp("client") == 3
                    # the page's camera (a vertical gradient) reached the renderer through the room
                    rows = flow.call("rowMeans", "client")[64:600]
                    assert max(rows) - min(rows) > 10, "the picture shows no camera"
                    viewer = flow.call("subscribe")
                    assert viewer["token"]
                    seen = flow.wait_frames("viewer", 30)
                    assert seen["sizes"] == ["1280x704"]
                    assert flow.stamp("viewer", 0.3) == 3
                    deadline = time.monotonic() + 5
                    while len(flow.call("result")["ticks"]) < 3 and time.monotonic() < deadline:
                        time.sleep(0.2)
                    result = flow.call("result")
                    assert result["ticks"][:3] == [1, 2, 3], result
                    assert "generating" in result["states"], result
                    assert result["errors"] == [], result
                    flow.call("disconnect")
                except BaseException:
                    print("\n".join(console[-40:]))
                    print(log.read_text()[-4000:])
                    raise
            finally:
                browser.close()
