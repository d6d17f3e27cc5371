"""Pure parts of the realtime client: models, URLs and redaction, messages, error classes."""

from __future__ import annotations

import json

import pytest

from decart_flow.realtime import (
    DecartSDKError,
    InvalidAPIKeyError,
    InvalidInputError,
    ModelNotFoundError,
    WebRTCError,
    models,
    redact_url,
)
from decart_flow.realtime import messages
from decart_flow.realtime.errors import from_service
from decart_flow.realtime.urls import is_loopback, stream_url, to_http, to_ws


@pytest.mark.parametrize(
    "name,fps,size",
    [
        ("mirage", 25, (1280, 704)),
        ("mirage_v2", 22, (1280, 704)),
        ("lucy_v2v_720p_rt", 25, (1280, 704)),
        ("live_avatar", 25, (1280, 720)),
        ("live-avatar", 25, (1280, 720)),
        ("avatar-live", 25, (1280, 720)),
        ("lucy-restyle-2", 30, (1280, 704)),
        ("lucy-2.1", 30, (1280, 720)),
        ("lucy-vton-latest", 30, (1280, 720)),
    ],
)
def test_realtime_models(name: str, fps: int, size: tuple[int, int]) -> None:
    model = models.realtime(name)
    assert (model.name, model.fps, (model.width, model.height), model.url_path) == (name, fps, size, "/v1/stream")
    assert model.is_avatar == ("avatar" in name)


@pytest.mark.parametrize("name", ["lucy-2.2", "Mirage", "", None])
def test_unknown_model_raises_model_not_found(name: object) -> None:
    with pytest.raises(ModelNotFoundError, match="not found"):
        models.realtime(name)  # type: ignore[arg-type]


def test_model_table_eras_successors_and_options() -> None:
    today, retired = models.realtime("lucy-restyle-latest"), models.realtime("mirage_v2")
    assert (today.era, today.retired, retired.era, retired.retired) == (2026, False, 2025, True)
    assert retired.successor == "lucy-restyle-2" and models.realtime("live_avatar").successor is None
    assert models.canonical("lucy-latest") == "lucy-2.6" and models.canonical("avatar-live") == "live_avatar"
    assert models.realtime("lucy-2.5").option_problem("1080p", "fast") is None
    assert "has no `speed: fast`" in (models.realtime("lucy-restyle-2").option_problem(None, "fast") or "")
    assert "no resolution option" in (models.realtime("mirage").option_problem("720p", None) or "")
    assert models.realtime("lucy-2.6").size_at("1080p") == (1920, 1080)


def test_error_hierarchy() -> None:
    for cls in (InvalidAPIKeyError, WebRTCError, ModelNotFoundError, InvalidInputError):
        assert issubclass(cls, DecartSDKError)
    assert "DECART_API_KEY" in str(InvalidAPIKeyError())


