"""Lookahead: a timed cue's message goes out early by the send-to-glass latency, to be seen on time.

A cue's `lookahead` (else the show's) is a fixed duration or `auto` (the live estimate of
`LatencyEstimator`). Its timer is set for the cued time minus the lead; a time already past fires
at once. For `auto` the estimate may move between planning and firing, so the timer wakes a little
earlier than needed and then sets the exact time with the estimate of that moment.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Callable, Literal, Protocol

from .latency import LatencyEstimator

AUTO_SLACK = 0.5  # seconds: how much earlier than the current estimate an `auto` timer first wakes

Setting = float | Literal["auto"] | None


class Cancel(Protocol):
    def cancel(self) -> None: ...


Place = Callable[[float, Callable[[], None]], Any]  # (time, callback) -> a timer with cancel()


class Lead:
    """The lead of one cue: fixed seconds, or the estimator's current value."""

    __slots__ = ("fixed", "estimator")

    def __init__(self, fixed: float | None, estimator: LatencyEstimator | None = None) -> None:
        self.fixed, self.estimator = fixed, estimator

    @property
    def auto(self) -> bool:
        return self.fixed is None

    def seconds(self) -> float:
        if self.fixed is not None:
            return self.fixed
        assert self.estimator is not None
        return self.estimator.seconds


def lead_for(setting: Setting, estimator: LatencyEstimator) -> Lead | None:
    """A cue's effective setting as a Lead; None when nothing is sent early."""
    if setting == "auto":
        return Lead(None, estimator)
    if setting is None or setting <= 0:
        return None
    return Lead(float(setting))


def call_ahead(place: Place, t: float, lead: Lead | None, cb: Callable[[float], None]) -> Cancel:
    """Call `cb(lead_seconds)` at `t - lead` on a clock whose timers `place` sets (show or loop time)."""
    if lead is None:
        return place(t, partial(cb, 0.0))
    if not lead.auto:
        seconds = lead.seconds()
        return place(t - seconds, partial(cb, seconds))
    return _Auto(place, t, lead, cb)


class _Auto:
    """Two steps: wake early by a margin, then set the timer with the estimate of that moment."""

    __slots__ = ("place", "t", "lead", "cb", "timer")

    def __init__(self, place: Place, t: float, lead: Lead, cb: Callable[[float], None]) -> None:
        self.place, self.t, self.lead, self.cb = place, t, lead, cb
        self.timer = place(t - lead.seconds() - AUTO_SLACK, self._near)

    def _near(self) -> None:
        seconds = self.lead.seconds()
        self.timer = self.place(self.t - seconds, partial(self.cb, seconds))

    def cancel(self) -> None:
        self.timer.cancel()

    dispose = cancel
