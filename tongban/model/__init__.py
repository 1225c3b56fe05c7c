"""The record model: datasets, business keys, identifiers and canonical JSON (TBS-1.0 §5–§13).

This is the bottom layer: it imports nothing else from tongban.
"""
from tongban.model.canonical import canonical_bytes, sha256_hex, records_sha256
from tongban.model.datasets import DATASETS, Dataset, business_key

__all__ = ["DATASETS", "Dataset", "business_key", "canonical_bytes", "sha256_hex", "records_sha256"]
