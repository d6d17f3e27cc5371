"""Issue #19 item 8 (the run's side): malformed input to the control servers is a 4xx or a logged
line, never a 500, a traceback or a dead listener."""

from __future__ import annotations

import asyncio
import logging
import socket

from test_control_support import live_engine

from decart_flow.control.osc import OscServer
from decart_flow.control.remote import HttpControl
from decart_flow.show.model import Cue, EventTrigger, PromptAction, ShowModel


def show() -> ShowModel:
    cues = (Cue("scene", EventTrigger("http", "/scene"), (PromptAction("Scene {0}"),)),
            Cue("fader", EventTrigger("osc", "/fader"), (PromptAction("Storm {0}"),)))
    return ShowModel("Input Test", "mirage_v2", cues=cues)


async def _raw(port: int, request: bytes) -> bytes:
    """One raw HTTP/1.1 request (headers of any bytes), the status line back."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    line = await asyncio.wait_for(reader.readline(), 10)
    writer.close()
    return line


async def test_nested_json_and_non_ascii_tokens_are_4xx_never_500(tmp_path, caplog) -> None:
    async with live_engine(show(), tmp_path) as live:
        server = HttpControl(live.engine, port=0)
        await server.start()
        try:
            deep = b"[" * 100_000 + b"]" * 100_000
            tok = server.token.encode()
            for path, body in (("/api/prompt", b'{"text": ' + deep + b"}"), ("/scene", deep),
                               ("/scene", b'{"args": [' + b"[" * 50 + b"]" * 50 + b"]}")):
                head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nX-Token: ".encode() + tok +
                        f"\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode())
                status = await _raw(server.port, head + body)
                assert status.split()[1] in (b"400", b"413"), (path, status)
            for header in (b"X-Token: \xc3\xa9t\xc3\xa9", b"Cookie: decart_flow_token=\xff\xfe",
                           b"Authorization: Bearer \xe2\x82\xac", b"X-Token: \xff"):
                status = await _raw(server.port, b"GET /api/state HTTP/1.1\r\nHost: x\r\n" + header + b"\r\n\r\n")
                assert status.split()[1] == b"401", (header, status)
            # A prompt that is not UTF-8 (a JSON escape of a lone surrogate) or holds an ESC: 400.
            for text in (b'"bad \\ud800 prompt"', b'"\\u001b[2J"'):
                body = b'{"text": ' + text + b'}'
                head = (b"POST /api/prompt HTTP/1.1\r\nHost: x\r\nX-Token: " + tok +
                        f"\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode())
                status = await _raw(server.port, head + body)
                assert status.split()[1] == b"400", (text, status)
            # Still serving, and nothing fired.
            status = await _raw(server.port, b"GET /api/state HTTP/1.1\r\nHost: x\r\nX-Token: " + tok + b"\r\n\r\n")
            assert status.split()[1] == b"200"
            assert live.prompts() == []
            assert "Traceback" not in caplog.text and "Error handling request" not in caplog.text
        finally:
            await server.stop()


def _pad(b: bytes) -> bytes:
    b += b"\0"
    return b + b"\0" * ((4 - len(b) % 4) % 4)


async def test_an_osc_string_that_is_not_utf8_is_logged_and_skipped(tmp_path, caplog) -> None:
    errors: list[dict] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda lp, ctx: errors.append(ctx))
    async with live_engine(show(), tmp_path) as live:
        server = OscServer(live.engine, port=0)
        await server.start()
        try:
            with caplog.at_level(logging.WARNING), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.sendto(_pad(b"/fader") + _pad(b",s") + _pad(b"\xff\xfe bad"), ("127.0.0.1", server.port))
                sock.sendto(_pad(b"/fa\xffder") + _pad(b",s") + _pad(b"ok"), ("127.0.0.1", server.port))
                sock.sendto(_pad(b"/fader") + _pad(b",s") + _pad(b"good"), ("127.0.0.1", server.port))
                await live.until(lambda: "Storm good" in live.prompts())
        finally:
            await server.stop()
            loop.set_exception_handler(None)
    assert errors == []  # no "Exception in callback" from asyncio
    assert caplog.text.count("OSC packet from 127.0.0.1") == 2 and "not UTF-8" in caplog.text
