"""MIDI in: `on: midi note N` (a note-on) and `on: midi cc N` (a control change), any channel.

The mapping (`handle`) is plain: a mido Message in, one engine event out, so it is tested without
hardware. The port needs mido with a backend (python-rtmidi); without one the run prints one line
and goes on. mido calls our callback on its own thread, so each message hops to the engine's loop.
`{0}` is the velocity or the value (0-127), `{1}` the channel (1-16, as devices print it).
Clock messages (`clock`, `start`, `stop`, `continue`) go to the show's tempo (`source: midi-clock`),
stamped on arrival, before the hop, so the hop's delay is not read as tempo.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from ..engine.engine import Engine

log = logging.getLogger(__name__)

CLOCK_MESSAGES = ("clock", "start", "stop", "continue")
NO_BACKEND = "MIDI: no backend (pip install python-rtmidi): MIDI cues will not fire; the show goes on"


def event_of(message: Any) -> tuple[str, tuple[int, int]] | None:
    """(`note N` | `cc N`, (velocity or value, channel 1-16)) for the messages a cue can name."""
    kind = getattr(message, "type", None)
    if kind == "note_on" and message.velocity > 0:  # a note-on with velocity 0 is a note-off
        return f"note {message.note}", (message.velocity, message.channel + 1)
    if kind == "control_change":
        return f"cc {message.control}", (message.value, message.channel + 1)
    return None


class MidiInput:
    """Symmetric `start()` / `stop()`; `port_name` None opens the first input there is."""

    def __init__(self, engine: Engine, port_name: str | None = None, say: Callable[[str], None] = print) -> None:
        self.engine = engine
        self.port_name = port_name
        self.say = say
        self._port: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def handle(self, message: Any, at: float | None = None) -> bool:
        """One message into the engine (on the engine's loop); True when a cue took it. `at`: the
        monotonic time it came in (now when not given)."""
        if getattr(message, "type", None) in CLOCK_MESSAGES:
            return self.engine.midi_clock(message, time.monotonic() if at is None else at)
        event = event_of(message)
        if event is None:
            return False
        return self.engine.fire_event("midi", event[0], event[1])

    async def start(self) -> bool:
        """Open the port; False (after one line to `say`) when there is no backend or no port."""
        self._loop = asyncio.get_running_loop()
        try:
            import mido

            names = mido.get_input_names()
        except ImportError as exc:
            if getattr(exc, "name", None) == "mido":
                self.say("MIDI: mido is not installed (pip install 'decart-flow[midi]' python-rtmidi); the show goes on")
            else:
                self.say(NO_BACKEND)
            return False
        except Exception as exc:  # noqa: BLE001 - a backend that cannot start
            self.say(f"{NO_BACKEND} ({type(exc).__name__}: {exc})")
            return False
        name = self.port_name or (names[0] if names else None)
        if name is None:
            self.say("MIDI: no input port found; the show goes on")
            return False
        try:
            self._port = mido.open_input(name, callback=self._from_thread)
        except Exception as exc:  # noqa: BLE001
            self.say(f"MIDI: cannot open {name!r} ({exc}); ports: {', '.join(names) or 'none'}")
            return False
        self.say(f"MIDI: listening on {name}")
        return True

    def _from_thread(self, message: Any) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._safe_handle, message, time.monotonic())

    def _safe_handle(self, message: Any, at: float) -> None:
        try:
            self.handle(message, at)
        except Exception:  # noqa: BLE001 - our bug: logged, the show goes on
            log.exception("MIDI message %s failed", message)

    async def stop(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            port.close()
