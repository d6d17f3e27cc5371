"""Opening hours and a daily budget (`session:`): when an installation's session is up, and paid for.

Outside `session.when` the session is disconnected and nothing is billed. It opens early by the
session's measured connect time (`connect_lead_s`), so the first generated frame is there at the
window's start; catch-up then applies what should be showing. When the day's generation seconds
reach `budget`, it closes until the next day. `plan` runs the same schedule in virtual time, where
a session connects at once and bills every second it is open.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time as dtime, timedelta
from typing import Any, Callable

from ..show.model import SessionPolicy, When
from .clock import shift
from .when import inside, when_zone

log = logging.getLogger(__name__)

HORIZON_DAYS = 8  # a window opens at least once a week, or never
BUDGET_SLACK_S = 0.5  # a tick's rounding: closer than this to the budget counts as spent


def next_change(when: When, wall: datetime) -> datetime | None:
    """The first instant after `wall` at which `inside(when, ...)` changes; None if it never does."""
    tz = when_zone(when)
    local = wall.astimezone(tz)
    now_inside = inside(when, local)
    candidates: set[datetime] = set()
    edges = [edge for pair in when.between for edge in pair] or [dtime(0, 0)]
    for offset in range(-1, HORIZON_DAYS + 1):
        day = local.date() + timedelta(days=offset)
        for edge in (*edges, dtime(0, 0)):
            candidates.add(datetime.combine(day, edge, tz))
    for at in sorted(c for c in candidates if c > local):
        if inside(when, at) != now_inside:
            return at
    return None


def open_at(policy: SessionPolicy | None, wall: datetime, used_today: float = 0.0) -> bool:
    """Whether `policy` has the session open at `wall` with `used_today` seconds billed today."""
    return policy is None or (inside(policy.when, wall) and not _spent(policy.budget, used_today))


def _spent(budget: float | None, used_today: float) -> bool:
    return budget is not None and used_today >= budget - BUDGET_SLACK_S


class OpeningHours:
    """Drives `apply(open, reason)` at each opening and closing; `start()` says whether it is open now."""

    def __init__(
        self,
        policy: SessionPolicy,
        clock: Any,
        billed: Callable[[], float] | None,
        lead: Callable[[], float],
        apply: Callable[[bool, str], None],
    ) -> None:
        self.policy = policy
        self.clock = clock
        # Generation seconds over the whole run; without a meter (plan), every open second bills.
        self._billed = billed or self.open_seconds
        self._opened_at: float | None = None  # clock.now() of the last opening
        self._open_total = 0.0
        self._lead = lead  # seconds a connect takes to the first generated frame
        self._apply = apply
        self._day: date | None = None
        self._day_base = 0.0  # billed seconds when today began
        self._timer: Any = None
        self.open = False

    def start(self) -> bool:
        wall = self.clock.wall()
        self._new_day(wall)
        self._set_open(open_at(self.policy, wall, self.used_today()))
        self._schedule()
        return self.open

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def open_seconds(self) -> float:
        """Seconds the session has been open so far (plan's stand-in for the service's ticks)."""
        running = self.clock.now() - self._opened_at if self._opened_at is not None else 0.0
        return self._open_total + running

    def _set_open(self, value: bool) -> None:
        if value and self._opened_at is None:
            self._opened_at = self.clock.now()
        elif not value and self._opened_at is not None:
            self._open_total += self.clock.now() - self._opened_at
            self._opened_at = None
        self.open = value

    def used_today(self) -> float:
        return self._billed() - self._day_base

    # ------------------------------------------------------------------ the schedule

    def _zone(self, wall: datetime) -> Any:
        """The zone the day is counted in: the window's, else the clock's."""
        return when_zone(self.policy.when) if self.policy.when is not None else wall.tzinfo

    def _today(self, wall: datetime) -> date:
        return wall.astimezone(self._zone(wall)).date()

    def _new_day(self, wall: datetime) -> None:
        today = self._today(wall)
        if today != self._day:
            self._day, self._day_base = today, self._billed()

    def _spent(self) -> bool:
        return _spent(self.policy.budget, self.used_today())

    def _schedule(self) -> None:
        self.stop()
        wall = self.clock.wall()
        if self.open:
            at, action = self._closing_at(wall), self._check
        else:
            at, action = self._opening_at(wall), self._open
        if at is not None:
            self._timer = self.clock.call_at(self.clock.mono_for(at), action)

    def _closing_at(self, wall: datetime) -> datetime | None:
        """The window's end, or when the budget would run out if billing ran from now on."""
        ends: list[datetime] = []
        if self.policy.when is not None:
            end = next_change(self.policy.when, wall)
            if end is not None:
                ends.append(end)
        if self.policy.budget is not None:
            ends.append(shift(wall, max(0.0, self.policy.budget - self.used_today())))
            ends.append(self._midnight_after(wall))  # a new day, a new budget: look again
        return min(ends) if ends else None

    def _opening_at(self, wall: datetime) -> datetime | None:
        """The next instant the window is open with budget left, early by the connect lead."""
        start = wall
        if self._spent():
            start = self._midnight_after(wall)
            if self.policy.when is None or inside(self.policy.when, start):
                return start
        elif self.policy.when is None:
            return None  # closed with budget left and no window: cannot happen
        assert self.policy.when is not None
        opens = next_change(self.policy.when, start) if not inside(self.policy.when, start) else start
        if opens is None:
            return None
        early = shift(opens, -self._lead())
        return max(early, wall)

    def _opening_soon(self, wall: datetime) -> bool:
        """Opened early by the connect lead, and the window is still to come."""
        assert self.policy.when is not None
        opens = next_change(self.policy.when, wall)
        return opens is not None and (opens - wall).total_seconds() <= self._lead() + 1.0

    def _midnight_after(self, wall: datetime) -> datetime:
        return datetime.combine(self._today(wall) + timedelta(days=1), dtime(0, 0), self._zone(wall))

    def _open(self) -> None:
        self._timer = None
        self._new_day(self.clock.wall())
        self._set_open(True)
        self._apply(True, "window" if not self._spent() else "budget")
        self._schedule()

    def _check(self) -> None:
        """At a window's end, a budget's end, or midnight: close if it is time."""
        self._timer = None
        wall = self.clock.wall()
        self._new_day(wall)
        if self.policy.when is not None and not inside(self.policy.when, wall) and not self._opening_soon(wall):
            self._set_open(False)
            self._apply(False, "window")
        elif self._spent():
            self._set_open(False)
            self._apply(False, "budget")
        self._schedule()
