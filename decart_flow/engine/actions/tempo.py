"""`tempo: BPM`: the show sets its tempo from then on (with `source: link`, every peer of the
session takes it). Only in a show with `tempo:`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...show.model import NOWHERE
from ...show.nodes import caller, value_node
from . import ActionKind

if TYPE_CHECKING:
    from ...show.model import Where
    from ...show.nodes import Node
    from ...show.reading import Ctx, Found, Reader
    from . import ActionContext


@dataclass(frozen=True)
class TempoAction:
    bpm: float
    where: Where = NOWHERE


def read(c: Reader, found: Found, key: str, ctx: Ctx) -> TempoAction | None:
    node, value = found[key]
    c.uses_beats(node.where)
    bpm = value.value if value.is_scalar else None
    if isinstance(bpm, bool) or not isinstance(bpm, (int, float)) or not 1 <= bpm <= 999:
        shown = value.scalar_text() if value.is_scalar else value.kind()
        c.error(value.where, f"bad tempo '{shown}': a bpm from 1 to 999, e.g. tempo: 128")
        return None
    return TempoAction(float(bpm), node.where)


def perform(action: TempoAction, ctx: ActionContext) -> Any:
    ctx.show.note(ctx.cue, {"tempo": action.bpm})
    ctx.show.set_tempo(action.bpm, ctx.cue)
    return None


def pairs(action: TempoAction, where: Where) -> list[tuple[str, Node]]:
    return [("tempo", value_node(action.bpm, where))]


def label(action: TempoAction) -> str:
    return f"tempo {action.bpm:g}"


def tempo(bpm: float) -> TempoAction:
    return TempoAction(float(bpm), caller())


KIND = ActionKind(TempoAction, ("tempo",), read, perform, pairs, label, python="tempo", build=tempo)
