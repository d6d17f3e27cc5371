"""Client tokens for nodes that hold no Decart key: minted by the controller, one node at a time.

The controller holds the key (`fleet --mint-tokens`, `DECART_API_KEY` or `--api-key`) and never
sends it: on a node's request it asks the backend for a client token (PROTOCOL.md "Client tokens":
short-lived, limited to the show's model, the node's name in its metadata) and sends that to the
node alone, on `node/NAME/token`. A token admits new connections only until it expires, so the node
asks again at half its lifetime and hands the new one to its session for its next reconnect
(`RealtimeClient.set_api_key`). A token is never journaled or printed.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from .broker import Broker, FleetError, Link
from .clock import Topics

log = logging.getLogger(__name__)

DEFAULT_LIFETIME_S = 600
ASK_EVERY_S = 2.0


class TokenMinter:
    """The controller's side: a DecartClient on the backend, one token per request."""

    def __init__(self, base_url: str, api_key: str, model: str | list[str], show: str,
                 lifetime: int = DEFAULT_LIFETIME_S) -> None:
        """`model`: the show's model, or the models of its sessions (a token may use each)."""
        from ..realtime.api import DecartClient

        self.client = DecartClient(api_key=api_key, base_url=base_url)
        self.models = [model] if isinstance(model, str) else list(model)
        self.show, self.lifetime = show, lifetime

    async def mint(self, node: str) -> dict[str, Any]:
        token = await self.client.tokens.create(expires_in=self.lifetime, allowed_models=self.models,
                                                metadata={"node": node, "show": self.show})
        return {"token": token.api_key, "expires_at": token.expires_at, "lifetime": self.lifetime}

    async def close(self) -> None:
        await self.client.close()


async def node_token(show: Any, node: str | None, broker_url: str | None) -> tuple[str, int]:
    """`run --node NAME --broker URL --fleet-token`: the token this node connects with."""
    from .broker import broker_from_url

    if node is None or broker_url is None:
        raise FleetError("--fleet-token goes with --node NAME --broker URL")
    return await fetch_token(broker_from_url(broker_url), show.name, node)


async def fetch_token(broker: Broker, show_name: str, node: str, timeout: float = 30.0) -> tuple[str, int]:
    """A node's first token, before its session connects: (token, lifetime in seconds)."""
    topics = Topics(show_name)
    got: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
    asked = uuid.uuid4().hex

    def on_message(topic: str, message: dict[str, Any]) -> None:
        if message.get("id") == asked and isinstance(message.get("token"), str) and not got.done():
            got.set_result(message)

    link = Link(broker, f"node:{node}:token:{asked[:8]}", [topics.token(node)], on_message)
    link.start()
    try:
        async def ask() -> None:
            while True:
                await link.publish(topics.token_request, {"node": node, "id": asked})
                await asyncio.sleep(ASK_EVERY_S)

        asking = asyncio.ensure_future(ask())
        try:
            reply = await asyncio.wait_for(got, timeout)
        except asyncio.TimeoutError:
            raise FleetError(f"--fleet-token: no client token from the fleet's controller on {broker.label} within "
                             f"{timeout:.0f} s: run `decart-flow fleet SHOW --broker ... --mint-tokens` with a key") from None
        finally:
            asking.cancel()
    finally:
        await link.stop()
    return reply["token"], int(reply.get("lifetime") or DEFAULT_LIFETIME_S)
