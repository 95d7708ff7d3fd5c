"""One consistent, read-only view of legacy, target and quarantine for the whole reconciliation.

Everything runs in one REPEATABLE READ transaction (so a migration running meanwhile cannot make the two sides
disagree), with ``search_path`` = the target schema, and is rolled back at the end: the only objects created are
``pg_temp`` tables and functions.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql

from statsfirst.reconcile.queries import query

HELPERS = (
    "function_number",
    "function_text_number",
    "function_side",
    "function_python_float",
    "function_canonical_json",
)


@contextmanager
def snapshot(conn: psycopg.Connection, target_schema: str) -> Iterator[psycopg.Connection]:
    conn.autocommit = False
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    try:
        conn.execute("SET LOCAL TimeZone = 'UTC'")
        # JIT compiles for seconds because temp tables have no statistics yet; the queries are simple scans/joins
        conn.execute("SET LOCAL jit = off")
        conn.execute("SET LOCAL work_mem = '64MB'")
        conn.execute(
            sql.SQL("SET LOCAL search_path = {}, pg_catalog").format(sql.Identifier(target_schema))
        )
        for name in HELPERS:
            conn.execute(query("scope", name))
        yield conn
    finally:
        conn.rollback()
