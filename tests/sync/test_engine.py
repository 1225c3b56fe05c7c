"""The sync engine end to end over real HTTPS on loopback: pages, cursor, quarantine,
ledger, failures that name their hop, and the CLI's messages."""
from __future__ import annotations

import copy
import json

import pytest
import rfc8785
import yaml
from click.testing import CliRunner
from sqlalchemy import func, select

from tongban.cli import main
from tongban.connectors.rest.server import create_rest_app, token_table
from tongban.connectors.serving import ServerThread, make_local_ca
from tongban.registry import load_registry
from tongban.sandbox.feed import ChangeFeed
from tongban.sandbox.generate import generate_province
from tongban.store.records import RecordStore
from tongban.store.schema import CaseEventRecord, CaseRecord, LedgerEntry, QuarantineEntry, SyncRun
from tongban.sync import ledger
from tongban.sync.engine import SyncEngine, SyncFailed
from tongban.sync.export import export_current

BUS = "TB:province:440000:TONGBAN"
TOKEN = "engine-test-token-0123456789abcdef"


class FeedService:
    """A partner serving fixed feeds (one per dataset) through the real REST server."""

    def __init__(self, system_id: str, feeds: dict[str, list[dict]]) -> None:
        self.system_id = system_id
        self.feeds = {ds: ChangeFeed(ds, recs) for ds, recs in feeds.items()}

    def meta(self):
        return {"systemId": self.system_id, "roles": ["CASE_REPORTER"], "datasets": sorted(self.feeds),
                "specVersions": ["TBS-1.0"]}

    def changes(self, dataset, since, limit):
        return self.feeds[dataset].page(since, limit)

    def receive(self, *a, **kw):
        raise NotImplementedError

    def get_ack(self, *a):
        return None


@pytest.fixture(scope="module")
def county():
    data = generate_province(5, cities=1, counties_per_city=1, cases_per_county=8)
    return data.counties[0]


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    return make_local_ca(tmp_path_factory.mktemp("tls"))


def registry_file(tmp_path, system_id, endpoint, ca_file, page_size=10):
    path = tmp_path / "partners.yaml"
    path.write_text(yaml.safe_dump({"bus": {"system_id": BUS, "admission": "off"}, "partners": [{
        "id": system_id, "parent": BUS, "transport": "rest", "endpoint": endpoint, "ca_file": str(ca_file),
        "credentials": {"token_env": "TONGBAN_TEST_ENGINE_TOKEN"}, "roles": ["CASE_REPORTER"],
        "page_size": page_size, "retries": 0}]}))
    return path


@pytest.fixture
def serve(tls, tmp_path, monkeypatch):
    monkeypatch.setenv("TONGBAN_TEST_ENGINE_TOKEN", TOKEN)
    servers = []

    def start(service: FeedService, page_size=10):
        srv = ServerThread(create_rest_app(service, authenticate=token_table({TOKEN: BUS})), tls=tls).start()
        servers.append(srv)
        return load_registry(registry_file(tmp_path, service.system_id, srv.url, tls.ca_file, page_size))

    yield start
    for srv in servers:
        srv.stop()


def count(store, table):
    with store.reading() as s:
        return s.execute(select(func.count()).select_from(table)).scalar_one()


