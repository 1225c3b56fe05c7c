"""Changes feeds (TBS-REST-003/004, TBS-SYNC-013) and the sandbox SystemService."""
from __future__ import annotations

import copy
import re
import threading

import pytest

from tongban.connectors.base import ServiceError, SystemService
from tongban.model.datasets import DATASETS
from tongban.sandbox.feed import MAX_LIMIT, ChangeFeed, SandboxService, parse_cursor
from tongban.sandbox.generate import generate_province

CURSOR_RE = re.compile(r"^[A-Za-z0-9._~-]{1,512}$")   # TBS-REST-004


def position(n: int) -> str:
    """The feed's documented cursor after ``n`` changes: ``c-`` and 16 decimal digits."""
    return "c-" + str(n).rjust(16, "0")


@pytest.fixture(scope="module")
def data():
    return generate_province(11, cities=1, counties_per_city=2, items_per_county=8, cases_per_county=30)


@pytest.fixture(scope="module")
def county(data):
    return data.counties[0]


def read_all(feed_or_service, dataset: str | None = None, *, limit: int, since: str | None = None,
             version: str | None = None):
    """Page through to the end; returns (records, cursors seen), or only the records when a
    ``version`` is asked for."""
    page = (lambda s: feed_or_service.page(s, limit)) if dataset is None else \
        (lambda s: feed_or_service.changes(dataset, s, limit, version=version))
    records, cursors = [], []
    while True:
        p = page(since)
        assert set(p) == {"records", "nextCursor", "hasMore"}
        assert len(p["records"]) <= limit and CURSOR_RE.match(p["nextCursor"])
        records += p["records"]
        cursors.append(p["nextCursor"])
        if since is not None:
            assert parse_cursor(p["nextCursor"]) >= parse_cursor(since)   # monotonic
        since = p["nextCursor"]
        if not p["hasMore"]:
            return records if version is not None else (records, cursors)


# ------------------------------------------------------------------------------ ChangeFeed
@pytest.mark.parametrize("limit", [1, 7, 100, MAX_LIMIT])
def test_a_full_read_returns_exactly_the_records_in_order(county, limit):
    for ds in DATASETS:
        expected = county.records(ds)
        feed = ChangeFeed(ds, expected)
        got, cursors = read_all(feed, limit=limit)
        assert got == expected
        assert cursors[-1] == position(len(expected)) == feed.end_cursor


def test_re_reading_from_an_intermediate_cursor_returns_the_same_records(county):
    records = county.records("case-event")
    feed = ChangeFeed("case-event", records)
    first = feed.page(None, 25)
    second = feed.page(first["nextCursor"], 25)
    again = feed.page(first["nextCursor"], 25)
    assert second == again and second["records"] == records[25:50]
    rest, _ = read_all(feed, limit=40, since=first["nextCursor"])
    assert rest == records[25:]


def test_at_and_beyond_the_end_no_records_and_the_cursor_comes_back(county):
    feed = ChangeFeed("case", county.records("case"))
    end = feed.end_cursor
    assert feed.page(end, 10) == {"records": [], "nextCursor": end, "hasMore": False}
    beyond = position(len(feed) + 50)
    assert feed.page(beyond, 10) == {"records": [], "nextCursor": beyond, "hasMore": False}
    empty = ChangeFeed("result")
    assert empty.page(None, 10) == {"records": [], "nextCursor": "c-0000000000000000", "hasMore": False}


def test_has_more_is_exact_at_the_page_boundary(county):
    records = county.records("evaluation")
    feed = ChangeFeed("evaluation", records)
    whole = feed.page(None, len(records))
    assert whole["hasMore"] is False and len(whole["records"]) == len(records)
    short = feed.page(None, len(records) - 1)
    assert short["hasMore"] is True
    last = feed.page(short["nextCursor"], 10)
    assert last["records"] == records[-1:] and last["hasMore"] is False


@pytest.mark.parametrize("cursor", ["", "c-", "c-12", "c-000000000000000x", "c-00000000000000001", "abc",
                                    "C-0000000000000001", " c-0000000000000001", "c-0000000000000001\n", 5])
def test_an_uninterpretable_cursor_is_bad_cursor(county, cursor):
    feed = ChangeFeed("case", county.records("case"))
    with pytest.raises(ServiceError) as err:
        feed.page(cursor, 10)
    assert (err.value.status, err.value.code) == (400, "BAD_CURSOR")
    assert err.value.body()["code"] == "BAD_CURSOR"


