"""Finding 7: ``tongban quarantine show`` prints the record with identity numbers masked
(TBS-SEC-012); ``--unmasked`` shows them and that disclosure is written to the ledger."""
from __future__ import annotations

import copy
import json
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from fault_support import BUS
from tongban.cli import main
from tongban.store import Store
from tongban.store.schema import LedgerEntry
from tongban.sync import ledger
from tongban.sync.ingest import Ingestor
from tongban.validators import ValidationContext

ANNEX_B = Path(__file__).resolve().parents[1] / "data" / "annex_b"
COUNTY = "TB:county:440103:LWZWFW"


def test_quarantine_show_masks_identity_numbers_unless_asked_and_logs_the_disclosure(tmp_path, monkeypatch):
    db = f"sqlite:///{tmp_path / 'q.db'}"
    monkeypatch.setenv("TONGBAN_DATABASE_URL", db)
    store = Store(db)
    store.upgrade()
    case = copy.deepcopy(json.loads((ANNEX_B / "B.2.json").read_text(encoding="utf-8"))["records"][0])
    id_no = "110105194912310021"  # a resident identity number with a wrong check character
    case["applicant"]["idNo"] = id_no
    with store.transaction() as s:
        result = Ingestor(s, partner_id=COUNTY, writer=COUNTY, hold_timeout_s=60,
                          context=ValidationContext()).ingest("case", [case])
        ledger.append(s, direction="IN", sender=COUNTY, receiver=BUS, dataset="case", binding="REST",
                      envelope_sha256="0" * 64, record_count=1, verdict="REJECTED", counts=result.counts.as_dict())
    assert result.counts.rejected == 1
    runner = CliRunner()
    masked = runner.invoke(main, ["quarantine", "show", "1"])
    assert masked.exit_code == 0, masked.output
    assert id_no not in masked.output and "110105********0021" in masked.output
    assert "masked" in masked.output
    with store.reading() as s:
        assert s.execute(select(LedgerEntry).where(LedgerEntry.direction == "ACCESS")).first() is None

    full = runner.invoke(main, ["quarantine", "show", "1", "--unmasked"])
    assert full.exit_code == 0 and id_no in full.output
    with store.reading() as s:
        [access] = s.execute(select(LedgerEntry).where(LedgerEntry.direction == "ACCESS")).scalars().all()
    assert access.verdict == "DISCLOSED" and json.loads(access.counts) == {"quarantineEntry": 1}
    assert ledger.verify(store).ok
