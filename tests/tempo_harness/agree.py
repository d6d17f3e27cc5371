"""How far our beats are from a Link peer's: read the peer's beat at each of our beat times.

Link keeps the peers' phase within the quantum (a bar here), not their beat count: one peer's beat
12 may be another's beat 8. Beats are compared modulo the quantum."""

from __future__ import annotations

import bisect
import json
from typing import Any


def lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def peer_beat_at(samples: list[dict[str, Any]], mono: float) -> float:
    """The peer's beat at `mono`, from its latest reading before (at that reading's tempo)."""
    monos = [s["mono"] for s in samples]
    i = max(bisect.bisect_right(monos, mono) - 1, 0)
    s = samples[i]
    return s["beat"] + (mono - s["mono"]) * s["tempo"] / 60.0


def offsets_ms(ours: list[dict[str, Any]], samples: list[dict[str, Any]], quantum: float = 4.0,
               when: str = "mono") -> list[float]:
    """Per beat of ours: (our time of it - when the peer reached that beat), in ms; `when` is "mono"
    (when we fired) or "intended" (where our grid put the beat)."""
    out = []
    for beat in ours:
        if "link_beat" not in beat:
            continue
        have = peer_beat_at(samples, beat[when])
        tempo = samples[max(bisect.bisect_right([s["mono"] for s in samples], beat[when]) - 1, 0)]["tempo"]
        off = (have - beat["link_beat"] + quantum / 2) % quantum - quantum / 2
        out.append(off * 60.0 / tempo * 1000.0)
    return out
