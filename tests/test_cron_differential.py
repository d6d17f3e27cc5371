"""`plan` against croniter: random cron shows in twenty zones, starts near DST changes.

croniter is the reference (SHOW_FORMAT: "every form croniter reads ... with croniter's meaning"),
walked with aware datetimes in the cue's zone: a code path of croniter's own, not the naive
stepping our trigger uses. Away from DST changes the two must agree exactly. At a change the
contract is Vixie cron's, and croniter's aware iteration differs from it in exactly two ways, which
this test writes down instead of tolerating:

- fall-back: croniter fires a repeated time twice (the first pass with fold=0, the second with
  fold=1); the contract fires it once, the first time. The reference drops croniter's second pass.
- spring-forward: croniter moves a skipped time to the end of the gap when the expression's hour
  field is not every hour (Paris `30 2 * * *` and `30 */2 * * *` -> 03:00 CEST), and leaves it out
  when the hour field is every hour (`*`, `*/1`, `0-23`: Paris `30 * * * *` has no firing between
  01:30 and 03:30; Lord Howe's 30-minute change, `20 * * * *`: none for 02:20), as Vixie cron
  itself treats "wildcard" and "fixed-time" jobs. The contract fires once at the end of the gap
  whenever a skipped reading matches: the reference adds that instant where croniter left it out,
  and the test checks that croniter left it out only for an every-hour expression.

Both adjustments are counted, and the test asserts that the sample meets each of them, so the
comparison covers what it claims to. Expressions that can never match must be refused by
`validate` (croniter cannot find a date for them either).
"""

from __future__ import annotations

import random
from functools import lru_cache
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from croniter import CroniterBadDateError, croniter

from decart_flow.engine.plan import plan
from decart_flow.engine.triggers.cron import _Schedule, plain
from decart_flow.show import load_show
from decart_flow.show.problems import ShowError
from decart_flow.show.model import CronTrigger

ZONES = [
    "UTC", "Europe/Paris", "Europe/London", "Europe/Dublin", "America/New_York", "America/St_Johns",
    "America/Santiago", "America/Havana", "America/Asuncion", "America/Nuuk", "Pacific/Chatham",
    "Australia/Lord_Howe", "Australia/Sydney", "Asia/Kolkata", "Asia/Kathmandu", "Asia/Tehran",
    "Africa/Casablanca", "Pacific/Apia", "Asia/Gaza", "America/Sao_Paulo",
]
SHOWS = 300
SEED = 18


@lru_cache(maxsize=None)
def _changes(tz: ZoneInfo, year: int = 2026) -> list[tuple[float, timedelta, timedelta]]:
    """(instant, offset before, offset after) of each change of UTC offset in `year`."""
    out = []
    t = datetime(year, 1, 1, tzinfo=timezone.utc).timestamp()
    end = datetime(year + 1, 1, 1, tzinfo=timezone.utc).timestamp()
    off = datetime.fromtimestamp(t, tz).utcoffset()
    while t < end:
        nxt = t + 86400
        new = datetime.fromtimestamp(nxt, tz).utcoffset()
        if new != off:
            lo, hi = int(t), int(nxt)
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if datetime.fromtimestamp(mid, tz).utcoffset() == off:
                    lo = mid
                else:
                    hi = mid
            out.append((float(hi), off, new))
            off = new
        t = nxt
    return out


def _pick(rng: random.Random, values: list[str]) -> str:
    return rng.choice(values)


