"""Set-based upserts from staging into the target tables; rows are rewritten only when their content changed,
so re-running a range writes nothing and the target stays byte-identical."""

from __future__ import annotations

import psycopg
from psycopg import sql

from statsfirst.load.staging import STAGED_RANGE, Staged
from statsfirst.load.table_specs import CHILD_TABLES, TableSpec

# Columns a re-migration never lowers (mapping.md §signal_processing_cache): a cache hit recorded through the
# compatibility view (hit_count, last_accessed_at) stays; the row takes the greatest of target and legacy.
NEVER_LOWERED: dict[str, tuple[str, ...]] = {"signal_processing_cache": ("hit_count", "last_accessed_at")}


def upsert(conn: psycopg.Connection, schema: str, spec: TableSpec, staged: Staged) -> psycopg.Cursor:
    """Insert the staged rows, update the changed ones; its cursor's rowcount is the rows written."""
    stage = staged.name
    columns = list(staged.columns)
    select_items: list[sql.Composable] = [sql.Identifier(c) for c in staged.columns]
    if spec.derived_id_parts is not None and "id" not in staged.columns:
        parts = [sql.Literal(spec.name), sql.SQL("session_id::text")] + [
            sql.SQL("{}::text").format(sql.Identifier(p)) for p in spec.derived_id_parts
        ]
        select_items.insert(0, sql.SQL("md5(concat_ws('/', {}))::uuid").format(sql.SQL(", ").join(parts)))
        columns.insert(0, "id")
    sticky = spec.sticky or {}
    never_lowered = NEVER_LOWERED.get(spec.name, ())
    updatable = [c for c in staged.columns if c not in spec.conflict_key and c != "id"]
    compared = [c for c in updatable if c not in sticky]

    def new_value(c: str) -> sql.Composable:
        if c in never_lowered:
            return sql.SQL("greatest(t.{c}, EXCLUDED.{c})").format(c=sql.Identifier(c))
        return sql.SQL("EXCLUDED.{}").format(sql.Identifier(c))

    assignments = []
    for c in updatable:
        if c in never_lowered:
            assignments.append(sql.SQL("{} = {}").format(sql.Identifier(c), new_value(c)))
        elif c in sticky:
            guard = sticky[c]
            assignments.append(
                sql.SQL(
                    "{c} = CASE WHEN t.{g} IS NOT DISTINCT FROM EXCLUDED.{g} THEN t.{c} ELSE EXCLUDED.{c} END"
                ).format(c=sql.Identifier(c), g=sql.Identifier(guard))
            )
        else:
            assignments.append(sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c)))
    statement = sql.SQL(
        "INSERT INTO {schema}.{table} AS t ({cols}) SELECT {items} FROM {stage} "
        "ON CONFLICT ({key}) DO UPDATE SET {assignments} "
        "WHERE ({old}) IS DISTINCT FROM ({new})"
    ).format(
        schema=sql.Identifier(schema),
        table=sql.Identifier(spec.name),
        cols=sql.SQL(", ").join(sql.Identifier(c) for c in columns),
        items=sql.SQL(", ").join(select_items),
        stage=sql.Identifier(stage),
        key=sql.SQL(", ").join(sql.Identifier(c) for c in spec.conflict_key),
        assignments=sql.SQL(", ").join(assignments),
        old=sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in compared),
        new=sql.SQL(", ").join(new_value(c) for c in compared),
    )
    return conn.execute(statement)


def existing_sessions(conn: psycopg.Connection, schema: str) -> psycopg.Cursor:
    """Staged sessions the target already holds (a first migration of a range has none): sent before the upserts,
    read after them."""
    query = sql.SQL(
        "SELECT t.id::text FROM {schema}.therapy_sessions t JOIN stage_therapy_sessions s ON s.id = t.id "
        "WHERE t.id {staged_range}"
    ).format(schema=sql.Identifier(schema), staged_range=STAGED_RANGE)
    return conn.execute(query)


def delete_stale_children(
    conn: psycopg.Connection, schema: str, stages: dict[str, Staged], session_ids: list[str]
) -> None:
    """Child rows of re-migrated sessions that the legacy data no longer produces are removed.

    Only sessions that were in the target before this batch can have such rows, so a first run skips this.
    """
    if not session_ids:
        return
    for spec in CHILD_TABLES:
        stage = stages[spec.name].name
        match = sql.SQL(" AND ").join(sql.SQL("s.{c} = t.{c}").format(c=sql.Identifier(c)) for c in spec.conflict_key)
        conn.execute(
            sql.SQL(
                "DELETE FROM {schema}.{table} t WHERE t.session_id = ANY(%s::uuid[]) "
                "AND NOT EXISTS (SELECT 1 FROM {stage} s WHERE {match})"
            ).format(
                schema=sql.Identifier(schema), table=sql.Identifier(spec.name), stage=sql.Identifier(stage), match=match
            ),
            (session_ids,),
        )


def delete_sessions(conn: psycopg.Connection, schema: str, session_ids: list[str]) -> None:
    """Sessions now held back or skipped leave the target (children cascade); the quarantine keeps their payload."""
    if not session_ids:
        return
    conn.execute(
        sql.SQL("DELETE FROM {schema}.therapy_sessions WHERE id = ANY(%s::uuid[])").format(
            schema=sql.Identifier(schema)
        ),
        (session_ids,),
    )
    conn.execute("DELETE FROM statsfirst.session_lineage WHERE legacy_session_id = ANY(%s::uuid[])", (session_ids,))
