"""MIDI mapping without hardware: mido Messages into the handler; no backend is one line, not a crash."""

from __future__ import annotations

import asyncio
import threading

import mido
import pytest
from test_control_support import live_engine

from decart_flow.control.midi import MidiInput, event_of
from decart_flow.show import load_show

SHOW = """name: Pads
model: mirage_v2
cues:
  - name: pad
    on: midi note 36
    prompt: Pad hit {0} on channel {1}
  - name: fader
    on: midi cc 7
    prompt: Storm intensity {0}
"""


def test_event_of_maps_notes_and_ccs():
    assert event_of(mido.Message("note_on", note=36, velocity=100, channel=0)) == ("note 36", (100, 1))
    assert event_of(mido.Message("note_on", note=36, velocity=0)) is None  # a note-off in disguise
    assert event_of(mido.Message("note_off", note=36)) is None
    assert event_of(mido.Message("control_change", control=7, value=64, channel=9)) == ("cc 7", (64, 10))
    assert event_of(mido.Message("pitchwheel", pitch=100)) is None


async def test_midi_messages_fire_cues_from_the_port_thread(tmp_path):
    path = tmp_path / "pads.yaml"
    path.write_text(SHOW)
    async with live_engine(load_show(path), tmp_path) as live:
        midi = MidiInput(live.engine)
        assert midi.handle(mido.Message("note_on", note=36, velocity=90, channel=2))
        assert not midi.handle(mido.Message("note_on", note=37, velocity=90))
        assert not midi.handle(mido.Message("control_change", control=8, value=1))
        await live.until(lambda: "Pad hit 90 on channel 3" in live.prompts())

        midi._loop = asyncio.get_running_loop()  # what start() sets before the port calls back
        t = threading.Thread(target=midi._from_thread, args=(mido.Message("control_change", control=7, value=127),))
        t.start()
        t.join()
        await live.until(lambda: "Storm intensity 127" in live.prompts())
        assert live.events("cue.fire")[-1]["args"] == [127, 1]


async def test_without_a_backend_start_says_one_line_and_returns(tmp_path):
    try:
        import rtmidi  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("python-rtmidi is installed here")
    path = tmp_path / "pads.yaml"
    path.write_text(SHOW)
    async with live_engine(load_show(path), tmp_path) as live:
        said: list[str] = []
        midi = MidiInput(live.engine, say=said.append)
        assert await midi.start() is False
        assert len(said) == 1 and said[0].startswith("MIDI: no backend (pip install python-rtmidi)")
        await midi.stop()
        assert live.engine.fire_event("midi", "note 36", (1, 1))  # the show goes on
