"""OSC over real UDP packets on 127.0.0.1: cue addresses with arguments, and the built-ins."""

from __future__ import annotations

import asyncio

from pythonosc.udp_client import SimpleUDPClient
from test_control_support import live_engine

from decart_flow.control.osc import OscServer
from decart_flow.show.model import Cue, EventTrigger, PromptAction, ShowModel, TimelineEntry


def show() -> ShowModel:
    timeline = tuple(TimelineEntry(t, (PromptAction(p),), label=p) for t, p in [(100, "A"), (200, "B")])
    cues = (Cue("scene", EventTrigger("osc", "/scene"), (PromptAction("Scene {0} at {1}"),)),)
    return ShowModel("O", "mirage_v2", timeline=timeline, cues=cues)


async def test_osc_cue_with_arguments_and_builtins(tmp_path):
    async with live_engine(show(), tmp_path) as live:
        seen = []
        server = OscServer(live.engine, port=0, on_message=lambda a, args, taken: seen.append((a, taken)))
        await server.start()
        try:
            assert server.port > 0
            client = SimpleUDPClient("127.0.0.1", server.port)
            client.send_message("/scene", ["Tokyo", 3])
            await live.until(lambda: "Scene Tokyo at 3" in live.prompts())
            fire = live.events("cue.fire")[-1]
            assert fire["cue"] == "scene" and fire["args"] == ["Tokyo", 3]

            client.send_message("/go", [])
            await live.until(lambda: "A" in live.prompts())
            assert live.engine.show_clock.t >= 100
            client.send_message("/go", [])
            await live.until(lambda: "B" in live.prompts())
            client.send_message("/back", [])
            await live.until(lambda: live.prompts().count("A") == 2)

            client.send_message("/pause", [])
            await live.until(lambda: live.engine.show_clock.paused)
            client.send_message("/resume", [])
            await live.until(lambda: not live.engine.show_clock.paused)

            client.send_message("/prompt", ["Neon rain", 0])
            await live.until(lambda: "Neon rain" in live.prompts())
            assert live.events("manual")[-1]["source"] == "osc"
            assert ("set_prompt", ("Neon rain", False)) in live.session.calls

            client.send_message("/nobody/listens", [1])
            client.send_message("/prompt", [])  # malformed: logged, not fatal
            await live.until(lambda: ("/nobody/listens", False) in seen and ("/prompt", False) in seen)
            assert ("/scene", True) in seen and ("/go", True) in seen
        finally:
            await server.stop()


async def test_a_cue_on_a_builtin_address_takes_it(tmp_path):
    base = show()
    cue = Cue("my go", EventTrigger("osc", "/go"), (PromptAction("custom"),))
    from dataclasses import replace
    async with live_engine(replace(base, cues=base.cues + (cue,)), tmp_path) as live:
        server = OscServer(live.engine)
        await server.start()
        try:
            SimpleUDPClient("127.0.0.1", server.port).send_message("/go", [])
            await live.until(lambda: "custom" in live.prompts())
            await asyncio.sleep(0.05)
            assert "A" not in live.prompts()
        finally:
            await server.stop()


async def test_prompt_to_one_session_of_several(tmp_path):
    """`/prompt/right` goes to `right` only; `/prompt` to every session; an unknown name sends nothing."""
    from test_control_support import two_sessions

    async with two_sessions(tmp_path) as two:
        seen = []
        server = OscServer(two.engine, port=0, on_message=lambda a, args, taken: seen.append((a, taken)))
        await server.start()
        try:
            client = SimpleUDPClient("127.0.0.1", server.port)
            client.send_message("/prompt/right", ["Only right"])
            await two.until(left=0, right=1)
            client.send_message("/prompt", ["Everyone"])
            await two.until(left=1, right=2)
            client.send_message("/prompt/middle", ["Lost"])  # logged, not fatal
            deadline = asyncio.get_running_loop().time() + 5
            while ("/prompt/middle", False) not in seen and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.02)
        finally:
            await server.stop()
        assert ("/prompt/middle", False) in seen
        assert two.prompts("left") == ["Everyone"]
        assert two.prompts("right") == ["Only right", "Everyone"]
