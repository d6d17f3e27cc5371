"""Small pure helpers that turn state into text: shared by the widgets, tested without a terminal."""

from __future__ import annotations

from datetime import datetime

from ..engine.engine import fmt_t

#: Connection state -> Rich colour: green when frames flow, amber while it is trying, red when gone.
CONNECTION_COLOURS = {
    "connecting": "yellow",
    "connected": "green",
    "generating": "bold green",
    "reconnecting": "bold yellow",
    "disconnected": "bold red",
}


def clock(t: float) -> str:
    """Show time to a tenth of a second, always with minutes: 0:07.3, 1:02:03.5."""
    t = max(0.0, t)
    whole = int(t)
    tenth = int((t - whole) * 10)
    h, rem = divmod(whole, 3600)
    m, s = divmod(rem, 60)
    return (f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}") + f".{tenth}"


def countdown(seconds: float) -> str:
    """Time until a firing: `-4.2s`, `-1:05`, `-2:03:00`, `-3d 04h` for far-away cron times."""
    s = max(0.0, seconds)
    if s < 60:
        return f"-{s:.1f}s"
    if s < 3600:
        return f"-{int(s) // 60}:{int(s) % 60:02d}"
    if s < 86400:
        h, rem = divmod(int(s), 3600)
        return f"-{h}:{rem // 60:02d}:{rem % 60:02d}"
    d, rem = divmod(int(s), 86400)
    return f"-{d}d {rem // 3600:02d}h"


def show_time(t: float) -> str:
    """A firing's show time as the show file writes it."""
    return fmt_t(round(t, 3))


def wall(now: datetime) -> str:
    return now.strftime("%H:%M:%S")


def lateness(ms: float) -> str:
    """Lateness of a firing: `+0.4ms`; a GO fired early reads negative."""
    return f"{ms:+.1f}ms" if abs(ms) < 1000 else f"{ms / 1000:+.2f}s"


def short(text: str | None, width: int) -> str:
    if not text:
        return "-"
    text = " ".join(text.split())
    return text if len(text) <= width else text[: max(1, width - 1)] + "…"
