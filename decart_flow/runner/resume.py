"""`run --resume JOURNAL`: where a stopped run was, read back from its journal.

The show time of the last record is where the show goes on; the prompt, image and mirror are what
the service last acknowledged (an `action.send` followed by a successful `action.ack` of the same
cue), with the show time each was set at, so catch-up can tell them from older cue firings. A line
torn by a crash or a power cut is skipped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STATE_KEYS = ("prompt", "enhance", "image", "mirror")


class ResumeError(Exception):
    """A journal that cannot be resumed from: the message says why."""


@dataclass(frozen=True)
class Resume:
    t: float  # show time of the journal's last record
    state: dict[str, Any]  # prompt, enhance, image, mirror in effect at t
    applied: dict[str, tuple[float, str]] = field(default_factory=dict)  # attr -> (show time, cue)
    show: str | None = None


def read_resume(path: str | Path) -> Resume:
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise ResumeError(f"--resume {path}: {exc.strerror or exc}") from None
    state: dict[str, Any] = {"prompt": None, "enhance": True, "image": None, "mirror": False}
    applied: dict[str, tuple[float, str]] = {}
    pending: dict[str, list[dict[str, Any]]] = {}
    t: float | None = None
    show = None
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict) or not isinstance(record.get("t"), (int, float)):
            continue
        t = float(record["t"])
        event, cue = record.get("event"), str(record.get("cue"))
        if event == "run.start" and show is None:
            show = record.get("show")
            initial = record.get("initial") or {}
            state.update({k: initial[k] for k in STATE_KEYS if k in initial})
        elif event == "action.send" and isinstance(record.get("action"), dict):
            pending.setdefault(cue, []).append(record["action"])
        elif event == "action.ack":
            sent = pending.get(cue)
            action = sent.pop(0) if sent else None
            kept = record.get("success") or record.get("deferred")  # deferred: kept for the next session
            if action is not None and kept and record.get("kind") != "audio":
                for key in STATE_KEYS:
                    if key in action:
                        state[key] = action[key]
                        applied[key] = (t, cue)
    if t is None:
        raise ResumeError(f"--resume {path}: no journal records in it")
    return Resume(t=t, state=state, applied=applied, show=show)
