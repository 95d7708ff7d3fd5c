"""Fixtures of the migration-flow tests (defined in migration_support, which the test modules import)."""

from migration_support import hand_built

__all__ = ["hand_built"]
