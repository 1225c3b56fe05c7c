"""Fixtures of the security suite; the helpers are in :mod:`security_support`."""
from security_support import bus, province  # noqa: F401 - pytest fixtures
