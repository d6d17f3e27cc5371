"""Small real media files for the show tests (made here, so no fixture file goes stale)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image


def make_png(path: Path, color=(200, 30, 30)) -> Path:
    Image.new("RGB", (16, 16), color).save(path)
    return path


def make_wav(path: Path, seconds: float = 0.2, rate: int = 16000) -> Path:
    """A short mono sine, written with PyAV."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("pcm_s16le", rate=rate)
        stream.layout = "mono"
        t = np.arange(int(seconds * rate)) / rate
        samples = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)[None, :]
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def make_assets(folder: Path) -> Path:
    """refs/start.png, refs/ghibli.png, face.png, lines/hello.wav, broken.png, clips/dance.mp4."""
    (folder / "refs").mkdir(exist_ok=True)
    (folder / "lines").mkdir(exist_ok=True)
    (folder / "clips").mkdir(exist_ok=True)
    make_png(folder / "refs" / "start.png")
    make_png(folder / "refs" / "ghibli.png", (30, 200, 30))
    make_png(folder / "face.png", (220, 180, 150))
    make_wav(folder / "lines" / "hello.wav")
    (folder / "broken.png").write_bytes(b"\x89PNG not really")
    (folder / "broken.wav").write_bytes(b"RIFF\x00\x00nope")
    with av.open(str(folder / "clips" / "dance.mp4"), "w") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for i in range(3):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), i * 60, np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return folder


@pytest.fixture
def assets(tmp_path: Path) -> Path:
    return make_assets(tmp_path)


def test_assets_decode(assets: Path):
    from decart_flow.show import checks

    assert checks.image_problem(str(assets / "face.png")) is None
    assert checks.audio_problem(str(assets / "lines" / "hello.wav")) is None
    assert checks.video_problem(str(assets / "clips" / "dance.mp4")) is None
    assert "cannot decode" in (checks.image_problem(str(assets / "broken.png")) or "")
    assert "cannot decode" in (checks.audio_problem(str(assets / "broken.wav")) or "")
    assert "no audio stream" in (checks.audio_problem(str(assets / "face.png")) or "")
