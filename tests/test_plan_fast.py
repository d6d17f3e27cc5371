"""`plan`'s printing and its session: JSON by `json.dumps`, calls acknowledged at once, show times."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from decart_flow.engine.engine import fmt_t
from decart_flow.engine.executor import ACKED, Executor, Op
from decart_flow.engine.plan import Firing, VirtualSession, plan, stream
from decart_flow.show.plan_print import print_plan
from decart_flow.show.model import Choice, Cue, CronTrigger, EveryTrigger, PromptAction, ShowModel

def _installation() -> ShowModel:
    return ShowModel("Installation", "mirage", cues=(
        Cue("minute", CronTrigger("* * * * *", "Europe/Paris"), (PromptAction("Minute"),)),
        Cue("ambient", EveryTrigger(20), (PromptAction(Choice("cycle", ("Lego world", "Watercolor"))),)),
    ))


def test_a_failing_reader_stops_the_plan_and_its_error_comes_out() -> None:
    seen: list[Firing] = []

    def emit(firing: Firing) -> None:
        seen.append(firing)
        if len(seen) == 10:
            raise BrokenPipeError("reader went away")

    with pytest.raises(BrokenPipeError):
        stream(_installation(), emit, 30 * 86400, datetime(2026, 3, 1, tzinfo=timezone.utc))
    assert len(seen) == 10  # stopped at the first failure, not after a month


def test_the_json_list_is_json_dumps_of_each_firing_and_the_table_reads_the_same(tmp_path) -> None:
    start = datetime(2026, 3, 29, 1, 58, 0, 250_000, tzinfo=ZoneInfo("Europe/Paris"))  # a fraction, into the gap
    firings = plan(_installation(), 600, start)
    items, table = io.StringIO(), io.StringIO()
    print_plan(_installation(), 600, start, True, items)
    print_plan(_installation(), 600, start, False, table)
    assert json.loads(items.getvalue()) == [f.to_json() for f in firings]
    assert items.getvalue() == "[\n " + ",\n ".join(json.dumps(f.to_json()) for f in firings) + "\n]\n"
    rows = table.getvalue().splitlines()
    assert rows[-1] == f"{len(firings)} firings" and len(rows) == len(firings) + 2
    assert rows[1].split()[:4] == [fmt_t(firings[0].t), firings[0].wall.strftime("%Y-%m-%d"),
                                   firings[0].wall.strftime("%H:%M:%S"), firings[0].cue.split()[0]]
    assert all(f.wall.isoformat() == f.to_json()["wall"] for f in firings)
    assert any(f.wall.utcoffset() != firings[0].wall.utcoffset() for f in firings)  # across the change of offset


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