@pytest.mark.parametrize("limit", [0, -1, MAX_LIMIT + 1, True, 1.5, "10", None])
def test_a_limit_outside_1_to_1000_is_bad_parameter(county, limit):
    feed = ChangeFeed("case", county.records("case"))
    with pytest.raises(ServiceError) as err:
        feed.page(None, limit)
    assert (err.value.status, err.value.code) == (400, "BAD_PARAMETER")


def test_appended_records_reach_a_consumer_waiting_at_the_end(county):
    records = county.records("case-event")
    feed = ChangeFeed("case-event", records[:10])
    at_end = feed.page(None, 100)["nextCursor"]
    cursor = feed.append(records[10])
    assert cursor == position(11) == feed.end_cursor
    page = feed.page(at_end, 100)
    assert page == {"records": [records[10]], "nextCursor": cursor, "hasMore": False}


def test_the_feed_refuses_what_a_feed_must_never_contain(county):
    events = county.records("case-event")
    feed = ChangeFeed("case-event", events[:3])
    first = events[0]
    with pytest.raises(ValueError):   # TBS-SYNC-013: a case's events in ascending seq
        feed.append({**first, "stepName": "重复"})
    catalog = ChangeFeed("catalog")
    item = county.records("catalog")[0]
    catalog.append(item)
    with pytest.raises(ValueError):   # TBS-SYNC-014: same key and version again
        catalog.append({**item, "name": item["name"] + "（变更）"})
    with pytest.raises(ValueError):
        catalog.append({**item, "version": 0})
    results = ChangeFeed("result", county.records("result")[:1])
    with pytest.raises(ValueError):   # immutable records are inserted once
        results.append(county.records("result")[0])
    with pytest.raises(ValueError):
        ChangeFeed("evaluation").append({"assessNo": 1})
    with pytest.raises(ValueError):
        ChangeFeed("no-such-dataset")
    assert len(feed) == 3 and len(catalog) == 1


def test_the_feed_keeps_its_own_copies(county):
    record = county.records("case")[0]
    feed = ChangeFeed("case", [record])
    record["caseNo"] = "CHANGED"
    served = feed.page(None, 1)["records"][0]
    served["caseNo"] = "CHANGED-AGAIN"
    assert feed.page(None, 1)["records"][0]["caseNo"] == county.records("case")[0]["caseNo"]


def test_compaction_omits_superseded_versions_but_keeps_positions():
    base = {"itemCode": "440120012002", "implCode": "11440103007493637K4440120012002", "name": "公共场所卫生许可（新证）"}
    other = {**base, "implCode": "11440104001108048M4440120012002"}
    log = [{**base, "version": 1}, {**other, "version": 1}, {**base, "version": 2}, {**base, "version": 3,
                                                                                       "status": "REVOKED"}]
    plain, compact = ChangeFeed("catalog", log), ChangeFeed("catalog", log, compact=True)
    assert read_all(plain, limit=2)[0] == log
    assert compact.records() == [log[1], log[3]] == read_all(compact, limit=1)[0]
    # a cursor taken before the newer version re-reads the newer version, never an older one
    first = compact.page(None, 1)
    assert first["records"] == [log[1]] and first["nextCursor"] == position(2) and first["hasMore"]
    assert compact.page(first["nextCursor"], 10) == {"records": [log[3]], "nextCursor": position(4),
                                                     "hasMore": False}
    compact.append({**other, "version": 2})
    assert compact.records() == [log[3], {**other, "version": 2}]
    assert compact.page(position(4), 10)["records"] == [{**other, "version": 2}]


def test_case_versions_are_compacted_too(data):
    cases = [c for s in data.systems.values() for c in s.records("case")]
    feed = ChangeFeed("case", cases, compact=True)
    got = feed.records()
    assert len({c["caseNo"] for c in got}) == len(got) < len(cases)
    latest = {}
    for c in cases:
        latest[c["caseNo"]] = c
    assert sorted(got, key=lambda c: c["caseNo"]) == sorted(latest.values(), key=lambda c: c["caseNo"])


def test_reading_while_appending_loses_and_repeats_nothing(county):
    records = county.records("case-event")
    feed = ChangeFeed("case-event")
    done = threading.Event()

    def writer():
        for r in records:
            feed.append(r)
        done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    got, cursor = [], None
    while True:
        finished = done.is_set()
        page = feed.page(cursor, 13)
        got += page["records"]
        cursor = page["nextCursor"]
        if finished and not page["hasMore"]:
            break
    thread.join()
    assert got == records


