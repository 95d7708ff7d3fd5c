"""User-facing errors: each carries one line saying what is wrong and what to do.

The CLI prints ``str(error)`` and exits with ``error.exit_code``; it never shows a traceback for these.
"""

from __future__ import annotations


class StatsfirstError(Exception):
    """Base of every error a user can act on. ``exit_code`` follows the reconcile convention (2 = usage/connection)."""

    exit_code = 1

    def __init__(self, problem: str, remedy: str | None = None) -> None:
        self.problem = problem
        self.remedy = remedy
        super().__init__(f"{problem} — {remedy}" if remedy else problem)


class UsageError(StatsfirstError):
    """The command was called with arguments that cannot work (bad date range, bad weights, bad schema name)."""

    exit_code = 2


class ConnectionProblem(StatsfirstError):
    """The database could not be reached or authenticated against."""

    exit_code = 2


class SchemaStateError(StatsfirstError):
    """The database is not in the state the command needs (missing legacy tables, schema not applied, drift)."""

    exit_code = 2


class TransientError(StatsfirstError):
    """A failure that the same command, run again, can get past (the connection was lost, the server restarted).

    Prefect flows retry exactly these (see :func:`is_transient`); a retry resumes from the run ledger.
    """

    exit_code = 1
    transient = True


class NotReconciled(StatsfirstError):
    """The target does not match the legacy recount (the reconciliation's artifacts/report say where)."""

    exit_code = 1
    transient = False


# SQLSTATE classes and codes a retry can help with: connection exceptions, the server shutting down or restarting,
# an administrator terminating the backend, a server not yet accepting connections
TRANSIENT_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "57P05", "53300"})
TRANSIENT_SQLSTATE_CLASSES = frozenset({"08"})
# OperationalErrors a retry would only repeat: a statement_timeout or a deliberate cancel, bad credentials, a missing
# database or role
NOT_TRANSIENT_SQLSTATES = frozenset({"57014", "28000", "28P01", "3D000"})
# what libpq says when a connection is refused for good (ConnectionProblem carries libpq's first line)
NOT_TRANSIENT_CONNECT_PROBLEMS = (
    "password authentication failed",
    "no password supplied",
    "does not exist",
    "no pg_hba.conf entry",
    "is malformed",
    "invalid connection option",
)


def is_transient(exc: BaseException) -> bool:
    """Whether re-running the same command can succeed where this failure happened.

    True for a lost or refused connection (``psycopg.OperationalError``: server shutdown or restart, backend
    terminated, network), statsfirst's :class:`ConnectionProblem` and :class:`TransientError`; False for
    everything else (bad arguments, schema state, a value the database rejects, a bug). An exception whose class
    has a boolean ``transient`` attribute decides for itself; other exceptions are judged by their cause.
    """
    import psycopg

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        flag = getattr(type(current), "transient", None)
        if isinstance(flag, bool):
            return flag
        if isinstance(current, ConnectionProblem):
            # a server that is down or restarting comes back; a wrong password or database name does not
            return not any(p in str(current).lower() for p in NOT_TRANSIENT_CONNECT_PROBLEMS)
        if isinstance(current, StatsfirstError):
            return False  # the library's own verdict (usage, schema state, ...): what caused it does not matter
        if isinstance(current, psycopg.Error):
            state = current.sqlstate or ""
            if state in NOT_TRANSIENT_SQLSTATES:
                return False
            if isinstance(current, psycopg.OperationalError) or state in TRANSIENT_SQLSTATES:
                return True
            return state[:2] in TRANSIENT_SQLSTATE_CLASSES
        current = current.__cause__ or current.__context__
    return False
