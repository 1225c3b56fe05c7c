"""Bad input over the REST binding (TBS-1.0 §15): one case per kind.

Each kind builds one request against the bus's real REST server on loopback and states the
answer: an error body ``{code, ruleId}`` (TBS-REST-009) with its status, or an acknowledgement
whose envelope or record report names the rule. Then: nothing invalid was stored, the answer
was no bare 500, and a valid push right afterwards is stored whole.
"""
from __future__ import annotations

import gzip
import json
import uuid
from dataclasses import dataclass
from typing import Any, Callable

import httpx
import pytest

from tongban.connectors.filedrop.acks import now_rfc3339
from tongban.model.canonical import canonical_bytes, records_sha256

from security_support import BUS, PROVINCE_UNREGISTERED, TOKEN, Bus, assert_no_plain_500
from security_support import bus, province  # noqa: F401 - pytest fixtures

Request = tuple[bytes, dict[str, str], str]  # body, headers, path


@dataclass(frozen=True)
class Kind:
    id: str
    build: Callable[[Bus], Request]
    status: int
    code: str | None          # error code (TBS-REST-009); None: an acknowledgement answers
    rule_id: str
    ack: str = "envelope"     # where an acknowledgement names the rule: "envelope" or "record"
    finding: str = ""         # the numbered finding of the attack report this kind covers
    only: bool = False        # the acknowledgement names this rule and no other
    method: str = "POST"


def _push(bus: Bus, env: Any, *, path: str = "/tbs/v1/case", body: bytes | None = None, **headers: str | None
          ) -> Request:
    return (canonical_bytes(env) if body is None else body), bus.headers(env, **headers), path


def _envelope_with(bus: Bus, **over: Any) -> Request:
    return _push(bus, bus.envelope(**over))


def _records(bus: Bus, mutate: Callable[[dict[str, Any]], None]) -> Request:
    case = bus.fresh_cases(1)[0]
    mutate(case)
    return _push(bus, bus.envelope([case]))


def _raw(bus: Bus, body: bytes, **headers: str | None) -> Request:
    env = {"messageId": str(uuid.uuid4())}
    return body, bus.headers(env, **headers), "/tbs/v1/case"


def _gzip_bomb(bus: Bus) -> Request:
    env = bus.envelope()
    body = canonical_bytes(env)[:-1] + b',"ext":{"pad":"' + b"0" * (40 * 1024 * 1024) + b'"}}'
    return gzip.compress(body, 9), bus.headers(env, Content_Encoding="gzip"), "/tbs/v1/case"


def _many_records(bus: Bus) -> Request:
    case = bus.fresh_cases(1)[0]
    return _push(bus, bus.envelope([case] * 1001))


def _big_record(bus: Bus) -> Request:
    case = bus.fresh_cases(1)[0]
    case["itemName"] = "办" * 100_000  # over the 262 144 JCS bytes of one record
    return _push(bus, bus.envelope([case]))


def _replayed_other_content(bus: Bus) -> Request:
    env = bus.envelope()
    first = bus.rest_post(canonical_bytes(env), bus.headers(env))
    assert first.status_code == 200 and first.json()["status"] == "ACCEPTED"
    again = bus.rest_post(canonical_bytes(env), bus.headers(env))
    assert again.status_code == 200 and again.json() == first.json()  # an identical replay: the stored ack
    bus._replayed.add(env["records"][0]["caseNo"])  # type: ignore[attr-defined]
    other = dict(env, records=bus.fresh_cases(1))
    other["integrity"] = {"recordsSha256": records_sha256(other["records"])}
    return _push(bus, other)


def _foreign_case(bus: Bus) -> Request:
    return _push(bus, bus.envelope([bus.fresh_cases(1, who="YX")[0]]))


def _origin(bus: Bus, origin: str, who: str = "LW", records_of: str = "YX") -> Request:
    return _push(bus, bus.envelope(bus.fresh_cases(1, who=records_of), who=who, origin=origin), who=who)


def _catalog_renamed(bus: Bus, index: int, **over: Any) -> Request:
    """The county's own catalog item stored as it is, then a next version renaming it: ``name`` is
    a basic field only the province is authoritative for (TBS-SYNC-009), whoever sends it."""
    item = bus.systems["LW"].records("catalog")[index]
    first = bus.envelope([item], dataset="catalog")
    stored = bus.rest_post(canonical_bytes(first), bus.headers(first), path="/tbs/v1/catalog")
    assert stored.status_code == 200 and stored.json()["counts"]["stored"] == 1, stored.text[:300]
    renamed = dict(item, name=item["name"] + "（改名）", version=item["version"] + 1, updatedAt=now_rfc3339())
    return _push(bus, bus.envelope([renamed], dataset="catalog", **over), path="/tbs/v1/catalog")


