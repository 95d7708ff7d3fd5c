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
