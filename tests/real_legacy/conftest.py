"""Fixtures of the real-legacy-rows tests (defined in real_legacy_support, which the test modules import)."""

from real_legacy_support import conn, real_db

__all__ = ["conn", "real_db"]
