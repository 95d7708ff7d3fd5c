"""Fixtures of the reliability tests; the helpers live in fault_support.py (test modules import that, never this)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fault_support import FaultWorld, build_world

from statsfirst.db.dsn import ResolvedDsn


@pytest.fixture(scope="session")
def fault_world(server_dsn: ResolvedDsn, make_database: Callable[[], ResolvedDsn]) -> Iterator[FaultWorld]:
    """A seeded legacy database with the schema applied, the state of a clean run of it, and resettable copies."""
    world = build_world(server_dsn, make_database)
    yield world
    world.drop_all()
