"""Compiled firings: a cue's instant actions as closures made once, for `plan`'s session.

`plan` fires a cue 170,000 times a month. The general way (`Engine._fire`, then REGISTRY and a
context per action, `send`, the executor's `Op`, `_start`, `_finish`, `on_ack`) is ~50 Python
calls a firing. When the session acknowledges every call before it returns (it says so with
`acks_at_once`, as `plan`'s VirtualSession does), nobody reads the journal and the executor is
idle, a firing comes down to what those layers do then: the `on_action` hooks see the action, the
session is called, the acknowledged change is applied. Whatever else a firing meets (a lead, event
arguments, catch-up, a call that does not come back `ACKED`, a busy executor) takes the general way
from that point, so both ways give the same firings, choices and state (tests/test_plan_paths.py
plays shows both ways and compares).

A real session has no `acks_at_once`: `run` never takes this path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from ..show.model import Choice, Cue, ImageAction, MirrorAction, PromptAction
from .executor import ACKED
from .triggers import Fire
from .when import inside

if TYPE_CHECKING:
    from .engine import Engine

Step = Callable[[float], None]  # (loop time of the firing): the virtual loop's time stands still during one


def compile_cue(engine: Engine, cue: Cue, general: Callable[[Fire], None]) -> Callable[[Fire], None] | None:
    """A cue's `on_next`: the lean firing when it applies, else `general` (its `Engine._fire`).

    None when the cue cannot take the lean way at all (a sequential or unusual action, a session
    that does not acknowledge at once). A cue of one prompt, the usual cue of an installation,
    gets a firing with its step inline (`_prompt_cue`).
    """
    session = engine.session
    if not getattr(session, "acks_at_once", False):
        return None
    seq = cue.actions + cue.then if cue.then else cue.actions
    if not seq or len(seq) > 32:
        return None
    if len(seq) == 1 and type(seq[0]) is PromptAction:
        return _prompt_cue(engine, cue, seq[0], general)
    makers = {PromptAction: _prompt, ImageAction: _image, MirrorAction: _mirror}
    steps: list[Step] = []
    for i, action in enumerate(seq):
        maker = makers.get(type(action))  # type: ignore[call-overload]
        if maker is None:
            return None
        steps.append(maker(engine, cue.name, str(i), action))
    name, when, journal, executor = cue.name, cue.when, engine.journal, engine.executor
    show_clock, loop_time, past, events = engine.show_clock, engine.loop.time, engine._past, engine.events
    bug = engine._bug
    where = f"action of {name!r} failed"

    def on_next(fire: Fire) -> None:
        intended, t, args, actions, lead = fire
        if (lead or args or actions is not None or journal._file is not None or journal.events.observers
                or engine._deferred is not None or executor._busy or executor._queue or engine.catching_up
                or engine.session is not session):
            return general(fire)
        now = loop_time()
        lateness_ms = (now - intended) * 1000.0
        if when is not None:
            try:
                if not inside(when, engine.clock.wall()):
                    return
            except Exception:  # noqa: BLE001 - the general way reports it
                return general(fire)
        engine._ahead = 0.0
        for s in steps:
            try:
                s(now)
            except Exception as exc:  # noqa: BLE001 - as `_perform_all`: our bug, the show goes on
                bug(where, exc)
        if t is None:
            t = show_clock.t
        if journal._file is not None or journal.events.observers:  # active now: write what `_fire` writes
            engine._journal_fire(name, fire, t, lateness_ms, [])
        past.append((t, name, lateness_ms))
        if engine._observe_state:
            engine._changed()
        if events._subjects:
            events.emit("after", name)

    return on_next


def _prompt_cue(engine: Engine, cue: Cue, action: PromptAction, general: Callable[[Fire], None]) -> Callable[[Fire], None]:
    """`on_next` for a cue of one prompt: `compile_cue`'s firing with the prompt's step inline.

    The guard at the top holds for the whole firing (one step: nothing of the cue's runs before
    it), so the step needs none of its own checks but the one after the hooks.
    """
    session, name, when, journal, executor = engine.session, cue.name, cue.when, engine.journal, engine.executor
    show_clock, loop_time, past, events = engine.show_clock, engine.loop.time, engine._past, engine.events
    state, applied, bug = engine._now, engine.applied, engine._bug
    where = f"action of {name!r} failed"
    text, enhance = action.text, action.enhance
    choices, key = engine.choices, (name, "0")
    choosers = choices._choosers
    choice = type(text) is not str and isinstance(text, Choice)

    def on_next(fire: Fire) -> None:
        intended, t, args, actions, lead = fire
        hooks = engine.on_action
        if (lead or args or actions is not None or not hooks or journal._file is not None
                or journal.events.observers or engine._deferred is not None or executor._busy or executor._queue
                or engine.catching_up or engine.session is not session):
            return general(fire)
        now = loop_time()
        lateness_ms = (now - intended) * 1000.0
        if when is not None:
            try:
                if not inside(when, engine.clock.wall()):
                    return
            except Exception:  # noqa: BLE001 - the general way reports it
                return general(fire)
        engine._ahead = 0.0
        try:
            if choice:
                chooser = choosers.get(key)
                if chooser is None:
                    said = choices.resolve(text, name, "0")
                elif chooser.cycle:  # `Chooser._cycle`, inline
                    items = chooser.items
                    said = items[chooser.index % len(items)]
                    chooser.index += 1
                else:
                    said = chooser.next()
            else:
                said = text
            desc = {"prompt": said, "enhance": enhance}
            at = now - show_clock._origin if show_clock.started and not show_clock.paused else show_clock.t
            for hook in hooks:
                hook(at, name, desc)
            if executor._busy or executor._queue:  # a hook sent something
                executor.submit("prompt", lambda: session.set_prompt(said, enrich=enhance), desc, name)
            else:
                result = session.set_prompt(said, enrich=enhance)
                if result is not ACKED:
                    executor.submit("prompt", lambda: result, desc, name)
                else:  # `Engine._apply_action`, for the two keys
                    engine._last_ack_ms = 0.0
                    state["prompt"] = said
                    state["enhance"] = enhance
                    applied["prompt"] = applied["enhance"] = (now, name)
                    if engine._observe_state:
                        engine._changed()
        except Exception as exc:  # noqa: BLE001 - as `_perform_all`: our bug, the show goes on
            bug(where, exc)
        if t is None:
            t = show_clock.t
        if journal._file is not None or journal.events.observers:  # active now: write what `_fire` writes
            engine._journal_fire(name, fire, t, lateness_ms, [])
        past.append((t, name, lateness_ms))
        if engine._observe_state:
            engine._changed()
        if events._subjects:
            events.emit("after", name)

    return on_next


def _deliver(engine: Engine, kind: str, method: str, args: tuple[Any, ...], kwargs: dict[str, Any],
             action: dict[str, Any], cue: str) -> None:
    """`engine.send(kind, call, action, cue)`, without the executor when it is idle and the call is acked at once."""
    session, ex = engine.session, engine.executor
    call = getattr(session, method)
    if ex._busy or ex._queue or engine.catching_up or not getattr(session, "acks_at_once", False):
        engine.send(kind, lambda: call(*args, **kwargs), action, cue)
        return
    hooks = engine.on_action
    if hooks:
        t = engine.show_clock.t + engine._ahead
        for hook in hooks:
            hook(t, cue, action)
        if ex._busy or ex._queue:  # a hook sent something
            ex.submit(kind, lambda: call(*args, **kwargs), action, cue)
            return
    result = call(*args, **kwargs)
    if result is not ACKED:  # a real awaitable after all: the executor waits for it
        ex.submit(kind, lambda: result, action, cue)
        return
    engine._last_ack_ms = 0.0  # acknowledged before the call returned: no time passed
    engine._apply_action(action, cue)
    if engine._observe_state:
        engine._changed()


def _prompt(engine: Engine, cue: str, place: str, action: PromptAction) -> Step:
    text, enhance = action.text, action.enhance

    def step(now: float) -> None:
        said = engine.choices.resolve(text, cue, place)
        _deliver(engine, "prompt", "set_prompt", (said,), {"enrich": enhance}, {"prompt": said, "enhance": enhance}, cue)

    return step


def _image(engine: Engine, cue: str, place: str, action: ImageAction) -> Step:
    image, prompt, enhance = action.image, action.prompt, action.enhance

    def step(now: float) -> None:
        text = None if prompt is None else engine.choices.resolve(prompt, cue, place)
        desc: dict[str, Any] = {"image": image}
        if text is not None:
            desc.update(prompt=text, enhance=enhance)
        _deliver(engine, "image", "set_image", (image,), {"prompt": text, "enrich": enhance}, desc, cue)

    return step


def _mirror(engine: Engine, cue: str, place: str, action: MirrorAction) -> Step:
    flip = action.value == "toggle"
    fixed = bool(action.value) if not flip else False

    def step(now: float) -> None:
        value = (not engine.mirror) if flip else fixed
        engine.mirror = value
        _deliver(engine, "mirror", "set_mirror", (value,), {}, {"mirror": value}, cue)

    return step
