"""`mirror: true / false / toggle`; toggle flips what the show last sent."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, Mapping

from ...show.model import MirrorAction
from ...show.nodes import caller, value_node
from . import ActionKind, sessions

if TYPE_CHECKING:
    from ...show.reading import Ctx, Found, Reader
    from ...show.model import Where
    from ...show.nodes import Node
    from . import ActionContext


def read(c: Reader, found: Found, key: str, ctx: Ctx) -> MirrorAction | None:
    node, value = found[key]
    if value.is_scalar and (isinstance(value.value, bool) or value.scalar_text() == "toggle"):
        return MirrorAction(value.value if isinstance(value.value, bool) else "toggle", node.where)
    c.error(value.where, "mirror: use true, false or toggle")
    return None


def perform(action: MirrorAction, ctx: ActionContext) -> Any:
    show = ctx.show
    value = (not show.sent("mirror")) if action.value == "toggle" else bool(action.value)
    show.intend("mirror", value)  # at once, so two toggles in a row flip twice
    session = show.session
    show.send("mirror", lambda: session.set_mirror(value), {"mirror": value}, ctx.cue)
    return None


def pairs(action: MirrorAction, where: Where) -> list[tuple[str, Node]]:
    return [("mirror", value_node(action.value, where))]


def label(action: MirrorAction) -> str:
    return f"mirror {action.value}"


def sets(action: MirrorAction) -> tuple[str, ...]:
    return () if action.value == "toggle" else ("mirror",)


def restore(key: str, state: Mapping[str, Any]) -> MirrorAction:
    return MirrorAction(bool(state["mirror"]))


def settle(action: MirrorAction, state: dict[str, Any]) -> MirrorAction:
    """A toggle as the value it set, so that playing it again sets that value, not a flip."""
    if action.value == "toggle":
        state["mirror"] = not state["mirror"]
        return replace(action, value=state["mirror"])
    state["mirror"] = bool(action.value)
    return action


def mirror(value: bool | str = "toggle", to: str | list[str] | None = None) -> MirrorAction:
    return MirrorAction(value, caller(), sessions(to))  # type: ignore[arg-type]


KIND = ActionKind(MirrorAction, ("mirror",), read, perform, pairs, label, python="mirror", build=mirror, sets=sets,
                  restores=("mirror",), restore=restore, settle=settle, routed="each")
