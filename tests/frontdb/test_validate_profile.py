"""``tongban validate --profile``: a front database (URL or SQL dump) reported per row, with
the receipts the bus would write, and nothing written into it."""
from __future__ import annotations

import json

import sqlalchemy as sa
from click.testing import CliRunner

from frontdb_helpers import DATA, LW, Front
from tongban.cli import main


def test_dump_reports_each_row_and_exits_1_on_a_rejection():
    result = CliRunner().invoke(main, ["validate", "--profile", "NATIONAL-EXCHANGE", "--dialect", "HCP-NATIONAL",
                                       "--format", "json", str(DATA / "8.2-batch1.sql")])
    assert result.exit_code == 1, result.output
    rows = {r["rowGuid"]: r for r in map(json.loads, result.output.splitlines())}
    assert rows["0f1e2d3c-4b5a-4697-8877-665544332211"]["outcome"] == "STORED"
    bad = rows["1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"]
    assert (bad["outcome"], bad["ruleIds"]) == ("REJECTED", "TBS-CODE-017")
    assert bad["findings"][0]["source"] == {"column": "contact_code", "rowGuid": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
                                            "table": "up_pro_accept"}


def test_database_url_is_only_read(tmp_path):
    from tongban.store import Store

    store = Store(f"sqlite:///{tmp_path / 'unused.db'}")
    url = f"sqlite:///{tmp_path / 'front.db'}"
    f = Front(url, store, LW, "NATIONAL-EXCHANGE", ["CATALOG_PROVIDER"])
    f.run_file("8.1-item.sql")
    result = CliRunner().invoke(main, ["validate", "--profile", "NATIONAL-EXCHANGE", "--role", "CATALOG_PROVIDER",
                                       url])
    assert result.exit_code == 0, result.output
    assert result.output.count("STORED") == 6
    with f.db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM tb_receipt")).scalar_one() == 0


def test_evaluation_reporter_without_dialect_is_a_configuration_error():
    result = CliRunner().invoke(main, ["validate", "--profile", "NATIONAL-EXCHANGE", str(DATA / "8.3-evaluations.sql")])
    assert result.exit_code == 2
    assert "TBS-LP-160" in result.output
