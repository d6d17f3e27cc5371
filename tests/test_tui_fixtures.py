"""A fixed moment of the performance show: state, clock and picture, no live session."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from decart_flow.engine.state import PastFiring, ShowState, Upcoming
from decart_flow.show import load_show
from decart_flow.tui.glance import Glance, go_target

SCENES = Path(__file__).resolve().parent.parent / "scenes"
WALL = datetime(2026, 3, 14, 21, 30, 27, tzinfo=timezone.utc)


def still_show():
    return load_show(SCENES / "performance.yaml")


def still_state(paused: bool = False) -> ShowState:
    show = still_show()
    t = 27.3
    return ShowState(
        show=show.name, model=show.model, connection="generating", session_id="sess-7f3a", t=t, started=True,
        paused=paused, prompt="Neon sign wonderland, glowing tubes", enhance=True,
        image=str(SCENES / "refs" / "neon.png"), mirror=False, audio=None, last_ack_ms=38.4,
        past=(PastFiring(0.0, "start", 0.2), PastFiring(10.0, "timeline 0:10", 0.4),
              PastFiring(14.2, "underwater", 0.0), PastFiring(25.0, "timeline 0:25", 1.3)),
        upcoming=(Upcoming(show.timeline[2].label, 40.0, None), Upcoming(show.timeline[3].label, 50.0, None),
                  Upcoming(show.timeline[4].label, 65.0, None), Upcoming("strobe", 90.0, None),
                  Upcoming("nightly reset", None, WALL + timedelta(hours=2, minutes=29, seconds=33))),
        go_index=2, timeline_len=len(show.timeline),
    )


def still_glance(paused: bool = False) -> Glance:
    show = still_show()
    state = still_state(paused)
    go_t, go_label = go_target(show, state)
    return Glance(state=state, t=state.t, wall=WALL, duration=show.duration, go_t=go_t, go_label=go_label,
                  fps_in=24.8, fps_out=25.0, glass_ms=112.0)


def still_frame(w: int = 128, h: int = 72) -> np.ndarray:
    """A deterministic picture: a sky-to-ground gradient with a sun."""
    y, x = np.mgrid[0:h, 0:w]
    frame = np.zeros((h, w, 3), np.uint8)
    frame[..., 0] = (40 + 180 * y / h).astype(np.uint8)
    frame[..., 1] = (20 + 60 * x / w).astype(np.uint8)
    frame[..., 2] = (160 - 120 * y / h).astype(np.uint8)
    sun = (x - w * 0.7) ** 2 + (y - h * 0.35) ** 2 < (h * 0.15) ** 2
    frame[sun] = (255, 210, 90)
    return frame
