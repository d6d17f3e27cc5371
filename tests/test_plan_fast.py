"""The fast paths of `plan`: batched rows, the printer's cached texts, calls acknowledged at once.

Each is checked against the plain way of getting the same thing (`fmt_t`, `wall_at`, `json.dumps`,
a coroutine per call), since `plan` must print exactly what it printed before it was made fast.
"""

from __future__ import annotations

import asyncio
import io
import json
import random
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from decart_flow.engine.clock import VirtualClock
from decart_flow.engine.engine import fmt_t
from decart_flow.engine.executor import ACKED, Executor, Op
from decart_flow.engine.loop import VirtualEventLoop
from decart_flow.engine.plan import VirtualSession, _Printer, describe, stream_batches, stream_raw
from decart_flow.show.model import Choice, Cue, CronTrigger, EveryTrigger, PromptAction, ShowModel

PARIS = ZoneInfo("Europe/Paris")
STARTS = [
    datetime(2026, 3, 29, 1, 58, tzinfo=PARIS),  # whole seconds, into the spring gap
    datetime(2026, 10, 25, 2, 58, 30, tzinfo=PARIS),  # whole seconds, into the autumn fold
    datetime(2026, 3, 28, 23, 59, 59, 500_000, tzinfo=PARIS),  # a fraction of a second
    datetime(2026, 12, 31, 23, 58, tzinfo=timezone(timedelta(hours=-3, minutes=-30))),
    datetime(2026, 3, 1, tzinfo=timezone.utc),
]


def _rows(rng: random.Random) -> list[tuple[float, float, str, dict]]:
    """Rows as the engine hands them over: mostly whole seconds, some fractions, some shared instants."""
    rows, t = [], 0.0
    actions = [{"prompt": "Minute", "enhance": True}, {"prompt": "Lego world", "enhance": False},
               {"mirror": True}, {"image": None, "prompt": "x"}, {"audio": "a.wav"}]
    for _ in range(3000):
        t += rng.choice([0.0, 1.0, 20.0, 60.0, 3599.0, 0.25, 1e-3, 7.123456789])
        rows.append((t, t, rng.choice(["minute", "ambient", "timeline 1:00", "x (catch-up)"]), rng.choice(actions)))
    rows.append((t + 1, t + 1, "odd", {"args": ["a", 1]}))  # unhashable: formatted every time
    return rows


@pytest.mark.parametrize("start", STARTS)
def test_printer_rows_match_the_plain_formatting(start: datetime) -> None:
    loop = VirtualEventLoop()
    try:
        clock = VirtualClock(loop, start)
        rows = _rows(random.Random(start.minute + start.microsecond))
        table, items = io.StringIO(), io.StringIO()
        width = 30
        tab, js = _Printer(table, width), _Printer(items, None)
        for i in range(0, len(rows), 700):  # several batches: the caches carry over
            tab.table_rows(clock, rows[i:i + 700])
            js.json_rows(clock, rows[i:i + 700])
        want_table = [f"{fmt_t(t):>10}  {clock.wall_at(m).strftime('%Y-%m-%d %H:%M:%S')}  {cue:<{width}}  {describe(a)}"
                      for t, m, cue, a in rows]
        assert table.getvalue().splitlines() == want_table
        got = json.loads(items.getvalue() + "\n]")
        assert got == [{"t": round(t, 6), "wall": clock.wall_at(m).isoformat(), "cue": cue, "action": a}
                       for t, m, cue, a in rows]
        want_text = [f'{{"t": {round(t, 6)!r}, "wall": "{clock.wall_at(m).isoformat()}", '
                     f'"cue": {json.dumps(cue)}, "action": {json.dumps(a)}}}' for t, m, cue, a in rows]
        assert items.getvalue() == "[\n " + ",\n ".join(want_text)
    finally:
        loop.close()


def _installation() -> ShowModel:
    return ShowModel("Installation", "mirage", cues=(
        Cue("minute", CronTrigger("* * * * *", "Europe/Paris"), (PromptAction("Minute"),)),
        Cue("ambient", EveryTrigger(20), (PromptAction(Choice("cycle", ("Lego world", "Watercolor"))),)),
    ))


