"""Packaging: the tongban.* namespace mapping works from a built wheel, every package is
listed, and nothing outside the Airflow layer imports Airflow."""
from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PACKAGES = PYPROJECT["tool"]["setuptools"]["packages"]
PACKAGE_DIR = PYPROJECT["tool"]["setuptools"]["package-dir"]


def _folder(package: str) -> Path:
    parts = package.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in PACKAGE_DIR:
            return ROOT / PACKAGE_DIR[".".join(parts[:n])] / Path(*parts[n:]) if parts[n:] else \
                ROOT / PACKAGE_DIR[".".join(parts[:n])]
    raise AssertionError(f"{package} is not under a mapped folder")


def test_every_package_folder_is_listed():
    found = set()
    for name, folder in PACKAGE_DIR.items():
        base = ROOT / folder
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base)
            if "__pycache__" in rel.parts:
                continue
            found.add(".".join([name, *rel.parts]))
    assert found - set(PACKAGES) == set(), "add these to [tool.setuptools] packages in pyproject.toml"
    # data-only folders (templates, the rule catalogue) are listed too, so that setuptools does not
    # warn that an importable folder is missing from `packages`; they hold data and no module
    data_only = {p for p in set(PACKAGES) - found
                 if _folder(p).is_dir() and not any(_folder(p).glob("*.py")) and any(_folder(p).iterdir())}
    assert set(PACKAGES) - found == data_only, "listed packages without an __init__.py"


NO_AIRFLOW = r"""
import importlib, pkgutil, sys
import tongban
skip = ("tongban.airflow_ext", "tongban.store.migrations")
for pkg in sys.argv[1:]:
    if pkg.startswith(skip):
        continue
    mod = importlib.import_module(pkg)
    for info in pkgutil.iter_modules(mod.__path__, pkg + "."):
        if not info.name.startswith(skip):
            importlib.import_module(info.name)
bad = sorted(m for m in sys.modules if m == "airflow" or m.startswith("airflow."))
assert not bad, f"imported Airflow: {bad[:5]}"
print("ok", len([m for m in sys.modules if m.startswith("tongban")]))
"""


def test_core_imports_no_airflow():
    proc = subprocess.run([sys.executable, "-c", NO_AIRFLOW, *PACKAGES], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("ok ") and int(proc.stdout.split()[1]) > 20


def test_wheel_carries_every_package_and_spec_file_and_imports_from_it(tmp_path):
    dist = tmp_path / "dist"
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(dist), str(ROOT)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # the project's own packaging gives setuptools nothing to warn about (license form, packages)
    assert "Warning" not in proc.stderr, proc.stderr[:3000]
    wheel = next(dist.glob("tongban-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "tongban/templates/partners.example.yaml" in names and "tongban/monitoring/templates/report.html" in names
    assert "tongban/connectors/base.py" in names and "tongban/validators/report.py" in names
    assert "tongban/store/migrations/versions/0001_initial_store_schema.py" in names
    assert "tongban/store/migrations/script.py.mako" in names
    spec_files = {p.relative_to(ROOT / "interface_specs").as_posix() for p in (ROOT / "interface_specs").rglob("*")
                  if p.is_file() and p.suffix in (".json", ".yaml", ".wsdl", ".xsd", ".md")}
    missing = {f for f in spec_files if f"tongban/specs/{f}" not in names}
    assert not missing, f"spec files missing from the wheel: {sorted(missing)[:5]}"
    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    site = next(p for p in sys.path if p.endswith("site-packages"))
    # -S: no site processing, so the editable install's import hook is NOT active; only the
    # unpacked wheel and the third-party site-packages are importable.
    code = ("import sys; sys.path[:0] = [sys.argv[1], sys.argv[2]];"
            "import tongban.connectors.base, tongban.validators.report, tongban.specs, tongban.store;"
            "p = tongban.connectors.base.__file__; assert p.startswith(sys.argv[1]), p;"
            "print(tongban.specs.spec_dir('TBS-1.0'))")
    proc = subprocess.run([sys.executable, "-S", "-c", code, str(unpacked), site], capture_output=True, text=True,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().startswith(str(unpacked))