def _big_header(bus: Bus) -> Request:
    env = bus.envelope()
    return canonical_bytes(env), bus.headers(env, X_Padding="p" * (80 * 1024)), "/tbs/v1/case"


def _many_headers(bus: Bus) -> Request:
    env = bus.envelope()
    h = bus.headers(env)
    h.update({f"X-Pad-{i}": "p" * 100 for i in range(400)})
    return canonical_bytes(env), h, "/tbs/v1/case"


def _null_in_path(bus: Bus) -> Request:
    return _push(bus, bus.envelope(), path="/tbs/v1/case%00")


KINDS = [
    # -- authentication and authorisation (TBS-SEC-001, -002, -004) ---------------------
    Kind("no-authorization", lambda b: _push(b, b.envelope(), Authorization=None), 401, "UNAUTHENTICATED",
         "TBS-SEC-001"),
    Kind("wrong-token", lambda b: _push(b, b.envelope(), Authorization="Bearer not-a-token"), 401,
         "UNAUTHENTICATED", "TBS-SEC-001"),
    Kind("basic-auth-scheme", lambda b: _push(b, b.envelope(), Authorization="Basic bHc6bHc="), 401,
         "UNAUTHENTICATED", "TBS-SEC-001"),
    Kind("empty-bearer", lambda b: _push(b, b.envelope(), Authorization="Bearer"), 401, "UNAUTHENTICATED",
         "TBS-SEC-001"),
    Kind("another-partners-token", lambda b: _push(b, b.envelope(), Authorization=f"Bearer {TOKEN['YX']}"), 403,
         "FORBIDDEN", "TBS-SEC-002"),
    Kind("unauthenticated-oversize-claim", lambda b: _push(b, b.envelope(), Authorization=None,
                                                           Content_Type="text/plain"), 401, "UNAUTHENTICATED",
         "TBS-SEC-001"),
    # -- headers (TBS-REST-006) ------------------------------------------------------------
    Kind("missing-sender-header", lambda b: _push(b, b.envelope(), X_TB_Sender=None), 400, "BAD_HEADER",
         "TBS-REST-006"),
    Kind("missing-spec-version", lambda b: _push(b, b.envelope(), X_TB_Spec_Version=None), 400, "BAD_HEADER",
         "TBS-REST-006"),
    Kind("wrong-spec-version", lambda b: _push(b, b.envelope(), X_TB_Spec_Version="TBS-9.9"), 400, "BAD_HEADER",
         "TBS-REST-006"),
    Kind("missing-message-id", lambda b: _push(b, b.envelope(), X_TB_Message_Id=None), 400, "BAD_HEADER",
         "TBS-REST-006"),
    Kind("message-id-not-uuid", lambda b: _push(b, b.envelope(), X_TB_Message_Id="1; DROP TABLE cases"), 400,
         "BAD_HEADER", "TBS-REST-006"),
    Kind("message-id-mismatch", lambda b: _push(b, b.envelope(), X_TB_Message_Id=str(uuid.uuid4())), 400,
         "BAD_HEADER", "TBS-REST-006"),
    Kind("envelope-sender-not-caller", lambda b: _push(b, b.envelope(sender="TB:county:440104:YXZWFW")), 400,
         "BAD_HEADER", "TBS-REST-006"),
    Kind("header-over-size-limit", _big_header, 431, "BAD_HEADER", "TBS-REST-006", finding="9"),
    Kind("too-many-headers", _many_headers, 431, "BAD_HEADER", "TBS-REST-006", finding="9"),
    # -- media type and encoding (TBS-REST-001) --------------------------------------------
    Kind("content-type-text-plain", lambda b: _push(b, b.envelope(), Content_Type="text/plain"), 415,
         "UNSUPPORTED_MEDIA_TYPE", "TBS-REST-001", finding="9"),
    Kind("content-type-missing", lambda b: _push(b, b.envelope(), Content_Type=None), 415,
         "UNSUPPORTED_MEDIA_TYPE", "TBS-REST-001", finding="9"),
    Kind("charset-gbk", lambda b: _push(b, b.envelope(), Content_Type="application/json; charset=gbk"), 415,
         "UNSUPPORTED_MEDIA_TYPE", "TBS-REST-001", finding="9"),
    Kind("content-type-xml", lambda b: _push(b, b.envelope(), Content_Type="application/xml"), 415,
         "UNSUPPORTED_MEDIA_TYPE", "TBS-REST-001", finding="9"),
    Kind("content-encoding-br", lambda b: _push(b, b.envelope(), Content_Encoding="br"), 415,
         "UNSUPPORTED_MEDIA_TYPE", "TBS-REST-001", finding="9"),
    Kind("gzip-corrupt", lambda b: _push(b, b.envelope(), body=b"\x1f\x8b\x08\x00garbage", Content_Encoding="gzip"),
         400, "MALFORMED_JSON", "TBS-ENV-001", finding="9"),
    Kind("gzip-bomb", _gzip_bomb, 413, "PAYLOAD_TOO_LARGE", "TBS-SEC-009", finding="9"),
    # -- size (TBS-SEC-009) ----------------------------------------------------------------
    # -- the body is not I-JSON (TBS-ENV-001) ----------------------------------------------
    Kind("empty-body", lambda b: _raw(b, b""), 400, "MALFORMED_JSON", "TBS-ENV-001"),
    Kind("truncated-json", lambda b: _push(b, b.envelope(), body=canonical_bytes(b.envelope())[:-7]), 400,
         "MALFORMED_JSON", "TBS-ENV-001"),
    Kind("duplicate-member-names", lambda b: _raw(b, b'{"messageId":"a","messageId":"b"}'), 400, "MALFORMED_JSON",
         "TBS-ENV-001"),
    Kind("invalid-utf8", lambda b: _raw(b, b'{"sender":"\xff\xfe"}'), 400, "MALFORMED_JSON", "TBS-ENV-001"),
    Kind("utf8-bom", lambda b: _push(b, b.envelope(), body=b"\xef\xbb\xbf" + canonical_bytes(b.envelope())), 400,
         "MALFORMED_JSON", "TBS-ENV-001"),
    Kind("utf16-body", lambda b: _raw(b, '{"a":1}'.encode("utf-16")), 400, "MALFORMED_JSON", "TBS-ENV-001"),
    Kind("lone-surrogate", lambda b: _raw(b, b'{"a":"\\ud800"}'), 400, "MALFORMED_JSON", "TBS-ENV-001"),
    Kind("nan-literal", lambda b: _raw(b, b'{"a":NaN}'), 400, "MALFORMED_JSON", "TBS-ENV-001"),
    Kind("infinity-literal", lambda b: _raw(b, b'{"a":-Infinity}'), 400, "MALFORMED_JSON", "TBS-ENV-001"),
    Kind("number-overflow", lambda b: _raw(b, b'{"a":1e400}'), 400, "MALFORMED_JSON", "TBS-ENV-001"),
    Kind("deep-nesting", lambda b: _raw(b, b"[" * 100_000 + b"]" * 100_000), 400, "MALFORMED_JSON", "TBS-ENV-001"),
    Kind("trailing-garbage", lambda b: _push(b, b.envelope(), body=canonical_bytes(b.envelope()) + b"}{"), 400,
         "MALFORMED_JSON", "TBS-ENV-001"),
    Kind("control-char-in-string", lambda b: _raw(b, b'{"a":"\x01"}'), 400, "MALFORMED_JSON", "TBS-ENV-001"),
    # -- JSON, but not an envelope object (TBS-ENV-005, answered 422 like any envelope-level ERROR)
    Kind("top-level-array", lambda b: _raw(b, b"[1,2,3]"), 422, None, "TBS-ENV-005", finding="9"),
    Kind("top-level-string", lambda b: _raw(b, b'"envelope"'), 422, None, "TBS-ENV-001", finding="9"),
    Kind("top-level-null", lambda b: _raw(b, b"null"), 422, None, "TBS-ENV-005", finding="9"),
    # -- path (TBS-REST-005, -008) ---------------------------------------------------------
    Kind("unknown-dataset-path", lambda b: _push(b, b.envelope(), path="/tbs/v1/secrets"), 404, "NOT_FOUND",
         "TBS-REST-005", finding="9"),
    Kind("dataset-path-traversal", lambda b: _push(b, b.envelope(), path="/tbs/v1/..%2F..%2Fetc%2Fpasswd"), 404,
         "NOT_FOUND", "TBS-REST-008", finding="9"),
    Kind("nul-in-dataset-path", _null_in_path, 404, "NOT_FOUND", "TBS-REST-005", finding="9"),
    Kind("unknown-endpoint", lambda b: _push(b, b.envelope(), path="/admin"), 404, "NOT_FOUND", "TBS-REST-008",
         finding="9"),
    Kind("put-to-a-dataset-path", lambda b: _push(b, b.envelope()), 405, "BAD_PARAMETER", "TBS-REST-008",
         finding="9", method="PUT"),
    Kind("delete-an-acknowledgement", lambda b: _push(b, b.envelope(), path=f"/tbs/v1/acks/{uuid.uuid4()}"), 405,
         "BAD_PARAMETER", "TBS-REST-008", finding="9", method="DELETE"),
    Kind("path-dataset-not-envelope-dataset", lambda b: _push(b, b.envelope(), path="/tbs/v1/evaluation"), 422,
         None, "TBS-ENV-024"),
    # -- envelope-level errors: 422 with a REJECTED acknowledgement ------------------------
    Kind("wrong-receiver", lambda b: _envelope_with(b, receiver="TB:province:440000:OTHERBUS"), 422, None,
         "TBS-ENV-023"),
    Kind("sent-in-the-future", lambda b: _envelope_with(b, sentAt="2099-01-01T00:00:00+08:00"), 422, None,
         "TBS-SEC-006"),
    Kind("sent-long-ago", lambda b: _envelope_with(b, sentAt="2020-01-01T00:00:00+08:00"), 422, None,
         "TBS-SEC-006"),
    Kind("records-hash-mismatch", lambda b: _envelope_with(b, integrity={"recordsSha256": "0" * 64}), 422, None,
         "TBS-ENV-027"),
    Kind("records-empty", lambda b: _push(b, b.envelope([])), 422, None, "TBS-ENV-025"),
    Kind("records-over-1000", _many_records, 422, None, "TBS-ENV-025"),
    Kind("forged-signature", lambda b: _push(b, _forged(b)), 422, None, "TBS-ENV-028", only=True),
    Kind("unknown-key-id", lambda b: _push(b, _unknown_key(b)), 422, None, "TBS-ENV-028"),
    Kind("spec-version-unknown", lambda b: _envelope_with(b, specVersion="TBS-9.9"), 422, None, "TBS-ENV-021"),
    Kind("message-id-uppercase", lambda b: _upper_mid(b), 400, "BAD_HEADER", "TBS-REST-006"),
    # -- origin: region and field authority (TBS-SEC-011 with the registry's relays) -------
    Kind("origin-equals-sender", lambda b: _origin(b, b.id("LW"), records_of="LW"), 422, None, "TBS-SEC-011"),
    Kind("origin-unregistered-province", lambda b: _origin(b, PROVINCE_UNREGISTERED), 422, None, "TBS-SEC-011",
         finding="1"),
    Kind("origin-the-bus-itself", lambda b: _origin(b, BUS), 422, None, "TBS-SEC-011", finding="1"),
    Kind("origin-own-city-not-relayed-by-sender", lambda b: _origin(b, b.id("GZ")), 422, None, "TBS-SEC-011",
         finding="1"),
    Kind("origin-sibling-county", lambda b: _origin(b, b.id("YX")), 422, None, "TBS-SEC-011", finding="1"),
    Kind("city-origin-direct-county", lambda b: _origin(b, b.id("YX"), who="GZ"), 422, None, "TBS-SEC-011",
         finding="1"),
    # a county renaming a province-owned catalog field: refused as itself, and claiming a province origin
    Kind("catalog-basic-field-renamed-by-county", lambda b: _catalog_renamed(b, 0), 200, None, "TBS-SYNC-009",
         ack="record", only=True),
    Kind("origin-bus-renames-a-catalog-field", lambda b: _catalog_renamed(b, 1, origin=BUS), 422, None,
         "TBS-SEC-011", finding="1"),
    Kind("origin-unregistered-province-renames-a-catalog-field",
         lambda b: _catalog_renamed(b, 2, origin=PROVINCE_UNREGISTERED), 422, None, "TBS-SEC-011", finding="1"),
    # -- dataset authorisation and replay --------------------------------------------------
    Kind("replayed-message-id-other-content", _replayed_other_content, 409, "MESSAGE_ID_CONFLICT", "TBS-SEC-005"),
    # -- record-level rejections (200, every record rejected) ------------------------------
    Kind("case-of-another-county", _foreign_case, 200, None, "TBS-SEC-003", ack="record"),
    Kind("record-over-size-limit", _big_record, 200, None, "TBS-SEC-009", ack="record"),
    Kind("record-fraction-number", lambda b: _records(b, lambda c: c.update(version=1.5)), 200, None,
         "TBS-ENV-005", ack="record"),
    Kind("record-region-code-malformed", lambda b: _records(b, lambda c: c.update(regionCode="44O1O3")), 200, None,
         "TBS-CODE-002", ack="record"),
    Kind("record-unknown-member", lambda b: _records(b, lambda c: c.update(__proto__={"admin": True})), 200, None,
         "TBS-ENV-002", ack="record"),
]


