"""A rejected record is quarantined as received (byte for byte), not as the bus would write it."""
from __future__ import annotations

import copy
import json
from pathlib import Path

from sqlalchemy import select

from tongban.connectors.base import ReceivedBody
from tongban.store.schema import QuarantineEntry
from tongban.sync.ingest import Ingestor
from tongban.validators import ValidationContext, parse_json_strict
from tongban.validators.parsing import array_member_texts

ANNEX_B = Path(__file__).resolve().parents[1] / "data" / "annex_b"
COUNTY = "TB:county:440103:LWZWFW"


def test_array_member_texts_are_slices_of_the_text():
    body = '{"nextCursor" : "c-1", "records":[ {"b": 1.50, "a":"\\u4e2d"} ,\n {"c":[1,{"d":"]"}]}], "hasMore":false}'
    assert array_member_texts(body.encode(), "records") == ['{"b": 1.50, "a":"\\u4e2d"}', '{"c":[1,{"d":"]"}]}']
    assert array_member_texts(b'{"records": []}', "records") == []
    assert array_member_texts(b"<records/>", "records") is None
    assert array_member_texts(b'{"records": {}}', "records") is None


def test_an_invalid_record_keeps_its_bytes_as_received(store):
    good, second = json.loads((ANNEX_B / "B.2.json").read_text(encoding="utf-8"))["records"]
    bad = copy.deepcopy(second)
    bad["applicant"] = {**bad["applicant"], "kind": "ORG", "idType": "USCC", "idNo": "91440103MA5TB0001X"}
    # written the way a partner might: indented, non-ASCII escaped, members in its own order
    bad_text = json.dumps(dict(reversed(list(bad.items()))), ensure_ascii=True, indent=1)
    body = ('{"records": [' + json.dumps(good, ensure_ascii=False) + ",\n  " + bad_text
            + '], "nextCursor": "c-2", "hasMore": false}').encode("utf-8")
    page = parse_json_strict(body)
    with store.transaction() as s:
        result = Ingestor(s, partner_id=COUNTY, writer=COUNTY, hold_timeout_s=60,
                          context=ValidationContext()).ingest("case", page["records"],
                                                            received=ReceivedBody(body))
    assert [r.outcome.value for r in result.results] == ["STORED", "REJECTED"]
    with store.reading() as s:
        [entry] = s.execute(select(QuarantineEntry)).scalars().all()
    assert entry.raw.encode("utf-8") == bad_text.encode("utf-8")
    assert entry.raw.encode("utf-8") in body
