"""Per-frame costs at the models' real size, 1280x704: what runs on the media thread stays cheap.

Bounds are CPU time of the calling thread (not wall time, which a busy CI machine inflates) and
sit ~10x above what these cost on a developer machine, so they catch a slow path (a per-frame
RGB conversion, a full-frame decode) without flaking.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from decart_flow.media import Recorder, StampWatcher, StreamStats
from decart_flow.media.testsrc import TestSource
from decart_flow.media.yuv import frame_planes
from decart_flow.service.stamp import write_stamp

W, H = 1280, 704


def cpu_ms(fn, n: int) -> float:
    start = time.thread_time()
    for i in range(n):
        fn(i)
    return (time.thread_time() - start) / n * 1000


def test_testsrc_costs_well_under_a_frame_interval() -> None:
    src = TestSource(W, H, 25)
    src.make_frame(0)
    assert cpu_ms(src.make_frame, 200) < 3.0


def test_watching_stamps_and_counting_frames_is_cheap() -> None:
    src = TestSource(W, H, 25)
    frames = []
    for i in range(50):
        frame = src.make_frame(i)
        y, u, v = frame_planes(frame)
        write_stamp(y, i // 10 + 1, u, v)
        frames.append(frame)
    watcher, stats = StampWatcher(), StreamStats()
    assert cpu_ms(lambda i: watcher(frames[i % 50]), 300) < 1.5
    assert watcher.current == 5
    assert cpu_ms(lambda i: stats(frames[i % 50]), 300) < 0.1


def test_the_recorder_sink_only_queues(tmp_path: Path) -> None:
    src = TestSource(W, H, 25)
    rec = Recorder(tmp_path / "cost.mp4", fps=25)
    rec.start()
    calls = []
    try:
        for i in range(50):
            frame = src.make_frame(i)
            t = time.perf_counter()
            rec(frame)
            calls.append(time.perf_counter() - t)
            time.sleep(0.02)
    finally:
        rec.stop()
    assert statistics.median(calls) < 0.001  # encoding is the worker's, not the media thread's
    assert rec.frames + rec.dropped == 50 and rec.error is None
