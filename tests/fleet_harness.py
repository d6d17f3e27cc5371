"""What the fleet's end-to-end tests share: a show, node processes, the controller on a thread.

Nodes are `decart-flow run --node` subprocesses playing on one `ServiceProcess` (real WebRTC on
loopback); the broker is a real mosquitto (`mqtt_broker.py`).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from decart_flow.fleet.broker import broker_from_url
from decart_flow.fleet.controller import Controller
from decart_flow.show import load_show

KEY = "sk_fleet_Wd3q8LmZp2"

SHOW = """\
name: Fleet Test
model: mirage
duration: 10m
initial: {{prompt: Anime}}
nodes:
{nodes}
timeline:
  1:00: Entry one
  2:00: Entry two
  3:00: Entry three
cues:
  - name: beat
    every: 500ms
    prompt: {{cycle: [Red, Blue, Gold]}}
  - name: hit
    on: osc /hit
    log: hit
  - name: x
    on: key x
    log: x pressed
"""


def write_show(folder: Path, nodes: list[str]) -> Path:
    path = folder / "fleet.yaml"
    path.write_text(SHOW.format(nodes="\n".join(f"  {n}: [main]" for n in nodes)))
    return path


def journal(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:  # a line being written
            pass
    return out


def events(path: Path, name: str, **match: Any) -> list[dict[str, Any]]:
    return [r for r in journal(path) if r["event"] == name and all(r.get(k) == v for k, v in match.items())]


def wall(record: dict[str, Any]) -> float:
    from datetime import datetime

    return datetime.fromisoformat(record["ts"]).timestamp()


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, *procs: "Node") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        for p in procs:
            if p.proc is not None and p.proc.poll() is not None:
                pytest.fail(f"node {p.name} exited while waiting for {what}:\n{p.output()}")
        time.sleep(0.05)
    detail = "\n".join(f"--- {p.name}\n{p.output()}" for p in procs)
    pytest.fail(f"timed out ({timeout} s) waiting for {what}\n{detail}")


class Node:
    """`decart-flow run SHOW --node NAME --broker URL --headless` against the shared service."""

    def __init__(self, name: str, show: Path, broker: str, service_url: str, folder: Path,
                 osc_port: int | None = None, realtime: bool = False, key: bool = True, extra: tuple[str, ...] = ()) -> None:
        """`key` False: no Decart key on this node (`extra` then says `--fleet-token`)."""
        self.name, self.show, self.broker, self.service_url, self.folder = name, show, broker, service_url, folder
        self.osc_port, self.realtime, self.key, self.extra = osc_port, realtime, key, extra
        self.proc: subprocess.Popen[str] | None = None
        self.runs = 0
        self.journal = folder / f"{name}.jsonl"
        self.out = folder / f"{name}.out"

    def start(self) -> "Node":
        self.runs += 1
        self.journal = self.folder / f"{self.name}-{self.runs}.jsonl"
        args = ["run", str(self.show), "--node", self.name, "--broker", self.broker, "--headless",
                "--backend", self.service_url.replace("http://", "ws://"), "--journal", str(self.journal)]
        if self.osc_port is not None:
            args += ["--osc-port", str(self.osc_port)]
        if not self.realtime:
            args.append("--no-realtime")
        args += self.extra
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "DECART_API_KEY": KEY}
        if not self.key:
            del env["DECART_API_KEY"]
        with self.out.open("a") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "decart_flow.cli", *args], stdout=out,
                                         stderr=subprocess.STDOUT, text=True, env=env)
        return self

    def output(self) -> str:
        return self.out.read_text() if self.out.exists() else ""

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None


class ControllerThread:
    """The controller on an asyncio loop of its own thread; intents go through `call`."""

    def __init__(self, show: Path, broker: str, **options: Any) -> None:
        self.records: list[dict[str, Any]] = []
        self.loop = asyncio.new_event_loop()
        self.controller = Controller(load_show(show), broker_from_url(broker, {}), emit=self.records.append, **options)
        self.ended: str | None = None
        self.thread = threading.Thread(target=self._main, daemon=True)

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.ended = self.loop.run_until_complete(self.controller.run())

    def start(self) -> "ControllerThread":
        self.thread.start()
        return self

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        async def run() -> Any:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(5)

    def stop(self) -> None:
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.controller.stop, "test")
            self.thread.join(10)
        self.loop.close()

    def seen(self, event: str, **match: Any) -> list[dict[str, Any]]:
        return [r for r in list(self.records) if r["event"] == event and all(r.get(k) == v for k, v in match.items())]
