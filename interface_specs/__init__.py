"""Machine-readable companions of the interface standard, one folder per version.

``interface_specs/tbs-1.0/`` holds TBS-1.0's JSON Schemas, code tables, OpenAPI, WSDL/XSD
and AsyncAPI documents. Code finds them through :func:`spec_dir`, so a new version is a
new folder and nothing else.
"""
from __future__ import annotations

from pathlib import Path

SPECS_ROOT = Path(__file__).resolve().parent


def folder_name(spec_version: str) -> str:
    """``"TBS-1.0"`` → ``"tbs-1.0"``."""
    return spec_version.strip().lower()


def spec_dir(spec_version: str = "TBS-1.0") -> Path:
    path = SPECS_ROOT / folder_name(spec_version)
    if not path.is_dir():
        known = ", ".join(sorted(available_versions())) or "none"
        raise LookupError(f"unknown spec version {spec_version!r}: known versions are {known}")
    return path


def available_versions() -> list[str]:
    # companion standards (tbs-lp-*) are data of their own, not TBS spec versions
    return sorted(p.name.upper() for p in SPECS_ROOT.iterdir()
                  if p.is_dir() and p.name.startswith("tbs-") and not p.name.startswith("tbs-lp-"))