def _expression(rng: random.Random) -> tuple[str, float]:
    """A random expression and a window (hours) that holds a few dozen of its firings."""
    if rng.random() < 0.55:  # many a day: minutes and hours, days mostly open; windows over a change
        minute = _pick(rng, [str(rng.randrange(60)), f"{rng.randrange(30)},{rng.randrange(30, 60)}",
                             f"*/{rng.choice([15, 20, 30])}", f"{rng.randrange(10)}-{rng.randrange(10, 59)}/{rng.choice([20, 25])}",
                             f"{rng.randrange(50)}-{rng.randrange(50, 60)}/5"])
        hour = _pick(rng, ["*", "*", f"{rng.randrange(4)}-{rng.randrange(1, 5)}", f"*/{rng.randrange(2, 7)}",
                           f"{rng.randrange(24)},{rng.randrange(24)}", "1-3", "0-2"])
        if rng.random() < 0.15:
            minute, hour = "*", _pick(rng, ["1", "2", "3", "0", "23"])
        dom = _pick(rng, ["*"] * 6 + [f"{rng.randrange(1, 29)}-{rng.randrange(1, 32)}", "*/2"])
        month = _pick(rng, ["*"] * 6 + ["mar-apr,sep-nov", "1-6", "*/2"])
        dow = _pick(rng, ["*"] * 6 + ["sun", "sat,sun", "mon-fri", "0-3", "5-7"])
        return f"{minute} {hour} {dom} {month} {dow}", 40.0
    minute = str(rng.randrange(60)) if rng.random() < 0.8 else f"{rng.randrange(30)},{rng.randrange(30, 60)}"
    hour = _pick(rng, [str(rng.randrange(24)), "0", "1", "2", "3", f"{rng.randrange(12)},{rng.randrange(12, 24)}"])
    dom = _pick(rng, ["*", "*", str(rng.randrange(1, 32)), f"{rng.randrange(1, 29)}W", "L", "1,15",
                      f"{rng.randrange(1, 10)}-{rng.randrange(10, 32)}", "*/10", "31", "30", "29"])
    month = _pick(rng, ["*", "*", "*", "feb", "jan-mar", "mar,oct", "4-9", "*/3", "2", "dec"])
    dow = _pick(rng, ["*", "*", "*", f"{rng.randrange(7)}#{rng.randrange(1, 6)}", f"L{rng.randrange(7)}", "mon-fri",
                      "sun", "1,3,5", f"{rng.choice(['mon', 'tue', 'fri'])}#{rng.randrange(1, 5)}", "sat"])
    return f"{minute} {hour} {dom} {month} {dow}", 24.0 * 100


def _second_pass(r: datetime) -> bool:
    """A reading in the second pass of a repeated hour (croniter marks it fold=1)."""
    return r.fold == 1 and r.replace(fold=0).utcoffset() != r.utcoffset()


def _gap_firings(expr: str, tz: ZoneInfo, lo: float, hi: float) -> set[float]:
    """The ends of the gaps in [lo, hi] whose skipped readings match `expr` (the contract's firings)."""
    out = set()
    for year in {datetime.fromtimestamp(lo, tz).year, datetime.fromtimestamp(hi, tz).year}:
        for at, before, after in _changes(tz, year):
            if after <= before or not lo <= at < hi:
                continue
            first = datetime.fromtimestamp(at, timezone.utc).replace(tzinfo=None) + before  # the gap's first reading
            if croniter(expr, first - timedelta(microseconds=1)).get_next(datetime) < first + (after - before):
                out.add(at)
    return out


def _reference(expr: str, tz: ZoneInfo, start: datetime, hours: float, seen: dict[str, int]) -> list[float]:
    """croniter's aware firings in [start, start + hours], adjusted to the contract as the docstring says."""
    end = start.timestamp() + hours * 3600
    it = croniter(expr, start - timedelta(microseconds=1))
    out: list[float] = []
    while True:
        r = it.get_next(datetime)
        stamp = r.timestamp()
        if stamp >= end:  # plan's window ends before `end`
            break
        if _second_pass(r):
            seen["repeated"] += 1
            continue
        if not out or stamp > out[-1]:
            out.append(stamp)
    gaps = _gap_firings(expr, tz, start.timestamp(), end) - set(out)
    if gaps:  # croniter leaves a skipped time out only when the hour field is every hour
        assert croniter(expr).expanded[1] == ["*"], (expr, tz, start.isoformat())
    seen["gap"] += len(gaps)
    return sorted(set(out) | gaps)