def _forged(bus: Bus) -> dict[str, Any]:
    from tongban.connectors.filedrop.signing import sign_envelope

    return sign_envelope(bus.envelope(), key_id="LW-K1", key=b"forged-key-0123456789abcdef01234567")


def _unknown_key(bus: Bus) -> dict[str, Any]:
    from tongban.connectors.filedrop.signing import sign_envelope

    return sign_envelope(bus.envelope(), key_id="LW-K9", key=b"forged-key-0123456789abcdef01234567")


def _upper_mid(bus: Bus) -> Request:
    env = bus.envelope(messageId=str(uuid.uuid4()).upper())
    return _push(bus, env)


def _rule_ids(ack: dict[str, Any], where: str) -> list[str]:
    if where == "envelope":
        return [i["ruleId"] for i in ack["envelopeReport"]["items"]]
    return [i["ruleId"] for r in ack["rejected"] for i in r["report"]["items"]]


@pytest.fixture(scope="module", autouse=True)
def _replay_memory(bus):
    bus._replayed = set()  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", KINDS, ids=[k.id for k in KINDS])
def test_rest_kind(bus, kind):
    before = bus.snapshot()
    body, headers, path = kind.build(bus)
    after_build = bus.snapshot()  # a kind may store a valid first envelope while it is built
    refused_before, ledger_before = bus.refused(bus.rest), bus.ledger_size()
    resp = httpx.request(kind.method, bus.rest.url + path, content=body, headers=headers, timeout=30)
    assert_no_plain_500(resp)
    assert resp.status_code == kind.status, resp.text[:300]
    assert resp.headers.get("x-tb-spec-version") == "TBS-1.0"
    answer = resp.json()
    refused_now = {c: n for c, n in bus.refused(bus.rest).items() if refused_before.get(c) != n}
    if kind.code is not None:
        assert answer["code"] == kind.code and answer["ruleId"] == kind.rule_id, answer
        # every error the app answers is counted under its code (431 is answered before the app)
        assert refused_now == ({} if kind.status == 431 else {kind.code: refused_before.get(kind.code, 0) + 1})
        assert bus.ledger_size() == ledger_before      # refused before the envelope: nothing to ledger
    else:
        assert answer["status"] == "REJECTED", answer
        assert kind.rule_id in _rule_ids(answer, kind.ack), answer
        if kind.only:
            assert _rule_ids(answer, kind.ack) == [kind.rule_id], answer
        assert resp.headers["x-tb-request-hash"] == answer["requestHash"]
        # an acknowledged refusal is ledgered like any envelope (counted), nothing else is refused
        assert refused_now == {}
        assert bus.ledger_size() == ledger_before + 1 and bus.last_ledger().verdict == "REJECTED"
    if kind.status not in (401, 431) and kind.rule_id != "TBS-REST-008":
        assert resp.headers.get("x-tb-request-hash"), "every answer to a POST carries X-TB-Request-Hash"
    assert bus.snapshot() == after_build, "nothing of a refused request may be stored"
    assert set(before["case"]) <= set(after_build["case"])
    bus.still_stores("rest")


