"""How the engine writes show times and names timeline entries (journal, plan, TUI)."""

from __future__ import annotations

from ..show.model import TimelineEntry


def fmt_t(t: float) -> str:
    """Show time as the show file writes it, to the millisecond: 90 -> 1:30, 3723.25 -> 1:02:03.25.

    Before zero (a change sent early by its lookahead, catch-up at start) it counts back: -70 -> -1:10.
    """
    if t < 0:
        text = fmt_t(-t)
        return text if text == "0:00" else "-" + text
    whole = int(t)
    frac = f"{t - whole:.3f}" if t != whole else ""
    if frac == "1.000":  # 59.9996 rounds up to the next second: 1:00, not 0:59 and a stray 1
        whole, frac = whole + 1, ""
    h, rem = divmod(whole, 3600)
    m, s = divmod(rem, 60)
    return (f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}") + frac.lstrip("0").rstrip("0").rstrip(".")


def timeline_name(entry: TimelineEntry) -> str:
    """How journal and plan name a timeline entry: by its time, as the show file writes it (a place
    on the beat grid by that place, `bar 9`, since its time follows the tempo)."""
    if entry.place is not None:
        return f"timeline {entry.place}"
    if entry.beat is not None:
        return f"timeline beat {entry.beat + 1:g}"
    return f"timeline {fmt_t(entry.t)}"
