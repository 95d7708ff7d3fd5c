"""Open connections with clear, password-free errors."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from statsfirst.db.dsn import ResolvedDsn
from statsfirst.errors import ConnectionProblem

APPLICATION_NAME = "statsfirst"


class _SecondPipelineError(logging.Filter):
    """Drops psycopg's warning that ending a pipeline failed after a statement in it already had: the first error
    (a rejected row, a lost connection) is raised and reported in one line; with no logging configured, Python
    would print this second one to stderr as well."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("error ignored terminating")


logging.getLogger("psycopg").addFilter(_SecondPipelineError())


def connect(
    dsn: ResolvedDsn, *, autocommit: bool = False, application_name: str = APPLICATION_NAME, connect_timeout: int = 10
) -> psycopg.Connection:
    """Connect, turning every connection failure into one line that names the DSN (password removed).

    Server-side prepared statements are off (``prepare_threshold=None``): psycopg would otherwise prepare a query
    run five times on one connection, and through a transaction-mode pooler (Supabase port 6543) the next
    transaction may land on a backend that does not have it.
    """
    try:
        return psycopg.connect(
            dsn.conninfo,
            autocommit=autocommit,
            application_name=application_name,
            connect_timeout=connect_timeout,
            prepare_threshold=None,
        )
    except psycopg.Error as exc:
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConnectionProblem(
            f"cannot connect to {dsn.redacted()} (from {dsn.source}): {dsn.scrub(first_line)}",
            "check that the server runs and that --dsn / DATABASE_URL is right",
        ) from None


@contextmanager
def connection(dsn: ResolvedDsn, **kwargs: object) -> Iterator[psycopg.Connection]:
    conn = connect(dsn, **kwargs)  # type: ignore[arg-type]
    try:
        yield conn
    finally:
        conn.close()
