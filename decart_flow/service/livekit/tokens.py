"""LiveKit access tokens: HS256 JWTs carrying a `video` grant, signed with a secret of this run.

The layout is LiveKit's (`iss` the API key, `sub` the identity, `video` with room, roomJoin,
canPublish, canSubscribe, canPublishData), so any LiveKit client accepts them; PyJWT signs and
checks them. The secret never leaves the service process.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import jwt

API_KEY = "decart-flow-local"
TOKEN_SECONDS = 6 * 3600


class TokenError(ValueError):
    """A token that is missing, forged, expired or without a grant to join."""


@dataclass(frozen=True)
class Grant:
    identity: str
    room: str
    can_publish: bool
    can_subscribe: bool
    name: str = ""


class TokenSigner:
    def __init__(self, secret: str | None = None) -> None:
        self._secret = secret or secrets.token_urlsafe(32)

    def mint(self, grant: Grant, seconds: int = TOKEN_SECONDS) -> str:
        now = int(time.time())
        claims = {
            "iss": API_KEY,
            "sub": grant.identity,
            "name": grant.name or grant.identity,
            "nbf": now - 5,
            "exp": now + seconds,
            "video": {
                "room": grant.room,
                "roomJoin": True,
                "canPublish": grant.can_publish,
                "canSubscribe": grant.can_subscribe,
                "canPublishData": grant.can_publish,
            },
        }
        return jwt.encode(claims, self._secret, algorithm="HS256")

    def verify(self, token: str | None) -> Grant:
        if not token:
            raise TokenError("no access token")
        if not token.isascii():  # a JWT is base64url and dots; PyJWT raised UnicodeEncodeError (a 500) on other text
            raise TokenError("invalid access token: not ASCII")
        try:
            claims = jwt.decode(token, self._secret, algorithms=["HS256"], options={"require": ["exp", "sub"]})
        except jwt.PyJWTError as exc:
            raise TokenError(f"invalid access token: {exc}") from None
        video = claims.get("video") or {}
        if not video.get("roomJoin") or not isinstance(video.get("room"), str):
            raise TokenError("access token has no roomJoin grant")
        return Grant(
            identity=str(claims["sub"]),
            room=video["room"],
            can_publish=bool(video.get("canPublish", True)),
            can_subscribe=bool(video.get("canSubscribe", True)),
            name=str(claims.get("name", "")),
        )
