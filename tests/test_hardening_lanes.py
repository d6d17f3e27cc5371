"""Issue #19 item 3: actions of different kinds never wait for each other; the journal says when
each really went on the wire; text that is not UTF-8 never validates and never reaches the wire."""

from __future__ import annotations

from pathlib import Path

import pytest

from decart_flow.realtime import messages
from decart_flow.realtime.errors import InvalidInputError
from decart_flow.show import ShowError, load_show
from test_resilience_run import KEY, Serve, cli, free_port, journal

SHOW = """\
name: Lanes
model: mirage_v2
source: testsrc
duration: 9s
initial: {prompt: Anime}
timeline:
  0:01: slow prompt
  0:01.5: {mirror: true}
  0:02: next prompt
  0:08.5: too late to be acknowledged
"""


def test_a_mirror_does_not_wait_behind_a_prompt_the_service_is_slow_to_ack(tmp_path: Path) -> None:
    service = Serve(free_port(), "ack-delay=3s").start()
    (tmp_path / "show.yaml").write_text(SHOW)
    jpath = tmp_path / "j.jsonl"
    run = cli("run", "show.yaml", "--headless", "--backend", service.url, "--api-key", KEY,
              "--journal", str(jpath), cwd=tmp_path)
    try:
        out, err = run.communicate(timeout=90)
    finally:
        if run.poll() is None:
            run.kill()
        service.stop()
    assert run.returncode == 0, err
    records = journal(jpath)
    sends = {r["cue"]: r for r in records if r["event"] == "action.send"}
    # The mirror went on the wire at its own time, while the 0:01 prompt's ack was 3 s away.
    mirror = sends["timeline 0:01.5"]
    assert mirror["action"] == {"mirror": True} and abs(mirror["t"] - 1.5) < 0.3, mirror
    assert "queued_ms" not in mirror
    # The next prompt waited for the one in flight (latest-wins within prompts), and says so.
    nxt = sends["timeline 0:02"]
    assert nxt["behind"] == "timeline 0:01" and nxt["queued_ms"] > 1500, nxt
    assert nxt["t"] > 3.5, nxt  # the record's show time is when it really went out
    ack = next(r for r in records if r["event"] == "action.ack" and r["cue"] == "timeline 0:02")
    assert ack["success"] is True
    # The 0:08.5 prompt's ack would come after the end: nothing follows show.end.
    assert records[-1]["event"] == "show.end", records[-3:]


def test_a_lone_surrogate_in_a_prompt_is_a_validation_error(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(SHOW.replace("next prompt", '"bad \\uD800 prompt"'))
    with pytest.raises(ShowError) as caught:
        load_show(path)
    [problem] = caught.value.problems
    assert str(problem).startswith(f"{path}:9:") and "\\ud800" in str(problem) and "UTF-8" in str(problem)


def test_a_lone_surrogate_from_a_python_show_is_a_validation_error(tmp_path: Path) -> None:
    path = tmp_path / "s.py"
    path.write_text('from decart_flow import Show, prompt\n'
                    'show = Show("P", model="mirage_v2", initial=prompt("Anime"))\n'
                    'show.at("0:01", prompt("bad \\ud800 prompt"))\n')
    with pytest.raises(ShowError) as caught:
        load_show(path)
    assert any("UTF-8" in str(p) for p in caught.value.problems), caught.value.problems


def test_an_escape_sequence_in_a_name_is_a_validation_error(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(SHOW.replace("name: Lanes", 'name: "A\\e[2Jcleared"'))
    with pytest.raises(ShowError) as caught:
        load_show(path)
    [problem] = caught.value.problems
    assert "control character \\x1b" in str(problem) and ":1:" in str(problem)


def test_the_wire_refuses_text_that_is_not_utf8() -> None:
    with pytest.raises(InvalidInputError):
        messages.prompt("bad \ud800 prompt", True)
    with pytest.raises(InvalidInputError):
        messages.set_image("aGVsbG8=", "bad \udfff", True)
    assert messages.prompt("ünïcode ✓", True)["prompt"] == "ünïcode ✓"
