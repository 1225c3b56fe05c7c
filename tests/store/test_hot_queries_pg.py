"""The province cycle's queries use indexes on a large PostgreSQL store (no sequential scan per
record or per page).

A store on PostgreSQL is filled with filler rows (hundreds of thousands of case events, their
cases, catalog versions, results, evaluations, ledger entries and record lists, sync runs, held and
quarantined records) and analysed; then a province-scale sandbox of three systems (REST, SOAP,
file drop) is synced through it: a full cycle, a change round of 1 %, an incremental cycle and a
no-change cycle. Every statement the cycles sent, except inserts, is planned again with
``EXPLAIN`` and its parameters: no plan may read one of the large tables by ``Seq Scan``.

Skipped without ``TONGBAN_TEST_PG_URL`` (PostgreSQL store tests run in CI, see .ci/run).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import event, text

from store_support import migrated_store
from tongban.cli import main
from tongban.registry import load_registry
from tongban.sync.cycle import run_cycle

N = 200_000   # filler case events; a fifth as many cases and catalog versions, half as many held records …
LARGE = {"catalog_item_versions", "cases", "case_events", "results", "evaluations", "ledger_entries",
         "ledger_record_lists", "sync_runs", "held_records", "quarantine", "sync_cursors", "seen_messages"}
FILL = [
    f"""INSERT INTO cases (case_no, version, impl_code, region_code, case_type, channel, submitted_at, source,
                          content, sha256)
        SELECT 'F' || lpad(g::text, 43, '0'), 1, 'F' || lpad(mod(g, 4000)::text, 30, '0'), '440000', '1', '1',
               '2026-01-01T00:00:00+08:00', 'TB:filler:000000:F', '{{}}', md5(g::text) || md5(g::text)
        FROM generate_series(1, {N // 5}) g""",
    f"""INSERT INTO case_events (case_no, seq, type, occurred_at, source, content, sha256)
        SELECT 'F' || lpad((g / 5)::text, 43, '0'), mod(g, 5) + 1, 'ACCEPT', '2026-01-01T00:00:00+08:00',
               'TB:filler:000000:F', '{{}}', md5(g::text) || md5(g::text)
        FROM generate_series(5, {N + 4}) g""",
    f"""INSERT INTO catalog_item_versions (impl_code, version, item_code, region_code, name, status, online_depth,
                                          updated_at, is_current, source, content, sha256)
        SELECT 'F' || lpad((g / 2)::text, 30, '0'), mod(g, 2) + 1, '440120012002', '440000', 'filler', 'ACTIVE', 4,
               '2026-01-01T00:00:00+08:00', mod(g, 2) = 1, 'TB:filler:000000:F', '{{}}', md5(g::text) || md5(g::text)
        FROM generate_series(2, {N // 5 + 1}) g""",
    f"""INSERT INTO results (case_no, cert_no, result_type, issued_at, source, content, sha256)
        SELECT 'F' || lpad(g::text, 43, '0'), 'C' || g, 'LICENSE', '2026-01-01T00:00:00+08:00',
               'TB:filler:000000:F', '{{}}', md5(g::text) || md5(g::text)
        FROM generate_series(1, {N // 10}) g""",
    f"""INSERT INTO evaluations (case_no, assess_no, satisfaction, channel, assessed_at, source, content, sha256)
        SELECT 'F' || lpad(g::text, 43, '0'), 1, 5, 'PC', '2026-01-01T00:00:00+08:00', 'TB:filler:000000:F',
               '{{}}', md5(g::text) || md5(g::text)
        FROM generate_series(1, {N // 10}) g""",
    f"""INSERT INTO ledger_entries (recorded_at, direction, sender, receiver, dataset, binding, envelope_sha256,
                                   record_count, verdict, counts, prev_hash, entry_hash)
        SELECT '2026-01-01T00:00:00+00:00', 'IN', 'TB:filler:000000:F', 'TB:filler:000000:F', 'case-event',
               'REST', md5(g::text), 200, 'ACCEPTED', '{{}}', 'p' || md5(g::text), 'e' || md5(g::text)
        FROM generate_series(1, {N // 50}) g""",
    # one record list per entry, 200 records each (the canonical text of [dataset, key, sha256] triples)
    f"""INSERT INTO ledger_record_lists (entry_seq, records)
        SELECT g / 200 + 1, '[' || string_agg('["case-event","[\\"F' || g || '\\",1]","' || md5(g::text)
                                              || md5(g::text) || '"]', ',' ORDER BY g) || ']'
        FROM generate_series(1, {N}) g GROUP BY g / 200 + 1""",
    f"""INSERT INTO sync_runs (partner_id, dataset, trigger, started_at, finished_at, status, pages, pulled, stored,
                              duplicate, stale, held, rejected)
        SELECT 'TB:filler:' || mod(g, 150) || ':F', 'case-event', 'cli', now(), now(), 'SUCCESS', 1, 0, 0, 0, 0, 0, 0
        FROM generate_series(1, {N // 10}) g""",
    f"""INSERT INTO held_records (partner_id, dataset, record_key, waits_for, rule_id, location, content, sha256,
                                 writer, held_at, expires_at)
        SELECT 'TB:filler:' || mod(g, 150) || ':F', 'case-event', '["H' || g || '",1]', '["H' || g || '"]',
               'TBS-SYNC-007', '/records/0', '{{}}', md5(g::text), 'TB:filler:000000:F', now(),
               now() + interval '1 day'
        FROM generate_series(1, {N // 2}) g""",
    f"""INSERT INTO quarantine (partner_id, dataset, raw, report, rule_ids, received_at, status)
        SELECT 'TB:filler:' || mod(g, 150) || ':F', 'case-event', '{{}}', '{{}}', 'TBS-ENV-006', now(), 'OPEN'
        FROM generate_series(1, {N // 20}) g""",
    f"""INSERT INTO seen_messages (message_id, sender, request_hash, ack, received_at)
        SELECT 'm' || g, 'TB:filler:000000:F', md5(g::text), '{{}}', now() FROM generate_series(1, {N // 20}) g""",
    f"""INSERT INTO sync_cursors (partner_id, dataset, cursor, records_seen, updated_at)
        SELECT 'TB:filler:' || g || ':F', 'case-event', 'c', 0, now() FROM generate_series(1, {N // 20}) g""",
]


def run(*args: str) -> dict:
    result = CliRunner().invoke(main, [*args, "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def seq_scans(plan: dict) -> list[str]:
    """Relations of ``LARGE`` read by a Seq Scan anywhere in the plan tree."""
    found = []
    if plan.get("Node Type") == "Seq Scan" and plan.get("Relation Name") in LARGE:
        found.append(plan["Relation Name"])
    for child in plan.get("Plans", []):
        found += seq_scans(child)
    return found


def explain(conn, statement: str, parameters) -> dict:
    return conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters).scalar()[0]["Plan"]


@pytest.fixture
def big_store(tmp_path):
    with migrated_store("postgresql", tmp_path) as store:
        with store.engine.begin() as conn:
            for sql in FILL:
                conn.exec_driver_sql(sql)
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
        yield store


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    monkeypatch.setenv("TONGBAN_HOME", str(tmp_path / "home"))
    folder = tmp_path / "sandbox"
    ready = run("sandbox", "up", "--scale", "province", "--folder", str(folder), "--systems", "3", "--seed", "5",
                "--admission", "off", "--catalog", "600", "--cases", "600", "--events-per-case", "5",
                "--results", "300", "--evaluations", "300")
    for line in Path(ready["secrets"]).read_text().splitlines():
        name, _, value = line.partition("=")
        monkeypatch.setenv(name, value)
    yield folder, ready
    CliRunner().invoke(main, ["sandbox", "down", "--folder", str(folder)])


def test_the_checker_sees_a_sequential_scan(big_store):
    with big_store.engine.connect() as conn:
        plan = explain(conn, "SELECT seq FROM case_events WHERE content = %(t)s", {"t": "x"})
    assert seq_scans(plan) == ["case_events"]


def test_province_cycle_queries_use_indexes(big_store, sandbox):
    folder, ready = sandbox
    registry = load_registry(ready["registry"])
    sent: dict[str, object] = {}   # statement -> the parameters of its first execution

    def capture(conn, cursor, statement, parameters, context, executemany):
        if not executemany and statement.lstrip().split(None, 1)[0].upper() in ("SELECT", "UPDATE", "DELETE"):
            sent.setdefault(statement, parameters)

    event.listen(big_store.engine, "before_cursor_execute", capture)
    try:
        full = run_cycle(big_store, registry, workers=2).totals()
        assert full["stored"] == full["pulled"] == 600 + 600 + 3_000 + 300 + 300 and not full["failed"], full
        run("sandbox", "change", "--folder", str(folder))
        incremental = run_cycle(big_store, registry, workers=2).totals()
        assert incremental["stored"] > 0 and not incremental["failed"], incremental
        quiet = run_cycle(big_store, registry, workers=2).totals()
        assert quiet["stored"] == 0 and not quiet["failed"], quiet
    finally:
        event.remove(big_store.engine, "before_cursor_execute", capture)

    touched = {t for s in sent for t in LARGE if f" {t}" in s}
    # what the cycle reads per page and per run: the records by key, the chain head, cursors, runs, holds
    assert {"cases", "case_events", "catalog_item_versions", "results", "evaluations", "ledger_entries",
            "sync_runs", "held_records", "sync_cursors"} <= touched, touched
    scans = {}
    with big_store.engine.connect() as conn:
        for statement, parameters in sent.items():
            if statement.lstrip().upper().startswith("SELECT PG_"):
                continue   # advisory locks: no table
            found = seq_scans(explain(conn, statement, parameters))
            if found:
                scans[statement] = found
    assert not scans, "\n\n".join(f"{found}: {s[:300]}" for s, found in scans.items())
