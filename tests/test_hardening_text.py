"""Show texts: `{{` and `}}` escape a brace; negative show times print as times before zero."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from test_control_support import live_engine

from decart_flow.engine.engine import fmt_t
from decart_flow.show import load_show

SHOW = """\
name: Braces
model: mirage_v2
vars: {city: Tokyo}
initial: {prompt: "Calm {{not a var}}"}
timeline:
  0:01: 'A sign that reads {{"{city}"}}'
cues:
  - name: level
    on: osc /level
    prompt: "Storm {0} of {{max}} over {city}"
"""


def test_double_braces_are_literal_braces_in_plan_and_in_a_fired_cue(tmp_path: Path) -> None:
    (tmp_path / "show.yaml").write_text(SHOW)
    done = subprocess.run([sys.executable, "-m", "decart_flow.cli", "plan", "show.yaml", "--for", "5s", "--json"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = json.loads(done.stdout)
    assert [r["action"]["prompt"] for r in rows] == ['A sign that reads {"Tokyo"}']
    assert load_show(tmp_path / "show.yaml").initial.prompt == "Calm {not a var}"


async def test_an_event_cue_fills_its_arguments_and_keeps_escaped_braces(tmp_path: Path) -> None:
    (tmp_path / "show.yaml").write_text(SHOW)
    async with live_engine(load_show(tmp_path / "show.yaml"), tmp_path) as live:
        assert live.engine.fire_event("osc", "/level", (7,))
        assert live.engine.fire_event("osc", "/level", ())
        await live.until(lambda: len([p for p in live.prompts() if p.startswith("Storm")]) == 2)
    assert [p for p in live.prompts() if p.startswith("Storm")] == ["Storm 7 of {max} over Tokyo",
                                                                    "Storm {0} of {max} over Tokyo"]


@pytest.mark.parametrize("t, text", [(-70.0, "-1:10"), (-0.5, "-0:00.5"), (-3723.25, "-1:02:03.25"), (70.0, "1:10")])
def test_negative_show_times_print_as_times_before_zero(t: float, text: str) -> None:
    assert fmt_t(t) == text


def test_a_python_show_that_exits_at_import_is_a_validation_error(tmp_path: Path) -> None:
    (tmp_path / "exits.py").write_text("import os\nfrom decart_flow import Show\n\nos._exit(0)\nshow = Show('x')\n")
    done = subprocess.run([sys.executable, "-m", "decart_flow.cli", "validate", "exits.py"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done
    assert done.stdout.startswith("exits.py:4:") and "os._exit(0)" in done.stdout, done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_the_headless_printer_never_writes_a_control_character() -> None:
    from decart_flow.runner.headless import format_event

    line = format_event({"ts": "2026-01-01T00:00:00+00:00", "t": 1.0, "event": "cue.fire",
                         "cue": "level", "args": ["\x1b[2J"], "action": {"prompt": "Storm\x1b]0;pwned\x07"},
                         "message": "a\x1bb"})
    assert "\x1b" not in line and "\x07" not in line and "\\x1b" in line, line
