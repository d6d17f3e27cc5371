"""The show's snapshots: `state`, a BehaviorSubject of `ShowState` that the TUI and the control pages read.

Changes are coalesced: however many happen in one pass of the loop, one snapshot goes out after it
(and one every quarter second while running in real time, for the clock and the audio's progress).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any, Protocol

from reactivex.subject import BehaviorSubject

from .catchup import Engine as Context
from .names import timeline_name
from .state import PastFiring, SessionView, ShowState, Upcoming
from .triggers import trigger_kind


class Shown(Context, Protocol):
    """What a snapshot reads of the show (the engine, which is also the triggers' context)."""

    lanes: list[Any]  # engine.lanes.SessionLane, in show order

    @property
    def connection(self) -> str: ...

    @property
    def ended(self) -> str | None: ...


class Publisher:
    def __init__(self, shown: Shown, observe: bool) -> None:
        self.shown = shown
        self.observe = observe  # False (`plan`): no snapshot is ever published
        self.past: deque[tuple[float, str, float]] = deque(maxlen=50)  # PastFiring fields, built on demand
        self._pending = False
        self.state: BehaviorSubject[ShowState] | None = None  # made by `begin`, once the engine is wired

    def begin(self) -> BehaviorSubject[ShowState]:
        """The state, starting from a snapshot of the show as it stands (the engine calls it once wired)."""
        self.state = BehaviorSubject(self.snapshot())
        return self.state

    def changed(self) -> None:
        """Something the snapshot shows changed: publish once, after this pass of the loop."""
        if self.observe and not self._pending:
            self._pending = True
            self.shown.clock.loop.call_soon(self.publish)

    def publish(self) -> None:
        self._pending = False
        if self.observe and self.state is not None:
            self.state.on_next(self.snapshot())

    async def tick(self) -> None:
        while True:
            await asyncio.sleep(0.25)
            self.publish()

    def fired(self, t: float, name: str, lateness_ms: float) -> None:
        self.past.append((t, name, lateness_ms))

    def unfire(self, from_t: float, names: set[str]) -> None:
        """GO back: the firings of `names` from show time `from_t` on are ahead again, not past."""
        kept = [p for p in self.past if not (p[0] >= from_t and p[1] in names)]
        self.past.clear()
        self.past.extend(kept)

    def snapshot(self) -> ShowState:
        s = self.shown
        sc = s.show_clock
        go = s.go_index
        views = tuple(self.view(lane) for lane in s.lanes)
        first = views[0]
        return ShowState(
            show=s.show.name, model=s.show.model, connection=first.connection,
            session_id=first.session_id, t=sc.t, started=sc.started, paused=sc.paused,
            ended=s.ended, prompt=first.prompt, enhance=first.enhance, image=first.image,
            mirror=first.mirror, audio=first.audio, audio_elapsed=first.audio_elapsed, last_ack_ms=first.last_ack_ms,
            past=tuple(PastFiring(*p) for p in self.past), upcoming=self.upcoming(),
            go_index=go if go < len(s.show.timeline) else None,
            timeline_len=len(s.show.timeline), protocol=first.protocol,
            billed_s=first.billed_s, queue=first.queue,
            tempo=s.tempo.state() if s.tempo is not None else None,
            sessions=views,
        )

    def view(self, lane: Any) -> SessionView:
        """One session's part of the snapshot."""
        now = lane.store.snapshot()
        audio, meter, session = lane.audio, lane.meter, lane.session
        return SessionView(
            name=lane.name, model=lane.spec.model, connection=lane.connection,
            session_id=getattr(session, "session_id", None), protocol=getattr(session, "protocol", None),
            prompt=now["prompt"], enhance=now["enhance"], image=now["image"], mirror=now["mirror"],
            audio=audio[0] if audio else None,
            audio_elapsed=(self.shown.clock.loop.time() - audio[1]) if audio else None,
            last_ack_ms=lane.last_ack_ms,
            billed_s=meter.billed_seconds if meter is not None else 0.0,
            queue=meter.queue if meter is not None else None,
        )

    def upcoming(self, limit: int = 10) -> tuple[Upcoming, ...]:
        s = self.shown
        if not s.show_clock.started:
            return ()
        now_t, now_wall = s.show_clock.t, s.clock.wall()
        items: list[tuple[float, Upcoming]] = []
        go = s.go_index
        for entry in s.show.timeline[go:go + limit]:
            t = s.entry_t(entry)
            items.append((t - now_t, Upcoming(entry.label or timeline_name(entry), t, None, self.bar(t, entry.beat))))
        for cue in s.show.cues:
            try:
                nxt = trigger_kind(cue.trigger).next_fire(cue.trigger, s)
            except Exception:  # noqa: BLE001 - an odd cron line must not break the TUI
                nxt = None
            if nxt is not None:
                t, wall = nxt
                ahead = (t - now_t) if t is not None else (wall - now_wall).total_seconds()  # type: ignore[operator]
                beats = t is not None and trigger_kind(cue.trigger).counts_beats
                items.append((ahead, Upcoming(cue.name, t, wall, self.bar(t, 0.0 if beats else None))))
        items.sort(key=lambda x: x[0])
        return tuple(u for _, u in items[:limit])

    def bar(self, t: float | None, beat: float | None) -> str | None:
        """bar.beat of a beat cue's show time, for the TUI's upcoming list (None for the others)."""
        tempo = self.shown.tempo
        if beat is None or t is None or tempo is None:
            return None
        return tempo.grid.bar_beat(t)

