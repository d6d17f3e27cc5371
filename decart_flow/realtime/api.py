"""`DecartClient`: the key, the base URLs, client tokens and a `realtime.connect` shortcut."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable

import aiohttp

from decart_flow.realtime.client import RealtimeClient
from decart_flow.realtime.errors import InvalidAPIKeyError, InvalidInputError, TokenCreateError
from decart_flow.realtime.models import ModelDefinition
from decart_flow.realtime.types import ModelState, RealtimeConnectOptions
from decart_flow.realtime.urls import USER_AGENT, redact_url, to_http, to_ws

DEFAULT_BASE_URL = "https://api.decart.ai"
DEFAULT_REALTIME_URL = "wss://api3.decart.ai"


@dataclass(frozen=True)
class TokenResponse:
    """A short-lived key for a browser; it stops new connections after `expires_at`, not live ones."""

    api_key: str
    expires_at: str

    def __repr__(self) -> str:  # never print the key itself
        return f"TokenResponse(api_key='{self.api_key[:3]}***', expires_at={self.expires_at!r})"


class DecartClient:
    """Holds the key (argument, else $DECART_API_KEY) and one HTTP session for REST calls.

    `base_url` may point at a local service (`http://127.0.0.1:PORT`); the realtime URL is then
    derived from it unless `realtime_base_url` is given.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        realtime_base_url: str | None = None,
    ) -> None:
        key = api_key or os.environ.get("DECART_API_KEY", "").strip() or None
        if not key:
            raise InvalidAPIKeyError()
        if not base_url.startswith(("http://", "https://", "ws://", "wss://")):
            raise InvalidInputError(f"base_url must be an http(s):// URL, got {redact_url(base_url)!r}")
        self.api_key = key
        self.base_url = to_http(base_url)
        if realtime_base_url is None:
            realtime_base_url = DEFAULT_REALTIME_URL if self.base_url == DEFAULT_BASE_URL else self.base_url
        self.realtime_base_url = to_ws(realtime_base_url)
        self._http: aiohttp.ClientSession | None = None
        self.tokens = Tokens(self)
        self.realtime = Realtime(self)

    def __repr__(self) -> str:
        return f"DecartClient(base_url={self.base_url!r})"

    async def http(self) -> aiohttp.ClientSession:
        """The HTTP session of this client's requests (opened on first use, closed by `close`)."""
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession()
        return self._http

    async def close(self) -> None:
        if self._http is not None and not self._http.closed:
            await self._http.close()
        self._http = None

    async def __aenter__(self) -> "DecartClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class Tokens:
    def __init__(self, parent: DecartClient) -> None:
        self._parent = parent

    async def create(
        self,
        *,
        expires_in: int | None = None,
        metadata: dict[str, Any] | None = None,
        allowed_models: list[str] | None = None,
        allowed_origins: list[str] | None = None,
    ) -> TokenResponse:
        """POST /v1/client/tokens: a short-lived key (`expires_in` 1-3600 s, the service's default 60)."""
        if expires_in is not None and not (isinstance(expires_in, int) and 1 <= expires_in <= 3600):
            raise InvalidInputError(f"expires_in must be 1-3600 seconds, got {expires_in!r}")
        body: dict[str, Any] = {}
        if expires_in is not None:
            body["expiresIn"] = expires_in
        if metadata is not None:
            body["metadata"] = metadata
        if allowed_models is not None:
            body["allowedModels"] = list(allowed_models)
        if allowed_origins is not None:
            body["allowedOrigins"] = list(allowed_origins)
        parent = self._parent
        http = await parent.http()
        headers = {"X-API-KEY": parent.api_key, "User-Agent": USER_AGENT}
        try:
            async with http.post(f"{parent.base_url}/v1/client/tokens", json=body, headers=headers) as response:
                text = await response.text()
                if response.status in (401, 403):
                    raise InvalidAPIKeyError(f"token request refused (HTTP {response.status}): {text[:200]}")
                if response.status != 200:
                    raise TokenCreateError(f"token request failed (HTTP {response.status}): {text[:200]}")
                try:
                    data = await response.json(content_type=None)
                    return TokenResponse(api_key=str(data["apiKey"]), expires_at=str(data["expiresAt"]))
                except (ValueError, KeyError, TypeError):
                    raise TokenCreateError(f"token response is not {{apiKey, expiresAt}}: {text[:200]}") from None
        except aiohttp.ClientError as exc:
            raise TokenCreateError(f"token request failed: {type(exc).__name__}") from None


class Realtime:
    def __init__(self, parent: DecartClient) -> None:
        self._parent = parent

    async def connect(
        self,
        model: ModelDefinition | str,
        on_remote_stream: Callable[[Any], None] | None = None,
        local_track: Any = None,
        initial_state: ModelState | None = None,
        **options: Any,
    ) -> RealtimeClient:
        """`RealtimeClient.connect` with this client's key and realtime URL."""
        try:
            opts = RealtimeConnectOptions(
                model=model, on_remote_stream=on_remote_stream, initial_state=initial_state, **options
            )
        except TypeError as exc:
            raise InvalidInputError(str(exc)) from None
        return await RealtimeClient.connect(self._parent.realtime_base_url, self._parent.api_key, local_track, opts)