# -------------------------------------------------------------------------- SandboxService
class RecordingReceiver:
    """A stand-in province receiver that answers with a fixed acknowledgement."""

    def __init__(self):
        self.calls = []

    def meta(self):
        return {}

    def changes(self, dataset, since, limit):
        raise ServiceError(404, "NOT_FOUND", "no feeds")

    def receive(self, envelope, **kwargs):
        self.calls.append((envelope, kwargs))
        return {"status": "ACCEPTED"}

    def get_ack(self, message_id, caller):
        return {"requestMessageId": message_id}


def test_service_meta_describes_the_system(data, county):
    service = SandboxService(county, bindings=("REST", "SOAP"))
    assert isinstance(service, SystemService)
    meta = service.meta()
    assert meta["systemId"] == county.system_id and meta["specVersions"] == ["TBS-1.0"]
    assert meta["roles"] == ["CASE_REPORTER", "CATALOG_PROVIDER", "EVALUATION_REPORTER", "RESULT_PUBLISHER"]
    assert meta["datasets"] == sorted(DATASETS) and meta["bindings"] == ["REST", "SOAP"]
    city = SandboxService(data.cities[0]).meta()
    assert "CATALOG_CONSUMER" in city["roles"] and city["roles"] == sorted(city["roles"])


def test_service_serves_each_dataset_and_refuses_unknown_ones(county):
    service = SandboxService(county)
    for ds in DATASETS:
        assert read_all(service, ds, limit=50)[0] == county.records(ds)
    with pytest.raises(ServiceError) as err:
        service.changes("cases", None, 10)
    assert (err.value.status, err.value.code) == (404, "NOT_FOUND")
    with pytest.raises(ServiceError) as err:
        service.changes("case", "garbage!", 10)
    assert err.value.code == "BAD_CURSOR"


def test_city_feeds_carry_relayed_records_only_when_asked(data):
    city = data.cities[0]
    own = SandboxService(city)
    relay = SandboxService(city, include_relayed=True)
    assert read_all(own, "catalog", limit=100)[0] == city.records("catalog")
    relayed = read_all(relay, "catalog", limit=100)[0]
    assert len(relayed) == len(city.records("catalog")) + len(city.relayed_records("catalog"))
    skins = {(p["implCode"], p["version"]) for p in data.planted_two_skins if p["systemIds"][1] == city.system_id}
    assert skins and skins <= {(r["implCode"], r["version"]) for r in relayed}


def test_pushes_are_refused_or_handed_to_the_attached_receiver(data, county):
    envelope = {"dataset": "catalog", "records": []}
    with pytest.raises(ServiceError) as err:   # a county accepts nothing
        SandboxService(county).receive(envelope, binding="REST", request_hash="0" * 64, authenticated_sender=None)
    assert (err.value.status, err.value.code) == (404, "NOT_FOUND")
    city = data.cities[0]
    with pytest.raises(ServiceError) as err:   # a city accepts catalog, but nothing is attached
        SandboxService(city).receive(envelope, binding="REST", request_hash="0" * 64, authenticated_sender=None)
    assert (err.value.status, err.value.code) == (503, "UNAVAILABLE")
    with pytest.raises(ServiceError) as err:
        SandboxService(city).receive({"dataset": "case"}, binding="REST", request_hash="0" * 64,
                                     authenticated_sender=None)
    assert err.value.status == 404
    receiver = RecordingReceiver()
    service = SandboxService(city, receiver=receiver)
    ack = service.receive(envelope, binding="REST", request_hash="1" * 64, authenticated_sender=county.system_id,
                          binding_dataset="catalog")
    assert ack == {"status": "ACCEPTED"} and receiver.calls[0][1]["authenticated_sender"] == county.system_id
    assert service.get_ack("m-1", county.system_id) == {"requestMessageId": "m-1"}
    assert SandboxService(county).get_ack("m-1", city.system_id) is None


def test_an_operator_change_appears_as_a_new_version(county):
    service = SandboxService(county)
    end = service.feed("catalog").end_cursor
    current = county.records("catalog")[-1]
    changed = copy.deepcopy(current)
    changed["version"] += 1
    changed["promiseLimit"]["value"] = max(0, changed["promiseLimit"]["value"] - 1)
    cursor = service.append("catalog", changed)
    assert service.changes("catalog", end, 10) == {"records": [changed], "nextCursor": cursor, "hasMore": False}