@pytest.mark.parametrize(
    "url,expected",
    [
        ("ws://h/v1/stream?api_key=sk-123&model=m", "ws://h/v1/stream?api_key=***&model=m"),
        ("wss://h/p?model=m&api_key=sk-1%2F2", "wss://h/p?model=m&api_key=***"),
        ("https://h/p?API_KEY=abc#frag", "https://h/p?API_KEY=***#frag"),
        ("x api_key=one and api_key=two", "x api_key=*** and api_key=***"),
        ("ws://h/p?model=m", "ws://h/p?model=m"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_stream_url_and_scheme_rewrites() -> None:
    url = stream_url("http://127.0.0.1:9/", "/v1/stream", "k&y=1", "live-avatar", "720p")
    assert url.startswith("ws://127.0.0.1:9/v1/stream?api_key=k%26y%3D1&model=live-avatar&resolution=720p&user_agent=")
    assert "k&y" not in redact_url(url)
    assert to_ws("https://api.x") == "wss://api.x" and to_ws("wss://a") == "wss://a"
    assert to_http("wss://api.x/") == "https://api.x"
    with pytest.raises(ValueError):
        to_ws("ftp://x")
    assert is_loopback("ws://127.0.0.1:5/x") and is_loopback("http://localhost") and not is_loopback("wss://api3.decart.ai")


def test_outgoing_messages_match_protocol() -> None:
    assert messages.prompt("a", False) == {"type": "prompt", "prompt": "a", "enhance_prompt": False}
    assert messages.set_image(None) == {"type": "set_image", "image_data": None, "prompt": None}
    assert messages.set_image("QQ==", "p", True) == {
        "type": "set_image", "image_data": "QQ==", "prompt": "p", "enhance_prompt": True,
    }
    assert messages.set_image("QQ==") == {"type": "set_image", "image_data": "QQ=="}
    assert messages.switch_camera(True) == {"type": "switch_camera", "rotateY": 2}
    assert messages.switch_camera(False) == {"type": "switch_camera", "rotateY": 0}


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[1, 2]",
        json.dumps({"no": "type"}),
        json.dumps({"type": "bogus"}),
        json.dumps({"type": "prompt_ack", "prompt": "x"}),
        json.dumps({"type": "prompt_ack", "prompt": 3, "success": True}),
        json.dumps({"type": "set_image_ack", "success": "yes"}),
        json.dumps({"type": "session_id", "session_id": "s", "server_ip": "1", "server_port": True}),
        json.dumps({"type": "answer"}),
        json.dumps({"type": "error", "error": None}),
        json.dumps({"type": "set_image_ack", "success": False, "error": 5}),
    ],
)
def test_malformed_incoming_messages_are_refused(text: str) -> None:
    with pytest.raises(messages.MalformedMessage):
        messages.parse(text)


def test_valid_incoming_messages_parse() -> None:
    ack = messages.parse(json.dumps({"type": "prompt_ack", "prompt": "p", "success": False, "error": "no"}))
    assert ack["error"] == "no"
    assert messages.parse('{"type": "generation_tick", "seconds": 3}')["seconds"] == 3
    assert messages.parse('{"type": "set_image_ack", "success": true, "error": null}')["success"] is True


@pytest.mark.parametrize(
    "text,cls",
    [
        ("Invalid API key", InvalidAPIKeyError),
        ("401 Unauthorized", InvalidAPIKeyError),
        ("model not allowed for this token", InvalidAPIKeyError),
        ("Invalid session", InvalidAPIKeyError),
        ("Unknown model: foo", ModelNotFoundError),
        ("server overloaded", WebRTCError),
    ],
)
def test_service_errors_are_classified(text: str, cls: type) -> None:
    error = from_service(text)
    assert type(error) is cls and str(error) == text


def test_decart_client_takes_the_key_from_the_environment(monkeypatch) -> None:
    from decart_flow.realtime import DecartClient

    monkeypatch.setenv("DECART_API_KEY", " env-key ")
    client = DecartClient(base_url="http://127.0.0.1:9")
    assert client.api_key == "env-key" and client.realtime_base_url == "ws://127.0.0.1:9"
    assert "env-key" not in repr(client)
    assert DecartClient(api_key="k").realtime_base_url == "wss://api3.decart.ai"
    monkeypatch.setenv("DECART_API_KEY", "")
    with pytest.raises(InvalidAPIKeyError):
        DecartClient()
    with pytest.raises(InvalidInputError):
        DecartClient(api_key="k", base_url="ftp://x")


def test_a_refreshed_key_replaces_only_the_api_key_of_a_session_url():
    from decart_flow.realtime.urls import stream_url, with_api_key

    url = stream_url("http://127.0.0.1:9", "/v1/stream", "sk_old_key_0123456789", "mirage", "720p")
    again = with_api_key(url, "ek_new/+token")
    assert "sk_old" not in again and "api_key=ek_new%2F%2Btoken&model=mirage&resolution=720p" in again
    assert again.split("&", 1)[1] == url.split("&", 1)[1]
