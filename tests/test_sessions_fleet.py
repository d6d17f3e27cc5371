"""A show of two sessions across two nodes: each node plays only its own session of `nodes:`.

A real mosquitto on loopback, two `decart-flow run --node` processes on one local service (real
WebRTC), the controller on a thread. The controller's node view lists each node's real session;
a cue `to:` one session is sent only by the node that plays it; a cue for every session by both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
from fleet_harness import KEY, ControllerThread, Node, events, wait_for
from mqtt_broker import Mosquitto

from decart_flow.service import ServiceProcess

SHOW = """\
name: Two Rooms
duration: 10m
sessions:
  left: {model: mirage_v2, initial: {prompt: stage look}}
  host: {model: mirage_v2, initial: {prompt: foyer look}}
nodes:
  stage: [left]
  foyer: [host]
timeline:
  0:01: {to: left, prompt: stage only}
  0:02: everyone
"""


@pytest.fixture
def service() -> Iterator[ServiceProcess]:
    with ServiceProcess(api_key=KEY) as svc:
        yield svc


def sends(node: Node) -> list[tuple[Any, Any]]:
    return [(r.get("session"), r["action"].get("prompt")) for r in events(node.journal, "action.send")]


def test_two_nodes_each_play_their_own_session(tmp_path: Path, service: Any) -> None:
    show = tmp_path / "rooms.yaml"
    show.write_text(SHOW)
    with Mosquitto(tmp_path) as broker:
        stage = Node("stage", show, broker.url, service.url, tmp_path).start()
        foyer = Node("foyer", show, broker.url, service.url, tmp_path).start()
        ctl = ControllerThread(show, broker.url, start_timeout=20.0).start()
        try:
            wait_for(lambda: events(stage.journal, "action.ack", cue="timeline 0:02")
                     and events(foyer.journal, "action.ack", cue="timeline 0:02"), 60,
                     "both nodes to send the 0:02 prompt", stage, foyer)
            start = ctl.seen("fleet.start")[0]
            assert not start.get("timed_out") and sorted(start["generating"]) == ["foyer", "stage"], start
            nodes = ctl.controller.nodes
            assert nodes["stage"].sessions == ("left",) and nodes["foyer"].sessions == ("host",)
        finally:
            stage.stop()
            foyer.stop()
            ctl.stop()
    assert sends(stage) == [("left", "stage only"), ("left", "everyone")], sends(stage)
    assert sends(foyer) == [("host", "everyone")], sends(foyer)
    for node, name in ((stage, "left"), (foyer, "host")):
        connected = {r.get("session") for r in events(node.journal, "session.state")}
        assert connected == {name}, (node.name, connected)  # it connected its own session only
        assert "Traceback" not in node.output(), node.output()
