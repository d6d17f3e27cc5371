"""`--monitor`: the page needs the run's token, viewers are capped, and an offer that never
connects is closed instead of keeping its sockets."""

from __future__ import annotations

import asyncio

import aiohttp
from aiortc import RTCPeerConnection, VideoStreamTrack

from decart_flow.control import monitor as monitor_module
from decart_flow.control.monitor import MonitorServer


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