def test_the_kinds_table_has_one_rule_per_kind():
    assert len({k.id for k in KINDS}) == len(KINDS)


def test_a_gzip_body_is_decoded_hashed_as_json_and_stored(bus):
    """Finding 9: TBS-REST-001 allows ``Content-Encoding: gzip``; such a push was read as
    MALFORMED_JSON. It is decoded, its request hash is that of the JSON text (TBS-ENV-031)."""
    from tongban.model.canonical import sha256_hex

    env = bus.envelope(bus.fresh_cases(2))
    before = bus.snapshot()
    resp = bus.rest_post(gzip.compress(canonical_bytes(env)), bus.headers(env, Content_Encoding="gzip"))
    assert resp.status_code == 200, resp.text[:300]
    ack = resp.json()
    assert ack["status"] == "ACCEPTED" and ack["counts"]["stored"] == 2, ack
    assert resp.headers["x-tb-request-hash"] == ack["requestHash"] == sha256_hex(canonical_bytes(env))
    assert set(bus.snapshot()["case"]) - set(before["case"]) == {canonical_bytes(c).decode() for c in env["records"]}


def test_a_case_of_another_county_among_own_cases_is_rejected_alone(bus):
    """TBS-SEC-003 is a record-level refusal: the county's own cases in the same envelope are
    stored, the acknowledgement is PARTIAL and names the foreign record by its index."""
    own = bus.fresh_cases(3)
    foreign = bus.fresh_cases(1, who="YX")[0]
    env = bus.envelope(own[:2] + [foreign] + own[2:])
    before = bus.snapshot()
    resp = bus.rest_post(canonical_bytes(env), bus.headers(env))
    assert resp.status_code == 200, resp.text[:300]
    ack = resp.json()
    assert ack["status"] == "PARTIAL"
    assert ack["counts"]["stored"] == 3 and ack["counts"]["rejected"] == 1
    assert [(r["index"], [i["ruleId"] for i in r["report"]["items"]]) for r in ack["rejected"]] == \
        [(2, ["TBS-SEC-003"])]
    assert bus.last_ledger().verdict == "PARTIAL"
    assert set(bus.snapshot()["case"]) - set(before["case"]) == {canonical_bytes(c).decode() for c in own}
    assert foreign["caseNo"] not in bus.stored_case_nos()
    bus.still_stores("rest")


