"""Media: the sources a show sends and the sinks that take the transformed stream."""

from decart_flow.media.errors import MediaError, RecorderError, SourceError
from decart_flow.media.preview import Preview
from decart_flow.media.recorder import Recorder
from decart_flow.media.sources import CameraSource, FileSource, ImageSource, TestSource, open_source
from decart_flow.media.stats import StampWatcher, StreamStats

__all__ = [
    "CameraSource", "FileSource", "ImageSource", "MediaError", "Preview", "Recorder", "RecorderError",
    "SourceError", "StampWatcher", "StreamStats", "TestSource", "open_source",
]
