"""The README's onboarding walk-through, run as written: every ``$ `` line of its console
blocks goes through one bash session on a fresh store (sandbox up, a refused sync, a failing
certification, the fix, certify and record, verify, sync, status, report, sandbox down).
The data the sync stored is compared with what the sandbox generator serves for that county,
and re-pointing the registry at another transport withdraws the admission (TBS-CONF-008)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- walkthrough:begin -->", "<!-- walkthrough:end -->"
MARK = "::tongban-walkthrough-exit"


def walkthrough() -> tuple[list[str], dict[str, str]]:
    """The commands of the walk-through, and the files it tells the reader to write."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index(BEGIN):text.index(END)]
    commands = [line[2:] for block in re.findall(r"```console\n(.*?)```", section, re.S)
                for line in block.splitlines() if line.startswith("$ ")]
    files = dict(re.findall(r"<!-- file: (\S+) -->\n```\w*\n(.*?)```", section, re.S))
    return commands, files


def test_the_walkthrough_is_in_the_readme():
    commands, files = walkthrough()
    assert any(c.startswith("tongban conformance run") and "--record" in c for c in commands)
    assert "attestation.json" in files


def test_the_onboarding_walkthrough_runs_as_written(tmp_path):
    commands, files = walkthrough()
    for name, content in files.items():
        (tmp_path / name).write_text(content, encoding="utf-8")
    script = "\n".join(f"{c}\necho '{MARK}' $? {i}" for i, c in enumerate(commands))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONGBAN_")}
    env.update(PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '')}", COLUMNS="140", NO_COLOR="1")
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    output = done.stdout + done.stderr
    try:
        exits, chunks, start = {}, {}, 0
        lines = done.stdout.splitlines()
        for n, line in enumerate(lines):
            if line.startswith(MARK):
                _, code, index = line.split()
                exits[int(index)] = int(code)
                chunks[int(index)] = "\n".join(lines[start:n])
                start = n + 1
        assert len(exits) == len(commands), output[-4000:]

        def step(prefix: str, nth: int = 0) -> int:
            return [i for i, c in enumerate(commands) if c.startswith(prefix)][nth]

        refused = step("tongban sync")
        assert exits[refused] == 1
        assert "--record" in done.stderr and "TBS-CONF-008" in done.stderr
        failing, passing = step("tongban conformance run"), step("tongban conformance run", 1)
        assert exits[failing] == 1 and "ER-04" in chunks[failing] and "NOT_CONFORMANT" in chunks[failing]
        assert exits[passing] == 0 and "recorded in the store" in chunks[passing]
        assert exits[step("tongban conformance verify")] == 0
        synced = step("tongban sync", 1)
        assert exits[synced] == 0, output[-3000:]
        assert all(code == 0 for i, code in exits.items() if i not in (refused, failing)), exits
    finally:
        subprocess.run(["bash", "-c", "tongban sandbox down"], cwd=tmp_path, env={**env, "TONGBAN_HOME":
                       str(tmp_path / ".tongban")}, capture_output=True, timeout=60)

    # the data arrived: exactly the county's cases as the sandbox generator serves them
    from tongban.sandbox.generate import generate_province
    from tongban.store import Store
    from tongban.store.schema import CaseRecord

    home = tmp_path / ".tongban"
    registry = yaml.safe_load((home / "sandbox" / "partners.yaml").read_text(encoding="utf-8"))
    county = next(p["id"] for p in registry["partners"] if p["id"].startswith("TB:county:"))
    data = generate_province(7, cities=1, counties_per_city=1)
    served = {r["caseNo"] for r in data.systems[county].records("case")}
    store = Store(f"sqlite:///{home / 'tongban.db'}")
    try:
        from sqlalchemy import select

        with store.reading() as s:
            stored = set(s.scalars(select(CaseRecord.case_no).where(CaseRecord.source == county)))
    finally:
        store.dispose()
    assert served and stored == served
    cert = json.loads((home / "onboarding" / "LWZWFW" / "certificate.json").read_text(encoding="utf-8"))
    assert cert["systemId"] == county and cert["bindings"] == ["REST"] and cert["signature"]["alg"] == "Ed25519"
    assert county in (home / "report" / "index.html").read_text(encoding="utf-8")


def test_a_certificate_for_rest_does_not_admit_the_same_system_over_soap(tmp_path, monkeypatch):
    """The walk-through's admission, one binding later: the county certified over REST is
    refused when the registry syncs it over SOAP, and `partners list` shows it uncertified there."""
    from click.testing import CliRunner

    from tongban.cli import main
    from tongban.conformance.onboard import certify_partner, record_partner_certificate
    from tongban.sandbox.runtime import Sandbox

    monkeypatch.setenv("TONGBAN_DATABASE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    with Sandbox(tmp_path / "sandbox", seed=7, cities=1, counties=1) as sb:
        monkeypatch.setenv("TONGBAN_PARTNERS", str(sb.registry_file))
        county = next(r for r in sb.running if r.system.level == "county")
        result = certify_partner(county.system.system_id, ["CASE_REPORTER"], out_root=str(tmp_path / "certs"))
        assert result["verdicts"] == {"CASE_REPORTER": "CONFORMANT"}
        record_partner_certificate(result)
        runner = CliRunner()
        listed = json.loads(runner.invoke(main, ["partners", "list", "--format", "json"]).stdout)
        assert next(p for p in listed if p["id"] == county.system.system_id)["certification"] == \
            {"CASE_REPORTER": "CONFORMANT"}
        registry = yaml.safe_load(sb.registry_file.read_text(encoding="utf-8"))
        for p in registry["partners"]:
            if p["id"] == county.system.system_id:
                p["transport"] = "soap"
        soap = tmp_path / "soap.yaml"
        soap.write_text(yaml.safe_dump(registry, allow_unicode=True), encoding="utf-8")
        refused = runner.invoke(main, ["sync", "--partners", str(soap), "--partner", county.system.system_id,
                                       "--dataset", "case"])
        assert refused.exit_code == 1 and "over soap" in refused.output and "TBS-CONF-008" in refused.output
        listed = json.loads(runner.invoke(main, ["partners", "list", "--partners", str(soap), "--format",
                                                 "json"]).stdout)
        assert next(p for p in listed if p["id"] == county.system.system_id)["certification"] == {}
        accepted = runner.invoke(main, ["sync", "--partner", county.system.system_id, "--dataset", "case"])
        assert accepted.exit_code == 0, accepted.output
