"""Values: checksums of the key clinical columns per key-range segment, expected (legacy JSON, recomputed in SQL)
against actual (target), for the migrated sessions; a differing segment is drilled down to the legacy ids.

Checksums are md5 over the rows as text (floats in their shortest exact form, which PostgreSQL prints fastest);
expected.sql mirrors the pipeline's formulas operation by operation, so equal values are equal to the last bit.
The verdict never rests on the checksum alone: a differing segment is drilled down row by row, numbers compared
with a relative tolerance of 1e-9 and everything else exactly, so last-bit noise costs a drill-down, never a
false mismatch.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from statsfirst.errors import StatsfirstError
from statsfirst.reconcile.queries import names, query
from statsfirst.reconcile.report import Mismatch, ValueCheck

ROW_KEYS: dict[str, tuple[str, ...]] = {
    "therapy_sessions": (),
    "emg_statistics": ("channel_name",),
    "performance_scores": (),
    "bfr_monitoring": ("side",),
    "session_settings": (),
    "signal_processing_cache": ("id",),
    "processing_parameters": (),
}
# Free text that could carry a name or other personal detail: compared, but never printed.
WITHHELD = frozenset({"file_path", "error_message", "session_code"})
RELATIVE_TOLERANCE = 1e-9
PER_SESSION_LISTED = 5


class ReconcileDefect(StatsfirstError):
    """The expected and actual sides disagree on their own shape: a bug in statsfirst's reconciliation SQL."""


def build_actual(conn: psycopg.Connection) -> None:
    for name in names("actual"):
        conn.execute(query("actual", name))


def _columns(conn: psycopg.Connection, relation: str) -> list[tuple[str, str]]:
    rows = conn.execute(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        (f"pg_temp.{relation}",),
    ).fetchall()
    return [(r[0], r[1]) for r in rows]


def compared_columns(conn: psycopg.Connection, table: str) -> list[tuple[str, str]]:
    expected = _columns(conn, f"rc_exp_{table}")
    actual = _columns(conn, f"rc_act_{table}")
    if expected != actual:
        raise ReconcileDefect(
            f"reconcile SQL defect: rc_exp_{table} and rc_act_{table} differ in columns "
            f"({sorted(set(expected) ^ set(actual))})",
            "report this bug; expected.sql and actual.sql must list the same columns in the same order",
        )
    return expected


def _equal(column: str, type_name: str) -> sql.Composable:
    e, a = sql.SQL("e.{}").format(sql.Identifier(column)), sql.SQL("a.{}").format(sql.Identifier(column))
    if type_name == "double precision":
        return sql.SQL(
            "coalesce({e} IS NOT DISTINCT FROM {a} OR abs({e} - {a}) <= {tol} * greatest(abs({e}), abs({a})), false)"
        ).format(e=e, a=a, tol=sql.Literal(RELATIVE_TOLERANCE))
    return sql.SQL("({e} IS NOT DISTINCT FROM {a})").format(e=e, a=a)


def _shown(side: str, column: str) -> sql.Composable:
    if column in WITHHELD:
        return sql.Literal("(withheld)")
    return sql.SQL("{}.{}::text").format(sql.Identifier(side), sql.Identifier(column))


def check_values(conn: psycopg.Connection, segment_size: int, listed: int) -> tuple[ValueCheck, list[Mismatch], int]:
    """Returns (summary, the first ``listed`` sessions' differences, the number of sessions that differ)."""
    conn.execute(
        "CREATE TEMP TABLE rc_segment ON COMMIT DROP AS SELECT session_id, "
        "((row_number() OVER (ORDER BY session_id)) - 1) / %s AS segment FROM rc_compared",
        (segment_size,),
    )
    conn.execute("CREATE UNIQUE INDEX ON rc_segment (session_id)")
    conn.execute(
        "CREATE TEMP TABLE rc_value_diffs (session_id uuid, table_name text, row_key text, column_name text, "
        "expected text, actual text) ON COMMIT DROP"
    )
    row = conn.execute("SELECT count(*), coalesce(max(segment) + 1, 0) FROM rc_segment").fetchone()
    check = ValueCheck(segment_size=segment_size, sessions_compared=int(row[0]) if row else 0)
    check.segments = int(row[1]) if row else 0
    conn.execute("SET LOCAL extra_float_digits = 1")
    differing_segments: set[int] = set()
    for table, keys in ROW_KEYS.items():
        columns = compared_columns(conn, table)
        order = sql.SQL(", ").join(
            [sql.SQL("x.session_id")] + [sql.SQL('x.{}::text COLLATE "C"').format(sql.Identifier(k)) for k in keys]
        )
        digest = sql.SQL(
            "SELECT g.segment, count(*) AS n, md5(string_agg(x::text, E'\\n' ORDER BY {order})) AS digest "
            "FROM {rel} x JOIN rc_segment g USING (session_id) GROUP BY g.segment"
        )
        segments = conn.execute(
            sql.SQL(
                "WITH e AS ({expected}), a AS ({actual}) "
                "SELECT coalesce(e.segment, a.segment), coalesce(a.n, 0), "
                "e.digest IS DISTINCT FROM a.digest FROM e FULL JOIN a USING (segment)"
            ).format(
                expected=digest.format(order=order, rel=sql.Identifier(f"rc_exp_{table}")),
                actual=digest.format(order=order, rel=sql.Identifier(f"rc_act_{table}")),
            )
        ).fetchall()
        check.rows_compared[table] = sum(int(n) for _, n, _ in segments)
        differing = sorted(int(s) for s, _, differs in segments if differs)
        if differing:
            differing_segments.update(differing)
            _drill_down(conn, table, keys, columns, differing)
    check.segments_differing = len(differing_segments)
    by_table = conn.execute(
        "SELECT table_name, count(DISTINCT session_id) FROM rc_value_diffs GROUP BY 1 ORDER BY 1"
    ).fetchall()
    check.differences_by_table = {t: int(n) for t, n in by_table}
    total = conn.execute("SELECT count(DISTINCT session_id) FROM rc_value_diffs").fetchone()
    check.sessions_with_differences = int(total[0]) if total else 0
    return check, _listed(conn, listed), check.sessions_with_differences


