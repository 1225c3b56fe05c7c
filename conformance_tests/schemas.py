"""Shape checks of the suite's non-record messages (meta, error body, ack, report) against the
published JSON Schemas of the spec folder (``tongban.specs.spec_dir``)."""
from __future__ import annotations

import json
from functools import cache
from typing import Any

from tongban.specs import spec_dir


@cache
def _validators(spec: str) -> dict[str, Any]:
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    docs = {p.name.removesuffix(".schema.json"): json.loads(p.read_text(encoding="utf-8"))
            for p in sorted((spec_dir(spec) / "schemas").glob("*.schema.json"))}
    registry = Registry().with_resources(
        (doc["$id"], Resource.from_contents(doc, default_specification=DRAFT202012)) for doc in docs.values())
    return {name: Draft202012Validator(doc, registry=registry) for name, doc in docs.items()}


def schema_errors(name: str, instance: Any, spec: str = "TBS-1.0", limit: int = 5) -> list[str]:
    """Up to ``limit`` messages of ``instance`` against ``{name}.schema.json`` (empty when valid)."""
    validator = _validators(spec)[name]
    out = []
    for error in validator.iter_errors(instance):
        where = "/" + "/".join(str(p) for p in error.absolute_path)
        out.append(f"{where}: {error.message[:160]}")
        if len(out) >= limit:
            break
    return out
