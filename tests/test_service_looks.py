"""Looks, caption, mirror and reference images, checked on the renderer itself (no network)."""

from __future__ import annotations

import base64
import io

import av
import numpy as np
import pytest
from PIL import Image

from decart_flow.service.looks import ChromaStats
from decart_flow.realtime.models import realtime as model_named
from decart_flow.service.pictures import CAPTION_HEIGHT, PictureError, decode_image
from decart_flow.service.renderer import Renderer
from decart_flow.service.stamp import read_stamp, stamp_shape


def _source() -> av.VideoFrame:
    """A colourful, structured picture, so every look has something to change."""
    ys, xs = np.mgrid[0:704, 0:1280]
    rgb = np.stack([(xs * 255 // 1280), (ys * 255 // 704), ((xs + ys) // 8 % 2) * 200 + 20], axis=-1).astype(np.uint8)
    return av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")


def _rgb(frame: av.VideoFrame) -> np.ndarray:
    return frame.to_ndarray(format="rgb24").astype(np.int16)


def _middle(a: np.ndarray) -> np.ndarray:
    """The picture without the stamp rows and the caption band."""
    sh, _ = stamp_shape(1280)
    return a[sh : -CAPTION_HEIGHT]


def _render(prompt: str | None, enhance: bool = False, mirror: bool = False) -> np.ndarray:
    r = Renderer(model_named("mirage"))
    if prompt is not None:
        r.set_prompt(prompt, enhance)
    if mirror:
        r.set_mirror(True)
    return _rgb(r.render(_source()))


PROMPTS = ["a watercolor painting", "cyberpunk neon city", "pencil sketch", "underwater coral reef", "golden hour desert"]


def test_each_prompt_has_its_own_look_and_keeps_it() -> None:
    looks = {p: _middle(_render(p)) for p in PROMPTS}
    for i, a in enumerate(PROMPTS):
        for b in PROMPTS[i + 1 :]:
            diff = np.abs(looks[a] - looks[b]).mean()
            assert diff > 8, f"{a!r} and {b!r} look alike (mean difference {diff:.1f})"
    assert np.array_equal(_middle(_render(PROMPTS[0])), looks[PROMPTS[0]])


def test_a_look_differs_from_the_input() -> None:
    plain = _middle(_rgb(_source()))
    assert np.abs(_middle(_render("pencil sketch")) - plain).mean() > 8


def test_enhance_changes_the_same_text() -> None:
    diff = np.abs(_middle(_render("pencil sketch", enhance=True)) - _middle(_render("pencil sketch"))).mean()
    assert diff > 5


def test_passthrough_leaves_the_picture_alone() -> None:
    r = Renderer(model_named("mirage"))
    r.set_image(None, None, None, False)
    out = _middle(_rgb(r.render(_source())))
    assert np.abs(out - _middle(_rgb(_source()))).mean() < 2
    assert r.counter == 1


def test_mirror_flips_the_picture_but_not_the_stamp() -> None:
    plain = _render("pencil sketch")
    mirrored = _render("pencil sketch", mirror=True)
    assert np.abs(_middle(mirrored) - _middle(plain)[:, ::-1]).mean() < 2
    assert np.abs(_middle(mirrored) - _middle(plain)).mean() > 10
    r = Renderer(model_named("mirage"))
    r.set_prompt("pencil sketch", False)
    r.set_mirror(True)
    assert read_stamp(r.render(_source())) == 2


def test_caption_band_shows_text_and_changes_with_prompt() -> None:
    a = _render("short")[-CAPTION_HEIGHT:]
    b = _render("a much longer prompt with many words")[-CAPTION_HEIGHT:]
    assert (a > 200).any(), "caption text is drawn in white"
    assert (a < 40).mean() > 0.5, "on a dark band"
    assert np.abs(a - b).mean() > 1


def _png(color: tuple[int, int, int]) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def test_reference_image_steers_colours() -> None:
    def mean_chroma(ref_color: tuple[int, int, int]) -> np.ndarray:
        image = decode_image(_png(ref_color))
        noisy = np.asarray(image).astype(np.int16) + np.random.default_rng(0).integers(-20, 20, (48, 64, 3))
        frame = av.VideoFrame.from_ndarray(np.clip(noisy, 0, 255).astype(np.uint8), format="rgb24").reformat(format="yuv420p")
        arr = frame.to_ndarray()
        u = arr[48 : 48 + 12].reshape(24, 32)
        v = arr[60:].reshape(24, 32)
        r = Renderer(model_named("mirage"))
        r.set_image(ChromaStats.of(u, v), None, None, False)
        return _middle(_rgb(r.render(_source()))).reshape(-1, 3).mean(axis=0)

    red, blue = mean_chroma((220, 30, 30)), mean_chroma((30, 30, 220))
    assert red[0] - red[2] > 40
    assert blue[2] - blue[0] > 40


def test_bad_image_data_is_a_clear_error() -> None:
    with pytest.raises(PictureError, match="not a readable image"):
        decode_image(base64.b64encode(b"not an image").decode())
    with pytest.raises(PictureError, match="larger than 20 MB"):
        decode_image("A" * (28 * 1024 * 1024))
    assert decode_image("data:image/png;base64," + _png((1, 2, 3))).size == (64, 48)


def test_model_sizes() -> None:
    for name, (w, h) in {"mirage": (1280, 704), "mirage_v2": (1280, 704), "live_avatar": (1280, 720)}.items():
        frame = Renderer(model_named(name)).render(None)
        assert (frame.width, frame.height) == (w, h)
    # A client sending another size is scaled to the model's.
    small = av.VideoFrame.from_ndarray(np.zeros((360, 640, 3), np.uint8), format="rgb24")
    assert Renderer(model_named("mirage")).render(small).width == 1280