# -- size (TBS-SEC-009): bodies over 16 MiB, declared or chunked, written by hand ----------------

def _raw_http(bus: Bus, head: bytes, body_chunks=()) -> bytes:
    """One HTTP/1.1 request written by hand (the declared length need not match what is sent)."""
    import socket

    with socket.create_connection((bus.rest.host, bus.rest.port), timeout=30) as conn:
        conn.sendall(head)
        try:
            for chunk in body_chunks:
                conn.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before reading everything: that is the point
        answer = b""
        while b"\r\n\r\n" not in answer:
            data = conn.recv(65536)
            if not data:
                break
            answer += data
        return answer


def _push_head(bus: Bus, extra: str) -> bytes:
    return (f"POST /tbs/v1/case HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN['LW']}\r\n"
            f"X-TB-Sender: {bus.id('LW')}\r\nX-TB-Spec-Version: TBS-1.0\r\n"
            f"Content-Type: application/json\r\nX-TB-Message-Id: {uuid.uuid4()}\r\n{extra}\r\n").encode()


def test_an_oversized_declared_body_is_refused_with_413_before_it_is_read(bus):
    from tongban.connectors.rest.server import MAX_BODY_BYTES

    refused = bus.refused(bus.rest).get("PAYLOAD_TOO_LARGE", 0)
    before = bus.snapshot()
    answer = _raw_http(bus, _push_head(bus, f"Content-Length: {MAX_BODY_BYTES + 1}\r\n"))
    assert answer.startswith(b"HTTP/1.1 413")
    assert bus.refused(bus.rest)["PAYLOAD_TOO_LARGE"] == refused + 1
    assert bus.snapshot() == before
    bus.still_stores("rest")


def test_an_oversized_chunked_body_is_cut_off_at_the_limit_with_413(bus):
    from tongban.connectors.rest.server import MAX_BODY_BYTES

    refused = bus.refused(bus.rest).get("PAYLOAD_TOO_LARGE", 0)
    before = bus.snapshot()
    chunk = b"x" * (1024 * 1024)
    framed = b"%x\r\n%s\r\n" % (len(chunk), chunk)
    answer = _raw_http(bus, _push_head(bus, "Transfer-Encoding: chunked\r\n"),
                       [framed] * (MAX_BODY_BYTES // len(chunk) + 2) + [b"0\r\n\r\n"])
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert bus.refused(bus.rest)["PAYLOAD_TOO_LARGE"] == refused + 1
    assert bus.snapshot() == before
    bus.still_stores("rest")
