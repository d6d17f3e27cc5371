"""Sources give frames of the model's size at its pace; sinks record, preview and count them."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import statistics
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from needs import missing
from PIL import Image

from decart_flow.media import Preview, Recorder, SourceError, StampWatcher, StreamStats, open_source
from decart_flow.media.yuv import frame_planes
from decart_flow.service.stamp import write_stamp

W, H, FPS = 320, 176, 25


def make_clip(path: Path, frames: int = 10, size: tuple[int, int] = (160, 90)) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=25)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            rgb = np.zeros((size[1], size[0], 3), np.uint8)
            rgb[..., 0] = i * 20  # red grows frame by frame
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


async def take(track, n: int) -> list[av.VideoFrame]:
    try:
        return [await track.recv() for _ in range(n)]
    finally:
        track.stop()


async def test_testsrc_moves_at_the_model_size_and_pace() -> None:
    track = open_source("testsrc", W, H, FPS)
    t0 = time.monotonic()
    frames = await take(track, 13)
    elapsed = time.monotonic() - t0
    assert all((f.width, f.height, f.format.name) == (W, H, "yuv420p") for f in frames)
    assert 0.35 < elapsed < 2.0  # 12 intervals of 40 ms
    assert [f.pts for f in frames[:3]] == [0, 3600, 7200] and frames[0].time_base == Fraction(1, 90000)
    assert track.sent.frames == 13 and 10 < track.fps_out() < 40
    a, b = frames[0].to_ndarray(), frames[5].to_ndarray()
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 1.0


async def test_file_source_loops_the_clip(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "clip.mp4", frames=5)
    track = open_source(f"file:{clip}", W, H, FPS)
    frames = await take(track, 20)  # 0.8 s: more than the 0.2 s clip, so it looped
    reds = [float(f.to_ndarray(format="rgb24")[H // 2, W // 2, 0]) for f in frames]
    assert all((f.width, f.height) == (W, H) for f in frames)
    assert max(reds) > 50
    drops = sum(1 for x, y in zip(reds, reds[1:]) if y < x - 30)
    assert drops >= 1, reds  # red fell back to the start of the clip at least once


async def test_image_source_letterboxes_a_still(tmp_path: Path) -> None:
    png = tmp_path / "still.png"
    Image.new("RGB", (100, 100), (0, 200, 0)).save(png)
    frames = await take(open_source(f"image:{png}", W, H, FPS), 3)
    rgb = frames[-1].to_ndarray(format="rgb24")
    assert rgb.shape == (H, W, 3)
    assert rgb[H // 2, W // 2, 1] > 150  # green in the middle
    assert rgb[H // 2, 5].max() < 40  # black bar at the side


@pytest.mark.parametrize(
    "spec, words",
    [
        ("webcam", ["testsrc", "camera", "file:"]),
        ("file:/no/such/clip.mp4", ["/no/such/clip.mp4", "cannot read"]),
        ("image:/no/such.png", ["/no/such.png", "cannot read"]),
        ("camera:/dev/video99", ["no camera at /dev/video99", "--source testsrc"]),
    ],
)
def test_bad_sources_say_what_and_how_to_fix(spec: str, words: list[str]) -> None:
    with pytest.raises(SourceError) as err:
        open_source(spec, W, H, FPS)
    for word in words:
        assert word in str(err.value)


def test_a_file_that_is_not_video_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    with pytest.raises(SourceError, match="notes.mp4"):
        open_source(f"file:{bad}", W, H, FPS)


def _stamped(value: int, width: int = 1280, height: int = 704) -> av.VideoFrame:
    frame = av.VideoFrame(width, height, "yuv420p")
    y, u, v = frame_planes(frame)
    y[:] = 90
    u[:] = 128
    v[:] = 128
    write_stamp(y, value)
    return frame


def ffprobe(path: Path) -> dict:
    if shutil.which("ffprobe") is None:
        missing("ffprobe is not installed (Debian: apt-get install ffmpeg)")
    out = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-of", "json", str(path)],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["streams"][0]


def test_recorder_writes_an_mp4_that_ffprobe_accepts(tmp_path: Path) -> None:
    out = tmp_path / "rec" / "out.mp4"
    rec = Recorder(out, fps=25)
    rec.start()
    for i in range(30):
        rec(_stamped(i // 10 + 1))
        time.sleep(0.01)
    rec.stop()
    assert rec.error is None and rec.frames == 30
    stream = ffprobe(out)
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("h264", 1280, 704)
    assert int(stream["nb_read_frames"]) == 30
    from decart_flow.service import read_stamp

    with av.open(str(out)) as c:
        stamps = [read_stamp(f) for f in c.decode(video=0)]
    assert stamps == [1] * 10 + [2] * 10 + [3] * 10


def test_recorder_refuses_an_unwritable_path(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(Exception, match="cannot record to"):
        Recorder(blocker / "out.mp4", fps=25).start()


_KILLED = """
import sys, time
from decart_flow.media import Recorder, TestSource
rec = Recorder(sys.argv[1], fps=25)
rec.start()
src = TestSource(640, 352, 25)
i = 0
while True:
    rec(src.make_frame(i)); i += 1
    if i == 60:
        print("recording", flush=True)
    time.sleep(0.02)
