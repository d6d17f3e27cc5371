"""Under `.ci/run` (DECART_FLOW_CI=1) a test that needs a missing tool fails instead of skipping."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

PROBE = """\
from needs import missing

def test_needs_a_tool_that_is_not_here():
    missing("frobnicate is not installed")
"""


def _pytest(tmp_path: Path, strict: bool) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_probe.py").write_text(PROBE)
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    env.pop("DECART_FLOW_CI", None)
    if strict:
        env["DECART_FLOW_CI"] = "1"
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", "test_probe.py"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_a_missing_tool_skips_here_and_fails_under_ci(tmp_path: Path) -> None:
    here = _pytest(tmp_path, strict=False)
    assert here.returncode == 0 and "1 skipped" in here.stdout and "frobnicate" in here.stdout, here.stdout
    ci = _pytest(tmp_path, strict=True)
    assert ci.returncode == 1 and "1 failed" in ci.stdout and "CI must run this test" in ci.stdout, ci.stdout


def test_ci_sets_the_strict_variable_for_the_readme_command() -> None:
    script = (HERE.parent / ".ci" / "run").read_text()
    assert "export DECART_FLOW_CI=1" in script
    assert script.index("export DECART_FLOW_CI=1") < script.index('bash -euo pipefail -c "$cmd"')
