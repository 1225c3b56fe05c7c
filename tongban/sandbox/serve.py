"""Child entry point of ``tongban sandbox up``: run one :class:`Sandbox` until SIGTERM.

``python -m tongban.sandbox.serve --folder F [--seed S] [--cities N] [--counties M]
[--transports rest,soap,filedrop] [--insecure-http]`` starts every system of the sandbox
(HTTPS with the sandbox's local CA, TBS-REST-001), then writes ``ready.json`` in the folder:
the moment that file exists every server answers, because :meth:`Sandbox.start` returns only
once each uvicorn server has started. SIGTERM or SIGINT stop every server cleanly and remove
``ready.json``. The parent (``tongban sandbox up``) owns the pid file.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Sequence

from tongban.sandbox.runtime import Sandbox

READY_FILE = "ready.json"


def ready_document(sandbox: Sandbox) -> dict[str, Any]:
    """What ``tongban sandbox up``/``status`` show: one row per running system, and the files."""
    return {
        "pid": os.getpid(),
        "seed": sandbox.seed, "cities": sandbox.cities, "counties": sandbox.counties,
        "transports": list(sandbox.transports), "insecureHttp": sandbox.insecure_http,
        "hierarchy": sandbox.hierarchy, "admission": sandbox.admission,
        "registry": str(sandbox.registry_file), "secrets": str(sandbox.folder / "secrets.env"),
        "caFile": str(sandbox.tls.ca_file) if sandbox.tls else None,
        "mqttBroker": sandbox.broker_url,
        "systems": [{"id": r.system.system_id, "level": r.system.level, "transport": r.transport,
                     "endpoint": r.endpoint} for r in sandbox.running],
    }


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)  # the parent never reads a half-written ready file


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tongban.sandbox.serve")
    parser.add_argument("--folder", required=True, type=Path)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cities", type=int, default=2)
    parser.add_argument("--counties", type=int, default=2)
    parser.add_argument("--transports", default="rest")
    parser.add_argument("--insecure-http", action="store_true")
    parser.add_argument("--hierarchy", choices=("direct", "relay", "mixed"), default="direct")
    parser.add_argument("--admission", choices=("enforce", "off"), default="enforce")
    parser.add_argument("--broker", default=None, help="MQTT broker of the mqtt systems (default: an embedded one)")
    parser.add_argument("--scale", choices=("demo", "province"), default="demo")
    parser.add_argument("--systems", type=int, default=None, help="province scale: only the first N systems")
    parser.add_argument("--catalog", type=int, default=2_000)
    parser.add_argument("--cases", type=int, default=1_000)
    parser.add_argument("--events-per-case", type=int, default=5)
    parser.add_argument("--results", type=int, default=500)
    parser.add_argument("--evaluations", type=int, default=500)
    args = parser.parse_args(argv)

    stop = threading.Event()
    # Handlers before start(): a SIGTERM during start-up still ends in a clean stop().
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())

    folder = args.folder.resolve()
    ready = folder / READY_FILE
    ready.unlink(missing_ok=True)
    transports = tuple(t for t in args.transports.split(",") if t)
    if args.scale == "province":
        from tongban.sandbox.scale import Volumes
        from tongban.sandbox.scale_serve import ProvinceSandbox

        try:
            volumes = Volumes(catalog=args.catalog, cases=args.cases, events_per_case=args.events_per_case,
                              results=args.results, evaluations=args.evaluations)
        except ValueError as exc:
            print(f"sandbox failed to start: {exc}", file=sys.stderr, flush=True)
            return 1
        sandbox: Any = ProvinceSandbox(folder, seed=args.seed, volumes=volumes, systems_limit=args.systems,
                                       transports=transports, insecure_http=args.insecure_http,
                                       admission=args.admission)
    else:
        sandbox = Sandbox(folder, seed=args.seed, cities=args.cities, counties=args.counties,
                          transports=transports, insecure_http=args.insecure_http, hierarchy=args.hierarchy,
                          admission=args.admission, broker_url=args.broker)
    try:
        sandbox.start()
    except Exception as exc:  # noqa: BLE001 - reported to the parent through the log and exit code
        print(f"sandbox failed to start: {exc}", file=sys.stderr, flush=True)
        return 1
    try:
        document = sandbox.ready_document() if args.scale == "province" else ready_document(sandbox)
        _write_atomic(ready, json.dumps(document, ensure_ascii=False, indent=2))
        print(f"sandbox ready: {len(sandbox.running)} systems, registry {sandbox.registry_file}", flush=True)
        while not stop.wait(1.0):
            pass
    finally:
        ready.unlink(missing_ok=True)
        sandbox.stop()
        print("sandbox stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