"""


def test_a_killed_recording_is_still_playable(tmp_path: Path) -> None:
    out = tmp_path / "killed.mp4"
    proc = subprocess.Popen([sys.executable, "-c", _KILLED, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "recording"
        time.sleep(1.0)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    stream = ffprobe(out)
    assert stream["width"] == 640 and int(stream["nb_read_frames"]) >= 25


def test_recorder_failure_is_reported_and_never_blocks(tmp_path: Path) -> None:
    errors: list[str] = []
    rec = Recorder("/dev/full", fps=25, on_error=errors.append)
    rec.start()
    t0 = time.monotonic()
    for i in range(200):
        rec(_stamped(1, 320, 176))
    assert time.monotonic() - t0 < 1.0  # the media thread never waits on a failing disk
    deadline = time.monotonic() + 10
    while not errors and time.monotonic() < deadline:
        time.sleep(0.05)
    rec.stop()
    assert errors and "/dev/full" in errors[0]


def test_preview_downscales_the_newest_kept_frame() -> None:
    preview = Preview(width=80, height=45, fps=1000)
    assert preview.latest() is None
    rgb = np.zeros((704, 1280, 3), np.uint8)
    rgb[:, 640:] = (255, 0, 0)
    preview(av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p"))
    small = preview.latest()
    assert small is not None and small.shape == (45, 80, 3)
    assert small[20, 70, 0] > 200 and small[20, 10, 0] < 40
    assert preview.latest() is small  # cached until a new frame is kept


def test_stats_count_frames_per_second() -> None:
    stats = StreamStats(window=1.0)
    frame = _stamped(1, 320, 176)
    for _ in range(10):
        stats(frame)
        time.sleep(0.05)
    assert stats.frames == 10
    assert 10 < stats.fps() < 30


def test_stamp_watcher_notes_the_first_frame_of_each_stamp() -> None:
    watcher = StampWatcher()
    seen: list[int] = []
    watcher.on_stamp(lambda value, t_ns: seen.append(value))
    for value in (1, 1, 2, 2, 2, 3):
        watcher(_stamped(value))
    assert seen == [1, 2, 3]
    assert watcher.first_seen(1) < watcher.first_seen(2) < watcher.first_seen(3)
    assert watcher.first_seen(9) is None and watcher.current == 3


def test_stamp_watcher_forgets_an_old_session_on_reset() -> None:
    watcher = StampWatcher()
    for value in (1, 2, 3):
        watcher(_stamped(value))
    old = watcher.first_seen(2)
    watcher.reset()
    assert watcher.first_seen(2) is None and watcher.current is None
    watcher(_stamped(1))
    watcher(_stamped(2))
    assert watcher.first_seen(2) is not None and watcher.first_seen(2) > old


def test_a_recording_that_never_got_a_frame_leaves_no_file(tmp_path: Path) -> None:
    out = tmp_path / "empty.mp4"
    rec = Recorder(out, fps=25)
    rec.start()
    rec.stop()
    assert rec.frames == 0 and not out.exists()


def _packet_pts(path: Path) -> list[int]:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "packet=pts",
                          "-of", "csv=p=0", str(path)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return sorted(int(line.strip().strip(",")) for line in out.stdout.split() if line.strip().strip(","))


async def test_a_recording_keeps_the_streams_rtp_clock_and_re_encodes_cleanly(tmp_path: Path) -> None:
    """The real client and the local service on 127.0.0.1: the recording's timestamps are the received
    frames' RTP times (not arrival times), and ffmpeg re-encodes it without a timestamp warning."""
    from aiortc import VideoStreamTrack

    from decart_flow.realtime import RealtimeClient, RealtimeConnectOptions, models
    from decart_flow.service import LocalService

    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed (Debian: apt-get install ffmpeg)")
    out = tmp_path / "rtp.mp4"
    svc = LocalService(port=0, api_key="k")
    await svc.start()
    rec = Recorder(out, fps=25)
    received: list[int] = []
    try:
        client = await RealtimeClient.connect(svc.url, "k", VideoStreamTrack(),
                                              RealtimeConnectOptions(model=models.realtime("mirage")))
        try:
            rec.start()
            client.add_frame_sink(lambda f: received.append(f.pts * f.time_base * 90000))
            client.add_frame_sink(rec)
            deadline = time.monotonic() + 20
            while len(received) < 60 and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            await client.set_prompt("Anime", enrich=False)  # a change: the service renders at once
            deadline = time.monotonic() + 20
            while len(received) < 90 and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
        finally:
            await client.disconnect()
            rec.stop()
    finally:
        await svc.stop()
    assert rec.error is None and rec.dropped == 0 and rec.frames >= 90
    # each frame at its RTP time from the one before (the sink saw the same frames, in the same
    # order); a step may follow arrival instead where the two clocks drifted apart (RESYNC_S)
    steps = [b - a for a, b in zip(_packet_pts(out), _packet_pts(out)[1:])]
    rtp_steps = [int(b - a) for a, b in zip(received, received[1 : rec.frames])]
    assert len(steps) == len(rtp_steps) and all(step > 0 for step in steps)
    taken_up_again = sum(a != b for a, b in zip(steps, rtp_steps))
    assert taken_up_again <= 2, (steps, rtp_steps)
    for args in (["-fps_mode", "passthrough"], []):  # as received, and converted to constant rate
        proc = subprocess.run(["ffmpeg", "-hide_banner", "-y", "-i", str(out), *args, "-c:v", "libx264",
                               "-preset", "ultrafast", str(tmp_path / "again.mp4")],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert "monotonic" not in proc.stderr, proc.stderr[-2000:]
        stats = proc.stderr.rsplit("frame=", 1)[-1]
        # A stall leaves a gap in the RTP time (the service's clock jumps to the wall time when its
        # output falls behind): frames repeat there when converted to a constant rate.
        gap = max(rtp_steps) > 1.5 * statistics.median(rtp_steps)
        if not taken_up_again and not gap:
            assert " dup=" not in stats and " drop=" not in stats, stats  # no frame repeated or dropped


def test_a_reconnect_restarting_the_rtp_clock_continues_the_recording_by_arrival(tmp_path: Path) -> None:
    out = tmp_path / "again.mp4"
    rec = Recorder(out, fps=FPS)
    rec.start()

    def frame(pts: int) -> av.VideoFrame:
        f = _stamped(1, W, H)
        f.pts, f.time_base = pts, Fraction(1, 90000)
        return f

    base = 1_000_000
    for i in range(10):
        rec(frame(base + i * 3600))
        time.sleep(0.04)
    time.sleep(0.5)  # an outage, then the service's clock starts over from another random value
    for i in range(10):
        rec(frame(7 + i * 3600))
        time.sleep(0.04)
    rec.stop()
    pts = _packet_pts(out)
    assert rec.error is None and len(pts) == 20
    assert pts[:10] == [i * 3600 for i in range(10)]  # the first clock, exactly
    assert [b - a for a, b in zip(pts[10:], pts[11:])] == [3600] * 9  # the second clock, exactly
    gap = (pts[10] - pts[9]) / 90000
    assert 0.5 < gap < 2.0, gap  # the outage stays a gap, measured by arrival


def test_a_stall_the_senders_clock_squeezed_out_stays_a_gap(tmp_path: Path) -> None:
    """The local service's frame clock starts afresh after falling behind: its RTP time goes on
    one frame later while 0.6 s passed. The recording keeps the gap (by arrival), then follows the
    sender's 40 ms steps again."""
    out = tmp_path / "stall.mp4"
    rec = Recorder(out, fps=FPS)
    rec.start()
    for i in range(20):
        if i == 10:
            time.sleep(0.6)
        f = _stamped(1, W, H)
        f.pts, f.time_base = 5000 + i * 3600, Fraction(1, 90000)
        rec(f)
        time.sleep(0.04)
    rec.stop()
    pts = _packet_pts(out)
    assert rec.error is None and len(pts) == 20
    steps = [b - a for a, b in zip(pts, pts[1:])]
    assert steps[:9] == [3600] * 9 and steps[10:] == [3600] * 9, steps
    assert 0.6 < steps[9] / 90000 < 1.0, steps[9]
