"""`wait: D` inside `then`: show time, so a paused show pauses its sequences too."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...show.model import WaitAction

if TYPE_CHECKING:
    from . import ActionContext


def perform(action: WaitAction, ctx: ActionContext) -> Any:
    engine = ctx.engine
    fut = engine.loop.create_future()
    timer = engine.show_clock.call_later(action.seconds, lambda: fut.done() or fut.set_result(None))
    fut.add_done_callback(lambda f: timer.cancel())
    return fut
