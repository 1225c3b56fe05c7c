"""The dashboard in a real browser: ``tongban report`` writes a self-contained page, headless
Chromium renders it (screenshot) and its DOM shows the numbers computed independently from
the sandbox data; the live page of ``tongban serve`` shows the same numbers."""
from __future__ import annotations

import re
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from monitoring_oracle import expected_metrics

from tongban.cli import main
from tongban.connectors.serving import ServerThread
from tongban.monitoring.app import create_app

CHROMIUM = shutil.which("chromium")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (Debian package "
                                                             "`chromium`: apt-get install -y chromium)")


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           f"--user-data-dir={tmp_path / 'chromium-profile'}", *args],
                          capture_output=True, text=True, timeout=120, check=True)


def _kpis(dom: str) -> dict[str, str]:
    return dict(re.findall(r'id="(kpi-[a-z0-9-]+)">([^<]*)<', dom))


def _pct(v: float) -> str:
    return f"{v * 100:.1f}%"


@pytest.fixture(scope="module")
def at(world):
    return datetime.fromisoformat(world.data.now)


@pytest.fixture(scope="module")
def expected(world, at):
    e = expected_metrics(world.data, at)[("province", "440000")]
    return {
        "kpi-items-active": str(e["items_active"]),
        "kpi-items-online-rate": _pct(e["items_online_rate"]),
        "kpi-items-fully-online-rate": _pct(e["items_fully_online_rate"]),
        "kpi-cases": f"{e['cases']:,}",
        "kpi-fully-online-case-rate": _pct(e["fully_online_case_rate"]),
        "kpi-overdue-cases": str(e["overdue_cases"]),
        "kpi-satisfaction-avg": f"{e['satisfaction_avg']:.2f}",
        "kpi-bad-review-rate": _pct(e["bad_review_rate"]),
        "kpi-conclusion-p50": f"{e['conclusion_hours_p50']:.1f} h",
        "kpi-conclusion-p90": f"{e['conclusion_hours_p90']:.1f}",
        "kpi-two-skins": str(len(world.data.planted_two_skins)),
        "kpi-many-names": str(len(world.data.planted_many_names)),
        "kpi-near-duplicates": str(len(world.data.planted_near_duplicates)),
    }


@pytest.fixture(scope="module")
def report_dir(world, at, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    result = CliRunner().invoke(main, ["report", "--partners", str(world.registry_file), "--out", str(out),
                                       "--at", at.isoformat()],
                                env={"TONGBAN_DATABASE_URL": world.store.url}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out


def test_report_writes_a_self_contained_page_json_and_openmetrics(report_dir, world):
    assert sorted(p.name for p in report_dir.iterdir()) == ["index.html", "metrics.txt", "report.json"]
    html = (report_dir / "index.html").read_text(encoding="utf-8")
    assert "<script" not in html and "<link" not in html and " src=" not in html   # nothing fetched
    assert html.count("<svg") == 4      # volume, rates, online depth, satisfaction
    assert 'http-equiv="refresh"' not in html    # a file is not reloaded; the live page is
    assert (report_dir / "metrics.txt").read_text().endswith("# EOF\n")
    for planted in world.data.planted_two_skins:
        assert planted["implCode"] in html


@needs_chromium
def test_chromium_renders_the_report_with_the_expected_numbers(report_dir, expected, tmp_path, world):
    url = (report_dir / "index.html").as_uri()
    shot = tmp_path / "dashboard.png"
    _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", url)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000   # a real rendering, not a blank page
    dom = _chromium(tmp_path, "--dump-dom", url).stdout
    assert _kpis(dom) == expected
    assert world.down_partner in dom and "FAILED" in dom
    for planted in world.data.planted_near_duplicates:
        assert all(name in dom for name in planted["names"])
    # what 事项上网率 is computed over: the distribution of onlineDepth of the active items
    from collections import Counter

    from monitoring_oracle import latest

    depths = Counter(i["onlineDepth"] for i in latest(world.data.province_view("catalog"), "implCode").values()
                     if i["status"] == "ACTIVE")
    basis = re.search(r'id="basis-items-online">([^<]*)<', dom).group(1)
    assert basis.startswith(f"{sum(n for d, n in depths.items() if d >= 2)} of {sum(depths.values())} at depth")
    assert all(f"{roman} {depths.get(d, 0)}" in basis for d, roman in ((1, "Ⅰ"), (2, "Ⅱ"), (3, "Ⅲ"), (4, "Ⅳ")))
    assert 'id="chart-online-depth"' in dom
    # sync freshness and data age are two columns; two skins says what it compared
    assert "since last success" in dom and "data age" in dom
    assert re.search(r'id="basis-two-skins">of \d+ items held by two or more sources<', dom)


@needs_chromium
def test_chromium_shows_the_same_numbers_live(world, at, expected, tmp_path):
    server = ServerThread(create_app(world.store, lambda: world.registry, at=at, refresh_seconds=15)).start()
    try:
        dom = _chromium(tmp_path, "--dump-dom", f"{server.url}/").stdout
        shot = tmp_path / "live.png"
        _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,1600", f"{server.url}/")
    finally:
        server.stop()
    assert _kpis(dom) == expected
    assert '<meta http-equiv="refresh" content="15">' in dom and "reloads every 15 s" in dom   # the live page reloads
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
