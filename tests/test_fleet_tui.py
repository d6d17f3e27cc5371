"""The controller's TUI against a real mosquitto: a node's status shows in the table, and GO, pause
and the show's own keys go out as the retained clock and show-wide events.

The node here is a plain MQTT client speaking the node's messages (the full node process is in
test_fleet_e2e.py): what is under test is the controller and its screen.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiomqtt
from fleet_harness import write_show
from mqtt_broker import Mosquitto

from decart_flow.fleet.broker import broker_from_url
from decart_flow.fleet.clock import Topics
from decart_flow.fleet.tui import FleetApp
from decart_flow.show import load_show


async def _until(predicate, pilot, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return
        await pilot.pause(0.05)
    raise AssertionError("timed out")


async def test_the_table_shows_nodes_and_keys_drive_the_fleet(tmp_path: Path):
    show = load_show(write_show(tmp_path, ["stage"]))
    topics = Topics(show.name)
    with Mosquitto(tmp_path) as broker:
        app = FleetApp(show, broker_from_url(broker.url, {}), {"start_timeout": 30.0})
        async with aiomqtt.Client("127.0.0.1", broker.port, identifier="test-node") as node:
            await node.subscribe(topics.clock)
            await node.subscribe(topics.event)
            heard: list[tuple[str, dict]] = []

            async def listen() -> None:
                async for message in node.messages:
                    if message.payload:
                        heard.append((message.topic.value, json.loads(message.payload)))

            listener = asyncio.ensure_future(listen())
            async with app.run_test() as pilot:
                table = app.query_one("#nodes")

                async def statuses() -> None:  # twice a second, as a node does (else it is "silent")
                    n = 0
                    while True:
                        n += 1
                        await node.publish(topics.status("stage"), json.dumps({
                            "online": True, "node": "stage", "sessions": ["main"], "connection": "generating",
                            "t": 0.0, "last_cue": "beat", "billed_s": 12.0, "id": "n1", "n": n,
                            "show": "0123456789ab"}), qos=1, retain=True)  # not this file's digest
                        await asyncio.sleep(0.5)

                speaking = asyncio.ensure_future(statuses())
                await _until(lambda: app.controller.clock.state == "running", pilot)  # every node generates
                await pilot.pause(0.3)
                row = [str(cell) for cell in table.get_row("stage")]
                assert row[:4] == ["stage", "online, other show file", "generating", "main"]
                assert row[5] == "beat" and row[7] == "12 s"
                assert "RUNNING" in str(app.query_one("#clock").render())

                await pilot.press("g")
                await _until(lambda: any(t == topics.clock and m.get("go") == 1 for t, m in heard), pilot)
                await pilot.press("space")
                await _until(lambda: any(t == topics.clock and m.get("state") == "paused" for t, m in heard), pilot)
                await pilot.press("x")  # the show's `on: key x` cue: an event for every node
                await _until(lambda: any(t == topics.event and m.get("arg") == "x" for t, m in heard), pilot)

                speaking.cancel()
                await node.publish(topics.status("stage"), json.dumps({"online": False, "node": "stage"}),
                                   qos=1, retain=True)
                await _until(lambda: not app.controller.nodes["stage"].online, pilot)
                await pilot.pause(0.3)
                assert [str(c) for c in table.get_row("stage")][1] == "GONE"
                await pilot.press("q")
            listener.cancel()
