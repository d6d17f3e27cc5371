"""Read YAML into `Node`s that keep the line and column of every key and value.

`yaml.compose` gives the node graph with marks; scalars are constructed by PyYAML's safe rules
but keep their source text, so `1:30`, `on` and `yes` can be read as written.
"""

from __future__ import annotations

import re

import yaml
from yaml.constructor import SafeConstructor

from decart_flow.show.model import Where
from decart_flow.show.nodes import Node
from decart_flow.show.problems import Problem, ShowError

MAX_BYTES = 2_000_000
MAX_NODES = 100_000  # after aliases are expanded: an alias bomb stops here
MAX_DEPTH = 60
_SPECIAL = re.compile(r"[\[\]{}\"'#]")
_BEFORE_QUOTE = frozenset(":-[{,?\n\r")  # a quoted scalar starts after these (or at the start)
_DQ_END = re.compile(r'(?:[^"\\]|\\.)*"', re.S)
_SQ_END = re.compile(r"(?:[^']|'')*'")


def read_yaml(path: str, data: bytes) -> Node:
    """The document in `data` as a Node tree; ShowError for anything that is not one."""
    if len(data) > MAX_BYTES:
        raise ShowError([Problem(Where(path, 1, 1), f"file too large: a show is at most {MAX_BYTES} bytes")])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise ShowError([Problem(Where(path, line, col), "not a text file: a show is UTF-8 YAML")]) from None
    _check_flow_depth(path, text)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = Where(path, mark.line + 1, mark.column + 1) if mark else Where(path, 1, 1)
        message = " ".join(filter(None, [e.context, e.problem]))
        raise ShowError([Problem(where, f"YAML: {message}")]) from None
    except yaml.YAMLError as e:
        raise ShowError([Problem(Where(path, 1, 1), f"YAML: {e}")]) from None
    except RecursionError:
        raise ShowError([Problem(Where(path, 1, 1), "YAML nested too deeply")]) from None
    if root is None:
        raise ShowError([Problem(Where(path, 1, 1), "empty show: start with `name:` and `model:`")])
    converter = _Converter(path, text)
    try:
        node = converter.convert(root, 0)
    except RecursionError:
        raise ShowError([Problem(Where(path, 1, 1), "YAML nested too deeply")]) from None
    if converter.problems:
        raise ShowError(converter.problems)
    return node


def _check_flow_depth(path: str, text: str) -> None:
    """PyYAML takes seconds to fail on `[[[[...`; refuse absurd nesting before it starts.

    Brackets count only where YAML reads them: not inside a quoted scalar, not in a comment (a
    prompt may well say "[[[" sixty times).
    """
    depth = 0
    skip = 0
    for m in _SPECIAL.finditer(text):
        i = m.start()
        if i < skip:
            continue
        char = text[i]
        if char in "\"'":
            j = i - 1
            while j >= 0 and text[j] in " \t":
                j -= 1
            if j >= 0 and text[j] not in _BEFORE_QUOTE:
                continue  # inside a plain scalar (Rock'n'roll): no string starts here
            end = (_DQ_END if char == '"' else _SQ_END).match(text, i + 1)
            skip = end.end() if end else len(text)
        elif char == "#":
            if i == 0 or text[i - 1] in " \t\r\n":
                end = text.find("\n", i)
                skip = end if end >= 0 else len(text)
        else:
            depth = depth + 1 if char in "[{" else max(depth - 1, 0)
            if depth > MAX_DEPTH:
                raise ShowError([Problem(Where(path, 1, 1), "YAML nested too deeply for a show")])


class _Converter:
    def __init__(self, path: str, text: str):
        self.path = path
        self.text = text
        self.constructor = SafeConstructor()
        self.problems: list[Problem] = []
        self.count = 0

    def where(self, node: yaml.Node) -> Where:
        return Where(self.path, node.start_mark.line + 1, node.start_mark.column + 1)

    def convert(self, node: yaml.Node, depth: int) -> Node:
        self.count += 1
        if self.count > MAX_NODES or depth > MAX_DEPTH:
            raise ShowError([Problem(self.where(node), "YAML too large or nested too deeply for a show")])
        where = self.where(node)
        # The source text serves labels and hints; a bounded slice keeps big files linear.
        source = self.text[node.start_mark.index : min(node.end_mark.index, node.start_mark.index + 300)]
        if isinstance(node, yaml.MappingNode):
            pairs: list[tuple[Node, Node]] = []
            seen: dict[str, Where] = {}
            for key_node, value_node in node.value:
                key = self.convert(key_node, depth + 1)
                value = self.convert(value_node, depth + 1)
                if not key.is_scalar:
                    self.problems.append(Problem(key.where, "a key must be a plain word, not a list or mapping"))
                    continue
                if key.key in seen:
                    first = seen[key.key]
                    self.problems.append(Problem(key.where, f"duplicate key '{key.key}' (first at line {first.line})"))
                    continue
                seen[key.key] = key.where
                pairs.append((key, value))
            return Node(where=where, pairs=pairs, text=source)
        if isinstance(node, yaml.SequenceNode):
            return Node(where=where, items=[self.convert(n, depth + 1) for n in node.value], text=source)
        try:
            value = self.constructor.construct_object(node)
        except (yaml.YAMLError, ValueError, OverflowError, TypeError):
            value = node.value
        return Node(where=where, value=value, raw=node.value if node.tag != "tag:yaml.org,2002:null" else None, text=source)
