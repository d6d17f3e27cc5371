"""`plan`'s lean firing (engine/compiled.py) against the general one: the same shows, both ways.

A session without `acks_at_once` makes the engine take its general way for every firing (as `run`
does); with it, most firings take the lean way. Every firing, every session call, the choosers'
positions and the engine's state at the end must be the same.
"""

from __future__ import annotations

import asyncio
import random
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from decart_flow.engine.clock import VirtualClock
from decart_flow.engine.engine import Engine
from decart_flow.engine.loop import VirtualEventLoop
from decart_flow.engine.plan import VirtualSession
from decart_flow.show import load_show
from test_engine_support import assert_wall_texts_read_as_the_clock

SCENES = Path(__file__).resolve().parent.parent / "scenes"
PARIS = ZoneInfo("Europe/Paris")

MIXED = textwrap.dedent("""
    name: Mixed
    model: mirage
    duration: 3h
    loop: true
    initial: {prompt: Start, mirror: false}
    timeline:
      0:30: Timeline one
      1:00: {image: null, prompt: {cycle: [Img A, Img B]}}
      1:30: [{mirror: toggle}, {prompt: {random: [R1, R2, R3]}}]
    cues:
      - name: minute
        cron: "* * * * *"
        tz: Europe/Paris
        prompt: {shuffle: [S1, S2, S3, S4]}
      - name: twenty
        every: 20s
        prompt: {cycle: [Lego world, Watercolor, Claymation]}
        enhance: false
      - name: pair
        every: 7s
        from: 5s
        times: 400
        prompt: {random: [P1, P2]}
        then:
          - mirror: toggle
          - image: null
            prompt: {cycle: [I1, I2, I3]}
      - name: early
        every: 45s
        lookahead: 0.5s
        prompt: {cycle: [Early E1, Early E2]}
      - name: chained
        on: after twenty
        prompt: {cycle: [After 1, After 2]}
        then: [{mirror: true}]
      - name: daytime
        every: 13s
        until: 2h
        when: {between: ["09:00", "18:00"], days: [mon, tue, wed, thu, fri]}
        prompt: {shuffle: [D1, D2, D3]}
      - name: nightly
        cron: "*/5 * * * *"
        when: {between: ["22:00", "06:00"]}
        prompt: {random: [N1, N2]}
      - name: stepped
        every: 10m
        prompt: Before the wait
        then:
          - wait: 90s
          - prompt: {cycle: [After the wait, Later still]}
      - name: started
        on: state generating
        prompt: Generating now
""")

STARTS = [
    datetime(2026, 3, 28, 12, 0, tzinfo=timezone.utc),  # over the spring DST change in Paris
    datetime(2026, 10, 24, 12, 0, tzinfo=timezone.utc),  # over the autumn one
    datetime(2026, 3, 2, 14, 10, 30, tzinfo=PARIS),  # a weekday afternoon: catch-up has cron candidates
]


class _GeneralSession(VirtualSession):
    acks_at_once = False  # the engine cannot count on synchronous acks: every firing the general way


def _play(show: Any, session: VirtualSession, seconds: float, start: datetime) -> dict[str, Any]:
    """Play `show` in virtual time; everything a firing can leave behind."""
    loop = VirtualEventLoop()
    rows: list[tuple[Any, ...]] = []
    session.calls = []
    try:
        clock = VirtualClock(loop, start)
        engine = Engine(show, session, clock, journal=None, observe_state=False)
        general = [0]
        fire = engine._fire

        def counted(*args: Any, **kwargs: Any) -> None:
            general[0] += 1
            fire(*args, **kwargs)

        engine._fire = counted  # type: ignore[method-assign]
        engine.on_action.append(lambda t, cue, action: rows.append((t, loop.time(), cue, dict(action))))

        async def main() -> str:
            loop.call_at(loop.time() + seconds, engine.stop, "plan")
            return await engine.run()

        loop.run_until_complete(main())
        choosers = {key: (c.index, list(c.order), c.rng.getstate()) for key, c in engine.choices._choosers.items()}
        return {"rows": rows, "calls": list(session.calls), "now": dict(engine._now), "applied": dict(engine.applied),
                "past": list(engine._past), "mirror": engine.mirror, "ack": engine._last_ack_ms, "choosers": choosers,
                "general": general[0]}
    finally:
        loop.close()


