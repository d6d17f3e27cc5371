"""`wait: D` inside `then`: show time, so a paused show pauses its sequences too. `wait: 2 beats`
counts on the beat grid from the moment the wait starts (its length at the show's bpm is what
`plan` lays out)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...show.model import WaitAction
from ...show.nodes import caller, value_node
from ...show.problems import Problem, ShowError
from ...show.times import parse_duration
from ...tempo.units import accepts, is_beat_text, parse_span, read_span
from . import ActionKind

if TYPE_CHECKING:
    from ...show.reading import Ctx, Found, Reader
    from ...show.model import Where
    from ...show.nodes import Node
    from . import ActionContext


def read(c: Reader, found: Found, key: str, ctx: Ctx) -> WaitAction | None:
    node, value = found[key]
    if not ctx.in_then:
        c.error(node.where, "wait: only inside a cue's then: list (it pauses between its steps)")
        return None
    if accepts(value):
        c.uses_beats(value.where)
        span = read_span(c, value, "wait")
        return WaitAction(span.beats(c.beats_per_bar()) * 60.0 / c.bpm(), node.where, span) if span is not None else None
    seconds = c.duration(value, allow_zero=True)
    return WaitAction(seconds, node.where) if seconds is not None else None


def perform(action: WaitAction, ctx: ActionContext) -> Any:
    if action.beats is not None:
        return ctx.show.sleep(ctx.show.beat_seconds(action.beats))
    return ctx.show.sleep(action.seconds)


def pairs(action: WaitAction, where: Where) -> list[tuple[str, Node]]:
    return [("wait", value_node(str(action.beats) if action.beats is not None else action.seconds, where))]


def label(action: WaitAction) -> str:
    return f"wait {action.beats}" if action.beats is not None else f"wait {action.seconds:g}s"


def wait(duration: str | float) -> WaitAction:
    where = caller()
    try:
        if isinstance(duration, str) and is_beat_text(duration):
            span = parse_span(duration)  # its seconds are set when the show's tempo is read
            return WaitAction(float(span.count), where, span)
        return WaitAction(parse_duration(duration, allow_zero=True), where)
    except ValueError as e:
        raise ShowError([Problem(where, str(e))]) from None


KIND = ActionKind(WaitAction, ("wait",), read, perform, pairs, label, python="wait", build=wait, sequential=True,
                  span=lambda a: a.seconds, in_body=False)
