"""Do two contenders' rows agree? Every table statsfirst writes, row by row: the seven target tables it fills
(plus export_history, which both must leave empty) and its lineage tables statsfirst.session_lineage and
statsfirst.analysis_lineage.

Every column is compared except those that are not the migration's content: surrogate ids of child rows, the
database's now() defaults, run ids and run-time stamps (listed and justified in COMPARED below).
Floats agree when they are equal to 12 significant digits: polars divides by a constant as a multiplication by its
reciprocal, PostgreSQL divides, so the same formula can differ in the last bit; any real difference shows.
Both sides are streamed in key order (server-side cursors) and merged, so memory stays flat in N.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
from psycopg import sql

from contenders.common import TARGET_SCHEMA

# table: (key columns, columns not compared). Not compared, and why:
# - id of a child row (emg_statistics, performance_scores, bfr_monitoring, session_settings, processing_parameters):
#   a surrogate key. statsfirst derives it as md5(table/session/key) and the all-SQL contender does the same, but a
#   contender may take gen_random_uuid(); the natural key (the compared key columns) identifies the row. The ids
#   that are legacy ids (therapy_sessions.id, signal_processing_cache.id) are keys and are compared.
# - created_at of a child row, performance_scores.calculated_at, session_settings.updated_at: the database's now()
#   default at write time (the migration never loads them). therapy_sessions.created_at/updated_at and
#   signal_processing_cache.created_at carry legacy values and are compared.
# - signal_processing_cache.invalidated_at: the run's start time stamped on invalidated rows (whether a row is
#   invalid, and why, is compared).
# - session_lineage.run_id / migrated_at, analysis_lineage.run_id: which run wrote the row and when.
# - export_history.id / export_timestamp: defaults of a table both sides must leave empty (any row shows as only_*).
COMPARED: dict[str, tuple[tuple[str, ...], frozenset[str]]] = {
    "therapy_sessions": (("id",), frozenset()),
    "emg_statistics": (("session_id", "channel_name"), frozenset({"id", "created_at"})),
    "performance_scores": (("session_id",), frozenset({"id", "created_at", "calculated_at"})),
    "bfr_monitoring": (("session_id", "side"), frozenset({"id", "created_at"})),
    "session_settings": (("session_id",), frozenset({"id", "created_at", "updated_at"})),
    "export_history": (("id",), frozenset({"export_timestamp"})),
    "signal_processing_cache": (("id",), frozenset({"invalidated_at"})),
    "processing_parameters": (("session_id",), frozenset({"id", "created_at"})),
    "session_lineage": (("legacy_session_id",), frozenset({"run_id", "migrated_at"})),
    "analysis_lineage": (("legacy_analysis_id",), frozenset({"run_id"})),
}
# tables outside the target schema, and the column that names a row's session where it is not session_id
SCHEMA_OF: dict[str, str] = {"session_lineage": "statsfirst", "analysis_lineage": "statsfirst"}
SESSION_COLUMN: dict[str, str] = {
    "therapy_sessions": "id",
    "session_lineage": "legacy_session_id",
    "analysis_lineage": "legacy_session_id",
}
# the tables the row-by-row contender writes (run.py compares it on these only)
ROW_BY_ROW_TABLES: tuple[str, ...] = ("therapy_sessions", "emg_statistics", "performance_scores")
REL_TOL = 1e-12


def _columns(conn: psycopg.Connection, schema: str, table: str) -> list[str]:
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
        "ORDER BY ordinal_position",
        (schema, table),
    ).fetchall()
    return [r[0] for r in rows]


def _rows(
    conn: psycopg.Connection, table: str, columns: list[str], sessions: Sequence[str] | None, schema: str
) -> Iterator[tuple[tuple[str, ...], tuple[Any, ...]]]:
    keys, _ = COMPARED[table]
    session_column = SESSION_COLUMN.get(table, "session_id")
    query = sql.SQL("SELECT {keys}, {values} FROM {schema}.{table}").format(
        keys=sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(k)) for k in keys),
        values=sql.SQL(", ").join(sql.Identifier(c) for c in columns),
        schema=sql.Identifier(schema),
        table=sql.Identifier(table),
    )
    params: tuple[Any, ...] = ()
    if sessions is not None:
        query += sql.SQL(" WHERE {} = ANY(%s::uuid[])").format(sql.Identifier(session_column))
        params = (list(sessions),)
    query += sql.SQL(" ORDER BY {}").format(
        sql.SQL(", ").join(sql.SQL('{}::text COLLATE "C"').format(sql.Identifier(k)) for k in keys)
    )
    with conn.transaction(), conn.cursor(name=f"verify_{table}") as cur:
        cur.itersize = 5000
        cur.execute(query, params)
        for record in cur:
            yield tuple(record[: len(keys)]), tuple(record[len(keys) :])


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=0.0) or (math.isnan(a) and math.isnan(b))
    return bool(a == b)


def compare_table(
    a: psycopg.Connection, b: psycopg.Connection, table: str, sessions: Sequence[str] | None, schema: str
) -> dict[str, Any]:
    _, ignored = COMPARED[table]
    schema = SCHEMA_OF.get(table, schema)
    columns = [c for c in _columns(a, schema, table) if c not in ignored]
    left, right = _rows(a, table, columns, sessions, schema), _rows(b, table, columns, sessions, schema)
    counts = {"rows_a": 0, "rows_b": 0, "only_a": 0, "only_b": 0, "different": 0}
    first: dict[str, Any] | None = None
    x, y = next(left, None), next(right, None)
    while x is not None or y is not None:
        if y is None or (x is not None and x[0] < y[0]):
            counts["rows_a"] += 1
            counts["only_a"] += 1
            x = next(left, None)
        elif x is None or y[0] < x[0]:
            counts["rows_b"] += 1
            counts["only_b"] += 1
            y = next(right, None)
        else:
            counts["rows_a"] += 1
            counts["rows_b"] += 1
            differing = [c for c, va, vb in zip(columns, x[1], y[1], strict=True) if not _same(va, vb)]
            if differing:
                counts["different"] += 1
                if first is None:
                    values = dict(zip(columns, zip(x[1], y[1], strict=True), strict=True))
                    first = {"key": "/".join(x[0]), "columns": {c: [str(v) for v in values[c]] for c in differing}}
            x, y = next(left, None), next(right, None)
    result: dict[str, Any] = dict(counts)
    if first:
        result["first_difference"] = first
    return result


def compare(
    dsn_a: str,
    dsn_b: str,
    sessions: Sequence[str] | None = None,
    schema: str = TARGET_SCHEMA,
    *,
    tables: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Per table: rows on each side, rows only on one side, rows that differ (and the first difference).

    ``schema`` is the target schema (the lineage tables are in ``statsfirst``); ``tables``, a subset of COMPARED
    (default: all of them), for a contender that writes fewer tables.
    """
    out: dict[str, Any] = {}
    with psycopg.connect(dsn_a) as a, psycopg.connect(dsn_b) as b:
        for conn in (a, b):
            conn.execute("SET TimeZone = 'UTC'")
        for table in tables if tables is not None else COMPARED:
            out[table] = compare_table(a, b, table, sessions, schema)
    out["identical"] = all(
        e["only_a"] == 0 and e["only_b"] == 0 and e["different"] == 0 for e in out.values() if isinstance(e, dict)
    )
    return out
