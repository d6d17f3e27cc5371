"""The MQTT broker a fleet meets on: its address and credentials, and one connection that comes back.

`mqtt://HOST:PORT` or `mqtts://HOST:PORT` (TLS). User and password come from the environment
(`DECART_FLOW_MQTT_USER`, `DECART_FLOW_MQTT_PASSWORD`), never from the URL, so they stay out of
shell histories and process lists; `DECART_FLOW_MQTT_CA` names a CA file for a broker whose
certificate the system does not trust. The Decart API key is never sent to the broker.

`Link` keeps one connection up for as long as it runs: when the broker goes away (a restart, the
network) it tries again every 0.2 s to 2 s, and on each connection subscribes again and calls
`on_connect`, which republishes what this side keeps retained (the broker may have lost it).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import ssl
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable
from urllib.parse import urlsplit

import aiomqtt

log = logging.getLogger(__name__)

USER_ENV, PASSWORD_ENV, CA_ENV = "DECART_FLOW_MQTT_USER", "DECART_FLOW_MQTT_PASSWORD", "DECART_FLOW_MQTT_CA"
KEEPALIVE_S = 1  # the broker publishes a silent client's last will after 1.5 keepalives


class FleetError(Exception):
    """A fleet that cannot start: one line that says what and how to fix it."""


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    tls: bool = False
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    ca_file: str | None = None

    @property
    def label(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    def client(self, identifier: str, will: aiomqtt.Will | None) -> aiomqtt.Client:
        context = None
        if self.tls:
            context = ssl.create_default_context(cafile=self.ca_file)
        return aiomqtt.Client(self.host, self.port, username=self.username, password=self.password,
                              identifier=identifier, will=will, keepalive=KEEPALIVE_S, tls_context=context,
                              timeout=5.0)


def broker_from_url(url: str, env: dict[str, str] | None = None) -> Broker:
    """`--broker URL` read, with the credentials of the environment; FleetError (one line) when wrong."""
    env = os.environ if env is None else env
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts"):
        raise FleetError(f"--broker {_shown(url)}: use mqtt://HOST:PORT or mqtts://HOST:PORT")
    if parts.username is not None or parts.password is not None:
        raise FleetError(f"--broker {_shown(url)}: put no user or password in the URL; set {USER_ENV} and "
                         f"{PASSWORD_ENV} in the environment")
    try:
        port = parts.port
    except ValueError:
        raise FleetError(f"--broker {_shown(url)}: the port is not a number: use mqtt://HOST:1883") from None
    if not parts.hostname:
        raise FleetError(f"--broker {_shown(url)}: no host: use mqtt://HOST:PORT")
    if parts.path not in ("", "/") or parts.query:
        raise FleetError(f"--broker {_shown(url)}: only mqtt(s)://HOST:PORT, no path or query")
    tls = parts.scheme == "mqtts"
    ca_file = env.get(CA_ENV) or None
    if ca_file and not os.path.isfile(ca_file):
        raise FleetError(f"{CA_ENV}={ca_file}: no such file: give the broker's CA certificate (PEM)")
    password = env.get(PASSWORD_ENV)
    username = env.get(USER_ENV) or None
    if password and not username:
        raise FleetError(f"{PASSWORD_ENV} is set but {USER_ENV} is not: set both, or neither")
    return Broker(parts.hostname, port or (8883 if tls else 1883), tls, username, password or None, ca_file)


def _shown(url: str) -> str:
    """A URL as we print it: any `user:password@` hidden."""
    parts = urlsplit(url)
    if "@" in parts.netloc:
        return url.replace(parts.netloc, "***@" + parts.netloc.rsplit("@", 1)[1], 1)
    return url


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode()


def decode(topic: str, payload: Any) -> dict[str, Any] | None:
    """A wire message as a dict, or None (logged) when it is not one: a bad message is never fatal."""
    try:
        message = json.loads(payload) if payload else None
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        log.warning("fleet: skipped a message on %s that is not JSON (%s)", topic, exc)
        return None
    if message is None:
        return None
    if not isinstance(message, dict):
        log.warning("fleet: skipped a message on %s that is not a JSON object", topic)
        return None
    return message


Handler = Callable[[str, dict[str, Any]], None]


class Link:
    """One MQTT connection that comes back after the broker does; messages go to `handler`."""

    def __init__(self, broker: Broker, identifier: str, subscriptions: list[str], handler: Handler,
                 on_connect: Callable[[], Awaitable[None]] | None = None,
                 on_state: Callable[[bool, str | None], None] | None = None,
                 will: tuple[str, dict[str, Any]] | None = None) -> None:
        self.broker = broker
        self.identifier = identifier
        self.subscriptions = subscriptions
        self.handler = handler
        self.on_connect = on_connect
        self.on_state = on_state
        self.will = will
        self.connected = False
        self._client: aiomqtt.Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._said_unreached = False
        self.first_connect: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def publish(self, topic: str, message: dict[str, Any] | None, retain: bool = False, qos: int = 1) -> bool:
        """Send now if connected; False when not (what is retained is sent again on reconnect)."""
        client = self._client
        if client is None or not self.connected:
            return False
        try:
            await client.publish(topic, encode(message) if message is not None else b"", qos=qos, retain=retain)
            return True
        except aiomqtt.MqttError as exc:
            log.debug("fleet: publish on %s failed: %s", topic, exc)
            return False

    async def stop(self, last: tuple[str, dict[str, Any]] | None = None) -> None:
        """Leave: `last` (a retained goodbye, as the last will would say it) first, when connected."""
        self._stopping = True
        if last is not None:
            await self.publish(last[0], last[1], retain=True)
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - leaving anyway
                pass

    async def _run(self) -> None:
        delay = 0.2
        while not self._stopping:
            will = aiomqtt.Will(self.will[0], encode(self.will[1]), qos=1, retain=True) if self.will else None
            try:
                async with self.broker.client(self.identifier, will) as client:
                    self._client = client
                    for topic in self.subscriptions:
                        await client.subscribe(topic, qos=1)
                    self._set(True, None)
                    delay = 0.2
                    if self.on_connect is not None:
                        await self.on_connect()
                    async for message in client.messages:
                        topic = message.topic.value
                        decoded = decode(topic, message.payload)
                        if decoded is None:
                            continue
                        try:
                            self.handler(topic, decoded)
                        except Exception:  # noqa: BLE001 - our bug: logged, the link goes on
                            log.exception("fleet: handling a message on %s failed", topic)
            except aiomqtt.MqttError as exc:
                self._set(False, str(exc))
            except asyncio.CancelledError:
                self._set(False, "stopped")
                raise
            finally:
                self._client = None
            if self._stopping:
                break
            await asyncio.sleep(delay)
            delay = min(2.0, delay * 2)

    def _set(self, up: bool, why: str | None) -> None:
        """Report a change; and a broker not reached at all, once, so a wrong address shows."""
        changed, self.connected = up != self.connected, up
        if up and not self.first_connect.done():
            self.first_connect.set_result(None)
        unreached = not up and not self.first_connect.done() and not self._said_unreached
        if unreached:
            self._said_unreached = True
        if (changed or unreached) and self.on_state is not None:
            try:
                self.on_state(up, why)
            except Exception:  # noqa: BLE001
                log.exception("fleet: reporting the link's state failed")
