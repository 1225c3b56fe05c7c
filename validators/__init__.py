"""Validators for TBS-1.0 payloads; every finding names one TBS requirement id."""
