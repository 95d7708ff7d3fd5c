"""Catalog lookups by name: schema and relation names are compared as values, never parsed out of a string."""

from __future__ import annotations

import psycopg


def relation_exists(conn: psycopg.Connection, schema: str, name: str) -> bool:
    """A table, view or other relation ``schema.name`` exists (no ``to_regclass`` of a formatted qualified name)."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relname = %s)",
        (schema, name),
    ).fetchone()
    return bool(row and row[0])
