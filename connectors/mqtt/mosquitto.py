"""A Mosquitto 2.x configuration that enforces TBS-SEC-001 and TBS-MQTT-002 at the broker.

For a list of system identifiers it writes, into one directory:

- ``mosquitto.conf`` with two TLS listeners on loopback (TLS 1.2 or later, a server
  certificate of the given CA): one authenticating by user name and password, one by
  client certificate (the certificate's CN is the user name);
- ``passwd``: one account per system, the user name being its ``systemCode`` (PBKDF2-SHA512
  hashes in Mosquitto's ``$7$`` format, so no Mosquitto tool is needed to make them);
- ``acl``: one entry per system account: it may publish only under its own region code
  (``tbs/v1/{regionCode}/+``, TBS-MQTT-002) and read every TBS topic.

``use_username_as_clientid`` makes the broker use the authenticated user name as the MQTT
client identifier, so a client cannot take another system's identifier (and session)
whatever identifier it sends: the client identifier is the ``systemCode`` (TBS-SEC-001).

The TLS files are given as PEM bytes (e.g. from a CA the operator or the sandbox keeps).
``python -m tongban.connectors.mqtt.mosquitto --help`` generates a complete directory,
with a fresh local CA, for development and CI.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from .topics import TOPIC_ROOT, region_of, system_code_of

__all__ = ["MosquittoFiles", "password_hash", "acl_text", "write_config"]

PBKDF2_ITERATIONS = 101  # Mosquitto 2.0's own default for $7$ hashes


def password_hash(password: str, *, salt: bytes | None = None) -> str:
    """A Mosquitto ``$7$`` password hash (PBKDF2-HMAC-SHA512, 64-byte key)."""
    salt = salt if salt is not None else secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, PBKDF2_ITERATIONS, 64)
    return f"$7${PBKDF2_ITERATIONS}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def acl_text(system_ids: Iterable[str]) -> str:
    """Per system account (user name = its ``systemCode``): write only under its own region
    (TBS-MQTT-002), read every TBS topic. The topic names a region, not a system, so systems of
    one region write the same topics; which of them sent an envelope is its signature's to say
    (TBS-SEC-007, the sender's key). Two systems with one ``systemCode`` would share an account
    and each other's regions: refused."""
    blocks = []
    owners: dict[str, str] = {}
    for system_id in system_ids:
        code = system_code_of(system_id)
        if code in owners and owners[code] != system_id:
            raise ValueError(f"{system_id} and {owners[code]} share the systemCode {code!r}: one broker account "
                             "(user name = systemCode, TBS-SEC-001) would hold both regions' write rights")
        if code in owners:
            continue
        owners[code] = system_id
        blocks.append(f"user {system_code_of(system_id)}\n"
                      f"topic write {TOPIC_ROOT}/{region_of(system_id)}/+\n"
                      f"topic read {TOPIC_ROOT}/+/+\n")
    return "\n".join(blocks)


@dataclass(frozen=True)
class MosquittoFiles:
    directory: Path
    config: Path
    password_port: int
    certificate_port: int
    pid_file: Path


def write_config(directory: Path, *, passwords: Mapping[str, str], ca_pem: bytes, server_cert_pem: bytes,
                 server_key_pem: bytes, password_port: int, certificate_port: int,
                 host: str = "127.0.0.1", certificate_systems: Iterable[str] = ()) -> MosquittoFiles:
    """Write the broker directory. ``passwords`` maps system identifiers to their broker
    passwords; ``certificate_systems`` are systems that authenticate by certificate only
    (they get ACL entries but no password)."""
    acl = acl_text([*passwords, *certificate_systems])   # first: a shared systemCode writes nothing
    directory.mkdir(parents=True, exist_ok=True)
    for name, pem in (("ca.pem", ca_pem), ("server.pem", server_cert_pem), ("server.key", server_key_pem)):
        (directory / name).write_bytes(pem)
    (directory / "server.key").chmod(0o600)
    (directory / "passwd").write_text(
        "".join(f"{system_code_of(sid)}:{password_hash(pw)}\n" for sid, pw in passwords.items()), encoding="utf-8")
    (directory / "acl").write_text(acl, encoding="utf-8")
    tls = (f"cafile {directory / 'ca.pem'}\ncertfile {directory / 'server.pem'}\n"
           f"keyfile {directory / 'server.key'}\ntls_version tlsv1.2\n")
    pid_file = directory / "mosquitto.pid"
    config = directory / "mosquitto.conf"
    config.write_text(
        "# TBS-SEC-001: TLS and broker authentication; client identifier = systemCode;\n"
        "# TBS-MQTT-002: publish only under the system's own region code.\n"
        "per_listener_settings false\n"
        "allow_anonymous false\n"
        f"password_file {directory / 'passwd'}\n"
        f"acl_file {directory / 'acl'}\n"
        "persistence false\n"
        f"pid_file {pid_file}\n"
        f"log_dest file {directory / 'mosquitto.log'}\n"
        "user root\n"
        "\n# credentials: user name = systemCode, password from the broker's password file\n"
        f"listener {password_port} {host}\n{tls}"
        "use_username_as_clientid true\n"
        "\n# client certificates of the CA: user name = the certificate's CN (the systemCode)\n"
        f"listener {certificate_port} {host}\n{tls}"
        "require_certificate true\n"
        "use_identity_as_username true\n"
        "use_username_as_clientid true\n",
        encoding="utf-8")
    return MosquittoFiles(directory, config, password_port, certificate_port, pid_file)


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tongban.connectors.mqtt.mosquitto",
        description="Write a Mosquitto directory (config, password file, ACL, a fresh local CA and server "
                    "certificate) for the given systems; passwords and client certificates of the systems "
                    "are written to credentials.json and clients/ in the same directory.")
    parser.add_argument("directory", type=Path)
    parser.add_argument("--password-port", type=int, required=True)
    parser.add_argument("--certificate-port", type=int, required=True)
    parser.add_argument("--system", action="append", default=[], metavar="SYSTEM_ID",
                        help="a system with a broker password (repeatable)")
    parser.add_argument("--certificate-system", action="append", default=[], metavar="SYSTEM_ID",
                        help="a system that authenticates with a client certificate (repeatable)")
    args = parser.parse_args(argv)
    try:
        import trustme
    except ImportError:  # pragma: no cover - trustme is a test dependency
        print("trustme is needed to generate a CA", file=sys.stderr)
        return 2
    for system_id in [*args.system, *args.certificate_system]:
        try:
            system_code_of(system_id)
        except ValueError as exc:
            parser.error(str(exc))
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    passwords = {sid: secrets.token_urlsafe(24) for sid in args.system}
    files = write_config(args.directory, passwords=passwords, ca_pem=ca.cert_pem.bytes(),
                         server_cert_pem=server.cert_chain_pems[0].bytes(),
                         server_key_pem=server.private_key_pem.bytes(), password_port=args.password_port,
                         certificate_port=args.certificate_port, certificate_systems=args.certificate_system)
    clients = args.directory / "clients"
    clients.mkdir(exist_ok=True)
    for system_id in args.certificate_system:
        code = system_code_of(system_id)
        issued = ca.issue_cert(common_name=code)
        issued.cert_chain_pems[0].write_to_path(str(clients / f"{code}.pem"))
        issued.private_key_pem.write_to_path(str(clients / f"{code}.key"))
    # A second, unrelated CA: what a client with a certificate the broker must not trust has.
    foreign = trustme.CA().issue_cert(common_name=system_code_of(args.certificate_system[0])) \
        if args.certificate_system else None
    if foreign is not None:
        foreign.cert_chain_pems[0].write_to_path(str(clients / "foreign.pem"))
        foreign.private_key_pem.write_to_path(str(clients / "foreign.key"))
    ca_key = args.directory / "ca.key"
    ca.private_key_pem.write_to_path(str(ca_key))
    os.chmod(ca_key, 0o600)
    (args.directory / "credentials.json").write_text(json.dumps(passwords, indent=1), encoding="utf-8")
    print(files.config)
    return 0


if __name__ == "__main__":
    sys.exit(_main())
