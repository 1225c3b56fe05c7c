"""``tongban status`` shows the real numbers of the synced sandbox: stored records, pulled
totals, newest source timestamp and lag, the unreachable partner's failure with its hop, and
the relay conflicts in quarantine."""
from __future__ import annotations

import json
from datetime import datetime

import pytest
from click.testing import CliRunner

from tongban.cli import main
from tongban.model.datasets import DATASETS

TIMESTAMP = {"catalog": "updatedAt", "case": "submittedAt", "case-event": "occurredAt", "result": "issuedAt",
             "evaluation": "assessedAt"}


def _invoke(world, *args):
    result = CliRunner().invoke(main, ["status", "--partners", str(world.registry_file), *args],
                                env={"TONGBAN_DATABASE_URL": world.store.url}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def status(world):
    return json.loads(_invoke(world, "--format", "json"))


def _keys(dataset, records):
    key = {"catalog": ("implCode",), "case": ("caseNo",), "case-event": ("caseNo", "seq"),
           "result": ("caseNo", "certNo"), "evaluation": ("caseNo", "assessNo")}[dataset]
    return {tuple(r[k] for k in key) for r in records}


def test_every_registered_partner_and_dataset_is_listed(status, world):
    assert [p["partnerId"] for p in status["partners"]] == [p.id for p in world.registry.partners]
    for p, partner in zip(status["partners"], world.registry.partners):
        assert [f["dataset"] for f in p["feeds"]] == [d for d in DATASETS if d in partner.datasets]
        assert p["certification"] == {}  # admission is off: no role of anyone was certified into this store


def test_feeds_show_stored_records_pulled_totals_newest_timestamp_and_lag(status, world):
    now = datetime.fromisoformat(status["generatedAt"])
    checked = 0
    for p in status["partners"]:
        if p["partnerId"] == world.down_partner:
            continue
        system = world.data.system(p["partnerId"])
        for f in p["feeds"]:
            ds = f["dataset"]
            own = system.records(ds)
            assert f["storedRecords"] == len(_keys(ds, own)), (p["partnerId"], ds)
            pulled = world.reports[(p["partnerId"], ds)].pulled
            seen = list(own)
            if ds == "catalog" and p["partnerId"] in world.relay_reports:
                pulled += world.relay_reports[p["partnerId"]].pulled
                seen = world.relayed_catalog[p["partnerId"]]
            assert f["totals"]["pulled"] == pulled
            assert f["totals"]["stored"] == len(own)   # every version once; the relay re-read stored nothing
            newest = max(datetime.fromisoformat(r[TIMESTAMP[ds]]) for r in seen)
            assert datetime.fromisoformat(f["newestSourceAt"]) == newest
            assert f["lagSeconds"] == int((now - newest).total_seconds()) > 0
            assert f["lastRunStatus"] == "SUCCESS"
            started = world.reports[(p["partnerId"], ds)].started_at
            assert started <= datetime.fromisoformat(f["lastSuccessAt"]) <= now
            assert f["failures24h"] == [] and f["held"] == 0
            checked += 1
    assert checked == sum(len(s.provides) for s in world.data.systems.values())


def test_the_unreachable_partner_shows_its_failure_and_hop(status, world):
    down = next(p for p in status["partners"] if p["partnerId"] == world.down_partner)
    case, event = down["feeds"]
    assert down["failures24h"] == 1 and case["lastRunStatus"] == "FAILED" and case["lastSuccessAt"] is None
    (failure,) = case["failures24h"]
    assert failure["errorHop"] == "connector" == world.failure.report.error_hop
    assert failure["errorCode"] == "UNREACHABLE"  # a closed port: connection refused, no retries
    assert event["runs"] == 0 and event["lastRunAt"] is None and event["newestSourceAt"] is None
    assert sum(p["failures24h"] for p in status["partners"]) == 1


def test_relay_conflicts_are_counted_in_quarantine(status, world):
    planted: dict[str, int] = {}
    for p in world.data.planted_two_skins:
        planted[p["systemIds"][1]] = planted.get(p["systemIds"][1], 0) + 1
    shown = {(p["partnerId"], f["dataset"]): f["quarantineOpen"] for p in status["partners"] for f in p["feeds"]}
    assert {k: v for k, v in shown.items() if v} == {(city, "catalog"): n for city, n in planted.items()}
    assert sum(p["quarantineOpen"] for p in status["partners"]) == len(world.data.planted_two_skins)


def test_text_output_names_partners_failures_and_quarantine(world):
    text = _invoke(world)
    assert world.down_partner in text and "@connector" in text
    assert (f"partners: {len(world.registry.partners)} · failed runs in the last 24 h: 1 · "
            f"records in quarantine: {len(world.data.planted_two_skins)}") in text


@pytest.fixture
def console_width():
    """The CLI console at a given width, as on a terminal of that many columns."""
    from tongban.console import out

    saved = out._width
    yield lambda width: setattr(out, "width", width)
    out._width = saved


def _feed_rows(text: str, partner_id: str) -> dict[str, list[str]]:
    """The narrow layout's feed rows of one partner: dataset → its cells."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == partner_id)
    rows: dict[str, list[str]] = {}
    for line in lines[start + 1:]:
        if not line.strip():
            break
        cells = line.split()
        if cells[0] in DATASETS:
            rows[cells[0]] = cells
    return rows


def test_status_is_readable_at_80_columns(world, status, console_width):
    """Finding: below ~130 columns the table was cropped (partner ids, dates and counts cut).
    At 80 columns each partner is a block: its id whole on its own line, its certification
    wrapped between roles, then one row per feed with every number."""
    console_width(80)
    text = _invoke(world)
    lines = text.splitlines()
    assert max(len(line) for line in lines[1:]) <= 80      # (the title line names the store URL, unwrapped)
    assert "…" not in text
    for p in status["partners"]:
        assert p["partnerId"] in [line.strip() for line in lines]   # the identifier whole, on its own line
        rows = _feed_rows(text, p["partnerId"])
        assert list(rows) == [f["dataset"] for f in p["feeds"]]
        for f in p["feeds"]:
            cells = rows[f["dataset"]]
            # quarantine, held and stored are the row's last three numbers, as in --format json
            assert cells[-3:] == [str(f["quarantineOpen"]), str(f["held"]), str(f["storedRecords"])]
            if f["failures24h"]:
                codes = {f"{x['errorCode']}@{x['errorHop']}" for x in f["failures24h"]}
                assert codes <= set(" ".join(cells).replace(",", " ").split())   # error codes whole
    down = _feed_rows(text, world.down_partner)
    assert "never" in down["case"]


def test_status_keeps_one_table_where_it_fits(world, status, console_width):
    console_width(220)
    text = _invoke(world)
    assert text.splitlines()[1].startswith("┏") and "…" not in text
    for p in status["partners"]:
        assert any(line.startswith(f"│ {p['partnerId']} ") for line in text.splitlines())
