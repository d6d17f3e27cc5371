"""OSC in: `on: osc /address` cues and the built-in `/go`, `/back`, `/pause`, `/resume`, `/prompt`
(`/prompt/NAME` in a show of several sessions: to session NAME only).

A UDP server on the engine's own loop (python-osc's asyncio endpoint), bound to 127.0.0.1 unless
told otherwise. A cue on an address takes it before the built-in of the same name, so a show can
redefine `/go`. A malformed packet is dropped by python-osc; a failing handler is logged, never fatal.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from typing import TYPE_CHECKING, Any, Callable

from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_server import AsyncIOOSCUDPServer

from .intents import COMMANDS, CommandError, command

if TYPE_CHECKING:
    from ..engine.engine import Engine

log = logging.getLogger(__name__)


class _Dispatcher(Dispatcher):
    """python-osc's dispatcher, with a packet it cannot parse logged in one line and skipped.

    python-osc drops most malformed packets itself, but a string that is not UTF-8 raises out of
    `datagram_received` and asyncio prints a traceback for it.
    """

    def call_handlers_for_packet(self, data: bytes, client_address: tuple[str, int]) -> list[Any]:
        try:
            return super().call_handlers_for_packet(data, client_address)
        except (UnicodeDecodeError, ValueError, IndexError, struct.error) as exc:
            log.warning("OSC packet from %s:%s skipped: %s", *client_address[:2], _why(exc))
            return []


def _why(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return f"a string is not UTF-8 (byte 0x{exc.object[exc.start]:02x})"
    return f"malformed ({type(exc).__name__}: {exc})"


class OscServer:
    """Symmetric `start()` / `stop()`; `port` is the bound port once started (0 picks one)."""

    def __init__(self, engine: Engine, port: int = 0, host: str = "127.0.0.1",
                 on_message: Callable[[str, tuple[Any, ...], bool], None] | None = None) -> None:
        self.engine = engine
        self.host = host
        self.port = port
        self.on_message = on_message  # (address, args, taken): the TUI log can show it
        self._transport: asyncio.DatagramTransport | None = None

    async def start(self) -> None:
        dispatcher = _Dispatcher()
        dispatcher.set_default_handler(self._handle)
        server = AsyncIOOSCUDPServer((self.host, self.port), dispatcher, asyncio.get_running_loop())
        self._transport, _ = await server.create_serve_endpoint()
        self.port = self._transport.get_extra_info("sockname")[1]

    async def stop(self) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.close()

    def _handle(self, address: str, *args: Any) -> None:
        try:
            taken = self.dispatch(address, args)
        except CommandError as exc:
            log.warning("OSC %s: %s", address, exc)
            taken = False
        except Exception:  # noqa: BLE001 - our bug: logged, the show goes on
            log.exception("OSC %s failed", address)
            taken = False
        if self.on_message is not None:
            self.on_message(address, tuple(args), taken)

    def dispatch(self, address: str, args: tuple[Any, ...]) -> bool:
        """A cue listening to the address first, else the built-in command of that name."""
        if self.engine.fire_event("osc", address, args):
            return True
        name = address.strip("/").lower()
        if name in COMMANDS:
            return command(self.engine, name, args, source="osc")
        head, _, session = address.strip("/").partition("/")
        if head.lower() == "prompt" and session:  # /prompt/NAME: to one session of several
            return command(self.engine, "prompt", args, source="osc", to=(session,))
        return False
