"""Issue #19 item 6: a bad OSC message does not stop a reactive cue for the rest of the show."""

from __future__ import annotations

import socket
from pathlib import Path

from pythonosc.osc_message_builder import OscMessageBuilder
from test_control_support import live_engine

from decart_flow.control.osc import OscServer
from decart_flow.show import load_show

SCENES = Path(__file__).resolve().parent.parent / "scenes"

STRICT = '''\
from reactivex import operators as ops
from decart_flow import Show, prompt

show = Show("Strict fader", model="mirage_v2", initial=prompt("Calm"))


@show.reactive
def fader(events):
    # No guard at all: float("abc") and args[0] of no args raise inside the pipeline.
    return events.osc("/fader").pipe(ops.map(lambda args: prompt(f"Storm {round(float(args[0]) * 10)}")))
'''


def osc(address: str, *args: object) -> bytes:
    builder = OscMessageBuilder(address)
    for arg in args:
        builder.add_arg(arg)
    return builder.build().dgram


async def _play(show_path: Path, tmp_path: Path, expect: str):
    async with live_engine(load_show(show_path), tmp_path) as live:
        server = OscServer(live.engine, port=0)
        await server.start()
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                for packet in (osc("/fader", "abc"), osc("/fader"), osc("/fader", 0.5)):
                    sock.sendto(packet, ("127.0.0.1", server.port))
                await live.until(lambda: any(expect in p for p in live.prompts()))
        finally:
            await server.stop()
        return live


async def test_a_failing_firing_of_a_reactive_cue_is_journaled_and_the_cue_lives_on(tmp_path: Path) -> None:
    path = tmp_path / "strict.py"
    path.write_text(STRICT)
    live = await _play(path, tmp_path, "Storm 5")
    errors = [r for r in live.events("error") if r.get("cue") == "fader"]
    assert len(errors) == 2, live.events("error")
    assert "ValueError" in errors[0]["message"] and "IndexError" in errors[1]["message"]
    assert "goes on" in errors[0]["message"]


async def test_the_shipped_reactive_scene_survives_a_bad_fader(tmp_path: Path) -> None:
    live = await _play(SCENES / "reactive.py", tmp_path, "intensity 5 of 10")
    assert live.prompts() == ["Storm over the harbour, intensity 5 of 10"]
    assert live.events("error") == []  # the scene reads its fader defensively: nothing failed
