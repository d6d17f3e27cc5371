"""The journal: one JSON object per line, flushed line by line, never an API key.

`{"ts": wall ISO, "t": show seconds, "event": NAME, ...}`. Records also go to `events` (the TUI
log and the control servers read them). A write error (a full disk) must not stop a show: it is
reported once, as an `error` record on `events`, and the file is left alone from then on.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import re
from pathlib import Path
from typing import IO, Any, Callable

from reactivex.subject import Subject

log = logging.getLogger(__name__)

_SECRET = re.compile(r"((?:api[_-]?key|x-api-key|token)\s*[=:]\s*)([^\s&\"',;]+)", re.IGNORECASE)
_KEYLIKE = re.compile(r"\b(?:sk|ek|dk|key)_[A-Za-z0-9_\-]{12,}\b")
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/?#\s]*@")  # ws://user:KEY@host


def redact(text: str) -> str:
    """Hide anything that looks like a key: `api_key=...`, `ek_...` tokens."""
    if "=" in text or ":" in text:
        text = _SECRET.sub(r"\1***", text)
    if "_" in text:
        text = _KEYLIKE.sub("***", text)
    if "@" in text:
        text = _USERINFO.sub(r"\1***@", text)
    return text


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


class Journal:
    """`now()` gives `(wall ISO, show seconds)` for each record."""

    def __init__(self, path: str | Path | None, now: Callable[[], tuple[str, float]]) -> None:
        self.path = Path(path) if path is not None else None
        self.now = now
        self.events: Subject[dict[str, Any]] = Subject()
        self._file: IO[str] | None = None
        self._failed = False
        self._regular = False  # a journal to /dev/full or a pipe has no modification time to keep
        if self.path is not None:
            self._file = open(self.path, "a", encoding="utf-8")
            self._regular = stat.S_ISREG(os.fstat(self._file.fileno()).st_mode)

    @property
    def active(self) -> bool:
        """False when nobody reads the records: `plan` then skips building them."""
        return self._file is not None or bool(self.events.observers)

    def write(self, event: str, **fields: Any) -> dict[str, Any] | None:
        if not self.active:
            return None
        ts, t = self.now()
        record = {"ts": ts, "t": round(t, 6), "event": event, **_clean(fields)}
        if self._file is not None:
            try:
                self._file.write(json.dumps(record, default=str) + "\n")
                self._file.flush()
            except (OSError, ValueError) as exc:
                self._give_up(exc)
        self.events.on_next(record)
        return record

    def _give_up(self, exc: Exception) -> None:
        file, self._file = self._file, None
        try:
            if file is not None:
                file.close()
        except OSError:
            pass
        if not self._failed:
            self._failed = True
            log.error("journal write failed: %s", exc)
            ts, t = self.now()
            self.events.on_next({"ts": ts, "t": round(t, 6), "event": "error",
                                 "message": redact(f"journal write failed, journal stopped: {exc}")})

    def touch(self) -> None:
        """Refresh the file's modification time: a run does it every second, so after a crash the
        time the process died is on the file (`run --resume` continues from there)."""
        if self._file is not None and self._regular:
            try:
                os.utime(self._file.fileno())
            except OSError:
                pass

    def close(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                pass
            self._file = None
