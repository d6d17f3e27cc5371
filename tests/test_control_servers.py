"""The runner's one call: every surface around one engine, the token printed once and journaled never."""

from __future__ import annotations

import socket

import aiohttp
from pythonosc.udp_client import SimpleUDPClient
from test_control_support import live_engine

from decart_flow.control.servers import Controls
from decart_flow.show import load_show

SHOW = """name: Together
model: mirage_v2
timeline:
  1:00: One
cues:
  - name: hit
    on: osc /hit
    prompt: Hit {0}
"""


async def test_controls_start_print_and_stop_together(tmp_path):
    path = tmp_path / "show.yaml"
    path.write_text(SHOW)
    async with live_engine(load_show(path), tmp_path) as live:
        said: list[str] = []
        busy = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        busy.bind(("127.0.0.1", 0))
        try:
            controls = Controls(live.engine, osc_port=busy.getsockname()[1], http_port=0, watch=path, say=said.append)
            await controls.start()
            assert any(line.startswith("OSC: cannot listen") for line in said)  # a port in use: one line
            remote = next(line for line in said if line.startswith("remote: "))[len("remote: "):]
            assert controls.http is not None and remote == controls.http.login_url
            async with aiohttp.ClientSession() as http:
                async with http.post(controls.http.url + "api/go", headers={"X-Token": controls.http.token}) as r:
                    assert (await r.json())["ok"] is True
            await live.until(lambda: "One" in live.prompts())
            path.write_text(SHOW.replace("cues:", "cuez:"))
            await live.until(lambda: any("reload refused" in line for line in said), timeout=5)
            await controls.stop()
        finally:
            busy.close()
        assert controls.http.token not in live.journal_path.read_text()

        free = Controls(live.engine, osc_port=0, say=said.append)
        await free.start()
        assert free.osc is not None
        SimpleUDPClient("127.0.0.1", free.osc.port).send_message("/hit", ["x"])
        await live.until(lambda: "Hit x" in live.prompts())
        await free.stop()
