"""Connectors: one protocol, four TBS-1.0 bindings (REST, SOAP, file drop, MQTT)."""
