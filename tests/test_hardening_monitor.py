"""`--monitor`: the page needs the run's token, viewers are capped, and an offer that never
connects is closed instead of keeping its sockets."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time

import aiohttp
import av
import numpy as np
from aiortc import RTCPeerConnection

from decart_flow.control import monitor as monitor_module
from decart_flow.control.monitor import MonitorServer
from decart_flow.realtime.memory import trim


class Frames:
    """Where the monitor hangs its frame sink: the sink API of the realtime client."""

    def __init__(self) -> None:
        self.sinks: list = []

    def add_frame_sink(self, sink) -> None:
        self.sinks.append(sink)

    def remove_frame_sink(self, sink) -> None:
        self.sinks.remove(sink)


async def _offer() -> tuple[RTCPeerConnection, str]:
    pc = RTCPeerConnection()
    pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    return pc, pc.localDescription.sdp


async def test_the_monitor_needs_its_token_caps_viewers_and_closes_offers_that_never_connect(monkeypatch) -> None:
    monkeypatch.setattr(monitor_module, "CONNECT_TIMEOUT_S", 1.0)
    server = MonitorServer(Frames(), port=0, max_viewers=2)
    await server.start()
    offers: list[RTCPeerConnection] = []
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:  # cookies of 127.0.0.1
            async with http.get(server.url) as r:
                assert r.status == 401
            pc, sdp = await _offer()
            offers.append(pc)
            async with http.post(server.url + "offer", json={"sdp": sdp, "type": "offer"}) as r:
                assert r.status == 401
            assert server.viewers == 0
            async with http.get(server.login_url, allow_redirects=False) as r:
                assert r.status == 302 and "token" not in r.headers["Location"]
            async with http.get(server.url) as r:  # the cookie carries the token from now on
                assert r.status == 200 and "<video" in await r.text()
            for expect in (200, 200, 503):
                pc, sdp = await _offer()
                offers.append(pc)
                async with http.post(server.url + "offer", json={"sdp": sdp, "type": "offer"}) as r:
                    assert r.status == expect, await r.text()
            assert server.viewers == 2
            # Nobody completes ICE with those answers: after the connect timeout both are closed.
            for _ in range(60):
                if server.viewers == 0:
                    break
                await asyncio.sleep(0.1)
            assert server.viewers == 0
            pc, sdp = await _offer()
            offers.append(pc)
            async with http.post(server.url + "offer", json={"sdp": sdp, "type": "offer"}) as r:
                assert r.status == 200  # room again
    finally:
        for pc in offers:
            await pc.close()
        await server.stop()
    assert server.viewers == 0


def _rss_mb() -> float:
    for line in open(f"/proc/{os.getpid()}/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


VIEWERS = """\
import asyncio, sys
import aiohttp
from aiortc import RTCPeerConnection, RTCSessionDescription
from decart_flow.realtime.loopback import loopback_candidates

async def main(url, token, count):
    pcs, received = [], [0]

    async def pull(track):
        try:
            while True:
                await track.recv()
                received[0] += 1
        except Exception:
            pass

    async with aiohttp.ClientSession() as http:
        for _ in range(count):
            pc = RTCPeerConnection()
            pc.addTransceiver("video", direction="recvonly")
            pc.on("track", lambda track: asyncio.ensure_future(pull(track)))
            with loopback_candidates(True):
                await pc.setLocalDescription(await pc.createOffer())
            async with http.post(url + "offer", headers={"X-Token": token},
                                 json={"sdp": pc.localDescription.sdp, "type": "offer"}) as r:
                answer = await r.json()
            await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
            pcs.append(pc)
    for _ in range(300):
        if received[0] >= 50 * count:
            break
        await asyncio.sleep(0.05)
    print("received", received[0], flush=True)
    sys.stdin.readline()  # the test has measured the monitor with its viewers
    for pc in pcs:
        await pc.close()

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


async def test_viewers_that_leave_give_their_memory_back(tmp_path) -> None:
    """Three 720p viewers (another process) for a few seconds, then gone: the monitor's encoders'
    memory goes back to the OS (it stayed, ~75 MB a viewer, in the monitor thread's malloc arena)."""
    frames = Frames()
    server = MonitorServer(frames, port=0)
    await server.start()
    stop = threading.Event()
    picture = np.random.default_rng(1).integers(0, 255, (720, 1280, 3), dtype=np.uint8)

    def feed() -> None:
        while not stop.is_set():
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            for sink in list(frames.sinks):
                sink(frame)
            time.sleep(0.04)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    (tmp_path / "viewers.py").write_text(VIEWERS)
    proc = await asyncio.create_subprocess_exec(sys.executable, str(tmp_path / "viewers.py"), server.url,
                                                server.token, "3", stdin=asyncio.subprocess.PIPE,
                                                stdout=asyncio.subprocess.PIPE)
    try:
        trim()  # freed heap of earlier tests in this process goes first: the baseline is what is in use
        before = _rss_mb()
        assert proc.stdout is not None and proc.stdin is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        assert int(line.split()[1]) >= 150, line
        during = _rss_mb()
        assert server.viewers == 3
        proc.stdin.write(b"go\n")
        await proc.stdin.drain()
        await asyncio.wait_for(proc.wait(), 30)
        for _ in range(150):
            if server.viewers == 0:
                break
            await asyncio.sleep(0.1)
        assert server.viewers == 0
        await asyncio.sleep(monitor_module.TRIM_AFTER_S + 1.5)
        after = _rss_mb()
        assert during - before > 100, (before, during)  # the viewers did cost memory
        assert after - before < 60, (before, during, after)
    finally:
        stop.set()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await server.stop()
