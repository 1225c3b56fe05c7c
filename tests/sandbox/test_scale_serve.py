"""The province-scale sandbox's servers: one process and one port, yet separate systems with
separate credentials, feeds computed per page and moved on by change rounds."""
from __future__ import annotations

import os
import ssl
from urllib.parse import urlsplit

import httpx
import pytest
from click.testing import CliRunner

from tongban.cli import main
from tongban.connectors.rest.client import RestConnector
from tongban.connectors.soap.client import SoapConnector
from tongban.registry import load_registry
from tongban.sandbox.runtime import BUS_ID
from tongban.sandbox.scale import Volumes
from tongban.sandbox.scale_serve import ProvinceSandbox, advance_round


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    folder = tmp_path_factory.mktemp("province")
    sb = ProvinceSandbox(folder, seed=5, volumes=Volumes(catalog=400, cases=200, results=100, evaluations=100),
                         systems_limit=9, admission="off").start()
    yield sb
    sb.stop()


def connector(partner, token: str):
    cls = RestConnector if partner.transport.value == "rest" else SoapConnector
    return cls(partner.endpoint, sender=BUS_ID, token=token, verify=str(partner.ca_file), retries=0)


def test_one_port_separate_systems_and_credentials(sandbox):
    registry = load_registry(sandbox.registry_file)
    pulled = [p for p in registry.partners if p.transport.value in ("rest", "soap")]
    assert len(registry.partners) == 9 and len(pulled) == 6
    assert {p.transport.value for p in registry.partners} == {"rest", "soap", "filedrop"}
    assert len({urlsplit(p.endpoint).netloc for p in pulled}) == 1        # one server
    assert len({p.credentials.token_env for p in pulled}) == len(pulled)  # one token each
    for p in pulled:
        with connector(p, os.environ[p.credentials.token_env]) as c:
            assert c.meta()["systemId"] == p.id
    a, b = pulled[0], pulled[2]
    assert a.transport.value == b.transport.value == "rest"
    wrong = httpx.get(b.endpoint + "/tbs/v1/meta", verify=ssl.create_default_context(cafile=str(b.ca_file)),
                      headers={"Authorization": f"Bearer {os.environ[a.credentials.token_env]}"})
    assert wrong.status_code == 401


def test_feeds_page_through_and_follow_change_rounds(sandbox):
    registry = load_registry(sandbox.registry_file)
    partner = next(p for p in registry.partners if p.transport.value == "soap")
    system = sandbox.province.system(partner.id)
    with connector(partner, os.environ[partner.credentials.token_env]) as c:
        cursor, seen = None, []
        while True:
            page = c.fetch_changes("catalog", cursor, 7)
            seen += page.records
            cursor = page.next_cursor
            if not page.has_more:
                break
        assert seen == list(system.feed("catalog", 0, 10**9, 0))
        assert c.fetch_changes("catalog", cursor, 7).records == []
        ready = sandbox.ready_document()
        k, changed = advance_round(sandbox.folder, ready)
        assert k == 1 and changed == sum(s.round_count(ds, 1) for s in sandbox.province.systems
                                         for ds in ("catalog", "case"))
        after = c.fetch_changes("catalog", cursor, 1000).records
        assert after == list(system.changed_in("catalog", 1)) and after
        assert all(r["version"] == 2 for r in after)
    drops = list((sandbox.folder / "drop").glob("*/inbox/catalog/*"))
    assert drops  # the file-drop systems dropped their base records and the round's changes


def test_change_and_push_refused_where_they_do_not_apply(tmp_path):
    result = CliRunner().invoke(main, ["sandbox", "change", "--folder", str(tmp_path)])
    assert result.exit_code == 2 and "no sandbox is running" in result.output
    result = CliRunner().invoke(main, ["sandbox", "up", "--scale", "province", "--folder", str(tmp_path),
                                       "--systems", "151"])
    assert result.exit_code == 2 and "--systems must be within 1..150" in result.output
    result = CliRunner().invoke(main, ["sandbox", "up", "--scale", "province", "--folder", str(tmp_path),
                                       "--transports", "sftp"])
    assert result.exit_code == 2 and "province scale" in result.output
