"""The errors a user of the realtime client can catch, one class per thing they would do differently."""

from __future__ import annotations

from typing import Any


class DecartSDKError(Exception):
    """Base of every error this client raises; `message` is safe to show (it never holds a key)."""

    def __init__(self, message: str, data: dict[str, Any] | None = None, cause: BaseException | None = None):
        super().__init__(message)
        self.message = message
        self.data = data or {}
        self.cause = cause

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class InvalidAPIKeyError(DecartSDKError):
    """No key, or the service refused it (or the session): retrying will not help."""

    DEFAULT = "Missing API key. Pass api_key= or set the DECART_API_KEY environment variable."

    def __init__(self, message: str | None = None, cause: BaseException | None = None):
        super().__init__(message or self.DEFAULT, cause=cause)


class WebRTCError(DecartSDKError):
    """The session could not be set up or was lost (WebSocket, signalling, ICE, DTLS)."""


class NotConnectedError(WebRTCError):
    """A request while the session is not up (connecting, reconnecting, closed).

    `deferred` is True when the client kept the request as the state for the next session (a
    prompt, image or mirror asked for while reconnecting): it will show once the session is back.
    """

    def __init__(self, message: str, deferred: bool = False):
        super().__init__(message)
        self.deferred = deferred


class ModelNotFoundError(DecartSDKError):
    """The model name is not one of the realtime models (checked before anything is sent)."""

    def __init__(self, model: str, message: str | None = None):
        super().__init__(message or f"Model {model!r} not found")
        self.model = model


class InvalidInputError(DecartSDKError):
    """An argument cannot be used as given (empty prompt, missing file, bad option)."""


class TokenCreateError(DecartSDKError):
    """POST /v1/client/tokens failed for a reason other than the key."""


# Texts of a service `error` that no retry can cure (PROTOCOL.md, "Service -> client").
PERMANENT_ERRORS = ("invalid api key", "unauthorized", "permission denied", "not allowed", "invalid session", "401")
# Beyond the protocol: a service that names an unknown model gets the same error as the client check.
MODEL_ERRORS = ("unknown model", "model not found")


def from_service(text: str) -> DecartSDKError:
    """The error a service's `error` text stands for: permanent ones are not retried by connect."""
    lowered = text.lower()
    if any(p in lowered for p in PERMANENT_ERRORS):
        return InvalidAPIKeyError(text)
    if any(p in lowered for p in MODEL_ERRORS):
        return ModelNotFoundError("?", text)
    return WebRTCError(text)


def is_permanent(error: BaseException) -> bool:
    return isinstance(error, (InvalidAPIKeyError, ModelNotFoundError, InvalidInputError))
