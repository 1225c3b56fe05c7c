"""The file-drop binding of TBS-1.0 §17: batches of ``.jsonl`` + manifest in a drop root.

``FileDropWriter`` and ``FileDropConnector`` send; ``FileDropReceiver`` receives and hands
logical envelopes to a ``SystemService`` (``FileDropInbox`` is one collection pass of it, as
the sync engine uses it); ``logical_envelope`` turns the two files of a batch into the
envelope all ENV and SEC rules apply to (TBS-FILE-004).
"""
from .batch import logical_envelope
from .connector import FileDropConnector
from .receiver import FileDropReceiver, InMemoryProcessedBatches, ProcessedBatches, ScanStats
from .writer import FileDropWriter, WrittenBatch

__all__ = ["logical_envelope", "FileDropConnector", "FileDropReceiver", "InMemoryProcessedBatches",
           "ProcessedBatches", "ScanStats", "FileDropWriter", "WrittenBatch"]
