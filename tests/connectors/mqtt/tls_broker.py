"""The TLS Mosquitto that .ci/run starts (tongban.connectors.mqtt.mosquitto wrote its
directory): where it listens, its CA, the systems' passwords and client certificates."""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from tongban.connectors.mqtt import MqttSettings

ROOT = Path(__file__).resolve().parents[3]
SYSTEMS_FILE = ROOT / "tests" / "data" / "mqtts" / "systems.txt"

SENDER = "TB:county:440103:MQSEND"
RECEIVER = "TB:province:440000:MQRECV"
OBSERVER = "TB:department:440000:MQOBS"
CERT_SYSTEM = "TB:county:440104:MQCERT"


def systems(kind: str) -> list[str]:
    """The system ids of tests/data/mqtts/systems.txt that authenticate by ``kind``."""
    rows = [line.split() for line in SYSTEMS_FILE.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]
    return [system_id for system_id, how in rows if how == kind]


@dataclass
class TlsBroker:
    url: str            # password listener
    cert_url: str       # client-certificate listener
    directory: Path

    kind = "mosquitto-tls"

    @classmethod
    def from_environment(cls) -> "TlsBroker":
        return cls(os.environ["TONGBAN_TEST_MQTTS_URL"], os.environ["TONGBAN_TEST_MQTTS_CERT_URL"],
                   Path(os.environ["TONGBAN_TEST_MQTTS_DIR"]))

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or 8883

    @property
    def ca_file(self) -> str:
        return str(self.directory / "ca.pem")

    def password(self, system_id: str) -> str:
        return json.loads((self.directory / "credentials.json").read_text(encoding="utf-8"))[system_id]

    def settings(self, system_id: str, **options: Any) -> MqttSettings:
        """A password-authenticated connection of ``system_id``."""
        if "password" not in options:
            options["password"] = self.password(system_id)
        return MqttSettings(self.url, system_id, ca_file=self.ca_file, **options)

    def cert_settings(self, system_id: str, *, client: str | None = None, **options: Any) -> MqttSettings:
        """A certificate-authenticated connection (``client``: the name of the PEM pair in clients/)."""
        name = client or system_id.rsplit(":", 1)[1]
        return MqttSettings(self.cert_url, system_id, ca_file=self.ca_file,
                            cert_file=str(self.directory / "clients" / f"{name}.pem"),
                            key_file=str(self.directory / "clients" / f"{name}.key"), **options)

    def raw_client(self, username: str, password: str, client_id: str) -> paho.Client:
        """A paho client outside the binding, to try what a conforming client never does."""
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        client.tls_set(ca_certs=self.ca_file)
        client.username_pw_set(username, password)
        return client

    def purge(self, system_code: str) -> None:
        """Drop a persistent session (connect once with clean session as that system)."""
        system_id = next((s for s in systems("password") if s.endswith(f":{system_code}")), None)
        if system_id is None:
            return
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=system_code, clean_session=True)
        client.tls_set(ca_certs=self.ca_file)
        client.username_pw_set(system_code, self.password(system_id))
        try:
            client.connect(self.host, self.port)
            client.loop_start()
            time.sleep(0.05)
            client.disconnect()
            client.loop_stop()
        except OSError:
            pass
