"""The reconciliation's SQL lives in ``reconcile/sql/*.sql`` as named blocks (``-- name: x``), so a reviewer reads
every statement in one place; Python only picks blocks and binds parameters."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from psycopg import sql

SQL_DIR = Path(__file__).resolve().parent / "sql"
_NAME = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


@cache
def _blocks(file: str) -> dict[str, str]:
    text = (SQL_DIR / f"{file}.sql").read_text(encoding="utf-8")
    parts = _NAME.split(text)
    return {parts[i]: parts[i + 1].strip() for i in range(1, len(parts), 2)}


def query(file: str, name: str) -> sql.SQL:
    """The block ``name`` of ``sql/<file>.sql`` (one or more statements)."""
    return sql.SQL(_blocks(file)[name])


def text(file: str, name: str) -> str:
    return _blocks(file)[name]


def names(file: str) -> list[str]:
    return list(_blocks(file))
