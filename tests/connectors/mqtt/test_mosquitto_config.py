"""The broker's ACL (tongban.connectors.mqtt.mosquitto): one entry per system account, writing
only under that system's region (TBS-MQTT-002), reading every TBS topic; a systemCode shared by
two systems is refused, since the account (user name = systemCode) would hold both regions."""
from __future__ import annotations

import pytest
import trustme

from tongban.connectors.mqtt.mosquitto import acl_text, write_config


def _entries(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for block in text.strip().split("\n\n"):
        user, *rules = block.splitlines()
        assert user.startswith("user ") and user.split()[1] not in out
        out[user.split()[1]] = rules
    return out


def test_each_system_account_writes_only_under_its_own_region():
    entries = _entries(acl_text(["TB:county:440103:LWZWFW", "TB:province:440000:GDZWFW",
                                 "TB:department:440000:GDSJJ"]))
    assert entries == {
        "LWZWFW": ["topic write tbs/v1/440103/+", "topic read tbs/v1/+/+"],
        "GDZWFW": ["topic write tbs/v1/440000/+", "topic read tbs/v1/+/+"],
        "GDSJJ": ["topic write tbs/v1/440000/+", "topic read tbs/v1/+/+"],   # same region, its own entry
    }
    # no pattern rule, no wildcard write: an account not listed may write nothing
    assert "pattern" not in acl_text(["TB:county:440103:LWZWFW"]) and "write tbs/v1/#" not in acl_text([])


def test_a_system_code_shared_by_two_systems_is_refused(tmp_path):
    shared = ["TB:county:440103:ZWFW", "TB:county:440104:ZWFW"]
    with pytest.raises(ValueError, match="share the systemCode 'ZWFW'"):
        acl_text(shared)
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1")
    with pytest.raises(ValueError, match="share the systemCode"):
        write_config(tmp_path / "broker", passwords={shared[0]: "pw"}, certificate_systems=[shared[1]],
                     ca_pem=ca.cert_pem.bytes(), server_cert_pem=server.cert_chain_pems[0].bytes(),
                     server_key_pem=server.private_key_pem.bytes(), password_port=1, certificate_port=2)
    assert not (tmp_path / "broker").exists()   # nothing half-written
    assert acl_text(["TB:county:440103:ZWFW", "TB:county:440103:ZWFW"]).count("user ZWFW") == 1
