"""The file-drop binding over SFTP (TBS-SEC-001, TBS-FILE-001): one account per sender,
confined to its drop root, keys from configuration; the pipeline above is unchanged."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from tongban.connectors.filedrop import FileDropConnector, FileDropReceiver, FileDropWriter
from tongban.connectors.filedrop.sftp import SftpAccount, SftpDropFiles, SftpDropServer, generate_key, public_key_text

from filedrop_support import KEY, KEY_ID, RECEIVER, SENDER, RecordingService, case_event

OTHER = "TB:county:440104:YXZWFW"


@dataclass
class Gateway:
    server: SftpDropServer
    root: Path          # LWZWFW's drop root
    other_root: Path    # YXZWFW's drop root
    outside: Path       # a folder of the receiver that belongs to nobody
    key: str            # LWZWFW's private key

    def files(self, user: str = "LWZWFW", key: str | None = None, host_key: str | None = None) -> SftpDropFiles:
        return SftpDropFiles(f"sftp://{user}@127.0.0.1:{self.server.port}", private_key=key or self.key,
                             host_public_key=host_key or self.server.host_public_key, timeout=10)


@pytest.fixture
def gateway(tmp_path):
    roots = {}
    for code, system in (("LWZWFW", SENDER), ("YXZWFW", OTHER)):
        roots[code] = tmp_path / "drop" / code
        FileDropReceiver(roots[code], RecordingService(), own_id=RECEIVER, owner=system).provision()
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "token.txt").write_text("not for senders")
    (roots["YXZWFW"] / "archive" / "case" / "b1.ack.json").write_text('{"other": true}')
    key, other_key = generate_key(), generate_key()
    server = SftpDropServer([SftpAccount("LWZWFW", roots["LWZWFW"], (public_key_text(key),)),
                             SftpAccount("YXZWFW", roots["YXZWFW"], (public_key_text(other_key),))],
                            host_key=generate_key()).start()
    yield Gateway(server, roots["LWZWFW"], roots["YXZWFW"], outside, key)
    server.stop()


def test_a_batch_dropped_over_sftp_is_received_and_its_ack_read_back(gateway):
    service = RecordingService()
    receiver = FileDropReceiver(gateway.root, service, own_id=RECEIVER, owner=SENDER)
    stop = threading.Event()

    def scan() -> None:  # the receiver scans the local drop root, as for any drop
        while not stop.is_set():
            receiver.scan_once()
            stop.wait(0.1)

    scanner = threading.Thread(target=scan, daemon=True)
    scanner.start()
    with gateway.files() as files:
        writer = FileDropWriter(files, sender=SENDER, receiver=RECEIVER, key_id=KEY_ID, key=KEY)
        connector = FileDropConnector(writer, ack_timeout=10, poll_interval=0.1)
        env = writer.build_envelope("case-event", [case_event(1), case_event(2)])
        try:
            result = connector.push(env)
        finally:
            stop.set()
            scanner.join(5)
    assert result.ack["status"] == "ACCEPTED" and result.extras["requestHashMatches"]
    [call] = service.calls
    assert call["binding"] == "FILE" and call["envelope"]["records"] == [case_event(1), case_event(2)]
    assert (gateway.root / "archive" / "case-event" / f"{env['batch']['batchId']}.ack.json").exists()


def _denied(files: SftpDropFiles, action) -> None:
    with pytest.raises(OSError):
        files.run(action)


def test_a_sender_cannot_climb_out_of_its_drop_root(gateway):
    with gateway.files() as files:
        # relative and absolute paths land inside the drop root, never outside it
        assert files.read("../YXZWFW/archive/case/b1.ack.json") is None
        assert files.read("/../../YXZWFW/archive/case/b1.ack.json") is None
        assert files.read(str(gateway.outside / "token.txt")) is None
        assert files.names("/") == ["archive", "inbox", "rejected"]
        assert files.names("/..") == ["archive", "inbox", "rejected"]
        # writes through ".." resolve inside the root, where only inbox/{dataset}/ is writable
        with pytest.raises(OSError):
            files.write_atomic("inbox/case/../../../YXZWFW/inbox/case/x.jsonl", b"{}\n")
        with pytest.raises(OSError):
            files.write_atomic(str(gateway.other_root / "inbox" / "case" / "x.jsonl"), b"{}\n")
    assert list((gateway.other_root / "inbox" / "case").iterdir()) == []
    assert not list(gateway.root.rglob("x.jsonl*"))


def test_symbolic_links_on_the_server_lead_nowhere(gateway):
    # links placed on the server side (by an operator's mistake, or another process)
    (gateway.root / "archive" / "case" / "leak.ack.json").symlink_to(gateway.outside / "token.txt")
    (gateway.root / "archive" / "case" / "peer").symlink_to(gateway.other_root / "archive" / "case")
    (gateway.root / "inbox" / "case-event" / "out").symlink_to(gateway.outside)
    (gateway.root / "inbox" / "result").rmdir()
    (gateway.root / "inbox" / "result").symlink_to(gateway.other_root / "inbox" / "result")
    with gateway.files() as files:
        _denied(files, lambda sftp: sftp.open("/archive/case/leak.ack.json", "rb"))
        _denied(files, lambda sftp: sftp.open("/archive/case/peer/b1.ack.json", "rb"))
        _denied(files, lambda sftp: sftp.listdir("/archive/case/peer"))
        with pytest.raises(OSError):
            files.write_atomic("inbox/case-event/out/planted.jsonl", b"{}\n")
        with pytest.raises(OSError):
            files.write_atomic("inbox/result/planted.jsonl", b"{}\n")
    assert sorted(p.name for p in gateway.outside.iterdir()) == ["token.txt"]
    assert list((gateway.other_root / "inbox" / "result").iterdir()) == []


def test_a_sender_writes_only_files_in_its_inbox_and_makes_no_links(gateway):
    with gateway.files() as files:
        files.write_atomic("inbox/case/b1.jsonl", b"{}\n")        # allowed: inbox/{dataset}/
        with pytest.raises(OSError):
            files.write_atomic("archive/case/b1.ack.json", b"{}")  # only the receiver writes acks
        with pytest.raises(OSError):
            files.write_atomic("inbox/b1.jsonl", b"{}\n")          # not in a dataset folder
        _denied(files, lambda sftp: sftp.symlink(str(gateway.outside), "/inbox/case/l"))
        _denied(files, lambda sftp: sftp.symlink("/archive", "/inbox/case/l2"))
        _denied(files, lambda sftp: sftp.mkdir("/inbox/case/sub"))
        _denied(files, lambda sftp: sftp.rename("/inbox/case/b1.jsonl", "/archive/case/b1.jsonl"))
        _denied(files, lambda sftp: sftp.remove("/archive/case/x"))
    assert (gateway.root / "inbox" / "case" / "b1.jsonl").read_bytes() == b"{}\n"
    assert not list((gateway.root / "archive" / "case").iterdir())
    assert not any(p.is_symlink() for p in gateway.root.rglob("*"))


def test_only_configured_keys_log_in_and_the_server_key_is_checked(gateway):
    with pytest.raises(OSError):          # YXZWFW's account with LWZWFW's key
        with gateway.files(user="YXZWFW") as files:
            files.names("/")
    with pytest.raises(OSError):          # an unknown account
        with gateway.files(user="NOBODY") as files:
            files.names("/")
    with pytest.raises(OSError):          # a key nobody configured
        with gateway.files(key=generate_key()) as files:
            files.names("/")
    with pytest.raises(OSError):          # a server presenting another host key
        with gateway.files(host_key=public_key_text(generate_key())) as files:
            files.names("/")


def test_key_rotation_takes_effect_without_a_restart(gateway):
    new_key = generate_key()
    with pytest.raises(OSError):
        with gateway.files(key=new_key) as files:
            files.names("/")
    both = (public_key_text(gateway.key), public_key_text(new_key))
    other = gateway.server.accounts["YXZWFW"]
    gateway.server.set_accounts([SftpAccount("LWZWFW", gateway.root, both), other])
    for key in (gateway.key, new_key):    # during the rotation both keys are valid
        with gateway.files(key=key) as files:
            assert files.names("/inbox") != []
    gateway.server.set_accounts([SftpAccount("LWZWFW", gateway.root, both[1:]), other])
    with pytest.raises(OSError):          # the old key is retired
        with gateway.files() as files:
            files.names("/")

