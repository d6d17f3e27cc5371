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
name: link moves
model: mirage_v2
initial: {prompt: Start, enhance: false}
tempo: {bpm: 120, source: link}
timeline:
  bar 3: {prompt: Three, enhance: false}
  bar 30: {prompt: Thirty, enhance: false}
cues:
  - every: 1 beat
    prompt: {cycle: [A, B, C, D]}
    enhance: false
"""


def _wall(record: dict[str, object]) -> float:
    from datetime import datetime

    return datetime.fromisoformat(str(record["ts"])).timestamp()


def test_decart_flow_run_follows_a_link_peer_through_pause_resume_and_go(tmp_path: Path) -> None:
    """`decart-flow run` on the embedded service follows a Link peer's tempo (97 bpm, the show asks
    120) from the session's bar line. The operator pauses for a time that is no whole number of beats, resumes, then GOes (to bar 3,
    ahead of its time): after each, the show's beats are the session's beats again and its bars
    start on the session's bar lines (the grid re-anchors within half a bar rather than keeping the
    show's own count). GO itself fires at once, so what the jump lands on goes out with it."""
    show, journal = tmp_path / "show.yaml", tmp_path / "journal.jsonl"
    show.write_text(SHOW)
    osc = ("from pythonosc.udp_client import SimpleUDPClient; import sys; "
           "SimpleUDPClient('127.0.0.1', 57210).send_message(sys.argv[1], [])")
    with Netns(veth=False) as ns:
        peer = ns.popen([sys.executable, str(HARNESS / "peer.py"), "--bpm", "97", "--seconds", "40"],
                        stdout=-1, text=True)
        time.sleep(1.5)  # the peer's session is the older one
        run = ns.popen([sys.executable, "-m", "decart_flow.cli", "run", str(show), "--headless", "--duration", "11s",
                        "--osc-port", "57210", "--journal", str(journal)], cwd=HARNESS.parent.parent,
                       stdout=-1, stderr=-1, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (journal.exists() and '"show.start"' in journal.read_text()):
            time.sleep(0.05)
        for address, after in (("/pause", 2.0), ("/resume", 1.37), ("/go", 1.6)):
            time.sleep(after)
            ns.run([sys.executable, "-c", osc, address], timeout=30)
        out, err = run.communicate(timeout=90)
        peer.kill()
        peer_out, _ = peer.communicate(timeout=30)
    assert run.returncode == 0, err[-2000:]
    records = lines(journal.read_text())
    samples = lines(peer_out)
    events = [r["event"] for r in records]
    assert "show.pause" in events and "show.resume" in events
    resumed_ts = _wall(next(r for r in records if r["event"] == "show.resume"))
    go = [r for r in records if r["event"] == "cue.fire" and r["cue"] == "timeline bar 3"]
    assert go and go[0]["bar"] == "3.1", go  # journaled at its place on the grid, not at the show's 120 bpm
    go_ts = _wall(go[0])
    assert _wall(next(r for r in records if r["event"] == "go")) == pytest.approx(go_ts, abs=0.05)  # GO fired it
    beat_fires = [r for r in records if r["event"] == "cue.fire" and r["cue"] == "cue 1"]
    assert [r["bar"] for r in beat_fires[:5]] == ["1.1", "1.2", "1.3", "1.4", "2.1"]
    gaps = [b["intended_t"] - a["intended_t"] for a, b in zip(beat_fires[1:], beat_fires[2:])]
    assert statistics.median(gaps) == pytest.approx(60 / 97, rel=0.001)  # the peer's tempo, not the show's
    assert not [r for r in records if r["event"] == "error"]
    assert any(s["peers"] == 1 for s in samples)  # it saw us
    fires = [r for r in beat_fires if _wall(r) > resumed_ts and abs(_wall(r) - go_ts) > 0.005]
    assert len(fires) >= 8, [r["event"] for r in records]

    def peer_beat(wall: float) -> float:
        s = max((s for s in samples if s["wall"] <= wall), key=lambda s: s["wall"])
        return s["beat"] + (wall - s["wall"]) * s["tempo"] / 60.0

    def off_ms(beat: float, on: float) -> float:  # how far `beat` is from a multiple of `on`, in ms at 97 bpm
        return ((beat + on / 2) % on - on / 2) * 60.0 / 97 * 1000.0

    # every beat cue after the resume and after the GO fires on a beat of the session...
    phase = [off_ms(peer_beat(_wall(r)), 1.0) for r in fires]
    assert statistics.median(abs(x) for x in phase) < 10.0, phase
    # ...and the show's bar lines are the session's: a fire on beat 1 of a show bar is on a session bar line
    downbeats = [off_ms(peer_beat(_wall(r)), 4.0) for r in fires if str(r.get("bar", "")).endswith(".1")]
    assert downbeats and statistics.median(abs(x) for x in downbeats) < 10.0, downbeats
    after_go = [r for r in fires if _wall(r) > go_ts]
    assert len(after_go) >= 4 and all(int(r["bar"].split(".")[0]) >= 3 for r in after_go)  # GO moved the show to bar 3
