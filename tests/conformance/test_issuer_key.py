"""The issuer key is created once even when several processes certify at the same moment (three
onboard_partner tasks on one Celery worker, a fresh TONGBAN_HOME): every one signs with the same
key, and none fails on a file another is still writing."""
from __future__ import annotations

import multiprocessing

from cryptography.hazmat.primitives import serialization


def _public_of_created_key(path, barrier, out):
    from tongban.conformance.signing import load_or_create_issuer_key

    barrier.wait()
    try:
        key = load_or_create_issuer_key(path)
        out.put(key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex())
    except Exception as e:  # noqa: BLE001 - reported to the test
        out.put(f"{type(e).__name__}: {e}")


def test_processes_creating_the_issuer_key_at_once_all_get_the_one_key_written(tmp_path):
    from tongban.conformance.signing import load_or_create_issuer_key

    ctx = multiprocessing.get_context("fork")
    for attempt in range(5):   # the race is a matter of timing: several rounds, each on a new path
        path = tmp_path / f"home{attempt}" / "conformance" / "issuer-key.pem"
        n = 8
        barrier, out = ctx.Barrier(n), ctx.Queue()
        procs = [ctx.Process(target=_public_of_created_key, args=(path, barrier, out)) for _ in range(n)]
        for p in procs:
            p.start()
        results = [out.get(timeout=60) for _ in procs]
        for p in procs:
            p.join(timeout=60)
        written = load_or_create_issuer_key(path).public_key().public_bytes(serialization.Encoding.Raw,
                                                                           serialization.PublicFormat.Raw).hex()
        assert results == [written] * n, results
        assert path.stat().st_mode & 0o777 == 0o600
        assert [p.name for p in path.parent.iterdir()] == ["issuer-key.pem"]   # no temporary file left