def test_feeds_over_the_real_rest_server(county):
    """The service behind the project's REST binding on loopback: paging, end, bad cursor."""
    httpx = pytest.importorskip("httpx")
    from tongban.connectors.rest.server import create_rest_app, token_table
    from tongban.connectors.serving import ServerThread

    caller = "TB:province:440000:GDZWFW"
    app = create_rest_app(SandboxService(county), authenticate=token_table({"sandbox-test-token": caller}))
    server = ServerThread(app).start()
    try:
        headers = {"Authorization": "Bearer sandbox-test-token", "X-TB-Sender": caller,
                   "X-TB-Spec-Version": "TBS-1.0"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=10) as client:
            assert client.get("/tbs/v1/meta").json()["systemId"] == county.system_id
            got, since = [], None
            while True:
                params = {"limit": 17} | ({"since": since} if since else {})
                body = client.get("/tbs/v1/case-event/changes", params=params).json()
                got += body["records"]
                since = body["nextCursor"]
                if not body["hasMore"]:
                    break
            assert got == county.records("case-event")
            end = client.get("/tbs/v1/case-event/changes", params={"since": since})
            assert end.status_code == 200 and end.json() == {"records": [], "nextCursor": since, "hasMore": False}
            bad = client.get("/tbs/v1/case-event/changes", params={"since": "not a cursor"})
            assert bad.status_code == 400 and bad.json()["code"] == "BAD_CURSOR"
    finally:
        server.stop()


# ------------------------------------------------------------------ TBS-1.1 TBS-SYNC-015 (d)
def test_key_blocking_withholds_a_cases_later_events_and_its_dependents():
    from tongban.sandbox.feed import blocked_positions

    events = [{"caseNo": "A", "seq": 1}, {"caseNo": "B", "seq": 1}, {"caseNo": "A", "seq": 2},
              {"caseNo": "B", "seq": 2}, {"caseNo": "A", "seq": 3}, {"caseNo": "C", "seq": 1}]
    # A's event 2 has no passing form: A's event 3 is withheld with it (a consumer would hold it,
    # TBS-EVT-007); case C is blocked (none of its versions admitted): its event is withheld
    admitted = lambda r: (r["caseNo"], r["seq"]) != ("A", 2)   # noqa: E731
    assert blocked_positions("case-event", events, admitted, {"C"}) == {3, 5, 6}
    results = [{"caseNo": "A", "certNo": "1"}, {"caseNo": "C", "certNo": "2"}]
    assert blocked_positions("result", results, lambda r: True, {"C"}) == {2}
    # catalog and case versions are admitted on their own merits; blocked cases do not apply
    versions = [{"caseNo": "C", "version": 1}, {"caseNo": "C", "version": 2}]
    assert blocked_positions("case", versions, lambda r: r["version"] == 2, {"C"}) == {1}


def test_a_case_with_no_tbs_1_0_form_takes_its_events_results_and_evaluations_out_of_the_tbs_1_0_feeds(data):
    county = data.counties[1]
    service = SandboxService(county)
    service.spec_versions = ("TBS-1.0", "TBS-1.1")
    victim = county.records("case")[0]["caseNo"]

    def enrich(dataset, form):
        # an agent without identity document: valid in TBS-1.1, no TBS-1.0 form (Annex E.1)
        if dataset == "case" and form["caseNo"] == victim:
            return {**form, "agent": {"kind": "PERSON", "name": "张三"}}
        return form

    service.enrich = enrich
    assert service.native("case", county.records("case")[0])[0] == "TBS-1.1"   # the 1.1 form passes
    for dataset in ("case", "case-event", "result", "evaluation"):
        own = [r for r in county.records(dataset) if r["caseNo"] == victim]
        v10 = read_all(service, dataset, limit=7, version="TBS-1.0")
        v11 = read_all(service, dataset, limit=7, version="TBS-1.1")
        assert [r for r in v10 if r["caseNo"] == victim] == []
        assert len([r for r in v11 if r["caseNo"] == victim]) == len(own)
        # every other case's records are served in both versions, in feed order
        assert [(r["caseNo"], r.get("seq")) for r in v10] == \
            [(r["caseNo"], r.get("seq")) for r in county.records(dataset) if r["caseNo"] != victim]
    assert any(r["caseNo"] == victim for r in county.records("case-event"))   # the test has something to withhold
