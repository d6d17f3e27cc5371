"""Who may connect: the service's API key and the short-lived client tokens minted with it."""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone


@dataclass(frozen=True)
class Token:
    expires_at: float  # time.time()
    allowed_models: tuple[str, ...] | None = None
    allowed_origins: tuple[str, ...] | None = None
    metadata: dict = field(default_factory=dict)


class TokenRequestError(ValueError):
    """A token request with a bad body; the message goes back as a 400."""


class KeyStore:
    """With an API key, only it and live tokens pass; without one, any non-empty key does."""

    def __init__(self, api_key: str | None) -> None:
        self._api_key = api_key
        self._tokens: dict[str, Token] = {}

    def is_api_key(self, key: str | None) -> bool:
        if not key:
            return False
        if self._api_key is None:
            return True
        return hmac.compare_digest(_bytes(key), _bytes(self._api_key))

    def allows(self, key: str | None, model: str, origin: str | None = None) -> bool:
        """May a new connection with this key use this model?"""
        if not key:
            return False
        token = self._find_token(key)
        if token is not None:
            if time.time() >= token.expires_at:
                return False
            if token.allowed_models is not None and model not in token.allowed_models:
                return False
            if token.allowed_origins is not None and origin is not None and origin not in token.allowed_origins:
                return False
            return True
        return self.is_api_key(key)

    def _find_token(self, key: str) -> Token | None:
        if not key.startswith("ek_"):
            return None
        for known, token in self._tokens.items():
            if hmac.compare_digest(_bytes(known), _bytes(key)):
                return token
        return None

    def mint(self, body: dict) -> dict:
        """A new token from a request body: {"apiKey": "ek_...", "expiresAt": ISO8601}."""
        if not isinstance(body, dict):
            raise TokenRequestError("body must be a JSON object")
        expires_in = body.get("expiresIn", 60)
        if not isinstance(expires_in, int) or isinstance(expires_in, bool) or not 1 <= expires_in <= 3600:
            raise TokenRequestError("expiresIn must be an integer number of seconds from 1 to 3600")
        models = _string_list(body, "allowedModels")
        origins = _string_list(body, "allowedOrigins")
        metadata = body.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise TokenRequestError("metadata must be an object")
        self._forget_expired()
        key = "ek_" + secrets.token_urlsafe(24)
        token = Token(time.time() + expires_in, models, origins, metadata)
        self._tokens[key] = token
        expires = datetime.fromtimestamp(token.expires_at, timezone.utc)
        return {"apiKey": key, "expiresAt": expires.isoformat(timespec="milliseconds").replace("+00:00", "Z")}

    def _forget_expired(self) -> None:
        now = time.time()
        for key in [k for k, t in self._tokens.items() if t.expires_at <= now - 3600]:
            del self._tokens[key]


def _string_list(body: dict, name: str) -> tuple[str, ...] | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TokenRequestError(f"{name} must be a list of strings")
    return tuple(value)


def _bytes(text: str) -> bytes:
    """A key as bytes for a constant-time compare. A header or query value that was not UTF-8
    arrives with surrogate escapes; plain .encode() raised on it (a 500 with a traceback)."""
    return text.encode("utf-8", "surrogateescape")
