"""The service in a child process, so rendering and VP8 encoding get a core of their own."""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import signal
import threading
from types import TracebackType
from typing import TYPE_CHECKING

from decart_flow.service.faults import Faults

if TYPE_CHECKING:
    import asyncio

log = logging.getLogger(__name__)

START_TIMEOUT = 20.0


def service_logging(level: str, label: str = "") -> None:
    """The service's log lines at `level`; aiortc and aioice at warning at least (their info and
    debug output is SDP dumps and STUN chatter), whatever the level."""
    logging.basicConfig(level=level.upper(), format=f"%(asctime)s {label}%(levelname)s %(name)s: %(message)s")
    for noisy in ("aiortc", "aioice"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))


def _child(conn: multiprocessing.connection.Connection, port: int, api_key: str | None, faults: tuple[str, ...], log_level: str,
           host: str = "127.0.0.1", capacity: int | None = None) -> None:
    """Run a LocalService until the parent says stop (or goes away)."""
    import asyncio  # here, not above: the parent imports this module to launch before its own imports

    service_logging(log_level, "service ")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent's Ctrl-C is the parent's business

    async def main() -> None:
        from decart_flow.service.app import LocalService

        try:
            service = LocalService(host=host, port=port, api_key=api_key, faults=list(faults), capacity=capacity)
            await service.start()
        except Exception as exc:
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
            return
        conn.send(("url", service.url))
        loop = asyncio.get_running_loop()
        # A daemon thread waits for the parent's word (or its death) without holding up exit.
        threading.Thread(target=_wait_for_stop, args=(conn, loop, service.stopped), daemon=True).start()
        await service.stopped.wait()
        await service.stop()

    asyncio.run(main())


def _wait_for_stop(conn: multiprocessing.connection.Connection, loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    try:
        conn.recv()
    except (EOFError, OSError):
        pass
    try:
        loop.call_soon_threadsafe(stop.set)
    except RuntimeError:  # the service already stopped by itself (exit-after) and the loop closed
        pass


class ServiceProcess:
    """`start()` returns the URL once the child listens; `stop()` ends it; also a context manager.

    `start()` is `launch()` then `wait_ready()`: a caller with other work to do (the `run` command's
    imports) launches first and waits later, so the child's start-up overlaps its own.
    """

    def __init__(self, port: int = 0, api_key: str | None = None, faults: tuple[str, ...] | list[str] = (), log_level: str = "warning",
                 host: str = "127.0.0.1", capacity: int | None = None) -> None:
        """`host`: the address to listen on and offer LiveKit media on (a test's veth address
        for today's protocol; loopback is enough for the 2025 one). `capacity`: as `serve --capacity`."""
        self.host = host
        self.capacity = capacity
        self.port = port
        self.api_key = api_key
        self.faults = tuple(faults)
        Faults.parse(self.faults)  # a bad spec is the caller's FaultError, not a dead child
        self.log_level = log_level
        self.url: str | None = None
        self._process: multiprocessing.process.BaseProcess | None = None
        self._conn: multiprocessing.connection.Connection | None = None

    def start(self) -> str:
        self.launch()
        return self.wait_ready()

    def launch(self) -> None:
        """Spawn the child and return at once: the caller does its own work while the child imports."""
        if self._process is not None:
            return
        self.url = None
        ctx = multiprocessing.get_context("spawn")  # no inherited event loops or threads
        parent, child = ctx.Pipe()
        self._process = ctx.Process(
            target=_child, args=(child, self.port, self.api_key, self.faults, self.log_level, self.host, self.capacity),
            name="decart-flow-service", daemon=True
        )
        self._process.start()
        child.close()
        self._conn = parent

    def wait_ready(self, timeout: float = START_TIMEOUT) -> str:
        """Block until the launched child listens: its URL, or RuntimeError (the child is then stopped)."""
        if self.url is not None:
            return self.url
        parent = self._conn
        if parent is None:
            raise RuntimeError("the local service was not launched")
        if not parent.poll(timeout):
            self.stop()
            raise RuntimeError(f"the local service did not start within {timeout:.0f}s")
        try:
            kind, value = parent.recv()
        except EOFError:
            self.stop()
            raise RuntimeError("the local service exited while starting") from None
        if kind != "url":
            self.stop()
            raise RuntimeError(f"the local service could not start: {value}")
        self.url = value
        self.port = int(value.rsplit(":", 1)[1])
        return value

    def stop(self, timeout: float = 10.0) -> None:
        if self.url is None and self._process is not None and self._process.is_alive():
            self._process.terminate()  # still importing or starting: no session to close, no wait
        if self._conn is not None:
            try:
                self._conn.send("stop")
            except (OSError, BrokenPipeError):
                pass
        if self._process is not None:
            self._process.join(timeout)
            if self._process.is_alive():
                log.warning("local service did not stop in %.0fs; terminating it", timeout)
                self._process.terminate()
                self._process.join(5)
            self._process = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.is_alive()

    @property
    def exitcode(self) -> int | None:
        """How the child ended: its exit code, minus the signal that killed it; None while it runs."""
        return self._process.exitcode if self._process is not None else None

    def __enter__(self) -> "ServiceProcess":
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
