"""A node with no Decart key plays on a client token its controller minted for it; the key itself
never crosses the broker (every message on the show's topics is read here to prove it)."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from fleet_harness import KEY, ControllerThread, Node, events, wait_for, write_show
from mqtt_broker import Mosquitto

from decart_flow.fleet.tokens import TokenMinter
from decart_flow.service import ServiceProcess

pytestmark = pytest.mark.slow


class Sniffer:
    """Every message on the broker under `decart-flow/`, on a thread of its own."""

    def __init__(self, port: int) -> None:
        self.port, self.messages = port, []  # type: ignore[var-annotated]
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=lambda: self.loop.run_until_complete(self._main()), daemon=True)
        self.task: Any = None

    async def _main(self) -> None:
        self.task = asyncio.current_task()
        try:
            async with aiomqtt.Client("127.0.0.1", self.port, identifier="sniffer") as client:
                await client.subscribe("decart-flow/#")
                self.ready.set()
                async for message in client.messages:
                    self.messages.append((message.topic.value, bytes(message.payload or b"").decode()))
        except asyncio.CancelledError:
            pass

    def start(self) -> "Sniffer":
        self.thread.start()
        assert self.ready.wait(10)
        return self

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.task.cancel)
        self.thread.join(10)
        self.loop.close()


def test_a_node_without_a_key_plays_on_a_minted_token_and_the_key_stays_home(tmp_path: Path):
    show = write_show(tmp_path, ["a"])
    with ServiceProcess(api_key=KEY) as service, Mosquitto(tmp_path) as broker:
        sniffer = Sniffer(broker.port).start()
        minter = TokenMinter(service.url, KEY, "mirage", "Fleet Test", lifetime=4)
        ctl = ControllerThread(show, broker.url, start_timeout=30.0, minter=minter).start()
        node = Node("a", show, broker.url, service.url, tmp_path, key=False, extra=("--fleet-token",)).start()
        try:
            wait_for(lambda: events(node.journal, "show.start"), 40, "the node to play on its token", node)
            assert events(node.journal, "session.state", state="generating")
            # at half the token's lifetime the node asks again and keeps the new one for its reconnects
            wait_for(lambda: events(node.journal, "fleet.token"), 15, "a renewed token", node)
            minted = ctl.seen("fleet.token", node="a")
            assert len(minted) >= 2 and all("token" not in r for r in minted)
        finally:
            node.stop()
            ctl.stop()
            sniffer.stop()
    tokens = [json.loads(p)["token"] for t, p in sniffer.messages if t.endswith("/node/a/token")]
    assert len(tokens) >= 2 and all(tok.startswith("ek_") for tok in tokens)
    assert not any(KEY in payload for _, payload in sniffer.messages)
    text = node.journal.read_text() + node.output()
    assert KEY not in text and not any(tok in text for tok in tokens)
