"""``tongban sftp``: the SFTP drop server started from the partner registry (TBS-SEC-001 for
FILE: one account per sender and drop root). A county drops a batch over SFTP with the key its
registry entry names, ``tongban sync`` collects it from the drop root, another sender's key is
refused, and a key added to the registry is accepted without a restart."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import func, select

from tongban.cli import main
from tongban.connectors.filedrop import FileDropWriter
from tongban.connectors.filedrop.sftp import SftpDropFiles, generate_key, public_key_text
from tongban.registry import RegistryError, load_registry
from tongban.sandbox.generate import generate_province

BUS = "TB:province:440000:TONGBAN"
HMAC = b"sftp-cli-test-hmac-key-0123456789abcdef"


@pytest.fixture(scope="module")
def county():
    data = generate_province(3, cities=1, counties_per_city=1)
    return next(s for s in data.systems.values() if s.level == "county")


def _registry(path: Path, host_key_file: Path, county, root: Path, keys: list[str], other_keys: list[str]) -> None:
    other_id = f"TB:county:{county.system_id.split(':')[2]}:OTHERSYS"
    path.write_text(yaml.safe_dump({
        "bus": {"system_id": BUS, "admission": "off", "sftp_host_key_file": str(host_key_file)},
        "partners": [
            {"id": county.system_id, "transport": "filedrop", "endpoint": str(root), "roles": ["CATALOG_PROVIDER"],
             "credentials": {"hmac_key_env": "SFTP_CLI_HMAC", "key_id": "K1"}, "sftp_authorized_keys": keys},
            {"id": other_id, "transport": "filedrop", "endpoint": str(root.parent / "OTHERSYS"),
             "roles": ["CATALOG_PROVIDER"], "sftp_authorized_keys": other_keys},
        ]}, allow_unicode=True), encoding="utf-8")


def _serve(registry: Path) -> tuple[subprocess.Popen, str, str]:
    proc = subprocess.Popen([sys.executable, "-m", "tongban.cli", "sftp", "serve", "--partners", str(registry),
                             "--port", "0", "--reload-interval", "0.2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"})
    first = proc.stdout.readline()
    assert first.startswith("SFTP drop server sftp://"), (first, proc.stderr.read() if proc.poll() is not None else "")
    url, host_key = first.split()[3].rstrip(";"), first.split("host key ", 1)[1].strip()
    return proc, url, host_key


def _stop(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=20)
    return out


def test_keygen_writes_a_private_key_once(tmp_path):
    runner = CliRunner()
    done = runner.invoke(main, ["sftp", "keygen", str(tmp_path / "host.key")])
    assert done.exit_code == 0, done.output
    key = (tmp_path / "host.key").read_text()
    assert done.output.strip() == public_key_text(key) and done.output.startswith("ssh-ed25519 ")
    assert (tmp_path / "host.key").stat().st_mode & 0o777 == 0o600
    again = runner.invoke(main, ["sftp", "keygen", str(tmp_path / "host.key")])
    assert again.exit_code != 0 and "never overwritten" in _said(again)
    assert (tmp_path / "host.key").read_text() == key


def test_a_county_drops_over_the_served_sftp_and_tongban_sync_collects_it(tmp_path, county, monkeypatch):
    monkeypatch.setenv("TONGBAN_DATABASE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    monkeypatch.setenv("SFTP_CLI_HMAC", HMAC.decode())
    host_key_file = tmp_path / "host.key"
    assert CliRunner().invoke(main, ["sftp", "keygen", str(host_key_file)]).exit_code == 0
    key, successor, other_key = generate_key(), generate_key(), generate_key()
    code = county.system_id.rsplit(":", 1)[1]
    root = tmp_path / "drop" / code
    registry = tmp_path / "partners.yaml"
    _registry(registry, host_key_file, county, root, [public_key_text(key)], [public_key_text(other_key)])
    proc, url, host_key = _serve(registry)
    try:
        assert host_key == public_key_text(host_key_file.read_text())
        assert (root / "inbox" / "catalog").is_dir()     # the server provisioned the drop root (TBS-FILE-001)
        port = url.rsplit(":", 1)[1]
        records = county.records("catalog")[:5]
        with SftpDropFiles(f"sftp://{code}@127.0.0.1:{port}", private_key=key, host_public_key=host_key,
                           timeout=10) as files:
            FileDropWriter(files, sender=county.system_id, receiver=BUS, key_id="K1", key=HMAC) \
                .write_batch("catalog", records)
        assert len(list((root / "inbox" / "catalog").glob("*.manifest.json"))) == 1

        # another sender's key does not open this account, nor does this key open the other's
        with pytest.raises(OSError):
            with SftpDropFiles(f"sftp://{code}@127.0.0.1:{port}", private_key=other_key,
                               host_public_key=host_key, timeout=10) as files:
                files.names("inbox/catalog")
        with pytest.raises(OSError):
            with SftpDropFiles(f"sftp://OTHERSYS@127.0.0.1:{port}", private_key=key,
                               host_public_key=host_key, timeout=10) as files:
                files.names("inbox/catalog")
        # …nor does a server with another host key get the sender's batch
        with pytest.raises(OSError):
            with SftpDropFiles(f"sftp://{code}@127.0.0.1:{port}", private_key=key,
                               host_public_key=public_key_text(generate_key()), timeout=10) as files:
                files.names("inbox/catalog")

        # rotation: the successor key is added to the registry and admitted without a restart
        _registry(registry, host_key_file, county, root, [public_key_text(key), public_key_text(successor)],
                  [public_key_text(other_key)])
        deadline, listed = time.monotonic() + 15, None
        while time.monotonic() < deadline and listed is None:
            try:
                with SftpDropFiles(f"sftp://{code}@127.0.0.1:{port}", private_key=successor,
                                   host_public_key=host_key, timeout=10) as files:
                    listed = files.names("inbox/catalog")
            except OSError:
                time.sleep(0.3)
        assert listed is not None and any(n.endswith(".manifest.json") for n in listed)
    finally:
        out = _stop(proc)
    assert proc.returncode == 0 and "registry reloaded: 2 account(s)" in out and "stopped" in out

    synced = CliRunner().invoke(main, ["sync", "--partners", str(registry), "--partner", county.system_id,
                                       "--dataset", "catalog"])
    assert synced.exit_code == 0, synced.output
    from tongban.store import Store
    from tongban.store.schema import CatalogItemVersion

    store = Store()
    with store.reading() as s:
        stored = s.execute(select(func.count()).select_from(CatalogItemVersion)).scalar_one()
    store.dispose()
    assert stored == len(records)
    assert list((root / "archive" / "catalog").glob("*.ack.json"))   # the acknowledgement for the sender


def _said(result) -> str:
    return " ".join(result.output.split())   # the console wraps long messages


def test_serve_explains_what_is_missing(tmp_path, county):
    runner = CliRunner()
    root = tmp_path / "drop" / "X"
    registry = tmp_path / "partners.yaml"
    _registry(registry, tmp_path / "absent.key", county, root, [public_key_text(generate_key())], [])
    done = runner.invoke(main, ["sftp", "serve", "--partners", str(registry), "--port", "0"])
    assert done.exit_code == 2 and "host key file not found" in _said(done) and "tongban sftp keygen" in _said(done)
    (tmp_path / "bad.key").write_text("not a key")
    done = runner.invoke(main, ["sftp", "serve", "--partners", str(registry), "--host-key-file",
                                str(tmp_path / "bad.key")])
    assert done.exit_code == 2 and "not an unencrypted OpenSSH private key" in _said(done)
    (tmp_path / "good.key").write_text(generate_key())
    _registry(registry, tmp_path / "good.key", county, root, [], [])
    done = runner.invoke(main, ["sftp", "serve", "--partners", str(registry)])
    assert done.exit_code == 2 and "no filedrop partner has sftp_authorized_keys" in _said(done)


def _problems(text: str) -> str:
    with pytest.raises(RegistryError) as caught:
        from tongban.registry import parse_registry

        parse_registry(text)
    return str(caught.value)


def test_the_registry_checks_sftp_keys():
    key = public_key_text(generate_key())
    head = f"bus: {{system_id: '{BUS}'}}\npartners:\n"
    entry = ("  - id: 'TB:county:440103:LWZWFW'\n    transport: {transport}\n    endpoint: {endpoint}\n"
             "    roles: [CASE_REPORTER]\n    sftp_authorized_keys: [{keys}]\n")
    private = generate_key().replace("\n", "\\n")
    problem = _problems(head + entry.format(transport="filedrop", endpoint="drop", keys=f'"{private}"'))
    assert "partners.yaml:7: partners[0].sftp_authorized_keys" in problem and "PRIVATE key" in problem
    assert private.split("\\n")[1][:20] not in problem          # the secret is not echoed
    problem = _problems(head + entry.format(transport="rest", endpoint="https://x.example", keys=f'"{key}"'))
    assert "sftp_authorized_keys belong to a filedrop partner" in problem
    problem = _problems(head + entry.format(transport="filedrop", endpoint="d1", keys=f'"{key}"')
                        + entry.replace("440103", "440104").format(transport="filedrop", endpoint="d2",
                                                                   keys=f'"{key}"'))
    assert "partners[1].sftp_authorized_keys" in problem and "one account per sender" in problem
    three = ", ".join(f'"{public_key_text(generate_key())}"' for _ in range(3))
    assert "at most two keys" in _problems(head + entry.format(transport="filedrop", endpoint="d", keys=three))


def test_the_sandbox_registry_serves_its_sftp_county(tmp_path):
    """A sandbox county on the sftp transport is registered with its public key and the host
    key file, so `tongban sftp serve --partners <sandbox>/partners.yaml` serves its account."""
    from tongban.sandbox.runtime import Sandbox
    from tongban.sftp_cli import read_host_key, sftp_accounts

    with Sandbox(tmp_path / "sandbox", seed=5, cities=1, counties=1, transports=("sftp",),
                 insecure_http=True) as sandbox:
        registry = load_registry(sandbox.registry_file)
        county = next(r for r in sandbox.running if r.sftp_url)
        entry = registry.get(county.system.system_id)
        private = (tmp_path / "sandbox" / "drop" / f".{entry.system_code}.ssh.key").read_text()
        assert entry.sftp_authorized_keys == (public_key_text(private),)
        assert read_host_key(registry.bus.sftp_host_key_file)
        [account] = [a for a in sftp_accounts(registry, provision=False) if a.username == entry.system_code]
        assert Path(account.drop_root) == Path(entry.endpoint)
