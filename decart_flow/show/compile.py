"""Turn a document tree (from YAML or the Python builder) into a validated `ShowModel`.

Every rule of SHOW_FORMAT.md lives once: the show's and the cue's here, each trigger and action
kind's in its own module (engine/triggers, engine/actions), which this asks through their
registries. Problems are collected, not raised one by one, so a user sees every mistake in one
`validate` run; nothing is returned unless there are none.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from datetime import time as dtime
from pathlib import Path
from typing import Any, Callable

from decart_flow.show import checks
from decart_flow.show.model import (
    DAYS,
    MODES,
    Action,
    MAIN,
    CallAction,
    Choice,
    Cue,
    Initial,
    PromptAction,
    SessionPolicy,
    SessionSpec,
    ShowModel,
    Text,
    Tempo,
    TimelineEntry,
    Trigger,
    When,
    Where,
)
from decart_flow.engine import actions as action_kinds
from decart_flow.engine import triggers as trigger_kinds
from decart_flow.show.nodes import Node, Opaque
from decart_flow.show.placement import read_nodes
from decart_flow.show.problems import Problem, ShowError, did_you_mean
from decart_flow.show.reading import Ctx, Found
from decart_flow.tempo.config import read_go, read_tempo
from decart_flow.show.times import parse_clock, parse_duration, parse_offset

SHOW_KEYS = ("name", "model", "resolution", "speed", "source", "duration", "loop", "vars", "initial", "timeline", "cues",
             "lookahead", "tz", "session", "tempo", "go", "nodes", "sessions")
SESSION_KEYS = ("model", "source", "initial", "resolution", "speed")  # a session's; top-level in a one-session show
TO = "to"  # the sessions an action, a timeline entry or a cue goes to
SESSION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")
INITIAL_KEYS = ("prompt", "enhance", "image", "mirror")
# The trigger and action keys come from the kinds' registries (engine/triggers, engine/actions).
ACTION_KEYS = tuple(k for k in action_kinds.keys() if not k.startswith("<"))
TRIGGER_KEYS = tuple(k for k in trigger_kinds.keys() if not k.startswith("<"))
_TRIGGER_COMPANIONS = tuple(dict.fromkeys(k for kind in trigger_kinds.REGISTRY for k in kind.companions))
CUE_ONLY_KEYS = ("name",) + TRIGGER_KEYS + _TRIGGER_COMPANIONS + ("tz", "when", "mode", "lookahead", "then", TO)
CUE_KEYS = CUE_ONLY_KEYS + ACTION_KEYS
BODY_TO = "<to>"  # a Python cue's body actions' own `to=` (show/builder.py): the body's, not the `then`'s
_INTERNAL_KEYS = tuple(k for k in trigger_kinds.keys() + action_kinds.keys() if k.startswith("<")) + (BODY_TO,)
_ROUTED = tuple(k.keys[0] for k in action_kinds.REGISTRY if k.routed and not k.keys[0].startswith("<"))
CHOICE_KINDS = ("cycle", "shuffle", "random")
SOURCE_FORMS = "testsrc, camera, camera:/dev/videoN, file:PATH or image:PATH"
_DAY_NAMES = {d: d for d in DAYS} | {
    "monday": "mon", "tuesday": "tue", "wednesday": "wed", "thursday": "thu", "friday": "fri",
    "saturday": "sat", "sunday": "sun", "tues": "tue", "thur": "thu", "thurs": "thu",
}  # fmt: skip
_DAY_GROUPS = {"weekdays": DAYS[:5], "weekend": DAYS[5:], "weekends": DAYS[5:], "daily": DAYS}
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")  # an escaped brace, or a placeholder


class Compiler:
    """One compile of one show file; `problems` collects everything wrong with it.

    It is the `Reader` (show/reading.py) the kinds read their keys with."""

    def __init__(self, path: str | Path, base_dir: str | Path | None = None):
        self.label = str(path)
        self.path = Path(os.path.abspath(path))
        self.base = Path(os.path.abspath(base_dir)) if base_dir else self.path.parent
        self.problems: list[Problem] = []
        self._tz_seen: dict[int, str | None] = {}  # a cue's `tz:` node, checked once
        self.vars: dict[str, str] = {}
        self.model = ""
        self.actions_read: list[Action] = []  # every action read: checked against the model at the end
        self.sessions: list[SessionSpec] = []  # the show's sessions (read before the actions that name them)
        self._to_where: dict[int, Where] = {}  # id(action) -> where its `to:` is written
        self.cue_names_wanted: list[tuple[str, Where]] = []  # `on: after NAME`: checked once all cues are read

    # ------------------------------------------------------------ helpers

    def error(self, where: Where, message: str) -> None:
        self.problems.append(Problem(where, message))

    def check_keys(self, node: Node, allowed: tuple[str, ...], what: str) -> dict[str, tuple[Node, Node]]:
        """The mapping's pairs by key; unknown keys reported with a did-you-mean."""
        found: dict[str, tuple[Node, Node]] = {}
        for key, value in node.pairs or []:
            name = key.key
            if name not in allowed or (name in _INTERNAL_KEYS and not isinstance(value.value, Opaque)):
                public = [k for k in allowed if k not in _INTERNAL_KEYS]
                hint = did_you_mean(name, public)
                listing = "" if hint else f": {what} keys are " + ", ".join(public)
                if not hint and value.is_scalar and value.value is None and node.text.startswith("{"):
                    listing = ": inside {...} a comma starts a new key; put the text in quotes"
                self.error(key.where, f"unknown key '{name}'{hint}{listing}")
                continue
            found[name] = (key, value)
        return found

    def text(self, node: Node, what: str) -> str | None:
        if not node.is_scalar or isinstance(node.value, Opaque):
            self.error(node.where, f"{what} must be text, not {node.kind()}")
            return None
        text = node.scalar_text()
        problem = checks.text_problem(text) if text else None
        if problem:
            self.error(node.where, f"{what}: {problem}")
            return None
        return text

    def substitute(self, text: str, where: Where, args_ok: bool) -> str:
        """`{name}` replaced by its var; `{0}`, `{1}`... kept for event arguments; `{{` and `}}` are braces.

        In a text that takes event arguments the escapes stay for the engine's `fill`, which
        fills `{0}` and turns `{{` into `{` when the cue fires; elsewhere they become braces now.
        """

        def replace(match: re.Match[str]) -> str:
            if match.group(1) is None:  # `{{` or `}}`
                return match.group(0) if args_ok else match.group(0)[0]
            name = match.group(1).strip()
            if name.isdigit():
                if not args_ok:
                    self.error(
                        where,
                        f"'{{{name}}}' is an event argument: it works only in cues triggered "
                        "`on: osc`, `on: http` or `on: midi`",
                    )
                return match.group(0)
            if name in self.vars:
                return self.vars[name]
            hint = did_you_mean(name, self.vars)
            known = f" (vars: {', '.join(sorted(self.vars))})" if self.vars and not hint else ""
            self.error(where, f"unknown placeholder '{{{name}}}'{hint}{known}: define it under `vars:`")
            return match.group(0)

        return _PLACEHOLDER.sub(replace, text)

    def prompt_text(self, node: Node, ctx: Ctx, what: str = "prompt") -> str | None:
        text = self.text(node, what)
        if text is None:
            if node.is_scalar and node.value is None:
                self.error(node.where, f"empty {what}: write the text after `{what}:`")
            return None
        text = self.substitute(text, node.where, ctx.args_ok)
        if not text.strip():
            self.error(node.where, f"empty {what}: write the text after `{what}:`")
            return None
        if len(text) > checks.MAX_PROMPT:
            self.error(node.where, f"{what} too long ({len(text)} characters): at most {checks.MAX_PROMPT}")
            return None
        return text

    def prompt(self, node: Node, ctx: Ctx) -> Text | None:
        """`prompt: TEXT` or `prompt: {cycle|shuffle|random: [...]}`."""
        if not node.is_map:
            return self.prompt_text(node, ctx)
        found = self.check_keys(node, CHOICE_KINDS, "a prompt list's")
        if len(found) != 1:
            if not found and not node.pairs:
                self.error(node.where, "empty prompt list: use {cycle: [...]}, {shuffle: [...]} or {random: [...]}")
            elif len(found) > 1:
                self.error(node.where, "a prompt list has one of cycle:, shuffle: or random:, not several")
            return None
        kind, (key, items) = next(iter(found.items()))
        if not items.is_seq:
            self.error(items.where, f"{kind}: takes a list of prompts, e.g. {kind}: [Lego world, Watercolor]")
            return None
        if not items.items:
            self.error(items.where, f"{kind}: the list is empty: give at least one prompt")
            return None
        texts = [self.prompt_text(item, ctx) for item in items.items]
        if any(t is None for t in texts):
            return None
        return Choice(kind, tuple(t for t in texts if t is not None))  # type: ignore[arg-type]

    def boolean(self, node: Node, what: str) -> bool | None:
        if isinstance(node.value, bool) and node.is_scalar:
            return node.value
        self.error(node.where, f"{what} must be true or false")
        return None

    def _time(self, node: Node, parse: Callable[[Any], float]) -> float | None:
        if not node.is_scalar or node.value is None or isinstance(node.value, Opaque):
            try:
                parse(None if node.is_scalar else node.kind())
            except ValueError as e:
                self.error(node.where, str(e))
            return None
        value = node.value if isinstance(node.value, (int, float)) and node.raw is None else node.scalar_text()
        try:
            return parse(value)
        except ValueError as e:
            if isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
                try:
                    return parse(node.value)
                except ValueError:
                    pass
            self.error(node.where, str(e))
            return None

    def offset(self, node: Node) -> float | None:
        return self._time(node, parse_offset)

    def duration(self, node: Node, allow_zero: bool = False) -> float | None:
        return self._time(node, lambda v: parse_duration(v, allow_zero=allow_zero))

    def lookahead(self, node: Node) -> float | str | None:
        if node.is_scalar and isinstance(node.value, str) and node.value.strip() == "auto":
            return "auto"
        seconds = self._time(node, lambda v: parse_duration(v, allow_zero=True))
        if seconds is None:
            self.problems[-1] = Problem(node.where, f"bad lookahead '{node.scalar_text()}': use auto or a duration such as 200ms")
        return seconds

    def resolve(self, text: str) -> str:
        """A path as the model stores it: absolute, relative ones taken from the show's folder."""
        path = Path(os.path.expanduser(text))
        return os.path.abspath(path if path.is_absolute() else self.base / path)

    def file(self, node: Node, what: str, check: Callable[[str], str | None]) -> str | None:
        text = self.text(node, what)
        if text is None:
            if node.is_scalar:
                self.error(node.where, f"{what}: give a file path")
            return None
        text = self.substitute(text.strip(), node.where, False)
        if not text:
            self.error(node.where, f"{what}: give a file path")
            return None
        path = self.resolve(text)
        problem = check(path)
        if problem:
            self.error(node.where, f"{what} '{text}': {problem}")
            return None
        return path

    def image(self, node: Node, what: str = "image") -> str | None:
        text = node.scalar_text() if node.is_scalar else None
        if text is not None and checks.is_url(text.strip()):
            url = self.substitute(text.strip(), node.where, False)
            problem = checks.url_image_problem(url)
            if problem:
                self.error(node.where, f"{what} '{url}': {problem}")
                return None
            return url
        return self.file(node, what, checks.image_problem)

    # ------------------------------------------------------------ actions

    def actions(self, node: Node, ctx: Ctx, what: str) -> list[Action]:
        """A bare string (a prompt), an action mapping, a list of those, or a Python object."""
        if node.is_seq:
            if not node.items:
                self.error(node.where, f"{what}: the list of actions is empty")
            out: list[Action] = []
            for item in node.items:
                if item.is_seq:
                    self.error(item.where, f"{what}: an action is a prompt text or a mapping, not a list")
                    continue
                out.extend(self.actions(item, ctx, what))
            return out
        if isinstance(node.value, Opaque):
            obj = node.value.obj
            if isinstance(obj, CallAction):
                return [obj]
            self.error(node.where, f"{what}: not an action: {obj!r}")
            return []
        if node.is_scalar:
            if node.value is None:
                self.error(node.where, f"{what}: nothing to do: give a prompt text or actions such as mirror: toggle")
                return []
            text = self.prompt_text(node, ctx)
            return [PromptAction(text, True, node.where)] if text is not None else []
        found = self.check_keys(node, ACTION_KEYS + (TO,), "action")
        if not found:
            if not node.pairs:
                self.error(node.where, f"{what}: nothing to do")
            return []
        if set(found) == {TO}:
            self.error(node.where, f"{what}: nothing to do: `to:` says where an action goes; add one, e.g. prompt:")
            return []
        return self.action_pairs(found, ctx, node.where)

    def action_pairs(self, found: Found, ctx: Ctx, where: Where) -> list[Action]:
        """The actions of one mapping, in the order written; each key read by its kind.

        A key another kind reads beside its own (`prompt:` beside `image:`, `enhance:`) is not an
        action of its own; one with no such kind beside it is a mistake.
        """
        owners: dict[str, list[str]] = {}  # companion key -> the keys whose kinds read it
        for kind in action_kinds.REGISTRY:
            for key in kind.companions:
                owners.setdefault(key, []).extend(kind.keys)
        to, to_where = ctx.to, ctx.to_where
        if TO in found:  # the mapping's own `to:` wins over its cue's
            to, to_where = self.route(found[TO][1]), found[TO][1].where
            routed = [k for k in found if (kind := action_kinds.kind_for_key(k)) is not None and kind.routed]
            if not routed and any(action_kinds.kind_for_key(k) is not None for k in found):
                shown = ", ".join(f"{k}:" for k in found if k != TO)
                self.error(found[TO][0].where, f"to: goes with actions that go to a session ({_listing(_ROUTED)}); "
                                               f"{shown} is show-wide")
        out: list[Action] = []
        for name, (key, value) in found.items():
            if name == TO:
                continue
            if any(owner in found for owner in owners.get(name, ())):
                continue  # read by the kind beside it
            kind = action_kinds.kind_for_key(name)
            if kind is None:
                if name in owners:
                    self.error(key.where, f"{name}: goes beside " + " or ".join(f"{k}:" for k in owners[name]))
                continue
            action = kind.read(self, found, name, ctx)
            if action is not None:
                if kind.routed and action.to is None and to is not None:
                    action = replace(action, to=to)
                if kind.routed and action.to is not None:
                    self._to_where[id(action)] = to_where or action.where
                self.actions_read.append(action)
                out.append(action)
        return out

    def route(self, node: Node) -> tuple[str, ...] | None:
        """`to: NAME` or `to: [NAME, ...]`: sessions of the show; None after reporting a problem."""
        items = node.items if node.is_seq else [node]
        if not items or (node.is_scalar and node.value is None):
            self.error(node.where, f"to: give a session or a list of them: {', '.join(self.session_names())}")
            return None
        names: list[str] = []
        ok = True
        for item in items:
            text = item.scalar_text() if item.is_scalar and not isinstance(item.value, Opaque) else None
            known = self.session_names()
            if text is None or not text.strip():
                self.error(item.where, f"to: a session is a name, not {item.kind() if text is None else 'empty'}")
                ok = False
            elif text.strip() not in known:
                text = text.strip()
                hint = did_you_mean(text, known)
                self.error(item.where, f"to: unknown session '{text}'{hint}: this show's sessions are {', '.join(known)}")
                ok = False
            elif text.strip() in names:
                self.error(item.where, f"to: session '{text.strip()}' is named twice")
                ok = False
            else:
                names.append(text.strip())
        return tuple(names) if ok else None

    def session_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.sessions) or (MAIN,)

    def enhance(self, found: Found) -> bool:
        """`enhance:` beside a prompt or an image (true when not written)."""
        if "enhance" not in found:
            return True
        return bool(self.boolean(found["enhance"][1], "enhance"))

    # ------------------------------------------------------------ the show

    def compile(self, root: Node) -> ShowModel:
        if not root.is_map:
            self.error(root.where, f"a show is a mapping (name:, model:, timeline:, cues:, ...), not {root.kind()}")
            raise ShowError(self.problems)
        found = self.check_keys(root, SHOW_KEYS, "show")
        get = lambda k: found[k][1] if k in found else None  # noqa: E731

        if get("vars") is not None:
            self._vars(get("vars"))
        name = self.path.stem
        if get("name") is not None:
            text = self.text(get("name"), "name")
            name = text.strip() if text and text.strip() else name
        if get("sessions") is not None:
            for key in SESSION_KEYS:
                if key in found:
                    self.error(found[key][0].where, f"{key}: and sessions: do not go together: with sessions:, "
                                                    f"each session has its own {key}: (move it under sessions: NAME:)")
            self.sessions = self._sessions(get("sessions"))
            first = self.sessions[0] if self.sessions else SessionSpec(MAIN, "")
            self.model = first.model
            model_where, resolution, speed = first.model_where, first.resolution, first.speed
            source, initial = first.source, first.initial
        else:
            model_where = found["model"][0].where if "model" in found else root.where
            self.model = self._model(get("model"), root.where)
            resolution, speed = self._model_options(self.model, get("resolution"), get("speed"))
            source = self._source(get("source")) if get("source") is not None else "testsrc"
            initial = self._initial(get("initial")) if get("initial") is not None else Initial()
            self._portrait(self.model, initial, found["initial"][0].where if "initial" in found else model_where)
            self.sessions = [SessionSpec(MAIN, self.model, source, initial, resolution, speed, root.where, model_where)]
        duration = self.duration(get("duration")) if get("duration") is not None else None
        loop = bool(self.boolean(get("loop"), "loop")) if get("loop") is not None else False
        if loop and duration is None and "duration" not in found:
            self.error(found["loop"][0].where, "loop: true needs a duration: (the timeline starts over after it)")
        lookahead = self.lookahead(get("lookahead")) if get("lookahead") is not None else None
        self.tz = self.zone(get("tz")) if get("tz") is not None else None
        tempo_problems = len(self.problems)
        self.tempo = read_tempo(self, get("tempo")) if get("tempo") is not None else None
        tempo_ok = self.tempo is not None or (get("tempo") is None and len(self.problems) == tempo_problems)
        go_quantize = read_go(self, get("go")) if get("go") is not None else None
        timeline = self._timeline(get("timeline")) if get("timeline") is not None else []
        cues = self._cues(get("cues")) if get("cues") is not None else []
        session = self._session(get("session")) if get("session") is not None else None
        if self._beats_at is not None and self.tempo is None and tempo_ok:
            self.error(self._beats_at, "this counts beats, and the show has no tempo: add `tempo: {bpm: 120}`")
        self.check_model(self.actions_read)
        nodes = read_nodes(self, get("nodes"), sessions=self.session_names())
        if self.problems:
            raise ShowError(sorted(self.problems, key=lambda p: (p.where.line, p.where.col)))
        return ShowModel(
            name=name,
            model=self.model,
            source=source,
            duration=duration,
            loop=loop,
            vars=dict(self.vars),
            initial=initial,
            timeline=tuple(sorted(timeline, key=lambda e: e.t)),
            cues=tuple(cues),
            lookahead=lookahead,  # type: ignore[arg-type]
            tz=self.tz,
            path=self.path,
            where=root.where,
            resolution=resolution,
            speed=speed,
            model_where=model_where,
            session=session,
            tempo=self.tempo,
            go_quantize=go_quantize,
            nodes=nodes,
            sessions=tuple(self.sessions),
        )

    _has_initial_image_problem = False

    def _model(self, node: Node | None, where: Where, what: str = "") -> str:
        """`model:` as its canonical name ("" after reporting a problem)."""
        if node is None:
            self.error(where, f"missing `model:`{what}: use {checks.models_hint()}")
            return ""
        text = self.text(node, "model")
        if text is None:
            return ""
        model = checks.canonical_model(text) or ""
        if not model:
            self.error(node.where, checks.model_problem(text))
        return model

    def _portrait(self, model: str, initial: Initial, where: Where) -> None:
        if model == checks.AVATAR_MODEL and initial.image is None and not self._has_initial_image_problem:
            self.error(where, "live_avatar needs a portrait: add `initial: {image: portrait.png}`")

    def _sessions(self, node: Node) -> list[SessionSpec]:
        """`sessions:`: name -> {model, source, initial, resolution, speed}, in the file's order."""
        example = "sessions: {left: {model: lucy-restyle-2}, right: {model: lucy-restyle-2}}"
        if not node.is_map or not node.pairs:
            what = "empty" if node.is_map or (node.is_scalar and node.value is None) else node.kind()
            self.error(node.where, f"sessions: is a mapping of session name to its model, source and initial "
                                   f"state, not {what}: {example}")
            return []
        out: list[SessionSpec] = []
        for key, value in node.pairs:
            name = key.key.strip() if key.value is not None else ""
            if not SESSION_NAME.fullmatch(name):
                shown = f"'{name}'" if name else "empty"
                self.error(key.where, f"session name {shown}: use a word of letters, digits, '-' and '_' "
                                      "(it names files and topics), e.g. left")
                continue
            if not value.is_map:
                self.error(value.where, f"session '{name}' is a mapping: {{model: lucy-restyle-2, source: camera, "
                                        "initial: {prompt: Anime}}")
                continue
            found = self.check_keys(value, SESSION_KEYS, f"session '{name}'")
            get = lambda k: found[k][1] if k in found else None  # noqa: E731
            model = self._model(get("model"), key.where, f" in session '{name}'")
            model_where = found["model"][0].where if "model" in found else key.where
            resolution, speed = self._model_options(model, get("resolution"), get("speed"))
            source = self._source(get("source")) if get("source") is not None else "testsrc"
            self._has_initial_image_problem = False
            initial = self._initial(get("initial")) if get("initial") is not None else Initial()
            self._portrait(model, initial, found["initial"][0].where if "initial" in found else model_where)
            out.append(SessionSpec(name, model, source, initial, resolution, speed, key.where, model_where))
        return out

    def check_model(self, actions: list[Action]) -> None:
        """What each action's kind finds wrong with it on the models of the sessions it goes to
        (audio off live_avatar): sent `to:` one that cannot take it, or none can."""
        sessions = self.sessions or [SessionSpec(MAIN, self.model)]
        for action in actions:
            kind = action_kinds.action_kind(action)
            if len(sessions) == 1:
                problem = kind.model_problem(action, sessions[0].model)
                if problem:
                    self.error(action.where, problem)
                continue
            problems = {s.name: kind.model_problem(action, s.model) for s in sessions if s.model}
            able = [name for name, problem in problems.items() if problem is None]
            to = getattr(action, "to", None)
            if to is not None:
                for name in to:
                    if problems.get(name):
                        instead = f"send it to {', '.join(able)}" if able else "no session of this show can take it"
                        where = self._to_where.get(id(action), action.where)
                        self.error(where, f"to: {name}: {problems[name]}: {instead}")
            elif not able and problems:
                first = next(p for p in problems.values() if p)
                self.error(action.where, f"{first}: no session of this show can take it")

    def _session(self, node: Node) -> SessionPolicy | None:
        """`session: {when, budget}`: opening hours (read in the show's zone) and a daily budget."""
        if not node.is_map:
            self.error(node.where, 'session: is a mapping: {when: {between: ["09:45", "18:00"]}, budget: 6h/day}')
            return None
        found = self.check_keys(node, ("when", "budget"), "session")
        when = self.when(found["when"][1]) if "when" in found else None
        if when is not None:
            when = replace(when, tz=self.tz)
        budget = None
        if "budget" in found:
            value = found["budget"][1]
            text = (value.scalar_text() or "").strip() if value.is_scalar else ""
            amount, _, per = text.partition("/")
            try:
                budget = parse_duration(amount.strip()) if per.strip() in ("day", "") and amount.strip() else None
            except ValueError:
                budget = None
            if budget is None or budget <= 0 or budget > 86400:
                self.error(value.where, f"budget: '{text}' is not a daily budget: write a duration per day, e.g. 6h/day or 90m/day")
                budget = None
        if when is None and budget is None:
            if not found:
                self.error(node.where, "session: needs when: (opening hours) or budget: (e.g. 6h/day)")
            return None
        return SessionPolicy(when, budget, node.where)

    def _model_options(self, name: str, resolution: Node | None, speed: Node | None) -> tuple[str | None, str | None]:
        """`resolution:` and `speed:`, each checked against what the model (the show's, a session's) offers."""
        from decart_flow.realtime.models import find

        model = find(name)
        values: list[str | None] = []
        for key, node in (("resolution", resolution), ("speed", speed)):
            text = self.text(node, key) if node is not None else None
            text = text.strip() if text else None
            if text is not None and model is not None:
                problem = model.option_problem(text, None) if key == "resolution" else model.option_problem(None, text)
                if problem:
                    assert node is not None
                    self.error(node.where, problem)
            values.append(text)
        return values[0], values[1]

    def _vars(self, node: Node) -> None:
        if not node.is_map:
            self.error(node.where, "vars: is a mapping, e.g. vars: {city: Tokyo}")
            return
        for key, value in node.pairs or []:
            name = key.key.strip()
            if not name or name.isdigit() or "{" in name or "}" in name:
                self.error(key.where, f"bad var name '{name}': use a word (digits are kept for event arguments)")
                continue
            text = value.scalar_text() if value.is_scalar and not isinstance(value.value, Opaque) else None
            if text is None:
                self.error(value.where, f"var '{name}' must be text")
                continue
            self.vars[name] = text

    def _source(self, node: Node) -> str:
        text = (self.text(node, "source") or "").strip()
        if not text and node.is_scalar:
            self.error(node.where, f"empty source: use {SOURCE_FORMS}")
        if not text:
            return "testsrc"
        kind, _, rest = text.partition(":")
        if text in ("testsrc", "camera"):
            return text
        if kind == "camera" and rest.strip():
            return text
        if kind in ("file", "image") and rest.strip():
            check = checks.video_problem if kind == "file" else checks.image_problem
            path = self.resolve(self.substitute(rest.strip(), node.where, False))
            problem = check(path)
            if problem:
                self.error(node.where, f"source {kind}:{rest.strip()}: {problem}")
            return f"{kind}:{path}"
        hint = did_you_mean(kind, ("testsrc", "camera", "file", "image"))
        self.error(node.where, f"bad source '{text}'{hint}: use {SOURCE_FORMS}")
        return "testsrc"

    def _initial(self, node: Node) -> Initial:
        ctx = Ctx()
        if node.is_scalar and not isinstance(node.value, Opaque):
            text = self.prompt_text(node, ctx)
            return Initial(prompt=text)
        if not node.is_map:
            self.error(node.where, "initial: is a prompt text or a mapping (prompt:, enhance:, image:, mirror:)")
            return Initial()
        found = self.check_keys(node, INITIAL_KEYS, "initial")
        prompt = enhance_value = image = None
        mirror = False
        if "prompt" in found:
            value = found["prompt"][1]
            if value.is_map:
                self.error(value.where, "the initial prompt is one text (cycle/shuffle/random go in cues)")
            else:
                prompt = self.prompt_text(value, ctx)
        if "enhance" in found:
            enhance_value = self.boolean(found["enhance"][1], "enhance")
        if "image" in found:
            value = found["image"][1]
            if not (value.is_scalar and value.value is None):
                before = len(self.problems)
                image = self.image(value, "initial image")
                self._has_initial_image_problem = len(self.problems) > before
        if "mirror" in found:
            mirror = bool(self.boolean(found["mirror"][1], "initial mirror"))
        return Initial(prompt=prompt, enhance=enhance_value is not False, image=image, mirror=mirror)

    def _timeline(self, node: Node) -> list[TimelineEntry]:
        entries: list[TimelineEntry] = []
        if node.is_map:
            for key, value in node.pairs or []:
                t, beat = self.timeline_time(key)
                value, lookahead = self._entry_lookahead(value)
                actions = self.actions(value, Ctx(), f"timeline {key.key}")
                if t is not None and actions:
                    place = " ".join(key.key.split()) if beat is not None else None
                    entries.append(TimelineEntry(t, tuple(actions), self._label(value), key.where, lookahead, beat, place))  # type: ignore[arg-type]
        elif node.is_seq:
            for item in node.items or []:
                if not item.is_map:
                    self.error(item.where, "a timeline entry in a list is a mapping with at: and actions")
                    continue
                found = self.check_keys(item, ("at", "lookahead", TO) + ACTION_KEYS, "timeline entry")
                if "at" not in found:
                    self.error(item.where, "this timeline entry has no at: time")
                    continue
                at = found.pop("at")[1]
                t, beat = self.timeline_time(at)
                lookahead = self.lookahead(found.pop("lookahead")[1]) if "lookahead" in found else None
                actions = self.action_pairs(found, Ctx(), item.where) if set(found) - {TO} else []
                if not set(found) - {TO}:
                    self.error(item.where, "this timeline entry does nothing")
                if t is not None and actions:
                    place = " ".join(str(at.scalar_text()).split()) if beat is not None else None
                    entries.append(TimelineEntry(t, tuple(actions), self._label(item), item.where, lookahead, beat, place))  # type: ignore[arg-type]
        else:
            self.error(node.where, "timeline: maps show times to actions, e.g. `0:30: Cyberpunk city`")
        return entries

    def timeline_time(self, node: Node) -> tuple[float | None, float | None]:
        """A timeline entry's (show time, place on the beat grid or None): read by the first trigger
        kind that takes it (`bar 17`), else as a show time (`1:30`)."""
        for kind in trigger_kinds.REGISTRY:
            if kind.timeline_time is not None and (kind.accepts is None or kind.accepts(node)):
                return kind.timeline_time(self, node)
        return self.offset(node), None

    tempo: Tempo | None = None  # the show's `tempo:` (read before the timeline and cues)
    _beats_at: Where | None = None  # the first place that counts beats

    def uses_beats(self, where: Where) -> None:
        """A kind that counts beats says so: a show with beats and no `tempo:` is a problem there."""
        if self._beats_at is None:
            self._beats_at = where

    def beats_per_bar(self) -> int:
        return self.tempo.beats_per_bar if self.tempo is not None else 4

    def bpm(self) -> float:
        return self.tempo.bpm if self.tempo is not None else 120.0

    def _entry_lookahead(self, node: Node) -> tuple[Node, float | str | None]:
        """`0:30: {prompt: X, lookahead: 200ms}`: the entry's own lookahead, and the mapping without it."""
        if not node.is_map or not any(k.key == "lookahead" for k, _ in node.pairs or []):
            return node, None
        pairs = [(k, v) for k, v in node.pairs or [] if k.key != "lookahead"]
        setting = next(v for k, v in node.pairs or [] if k.key == "lookahead")
        return Node(where=node.where, pairs=pairs, text=node.text), self.lookahead(setting)

    def _label(self, node: Node) -> str:
        return _label(node, self.vars)

    # ------------------------------------------------------------ cues

    def _cues(self, node: Node) -> list[Cue]:
        if not node.is_seq:
            self.error(node.where, "cues: is a list; start each cue with `- name:`")
            return []
        cues: list[Cue] = []
        names: dict[str, Where] = {}
        for index, item in enumerate(node.items or []):
            cue = self._cue(item, index, names)
            if cue is not None:
                cues.append(cue)
        for target, where in self.cue_names_wanted:
            if target not in names:
                self.error(where, f"on: after '{target}': no cue has that name{did_you_mean(target, names)}")
        return cues

    def _cue(self, node: Node, index: int, names: dict[str, Where]) -> Cue | None:
        if not node.is_map:
            self.error(node.where, f"a cue is a mapping: name:, a trigger ({_listing(TRIGGER_KEYS)}) and actions")
            return None
        found = self.check_keys(node, CUE_KEYS + _INTERNAL_KEYS, "cue")
        name = f"cue {index + 1}"
        if "name" in found:
            key, value = found["name"]
            text = self.text(value, "name")
            if text is not None and text.strip():
                name = text.strip()
            else:
                self.error(value.where, "empty cue name")
            if name in names:
                self.error(value.where, f"duplicate cue name '{name}' (first at line {names[name].line})")
            names.setdefault(name, value.where)
        else:
            names.setdefault(name, node.where)
        trigger_keys = [k for k in trigger_kinds.keys() if k in found]
        trigger: Trigger | None = None
        kind = None
        if not trigger_keys:
            self.error(node.where, f"cue '{name}' has no trigger: add one of {_listing(TRIGGER_KEYS)}")
        elif len(trigger_keys) > 1:
            first, second = trigger_keys[0], trigger_keys[1]
            self.error(found[second][0].where, f"cue '{name}' has two triggers ({first}: and {second}:): a cue has exactly one")
        else:
            kind = trigger_kinds.kind_for_key(trigger_keys[0], found[trigger_keys[0]][1])
            trigger = kind.read(self, found)
        for other in trigger_kinds.REGISTRY:
            for key in other.companions:
                if key in found and other.key not in trigger_keys:
                    self.error(found[key][0].where, f"{key}: goes with {other.key}:")
        if "tz" in found and not (kind is not None and kind.zoned) and "when" not in found:
            zoned = [f"{k.key}:" for k in trigger_kinds.REGISTRY if k.zoned] + ["when:"]
            self.error(found["tz"][0].where, f"tz: goes with {' or '.join(zoned)} (the zone they read the wall clock in)")
        ctx = Ctx(args_ok=kind is not None and trigger is not None and kind.args(trigger))
        if TO in found:  # the default of the cue's actions (an action's own `to:` wins)
            ctx = Ctx(ctx.args_ok, to=self.route(found[TO][1]), to_where=found[TO][1].where)
        when = self.when(found["when"][1]) if "when" in found else None
        if when is not None:  # read in the cue's zone, else the show's (compiled before the cues)
            when = replace(when, tz=self.cue_tz(found) or self.tz)
            if kind is not None and trigger is not None:
                trigger = kind.with_when(trigger, when)
        mode = "restart"
        if "mode" in found:
            value = found["mode"][1]
            text = value.scalar_text() if value.is_scalar else None
            if text in MODES:
                mode = text
            else:
                self.error(value.where, f"bad mode '{text}'{did_you_mean(str(text), MODES)}: use {', '.join(MODES)}")
        lookahead = self.lookahead(found["lookahead"][1]) if "lookahead" in found else None
        then: list[Action] = []
        if "then" in found:
            then = self.actions(found["then"][1], Ctx(ctx.args_ok, in_then=True, to=ctx.to, to_where=ctx.to_where), "then")
        body_keys = {k: v for k, v in found.items() if action_kinds.kind_for_key(k) is not None or k in ACTION_KEYS}
        body_ctx = ctx
        if BODY_TO in found:  # written in Python: `show.at(t, prompt(..., to="left"))`
            to_node = found[BODY_TO][1].value.obj
            body_ctx = Ctx(ctx.args_ok, to=self.route(to_node), to_where=to_node.where)
        actions = self.action_pairs(body_keys, body_ctx, node.where) if body_keys else []
        if TO in found and not any(action_kinds.action_kind(a).routed for a in actions + then):
            self.error(found[TO][0].where, f"to: goes with actions that go to a session ({_listing(_ROUTED)}); "
                                           f"cue '{name}' has none")
        if not body_keys and "then" not in found and not (kind is not None and kind.brings_actions):
            doers = [k.keys[0] for k in action_kinds.REGISTRY if k.in_body and not k.keys[0].startswith("<")]
            self.error(node.where, f"cue '{name}' does nothing: add {_listing(tuple(doers))}")
        if trigger is None:
            return None
        return Cue(name, trigger, tuple(actions), tuple(then), when, mode, lookahead, node.where)  # type: ignore[arg-type]

    tz: str | None = None  # the show's `tz:`

    def zone(self, node: Node) -> str | None:
        text = self.text(node, "tz")
        problem = checks.tz_problem(text.strip()) if text is not None else "tz: give a zone name"
        if problem:
            self.error(node.where, problem)
            return None
        return text.strip() if text else None

    def cue_tz(self, found: dict[str, tuple[Node, Node]]) -> str | None:
        """A cue's `tz:` (checked once: the cron trigger and `when` both ask)."""
        if "tz" not in found:
            return None
        node = found["tz"][1]
        key = id(node)
        if key not in self._tz_seen:
            self._tz_seen[key] = self.zone(node)
        return self._tz_seen[key]

    def when(self, node: Node) -> When | None:
        if not node.is_map:
            self.error(node.where, 'when: is a mapping: {between: ["09:00", "18:00"], days: [mon, tue]}')
            return None
        found = self.check_keys(node, ("between", "days"), "when")
        if not found:
            if not node.pairs:
                self.error(node.where, "when: needs between: or days:")
            return None
        windows: list[tuple[dtime, dtime]] = []
        if "between" in found:
            value = found["between"][1]
            pairs = value.items if value.is_seq and value.items and all(i.is_seq for i in value.items) else [value]
            for pair in pairs:
                if not pair.is_seq or len(pair.items or []) != 2 or not all(i.is_scalar for i in pair.items or []):
                    self.error(pair.where, 'between: takes a pair of times, e.g. ["09:00", "18:00"]')
                    continue
                ends = []
                for end in pair.items or []:
                    try:
                        ends.append(parse_clock(end.scalar_text()))
                    except ValueError as e:
                        self.error(end.where, str(e))
                if len(ends) == 2:
                    if ends[0] == ends[1]:
                        self.error(pair.where, "between: the window is empty (start equals end)")
                    else:
                        windows.append((ends[0], ends[1]))
        days: set[str] = set()
        if "days" in found:
            value = found["days"][1]
            items = value.items if value.is_seq else [value]
            if value.is_seq and not items:
                self.error(value.where, "days: the list is empty")
            for item in items or []:
                word = (item.scalar_text() or "").strip().lower() if item.is_scalar else ""
                if word in _DAY_NAMES:
                    days.add(_DAY_NAMES[word])
                elif word in _DAY_GROUPS:
                    days.update(_DAY_GROUPS[word])
                else:
                    hint = did_you_mean(word, list(_DAY_NAMES) + list(_DAY_GROUPS))
                    self.error(item.where, f"bad day '{item.scalar_text()}'{hint}: use mon, tue, wed, thu, fri, sat, sun, weekdays or weekend")
        return When(tuple(windows), frozenset(days))


def _listing(keys: tuple[str, ...]) -> str:
    """`at:, every:, cron: or on:`"""
    words = [f"{k}:" for k in keys]
    return ", ".join(words[:-1]) + " or " + words[-1] if len(words) > 1 else "".join(words)


def _label(node: Node, vars: dict[str, str]) -> str:
    """What the TUI shows for a timeline entry: its source text on one line, vars filled in."""
    text = " ".join((node.text or node.scalar_text() or "").split())
    text = _PLACEHOLDER.sub(lambda m: m.group(0)[0] if m.group(1) is None else vars.get(m.group(1).strip(), m.group(0)),
                            text)
    return text if len(text) <= 120 else text[:117] + "..."
