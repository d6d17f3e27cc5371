"""A Python show's `async def handler(session)`: awaited with the live session."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from ...show.model import CallAction

if TYPE_CHECKING:
    from . import ActionContext


def perform(action: CallAction, ctx: ActionContext) -> Any:
    name = getattr(action.fn, "__name__", "handler")
    ctx.engine.note(ctx.cue, {"call": name})
    result = action.fn(ctx.engine.session)
    return result if inspect.isawaitable(result) else None
