"""COPY polars frames into temporary staging tables shaped like their targets.

A batch stages ten tables (seven targets, lineage, residuals, quarantine). Every round trip costs a network
latency (1 to tens of ms from a Prefect worker to Supabase), so all of them are created in one round trip and
each is then filled by one COPY; empty frames are not copied at all.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import polars as pl
import psycopg
from psycopg import sql

from statsfirst.load.table_specs import TableSpec


class LoadShapeError(RuntimeError):
    """A transform frame and its target table disagree on columns: a bug in statsfirst, never bad legacy data."""

    transient = False

_INTEGER_TYPES = {"integer", "bigint", "smallint"}


# Bounds every read of a legacy or target table to the batch's id range, so each batch costs an index range scan
# whatever the planner's statistics say (a hash join over the whole table per batch would make a run O(N^2)).
STAGED_RANGE = sql.SQL(
    "BETWEEN (SELECT id FROM stage_therapy_sessions ORDER BY id LIMIT 1) "
    "AND (SELECT id FROM stage_therapy_sessions ORDER BY id DESC LIMIT 1)"
)

# per connection (a run's connections live for the run; a schema applied between runs is seen by the next one)
_COLUMN_CACHE: weakref.WeakKeyDictionary[psycopg.Connection, dict[tuple[str, str], dict[str, str]]] = (
    weakref.WeakKeyDictionary()
)


@dataclass(frozen=True)
class Staged:
    """A filled staging table and the target columns it carries."""

    name: str
    columns: tuple[str, ...]


def target_columns(conn: psycopg.Connection, schema: str, table: str) -> dict[str, str]:
    """The target's column types, read once per connection and table (the schema does not change during a run)."""
    known = _COLUMN_CACHE.setdefault(conn, {})
    if (schema, table) not in known:
        known[(schema, table)] = _read_target_columns(conn, schema, table)
    return known[(schema, table)]


def loaded_columns(spec: TableSpec, frame_columns: list[str], types: dict[str, str]) -> list[str]:
    """The frame's columns to load: exactly the target's minus what the spec leaves to the database. A transform
    column that is misnamed, missing or unknown to the target is a bug, so it fails loudly here instead of loading
    as NULL (or being dropped) without a word."""
    expected = [c for c in types if c not in spec.not_loaded]
    unexpected = sorted(set(frame_columns) - set(expected) - set(spec.validation_only))
    missing = [c for c in expected if c not in frame_columns]
    problems = []
    if unexpected:
        problems.append(f"unknown to the target: {', '.join(unexpected)}")
    if missing:
        problems.append(f"missing: {', '.join(missing)}")
    if problems:
        raise LoadShapeError(f"the {spec.name} frame does not match the target table: {'; '.join(problems)}")
    return expected


def _read_target_columns(conn: psycopg.Connection, schema: str, table: str) -> dict[str, str]:
    rows = conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
        (schema, table),
    ).fetchall()
    return {name: data_type for name, data_type in rows}


def prepare_for_copy(frame: pl.DataFrame, types: dict[str, str]) -> pl.DataFrame:
    """Cast to the target's types and render values PostgreSQL's CSV COPY reads back exactly."""
    expressions = []
    for name in frame.columns:
        dtype = frame.schema[name]
        column = pl.col(name)
        target = types.get(name, "")
        if target in _INTEGER_TYPES and dtype.is_float():
            column = column.round().cast(pl.Int64)
        elif isinstance(dtype, pl.Datetime):
            utc = column.dt.convert_time_zone("UTC")
            # polars writes year 0 and before astronomically (-4712); PostgreSQL reads 4713 ... BC
            column = (
                pl.when(utc.dt.year() > 0)
                .then(utc.dt.strftime("%Y-%m-%d %H:%M:%S%.6f+00"))
                .otherwise(
                    (1 - utc.dt.year()).cast(pl.String).str.zfill(4) + utc.dt.strftime("-%m-%d %H:%M:%S%.6f+00 BC")
                )
            )
        elif isinstance(dtype, pl.List):
            column = pl.when(column.is_null()).then(None).otherwise(pl.lit("{") + column.list.join(",") + pl.lit("}"))
        expressions.append(column.alias(name))
    return frame.select(expressions)


@dataclass(frozen=True)
class StagingTable:
    """A temporary table to create and the CSV rows to COPY into it (None: nothing to copy)."""

    name: str
    create: sql.Composed
    copy: sql.Composed
    payload: bytes | None
    columns: tuple[str, ...] = ()  # of a target's staging table: the target columns it carries

    @property
    def staged(self) -> Staged:
        return Staged(self.name, self.columns)


def target_staging(conn: psycopg.Connection, schema: str, spec: TableSpec, frame: pl.DataFrame) -> StagingTable:
    """``stage_<table>`` (dropped at commit) with the loaded columns typed as in the target, and its rows."""
    table = spec.name
    stage = f"stage_{table}"
    types = target_columns(conn, schema, table)
    columns = loaded_columns(spec, frame.columns, types)
    payload = None
    if frame.height:
        csv = prepare_for_copy(frame.select(columns), types).write_csv(include_header=False, null_value="")
        payload = csv.encode("utf-8")
    column_list = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    return StagingTable(
        stage,
        sql.SQL("CREATE TEMP TABLE {stage} ON COMMIT DROP AS SELECT {cols} FROM {schema}.{table} WITH NO DATA").format(
            stage=sql.Identifier(stage), cols=column_list, schema=sql.Identifier(schema), table=sql.Identifier(table)
        ),
        sql.SQL("COPY {stage} ({cols}) FROM STDIN (FORMAT csv)").format(stage=sql.Identifier(stage), cols=column_list),
        payload,
        tuple(columns),
    )


def bookkeeping_staging(name: str, columns: sql.SQL, frame: pl.DataFrame) -> StagingTable:
    """A bookkeeping staging table (``columns``: its column definitions, in the frame's order), dropped at commit."""
    table = sql.Identifier(name)
    return StagingTable(
        name,
        sql.SQL("CREATE TEMP TABLE {} ({}) ON COMMIT DROP").format(table, columns),
        sql.SQL("COPY {} FROM STDIN (FORMAT csv)").format(table),
        frame.write_csv(include_header=False).encode("utf-8") if frame.height else None,
    )


def fill_staging(conn: psycopg.Connection, tables: list[StagingTable]) -> None:
    """Every CREATE in one round trip (a multi-statement simple query: no parameters), then one COPY per table."""
    conn.execute(sql.SQL("; ").join(t.create for t in tables))
    with conn.cursor() as cur:
        for table in tables:
            if table.payload is not None:
                with cur.copy(table.copy) as copy:
                    copy.write(table.payload)


def copy_to_staging(conn: psycopg.Connection, schema: str, spec: TableSpec, frame: pl.DataFrame) -> Staged:
    """One target staging table created and filled on its own (the batch loader stages all ten at once)."""
    table = target_staging(conn, schema, spec, frame)
    fill_staging(conn, [table])
    return table.staged
