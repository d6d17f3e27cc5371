"""The stamp survives what the wire does to it: a low-bitrate realtime VP8 round trip."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from decart_flow.service.stamp import read_stamp, stamp_shape, write_stamp


def _noisy_frame(rng: np.random.Generator, t: int, width: int = 1280, height: int = 704) -> tuple[np.ndarray, ...]:
    """A busy moving picture: the worst case for a bitrate-starved encoder."""
    xs = np.arange(width, dtype=np.int32)[None, :]
    ys = np.arange(height, dtype=np.int32)[:, None]
    y = ((xs * 3 + ys * 5 + t * 17) % 256).astype(np.uint8)
    y = np.clip(y.astype(np.int16) + rng.integers(-40, 40, y.shape), 0, 255).astype(np.uint8)
    u = rng.integers(60, 200, (height // 2, width // 2), dtype=np.uint8)
    v = rng.integers(60, 200, (height // 2, width // 2), dtype=np.uint8)
    return y, u, v


def _to_frame(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> av.VideoFrame:
    h, w = y.shape
    frame = av.VideoFrame.from_ndarray(np.concatenate([y.reshape(-1), u.reshape(-1), v.reshape(-1)]).reshape(h * 3 // 2, w), format="yuv420p")
    return frame


def _vp8_round_trip(frames: list[av.VideoFrame], bitrate: int = 300_000) -> list[av.VideoFrame]:
    """Encode with the realtime settings aiortc uses (but a lower bitrate), then decode."""
    enc = av.CodecContext.create("libvpx", "w")
    enc.width, enc.height = frames[0].width, frames[0].height
    enc.pix_fmt = "yuv420p"
    enc.bit_rate = bitrate
    enc.framerate = Fraction(25)
    enc.time_base = Fraction(1, 25)
    enc.options = {"deadline": "realtime", "cpu-used": "-6", "lag-in-frames": "0",
                   "minrate": str(bitrate), "maxrate": str(bitrate), "bufsize": str(bitrate)}
    dec = av.CodecContext.create("libvpx", "r")
    out: list[av.VideoFrame] = []
    for i, frame in enumerate(frames):
        frame.pts = i
        for packet in enc.encode(frame):
            out.extend(dec.decode(packet))
    for packet in enc.encode(None):
        out.extend(dec.decode(packet))
    return out


def test_stamp_reads_back_exactly_without_compression() -> None:
    y = np.full((704, 1280), 128, np.uint8)
    for value in (0, 1, 7, 255, 65535, (1 << 24) - 1):
        write_stamp(y, value)
        assert read_stamp(y) == value


def test_no_stamp_reads_none() -> None:
    rng = np.random.default_rng(1)
    assert read_stamp(np.full((704, 1280), 128, np.uint8)) is None
    assert read_stamp(rng.integers(0, 256, (704, 1280, 3), dtype=np.uint8)) is None
    assert read_stamp(np.zeros((20, 20), np.uint8)) is None


def test_a_flipped_bit_fails_the_checksum() -> None:
    y = np.full((704, 1280), 128, np.uint8)
    write_stamp(y, 12345)
    # Flip one counter cell (row 0, column 10).
    sh, sw = stamp_shape(1280)
    c = sw // 20
    cell = y[:c, 10 * c : 11 * c]
    y[:c, 10 * c : 11 * c] = np.where(cell > 128, 16, 235).astype(np.uint8)
    assert read_stamp(y) is None


def test_stamp_survives_vp8_round_trip_at_1280x704() -> None:
    rng = np.random.default_rng(7)
    values = [i * 37 + (i % 3) * 1000 for i in range(40)]
    frames = []
    for t, value in enumerate(values):
        y, u, v = _noisy_frame(rng, t)
        write_stamp(y, value, u, v)
        frames.append(_to_frame(y, u, v))
    decoded = _vp8_round_trip(frames)
    assert len(decoded) == len(values)
    read = [read_stamp(f) for f in decoded]
    assert read == values
    # The RGB path reads the same.
    assert read_stamp(decoded[-1].to_ndarray(format="rgb24")) == values[-1]


@pytest.mark.parametrize("size", [(1280, 720), (640, 352)])
def test_stamp_fits_other_sizes(size: tuple[int, int]) -> None:
    w, h = size
    y = np.full((h, w), 90, np.uint8)
    write_stamp(y, 4242)
    assert read_stamp(y) == 4242
