"""Check an action made while the show runs: the engine runs each action a reactive cue puts out
through `check_action` before it is performed.

Such actions come straight from Python, so they get the checks a show file's actions got at load
time: vars filled in, paths made absolute against the show's folder, files decoded, each kind's
rule for the model (`audio` only on live_avatar). The operator's prompt box is not checked this
way: its text is sent as typed, braces and all.
"""

from __future__ import annotations

from typing import Any

from decart_flow.show.compile import Compiler, Ctx
from decart_flow.show.model import Action, ShowModel, Where
from decart_flow.show.problems import ShowError


def check_action(action: Any, show: ShowModel, what: str = "action") -> list[Action]:
    """The checked actions for `action` (an Action, a prompt text, or a list); ShowError if bad."""
    from decart_flow.show.builder import _actions_node

    where = getattr(action, "where", None) or show.where or Where("<runtime>")
    compiler = Compiler(show.path or where.file)
    compiler.vars = dict(show.vars)
    compiler.model = show.model
    compiler.sessions = list(show.sessions)
    node = _actions_node(action if isinstance(action, (list, tuple)) else [action], where)
    actions = compiler.actions(node, Ctx(args_ok=False), what)
    compiler.check_model(actions)
    if compiler.problems:
        raise ShowError(compiler.problems)
    return actions


__all__ = ["check_action"]
