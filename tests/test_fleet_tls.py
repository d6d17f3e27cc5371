"""The fleet's broker over TLS with a user and password from the environment (`mqtts://`), against
a real mosquitto that allows nobody else: a certificate made for the test (its own CA, for
127.0.0.1), a password file made with mosquitto's own tool."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import shutil
import subprocess
from pathlib import Path

from mqtt_broker import Mosquitto
from needs import missing

from decart_flow.fleet.broker import Link, broker_from_url


def _certificates(folder: Path) -> tuple[Path, Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def pem_key(key: ec.EllipticCurvePrivateKey, path: Path) -> Path:
        path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
        return path

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "decart-flow test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_path = folder / "ca.pem"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path = folder / "broker.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return ca_path, cert_path, pem_key(key, folder / "broker.key")


async def _exchange(url: str, env: dict[str, str]) -> tuple[list[dict], list[tuple[bool, str | None]]]:
    broker = broker_from_url(url, env)
    got: list[dict] = []
    states: list[tuple[bool, str | None]] = []
    link = Link(broker, "tls-test", ["t/x"], lambda topic, message: got.append(message),
                on_state=lambda up, why: states.append((up, why)))
    link.start()
    try:
        await asyncio.wait_for(asyncio.shield(link.first_connect), 3.0)
        await link.publish("t/x", {"hello": "fleet"})
        for _ in range(60):
            if got:
                break
            await asyncio.sleep(0.05)
    except asyncio.TimeoutError:
        pass
    finally:
        await link.stop()
    return got, states


async def test_mqtts_with_a_user_from_the_environment_and_nobody_else(tmp_path: Path):
    passwd = shutil.which("mosquitto_passwd")
    if passwd is None:
        missing("mosquitto_passwd is not installed (Debian: mosquitto)")
    ca, cert, key = _certificates(tmp_path)
    users = tmp_path / "users"
    subprocess.run([passwd, "-c", "-b", str(users), "fleet", "s3cret-pass"], check=True, capture_output=True)
    users.chmod(0o600)
    config = f"cafile {ca}\ncertfile {cert}\nkeyfile {key}\npassword_file {users}\n"
    broker = Mosquitto(tmp_path, extra=config)
    broker.config.write_text(broker.config.read_text().replace("allow_anonymous true", "allow_anonymous false"))
    with broker:
        url = f"mqtts://127.0.0.1:{broker.port}"
        env = {"DECART_FLOW_MQTT_USER": "fleet", "DECART_FLOW_MQTT_PASSWORD": "s3cret-pass",
               "DECART_FLOW_MQTT_CA": str(ca)}
        got, states = await _exchange(url, env)
        assert got == [{"hello": "fleet"}] and states[0] == (True, None)

        got, states = await _exchange(url, {**env, "DECART_FLOW_MQTT_PASSWORD": "wrong"})
        assert got == [] and states and states[0][0] is False  # refused: said once, no traceback
        assert "wrong" not in (states[0][1] or "")
        got, states = await _exchange(f"mqtt://127.0.0.1:{broker.port}", env)  # plain MQTT to a TLS port
        assert got == []