def _start(rng: random.Random, tz: ZoneInfo, hours: float) -> datetime:
    changes = _changes(tz)
    if changes and rng.random() < 0.85:
        at = rng.choice(changes)[0]
        before = rng.uniform(0.0, hours * 0.8 if hours < 100 else 24 * 40) * 3600
        stamp = at - before
    else:
        stamp = datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp() + rng.uniform(0, 360) * 86400
    stamp = stamp - stamp % 60  # a whole minute: sometimes exactly on a firing...
    if rng.random() < 0.5:
        stamp += rng.choice([1, 17, 30, 59])  # ...sometimes not
    return datetime.fromtimestamp(stamp, tz)


def _cases() -> list[tuple[str, str, datetime, float]]:
    rng = random.Random(SEED)
    cases = []
    for i in range(SHOWS):
        tz_name = ZONES[i % len(ZONES)]
        expr, hours = _expression(rng)
        cases.append((expr, tz_name, _start(rng, ZoneInfo(tz_name), hours), hours))
    return cases


def test_plan_fires_as_croniter_says_within_the_contract(tmp_path: Path) -> None:
    seen = {"repeated": 0, "gap": 0, "compared": 0, "firings": 0, "refused": 0, "croniter": 0, "fast": 0}
    mismatches = []
    for n, (expr, tz_name, start, hours) in enumerate(_cases()):
        tz = ZoneInfo(tz_name)
        path = tmp_path / f"s{n}.yaml"
        path.write_text(f'name: s{n}\nmodel: lucy-restyle-2\ntz: {tz_name}\ncues:\n'
                        f'  - name: c\n    cron: "{expr}"\n    prompt: Tick\n')
        try:
            croniter(expr, datetime(2026, 1, 1)).get_next(datetime)
        except CroniterBadDateError:  # never matches: validation must say so, FILE:LINE:COL
            with pytest.raises(ShowError) as err:
                load_show(path)
            assert f"{path}:6:11: cron expression '{expr}' never matches" in str(err.value.problems[0]), expr
            seen["refused"] += 1
            continue
        show = load_show(path)
        assert show.cues[0].trigger == CronTrigger(expr, tz_name)
        seen["fast" if plain(expr) else "croniter"] += 1
        want = _reference(expr, tz, start, hours, seen)
        got = [f.wall.timestamp() for f in plan(show, hours * 3600, start) if f.cue == "c"]
        seen["compared"] += 1
        seen["firings"] += len(got)
        if got != want:
            mismatches.append((expr, tz_name, start.isoformat(),
                               [datetime.fromtimestamp(s, tz).isoformat() for s in sorted(set(got) ^ set(want))][:6]))
    assert not mismatches, mismatches[:5]
    # the sample covers what the docstring claims
    assert seen["compared"] >= 250 and seen["firings"] > 5000, seen
    assert seen["repeated"] >= 5 and seen["gap"] >= 3 and seen["refused"] >= 1, seen
    assert seen["croniter"] >= 30 and seen["fast"] >= 150, seen


def test_catch_up_finds_the_firing_croniter_finds_before_the_start() -> None:
    """The newest firing strictly before the start (catch-up's), croniter's get_prev adjusted alike."""
    checked = 0
    for expr, tz_name, start, hours in _cases():
        tz = ZoneInfo(tz_name)
        try:
            it = croniter(expr, start)
            r = it.get_prev(datetime)
            while _second_pass(r):
                r = it.get_prev(datetime)
        except CroniterBadDateError:
            continue
        want = r.timestamp()
        gaps = [g for g in _gap_firings(expr, tz, want, start.timestamp()) if g < start.timestamp()]
        want = max([want] + gaps)
        got = _Schedule(CronTrigger(expr, tz_name), start).prev().timestamp()
        assert got == want, (expr, tz_name, start.isoformat(), datetime.fromtimestamp(got, tz).isoformat(),
                             datetime.fromtimestamp(want, tz).isoformat())
        checked += 1
    assert checked >= 250