def _drill_down(
    conn: psycopg.Connection, table: str, keys: tuple[str, ...], columns: list[tuple[str, str]], segments: list[int]
) -> None:
    """Compare row by row within the differing segments; every difference becomes a row of rc_value_diffs."""
    join_keys = ("session_id", *keys)
    on = sql.SQL(" AND ").join(sql.SQL("e.{k} = a.{k}").format(k=sql.Identifier(k)) for k in join_keys)
    row_key = (
        sql.SQL("concat_ws('/', {})").format(
            sql.SQL(", ").join(sql.SQL("coalesce(e.{k}, a.{k})::text").format(k=sql.Identifier(k)) for k in keys)
        )
        if keys
        else sql.SQL("NULL::text")
    )
    compared = [(name, type_name) for name, type_name in columns if name not in join_keys]
    values = sql.SQL(", ").join(
        sql.SQL("({name}, {e}, {a}, {equal})").format(
            name=sql.Literal(name), e=_shown("e", name), a=_shown("a", name), equal=_equal(name, type_name)
        )
        for name, type_name in compared
    )
    part = sql.SQL(
        "SELECT x.* FROM {rel} x JOIN rc_segment g USING (session_id) WHERE g.segment = ANY(%(segments)s)"
    )
    conn.execute(
        sql.SQL(
            """
            INSERT INTO rc_value_diffs (session_id, table_name, row_key, column_name, expected, actual)
            WITH e AS ({expected}), a AS ({actual})
            SELECT coalesce(e.session_id, a.session_id), {table}, {row_key}, d.column_name, d.expected, d.actual
            FROM e FULL JOIN a ON {on}
            CROSS JOIN LATERAL (
                SELECT '(row)'::text AS column_name,
                       CASE WHEN e.session_id IS NULL THEN 'absent' ELSE 'present' END AS expected,
                       CASE WHEN a.session_id IS NULL THEN 'absent' ELSE 'present' END AS actual
                WHERE e.session_id IS NULL OR a.session_id IS NULL
                UNION ALL
                SELECT v.column_name, v.expected, v.actual
                FROM (VALUES {values}) AS v(column_name, expected, actual, equal)
                WHERE e.session_id IS NOT NULL AND a.session_id IS NOT NULL AND NOT v.equal
            ) d
            """
        ).format(
            expected=part.format(rel=sql.Identifier(f"rc_exp_{table}")),
            actual=part.format(rel=sql.Identifier(f"rc_act_{table}")),
            table=sql.Literal(table),
            row_key=row_key,
            on=on,
            values=values,
        ),
        {"segments": segments},
    )


def _listed(conn: psycopg.Connection, listed: int) -> list[Mismatch]:
    rows = conn.execute(
        """
        WITH first_sessions AS (
            SELECT DISTINCT session_id FROM rc_value_diffs ORDER BY session_id LIMIT %(listed)s
        ), numbered AS (
            SELECT d.*,
                   row_number() OVER (PARTITION BY d.session_id ORDER BY d.table_name, d.row_key, d.column_name) AS n
            FROM rc_value_diffs d JOIN first_sessions f USING (session_id)
        )
        SELECT n.session_id::text, c.patient_code, n.table_name, n.row_key, n.column_name, n.expected, n.actual
        FROM numbered n LEFT JOIN rc_accounting c USING (session_id)
        WHERE n.n <= %(per_session)s
        ORDER BY n.session_id, n.table_name, n.row_key, n.column_name
        """,
        {"listed": listed, "per_session": PER_SESSION_LISTED},
    ).fetchall()
    out = []
    for session_id, patient_code, table, row_key, column, expected, actual in rows:
        where = f"{table}[{row_key}]" if row_key else table
        if column == "(row)":
            kind = "missing_row" if actual == "absent" else "unexpected_row"
            detail = f"{where}: row {'missing from the target' if kind == 'missing_row' else 'not expected'}"
            out.append(Mismatch(kind, session_id, patient_code, table, row_key, None, expected, actual, detail))
        else:
            detail = f"{where}.{column}: expected {expected}, target has {actual}"
            out.append(Mismatch("value", session_id, patient_code, table, row_key, column, expected, actual, detail))
    return out
