"""The show-control vocabulary every remote shares: OSC, HTTP and MIDI all end up here.

A remote names a command (`go`, `back`, `pause`, `resume`, `prompt`, `tap`, `tempo`) and this module turns it into
one engine intent, so the three servers cannot drift apart in what `/go` means.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from ..show.checks import text_problem
from ..show.model import PromptAction

if TYPE_CHECKING:
    from ..engine.engine import Engine

COMMANDS = ("go", "back", "pause", "resume", "prompt", "tap", "tempo")


class CommandError(ValueError):
    """A remote asked for something malformed (an empty prompt, an unknown command)."""


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("", "0", "false", "no", "off")
    return bool(value)


def command(engine: Engine, name: str, args: Sequence[Any] = (), source: str = "remote",
            to: Sequence[str] | None = None) -> bool:
    """Run a built-in command; True when the engine took it (GO past the end is False).

    `to`: a prompt's sessions in a show of several (None: every session that can take it)."""
    if name == "go":
        return engine.go_next()
    if name == "back":
        return engine.go_back()
    if name == "pause":
        return engine.pause()
    if name == "resume":
        return engine.resume()
    if name == "prompt":
        if not args or not str(args[0]).strip():
            raise CommandError("prompt needs a text")
        problem = text_problem(str(args[0]))  # the same rule as a show's texts: UTF-8, no control characters
        if problem:
            raise CommandError(f"prompt: {problem}")
        enhance = _truthy(args[1]) if len(args) > 1 else True
        action = PromptAction(str(args[0]).strip(), enhance=enhance)
        if to is None:
            engine.manual(action, source)
            return True
        names = engine.show.session_names()
        unknown = [n for n in to if n not in names]
        if unknown or not to:
            raise CommandError(f"prompt to {', '.join(map(str, unknown)) or 'nobody'}: the show's sessions are "
                               f"{', '.join(names)}")
        engine.manual(action, source, to=tuple(to))
        return True
    if name == "tap":
        return engine.tap()
    if name == "tempo":
        try:
            bpm = float(args[0]) if args else None
        except (TypeError, ValueError):
            bpm = None
        if bpm is None or not 1.0 <= bpm <= 999.0:
            raise CommandError("tempo needs a BPM between 1 and 999, e.g. /tempo 128")
        return engine.set_tempo(bpm)
    raise CommandError(f"unknown command {name!r}: use one of {', '.join(COMMANDS)}")
