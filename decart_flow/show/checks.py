"""Checks on single values: each returns an error message, or None when the value is good.

Both front ends call these with their own position, so a YAML show and a Python show get the
same words for the same mistake.
"""

from __future__ import annotations

import os
import zoneinfo
from datetime import datetime
from functools import lru_cache

from decart_flow.realtime import models
from decart_flow.show.problems import did_you_mean

# Models of today first (what a new show should use), then their aliases, then the 2025 models.
MODELS = (*models.TODAY_MODELS, *models.ALIASES, *models.RETIRED_MODELS)
MODEL_ALIASES = {name: "live_avatar" for name in models.AVATAR_NAMES if name != "live_avatar"}
AVATAR_MODEL = "live_avatar"
CRON_NAMES = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
MAX_PROMPT = 1000


def canonical_model(name: str) -> str | None:
    """The canonical model name, aliases resolved; None when unknown."""
    name = name.strip()
    found = models.find(name)
    if found is None:
        return None
    return AVATAR_MODEL if found.kind == "avatar" else name


def models_hint() -> str:
    """The models a show may name, of today first."""
    return (
        f"a model of today ({', '.join(models.TODAY_MODELS)}) "
        f"or of 2025, local service only ({', '.join(models.RETIRED_MODELS)})"
    )


def model_problem(name: str) -> str:
    hint = did_you_mean(name, list(MODELS) + list(MODEL_ALIASES))
    return f"unknown model '{name}'{hint}: use {models_hint()}"


def text_problem(text: str) -> str | None:
    """Text that cannot go on the wire or to a terminal as it is, or None.

    A lone surrogate (`"\\uD800"` in YAML, `"\\ud800"` in Python) is not UTF-8: the service cannot
    decode it. A control character other than tab and newline (an ESC sequence) would drive the
    terminal that shows it.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = text[exc.start]
        return (f"character {exc.start + 1} is {ascii(bad)[1:-1]}, half of a surrogate pair, which is not "
                "Unicode text and cannot be sent as UTF-8: remove it or write the whole character")
    for i, ch in enumerate(text):
        code = ord(ch)
        if (code < 0x20 and ch not in "\t\n") or 0x7F <= code < 0xA0:
            return (f"character {i + 1} is the control character {ascii(ch)[1:-1]}, which would act on the "
                    "terminal that shows it: remove it")
    return None


def is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


@lru_cache(maxsize=256)
def _image_problem(path: str, mtime: float) -> str | None:
    from decart_flow.realtime.images import MAX_IMAGE_BYTES, decode_problem

    if os.path.getsize(path) > MAX_IMAGE_BYTES:
        return f"the file is over {MAX_IMAGE_BYTES // 2**20} MB, the service's limit"
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        return f"cannot read it ({e.strerror or e})"
    return decode_problem(data)


def url_image_problem(url: str) -> str | None:
    """Fetch an http(s) image now and check it as a file is checked; the run sends what was fetched."""
    from decart_flow.realtime.errors import InvalidInputError
    from decart_flow.realtime.images import fetch_checked

    try:
        fetch_checked(url)
    except InvalidInputError as exc:
        return str(exc)
    return None


def image_problem(path: str) -> str | None:
    """`path` is absolute; it must exist and decode with Pillow."""
    problem = _file_problem(path)
    return problem or _image_problem(path, os.path.getmtime(path))


@lru_cache(maxsize=256)
def _audio_problem(path: str, mtime: float) -> str | None:
    import av

    try:
        with av.open(path) as container:
            if not container.streams.audio:
                return "no audio stream in the file"
            for _frame in container.decode(audio=0):
                return None
            return "the audio stream holds no decodable frame"
    except Exception as e:  # PyAV raises av.error.* and others for broken files
        return f"cannot decode the audio ({type(e).__name__}: {e})"


@lru_cache(maxsize=256)
def _audio_seconds(path: str, mtime: float) -> float | None:
    import av

    try:
        with av.open(path) as container:
            stream = container.streams.audio[0]
            if stream.duration is not None and stream.time_base is not None:
                return float(stream.duration * stream.time_base)
            if container.duration is not None:
                return container.duration / 1_000_000
            samples = sum(frame.samples for frame in container.decode(audio=0))
            return samples / stream.rate if stream.rate else None
    except Exception:  # the length is a nicety for plan; decodability was checked already
        return None


def audio_seconds(path: str) -> float | None:
    """How long a (checked) clip plays, in seconds; None when the file does not say."""
    return _audio_seconds(path, os.path.getmtime(path))


def audio_problem(path: str) -> str | None:
    """`path` is absolute; it must exist and yield at least one decoded audio frame."""
    problem = _file_problem(path)
    return problem or _audio_problem(path, os.path.getmtime(path))


@lru_cache(maxsize=64)
def _video_problem(path: str, mtime: float) -> str | None:
    import av

    try:
        with av.open(path) as container:
            if not container.streams.video:
                return "no video stream in the file (for a still picture use image:PATH)"
            for _frame in container.decode(video=0):
                return None
            return "the video stream holds no decodable frame"
    except Exception as e:
        return f"cannot decode the video ({type(e).__name__}: {e})"


def video_problem(path: str) -> str | None:
    problem = _file_problem(path)
    return problem or _video_problem(path, os.path.getmtime(path))


def _file_problem(path: str) -> str | None:
    if not os.path.exists(path):
        return f"file not found: {path}"
    if os.path.isdir(path):
        return f"is a folder, not a file: {path}"
    return None


def cron_problem(expr: str) -> str | None:
    from croniter import croniter

    text = expr.strip()
    if text.startswith("@"):
        if text.lower() in CRON_NAMES:
            return None
        return f"bad cron expression '{expr}'{did_you_mean(text.lower(), CRON_NAMES)}: use five fields or one of {', '.join(CRON_NAMES)}"
    fields = text.split()
    if len(fields) != 5:
        return f"bad cron expression '{expr}': it needs five fields (minute hour day month weekday), e.g. \"0 * * * *\""
    try:
        ok = croniter.is_valid(text)
    except Exception:
        ok = False
    if not ok:
        return f"bad cron expression '{expr}': see `man 5 crontab`, e.g. \"*/15 9-18 * * mon-fri\""
    from croniter import CroniterBadDateError

    try:  # croniter looks 50 years ahead: what it never finds never fires
        croniter(text, datetime(2026, 1, 1)).get_next(datetime)
    except CroniterBadDateError:
        return (f"cron expression '{expr}' never matches a date (e.g. the 30th of February): "
                "check its day and month fields")
    except Exception:  # noqa: BLE001 - croniter's own checks said valid; anything else is a bad field
        return f"bad cron expression '{expr}': see `man 5 crontab`, e.g. \"*/15 9-18 * * mon-fri\""
    return None


def tz_problem(name: str) -> str | None:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError, TypeError):
        zones = zoneinfo.available_timezones()
        return f"unknown time zone '{name}'{did_you_mean(name, zones)}: use an IANA name such as Europe/Paris"
    return None
