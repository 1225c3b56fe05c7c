"""Validators for TBS-1.0 payloads; every finding names one TBS requirement id.

The stateless validator of §19 (TBS-RPT-009): :func:`validate_envelope` runs stages S0–S4 on
an envelope, :func:`validate_record` runs S1–S4 on one record.
"""
from tongban.validators.context import REFERENCE_ALLOWLIST, ValidationContext
from tongban.validators.engine import EnvelopeVerdict, RECORD_STAGES, RecordRun, validate_envelope, validate_record
from tongban.validators.parsing import JsonParseError, parse_json_strict

__all__ = ["REFERENCE_ALLOWLIST", "RECORD_STAGES", "EnvelopeVerdict", "JsonParseError", "RecordRun",
           "ValidationContext", "parse_json_strict", "validate_envelope", "validate_record"]
