"""Floor: the I/O no migration can avoid, in two variants. Each runs in its own process (``--variant``), on its own
fresh copy of the seeded database, so that each one's wall time and CPU (client + server backends, measured by the
orchestrator) are its own and both start from identical state.

Both variants COPY out exactly the legacy columns and JSON paths the mapping reads (to a sink, one connection), then
COPY in the finished rows (statsfirst's own output, dumped beforehand in binary format by :func:`dump_tables`) into
the target tables ``stats.*`` and the bookkeeping tables ``statsfirst.*``, table after table in load order, on one
connection, in one transaction. They differ in what the tables carry during the COPY.

``--variant finished`` ("copy_into_finished_tables", the default): the tables as statsfirst finds them, with every
index, CHECK, foreign key and trigger in place, so each row is checked and indexed as it arrives.
seconds = copy_out_s + copy_in_s.

``--variant bare`` (a bulk load as pgloader does it, the true floor): before the COPY, the definitions of the
loaded tables' indexes and constraints are recorded (``pg_get_indexdef``, ``pg_get_constraintdef``, with their
comments) and dropped: every secondary index (every index that is not the primary key's: plain, partial, unique),
every UNIQUE constraint, every foreign key, every CHECK, and the primary keys too. Triggers, NOT NULL and defaults
stay (they are part of pgloader's CREATE TABLE). Then come the timed phases (drop_s is the drop, ~0.1 s, on empty
tables); after the COPY:

* build_indexes_s: every dropped index is rebuilt from its own ``pg_get_indexdef`` statement, on
  ``--index-connections`` connections (default 2, as pgloader builds a table's indexes in parallel; the benchmark
  machine has 2 cores), the biggest table's first. Then the primary keys and UNIQUE constraints are attached to
  their rebuilt unique indexes (``ALTER TABLE ... ADD CONSTRAINT ... PRIMARY KEY | UNIQUE USING INDEX``, a catalog
  change, which is how pgloader builds primary keys), and the comments are restored.
* validate_constraints_s: every foreign key and CHECK is added back ``NOT VALID`` (a catalog change), then
  ``ALTER TABLE ... VALIDATE CONSTRAINT`` runs for each of them (a scan of the table, or an anti-join for a foreign
  key). VALIDATE takes SHARE UPDATE EXCLUSIVE, which conflicts with itself, so one table's validations run in
  sequence while different tables run in parallel on the same connections. With ``--checks one-pass``, each
  table's CHECKs are instead added already validated in one ``ALTER TABLE`` (one scan for all of them instead of
  one per CHECK: emg_statistics has ~40; at 100,000 sessions validate_constraints_s fell from 3.2 s to 1.4 s),
  then the foreign keys are validated as above.

Primary keys: dropped and rebuilt by default, because that is what a bulk loader does and it is the lower bound:
the ids are random uuids, so keeping the key means a random-order B-tree insert per row during the COPY, where a
rebuild is one sort. ``--keep-primary-keys`` measures the other choice: at 100,000 sessions on a loaded 2-core
machine both took the same CPU (22.1 s kept, 21.8 s rebuilt; client + server), with more time in copy_in_s and
less in build_indexes_s, and walls within the noise.

Session settings on every connection of the bare variant: ``maintenance_work_mem`` = ``--maintenance-work-mem``
(default 256MB; PostgreSQL also runs a foreign key's validation query with work_mem raised to
maintenance_work_mem) and ``max_parallel_maintenance_workers`` = ``--parallel-maintenance-workers`` (default 0: the
two connections already use both cores; 2 measured no better).

Honesty (untimed, reported as untimed_checks_s):

* Before anything is dropped, the whole drop-and-rebuild is rehearsed on the still-empty tables in a transaction
  that is rolled back. This proves the statements work and gives the server's own reading of the recorded
  definitions.
* Every index, constraint, foreign-key trigger, user trigger and column of the loaded tables is described (sorted
  definitions, flags, owning constraints, comments, NOT NULL, defaults). The description after the rebuild must
  equal the rehearsal's exactly.
* The rehearsal's description must equal the original's except in definition text. That difference is a known
  one: ``x BETWEEN 0 AND 1`` inside an AND is stored as a nested AND, and the parser flattens the deparsed
  ``(a AND b) AND c``. Two CHECKs (the performance_weights checks) come back reworded this way, listed in
  definitions_reworded_by_server; they are the same constraints, as pg_dump and pg_restore would rebuild them.
* No constraint may be left NOT VALID (``pg_constraint.convalidated``).

Any failure exits with status 1 and the difference on stderr. A foreign key from a table outside the load that
references a dropped index, or an EXCLUDE constraint, is refused up front.
seconds = copy_out_s + drop_s + copy_in_s + build_indexes_s + validate_constraints_s.

Usage: python -m contenders.floor --dsn DSN --dump-dir DIR [--variant finished|bare] [--keep-primary-keys]
       [--checks validate|one-pass] [--index-connections 2] [--maintenance-work-mem 256MB]
       [--parallel-maintenance-workers 0]
DIR holds ``<schema>.<table>.bin`` files and ``tables.txt`` (load order), written by :func:`dump_tables`.
Prints one JSON object (see :func:`run_finished` and :func:`run_bare`).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import psycopg
from psycopg import sql

from contenders.common import TARGET_SCHEMA, emit

# The channel numbers and temporal fields the mapping reads (mapping.md §emg_statistics, §processing_parameters).
CHANNEL_NUMBERS = (
    "contraction_count", "good_contraction_count", "mvc_contraction_count", "duration_contraction_count",
    "avg_duration_ms", "min_duration_ms", "max_duration_ms", "total_time_under_tension_ms",
    "duration_threshold_actual_value", "avg_amplitude", "max_amplitude", "rms", "mav", "mvc_threshold_actual_value",
    "mpf", "mdf", "fatigue_index_fi_nsm5", "expected_contractions", "mvc_estimation_method",
)
TEMPORAL_BLOCKS = ("rms_temporal_stats", "mav_temporal_stats", "mpf_temporal_stats", "mdf_temporal_stats",
                   "fatigue_index_temporal_stats")


def _channel_fields() -> str:
    fields = [f"ch.value ->> '{name}'" for name in CHANNEL_NUMBERS]
    fields += [f"ch.value #>> '{{{block},{f}}}'" for block in TEMPORAL_BLOCKS for f in ("mean_value", "std_value")]
    fields += [f"ch.value #> '{{signal_processing,{part}}}'" for part in ("processing_steps", "parameters_used")]
    return ", ".join(fields)


# What the mapping reads, and nothing else: each analytics_data is detoasted once; the current analysis is picked by
# the reader from (session, created_at, id), as statsfirst does.
COPY_OUT: dict[str, str] = {
    "c3d_metadata": """
        SELECT id, file_path, file_hash, file_size_bytes, patient_id, therapist_id, session_id, session_date,
               session_type, game_metadata, channel_names, channel_count, sampling_rate, duration_seconds, frame_count,
               resolved_patient_id, resolved_therapist_id, resolved_session_date, processing_status,
               processing_version, error_message, created_at, updated_at, processed_at
        FROM public.c3d_metadata""",
    "analysis_results": """
        SELECT id, c3d_metadata_id, processing_version, processing_params, processing_time_ms, cache_hits,
               last_accessed_at, expires_at, created_at
        FROM public.analysis_results""",
    "analytics_data channels": f"""
        SELECT a.id, ch.key, {_channel_fields()}
        FROM public.analysis_results a CROSS JOIN LATERAL jsonb_each(a.analytics_data) ch""",
    "session_settings (linked)": """
        SELECT c.id, s.user_id, s.session_id, s.updated_at, s.params
        FROM public.c3d_metadata c JOIN public.session_settings s ON s.session_id = c.session_id
        UNION ALL
        SELECT c.id, s.user_id, s.session_id, s.updated_at, s.params
        FROM public.c3d_metadata c JOIN public.session_settings s
             ON s.session_id = c.id::text AND s.session_id IS DISTINCT FROM c.session_id""",
    "patients, therapists": "SELECT patient_code FROM public.patients UNION ALL SELECT id::text FROM public.therapists",
}
TARGET_TABLES = ("therapy_sessions", "emg_statistics", "performance_scores", "bfr_monitoring", "session_settings",
                 "export_history", "signal_processing_cache", "processing_parameters")
BOOKKEEPING_TABLES = ("migration_runs", "migration_batches", "session_lineage", "analysis_lineage", "quarantine")
VARIANTS = ("finished", "bare")


def dump_tables(dsn: str, directory: Path, schema: str = TARGET_SCHEMA) -> list[str]:
    """Write every table a statsfirst run fills (target and bookkeeping) as binary COPY files; returns load order."""
    order = [f"{schema}.{t}" for t in TARGET_TABLES] + [f"statsfirst.{t}" for t in BOOKKEEPING_TABLES]
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        for qualified in order:
            name = sql.Identifier(*qualified.split("."))
            with (directory / f"{qualified}.bin").open("wb") as out, cur.copy(
                sql.SQL("COPY {} TO STDOUT (FORMAT binary)").format(name)
            ) as copy:
                for chunk in copy:
                    out.write(chunk)
    (directory / "tables.txt").write_text("\n".join(order) + "\n", encoding="utf-8")
    return order


def _table(qualified: str) -> sql.Identifier:
    return sql.Identifier(*qualified.split("."))


# ----------------------------------------------------------------------------------------------- the two COPY phases
@dataclass
class CopyStats:
    seconds: float = 0.0
    bytes: int = 0
    by_part: dict[str, float] = field(default_factory=dict)


def copy_out(conn: psycopg.Connection) -> CopyStats:
    """COPY out what the mapping reads, to a sink (one transaction)."""
    stats = CopyStats()
    started = time.perf_counter()
    with conn.transaction(), conn.cursor() as cur:
        for label, query in COPY_OUT.items():
            t0 = time.perf_counter()
            with cur.copy(f"COPY ({query}) TO STDOUT") as copy:
                for chunk in copy:
                    stats.bytes += len(chunk)
            stats.by_part[label] = round(time.perf_counter() - t0, 3)
    stats.seconds = time.perf_counter() - started
    return stats


def copy_in(conn: psycopg.Connection, dump_dir: Path, tables: Sequence[str]) -> CopyStats:
    """COPY the dumped rows in, table after table in load order, in one transaction."""
    stats = CopyStats()
    started = time.perf_counter()
    with conn.transaction(), conn.cursor() as cur:
        for qualified in tables:
            t0 = time.perf_counter()
            statement = sql.SQL("COPY {} FROM STDIN (FORMAT binary)").format(_table(qualified))
            with (dump_dir / f"{qualified}.bin").open("rb") as source, cur.copy(statement) as copy:
                while block := source.read(1 << 20):
                    stats.bytes += len(block)
                    copy.write(block)
            stats.by_part[qualified] = round(time.perf_counter() - t0, 3)
    stats.seconds = time.perf_counter() - started
    return stats


# ----------------------------------------------------------------------------------------------- the catalog
@dataclass(frozen=True)
class Index:
    table: str  # regclass text of the table
    schema: str
    name: str
    definition: str  # pg_get_indexdef
    primary: bool
    constraint: str | None  # the PRIMARY KEY / UNIQUE / EXCLUDE constraint it backs
    comment: str | None


@dataclass(frozen=True)
class Constraint:
    table: str
    name: str
    contype: str  # p, u, f, c (x and t are refused)
    definition: str  # pg_get_constraintdef (ends in NOT VALID when not validated)
    deferrable: bool
    deferred: bool
    validated: bool
    comment: str | None


INDEXES_SQL = """
    SELECT i.indrelid::regclass::text, n.nspname, c.relname, pg_get_indexdef(i.indexrelid), i.indisprimary,
           con.conname, obj_description(i.indexrelid, 'pg_class')
    FROM pg_index i
    JOIN pg_class c ON c.oid = i.indexrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_constraint con
           ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')
    WHERE i.indrelid = ANY(%(tables)s::regclass[])"""
CONSTRAINTS_SQL = """
    SELECT con.conrelid::regclass::text, con.conname, con.contype::text, pg_get_constraintdef(con.oid),
           con.condeferrable, con.condeferred, con.convalidated, obj_description(con.oid, 'pg_constraint')
    FROM pg_constraint con
    WHERE con.conrelid = ANY(%(tables)s::regclass[]) AND con.contype <> 'n'"""  # NOT NULL (PG 18+) stays put
# What must come back identical: every column that describes an index, a constraint or a trigger of the loaded
# tables (object ids and the generated names of internal triggers aside). Index and constraint rows end with their
# definition text (see ``compare``).
DESCRIBE_SQL: dict[str, str] = {
    "index": """
        SELECT i.indrelid::regclass::text, c.relname, i.indisprimary, i.indisunique, i.indisexclusion,
               i.indimmediate, i.indisclustered, i.indisvalid, i.indisready, i.indislive, i.indisreplident,
               i.indnatts, i.indnkeyatts, c.reloptions::text, c.reltablespace, con.conname, con.contype::text,
               obj_description(i.indexrelid, 'pg_class'), pg_get_indexdef(i.indexrelid)
        FROM pg_index i
        JOIN pg_class c ON c.oid = i.indexrelid
        LEFT JOIN pg_constraint con
               ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')
        WHERE i.indrelid = ANY(%(tables)s::regclass[])""",
    "constraint": """
        SELECT con.conrelid::regclass::text, con.conname, con.contype::text, con.condeferrable, con.condeferred,
               con.convalidated, con.conislocal, con.coninhcount, con.connoinherit,
               NULLIF(con.conindid, 0)::regclass::text, NULLIF(con.confrelid, 0)::regclass::text,
               con.conkey::text, con.confkey::text, con.confupdtype::text, con.confdeltype::text,
               con.confmatchtype::text, obj_description(con.oid, 'pg_constraint'), pg_get_constraintdef(con.oid)
        FROM pg_constraint con
        WHERE con.conrelid = ANY(%(tables)s::regclass[])""",
    "constraint trigger": """
        SELECT t.tgrelid::regclass::text, con.conrelid::regclass::text, con.conname, t.tgfoid::regprocedure::text,
               t.tgtype, t.tgenabled::text, t.tgdeferrable, t.tginitdeferred, t.tgnargs,
               NULLIF(t.tgconstrrelid, 0)::regclass::text, NULLIF(t.tgconstrindid, 0)::regclass::text
        FROM pg_trigger t
        JOIN pg_constraint con ON con.oid = t.tgconstraint
        WHERE t.tgisinternal
          AND (t.tgrelid = ANY(%(tables)s::regclass[]) OR con.conrelid = ANY(%(tables)s::regclass[]))""",
    "trigger": """
        SELECT t.tgrelid::regclass::text, t.tgname, pg_get_triggerdef(t.oid), t.tgenabled::text
        FROM pg_trigger t
        WHERE NOT t.tgisinternal AND t.tgrelid = ANY(%(tables)s::regclass[])""",
    "column": """
        SELECT a.attrelid::regclass::text, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
               a.attidentity::text, a.attgenerated::text, pg_get_expr(d.adbin, d.adrelid)
        FROM pg_attribute a
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attrelid = ANY(%(tables)s::regclass[]) AND a.attnum > 0 AND NOT a.attisdropped""",
}


Description = list[tuple[str, ...]]


def describe(conn: psycopg.Connection, tables: Sequence[str]) -> Description:
    """The sorted catalog description of ``tables``: indexes, constraints, their triggers, the user triggers."""
    rows: Description = []
    for kind, query in DESCRIBE_SQL.items():
        rows += [(kind, *(str(v) for v in row)) for row in conn.execute(query, {"tables": list(tables)})]
    return sorted(rows)


def differences(before: Description, after: Description) -> list[str]:
    """Rows of ``before`` missing from ``after`` (-) and rows of ``after`` not in ``before`` (+)."""
    return [f"  - {row}" for row in sorted(set(before) - set(after))] + [
        f"  + {row}" for row in sorted(set(after) - set(before))
    ]


def reworded(before: Description, canonical: Description) -> list[str] | None:
    """The indexes and constraints whose definition text alone differs between ``before`` and ``canonical``
    (``None`` if anything else differs). The server's deparsed text of an expression does not always parse back
    into the same tree: ``x BETWEEN 0 AND 1`` inside an AND is stored as a nested AND, deparsed with parentheses,
    and the parser flattens ``(a AND b) AND c`` on sight, so the rebuilt CHECK reads ``a AND b AND c``: the same
    constraint, as pg_dump and pg_restore would rebuild it."""
    def key(rows: Description) -> list[tuple[str, ...]]:
        return sorted(r[:-1] if r[0] in ("index", "constraint") else r for r in rows)

    if key(before) != key(canonical):
        return None
    return sorted(f"{r[1]}.{r[2]}" for r in set(before) - set(canonical))


def read_schema(conn: psycopg.Connection, tables: Sequence[str]) -> tuple[list[Index], list[Constraint]]:
    params = {"tables": list(tables)}
    indexes = [Index(*row) for row in conn.execute(INDEXES_SQL, params)]
    constraints = [Constraint(*row) for row in conn.execute(CONSTRAINTS_SQL, params)]
    refused = [c for c in constraints if c.contype not in ("p", "u", "f", "c")]
    if refused:
        raise SystemExit(f"floor --variant bare: cannot drop and rebuild {refused}")
    # a foreign key from a table outside the load that references an index we would drop would be lost
    outside = conn.execute(
        """SELECT conrelid::regclass::text, conname FROM pg_constraint
           WHERE contype = 'f' AND confrelid = ANY(%(tables)s::regclass[])
             AND NOT conrelid = ANY(%(tables)s::regclass[])""",
        params,
    ).fetchall()
    if outside:
        raise SystemExit(f"floor --variant bare: foreign keys from tables outside the load reference it: {outside}")
    return indexes, constraints


# ----------------------------------------------------------------------------------------------- the bare variant
@dataclass
class Plan:
    """What the bare variant drops and rebuilds."""

    indexes: list[Index]  # rebuilt by CREATE [UNIQUE] INDEX
    keys: list[Constraint]  # PRIMARY KEY / UNIQUE constraints, attached to their rebuilt index
    checked: list[Constraint]  # foreign keys and CHECKs, added NOT VALID then validated

    @classmethod
    def of(cls, indexes: list[Index], constraints: list[Constraint], keep_primary_keys: bool) -> Plan:
        keys = [c for c in constraints if c.contype in ("p", "u") and not (keep_primary_keys and c.contype == "p")]
        kept = {(c.table, c.name) for c in constraints if c.contype == "p" and keep_primary_keys}
        return cls(
            indexes=[i for i in indexes if (i.table, i.constraint) not in kept],
            keys=keys,
            checked=[c for c in constraints if c.contype in ("f", "c")],
        )

    def drop_statements(self) -> list[sql.Composed]:
        out = [
            sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(sql.SQL(c.table), sql.Identifier(c.name))
            for c in sorted(self.checked, key=lambda c: c.contype != "f")  # foreign keys first
        ]
        out += [sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(sql.SQL(c.table), sql.Identifier(c.name))
                for c in sorted(self.keys, key=lambda c: c.contype != "u")]  # UNIQUE before PRIMARY KEY
        out += [sql.SQL("DROP INDEX {}").format(sql.Identifier(i.schema, i.name))
                for i in self.indexes if i.constraint is None]
        return out

    def attach_statements(self) -> list[sql.Composed]:
        """Primary keys and UNIQUE constraints onto their rebuilt indexes; index comments back."""
        backing = {(i.table, i.constraint): i for i in self.indexes if i.constraint}
        out = []
        for c in sorted(self.keys, key=lambda c: c.contype != "p"):
            kind = sql.SQL("PRIMARY KEY" if c.contype == "p" else "UNIQUE")
            suffix = sql.SQL((" DEFERRABLE" if c.deferrable else "") + (" INITIALLY DEFERRED" if c.deferred else ""))
            out.append(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {} USING INDEX {}{}").format(
                sql.SQL(c.table), sql.Identifier(c.name), kind, sql.Identifier(backing[(c.table, c.name)].name), suffix
            ))
        out += [sql.SQL("COMMENT ON INDEX {} IS {}").format(sql.Identifier(i.schema, i.name), sql.Literal(i.comment))
                for i in self.indexes if i.comment is not None]
        out += [sql.SQL("COMMENT ON CONSTRAINT {} ON {} IS {}").format(
                    sql.Identifier(c.name), sql.SQL(c.table), sql.Literal(c.comment))
                for c in self.keys if c.comment is not None]
        return out

    def one_pass(self, c: Constraint, checks: str) -> bool:
        """Is ``c`` a valid CHECK that ``--checks one-pass`` adds validated, with the others of its table?"""
        return checks == "one-pass" and c.contype == "c" and c.validated

    def add_not_valid_statements(self, checks: str) -> list[sql.Composed]:
        """Foreign keys and CHECKs back, NOT VALID (catalog only), one ALTER TABLE per table (with ``--checks
        one-pass``, the valid CHECKs are left to :meth:`validation_phases`)."""
        by_table: dict[str, list[sql.Composable]] = {}
        for c in sorted(self.checked, key=lambda c: c.contype != "c"):
            if self.one_pass(c, checks):
                continue
            definition = c.definition if not c.validated else f"{c.definition} NOT VALID"  # already says NOT VALID
            by_table.setdefault(c.table, []).append(
                sql.SQL("ADD CONSTRAINT {} {}").format(sql.Identifier(c.name), sql.SQL(definition))
            )
        return [sql.SQL("ALTER TABLE {} {}").format(sql.SQL(t), sql.SQL(", ").join(a)) for t, a in by_table.items()]

    def validation_phases(self, checks: str) -> list[dict[str, list[sql.Composed]]]:
        """Phases run one after the other; in a phase, per table, statements in order (tables in parallel).

        ``validate``: one phase, VALIDATE CONSTRAINT of every foreign key and CHECK that was valid before (each
        CHECK scans the table once). ``one-pass``: first each table's valid CHECKs are added, validated, in one
        ALTER TABLE (one scan of the table for all of them, under ACCESS EXCLUSIVE), then the foreign keys are
        validated (a separate phase: a foreign key's validation locks the referenced table, which the first phase
        may hold exclusively)."""
        validate: dict[str, list[sql.Composed]] = {}
        added: dict[str, list[sql.Composable]] = {}
        for c in sorted(self.checked, key=lambda c: (c.contype != "f", c.name)):
            if self.one_pass(c, checks):
                added.setdefault(c.table, []).append(
                    sql.SQL("ADD CONSTRAINT {} {}").format(sql.Identifier(c.name), sql.SQL(c.definition))
                )
            elif c.validated:
                validate.setdefault(c.table, []).append(
                    sql.SQL("ALTER TABLE {} VALIDATE CONSTRAINT {}").format(sql.SQL(c.table), sql.Identifier(c.name))
                )
        first = {t: [sql.SQL("ALTER TABLE {} {}").format(sql.SQL(t), sql.SQL(", ").join(a))] for t, a in added.items()}
        return [phase for phase in (first, validate) if phase]

    def comment_statements(self) -> list[sql.Composed]:
        return [sql.SQL("COMMENT ON CONSTRAINT {} ON {} IS {}").format(
                    sql.Identifier(c.name), sql.SQL(c.table), sql.Literal(c.comment))
                for c in self.checked if c.comment is not None]


def run_parallel(
    connections: Sequence[psycopg.Connection], tasks: Sequence[tuple[str, Sequence[sql.SQL | sql.Composed]]]
) -> dict[str, float]:
    """Run each task's statements in order on one of ``connections`` (autocommit), tasks in the given order on
    whichever connection is free first; returns each task's seconds. The first error stops everything and is
    raised."""
    pending = list(reversed(tasks))
    lock = threading.Lock()
    seconds: dict[str, float] = {}
    errors: list[BaseException] = []

    def worker(conn: psycopg.Connection) -> None:
        while True:
            with lock:
                if errors or not pending:
                    return
                label, statements = pending.pop()
            t0 = time.perf_counter()
            try:
                for statement in statements:
                    conn.execute(statement)
            except BaseException as exc:
                with lock:
                    errors.append(exc)
                return
            seconds[label] = round(time.perf_counter() - t0, 3)

    threads = [threading.Thread(target=worker, args=(c,)) for c in connections[: max(1, len(tasks))]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return seconds


def fail(message: str, details: Sequence[str] = ()) -> NoReturn:
    print(f"floor --variant bare: {message}", file=sys.stderr)
    for line in details:
        print(line, file=sys.stderr)
    raise SystemExit(1)


def relation_sizes(conn: psycopg.Connection, tables: Sequence[str]) -> dict[str, int]:
    rows = conn.execute(
        "SELECT t::regclass::text, pg_relation_size(t::regclass) FROM unnest(%s::text[]) t", (list(tables),)
    ).fetchall()
    return {name: size for name, size in rows}


def timed(step: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    value = step()
    return time.perf_counter() - t0, value


def run_bare(args: argparse.Namespace, tables: list[str]) -> dict[str, Any]:
    settings = [
        sql.SQL("SET maintenance_work_mem = {}").format(sql.Literal(args.maintenance_work_mem)),
        sql.SQL("SET max_parallel_maintenance_workers = {}").format(sql.Literal(args.parallel_maintenance_workers)),
    ]
    conns = [psycopg.connect(args.dsn, autocommit=True) for _ in range(max(1, args.index_connections))]
    try:
        for conn in conns:
            for statement in settings:
                conn.execute(statement)
        main = conns[0]
        checks_started = time.perf_counter()
        before = describe(main, tables)
        indexes, constraints = read_schema(main, tables)
        plan = Plan.of(indexes, constraints, args.keep_primary_keys)
        # untimed rehearsal on the still empty tables, rolled back: the statements work, and the server's own
        # reading of the recorded definitions is what the real rebuild must end with, exactly
        with main.transaction(force_rollback=True):
            for statement in plan.drop_statements():
                main.execute(statement)
            for index in plan.indexes:
                main.execute(sql.SQL(index.definition))
            for statement in plan.attach_statements() + plan.add_not_valid_statements(args.checks):
                main.execute(statement)
            for phase in plan.validation_phases(args.checks):
                for statements in phase.values():
                    for statement in statements:
                        main.execute(statement)
            for statement in plan.comment_statements():
                main.execute(statement)
            canonical = describe(main, tables)
        changed = reworded(before, canonical)
        if changed is None:
            fail("the rebuilt schema differs from the original beyond definition text", differences(before, canonical))
        untimed_s = time.perf_counter() - checks_started

        out = copy_out(main)

        def drop() -> None:
            with main.transaction():
                for statement in plan.drop_statements():
                    main.execute(statement)

        drop_s, _ = timed(drop)
        left_indexes, left_constraints = read_schema(main, tables)
        left = sorted(i.name for i in left_indexes) + sorted(c.name for c in left_constraints)
        expected = sorted(i.name for i in indexes if i not in plan.indexes) + sorted(
            c.name for c in constraints if c not in plan.keys and c not in plan.checked
        )
        if left != expected:
            raise SystemExit(f"floor --variant bare: after the drop {left} remain, expected {expected}")

        loaded = copy_in(main, args.dump_dir, tables)

        def build() -> dict[str, float]:
            sizes = relation_sizes(main, tables)  # biggest table first (longest processing time first)
            order = sorted(plan.indexes, key=lambda i: (-sizes.get(i.table, 0), i.name))
            by_index = run_parallel(conns, [(f"{i.schema}.{i.name}", [sql.SQL(i.definition)]) for i in order])
            for statement in plan.attach_statements():
                main.execute(statement)
            return by_index

        build_s, by_index = timed(build)

        def validate() -> dict[str, float]:
            with main.transaction():
                for statement in plan.add_not_valid_statements(args.checks):
                    main.execute(statement)
            sizes = relation_sizes(main, tables)
            by_table: dict[str, float] = {}
            for n, work in enumerate(plan.validation_phases(args.checks)):
                order = sorted(work, key=lambda t: (-sizes.get(t, 0) * len(work[t]), t))
                seconds = run_parallel(conns, [(t, work[t]) for t in order])
                by_table.update({f"{t} ({n + 1})" if args.checks == "one-pass" else t: s for t, s in seconds.items()})
            for statement in plan.comment_statements():
                main.execute(statement)
            return by_table

        validate_s, by_table = timed(validate)

        checks_started = time.perf_counter()
        after = describe(main, tables)
        if after != canonical:
            fail("the rebuilt schema differs from the original", differences(canonical, after))
        not_valid = main.execute(
            "SELECT conrelid::regclass::text, conname FROM pg_constraint "
            "WHERE conrelid = ANY(%s::regclass[]) AND NOT convalidated",
            (tables,),
        ).fetchall()
        originally_not_valid = sorted((c.table, c.name) for c in constraints if not c.validated)
        if sorted(not_valid) != originally_not_valid:
            raise SystemExit(f"floor --variant bare: constraints left NOT VALID: {not_valid}")
        untimed_s += time.perf_counter() - checks_started
    finally:
        for conn in conns:
            conn.close()

    seconds = out.seconds + drop_s + loaded.seconds + build_s + validate_s
    return {
        "variant": "bare",
        "seconds": round(seconds, 3),
        "copy_out_s": round(out.seconds, 3),
        "drop_s": round(drop_s, 3),
        "copy_in_s": round(loaded.seconds, 3),
        "copy_in_target_tables_s": round(
            sum(s for t, s in loaded.by_part.items() if t.startswith(f"{TARGET_SCHEMA}.")), 3
        ),
        "build_indexes_s": round(build_s, 3),
        "validate_constraints_s": round(validate_s, 3),
        "bytes_out": out.bytes,
        "bytes_in": loaded.bytes,
        "copy_out_by_source": out.by_part,
        "copy_in_by_table": loaded.by_part,
        "build_index_s_by_index": by_index,
        "validate_s_by_table": by_table,
        "primary_keys": "kept" if args.keep_primary_keys else "rebuilt",
        "indexes_rebuilt": len(plan.indexes),
        "keys_attached": len(plan.keys),
        "foreign_keys_validated": sum(1 for c in plan.checked if c.contype == "f" and c.validated),
        "checks_validated": sum(1 for c in plan.checked if c.contype == "c" and c.validated),
        "checks": args.checks,
        "index_connections": len(conns),
        "maintenance_work_mem": args.maintenance_work_mem,
        "max_parallel_maintenance_workers": args.parallel_maintenance_workers,
        "schema_identical": True,
        "untimed_checks_s": round(untimed_s, 3),
        "definitions_reworded_by_server": changed,
    }


def run_finished(args: argparse.Namespace, tables: list[str]) -> dict[str, Any]:
    with psycopg.connect(args.dsn, autocommit=True) as conn:
        out = copy_out(conn)
        loaded = copy_in(conn, args.dump_dir, tables)
    return {
        "variant": "finished",
        "seconds": round(out.seconds + loaded.seconds, 3),
        "copy_out_s": round(out.seconds, 3),
        "copy_in_s": round(loaded.seconds, 3),
        "copy_in_target_tables_s": round(
            sum(s for t, s in loaded.by_part.items() if t.startswith(f"{TARGET_SCHEMA}.")), 3
        ),
        "bytes_out": out.bytes,
        "bytes_in": loaded.bytes,
        "copy_out_by_source": out.by_part,
        "copy_in_by_table": loaded.by_part,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--dump-dir", required=True, type=Path)
    parser.add_argument("--variant", choices=VARIANTS, default="finished")
    parser.add_argument("--keep-primary-keys", action="store_true", help="bare: keep the primary keys during COPY")
    parser.add_argument("--checks", choices=("validate", "one-pass"), default="validate",
                        help="bare: CHECKs added NOT VALID then validated one by one, or added validated per table")
    parser.add_argument("--index-connections", type=int, default=2, help="bare: connections for rebuilds")
    parser.add_argument("--maintenance-work-mem", default="256MB", help="bare: maintenance_work_mem")
    parser.add_argument("--parallel-maintenance-workers", type=int, default=0,
                        help="bare: max_parallel_maintenance_workers")
    args = parser.parse_args()
    tables = (args.dump_dir / "tables.txt").read_text(encoding="utf-8").split()
    emit(run_bare(args, tables) if args.variant == "bare" else run_finished(args, tables))


if __name__ == "__main__":
    main()
