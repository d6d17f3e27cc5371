"""`nodes:` (a show across machines): read into the model, every mistake a FILE:LINE:COL line."""

from __future__ import annotations

from pathlib import Path

import pytest

from decart_flow.show import ShowError, load_show


def _show(tmp_path: Path, nodes: str) -> Path:
    path = tmp_path / "fleet.yaml"
    path.write_text("name: Fleet\nmodel: mirage\ntimeline: {1: Anime}\n" + nodes)
    return path


def _problems(path: Path) -> list[str]:
    with pytest.raises(ShowError) as info:
        load_show(path)
    return [str(p) for p in info.value.problems]


def test_nodes_map_to_their_sessions(tmp_path: Path):
    show = load_show(_show(tmp_path, "nodes:\n  stage: [main]\n  foyer: main\n"))
    assert show.nodes == {"stage": ("main",), "foyer": ("main",)}
    assert list(show.nodes) == ["stage", "foyer"]


def test_a_show_without_nodes_has_none(tmp_path: Path):
    assert load_show(_show(tmp_path, "")).nodes is None


def test_unknown_session_says_where_and_did_you_mean(tmp_path: Path):
    path = _show(tmp_path, "nodes:\n  stage: [mian]\n")
    assert _problems(path) == [
        f"{path}:5:11: node 'stage': unknown session 'mian' (did you mean 'main'?): this show's sessions are main"]


def test_misspelt_key_suggests_nodes(tmp_path: Path):
    path = _show(tmp_path, "node:\n  stage: [main]\n")
    assert _problems(path) == [f"{path}:4:1: unknown key 'node' (did you mean 'nodes'?)"]


@pytest.mark.parametrize("text, where, message", [
    ("nodes: [stage]\n", "4:8", "nodes: is a mapping of machine name to its sessions, not a list: nodes: {stage: [main]}"),
    ("nodes: {}\n", "4:8", "nodes: is a mapping of machine name to its sessions, not empty: nodes: {stage: [main]}"),
    ("nodes:\n  stage: []\n", "5:10", "node 'stage': give its sessions as a list, e.g. stage: [main]"),
    ("nodes:\n  st/age: [main]\n", "5:3", "node name 'st/age': use letters, digits, '-' and '_' (it names MQTT topics)"),
    ("nodes:\n  stage: [main, main]\n", "5:17", "node 'stage': session 'main' is listed twice"),
    ("nodes:\n  stage: [{a: b}]\n", "5:11", "node 'stage': a session is a name, not a mapping"),
])
def test_each_mistake_is_one_line(tmp_path: Path, text: str, where: str, message: str):
    path = _show(tmp_path, text)
    assert _problems(path) == [f"{path}:{where}: {message}"]


def test_a_python_show_names_its_nodes_too(tmp_path: Path):
    path = tmp_path / "fleet_show.py"
    path.write_text("from decart_flow import Show\n"
                    "show = Show('Fleet', model='mirage', nodes={'stage': ['main']})\n")
    assert load_show(path).nodes == {"stage": ("main",)}
    path.write_text("from decart_flow import Show\n"
                    "show = Show('Fleet', model='mirage', nodes={'stage': ['mian']})\n")
    problems = _problems(path)
    assert len(problems) == 1 and problems[0].startswith(f"{path}:2:") and "did you mean 'main'?" in problems[0]
