"""Fixtures of the reconciliation tests (defined in reconcile_support, which the test modules import)."""

from reconcile_support import copy_of, migrated

__all__ = ["copy_of", "migrated"]
