"""A Python show's `async def handler(session)`: awaited with the live session, through the engine.

The handler gets a `ShowSession`, not the raw client: its calls go through the same executor as
every cue (journaled, latest-wins for prompts and images, counted in `plan`), so a handler cannot
race the show. It takes the show language's `enhance=` as well as the SDK's `enrich=`.
In a show of several sessions a handler runs once, with one session: the first of its `to=` (its
cue's), else the show's first session (`ActionKind.routed == "first"`).
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from ...show.model import CallAction
from ...show.nodes import Opaque, scalar
from ..executor import Superseded
from . import ActionKind

if TYPE_CHECKING:
    from ...show.reading import Ctx, Found, Reader
    from ...show.model import Where
    from ...show.nodes import Node
    from . import ActionContext, ActionHost

KEY = "<call>"  # only the Python builder writes it: not a key of a YAML show


def read(c: Reader, found: Found, key: str, ctx: Ctx) -> CallAction | None:
    value = found[key][1]
    obj = value.value.obj
    if isinstance(obj, CallAction):
        return obj
    c.error(value.where, f"not an action: {obj!r}")
    return None


def perform(action: CallAction, ctx: ActionContext) -> Any:
    name = getattr(action.fn, "__name__", "handler")
    ctx.show.note(ctx.cue, {"call": name})
    result = action.fn(ShowSession(ctx.show, ctx.cue))
    return result if inspect.isawaitable(result) else None


def pairs(action: CallAction, where: Where) -> list[tuple[str, Node]]:
    return [(KEY, scalar(Opaque(action), where))]


def label(action: CallAction) -> str:
    return type(action).__name__


def _enhance(enhance: bool | None, enrich: bool | None) -> bool:
    if enrich is not None:
        return enrich
    return True if enhance is None else enhance


class ShowSession:
    """What a handler sees as `session`: the Session API, routed through the engine."""

    def __init__(self, show: ActionHost, cue: str) -> None:
        self._show = show
        self._cue = cue

    async def _send(self, kind: str, call: Any, action: dict[str, Any]) -> None:
        done = self._show.send(kind, call, action, self._cue, wait=True)
        if done is None:
            return
        try:
            await done
        except Superseded:
            pass  # a newer change of the same kind won: latest-wins, as for any cue

    async def set_prompt(self, text: str, enhance: bool | None = None, *, enrich: bool | None = None) -> None:
        flag = _enhance(enhance, enrich)
        session = self._show.session
        await self._send("prompt", lambda: session.set_prompt(text, enrich=flag), {"prompt": text, "enhance": flag})

    async def set_image(self, image: Any, prompt: str | None = None, enhance: bool | None = None, *,
                        enrich: bool | None = None) -> None:
        flag = _enhance(enhance, enrich)
        session = self._show.session
        action: dict[str, Any] = {"image": image if isinstance(image, str) or image is None else "<bytes>"}
        if prompt is not None:
            action.update(prompt=prompt, enhance=flag)
        await self._send("image", lambda: session.set_image(image, prompt=prompt, enrich=flag), action)

    async def set_mirror(self, enabled: bool) -> None:
        session = self._show.session
        self._show.intend("mirror", bool(enabled))
        await self._send("mirror", lambda: session.set_mirror(bool(enabled)), {"mirror": bool(enabled)})

    async def play_audio(self, audio: Any) -> None:
        session = self._show.session
        shown = audio if isinstance(audio, str) else "<bytes>"
        await self._send("audio", lambda: session.play_audio(audio), {"audio": shown})

    def __getattr__(self, name: str) -> Any:
        # Read-only state (session_id, get_connection_state, is_connected, on/off) from the real session.
        return getattr(self._show.session, name)


KIND = ActionKind(CallAction, (KEY,), read, perform, pairs, label, sequential=True, routed="first")
