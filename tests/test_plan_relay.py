"""`plan` prints a long plan from a child process (`_Relay`): the same bytes as printing in-process.

The child is forked at the second batch and inherits the printer as it stands, so these check the
seams: the first batch printed here, the rest there, in order, and the count or closing bracket
after the child is done; a value marshal cannot write; a child that fails; a reader that goes away.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from datetime import datetime, timezone
from pathlib import Path

import pytest

from decart_flow.engine.clock import VirtualClock
from decart_flow.engine.loop import VirtualEventLoop
from decart_flow.engine.plan import _print_plan, _Printer, _Relay
from decart_flow.show import load_show

SHOW = textwrap.dedent("""
    name: Installation
    model: mirage
    cues:
      - name: minute
        cron: "* * * * *"
        tz: Europe/Paris
        prompt: Minute
      - name: ambient
        every: 20s
        prompt: {cycle: [Lego world, Watercolor, Claymation]}
""")
START = "2026-03-28T22:00:00+00:00"  # two days over the spring change in Paris


def _cli(path: Path, *extra: str, **kw: object) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "decart_flow.cli", "plan", str(path), "--for", "2d",
                           "--start", START, *extra], capture_output=True, timeout=120, **kw)  # type: ignore[call-overload]


def _in_process(path: Path, as_json: bool, monkeypatch: pytest.MonkeyPatch) -> bytes:
    out = io.StringIO()  # no file descriptor: `_Relay` prints every batch here
    monkeypatch.setattr(sys, "stdout", out)
    _print_plan(load_show(str(path)), 2 * 86400.0, datetime.fromisoformat(START), as_json)
    monkeypatch.undo()
    return out.getvalue().encode()


@pytest.mark.parametrize("as_json", [False, True])
def test_the_command_prints_what_the_in_process_printer_prints(tmp_path: Path, as_json: bool,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "show.yaml"
    path.write_text(SHOW)
    done = _cli(path, *(["--json"] if as_json else []))
    assert done.returncode == 0, done.stderr.decode()
    assert done.stderr == b""
    want = _in_process(path, as_json, monkeypatch)
    assert want.count(b"\n") > 3 * 2048  # enough rows for the child to print several batches
    assert done.stdout == want


class _Text(str):
    pass


def _rows(n: int, base: float) -> list[tuple]:
    return [(base + i, base + i, "cue", {"prompt": f"p{i % 7}", "enhance": True}) for i in range(n)]


def test_the_child_takes_over_at_the_second_batch_in_order(tmp_path: Path) -> None:
    loop = VirtualEventLoop()
    try:
        clock = VirtualClock(loop, datetime(2026, 3, 1, tzinfo=timezone.utc))
        batches = [_rows(50, 0.0), _rows(50, 50.0), _rows(50, 100.0)]
        batches[2][3] = (103.0, 103.0, "cue", {"prompt": _Text("from a str subclass")})  # marshal cannot: pickled
        direct = io.StringIO()
        plain = _Printer(direct, 10)
        for rows in batches:
            plain.table_rows(clock, rows)
        with open(tmp_path / "out.txt", "w") as out:
            relay = _Relay(_Printer(out, 10).table_rows, out)
            relay(clock, batches[0])
            assert relay.pid is None  # a short plan never forks
            relay(clock, batches[1])
            assert relay.pid is not None and relay.pid != os.getpid()
            relay(clock, batches[2])
            relay.close()
            assert relay.pid is None
        assert (tmp_path / "out.txt").read_text() == direct.getvalue()
        assert "prompt: 'from a str subclass'" in direct.getvalue()
    finally:
        loop.close()


def test_a_child_that_fails_fails_the_plan(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    loop = VirtualEventLoop()
    try:
        clock = VirtualClock(loop, datetime(2026, 3, 1, tzinfo=timezone.utc))
        seen: list[int] = []

        def print_batch(clock: VirtualClock, rows: list) -> None:
            seen.append(len(rows))
            if len(seen) == 3:
                raise ValueError("a bug in the printer")

        with open(tmp_path / "out.txt", "w") as out:
            relay = _Relay(print_batch, out)
            for i in range(4):
                try:
                    relay(clock, _rows(10, 10.0 * i))
                except BrokenPipeError:  # the child may be gone before the last batch
                    break
            with pytest.raises(RuntimeError, match="printer process failed"):
                relay.close()
        assert "ValueError: a bug in the printer" in capfd.readouterr().err
    finally:
        loop.close()


def test_a_reader_that_goes_away_ends_the_plan_quietly(tmp_path: Path) -> None:
    path = tmp_path / "show.yaml"
    path.write_text(SHOW)
    proc = subprocess.Popen([sys.executable, "-m", "decart_flow.cli", "plan", str(path), "--for", "30d",
                             "--start", START], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    head = [proc.stdout.readline() for _ in range(3 * 2048)]  # past the first batch: the child is printing
    proc.stdout.close()  # as `| head` does
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 0, err.decode()
    assert err == b""
    assert head[0].split() == [b"show", b"time", b"wall", b"clock", b"cue", b"action"]
