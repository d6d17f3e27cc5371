"""`run --headless`: one line per journal event, readable in a terminal or a log file."""

from __future__ import annotations

from typing import Any, Callable

from ..engine.engine import fmt_t

_SKIP = {"ts", "t", "event"}


def _value(v: Any) -> str:
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_value(x)}" for k, x in v.items()) + "}"
    if isinstance(v, float):
        return f"{v:.1f}"
    if isinstance(v, str) and (" " in v or not v or not v.isprintable()):
        return repr(v)  # quoted, and an ESC sequence (from an OSC argument, say) escaped, not run
    return str(v)


def format_event(record: dict[str, Any]) -> str:
    """`12:00:03 t=0:01.5 cue.fire cue=ambient lateness_ms=0.4`; in a show of several sessions a
    record about one session names it first: `action.ack session=left cue=...`."""
    ts = str(record.get("ts", ""))
    clock = ts[11:19] if len(ts) >= 19 else ts
    t = record.get("t")
    shown_t = fmt_t(float(t)) if isinstance(t, (int, float)) else "-"
    items = sorted(record.items(), key=lambda kv: kv[0] != "session")  # stable: the rest keep their order
    fields = " ".join(f"{k}={_value(v)}" for k, v in items if k not in _SKIP and v is not None)
    return f"{clock} t={shown_t:>9} {record.get('event', '?'):<18} {fields}".rstrip()


def printer(write: Callable[[str], None]) -> Callable[[dict[str, Any]], None]:
    def on_record(record: dict[str, Any]) -> None:
        write(format_event(record))

    return on_record
