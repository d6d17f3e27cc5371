"""A Python show's handlers speak the show language (`enhance=`) and go through the executor."""

from __future__ import annotations

from pathlib import Path

from decart_flow.show import load_show
from test_engine_support import TimedSession, play

SHOW = '''
from decart_flow import Show, prompt

show = Show("Handlers", model="mirage_v2", initial=prompt("Anime"))

@show.on("key 1")
async def underwater(session):
    await session.set_prompt("Underwater kingdom", enhance=False)
    await session.set_mirror(True)

@show.on("key 2")
async def storm(session):
    await session.set_prompt("Storm", enrich=True)
'''


def test_handler_calls_are_journaled_sent_and_take_enhance(tmp_path: Path) -> None:
    path = tmp_path / "handlers.py"
    path.write_text(SHOW)
    show = load_show(path)
    session = TimedSession(ack_delay=0.05)
    played = play(show, 5.0, session, script=((1.0, lambda e: e.key("1")), (2.0, lambda e: e.key("2"))))
    assert [(kind, what) for _, kind, what in session.calls] == [
        ("prompt", "Underwater kingdom"), ("mirror", True), ("prompt", "Storm")]
    sends = [r["action"] for r in played.events("action.send")]
    assert {"prompt": "Underwater kingdom", "enhance": False} in sends
    assert {"prompt": "Storm", "enhance": True} in sends
    assert {"mirror": True} in sends
    assert played.engine.store.sent("mirror") is True


def test_handler_prompts_are_latest_wins_with_cues(tmp_path: Path) -> None:
    path = tmp_path / "handlers.py"
    path.write_text(SHOW)
    show = load_show(path)
    session = TimedSession(ack_delay=0.5)
    # Both keys within one ack: the first prompt is in flight, the second waits for it.
    played = play(show, 5.0, session, script=((1.0, lambda e: e.key("1")), (1.1, lambda e: e.key("2"))))
    prompts = [what for _, kind, what in session.calls if kind == "prompt"]
    assert prompts[0] == "Underwater kingdom" and prompts[-1] == "Storm"
    assert not played.events("error")
