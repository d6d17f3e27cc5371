"""Keys and client tokens: who may open a stream, and the wrong-key path of PROTOCOL.md."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from decart_flow.service import LocalService
from decart_flow.service.keys import KeyStore, TokenRequestError
from test_service_helpers import RawClient

KEY = "sk-service-test-0123"


@pytest.fixture
async def keyed() -> AsyncIterator[LocalService]:
    svc = LocalService(api_key=KEY)
    await svc.start()
    yield svc
    await svc.stop()


async def _mint(service: LocalService, body: dict | None = None, key: str = KEY) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{service.url}/v1/client/tokens", headers={"X-API-KEY": key}, json=body or {}) as resp:
            return resp.status, await resp.json()


async def _first_reply(service: LocalService, key: str, model: str = "mirage") -> dict:
    """Open a stream and send a prompt: the reply is the ack, or the error before it."""
    client = RawClient(service.url, model=model, api_key=key)
    await client.open()
    try:
        await client.send({"type": "prompt", "prompt": "hello", "enhance_prompt": False})
        for _ in range(100):
            if client.messages:
                return client.messages[0]
            await asyncio.sleep(0.05)
        raise AssertionError("no reply")
    finally:
        await client.close()


async def test_wrong_key_gets_error_then_close(keyed: LocalService, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client = RawClient(keyed.url, api_key="sk-wrong-key-987")
    await client.open()
    try:
        assert await client.wait_for("error") == {"type": "error", "error": "Invalid API key"}
        await client.wait_for("_closed")
    finally:
        await client.close()
    assert "sk-wrong-key-987" not in caplog.text


async def test_right_key_is_accepted(keyed: LocalService, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    assert (await _first_reply(keyed, KEY))["type"] == "prompt_ack"
    assert KEY not in caplog.text


async def test_without_a_service_key_any_non_empty_key_passes() -> None:
    async with LocalService() as service:
        assert (await _first_reply(service, "anything"))["type"] == "prompt_ack"
        assert (await _first_reply(service, ""))["error"] == "Invalid API key"


async def test_minted_token_works_until_it_expires(keyed: LocalService) -> None:
    status, body = await _mint(keyed, {"expiresIn": 1, "metadata": {"show": "t"}})
    assert status == 200 and body["apiKey"].startswith("ek_")
    assert body["expiresAt"].endswith("Z")
    assert (await _first_reply(keyed, body["apiKey"]))["type"] == "prompt_ack"
    await asyncio.sleep(1.1)
    assert (await _first_reply(keyed, body["apiKey"]))["error"] == "Invalid API key"


async def test_token_restricted_to_models(keyed: LocalService) -> None:
    _, body = await _mint(keyed, {"allowedModels": ["mirage_v2"]})
    assert (await _first_reply(keyed, body["apiKey"], model="mirage_v2"))["type"] == "prompt_ack"
    assert (await _first_reply(keyed, body["apiKey"], model="mirage"))["error"] == "Invalid API key"


async def test_minting_needs_the_service_key_and_a_sane_body(keyed: LocalService) -> None:
    assert (await _mint(keyed, key="sk-nope"))[0] == 401
    status, body = await _mint(keyed, {"expiresIn": 4000})
    assert status == 400 and "3600" in body["error"]
    assert (await _mint(keyed, {"allowedModels": "mirage"}))[0] == 400
    # A token cannot mint tokens.
    _, token = await _mint(keyed)
    assert (await _mint(keyed, key=token["apiKey"]))[0] == 401


def test_keystore_defaults_and_forged_tokens() -> None:
    store = KeyStore("k1")
    minted = store.mint({})
    assert 59 <= store._tokens[minted["apiKey"]].expires_at - time.time() <= 60
    assert store.allows(minted["apiKey"], "mirage")
    assert not store.allows("ek_forged", "mirage")
    assert not store.allows(None, "mirage")
    with pytest.raises(TokenRequestError):
        store.mint({"expiresIn": 0})
    with pytest.raises(TokenRequestError):
        store.mint({"expiresIn": True})
