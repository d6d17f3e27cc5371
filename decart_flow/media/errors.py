"""Errors of the media room: a user's mistake is one line that says what, where and how to fix."""

from __future__ import annotations


class MediaError(Exception):
    """Anything the media room reports to a user."""


class SourceError(MediaError):
    """A `--source` / `source:` that cannot be opened: a bad spec, a missing file, no camera."""


class RecorderError(MediaError):
    """The recording could not be written (unwritable path, disk full); the stream goes on."""
