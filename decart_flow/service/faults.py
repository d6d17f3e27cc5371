"""Faults to inject, so a show's recovery can be rehearsed against a misbehaving service."""

from __future__ import annotations

from dataclasses import dataclass

_SECONDS = {"drop-ws-after", "drop-first-ws-after", "ack-delay", "stall-video-after", "exit-after", "drop-livekit-after", "queue-for", "full-for"}
_RATIOS = {"reject-prompts"}


class FaultError(ValueError):
    """A --fault that does not parse; the message says which and how to write it."""


@dataclass(frozen=True)
class Faults:
    drop_ws_after: float | None = None  # close each WebSocket this long after it opened
    drop_first_ws_after: float | None = None  # close only the first session's WebSocket (one of several), once
    ack_delay: float = 0.0  # hold every ack this long
    reject_prompts: float = 0.0  # share of prompts answered with success false
    stall_video_after: float | None = None  # stop sending frames this long into each session
    exit_after: float | None = None  # the whole service stops this long after start
    drop_livekit_after: float | None = None  # close each LiveKit connection (signal and media) this long after it joined
    queue_for: float = 0.0  # 2026: every session waits this long in line (a full service) before its room
    full_for: float = 0.0  # every stream connection is refused "Server at capacity" this long after start

    @classmethod
    def parse(cls, specs: list[str] | tuple[str, ...] | None) -> "Faults":
        """From "NAME=VALUE" strings, e.g. drop-ws-after=10s, reject-prompts=0.2."""
        values: dict[str, float] = {}
        for spec in specs or ():
            name, sep, raw = spec.partition("=")
            name = name.strip()
            if not sep or name not in _SECONDS | _RATIOS:
                known = ", ".join(sorted(_SECONDS | _RATIOS))
                raise FaultError(f"--fault {spec!r}: expected NAME=VALUE with NAME one of {known}")
            try:
                if name in _SECONDS:
                    value = _seconds(raw)
                else:
                    value = float(raw)
                    if not 0 <= value <= 1:
                        raise ValueError
            except ValueError:
                hint = "a duration such as 10s, 500ms or 2m" if name in _SECONDS else "a share from 0 to 1"
                raise FaultError(f"--fault {spec!r}: {name} takes {hint}") from None
            values[name.replace("-", "_")] = value
        return cls(**values)


def _seconds(raw: str) -> float:
    raw = raw.strip().lower()
    for suffix, scale in (("ms", 0.001), ("s", 1.0), ("m", 60.0)):
        if raw.endswith(suffix):
            value = float(raw[: -len(suffix)]) * scale
            break
    else:
        value = float(raw)
    if value < 0:
        raise ValueError(raw)
    return value
