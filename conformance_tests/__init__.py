"""Conformance test kit (TBS-1.0 §20) certifying newly joining systems per role."""
