"""Bad arguments: one clear line, exit 2, never a traceback; a run's journal always ends with show.end."""

from __future__ import annotations

import subprocess
import time
import sys
from pathlib import Path

import pytest

from decart_flow.realtime.urls import redact_url

SHOW = """\
name: Args
model: mirage_v2
source: testsrc
initial: {prompt: Anime}
"""


def cli(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "decart_flow.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout)


def one_clear_line(done: subprocess.CompletedProcess[str], *words: str) -> None:
    text = done.stdout + done.stderr
    assert done.returncode == 2, text
    assert "Traceback" not in text, text
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    for word in words:
        assert word in lines[0], text


@pytest.mark.parametrize("option, value", [("--http-port", "70000"), ("--osc-port", "-5"), ("--monitor", "99999")])
def test_a_port_out_of_range_is_one_line_and_exit_2(tmp_path: Path, option: str, value: str) -> None:
    (tmp_path / "s.yaml").write_text(SHOW)
    done = cli("run", "s.yaml", "--headless", option, value, "--journal", "j.jsonl", cwd=tmp_path)
    one_clear_line(done, option, value, "0-65535")
    assert not (tmp_path / "j.jsonl").exists()  # nothing ran


def test_serve_with_a_port_out_of_range_is_one_line_and_exit_2(tmp_path: Path) -> None:
    one_clear_line(cli("serve", "--port", "70000", cwd=tmp_path), "--port", "70000")


def test_a_journal_that_is_a_folder_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(SHOW)
    (tmp_path / "folder").mkdir()
    one_clear_line(cli("run", "s.yaml", "--headless", "--journal", "folder", cwd=tmp_path), "--journal", "folder")


def test_plan_with_a_start_at_the_end_of_time_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(SHOW + "cues:\n  - cron: '* * * * *'\n    prompt: Neon\n")
    one_clear_line(cli("plan", "c.yaml", "--start", "9999-12-31T23:59:00", cwd=tmp_path), "--start")


@pytest.mark.parametrize("option, value", [("--source", "file:missing.mp4"), ("--resume", "missing.jsonl"),
                                           ("--record", "."), ("--backend", "ftp://127.0.0.1:9")])
def test_a_run_that_cannot_start_for_a_bad_argument_exits_2_and_ends_its_journal(
        tmp_path: Path, option: str, value: str) -> None:
    """Refused after the journal is open: one line, exit 2, and the journal says how the show ended."""
    (tmp_path / "s.yaml").write_text(SHOW)
    key = ["--api-key", "sk_args_test_key_1234"] if option == "--backend" else []  # else the embedded service
    done = cli("run", "s.yaml", "--headless", option, value, "--journal", "j.jsonl", *key, cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert [line for line in done.stderr.splitlines() if line.strip()] == [
        next(line for line in done.stderr.splitlines() if line.startswith("error:"))]
    lines = (tmp_path / "j.jsonl").read_text().splitlines()
    assert '"show.end"' in lines[-1], lines


def test_export_refuses_to_overwrite_its_own_journal(tmp_path: Path) -> None:
    j = tmp_path / "j.jsonl"
    j.write_text('{"ts": "2026-01-01T00:00:00+00:00", "t": 0, "event": "show.start"}\n')
    before = j.read_bytes()
    done = cli("export", "j.jsonl", "-o", "./j.jsonl", cwd=tmp_path)
    one_clear_line(done, "-o")
    assert j.read_bytes() == before


def test_a_key_in_url_userinfo_is_never_printed() -> None:
    for url in ("ws://u:sk_secret_KEY_123456@127.0.0.1:9", "ws://sk_secret_KEY_123456@127.0.0.1:9/v1/stream",
                "wss://user:pa:ss@host.invalid/x?api_key=sk_secret_KEY_123456"):
        shown = redact_url(url)
        assert "sk_secret" not in shown and "pa:ss" not in shown, shown
        assert "127.0.0.1" in shown or "host.invalid" in shown


def test_a_backend_url_with_the_stream_path_works_and_another_path_fails_at_once(tmp_path: Path) -> None:
    from test_resilience_run import KEY, Serve, free_port

    (tmp_path / "s.yaml").write_text(SHOW + "duration: 2s\n")
    service = Serve(free_port()).start()
    try:
        done = cli("run", "s.yaml", "--headless", "--backend", f"ws://127.0.0.1:{service.port}/v1/stream",
                   "--api-key", KEY, "--journal", "j.jsonl", cwd=tmp_path, timeout=90)
        assert done.returncode == 0, done.stderr
        assert "show ended: duration" in done.stdout
        began = time.monotonic()
        done = cli("run", "s.yaml", "--headless", "--backend", f"ws://127.0.0.1:{service.port}/v2/nothing",
                   "--api-key", KEY, "--journal", "k.jsonl", cwd=tmp_path, timeout=90)
        took = time.monotonic() - began
    finally:
        service.stop()
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "HTTP 404" in done.stderr and "base URL" in done.stderr and KEY not in done.stderr + done.stdout
    assert took < 10, took  # said at once, not after five retries over 16 s
