"""Field conditions: a managed-database role (as on Supabase) and real PgBouncer poolers in front of the test server.

``managed_database()`` builds what a Supabase project gives the pipeline: a login role that is **not** a superuser
(``LOGIN CREATEROLE BYPASSRLS``, with a password), owning the database and the legacy tables it created itself,
and the client roles ``anon``/``authenticated``/``service_role`` existing already (created by a superuser, as
Supabase's ``supabase_admin`` does), with the pipeline role a member of them (as Supabase's ``postgres`` is).

Roles are cluster-global and shared by every test database and pytest-xdist worker: the client roles are created
only when missing (a concurrent creator is tolerated); each pipeline role has a fresh random name.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator

import psycopg
import pytest
from field_support import (
    CLIENT_ROLES,
    PIPELINE_ROLE_ATTRIBUTES,
    ManagedDatabase,
    PgBouncer,
    ensure_client_roles,
    pipeline_dsn,
    start_pgbouncer,
)
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from statsfirst.db.dsn import ResolvedDsn


@pytest.fixture(scope="session")
def managed_database(
    make_database: Callable[[], ResolvedDsn], server_dsn: ResolvedDsn
) -> Iterator[Callable[..., ManagedDatabase]]:
    """Factory: ``managed_database(legacy=True, client_role_membership=True)`` → a fresh ManagedDatabase.

    ``legacy``: create the legacy tables (with the legacy session_settings) as the pipeline role.
    ``client_role_membership``: make the pipeline role a member of anon/authenticated/service_role (granted by the
    superuser, as on Supabase), so it can ``SET ROLE`` to them.
    """
    made: list[ManagedDatabase] = []

    def factory(*, legacy: bool = True, client_role_membership: bool = True) -> ManagedDatabase:
        ensure_client_roles(server_dsn)
        admin = make_database()
        dbname = str(conninfo_to_dict(admin.conninfo)["dbname"])
        role = f"sf_pipe_{secrets.token_hex(6)}"
        password = secrets.token_urlsafe(18)
        with psycopg.connect(admin.conninfo, autocommit=True) as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} " + PIPELINE_ROLE_ATTRIBUTES + " PASSWORD {}").format(
                    sql.Identifier(role), sql.Literal(password)
                )
            )
            conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(dbname), sql.Identifier(role)))
            if client_role_membership:
                conn.execute(
                    sql.SQL("GRANT {} TO {}").format(
                        sql.SQL(", ").join(sql.Identifier(name) for name, _ in CLIENT_ROLES), sql.Identifier(role)
                    )
                )
        db = ManagedDatabase(admin, pipeline_dsn(admin, role, password), role, password, dbname)
        made.append(db)
        if legacy:
            from statsfirst.legacy.baseline import init_legacy

            with psycopg.connect(db.pipeline.conninfo) as conn:
                init_legacy(conn, with_session_settings=True)
        return db

    yield factory
    if server_dsn.source == "embedded":
        return  # the whole embedded server is deleted with the session
    # a role owning objects cannot be dropped: drop its database first (make_database's own DROP then finds none)
    with psycopg.connect(server_dsn.conninfo, autocommit=True) as conn:
        for db in made:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db.dbname)))
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(db.role)))


@pytest.fixture(scope="session")
def pgbouncer(server_dsn: ResolvedDsn) -> Iterator[Callable[[str, dict[str, str]], PgBouncer]]:
    """Factory: ``pgbouncer(mode, {user: password})`` → a running PgBouncer in front of the test server."""
    started: list[PgBouncer] = []

    def factory(mode: str, users: dict[str, str]) -> PgBouncer:
        bouncer = start_pgbouncer(server_dsn, mode, users)
        started.append(bouncer)
        return bouncer

    yield factory
    for bouncer in started:
        bouncer.stop()
