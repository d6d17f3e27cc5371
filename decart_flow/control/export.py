"""`decart-flow export JOURNAL -o show.yaml`: a recorded live set as a show that replays it.

Every action that reached the session (cue firings, GO, the prompt box, OSC, HTTP, MIDI) becomes a
timeline entry at the show time it was asked for: a cue's actions at its `cue.fire` time, an
operator's at the time of its `manual` record (the wire may have sent it later, behind an ack).
Superseded prompts are kept, so the replay makes the same requests at the same show times. GO and
pause need no entry of their own: show time already jumped or stood still with them, and what GO
fired is in the journal as the timeline entry it fired.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

from ..engine.engine import fmt_t

_SEND = ("action.send", "action.superseded")
_KEYS = ("image", "prompt", "enhance", "mirror", "audio", "log")
BRACE_VAR = "lbrace"  # a literal `{` in a replayed text is written `{lbrace}`


class ExportError(Exception):
    """A journal that cannot be turned into a show: one line saying why."""


@dataclass
class Recording:
    name: str = "Recorded show"
    model: str = "mirage_v2"
    end_t: float | None = None
    steps: list[tuple[float, int, dict[str, Any]]] = field(default_factory=list)  # (t, order, action)
    skipped: int = 0  # malformed lines


def read_records(path: Path) -> tuple[list[dict[str, Any]], int]:
    records, bad = [], 0
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ExportError(f"{path}: cannot read the journal: {exc}") from None
    for line in lines:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            bad += 1
            continue
        if isinstance(record, dict) and isinstance(record.get("event"), str):
            records.append(record)
        else:
            bad += 1
    return records, bad


def _time(record: dict[str, Any]) -> float:
    t = record.get("t", 0.0)
    return float(t) if isinstance(t, (int, float)) else 0.0


def recording(records: Iterable[dict[str, Any]]) -> Recording:
    """Pair each sent action with the moment it was asked for."""
    rec = Recording()
    fired: dict[str, float] = {}  # cue -> show time of its latest firing
    manual: dict[str, deque[float]] = defaultdict(deque)  # source -> times of requests not yet seen sent
    for order, r in enumerate(records):
        event = r["event"]
        if event in ("run.start", "show.start"):
            rec.name = str(r.get("show") or rec.name)
            rec.model = str(r.get("model") or rec.model)
        elif event == "cue.fire" and isinstance(r.get("cue"), str):
            fired[r["cue"]] = float(r.get("intended_t", _time(r)))
        elif event == "manual":
            manual[str(r.get("source"))].append(_time(r))
        elif event in _SEND and isinstance(r.get("action"), dict):
            cue = str(r.get("cue", ""))
            if cue.startswith("manual:"):
                waiting = manual[cue[len("manual:"):]]
                t = waiting.popleft() if waiting else _time(r)
            else:
                t = fired.get(cue, _time(r))
            action = {k: v for k, v in r["action"].items() if k in _KEYS}
            if action:
                rec.steps.append((t, order, action))
        elif event == "log" and isinstance(r.get("text"), str):
            cue = str(r.get("cue", ""))
            rec.steps.append((fired.get(cue, _time(r)), order, {"log": r["text"]}))
        elif event == "show.end":
            rec.end_t = _time(r)
    return rec


def _escape(value: Any) -> Any:
    return value.replace("{", "{" + BRACE_VAR + "}") if isinstance(value, str) else value


def _yaml_action(action: dict[str, Any]) -> Any:
    out = {k: _escape(v) if k in ("prompt", "log") else v for k, v in action.items()}
    if out.get("enhance") is True:
        del out["enhance"]  # the default
    if list(out) == ["prompt"]:
        return out["prompt"]  # a bare string is a prompt
    return out


def show_document(rec: Recording) -> dict[str, Any]:
    by_t: dict[float, list[Any]] = {}
    for t, _, action in sorted(rec.steps, key=lambda s: (round(s[0], 6), s[1])):
        by_t.setdefault(round(t, 6), []).append(_yaml_action(action))
    doc: dict[str, Any] = {"name": f"{rec.name} (replay)", "model": rec.model}
    last = max(by_t, default=0.0)
    if rec.end_t is not None and rec.end_t > 0:
        doc["duration"] = round(max(rec.end_t, last + 0.001), 6)
    if any("{" in str(a) for a in by_t.values()):
        doc["vars"] = {BRACE_VAR: "{"}
    doc["timeline"] = {fmt_t(t): (items[0] if len(items) == 1 else items) for t, items in by_t.items()}
    return doc


def export(journal: Path, output: Path) -> Recording:
    records, bad = read_records(journal)
    if not records:
        raise ExportError(f"{journal}: no journal records in it")
    rec = recording(records)
    rec.skipped = bad
    if not rec.steps:
        raise ExportError(f"{journal}: no actions were sent in this run: nothing to replay")
    header = f"# Replays {journal.name}: {len(rec.steps)} actions at their show times (decart-flow export)\n"
    body = yaml.safe_dump(show_document(rec), sort_keys=False, allow_unicode=True, width=100)
    output.write_text(header + body, encoding="utf-8")
    return rec


def export_command(args: argparse.Namespace) -> int:
    journal, output = Path(args.journal), Path(args.output)
    if output.exists() and journal.exists() and output.samefile(journal):
        print(f"error: -o {args.output} is the journal itself; writing the show there would destroy it: "
              "give another file, such as show.yaml", file=sys.stderr)
        return 2
    try:
        rec = export(journal, output)
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot write {output}: {exc}", file=sys.stderr)
        return 2
    note = f" ({rec.skipped} malformed lines skipped)" if rec.skipped else ""
    print(f"{output}: {len(rec.steps)} actions from {journal}{note}")
    return 0
