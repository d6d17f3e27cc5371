"""The engine: plays a show as timed and event-driven calls on a session.

`Engine` plays a show (real time for `run`, virtual time for tests); `plan` runs the same engine
in virtual time and lists what it would send.
"""

from __future__ import annotations

from .clock import Clock, VirtualClock
from .engine import Engine
from .loop import VirtualEventLoop
from .plan import Firing, VirtualSession, plan
from .state import PastFiring, ShowState, Upcoming

__all__ = ["Clock", "Engine", "Firing", "PastFiring", "ShowState", "Upcoming", "VirtualClock", "VirtualEventLoop",
           "VirtualSession", "plan"]
