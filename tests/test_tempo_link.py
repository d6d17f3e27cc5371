"""A real Ableton Link session: our Conductor and a peer using aalink directly, two processes in a
network namespace of the test's own with only loopback (Link multicasts on every interface, so it
never runs on this machine's own ones). They agree on beat times; a peer's tempo change is followed;
our published tempo is the peer's; the show starts on the session's bar line."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.netns import Netns, unavailable
from tests.tempo_harness.agree import lines, offsets_ms

pytest.importorskip("aalink")
HARNESS = Path(__file__).parent / "tempo_harness"
pytestmark = pytest.mark.skipif(unavailable() is not None, reason=unavailable() or "")


def test_our_beats_are_the_link_peers_beats() -> None:
    with Netns(veth=False) as ns:
        assert ns.interfaces() == ["lo"]  # nothing in here can reach another machine
        peer = ns.popen([sys.executable, str(HARNESS / "peer.py"), "--bpm", "97", "--seconds", "30",
                         "--change-at", "9", "--change-bpm", "140"], stdout=-1, text=True)
        time.sleep(1.5)  # the peer's session is the older one: ours joins it and takes its tempo
        # Link's discovery socket (UDP 20808) is inside the namespace, and not among this machine's
        inside = ns.run(["ss", "-uan"], timeout=10).stdout
        outside = subprocess.run(["ss", "-uan"], capture_output=True, text=True, timeout=10).stdout
        assert ":20808" in inside and ":20808" not in outside
        ours = ns.run([sys.executable, str(HARNESS / "ours.py"), "--bpm", "120", "--seconds", "12",
                       "--publish-after", "140", "--publish-bpm", "100"], timeout=90, cwd=HARNESS.parent.parent)
        peer.kill()
        peer_out, _ = peer.communicate(timeout=30)
    assert ours.returncode == 0, ours.stderr[-2000:]
    beats, samples = lines(ours.stdout), lines(peer_out)
    done = beats.pop()
    assert done["done"] and done["offset"] % 4 == 0  # bar 1 of the show is a bar of the session
    assert done["start_bar_phase"] < 0.05 or done["start_bar_phase"] > 3.95  # started on the bar line
    assert beats[0]["bpm"] == pytest.approx(97, abs=0.01)  # the session's tempo, not the show's 120
    assert any(b["bpm"] == pytest.approx(140, abs=0.01) for b in beats)  # the peer's change, followed
    assert samples[-1]["tempo"] == pytest.approx(100, abs=0.01)  # ours, published to the peer
    assert all(b["peers"] >= 1 for b in beats)
    placed = offsets_ms(beats, samples, when="intended")
    late = offsets_ms(beats, samples)
    assert len(placed) >= 10
    # the same beats on both sides: our grid puts each beat where the peer has it...
    assert max(abs(x) for x in placed) < 5.0, placed
    # ...and the timer fires then (a busy machine may delay a few: this process runs at normal priority)
    assert statistics.median(abs(x) for x in late) < 5.0, late


SHOW = """\
name: link run
model: mirage_v2
initial: {prompt: Start, enhance: false}
tempo: {bpm: 120, source: link}
cues:
  - every: 1 beat
    prompt: {cycle: [A, B, C, D]}
    enhance: false
"""


def test_decart_flow_run_follows_a_link_peer_on_the_embedded_service(tmp_path: Path) -> None:
    show, journal = tmp_path / "show.yaml", tmp_path / "journal.jsonl"
    show.write_text(SHOW)
    with Netns(veth=False) as ns:
        peer = ns.popen([sys.executable, str(HARNESS / "peer.py"), "--bpm", "97", "--seconds", "40"],
                        stdout=-1, text=True)
        time.sleep(1.5)  # the peer's session is the older one
        run = ns.run([sys.executable, "-m", "decart_flow.cli", "run", str(show), "--headless", "--duration", "5s",
                      "--journal", str(journal)], timeout=90, cwd=HARNESS.parent.parent)
        peer.kill()
        peer_out, _ = peer.communicate(timeout=30)
    assert run.returncode == 0, run.stderr[-2000:]
    records = lines(journal.read_text())
    fires = [r for r in records if r["event"] == "cue.fire"]
    assert [r["bar"] for r in fires[:5]] == ["1.1", "1.2", "1.3", "1.4", "2.1"]
    gaps = [b["intended_t"] - a["intended_t"] for a, b in zip(fires[1:], fires[2:])]
    assert statistics.median(gaps) == pytest.approx(60 / 97, rel=0.001)  # the peer's tempo, not the show's
    assert not [r for r in records if r["event"] == "error"]
    assert any(s["peers"] == 1 for s in lines(peer_out))  # it saw us
