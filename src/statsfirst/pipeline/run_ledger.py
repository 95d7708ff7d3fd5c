"""The run and batch ledger: a batch commits with its data, so a re-run redoes only uncommitted batches."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

import polars as pl
import psycopg
from psycopg import sql

from statsfirst.extract.copy_reader import copy_frame
from statsfirst.extract.legacy_reader import KeyRange


@dataclass(frozen=True)
class PlannedBatch:
    batch_no: int
    first_id: str
    last_id: str
    session_count: int


PLAN_QUERY = sql.SQL(
    "SELECT c.id::text AS id FROM public.c3d_metadata c "
    "WHERE c.id BETWEEN %(first)s::uuid AND %(last)s::uuid "
    "AND (%(since)s::timestamptz IS NULL OR c.created_at >= %(since)s::timestamptz) "
    "AND (%(until)s::timestamptz IS NULL OR c.created_at < %(until)s::timestamptz) ORDER BY c.id"
)


def plan_batches(conn: psycopg.Connection, key_range: KeyRange, batch_size: int) -> list[PlannedBatch]:
    """Keyset boundaries over c3d_metadata.id (one COPY of the ids in range)."""
    ids = copy_frame(conn, PLAN_QUERY, key_range.params(), {"id": pl.String})["id"]
    return batches_of(ids, batch_size)


def batches_of(ids: pl.Series, batch_size: int) -> list[PlannedBatch]:
    """Cut ordered ids into keyset batches of at most ``batch_size``."""
    batches = []
    for batch_no, start in enumerate(range(0, len(ids), batch_size)):
        chunk = ids.slice(start, batch_size)
        batches.append(PlannedBatch(batch_no, chunk[0], chunk[-1], len(chunk)))
    return batches


def run_parameters(conn: psycopg.Connection, run_id: str) -> dict[str, object]:
    row = conn.execute("SELECT parameters FROM statsfirst.migration_runs WHERE run_id = %s", (run_id,)).fetchone()
    return dict(row[0]) if row else {}


def run_snapshot(conn: psycopg.Connection, run_id: str) -> str | None:
    """The point of legacy history a run recorded when it was planned (a resumed run keeps it)."""
    row = conn.execute(
        "SELECT legacy_snapshot::text FROM statsfirst.migration_runs WHERE run_id = %s", (run_id,)
    ).fetchone()
    return row[0] if row else None


def completed_since(conn: psycopg.Connection, command_key: str, started_at: object) -> dict[str, object] | None:
    """The totals of a run of ``command_key`` completed after ``started_at`` (another process did the work)."""
    row = conn.execute(
        "SELECT totals FROM statsfirst.migration_runs WHERE command_key = %s AND status = 'completed' "
        "AND finished_at >= %s ORDER BY finished_at DESC LIMIT 1",
        (command_key, started_at),
    ).fetchone()
    return dict(row[0]) if row and row[0] is not None else None


def resumable_run(conn: psycopg.Connection, command_key: str) -> str | None:
    row = conn.execute(
        "SELECT run_id::text FROM statsfirst.migration_runs WHERE command_key = %s AND status <> 'completed' "
        "ORDER BY started_at DESC LIMIT 1",
        (command_key,),
    ).fetchone()
    return row[0] if row else None


def create_run(
    conn: psycopg.Connection,
    command_key: str,
    parameters: dict[str, object],
    target_schema: str,
    batches: list[PlannedBatch],
    legacy_snapshot: str | None = None,
) -> str:
    """A new run with its planned batches; ``legacy_snapshot`` is the point of legacy history it covers."""
    run_id = str(uuid.uuid4())
    with conn.transaction():
        conn.execute(
            "INSERT INTO statsfirst.migration_runs (run_id, command_key, parameters, target_schema, status, "
            "legacy_snapshot) VALUES (%s, %s, %s, %s, 'running', %s::pg_snapshot)",
            (run_id, command_key, json.dumps(parameters), target_schema, legacy_snapshot),
        )
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY statsfirst.migration_batches (run_id, batch_no, first_id, last_id, session_count) FROM STDIN"
            ) as copy,
        ):
            for b in batches:
                copy.write_row((run_id, b.batch_no, b.first_id, b.last_id, b.session_count))
    return run_id


def pending_batches(conn: psycopg.Connection, run_id: str) -> list[PlannedBatch]:
    rows = conn.execute(
        "SELECT batch_no, first_id::text, last_id::text, session_count FROM statsfirst.migration_batches "
        "WHERE run_id = %s AND status = 'pending' ORDER BY batch_no",
        (run_id,),
    ).fetchall()
    return [PlannedBatch(*row) for row in rows]


def resume_state(conn: psycopg.Connection, run_id: str) -> tuple[list[PlannedBatch], list[dict[str, object]]]:
    """(pending batches, outcomes of committed ones) read in one statement, so in one snapshot.

    Two separate reads let a batch that another process commits in between count as both, which doubled it in the
    summary of a second ``migrate`` running the same range.
    """
    rows = conn.execute(
        "SELECT batch_no, first_id::text, last_id::text, session_count, status, outcome "
        "FROM statsfirst.migration_batches WHERE run_id = %s ORDER BY batch_no",
        (run_id,),
    ).fetchall()
    pending = [PlannedBatch(*row[:4]) for row in rows if row[4] == "pending"]
    committed = [row[5] for row in rows if row[4] == "committed"]
    return pending, committed


def mark_committed(conn: psycopg.Connection, run_id: str, batch_no: int, outcome: dict[str, object]) -> None:
    conn.execute(
        "UPDATE statsfirst.migration_batches SET status = 'committed', committed_at = now(), outcome = %s "
        "WHERE run_id = %s AND batch_no = %s",
        (json.dumps(outcome), run_id, batch_no),
    )


def committed_outcomes(conn: psycopg.Connection, run_id: str) -> list[dict[str, object]]:
    rows = conn.execute(
        "SELECT outcome FROM statsfirst.migration_batches WHERE run_id = %s AND status = 'committed'", (run_id,)
    ).fetchall()
    return [row[0] for row in rows]


def finish_run(conn: psycopg.Connection, run_id: str, totals: dict[str, object]) -> None:
    with conn.transaction():
        conn.execute(
            "UPDATE statsfirst.migration_runs SET status = 'completed', finished_at = now(), totals = %s "
            "WHERE run_id = %s",
            (json.dumps(totals), run_id),
        )
