"""A show-clock timer for a place on the beat grid, set again whenever the grid changes.

A beat's show time is known only until the tempo changes (a tap, a Link peer, `/tempo`): the timer
listens to the grid and moves itself. With a lead (lookahead) it fires that much before the beat.
"""

from __future__ import annotations

from typing import Any, Callable

from ..engine.lookahead import Lead, call_ahead
from .grid import BeatGrid


class BeatTimer:
    """`cb(t, lead_seconds)` when the grid reaches `beat` (early by `lead`), `t` the show time of the
    beat; `cancel()` stops it."""

    __slots__ = ("clock", "grid", "beat", "cb", "lead", "t", "_timer", "_unsubscribe", "done")

    def __init__(self, show_clock: Any, grid: BeatGrid, beat: float, cb: Callable[[float, float], None],
                 lead: Lead | None = None) -> None:
        self.clock, self.grid, self.beat, self.cb, self.lead = show_clock, grid, beat, cb, lead
        self.t = 0.0
        self.done = False
        self._timer: Any = None
        self._unsubscribe = grid.subscribe(self._place)
        self._place()

    def when(self) -> float:
        """The show time of the beat, as the grid has it now (not before the present)."""
        now = self.clock.planning_t
        return self.grid.t_at(self.beat, after=now)

    def _place(self) -> None:
        if self.done:
            return
        if self._timer is not None:
            self._timer.cancel()
        self.t = self.when()
        self._timer = call_ahead(self.clock.call_at, self.t, self.lead, self._fire)

    def _fire(self, lead: float) -> None:
        self.done = True
        self._unsubscribe()
        self.cb(self.t, lead)

    def cancel(self) -> None:
        self.done = True
        self._unsubscribe()
        if self._timer is not None:
            self._timer.cancel()

    dispose = cancel


def on_grid_line(show_clock: Any, grid: BeatGrid, span: Any, lead: Lead | None = None) -> Callable[[Any], Any]:
    """An Rx operator for `quantize:`: each event's arguments come out as a `Fire` on the next grid
    line (`span`, a BeatSpan) after it, early by `lead`; the line's show time follows the tempo."""
    import reactivex
    from reactivex.disposable import CompositeDisposable, Disposable

    from ..engine.triggers import Fire

    def operator(source: Any) -> Any:
        def subscribe(observer: Any, scheduler: Any = None) -> Any:
            timers: set[BeatTimer] = set()

            def on_next(args: Any) -> None:
                beat = grid.beat_at(grid.next_line(show_clock.t, span.beats(grid.beats_per_bar)))

                def fire(t: float, ahead: float) -> None:
                    timers.discard(timer)  # set below: a show-clock timer never fires inside call_at
                    observer.on_next(Fire(show_clock.mono_of(t), t, args, None, ahead))

                timer = BeatTimer(show_clock, grid, beat, fire, lead)
                timers.add(timer)

            def cancel_all() -> None:
                for timer in list(timers):
                    timer.cancel()
                timers.clear()

            sub = source.subscribe(on_next, observer.on_error, observer.on_completed, scheduler=scheduler)
            return CompositeDisposable(sub, Disposable(cancel_all))

        return reactivex.create(subscribe)

    return operator
