"""Per table: rows expected from the legacy side (the rc_exp_* tables of expected.sql, for the sessions that should
be migrated) against the rows the target holds for the sessions in scope.

export_history has no legacy source; its rows (written by the new system's exports) are counted, not judged.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from statsfirst.reconcile.queries import names, query, text
from statsfirst.reconcile.report import Mismatch, TableCount
from statsfirst.target_tables import TARGET_TABLES

NO_LEGACY_SOURCE = ("export_history",)
SESSION_KEY = {"therapy_sessions": "id"}


def build_expected(conn: psycopg.Connection, configuration: dict[str, float], with_settings: bool) -> None:
    """Runs expected.sql: rc_expected, rc_current, rc_settings, rc_linked, rc_channel and the rc_exp_* tables.

    Legacy numbers are read with a fast float8 cast; the rare legacy number beyond float8's range makes a step fail,
    and that step is redone (in a savepoint) with the range-checked reader, which then stays in force.
    """
    for name in names("expected"):
        if name == ("no_linked_settings" if with_settings else "linked_settings"):
            continue
        # the recorded configuration (weights, defaults) as named parameters: the SQL restates none of it
        params = configuration if "%(" in text("expected", name) else None
        try:
            with conn.transaction():
                conn.execute(query("expected", name), params)
        except psycopg.errors.NumericValueOutOfRange:
            conn.execute(query("scope", "function_number_checked"))
            conn.execute(query("expected", name), params)


def count_tables(conn: psycopg.Connection) -> list[TableCount]:
    counts = []
    for table in TARGET_TABLES:
        key = sql.Identifier(SESSION_KEY.get(table, "session_id"))
        # the sessions in scope, less those that arrived after the last run (not expected yet); cache rows of
        # analyses deleted in legacy are kept in the target and not counted (deleted_in_legacy)
        kept = (
            sql.SQL(" AND EXISTS (SELECT 1 FROM public.analysis_results a WHERE a.id = t.id)")
            if table == "signal_processing_cache"
            else sql.SQL("")
        )
        actual = conn.execute(
            sql.SQL(
                "SELECT count(*) FROM {table} t JOIN rc_accounting s ON s.session_id = t.{key} "
                "WHERE s.state <> 'arrived_since_last_run'{kept}"
            ).format(table=sql.Identifier(table), key=key, kept=kept)
        ).fetchone()
        if table in NO_LEGACY_SOURCE:
            counts.append(TableCount(table, 0, int(actual[0]) if actual else 0, compared=False))
            continue
        expected = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(f"rc_exp_{table}"))).fetchone()
        counts.append(TableCount(table, int(expected[0]) if expected else 0, int(actual[0]) if actual else 0))
    return counts


def table_mismatches(counts: list[TableCount]) -> list[Mismatch]:
    return [
        Mismatch(
            kind="row_count",
            table=t.name,
            expected=str(t.expected),
            actual=str(t.actual),
            detail=f"{t.name}: {t.expected:,} rows expected from the legacy data, {t.actual:,} in the target",
        )
        for t in counts
        if not t.matches
    ]
