"""Show times and durations: `90`, `90s`, `1m30s`, `500ms`, `2h`, `1:30`, `1:02:03`.

YAML 1.1 reads an unquoted `1:30` as the base-60 integer 90; the loader hands us the source text
when it has it, and either way both spellings mean 90 seconds.
"""

from __future__ import annotations

import re
from datetime import time as dtime

FORMS = "use 90, 90s, 1m30s, 500ms, 2h or 1:30"
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_NUMBER = re.compile(r"\d+(?:\.\d*)?|\.\d+")
_UNIT_PART = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|h|m|s)")
_CLOCK = re.compile(r"(\d+):([0-5]?\d)(?::([0-5]?\d(?:\.\d*)?))?|(\d+):([0-5]?\d\.\d*)")
_HHMM = re.compile(r"([01]?\d|2[0-4]):([0-5]\d)(?::([0-5]\d))?")


def _seconds(value: object) -> float | None:
    """Seconds for any accepted spelling, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if value == value and value not in (float("inf"), float("-inf")) else None
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    if not text:
        return None
    if _NUMBER.fullmatch(text):
        return float(text)
    clock = _CLOCK.fullmatch(text)
    if clock:
        if clock.group(4) is not None:  # M:SS.fff
            return int(clock.group(4)) * 60 + float(clock.group(5))
        a, b, c = clock.group(1), clock.group(2), clock.group(3)
        if c is None:  # M:SS
            return int(a) * 60 + float(b)
        return int(a) * 3600 + int(b) * 60 + float(c)  # H:MM:SS
    total, pos, last_rank = 0.0, 0, -1
    ranks = {"h": 0, "m": 1, "s": 2, "ms": 3}
    while pos < len(text):
        part = _UNIT_PART.match(text, pos)
        if not part or ranks[part.group(2)] <= last_rank:
            return None
        last_rank = ranks[part.group(2)]
        total += float(part.group(1)) * _UNITS[part.group(2)]
        pos = part.end()
    return total


def _shown(value: object) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def parse_offset(value: object) -> float:
    """A show-time offset in seconds (>= 0); ValueError with a user-facing message."""
    seconds = _seconds(value)
    if seconds is None or seconds < 0:
        raise ValueError(f"bad show time '{_shown(value)}': {FORMS}")
    return seconds


def parse_duration(value: object, *, allow_zero: bool = False) -> float:
    """A duration in seconds (> 0, or >= 0 with allow_zero); ValueError with a user-facing message."""
    seconds = _seconds(value)
    if seconds is None or seconds < 0:
        raise ValueError(f"bad duration '{_shown(value)}': {FORMS}")
    if seconds == 0 and not allow_zero:
        raise ValueError(f"bad duration '{_shown(value)}': it must be more than 0")
    return seconds


def parse_clock(value: object) -> dtime:
    """A wall-clock "HH:MM" or "HH:MM:SS" (24:00 means midnight at the end of the day)."""
    match = _HHMM.fullmatch(str(value).strip()) if isinstance(value, str) else None
    if not match or (match.group(1) in ("24",) and (match.group(2) != "00" or match.group(3) not in (None, "00"))):
        raise ValueError(f"bad time of day '{_shown(value)}': use \"HH:MM\", e.g. \"09:00\" or \"18:30\"")
    hour = int(match.group(1)) % 24
    return dtime(hour, int(match.group(2)), int(match.group(3) or 0))


def format_seconds(seconds: float) -> str:
    """90 -> '1:30', for labels and messages."""
    whole = int(seconds)
    frac = seconds - whole
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    tail = f"{s:02d}" + (f"{frac:.3f}"[1:].rstrip("0") if frac else "")
    return f"{h}:{m:02d}:{tail}" if h else f"{m}:{tail}"
