"""Detect a transaction-mode connection pooler (PgBouncer ``pool_mode = transaction``, Supabase's port 6543).

``schema apply`` and ``migrate`` rely on session state: session advisory locks (the schema lock, backfill
partitions) and session ``SET``s on batch connections. Through a transaction-mode pooler each transaction may run on
another server backend, so a lock would be taken on one backend and "released" on another, and a ``SET`` would leak
into other clients' transactions. Those commands therefore refuse, before writing anything, in one line naming the
fix. (Server-side prepared statements, the third casualty, are never used: ``db.connection`` turns them off.)

The probe: two client connections open at once ask the server for ``pg_backend_pid()`` alternately. Directly or
through a session-mode pooler each client keeps its own backend for its whole life, so each sees one pid and the
two differ. A transaction-mode (or statement-mode) pooler hands a backend back to the pool after every
transaction, and PgBouncer reuses the most recently released one first, so the second client gets the first one's
backend: a pid seen by both clients, or a client whose pid changes, proves transaction pooling.
"""

from __future__ import annotations

import psycopg

from statsfirst.db.connection import connect
from statsfirst.db.dsn import ResolvedDsn
from statsfirst.errors import ConnectionProblem

PROBE_ROUNDS = 3
PROBE_APPLICATION_NAME = "statsfirst-pooler-probe"


def _pid(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT pg_backend_pid()").fetchone()
    assert row is not None
    return int(row[0])


def backend_pids(dsn: ResolvedDsn, rounds: int = PROBE_ROUNDS) -> tuple[list[int], list[int]]:
    """The backend pids two simultaneous autocommit clients see, asked alternately ``rounds`` times each."""
    first = connect(dsn, autocommit=True, application_name=PROBE_APPLICATION_NAME)
    try:
        second = connect(dsn, autocommit=True, application_name=PROBE_APPLICATION_NAME)
        try:
            seen: tuple[list[int], list[int]] = ([], [])
            for _ in range(rounds):
                seen[0].append(_pid(first))
                seen[1].append(_pid(second))
            return seen
        finally:
            second.close()
    finally:
        first.close()


def transaction_pooled(dsn: ResolvedDsn) -> bool:
    """True when the connection goes through a pooler that reassigns server backends per transaction."""
    first, second = backend_pids(dsn)
    return len(set(first)) > 1 or len(set(second)) > 1 or bool(set(first) & set(second))


def refuse_transaction_pooler(dsn: ResolvedDsn, command: str) -> None:
    """Raise (exit 2, one line naming the fix) when ``dsn`` goes through a transaction-mode pooler."""
    if transaction_pooled(dsn):
        raise ConnectionProblem(
            f"the connection to {dsn.redacted()} goes through a transaction-mode pooler (PgBouncer "
            "pool_mode=transaction, e.g. Supabase port 6543): two connections shared one server backend, and "
            f"`{command}` needs session advisory locks and session settings that such a pooler cannot keep; "
            "nothing was changed",
            "connect through the session pooler (Supabase port 5432) or directly to the database",
        )