def _shows(tmp_path: Path) -> list[tuple[str, Any, float]]:
    mixed = tmp_path / "mixed.yaml"
    mixed.write_text(MIXED)
    return [("mixed", load_show(mixed), 2 * 86400.0),
            ("installation", load_show(SCENES / "installation.yaml"), 2 * 86400.0),
            ("performance", load_show(SCENES / "performance.yaml"), 300.0),
            ("quickstart", load_show(SCENES / "quickstart.yaml"), 60.0)]


@pytest.mark.parametrize("start", STARTS, ids=["spring", "autumn", "weekday"])
def test_the_lean_way_plans_what_the_general_way_plans(tmp_path: Path, start: datetime) -> None:
    for name, show, seconds in _shows(tmp_path):
        lean = _play(show, VirtualSession(), seconds, start)
        general = _play(show, _GeneralSession(), seconds, start)
        assert general["rows"], name
        for key in ("rows", "calls", "now", "applied", "past", "mirror", "ack", "choosers"):
            assert lean[key] == general[key], (name, key)
        if name in ("mixed", "installation"):
            # Most firings took the lean way, so this compares two different ways.
            assert lean["general"] < general["general"] / 2, (name, lean["general"], general["general"])


def test_the_mixed_show_meets_every_kind_of_firing(tmp_path: Path) -> None:
    """The comparison above means something only if the show really fires all of these."""
    mixed = tmp_path / "mixed.yaml"
    mixed.write_text(MIXED)
    played = _play(load_show(mixed), VirtualSession(), 2 * 86400.0, STARTS[2])
    cues = {cue for _, _, cue, _ in played["rows"]}
    for cue in ("minute", "twenty", "pair", "early", "chained", "daytime", "nightly", "stepped", "started",
                "timeline 0:30", "timeline 1:00", "timeline 1:30"):
        assert cue in cues, cue
    assert any(cue.endswith("(catch-up)") for cue in cues)
    texts = {a.get("prompt") for _, _, _, a in played["rows"]}
    assert {"After the wait", "Later still", "Early E1", "Early E2", "S1", "N1", "D1", "R1"} <= texts


@pytest.mark.parametrize("start", [
    datetime(2026, 12, 31, 23, 58, 59, tzinfo=timezone.utc),  # into a new year
    datetime(2028, 2, 28, 23, 0, 0, 500_000, tzinfo=timezone(timedelta(hours=5, minutes=30))),  # a leap day
    datetime(2026, 3, 28, 12, 0, tzinfo=timezone(timedelta(hours=-9, seconds=30))),  # an offset with seconds
])
def test_wall_texts_of_a_fixed_offset_are_the_clocks(start: datetime) -> None:
    """A fixed UTC offset takes `_WallText`'s arithmetic way; it must read as `wall_at` does."""
    rng = random.Random(start.second)
    monos = sorted([rng.uniform(0, 3 * 86400) for _ in range(2000)] + [float(i) for i in range(0, 3 * 86400, 53)])
    text = assert_wall_texts_read_as_the_clock(start, monos)
    assert text._fixed is not None


class _SlowSession(VirtualSession):
    """Says it acknowledges at once, yet every third prompt is a coroutine that takes a second."""

    def __init__(self) -> None:
        super().__init__()
        self.n = 0

    def set_prompt(self, text: str, enrich: bool = True) -> Any:
        self.n += 1
        if self.n % 3:
            return super().set_prompt(text, enrich)
        assert self.calls is not None
        self.calls.append(("set_prompt", (text, enrich)))

        async def later() -> None:
            await asyncio.sleep(1.0)

        return later()


class _SlowGeneral(_SlowSession):
    acks_at_once = False


def test_a_call_that_is_not_acked_at_once_goes_through_the_executor_either_way(tmp_path: Path) -> None:
    """The lean way hands such a call (and what comes while it is in flight) to the executor, as `send` does."""
    mixed = tmp_path / "mixed.yaml"
    mixed.write_text(MIXED)
    show = load_show(mixed)
    lean = _play(show, _SlowSession(), 6 * 3600.0, STARTS[2])
    general = _play(show, _SlowGeneral(), 6 * 3600.0, STARTS[2])
    for key in ("rows", "calls", "now", "applied", "past", "mirror", "ack", "choosers"):
        assert lean[key] == general[key], key
    assert lean["general"] < general["general"] / 2
