"""A seeded scratch database for the bench scripts: created on the admin server, dropped afterwards (unless kept)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql

from statsfirst.db.dsn import ResolvedDsn
from statsfirst.db.migrations import apply_migrations
from statsfirst.legacy.baseline import init_legacy
from statsfirst.legacy.generator import seed_legacy


@contextmanager
def scratch_database(admin: ResolvedDsn, *, keep: bool = False) -> Iterator[ResolvedDsn]:
    """A new empty database ``sf_bench_<hex>``; dropped on exit, even after an error, unless ``keep``."""
    name = f"sf_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin.conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield admin.with_database(name)
    finally:
        if not keep:
            with psycopg.connect(admin.conninfo, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def seed_and_apply(
    target: ResolvedDsn, *, sessions: int, signal_samples: int = 0, target_schema: str = "stats"
) -> float:
    """Legacy baseline + deterministic seed (1% spoiled), then the schema; returns the seconds the seed took."""
    started = time.perf_counter()
    with psycopg.connect(target.conninfo) as conn:
        init_legacy(conn, with_session_settings=True)
        seed_legacy(conn, sessions=sessions, seed=1, bad_fraction=0.01, signal_samples=signal_samples)
    seconds = time.perf_counter() - started
    apply_migrations(target, target_schema=target_schema, log=lambda _: None)
    return seconds