def test_batches_hold_the_same_firings_as_one_by_one() -> None:
    start = datetime(2026, 3, 1, 0, 30, tzinfo=timezone.utc)
    one: list[tuple] = []
    n = stream_raw(_installation(), lambda t, clock, mono, cue, action: one.append((t, mono, cue, dict(action))),
                   3 * 3600, start)
    batched: list[tuple] = []
    sizes: list[int] = []

    def on_batch(clock: VirtualClock, rows: list) -> None:
        sizes.append(len(rows))
        batched.extend((t, m, c, dict(a)) for t, m, c, a in rows)

    assert stream_batches(_installation(), on_batch, 3 * 3600, start, size=100) == n == len(one) == 3 * 60 * 4  # 00:30 and `ambient` are due at the start: no catch-up
    assert batched == one
    assert sizes[:-1] == [100] * (len(sizes) - 1) and 0 < sizes[-1] <= 100


def test_a_failing_reader_stops_the_plan_and_its_error_comes_out() -> None:
    seen: list[int] = []

    def on_batch(clock: VirtualClock, rows: list) -> None:
        seen.append(len(rows))
        raise BrokenPipeError("reader went away")

    with pytest.raises(BrokenPipeError):
        stream_batches(_installation(), on_batch, 30 * 86400, datetime(2026, 3, 1, tzinfo=timezone.utc), size=10)
    assert seen == [10]  # stopped at the first failure, not after a month


async def test_virtual_session_calls_are_awaitable_and_acknowledged_at_once() -> None:
    session = VirtualSession()
    session.calls = []
    assert session.set_prompt("a") is ACKED
    await session.set_prompt("b", enrich=False)
    await session.set_mirror(True)
    assert session.calls == [("set_prompt", ("a", True)), ("set_prompt", ("b", False)), ("set_mirror", (True,))]

    loop = asyncio.get_running_loop()
    events: list[tuple] = []
    executor = Executor(loop, lambda op: events.append(("send", op.action["prompt"], executor.in_flight is op)),
                        lambda op, latency, error: events.append(("ack", op.action["prompt"], latency, error)),
                        lambda old, new: events.append(("superseded",)))
    done = executor.submit("prompt", lambda: session.set_prompt("c"), {"prompt": "c"}, "cue", wait=True)
    # Sent and acknowledged before submit returned: no Task, nothing in flight afterwards.
    assert [e[:2] for e in events] == [("send", "c"), ("ack", "c")]
    assert events[0][2] is True and events[1][2] < 0.01 and events[1][3] is None  # in flight while sent
    assert done is not None and done.done() and done.result() is None and executor.in_flight is None
    assert session.calls[-1] == ("set_prompt", ("c", True))


async def test_a_call_that_is_a_coroutine_still_goes_through_a_task() -> None:
    """The real client's calls suspend: the executor keeps them in flight until they finish."""
    loop = asyncio.get_running_loop()
    release = loop.create_future()
    acks: list[str] = []

    async def slow() -> None:
        await release

    executor = Executor(loop, lambda op: None, lambda op, latency, error: acks.append(op.cue), lambda old, new: None)
    executor.submit("prompt", slow, {"prompt": "a"}, "first")
    executor.submit("prompt", lambda: ACKED, {"prompt": "b"}, "second")  # waits behind the first
    assert acks == [] and isinstance(executor.in_flight, Op) and executor.in_flight.cue == "first"
    release.set_result(None)
    for _ in range(5):
        await asyncio.sleep(0)
    assert acks == ["first", "second"] and executor.in_flight is None


@pytest.mark.parametrize("t, text", [(59.9996, "1:00"), (3599.9999, "1:00:00"), (0.9996, "0:01"), (18.745, "0:18.745"),
                                     (18.0001, "0:18"), (90.5, "1:30.5"), (3723.25, "1:02:03.25"), (0.0, "0:00")])
def test_show_times_round_to_the_millisecond_and_carry(t: float, text: str) -> None:
    """A plan from now puts a cron cue 0.4 ms before a second: it reads 1:00, not 0:591."""
    assert fmt_t(t) == text
