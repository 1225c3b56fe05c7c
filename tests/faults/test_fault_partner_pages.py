"""The fault matrix, partner side: a partner that is down, or answers one page with a 500,
an HTML error page, a truncated body, garbage bytes, or a body cut off mid-transfer.

Each: the run fails at the connector hop with a one-line error (no traceback), nothing of the
bad page is stored, the cursor stays at the last good page; the rerun, once the partner
answers properly, completes — counted, 0 lost and 0 duplicated.
"""
from __future__ import annotations

import socket

import pytest

from fault_support import BUS, TOKEN, Feeds, assert_exactly_once, count
from tongban.connectors.rest.server import create_rest_app, token_table
from tongban.connectors.serving import ServerThread
from tongban.registry import load_registry
from tongban.sandbox.feed import cursor_for
from tongban.store.schema import CaseRecord, LedgerEntry
from tongban.sync.engine import SyncEngine, SyncFailed
from fault_support import write_registry


class BadSecondPage:
    """ASGI wrapper: the second changes request gets ``body`` instead of the real page."""

    def __init__(self, app, status: int, body: bytes, content_type: str, *, cut: bool = False) -> None:
        self.app, self.status, self.body, self.content_type, self.cut = app, status, body, content_type, cut
        self.changes = 0
        self.armed = True

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"].endswith("/changes"):
            self.changes += 1
            if self.changes == 2 and self.armed:
                length = len(self.body) * (3 if self.cut else 1)  # cut: promises more than it sends
                await send({"type": "http.response.start", "status": self.status,
                            "headers": [(b"content-type", self.content_type.encode()),
                                        (b"content-length", str(length).encode())]})
                await send({"type": "http.response.body", "body": self.body})
                return
        await self.app(scope, receive, send)


PAGE_FAULTS = {
    "http-500-plain-text": (500, b"Internal Server Error", "text/plain", False, True),
    "html-error-page": (200, b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html", False, False),
    "truncated-json": (200, b'{"records": [{"caseNo": "1144', "application/json", False, False),
    "garbage-bytes": (200, bytes(range(256)) * 4, "application/json", False, False),
    "cut-mid-transfer": (200, b'{"records": [', "application/json", True, True),
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("fault", sorted(PAGE_FAULTS))
def test_a_bad_page_fails_the_run_cleanly_and_the_rerun_completes(store, fault_tls, tmp_path, monkeypatch,
                                                                  fault_county, fault):
    from fault_support import TOKEN_ENV

    status, body, ctype, cut, retriable = PAGE_FAULTS[fault]
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    cases = fault_county.records("case")
    app = BadSecondPage(create_rest_app(Feeds(fault_county.system_id, {"case": cases}),
                                        authenticate=token_table({TOKEN: BUS})), status, body, ctype, cut=cut)
    with ServerThread(app, tls=fault_tls) as srv:
        registry = load_registry(write_registry(tmp_path / "partners.yaml", fault_county.system_id, srv.url,
                                                fault_tls.ca_file))
        engine = SyncEngine(store, registry, trigger="test")
        with pytest.raises(SyncFailed) as info:
            engine.sync(fault_county.system_id, "case")
        failed = info.value.report
        assert failed.error_hop == "connector" and failed.status == "FAILED"
        assert "\n" not in failed.error and "Traceback" not in failed.error
        assert failed.retriable is retriable, failed.error
        assert store.cursor(fault_county.system_id, "case") == cursor_for(4)
        assert count(store, CaseRecord) == len({c["caseNo"] for c in cases[:4]}) and count(store, LedgerEntry) == 1
        app.armed = False
        again = engine.sync(fault_county.system_id, "case")
    assert again.status == "SUCCESS" and again.counts.duplicate == 0
    assert_exactly_once(store, "case", cases)


@pytest.mark.timeout(60)
def test_partner_down_is_a_retriable_connector_failure(store, fault_tls, tmp_path, monkeypatch, fault_county):
    from fault_support import TOKEN_ENV

    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    registry = load_registry(write_registry(tmp_path / "partners.yaml", fault_county.system_id,
                                            f"https://127.0.0.1:{port}", fault_tls.ca_file))
    with pytest.raises(SyncFailed) as info:
        SyncEngine(store, registry, trigger="test").sync(fault_county.system_id, "case")
    report = info.value.report
    assert report.error_hop == "connector" and report.retriable and "\n" not in report.error
    assert count(store, CaseRecord) == 0 and store.cursor(fault_county.system_id, "case") is None
