"""`nodes:`: which machine of a show across machines runs which of the show's sessions.

A node's name becomes part of MQTT topics, so it is a plain word; every session it names must be
one of the show's (`sessions:`, or `main` for a show with top-level `model`). A session may be on
more than one node: each machine then plays its own copy of it (two projectors showing one look).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from decart_flow.show.nodes import Node
from decart_flow.show.problems import did_you_mean

if TYPE_CHECKING:
    from decart_flow.show.compile import Compiler

NODE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_EXAMPLE = "nodes: {stage: [main]}"


def read_nodes(compiler: Compiler, node: Node | None, sessions: tuple[str, ...]) -> dict[str, tuple[str, ...]] | None:
    """The `nodes:` mapping (node name -> its sessions, in the file's order), or None without one."""
    if node is None:
        return None
    if not node.is_map or not node.pairs:
        what = "empty" if node.is_map or (node.is_scalar and node.value is None) else node.kind()
        compiler.error(node.where, f"nodes: is a mapping of machine name to its sessions, not {what}: {_EXAMPLE}")
        return None
    out: dict[str, tuple[str, ...]] = {}
    for key, value in node.pairs:
        name = key.key
        if not NODE_NAME.fullmatch(name):
            compiler.error(key.where, f"node name '{name}': use letters, digits, '-' and '_' (it names MQTT topics)")
            continue
        if name in out:
            compiler.error(key.where, f"node '{name}' is named twice: list all its sessions once")
            continue
        items = [value] if value.is_scalar and value.value is not None else value.items
        if not items:
            compiler.error(value.where, f"node '{name}': give its sessions as a list, e.g. {name}: [{sessions[0]}]")
            continue
        names: list[str] = []
        for item in items:
            session = item.scalar_text() if item.is_scalar else None
            if session is None:
                compiler.error(item.where, f"node '{name}': a session is a name, not {item.kind()}")
            elif session not in sessions:
                hint = did_you_mean(session, sessions)
                compiler.error(item.where, f"node '{name}': unknown session '{session}'{hint}: "
                                           f"this show's sessions are {', '.join(sessions)}")
            elif session in names:
                compiler.error(item.where, f"node '{name}': session '{session}' is listed twice")
            else:
                names.append(session)
        out[name] = tuple(names)
    return out
