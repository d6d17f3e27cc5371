"""`lookahead: auto` measures send-to-glass before the first cue, on a real run against the local service."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

import av

from decart_flow.engine.latency import LatencyEstimator
from decart_flow.service import read_stamp


def run_show(tmp_path: Path, yaml: str, *extra: str) -> list[dict]:
    show, jpath = tmp_path / "show.yaml", tmp_path / "show.jsonl"
    show.write_text(textwrap.dedent(yaml))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("DECART_API_KEY", None)
    proc = subprocess.run([sys.executable, "-m", "decart_flow.cli", "run", str(show), "--headless",
                           "--journal", str(jpath), *extra],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=90)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in jpath.read_text().splitlines() if line.strip()]


def test_calibration_rounds_are_provisional_and_the_first_measured_change_replaces_them() -> None:
    est = LatencyEstimator(default=0.08)
    for value in (0.030, 0.032, 0.031):
        est.add(0.0, value)
    est.provisional = 3
    assert est.seconds == 0.031
    est.add(0.0, 0.050)  # the show's first change: the calibration rounds go
    assert list(est.samples) == [0.050] and est.provisional == 0 and est.seconds == 0.050
    est.add(0.0, 0.052)  # from here on the window grows as before
    assert list(est.samples) == [0.050, 0.052] and est.accepted == 5


def test_the_first_cue_goes_early_by_a_measured_latency_and_the_picture_keeps_its_look(tmp_path: Path) -> None:
    rec = tmp_path / "out.mp4"
    records = run_show(tmp_path, """
        name: Calibrated
        model: mirage
        lookahead: auto
        initial: {prompt: Anime}
        duration: 4s
        timeline:
          - at: 3s
            prompt: Watercolor
    """, "--record", str(rec))
    events = [r["event"] for r in records]
    assert "lookahead.calibrated" in events, events
    calibrated = next(r for r in records if r["event"] == "lookahead.calibrated")
    rounds = calibrated["latency_ms"]
    assert 1 <= len(rounds) <= 8 and all(1.0 <= x <= 1000.0 for x in rounds), rounds
    # the estimate is the median of the last three rounds, and the first cue used it, not the
    # 80 ms default of two frame intervals
    assert calibrated["estimate_ms"] == statistics.median(rounds[-3:])
    fire = next(r for r in records if r["event"] == "cue.fire")
    assert fire["intended_t"] == 3.0
    assert abs(fire["lookahead_ms"] - calibrated["estimate_ms"]) < 0.15, (fire, calibrated)
    assert calibrated["t"] < fire["t"]
    # calibration is not the show's: no action of it in the journal, and only the cue's prompt sent
    sends = [r for r in records if r["event"] == "action.send"]
    assert [s["action"]["prompt"] for s in sends] == ["Watercolor"]
    # on the glass: the stamp moved once per round, the look stayed Anime until the cue (the
    # caption band at the bottom of the frame is drawn from the prompt text)
    with av.open(str(rec)) as container:
        frames = [(float(f.time or 0.0), read_stamp(f), f.to_ndarray(format="gray")[-20:, :].copy())
                  for f in container.decode(video=0)]
    stamps = [s for _, s, _ in frames if s is not None]
    changes = sorted(set(stamps))
    assert changes[-1] - changes[0] >= len(rounds), changes  # each round a stamp, then the cue's
    anime = [band for _, s, band in frames if s is not None and s < changes[-1]]
    last = [band for _, s, band in frames if s == changes[-1]]
    assert anime and last
    assert (abs(anime[0].astype(int) - anime[-1].astype(int))).mean() < 2.0  # same caption all along
    assert (abs(anime[-1].astype(int) - last[-1].astype(int))).mean() > 2.0  # the cue's caption differs


def test_no_calibration_without_a_prompt_showing_or_without_auto(tmp_path: Path) -> None:
    passthrough = run_show(tmp_path, """
        name: Passthrough
        model: mirage
        lookahead: auto
        duration: 2s
        timeline:
          - at: 1.5s
            prompt: Watercolor
    """)
    assert "lookahead.calibrated" not in [r["event"] for r in passthrough]
    fixed = run_show(tmp_path, """
        name: Fixed
        model: mirage
        lookahead: 50ms
        initial: {prompt: Anime}
        duration: 2s
        timeline:
          - at: 1.5s
            prompt: Watercolor
    """)
    assert "lookahead.calibrated" not in [r["event"] for r in fixed]


def test_auto_is_in_use_only_where_a_cue_or_entry_takes_it(tmp_path: Path) -> None:
    import asyncio

    from decart_flow.engine.clock import VirtualClock
    from decart_flow.engine.engine import Engine
    from decart_flow.engine.loop import VirtualEventLoop
    from decart_flow.engine.plan import VirtualSession
    from decart_flow.show import load_show

    def uses_auto(yaml: str) -> bool:
        path = tmp_path / "show.yaml"
        path.write_text(textwrap.dedent(yaml))
        loop = VirtualEventLoop()
        try:
            asyncio.set_event_loop(loop)
            engine = Engine(load_show(path), VirtualSession(), VirtualClock(loop), journal=None)
            return engine.uses_auto_lookahead()
        finally:
            asyncio.set_event_loop(None)
            loop.close()

    head = "name: S\nmodel: mirage\n"
    assert uses_auto(head + "lookahead: auto\ntimeline:\n  - at: 1s\n    prompt: A\n")
    assert uses_auto(head + "timeline:\n  - at: 1s\n    prompt: A\n    lookahead: auto\n")
    assert not uses_auto(head + "lookahead: 50ms\ntimeline:\n  - at: 1s\n    prompt: A\n")
    # the show says auto, but its one cue sets its own lookahead: nothing is sent by the estimate
    assert not uses_auto(head + "lookahead: auto\ncues:\n  - every: 1s\n    prompt: A\n    lookahead: 0s\n")
