"""One seeded legacy database, migrated by the real flow, shared by the compatibility-view tests.

Seeding and migrating take a couple of seconds, so the database is built once per test session; tests that write
do so inside a transaction they roll back.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
import pytest
from psycopg import sql

from statsfirst.db.dsn import ResolvedDsn
from statsfirst.db.migrations import apply_migrations
from statsfirst.legacy.baseline import init_legacy
from statsfirst.legacy.generator import seed_legacy
from statsfirst.pipeline.options import MigrateOptions
from statsfirst.pipeline.run import migrate

TARGET = "stats"
SESSIONS = 1500  # enough for every trap of the generator, and for tables that span many pages (EXPLAIN test)
SESSIONS_AT_SCALE = 100_000
SEED = 11
BAD_FRACTION = 0.05


def quiet(_: object) -> None:
    return None


@dataclass(frozen=True)
class ViewsDb:
    dsn: ResolvedDsn
    target: str


def build(make_database: Callable[[], ResolvedDsn], *, sessions: int, target: str) -> ViewsDb:
    """Legacy baseline + seed, schema apply (005-007) into ``target``, migrate, ANALYZE."""
    dsn = make_database()
    with psycopg.connect(dsn.conninfo) as conn:
        # in `public` the legacy session_settings would collide with the new table: leave it out there
        init_legacy(conn, with_session_settings=target != "public")
        seed_legacy(conn, sessions=sessions, seed=SEED, bad_fraction=BAD_FRACTION)
    apply_migrations(dsn, target_schema=target, log=quiet)
    migrate(dsn, MigrateOptions(), log=quiet)
    with psycopg.connect(dsn.conninfo, autocommit=True) as conn:
        conn.execute("ANALYZE")
    return ViewsDb(dsn, target)


@pytest.fixture(scope="session")
def views_db(make_database: Callable[[], ResolvedDsn]) -> ViewsDb:
    return build(make_database, sessions=SESSIONS, target=TARGET)


@pytest.fixture(scope="session")
def views_db_at_scale(make_database: Callable[[], ResolvedDsn]) -> ViewsDb:
    """100,000 seeded sessions (the scale the plan check is specified at), migrated by the real flow, ANALYZEd.

    About a minute and a half to build, once per test session; only tests/views/test_plans.py asks for it.
    """
    return build(make_database, sessions=SESSIONS_AT_SCALE, target=TARGET)


@contextmanager
def rolled_back(db: ViewsDb) -> Iterator[psycopg.Connection]:
    """A connection as the owner to ``db``, in a transaction rolled back at the end."""
    connection = psycopg.connect(db.dsn.conninfo)
    try:
        yield connection
    finally:
        connection.rollback()
        connection.close()


@pytest.fixture
def conn(views_db: ViewsDb) -> Iterator[psycopg.Connection]:
    """A connection as the owner, in a transaction rolled back after the test."""
    with rolled_back(views_db) as connection:
        yield connection


@pytest.fixture(params=["1,500 sessions", "100,000 sessions"])
def plan_conn(request: pytest.FixtureRequest) -> Iterator[tuple[psycopg.Connection, ViewsDb]]:
    """A rolled-back connection as the owner to the shared database of one size (tests/views/test_plans.py)."""
    db = request.getfixturevalue("views_db" if request.param == "1,500 sessions" else "views_db_at_scale")
    with rolled_back(db) as connection:
        yield connection, db


def act_as(conn: psycopg.Connection, role: str, sub: uuid.UUID | None) -> None:
    """Act as a Supabase client for the rest of the transaction (as tests/schema/test_rls.py does)."""
    conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
    claims = {"role": role} if sub is None else {"sub": str(sub), "role": role}
    conn.execute("SELECT set_config('request.jwt.claims', %s, true)", (json.dumps(claims),))


@pytest.fixture
def as_role() -> Callable[[psycopg.Connection, str, uuid.UUID | None], None]:
    return act_as


@pytest.fixture(scope="session")
def public_views_db(make_database: Callable[[], ResolvedDsn]) -> ViewsDb:
    """A smaller database whose target schema is `public` itself (views next to the new tables)."""
    return build(make_database, sessions=150, target="public")


@pytest.fixture
def small_views_db(make_database: Callable[[], ResolvedDsn]) -> ViewsDb:
    """A small migrated database of the test's own (for tests that re-apply the schema)."""
    return build(make_database, sessions=150, target=TARGET)