def test_pages_cursor_and_ledger(store, serve, county):
    cases, events = county.records("case"), county.records("case-event")
    reg = serve(FeedService(county.system_id, {"case": cases, "case-event": events}), page_size=7)
    engine = SyncEngine(store, reg, trigger="test")
    r1 = engine.sync(county.system_id, "case")
    r2 = engine.sync(county.system_id, "case-event")
    assert r2.pages == -(-len(events) // 7) and r2.pulled == len(events)
    assert r2.counts.stored + r2.counts.released == len(events) and r2.counts.rejected == 0
    assert count(store, CaseEventRecord) == len(events)
    assert store.cursor(county.system_id, "case-event") == r2.cursor_after == f"c-{len(events):016d}"
    again = engine.sync(county.system_id, "case-event")
    assert again.pulled == 0 and again.counts.stored == 0 and again.cursor_after == r2.cursor_after
    assert ledger.verify(store).ok
    assert count(store, LedgerEntry) == r1.pages + r2.pages + again.pages


def test_invalid_record_is_quarantined_verbatim_while_its_page_neighbours_are_stored(store, serve, county):
    cases = county.records("case")
    once = [i for i, c in enumerate(cases) if sum(x["caseNo"] == c["caseNo"] for x in cases) == 1]
    i = once[1]  # a case reported once (no later version would store it anyway)
    bad = copy.deepcopy(cases[i])
    bad["applicant"] = {**bad["applicant"], "kind": "ORG", "idType": "USCC", "idNo": "91440103MA5TB0001X"}
    cases[i] = bad
    reg = serve(FeedService(county.system_id, {"case": cases}))
    report = SyncEngine(store, reg).sync(county.system_id, "case")
    assert report.counts.rejected == 1 and report.counts.stored == len(cases) - 1
    with store.reading() as s:
        [q] = s.execute(select(QuarantineEntry)).scalars().all()
        assert q.raw.encode("utf-8") == rfc8785.dumps(bad)   # as served: the REST binding answers in JCS
        findings = json.loads(q.report)["items"]
        assert ("ERROR", "TBS-CODE-014", f"/records/{i}/applicant/idNo") in \
            {(f["severity"], f["ruleId"], f["location"]) for f in findings}
        assert q.rule_ids == "TBS-CODE-014" and q.partner_id == county.system_id
        assert RecordStore(s).case(bad["caseNo"]) is None
        assert RecordStore(s).case(cases[i + 1]["caseNo"]) is not None
        verdicts = s.execute(select(LedgerEntry.verdict)).scalars().all()
        assert verdicts.count("PARTIAL") == 1 and set(verdicts) <= {"PARTIAL", "ACCEPTED"}
    assert store.cursor(county.system_id, "case") is not None  # the rejected record is recorded, not retried


def test_store_failure_mid_sync_keeps_committed_pages_and_cursor(store, serve, county, monkeypatch):
    events, cases = county.records("case-event"), county.records("case")
    reg = serve(FeedService(county.system_id, {"case": cases, "case-event": events}), page_size=5)
    engine = SyncEngine(store, reg)
    engine.sync(county.system_id, "case")
    real_append, calls = ledger.append, {"n": 0}

    def failing_append(*a, **kw):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full")  # a store fault we cannot cause for real on loopback
        return real_append(*a, **kw)

    monkeypatch.setattr("tongban.sync.engine.ledger.append", failing_append)
    with pytest.raises(SyncFailed) as info:
        engine.sync(county.system_id, "case-event")
    assert info.value.report.error_hop == "store" and not info.value.retriable
    assert count(store, CaseEventRecord) == 10 and store.cursor(county.system_id, "case-event") == f"c-{10:016d}"
    monkeypatch.setattr("tongban.sync.engine.ledger.append", real_append)
    done = engine.sync(county.system_id, "case-event")
    assert count(store, CaseEventRecord) == len(events) and done.counts.duplicate == 0
    with store.reading() as s:
        statuses = s.execute(select(SyncRun.status).order_by(SyncRun.id)).scalars().all()
    assert statuses == ["SUCCESS", "FAILED", "SUCCESS"]


def test_unreachable_partner_fails_at_the_connector_hop_naming_the_endpoint(store, tmp_path, tls, monkeypatch):
    monkeypatch.setenv("TONGBAN_TEST_ENGINE_TOKEN", TOKEN)
    reg = load_registry(registry_file(tmp_path, "TB:county:440103:LWZWFW", "https://127.0.0.1:9", tls.ca_file))
    with pytest.raises(SyncFailed) as info:
        SyncEngine(store, reg).sync("TB:county:440103:LWZWFW", "case")
    r = info.value.report
    assert (r.error_hop, r.error_code, info.value.retriable) == ("connector", "UNREACHABLE", True)
    assert "127.0.0.1:9" in r.error
    assert store.cursor("TB:county:440103:LWZWFW", "case") is None
    with store.reading() as s:
        run = s.execute(select(SyncRun)).scalar_one()
    assert (run.status, run.error_hop, run.error_code) == ("FAILED", "connector", "UNREACHABLE")


def test_cli_reports_bad_registry_and_unreachable_partner(tmp_path, tls, monkeypatch):
    monkeypatch.setenv("TONGBAN_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    runner = CliRunner()
    bad = tmp_path / "bad.yaml"
    bad.write_text("bus:\n  system_id: TB:province:440000:TONGBAN\npartners:\n  - id: TB:county:440103:LWZWFW\n"
                   "    transport: rest\n    endpoint: ftp://x\n    roles: [CASE_REPORTER]\n")
    res = runner.invoke(main, ["sync", "--partners", str(bad), "--partner", "LWZWFW", "--dataset", "case"])
    assert res.exit_code == 2 and "bad.yaml:4: partners[0]: endpoint must be an https:// URL" in res.output
    good = registry_file(tmp_path, "TB:county:440103:LWZWFW", "https://127.0.0.1:9", tls.ca_file)
    res = runner.invoke(main, ["sync", "--partners", str(good), "--partner", "LWZWFW", "--dataset", "case"])
    assert res.exit_code == 1 and "FAILED" in res.output and "127.0.0.1:9" in res.output
    res = runner.invoke(main, ["sync", "--partners", str(good), "--partner", "NOPE", "--dataset", "case"])
    assert res.exit_code == 2 and "no partner 'NOPE'" in res.output


def test_a_partner_writing_gbt39046_satisfaction_is_mapped_to_the_tbs_direction(store, serve, county):
    """TBS-EVAL-007: a feed in GB/T 39046 A.8 order (1 = 非常满意) is stored in TBS order."""
    evaluations = county.records("evaluation")
    legacy = [{**e, "satisfaction": 6 - e["satisfaction"],
               **({"dimensions": {k: 6 - v for k, v in e["dimensions"].items()}} if "dimensions" in e else {})}
              for e in evaluations]
    assert any(e["satisfaction"] != l["satisfaction"] for e, l in zip(evaluations, legacy))
    reg = serve(FeedService(county.system_id, {"case": county.records("case"),
                                              "case-event": county.records("case-event"), "evaluation": legacy}))
    path = reg.path
    data = yaml.safe_load(path.read_text())
    data["partners"][0]["roles"] = ["CASE_REPORTER", "EVALUATION_REPORTER"]
    data["partners"][0]["satisfaction_scale"] = "gbt39046"
    path.write_text(yaml.safe_dump(data))
    engine = SyncEngine(store, load_registry(path))
    for dataset in ("case", "case-event", "evaluation"):
        engine.sync(county.system_id, dataset)
    from tongban.model.canonical import canonical_bytes

    assert sorted(export_current(store, "evaluation")) == sorted(canonical_bytes(e).decode() for e in evaluations)


def test_an_expired_cursor_restarts_the_feed_once_and_loses_nothing(store, serve, county):
    """TBS-REST-004: 410 CURSOR_EXPIRED → the consumer restarts from the beginning; the
    re-read records are duplicates, nothing is lost, and a feed that keeps answering 410 fails."""
    from tongban.connectors.base import ServiceError

    cases = county.records("case")

    class Expiring(FeedService):
        expire = True

        def changes(self, dataset, since, limit):
            if since is not None and self.expire:
                raise ServiceError(410, "CURSOR_EXPIRED", "cursor older than 7 days")
            return super().changes(dataset, since, limit)

    assert len(cases) > 6
    service = Expiring(county.system_id, {"case": cases})
    reg = serve(service, page_size=3)
    engine = SyncEngine(store, reg)
    with store.transaction() as s:  # a cursor committed long ago
        from tongban.sync.cursor import ChangeCursor

        ChangeCursor.load(s, county.system_id, "case").advance(s, "c-0000000000000005", 5)
    with pytest.raises(SyncFailed) as info:  # every later page expires too: refuse to loop
        engine.sync(county.system_id, "case")
    assert info.value.report.error_code == "CURSOR_EXPIRED"
    service.expire = False
    with store.transaction() as s:
        ChangeCursor.load(s, county.system_id, "case").reset(s)
        ChangeCursor.load(s, county.system_id, "case").advance(s, "c-0000000000000005", 5)
    service.expire = True

    class ExpiresOnce(Expiring):
        def changes(self, dataset, since, limit):
            if since == "c-0000000000000005":
                raise ServiceError(410, "CURSOR_EXPIRED", "cursor older than 7 days")
            return FeedService.changes(self, dataset, since, limit)

    reg2 = serve(ExpiresOnce(county.system_id, {"case": cases}), page_size=3)
    report = SyncEngine(store, reg2).sync(county.system_id, "case")
    from tongban.model.canonical import canonical_bytes

    latest = {c["caseNo"]: c for c in cases}  # a re-reported case keeps its latest version
    assert sorted(export_current(store, "case")) == sorted(canonical_bytes(c).decode() for c in latest.values())
    assert report.pulled == len(cases) and report.cursor_after == f"c-{len(cases):016d}"
