"""The loopback server fixtures of tests/loopback.py."""

from tests.loopback import closed_port, loopback  # noqa: F401
