"""Security of a run: loopback by default, constant-time keys, expiring tokens, no key in any output."""

from __future__ import annotations

import asyncio
import hmac
import json
from pathlib import Path

import aiohttp
import pytest

from decart_flow.service import LocalService
from decart_flow.service import keys as keys_module
from decart_flow.service.keys import KeyStore
from test_resilience_run import KEY, Serve, cli, free_port, journal, write_show
from test_service_helpers import RawClient


def listening_addresses(port: int) -> set[str]:
    """Local addresses of sockets listening on `port`, from /proc/net/tcp{,6}."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:  # 0A = LISTEN
                found.add(address)
    return found


def test_serve_binds_loopback_by_default() -> None:
    if not Path("/proc/net/tcp").exists():
        pytest.skip("needs Linux /proc/net/tcp")
    service = Serve(free_port()).start()
    try:
        assert listening_addresses(service.port) == {"0100007F"}  # 127.0.0.1, nothing else
    finally:
        service.stop()
    assert LocalService().host == "127.0.0.1"


def test_keys_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(keys_module.hmac, "compare_digest", spy)
    store = KeyStore("the-service-key")
    assert store.allows("the-service-key", "mirage") and not store.allows("the-service-kez", "mirage")
    assert (b"the-service-kez", b"the-service-key") in calls
    token = store.mint({"expiresIn": 60})["apiKey"]
    calls.clear()
    assert store.allows(token, "mirage")
    assert calls and all(isinstance(a, bytes) for a, _ in calls)


async def test_tokens_expire_for_new_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    async with LocalService(api_key=KEY) as service:
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{service.url}/v1/client/tokens", json={"expiresIn": 5},
                                 headers={"X-API-KEY": KEY}) as response:
                token = (await response.json())["apiKey"]
        live = RawClient(service.url, api_key=token)
        await live.open()
        await live.send({"type": "prompt", "prompt": "hi", "enhance_prompt": False})
        await live.wait_for("prompt_ack", success=True)
        now = keys_module.time.time()
        monkeypatch.setattr(keys_module.time, "time", lambda: now + 6)
        late = RawClient(service.url, api_key=token)
        await late.open()
        error = await late.wait_for("error")
        assert "invalid api key" in error["error"].lower()
        # The session opened before expiry goes on.
        await live.send({"type": "prompt", "prompt": "still here", "enhance_prompt": False})
        await live.wait_for("prompt_ack", prompt="still here", success=True)
        for client in (live, late):
            await client.ws.close()
            await client._session.close()


async def test_an_oversized_message_closes_only_that_socket() -> None:
    async with LocalService(api_key=KEY) as service:
        big = RawClient(service.url, api_key=KEY)
        await big.open()
        try:
            await big.ws.send_str(json.dumps({"type": "set_image", "image_data": "A" * (40 * 2**20)}))
        except ConnectionError:
            pass  # the service may hang up before the last byte is written
        await big.wait_for("_closed", timeout=20)
        ok = RawClient(service.url, api_key=KEY)
        await ok.open()
        await ok.send({"type": "prompt", "prompt": "next", "enhance_prompt": False})
        await ok.wait_for("prompt_ack", success=True)
        for client in (big, ok):
            await client.ws.close()
            await client._session.close()
        await asyncio.sleep(0)


def test_no_key_in_any_output_of_a_run(tmp_path: Path) -> None:
    service = Serve(free_port()).start()
    rec, jpath = tmp_path / "out.mp4", tmp_path / "j.jsonl"
    show = write_show(tmp_path, duration="5s")
    try:
        run = cli("run", str(show), "--headless", "--backend", service.url, "--api-key", KEY,
                  "--record", str(rec), "--journal", str(jpath), cwd=tmp_path)
        out, err = run.communicate(timeout=60)
        assert run.returncode == 0, err
        # A refused key goes through the error paths too: they must not echo it either.
        wrong = "sk_wrong_Zx81Lq0PvB7d"
        bad = cli("run", str(show), "--headless", "--backend", service.url, "--api-key", wrong,
                  "--journal", str(tmp_path / "bad.jsonl"), cwd=tmp_path)
        bad_out, bad_err = bad.communicate(timeout=60)
        assert bad.returncode == 1 and "refused the API key" in bad_err
    finally:
        service.stop()
    assert journal(jpath)[-1]["event"] == "show.end"
    texts = {"run stdout": out, "run stderr": err, "bad run stdout": bad_out, "bad run stderr": bad_err,
             "service output": "".join(service.outputs)}
    for path in tmp_path.rglob("*"):
        if path.is_file():
            texts[str(path)] = path.read_bytes().decode("latin-1")
    assert len(service.outputs[-1]) + len(service.outputs[-2]) > 0  # the service did log (debug level)
    for where, text in texts.items():
        assert KEY not in text, where
        assert wrong not in text, where
