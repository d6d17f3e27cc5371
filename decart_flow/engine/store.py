"""The show's state: what the service has acknowledged, when and by which cue, and what was sent.

One small object instead of attributes spread over the engine: actions read and set it through
their `ActionHost` (`sent`, `intend`), the executor's acks apply to it, catch-up reads it, and the
engine's `ShowState` snapshots copy it.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

KEYS = ("prompt", "enhance", "image", "mirror")


class StateStore:
    def __init__(self, initial: Mapping[str, Any]) -> None:
        self._now: dict[str, Any] = {k: initial.get(k) for k in KEYS}  # acknowledged by the service
        self._applied: dict[str, tuple[float, str]] = {}  # key -> (loop time, cue) it was last set
        self._sent: dict[str, Any] = {}  # what the show last sent, acknowledged or not (toggles read it)

    def get(self, key: str) -> Any:
        """The acknowledged value of `key`."""
        return self._now[key]

    def snapshot(self) -> dict[str, Any]:
        return dict(self._now)

    def apply(self, change: Mapping[str, Any], cue: str, at: float) -> None:
        """An acknowledged change (an action's description: `{"prompt": ..., "enhance": ...}`) shows now."""
        now, applied = self._now, self._applied
        for key, value in change.items():
            if key in now:
                now[key] = value
                applied[key] = (at, cue)

    def set_at(self, key: str, at: float, cue: str) -> None:
        """When and by which cue `key` was last set (a resumed run carries it over)."""
        self._applied[key] = (at, cue)

    def applied(self) -> Iterable[tuple[str, tuple[float, str]]]:
        """(key, (loop time, cue)) for each key a cue or the operator has set."""
        return list(self._applied.items())

    def sent(self, key: str) -> Any:
        """What the show last sent for `key`: ahead of the ack, so two toggles in a row flip twice."""
        return self._sent.get(key, self._now[key])

    def intend(self, key: str, value: Any) -> None:
        self._sent[key] = value

    def restore(self, state: Mapping[str, Any]) -> None:
        """A resumed run's state, as the journal last had it."""
        self._now.update({k: v for k, v in state.items() if k in self._now})
        self._sent.clear()
