"""One session of a run: its source, its client, the sinks on what comes back, its meter.

A show of several sessions (`sessions:` in SHOW_FORMAT.md) plays each on a `RealtimeClient` of
its own, with its own model, source, initial state, protocol, reconnects and recording; `Run`
makes one `SessionRun` per session it plays and connects them all at once. A one-session show
has one, named `main`, and its files and lines are exactly those of a one-session run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..engine.billing import SessionMeter
from ..realtime.client import RealtimeClient
from ..realtime.models import ModelDefinition, realtime

log = logging.getLogger(__name__)


def record_path(record: str | Path, name: str, several: bool) -> Path:
    """Where `--record out.mp4` writes session `name`: `out.mp4` for one session, `out-NAME.mp4`
    beside it when the run plays several."""
    path = Path(record)
    if not several:
        return path
    return path.with_name(f"{path.stem}-{name}{path.suffix or '.mp4'}")


def session_fields(name: str, several: bool) -> dict[str, str]:
    """The `session` field of a journal record about one session: only in a show of several."""
    return {"session": name} if several else {}


@dataclass
class SessionRun:
    """What a run holds for one session; `Run` opens and releases it."""

    name: str
    spec: Any  # show.model.SessionSpec
    several: bool  # the run plays more than one session: records carry `session`
    write: Callable[..., None]  # the run's journal.write
    model: ModelDefinition = field(init=False)
    protocol: str = "p2p"
    source: Any = None
    client: RealtimeClient | None = None
    recorder: Any = None
    record_path: Path | None = None
    stamps: Any = None
    stats: Any = None
    preview: Any = None
    latency_feed: Any = None
    last_state: str = "disconnected"
    lost: bool = False  # ended for good (a refused key after a restart)
    closed: bool = False
    meter: SessionMeter = field(init=False)

    def __post_init__(self) -> None:
        self.model = realtime(self.spec.model)
        self.meter = SessionMeter(self.write, self.name if self.several else None)

    def journal(self, event: str, **fields: Any) -> None:
        """A journal record about this session (with `session: NAME` in a show of several)."""
        self.write(event, **session_fields(self.name, self.several), **fields)

    def label(self) -> str:
        """`left` in lines printed for a show of several; empty for one."""
        return f"session {self.name}: " if self.several else ""

    def attach_sinks(self, local: bool, record: str | None, on_error: Callable[[str], None]) -> None:
        """Stats, preview, the stamp watcher (local service) and the recorder on the client's frames.

        Raises RecorderError when the recording cannot be opened."""
        from ..media import Preview, Recorder, StampWatcher, StreamStats

        client = self.client
        assert client is not None
        self.stats = StreamStats()
        client.add_frame_sink(self.stats)
        self.preview = Preview()
        client.add_frame_sink(self.preview)
        if local:
            self.stamps = StampWatcher()
            client.add_frame_sink(self.stamps)
        if record:
            self.record_path = record_path(record, self.name, self.several)
            recorder = Recorder(self.record_path, fps=self.model.fps, on_error=on_error)
            recorder.start()
            self.recorder = recorder
            client.add_frame_sink(recorder)

    async def close(self) -> None:
        """Disconnect, finalize the recording, stop the source: once, whatever failed before."""
        import asyncio

        if self.closed:
            return
        self.closed = True
        if self.latency_feed is not None:
            self.latency_feed.close()
        if self.client is not None:
            try:
                await asyncio.wait_for(self.client.disconnect(), 2.0)
            except (asyncio.TimeoutError, Exception) as exc:  # noqa: BLE001
                log.warning("disconnect did not finish cleanly: %s", exc)
        if self.recorder is not None:
            try:
                await asyncio.to_thread(self.recorder.stop)
            except Exception as exc:  # noqa: BLE001 - the recording is fragmented: still playable
                log.warning("recorder stop: %s", exc)
        if self.source is not None:
            try:
                self.source.stop()
            except Exception:  # noqa: BLE001
                pass
