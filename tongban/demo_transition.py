"""``tongban demo --transition``: a province in transition from TBS-1.0 to TBS-1.1.

The sandbox's systems support TBS-1.0 only or both versions (``tongban.sandbox.transition``);
the bus supports both. The demo shows, on real servers on loopback and a real SQLite store under
``.tongban/transition/``: the version negotiated with each partner (TBS-ENV-034) and what was
stored in which version, the province's catalog published down to each consumer in a version it
supports (Annex E), the impact report of TBS-1.1 on what was synced, the delta certification
plan (TBS-CONF-010) per role of each partner, and one delta certification run of a county that
lists both versions (its TBS-1.0 session, then the TBS-1.1 delta session on that certificate).
Admission is off here: the sandbox is not recorded as certified.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Callable

from tongban.model.datasets import DATASETS


def run_transition(home: Path, *, seed: int, cities: int, counties: int, say: Callable[[str], None]) -> int:
    from tongban.conformance.delta import delta_plan
    from tongban.registry import load_registry
    from tongban.sandbox.runtime import Sandbox
    from tongban.specimpact import impact
    from tongban.store import Store
    from tongban.sync.engine import SyncEngine
    from tongban.sync.publish import publish_catalog

    folder = home / "transition"
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "store.db"
    db.unlink(missing_ok=True)   # every run starts from an empty store
    store = Store(f"sqlite:///{db}")
    store.upgrade()
    with Sandbox(folder / "sandbox", seed=seed, cities=cities, counties=counties, admission="off",
                 transition=True) as sandbox:
        registry = load_registry(sandbox.registry_file)
        engine = SyncEngine(store, registry, trigger="demo")
        say(f"bus {registry.bus.system_id} supports {', '.join(registry.bus.spec_versions)}")
        say("\n1. negotiation (TBS-ENV-034) and what was stored, by received version")
        stored: dict[str, Counter] = {}
        for dataset in DATASETS:
            for p in registry.partners:
                if dataset in p.datasets and registry.pulls(p, dataset):
                    report = engine.sync(p.id, dataset)
                    stored.setdefault(p.id, Counter())[engine.negotiated(p).spec_version] += report.counts.stored
        for p in registry.partners:
            if p.id in stored:
                read_in = engine.negotiated(p).spec_version
                say(f"  {p.id:<28} supports {'+'.join(p.versions):<16} read in {read_in}: "
                    f"{sum(stored[p.id].values())} records stored")
        say("\n2. the basic catalog published down, each consumer in a version it supports (Annex E)")
        for p in registry.partners:
            if "CATALOG_CONSUMER" in [getattr(r, "value", r) for r in p.roles] and ":province:" not in p.id:
                sent = publish_catalog(store, registry, p)
                version = "TBS-1.1" if "TBS-1.1" in p.versions else "TBS-1.0"
                say(f"  {p.id:<28} {version}: offered {sent.offered}, accepted {sent.accepted}, "
                    f"rejected {sent.rejected}, withheld {len(sent.withheld_keys)}"
                    + ("  (crossRegionScope, accessibility dropped by E.1)" if version == "TBS-1.0" else ""))
        say("\n3. impact of TBS-1.1 on what was synced (tongban spec impact tbs-1.1)")
        for partner in impact(store, "TBS-1.1"):
            worst = sorted(((c.rejected, c.difference) for c in partner.counts.values() if c.rejected), reverse=True)
            if worst:
                say(f"  {partner.partner:<28} {partner.rejected} of {partner.records} records rejected: "
                    + "; ".join(f"{d} {n}" for n, d in worst[:3]))
        say("\n4. delta certification plan per role (TBS-CONF-010)")
        shown = set()
        for p in registry.partners:
            binding = getattr(p.transport, "value", p.transport).upper()
            for role in (getattr(r, "value", r) for r in p.roles):
                if (role, binding) in shown:
                    continue
                shown.add((role, binding))
                plan = delta_plan(role, binding)
                say(f"  {role} over {binding}: rerun {', '.join(plan.rerun) or '-'}; new {', '.join(plan.new)}; "
                    f"{len(plan.carry_over)} carried over")
        say("\n5. one delta certification run (conformance run --spec TBS-1.1 --delta-from, TBS-CONF-010)")
        delta_certification(registry, folder / "conformance", say)
    store.dispose()
    return 0


def delta_certification(registry, folder: Path, say: Callable[[str], None]) -> int:
    """Certify the first county that lists both versions over REST: its TBS-1.0 session first,
    then the TBS-1.1 delta session on that certificate; prints what ran, what carried over and
    the verdicts. Returns the delta session's exit code."""
    import json
    from dataclasses import replace

    from tongban.conformance.certify import certify
    from tongban.conformance.onboard import partner_session_config
    from tongban.conformance.signing import load_or_create_issuer_key

    partner = next((p for p in registry.partners if ":county:" in p.id and "TBS-1.1" in p.versions
                    and getattr(p.transport, "value", p.transport) == "rest"), None)
    if partner is None:
        say("  no county lists both versions over REST here: nothing to certify")
        return 0
    roles = [r for r in (getattr(r, "value", r) for r in partner.roles) if r != "CATALOG_CONSUMER"]
    # TBS-EVAL-008 cannot be observed automatically (TBS-CONF-009): attested, as `tongban demo` does
    attest = {"ER-04": {"result": "PASS", "statement": "sandbox systems emit only citizen evaluations (TBS-EVAL-008)",
                        "evidence": "tongban/sandbox/evaluations.py creates evaluations only from citizen moods"}}
    config = partner_session_config(registry, partner.id, roles, attestations=attest)
    key = load_or_create_issuer_key(folder / "issuer-key.pem")
    base = certify(config, folder / "tbs-1.0", signing_key=key)
    verdicts = {v.value for v in base.run.role_verdicts().values()}
    say(f"  {partner.id}: TBS-1.0 session, {len(base.run.runs)} tests, "
        f"{', '.join(sorted(verdicts))} → certificate {base.certificate['certificateId']}")
    delta = certify(replace(config, spec_version="TBS-1.1"), folder / "tbs-1.1", signing_key=key,
                    delta_from=folder / "tbs-1.0" / "certificate.json")
    cert = delta.certificate
    ran = sorted({t["testId"] for t in cert["tests"] if not t.get("carriedOver")})
    carried = sorted({t["testId"] for t in cert["tests"] if t.get("carriedOver")})
    say(f"  TBS-1.1 delta session basedOn {cert.get('basedOn')}: run {len(ran)} ({', '.join(ran)}); "
        f"carried over {len(carried)} ({', '.join(carried)})")
    for role, verdict in delta.run.role_verdicts().items():
        mode = delta.report.get("delta", {}).get("roles", {}).get(role, {}).get("mode", "?")
        say(f"    {role:<20} {verdict.value} ({mode})")
    failing = [r for r in delta.run.runs if r.result.result.value in ("FAIL", "SKIP", "ERROR")]
    for r in failing[:5]:
        say(f"    {r.test_id} {r.result.result.value}: {r.result.reason[:160]}")
    say(f"  written: {folder / 'tbs-1.1'} (certificate.json specVersion {json.dumps(cert['specVersion'])}, "
        "report.json, certificate.html)")
    return delta.exit_code
