"""The state stamp: a counter drawn into every output frame, readable after a lossy VP8 trip.

Each frame says which state it was rendered with, so a client can tell when its prompt took
effect by watching frames rather than trusting acks. The stamp is two rows of 20 big black or
white cells in the top-left corner: 8 sync cells, a 24-bit counter and a CRC-8 of the counter.
Cells are aligned to VP8's 16-pixel macroblocks and are read by the mean of their inner half,
so blocking and ringing at low bitrates do not flip a bit.
"""

from __future__ import annotations

from typing import Any

import numpy as np

SYNC = (1, 0, 1, 1, 0, 0, 1, 0)
COUNTER_BITS = 24
CRC_BITS = 8
COLUMNS = 20
ROWS = 2
CELLS = len(SYNC) + COUNTER_BITS + CRC_BITS  # 40 = COLUMNS * ROWS
MODULO = 1 << COUNTER_BITS

BLACK = 16
WHITE = 235
# A cell whose inner mean is this close to mid-grey is undecided: the frame holds no stamp.
MARGIN = 40


def cell_size(width: int) -> int:
    """Side of a cell in pixels: 32 at 1280 wide, a multiple of 16, never under 16."""
    return max(16, (width // 640) * 16)


def stamp_shape(width: int) -> tuple[int, int]:
    """(height, width) of the stamp area at the top-left of a frame this wide."""
    c = cell_size(width)
    return ROWS * c, COLUMNS * c


def _crc8(value: int) -> int:
    """CRC-8 (poly 0x07) of the counter's three bytes: catches a misread bit or two."""
    crc = 0
    for byte in value.to_bytes(3, "big"):
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def _bits(value: int) -> list[int]:
    value %= MODULO
    counter = [(value >> (COUNTER_BITS - 1 - i)) & 1 for i in range(COUNTER_BITS)]
    crc = _crc8(value)
    check = [(crc >> (CRC_BITS - 1 - i)) & 1 for i in range(CRC_BITS)]
    return [*SYNC, *counter, *check]


def write_stamp(y: np.ndarray, value: int, u: np.ndarray | None = None, v: np.ndarray | None = None) -> None:
    """Draw `value` (mod 2**24) into a luma plane in place; grey out the chroma under it.

    Draw it last, after any mirroring, so it is never flipped.
    """
    height, width = y.shape[:2]
    c = cell_size(width)
    sh, sw = stamp_shape(width)
    if sh > height or sw > width:
        raise ValueError(f"frame {width}x{height} is too small for a stamp")
    for i, bit in enumerate(_bits(value)):
        row, col = divmod(i, COLUMNS)
        y[row * c : (row + 1) * c, col * c : (col + 1) * c] = WHITE if bit else BLACK
    for plane in (u, v):
        if plane is not None:
            plane[: sh // 2, : sw // 2] = 128


def _luma(frame: Any) -> np.ndarray:
    """A 2-D luma array from an av.VideoFrame, an RGB HxWx3 array or a luma plane."""
    if isinstance(frame, np.ndarray):
        if frame.ndim == 2:
            return frame
        if frame.ndim == 3 and frame.shape[2] >= 3:
            rgb = frame[..., :3].astype(np.float32)
            return 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
        raise ValueError(f"expected an HxW or HxWx3 array, got shape {frame.shape}")
    if frame.format.name in ("yuv420p", "yuvj420p", "nv12", "gray"):
        plane = frame.planes[0]
        raw = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
        return raw[: frame.height, : frame.width]
    return frame.to_ndarray(format="gray")


def read_stamp(frame: Any) -> int | None:
    """The counter in a frame, or None when it holds no valid stamp (sync, margin or CRC fail)."""
    y = _luma(frame)
    height, width = y.shape[:2]
    c = cell_size(width)
    sh, sw = stamp_shape(width)
    if sh > height or sw > width:
        return None
    q = c // 4
    area = y[:sh, :sw].astype(np.float32)
    # Mean of the inner half of every cell: shape (ROWS, COLUMNS).
    cells = area.reshape(ROWS, c, COLUMNS, c)[:, q : c - q, :, q : c - q].mean(axis=(1, 3))
    flat = cells.reshape(-1)
    mid = (BLACK + WHITE) / 2
    if np.any(np.abs(flat - mid) < MARGIN):
        return None
    bits = (flat > mid).astype(int).tolist()
    if tuple(bits[: len(SYNC)]) != SYNC:
        return None
    counter_bits = bits[len(SYNC) : len(SYNC) + COUNTER_BITS]
    crc_bits = bits[len(SYNC) + COUNTER_BITS :]
    value = int("".join(map(str, counter_bits)), 2)
    crc = int("".join(map(str, crc_bits)), 2)
    return value if crc == _crc8(value) else None
