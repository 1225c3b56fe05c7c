"""A real drop root in tmp_path, a writer and a receiver around a recording service."""
from __future__ import annotations

import pytest

from tongban.connectors.filedrop import FileDropReceiver, FileDropWriter

from filedrop_support import KEY, KEY_ID, RECEIVER, SENDER, RecordingService


@pytest.fixture
def service() -> RecordingService:
    return RecordingService()


@pytest.fixture
def receiver(tmp_path, service) -> FileDropReceiver:
    rx = FileDropReceiver(tmp_path / "drop", service, own_id=RECEIVER, owner=SENDER)
    rx.provision()
    return rx


@pytest.fixture
def writer(tmp_path, receiver) -> FileDropWriter:
    return FileDropWriter(tmp_path / "drop", sender=SENDER, receiver=RECEIVER, key_id=KEY_ID, key=KEY)
