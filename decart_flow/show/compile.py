"""Turn a document tree (from YAML or the Python builder) into a validated `ShowModel`.

Every rule of SHOW_FORMAT.md lives here, once. Problems are collected, not raised one by one, so
a user sees every mistake in one `validate` run; nothing is returned unless there are none.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from datetime import time as dtime
from pathlib import Path
from typing import Any, Callable

from decart_flow.show import checks
from decart_flow.show.model import (
    DAYS,
    MODES,
    Action,
    AtTrigger,
    AudioAction,
    CallAction,
    Choice,
    ControlAction,
    CronTrigger,
    Cue,
    EventTrigger,
    EveryTrigger,
    ImageAction,
    Initial,
    LogAction,
    MirrorAction,
    PromptAction,
    ReactiveTrigger,
    SessionPolicy,
    ShowModel,
    Text,
    TimelineEntry,
    Trigger,
    WaitAction,
    When,
    Where,
)
from decart_flow.show.nodes import Node, Opaque
from decart_flow.show.placement import read_nodes
from decart_flow.show.problems import Problem, ShowError, did_you_mean
from decart_flow.show.times import format_seconds, parse_clock, parse_duration, parse_offset

SHOW_KEYS = ("name", "model", "resolution", "speed", "source", "duration", "loop", "vars", "initial", "timeline", "cues",
             "lookahead", "tz", "session", "nodes")
INITIAL_KEYS = ("prompt", "enhance", "image", "mirror")
ACTION_KEYS = ("prompt", "enhance", "image", "mirror", "audio", "wait", "log", "go", "pause", "resume", "stop")
TRIGGER_KEYS = ("at", "every", "cron", "on")
REACTIVE_KEY = "<reactive>"  # the Python builder's @show.reactive; not reachable from YAML
CALL_KEY = "<call>"  # the Python builder's `async def handler(session)` in a cue body
_INTERNAL_KEYS = (REACTIVE_KEY, CALL_KEY)
CUE_ONLY_KEYS = ("name",) + TRIGGER_KEYS + ("from", "until", "times", "tz", "when", "mode", "lookahead", "then")
CUE_KEYS = CUE_ONLY_KEYS + ACTION_KEYS
CONTROL_COMMANDS = ("next", "back", "pause", "resume", "stop")
EVENT_FORMS = "key K, osc /address, http /path, state S, after NAME, midi note N or midi cc N"
EVENT_KINDS = ("key", "osc", "http", "state", "after", "midi")
STATE_NAMES = ("connecting", "connected", "generating", "reconnecting", "disconnected")
ARGUMENT_KINDS = ("osc", "http", "midi")  # events whose arguments fill {0}, {1}, ...
CHOICE_KINDS = ("cycle", "shuffle", "random")
SOURCE_FORMS = "testsrc, camera, camera:/dev/videoN, file:PATH or image:PATH"
#: Keys the TUI keeps for itself; `on: key K` may not use them.
BUILTIN_KEYS = frozenset({"space", " ", "enter", "g", "b", "p", "i", "m", "r", "q", "question_mark", "?"})
_BUILTIN_SHOWN = "space, enter, g, b, p, i, m, r, q, ?"
_DAY_NAMES = {d: d for d in DAYS} | {
    "monday": "mon", "tuesday": "tue", "wednesday": "wed", "thursday": "thu", "friday": "fri",
    "saturday": "sat", "sunday": "sun", "tues": "tue", "thur": "thu", "thurs": "thu",
}  # fmt: skip
_DAY_GROUPS = {"weekdays": DAYS[:5], "weekend": DAYS[5:], "weekends": DAYS[5:], "daily": DAYS}
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")  # an escaped brace, or a placeholder
_KEY_NAME = re.compile(r"[A-Za-z0-9_+\-]+|\S")


@dataclass(frozen=True)
class _Ctx:
    """What an action may contain where it is written."""

    args_ok: bool = False  # `{0}` allowed: the cue fires on osc/http/midi
    in_then: bool = False  # `wait:` allowed


class Compiler:
    """One compile of one show file; `problems` collects everything wrong with it."""

    def __init__(self, path: str | Path, base_dir: str | Path | None = None):
        self.label = str(path)
        self.path = Path(os.path.abspath(path))
        self.base = Path(os.path.abspath(base_dir)) if base_dir else self.path.parent
        self.problems: list[Problem] = []
        self._tz_seen: dict[int, str | None] = {}  # a cue's `tz:` node, checked once
        self.vars: dict[str, str] = {}
        self.model = ""
        self._audio: list[AudioAction] = []

    # ------------------------------------------------------------ helpers

    def error(self, where: Where, message: str) -> None:
        self.problems.append(Problem(where, message))

    def _check_keys(self, node: Node, allowed: tuple[str, ...], what: str) -> dict[str, tuple[Node, Node]]:
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

    def _text(self, node: Node, what: str) -> str | None:
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

    def _prompt_text(self, node: Node, ctx: _Ctx, what: str = "prompt") -> str | None:
        text = self._text(node, what)
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

    def _prompt(self, node: Node, ctx: _Ctx) -> Text | None:
        """`prompt: TEXT` or `prompt: {cycle|shuffle|random: [...]}`."""
        if not node.is_map:
            return self._prompt_text(node, ctx)
        found = self._check_keys(node, CHOICE_KINDS, "a prompt list's")
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
        texts = [self._prompt_text(item, ctx) for item in items.items]
        if any(t is None for t in texts):
            return None
        return Choice(kind, tuple(t for t in texts if t is not None))  # type: ignore[arg-type]

    def _bool(self, node: Node, what: str) -> bool | None:
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

    def _lookahead(self, node: Node) -> float | str | None:
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

    def _file(self, node: Node, what: str, check: Callable[[str], str | None]) -> str | None:
        text = self._text(node, what)
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

    def _image(self, node: Node, what: str = "image") -> str | None:
        text = node.scalar_text() if node.is_scalar else None
        if text is not None and checks.is_url(text.strip()):
            url = self.substitute(text.strip(), node.where, False)
            problem = checks.url_image_problem(url)
            if problem:
                self.error(node.where, f"{what} '{url}': {problem}")
                return None
            return url
        return self._file(node, what, checks.image_problem)

    # ------------------------------------------------------------ actions

    def actions(self, node: Node, ctx: _Ctx, what: str) -> list[Action]:
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
            text = self._prompt_text(node, ctx)
            return [PromptAction(text, True, node.where)] if text is not None else []
        found = self._check_keys(node, ACTION_KEYS, "action")
        if not found:
            if not node.pairs:
                self.error(node.where, f"{what}: nothing to do")
            return []
        return self.action_pairs(found, ctx, node.where)

    def action_pairs(self, found: dict[str, tuple[Node, Node]], ctx: _Ctx, where: Where) -> list[Action]:
        enhance = True
        if "enhance" in found:
            key, value = found["enhance"]
            enhance = bool(self._bool(value, "enhance"))
            if "prompt" not in found and "image" not in found:
                self.error(key.where, "enhance: goes beside prompt: or image:")
        out: list[Action] = []
        for name, (key, value) in found.items():
            action: Action | None = None
            if name == "image":
                image = None if (value.is_scalar and value.value is None) else self._image(value)
                if image is None and not (value.is_scalar and value.value is None):
                    continue
                text = self._prompt(found["prompt"][1], ctx) if "prompt" in found else None
                action = ImageAction(image, text, enhance, key.where)
            elif name == "prompt" and "image" not in found:
                text = self._prompt(value, ctx)
                if text is not None:
                    action = PromptAction(text, enhance, key.where)
            elif name == "mirror":
                if value.is_scalar and (isinstance(value.value, bool) or value.scalar_text() == "toggle"):
                    action = MirrorAction(value.value if isinstance(value.value, bool) else "toggle", key.where)
                else:
                    self.error(value.where, "mirror: use true, false or toggle")
            elif name == "audio":
                path = self._file(value, "audio", checks.audio_problem)
                if path is not None:
                    action = AudioAction(path, key.where, checks.audio_seconds(path))
                    self._audio.append(action)
            elif name == "wait":
                if not ctx.in_then:
                    self.error(key.where, "wait: only inside a cue's then: list (it pauses between its steps)")
                    continue
                seconds = self.duration(value, allow_zero=True)
                if seconds is not None:
                    action = WaitAction(seconds, key.where)
            elif name == "log":
                text = self._prompt_text(value, ctx, "log")
                if text is not None:
                    action = LogAction(text, key.where)
            elif name == "go":
                command = value.scalar_text() if value.is_scalar else None
                if command in CONTROL_COMMANDS:
                    action = ControlAction(command, key.where)  # type: ignore[arg-type]
                else:
                    hint = did_you_mean(str(command), CONTROL_COMMANDS)
                    self.error(value.where, f"go: '{command}' is not a command{hint}: use next, back, pause, resume or stop")
            elif name == CALL_KEY:
                obj = value.value.obj
                if isinstance(obj, CallAction):
                    action = obj
                else:
                    self.error(value.where, f"not an action: {obj!r}")
            elif name in ("pause", "resume", "stop"):
                if value.is_scalar and value.value in (None, True):
                    action = ControlAction(name, key.where)  # type: ignore[arg-type]
                else:
                    self.error(value.where, f"{name}: takes no value (write `{name}:` or `go: {name}`)")
            if action is not None:
                out.append(action)
        return out

    # ------------------------------------------------------------ the show

    def compile(self, root: Node) -> ShowModel:
        if not root.is_map:
            self.error(root.where, f"a show is a mapping (name:, model:, timeline:, cues:, ...), not {root.kind()}")
            raise ShowError(self.problems)
        found = self._check_keys(root, SHOW_KEYS, "show")
        get = lambda k: found[k][1] if k in found else None  # noqa: E731

        if get("vars") is not None:
            self._vars(get("vars"))
        name = self.path.stem
        if get("name") is not None:
            text = self._text(get("name"), "name")
            name = text.strip() if text and text.strip() else name
        model_where = found["model"][0].where if "model" in found else root.where
        if get("model") is None:
            self.error(root.where, f"missing `model:`: use {checks.models_hint()}")
        else:
            text = self._text(get("model"), "model")
            if text is not None:
                self.model = checks.canonical_model(text) or ""
                if not self.model:
                    self.error(get("model").where, checks.model_problem(text))
        resolution, speed = self._model_options(get("resolution"), get("speed"))
        source = self._source(get("source")) if get("source") is not None else "testsrc"
        duration = self.duration(get("duration")) if get("duration") is not None else None
        loop = bool(self._bool(get("loop"), "loop")) if get("loop") is not None else False
        if loop and duration is None and "duration" not in found:
            self.error(found["loop"][0].where, "loop: true needs a duration: (the timeline starts over after it)")
        lookahead = self._lookahead(get("lookahead")) if get("lookahead") is not None else None
        self.tz = self._tz(get("tz")) if get("tz") is not None else None
        initial = self._initial(get("initial")) if get("initial") is not None else Initial()
        if self.model == checks.AVATAR_MODEL and initial.image is None and not (
            get("initial") is not None and self._has_initial_image_problem
        ):
            where = found["initial"][0].where if "initial" in found else model_where
            self.error(where, "live_avatar needs a portrait: add `initial: {image: portrait.png}`")
        timeline = self._timeline(get("timeline")) if get("timeline") is not None else []
        cues = self._cues(get("cues")) if get("cues") is not None else []
        session = self._session(get("session")) if get("session") is not None else None
        nodes = read_nodes(self, get("nodes"), sessions=("main",))
        if self.model and self.model != checks.AVATAR_MODEL:
            for audio in self._audio:
                self.error(audio.where, f"audio: plays only on the live_avatar model (this show's model is {self.model})")
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
            nodes=nodes,
        )

    _has_initial_image_problem = False

    def _session(self, node: Node) -> SessionPolicy | None:
        """`session: {when, budget}`: opening hours (read in the show's zone) and a daily budget."""
        if not node.is_map:
            self.error(node.where, 'session: is a mapping: {when: {between: ["09:45", "18:00"]}, budget: 6h/day}')
            return None
        found = self._check_keys(node, ("when", "budget"), "session")
        when = self._when(found["when"][1]) if "when" in found else None
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

    def _model_options(self, resolution: Node | None, speed: Node | None) -> tuple[str | None, str | None]:
        """`resolution:` and `speed:`, each checked against what the show's model offers."""
        from decart_flow.realtime.models import find

        model = find(self.model)
        values: list[str | None] = []
        for key, node in (("resolution", resolution), ("speed", speed)):
            text = self._text(node, key) if node is not None else None
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
        text = (self._text(node, "source") or "").strip()
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
        ctx = _Ctx()
        if node.is_scalar and not isinstance(node.value, Opaque):
            text = self._prompt_text(node, ctx)
            return Initial(prompt=text)
        if not node.is_map:
            self.error(node.where, "initial: is a prompt text or a mapping (prompt:, enhance:, image:, mirror:)")
            return Initial()
        found = self._check_keys(node, INITIAL_KEYS, "initial")
        prompt = enhance_value = image = None
        mirror = False
        if "prompt" in found:
            value = found["prompt"][1]
            if value.is_map:
                self.error(value.where, "the initial prompt is one text (cycle/shuffle/random go in cues)")
            else:
                prompt = self._prompt_text(value, ctx)
        if "enhance" in found:
            enhance_value = self._bool(found["enhance"][1], "enhance")
        if "image" in found:
            value = found["image"][1]
            if not (value.is_scalar and value.value is None):
                before = len(self.problems)
                image = self._image(value, "initial image")
                self._has_initial_image_problem = len(self.problems) > before
        if "mirror" in found:
            mirror = bool(self._bool(found["mirror"][1], "initial mirror"))
        return Initial(prompt=prompt, enhance=enhance_value is not False, image=image, mirror=mirror)

    def _timeline(self, node: Node) -> list[TimelineEntry]:
        entries: list[TimelineEntry] = []
        if node.is_map:
            for key, value in node.pairs or []:
                t = self.offset(key)
                value, lookahead = self._entry_lookahead(value)
                actions = self.actions(value, _Ctx(), f"timeline {key.key}")
                if t is not None and actions:
                    entries.append(TimelineEntry(t, tuple(actions), self._label(value), key.where, lookahead))  # type: ignore[arg-type]
        elif node.is_seq:
            for item in node.items or []:
                if not item.is_map:
                    self.error(item.where, "a timeline entry in a list is a mapping with at: and actions")
                    continue
                found = self._check_keys(item, ("at", "lookahead") + ACTION_KEYS, "timeline entry")
                if "at" not in found:
                    self.error(item.where, "this timeline entry has no at: time")
                    continue
                t = self.offset(found.pop("at")[1])
                lookahead = self._lookahead(found.pop("lookahead")[1]) if "lookahead" in found else None
                actions = self.action_pairs(found, _Ctx(), item.where) if found else []
                if not found:
                    self.error(item.where, "this timeline entry does nothing")
                if t is not None and actions:
                    entries.append(TimelineEntry(t, tuple(actions), self._label(item), item.where, lookahead))  # type: ignore[arg-type]
        else:
            self.error(node.where, "timeline: maps show times to actions, e.g. `0:30: Cyberpunk city`")
        return entries

    def _entry_lookahead(self, node: Node) -> tuple[Node, float | str | None]:
        """`0:30: {prompt: X, lookahead: 200ms}`: the entry's own lookahead, and the mapping without it."""
        if not node.is_map or not any(k.key == "lookahead" for k, _ in node.pairs or []):
            return node, None
        pairs = [(k, v) for k, v in node.pairs or [] if k.key != "lookahead"]
        setting = next(v for k, v in node.pairs or [] if k.key == "lookahead")
        return Node(where=node.where, pairs=pairs, text=node.text), self._lookahead(setting)

    def _label(self, node: Node) -> str:
        return _label(node, self.vars)

    # ------------------------------------------------------------ cues

    def _cues(self, node: Node) -> list[Cue]:
        if not node.is_seq:
            self.error(node.where, "cues: is a list; start each cue with `- name:`")
            return []
        cues: list[Cue] = []
        names: dict[str, Where] = {}
        afters: list[tuple[str, Where]] = []
        for index, item in enumerate(node.items or []):
            cue = self._cue(item, index, names, afters)
            if cue is not None:
                cues.append(cue)
        for target, where in afters:
            if target not in names:
                self.error(where, f"on: after '{target}': no cue has that name{did_you_mean(target, names)}")
        return cues

    def _cue(self, node: Node, index: int, names: dict[str, Where], afters: list[tuple[str, Where]]) -> Cue | None:
        if not node.is_map:
            self.error(node.where, "a cue is a mapping: name:, a trigger (at:, every:, cron: or on:) and actions")
            return None
        found = self._check_keys(node, CUE_KEYS + _INTERNAL_KEYS, "cue")
        name = f"cue {index + 1}"
        if "name" in found:
            key, value = found["name"]
            text = self._text(value, "name")
            if text is not None and text.strip():
                name = text.strip()
            else:
                self.error(value.where, "empty cue name")
            if name in names:
                self.error(value.where, f"duplicate cue name '{name}' (first at line {names[name].line})")
            names.setdefault(name, value.where)
        else:
            names.setdefault(name, node.where)
        trigger_keys = [k for k in TRIGGER_KEYS + (REACTIVE_KEY,) if k in found]
        trigger: Trigger | None = None
        if not trigger_keys:
            self.error(node.where, f"cue '{name}' has no trigger: add one of at:, every:, cron: or on:")
        elif len(trigger_keys) > 1:
            first, second = trigger_keys[0], trigger_keys[1]
            self.error(found[second][0].where, f"cue '{name}' has two triggers ({first}: and {second}:): a cue has exactly one")
        else:
            trigger = self._trigger(trigger_keys[0], found, afters)
        for key, needs in (("from", "every"), ("until", "every"), ("times", "every")):
            if key in found and needs not in trigger_keys:
                self.error(found[key][0].where, f"{key}: goes with {needs}:")
        if "tz" in found and "cron" not in trigger_keys and "when" not in found:
            self.error(found["tz"][0].where, "tz: goes with cron: or when: (the zone they read the wall clock in)")
        ctx = _Ctx(args_ok=isinstance(trigger, EventTrigger) and trigger.kind in ARGUMENT_KINDS)
        when = self._when(found["when"][1]) if "when" in found else None
        if when is not None:  # read in the cue's zone, else the show's (compiled before the cues)
            when = replace(when, tz=self._cue_tz(found) or self.tz)
            if isinstance(trigger, EveryTrigger) and trigger.times is not None:
                trigger = replace(trigger, when=when)
        mode = "restart"
        if "mode" in found:
            value = found["mode"][1]
            text = value.scalar_text() if value.is_scalar else None
            if text in MODES:
                mode = text
            else:
                self.error(value.where, f"bad mode '{text}'{did_you_mean(str(text), MODES)}: use {', '.join(MODES)}")
        lookahead = self._lookahead(found["lookahead"][1]) if "lookahead" in found else None
        then: list[Action] = []
        if "then" in found:
            then = self.actions(found["then"][1], _Ctx(ctx.args_ok, in_then=True), "then")
        body_keys = {k: v for k, v in found.items() if k in ACTION_KEYS or k == CALL_KEY}
        actions = self.action_pairs(body_keys, ctx, node.where) if body_keys else []
        if not body_keys and "then" not in found and not isinstance(trigger, ReactiveTrigger):
            self.error(node.where, f"cue '{name}' does nothing: add prompt:, image:, mirror:, audio:, log: or go:")
        if trigger is None:
            return None
        return Cue(name, trigger, tuple(actions), tuple(then), when, mode, lookahead, node.where)  # type: ignore[arg-type]

    def _trigger(self, kind: str, found: dict[str, tuple[Node, Node]], afters: list[tuple[str, Where]]) -> Trigger | None:
        key, value = found[kind]
        if kind == REACTIVE_KEY:
            obj = value.value.obj
            return obj if isinstance(obj, ReactiveTrigger) else None
        if kind == "at":
            t = self.offset(value)
            return AtTrigger(t) if t is not None else None
        if kind == "every":
            interval = self.duration(value)
            start = self.offset(found["from"][1]) if "from" in found else 0.0
            until = self.offset(found["until"][1]) if "until" in found else None
            times = None
            if "times" in found:
                node = found["times"][1]
                if node.is_scalar and isinstance(node.value, int) and not isinstance(node.value, bool) and node.value > 0:
                    times = node.value
                else:
                    self.error(node.where, "times: a whole number above 0")
            if start is not None and until is not None and until <= start:
                self.error(found["until"][1].where, f"until ({format_seconds(until)}) must come after from ({format_seconds(start)})")
            if interval is None or start is None:
                return None
            return EveryTrigger(interval, start, until, times)
        if kind == "cron":
            expr = self._text(value, "cron")
            if expr is None:
                if value.is_scalar:
                    self.error(value.where, "cron: give an expression such as \"0 * * * *\"")
                return None
            problem = checks.cron_problem(expr)
            if problem:
                self.error(value.where, problem)
            return CronTrigger(expr.strip(), self._cue_tz(found) or self.tz) if not problem else None
        return self._event(value, afters)

    tz: str | None = None  # the show's `tz:`

    def _tz(self, node: Node) -> str | None:
        text = self._text(node, "tz")
        problem = checks.tz_problem(text.strip()) if text is not None else "tz: give a zone name"
        if problem:
            self.error(node.where, problem)
            return None
        return text.strip() if text else None

    def _cue_tz(self, found: dict[str, tuple[Node, Node]]) -> str | None:
        """A cue's `tz:` (checked once: the cron trigger and `when` both ask)."""
        if "tz" not in found:
            return None
        node = found["tz"][1]
        key = id(node)
        if key not in self._tz_seen:
            self._tz_seen[key] = self._tz(node)
        return self._tz_seen[key]

    def _event(self, node: Node, afters: list[tuple[str, Where]]) -> EventTrigger | None:
        text = (self._text(node, "on") or "").strip()
        kind, _, arg = text.partition(" ")
        arg = arg.strip()
        if kind not in EVENT_KINDS:
            hint = did_you_mean(kind, EVENT_KINDS)
            self.error(node.where, f"bad event '{text}'{hint}: use {EVENT_FORMS}")
            return None
        if not arg:
            self.error(node.where, f"on: {kind} needs an argument: use {EVENT_FORMS}")
            return None
        problem = None
        if kind == "key":
            if not _KEY_NAME.fullmatch(arg):
                problem = f"bad key '{arg}': one key such as 1, a, f5 or ctrl+x"
            elif arg in BUILTIN_KEYS:
                problem = f"key '{arg}' belongs to the TUI ({_BUILTIN_SHOWN}): pick another key"
        elif kind in ("osc", "http"):
            if not arg.startswith("/") or any(c.isspace() for c in arg):
                problem = f"{kind} address '{arg}' must start with / and have no spaces, e.g. /{'fader' if kind == 'osc' else 'go'}"
        elif kind == "state":
            if arg not in STATE_NAMES:
                problem = f"unknown state '{arg}'{did_you_mean(arg, STATE_NAMES)}: use connected, generating, reconnecting or disconnected"
        elif kind == "after":
            afters.append((arg, node.where))
        elif kind == "midi":
            parts = arg.split()
            if len(parts) != 2 or parts[0] not in ("note", "cc") or not parts[1].isdigit() or int(parts[1]) > 127:
                problem = f"bad midi event '{arg}': use midi note N or midi cc N with N from 0 to 127"
            else:
                arg = f"{parts[0]} {int(parts[1])}"
        if problem:
            self.error(node.where, problem)
            return None
        return EventTrigger(kind, arg)  # type: ignore[arg-type]

    def _when(self, node: Node) -> When | None:
        if not node.is_map:
            self.error(node.where, 'when: is a mapping: {between: ["09:00", "18:00"], days: [mon, tue]}')
            return None
        found = self._check_keys(node, ("between", "days"), "when")
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


def _label(node: Node, vars: dict[str, str]) -> str:
    """What the TUI shows for a timeline entry: its source text on one line, vars filled in."""
    text = " ".join((node.text or node.scalar_text() or "").split())
    text = _PLACEHOLDER.sub(lambda m: m.group(0)[0] if m.group(1) is None else vars.get(m.group(1).strip(), m.group(0)),
                            text)
    return text if len(text) <= 120 else text[:117] + "..."
