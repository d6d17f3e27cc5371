"""`run --resume JOURNAL`: where a stopped run was, read back from its journal.

The show goes on from when the run stopped: the show time of its last record, plus the wall time
from that record to when the process died, which is the journal file's modification time (a run
refreshes it every second) unless the show had ended or was paused. The prompt, image and mirror
are what the service last acknowledged (an `action.send` followed by a successful `action.ack` of
the same cue), with the show time each was set at, so catch-up can tell them from older cue
firings. Every cue's firings are kept by their intended show time, so a cue sent early by its
lookahead is not sent again. A line torn by a crash or a power cut is skipped. In a show of several
sessions each session's state is its own (the records' `session` field): `state` and `applied` are
the first session's, `sessions` has each session's that the journal says anything of (the engine
restores each of those; another session starts from the show's initial state).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STATE_KEYS = ("prompt", "enhance", "image", "mirror")


class ResumeError(Exception):
    """A journal that cannot be resumed from: the message says why."""


@dataclass(frozen=True)
class SessionResume:
    """One session's part of a resumed journal (a show of several sessions)."""

    state: dict[str, Any]  # prompt, enhance, image, mirror in effect at t
    applied: dict[str, tuple[float, str]] = field(default_factory=dict)  # attr -> (show time, cue)


@dataclass(frozen=True)
class Resume:
    t: float  # show time of the journal's last record
    state: dict[str, Any]  # prompt, enhance, image, mirror in effect at t
    applied: dict[str, tuple[float, str]] = field(default_factory=dict)  # attr -> (show time, cue)
    show: str | None = None
    fired: dict[str, float] = field(default_factory=dict)  # cue -> intended show time of its last firing
    sessions: dict[str, SessionResume] = field(default_factory=dict)  # several sessions: each one's part


def read_resume(path: str | Path) -> Resume:
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise ResumeError(f"--resume {path}: {exc.strerror or exc}") from None
    fresh = {"prompt": None, "enhance": True, "image": None, "mirror": False}
    states: dict[str | None, dict[str, Any]] = {}  # by session (None: a one-session show's records)
    applieds: dict[str | None, dict[str, tuple[float, str]]] = {}
    pending: dict[tuple[str | None, str], list[dict[str, Any]]] = {}
    first: str | None = None  # the first session of a show of several (run.start's `sessions`)
    t: float | None = None
    show = None
    fired: dict[str, float] = {}
    last_ts: str | None = None
    started = paused = ended = False
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict) or not isinstance(record.get("t"), (int, float)):
            continue
        t = float(record["t"])
        last_ts = record.get("ts") if isinstance(record.get("ts"), str) else last_ts
        event, cue = record.get("event"), str(record.get("cue"))
        if event == "show.start":
            started, paused = True, False
        elif event in ("show.pause", "show.resume"):
            paused = event == "show.pause"
        elif event == "show.end":
            ended = True
        elif event == "cue.fire" and isinstance(record.get("intended_t"), (int, float)):
            fired[cue] = max(fired.get(cue, float("-inf")), float(record["intended_t"]))
        session = record.get("session") if isinstance(record.get("session"), str) else None
        if event == "run.start" and show is None:
            show = record.get("show")
            initial = record.get("initial") or {}
            sessions = record.get("sessions")
            if isinstance(sessions, dict) and sessions:
                first = str(next(iter(sessions)))
            # the first session's initial state (the others' are in the show; their acks follow)
            states[first] = {**fresh, **{k: initial[k] for k in STATE_KEYS if k in initial}}
        elif event == "action.send" and isinstance(record.get("action"), dict):
            pending.setdefault((session, cue), []).append(record["action"])
        elif event == "action.ack":
            sent = pending.get((session, cue))
            action = sent.pop(0) if sent else None
            kept = record.get("success") or record.get("deferred")  # deferred: kept for the next session
            if action is not None and kept and record.get("kind") != "audio":
                state = states.setdefault(session, dict(fresh))
                for key in STATE_KEYS:
                    if key in action:
                        state[key] = action[key]
                        applieds.setdefault(session, {})[key] = (t, cue)
    if t is None:
        raise ResumeError(f"--resume {path}: no journal records in it")
    if started and not paused and not ended:
        t += _quiet_time(path, last_ts)
    return Resume(t=t, state=states.get(first, dict(fresh)), applied=applieds.get(first, {}), show=show,
                  fired=fired, sessions={k: SessionResume(v, applieds.get(k, {})) for k, v in states.items()
                                         if k is not None})


def _quiet_time(path: Path, last_ts: str | None) -> float:
    """Seconds from the last record to the journal's modification time: how long the run went on."""
    if last_ts is None:
        return 0.0
    try:
        last = datetime.fromisoformat(last_ts)
        died = datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc)
    except (OSError, ValueError):
        return 0.0
    if last.tzinfo is None:
        return 0.0
    return max(0.0, (died - last).total_seconds())
