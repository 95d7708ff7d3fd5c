"""The schema runner: applies ``sql/`` migrations in order with a ledger, checksums and an advisory lock.

Like Flyway/Sqitch: each migration runs in its own transaction together with its ledger row, so a failing file
leaves no objects and no record; an applied versioned file whose bytes changed is refused (drift) before anything
runs; repeatable files (first line ``-- statsfirst:repeatable``) are re-applied when their checksum changes; a
session advisory lock serialises concurrent applies. The legacy tables are never touched.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql
from rich.table import Table

from statsfirst.db.catalog import relation_exists
from statsfirst.db.connection import connection
from statsfirst.db.dsn import ResolvedDsn
from statsfirst.errors import SchemaStateError, UsageError
from statsfirst.paths import sql_dir

BOOKKEEPING_SCHEMA = "statsfirst"
LEGACY_SCHEMA = "public"
DEFAULT_TARGET_SCHEMA = "public"
COMPAT_FILE = "supabase_compat.sql"
REPEATABLE_MARKER = "-- statsfirst:repeatable"
# pg_advisory_lock key: "statsfirst schema" folded to a bigint; constant so every client agrees.
SCHEMA_LOCK_KEY = int.from_bytes(hashlib.sha256(b"statsfirst schema apply").digest()[:8], "big", signed=True)
LEGACY_REFERENCED_TABLES = ("patients", "therapists", "researcher_profiles")
_FILE_PATTERN = re.compile(r"^(?P<version>\d{3})_(?P<name>[a-z0-9_]+)\.sql$")
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_RESERVED_SCHEMAS = {BOOKKEEPING_SCHEMA, "auth", "information_schema", "legacy_seed"}

Log = Callable[[str], object]


@dataclass(frozen=True)
class Migration:
    """One SQL file of ``sql/``."""

    version: str
    name: str
    path: Path
    kind: str  # versioned | repeatable | compat
    checksum: str

    @property
    def filename(self) -> str:
        return self.path.name

    def text(self) -> str:
        return self.path.read_text(encoding="utf-8")


@dataclass(frozen=True)
class LedgerRow:
    version: str
    name: str
    kind: str
    checksum: str
    target_schema: str


@dataclass(frozen=True)
class PlanItem:
    migration: Migration
    action: str  # apply | reapply | skip
    reason: str


@dataclass
class ApplyReport:
    target_schema: str
    dry_run: bool
    plan: list[PlanItem] = field(default_factory=list)
    applied: list[tuple[Migration, float]] = field(default_factory=list)

    def summary(self) -> str:
        pending = [item for item in self.plan if item.action != "skip"]
        if not pending:
            return f"schema is up to date in '{self.target_schema}' (nothing to apply)"
        if self.dry_run:
            return f"dry run: {len(pending)} migration(s) would be applied to '{self.target_schema}'; nothing changed"
        total = sum(seconds for _, seconds in self.applied)
        return f"applied {len(self.applied)} migration(s) to '{self.target_schema}' in {total:.2f} s"


@dataclass
class StatusReport:
    target_schema: str | None
    rows: list[tuple[str, str, str, str]]  # file, kind, state, detail

    @property
    def drifted(self) -> bool:
        return any(state == "DRIFT" for _, _, state, _ in self.rows)

    def render(self) -> Table:
        table = Table(title=f"statsfirst schema (target schema: {self.target_schema or 'not recorded yet'})")
        for column in ("migration", "kind", "state", "detail"):
            table.add_column(column)
        for row in self.rows:
            table.add_row(*row)
        return table


# --------------------------------------------------------------------------------------------- discovery
def checksum_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def discover_migrations(root: Path | None = None) -> list[Migration]:
    """The compatibility script first, then numbered files in version order."""
    root = root or sql_dir()
    compat = root / COMPAT_FILE
    if not compat.is_file():
        raise SchemaStateError(f"{compat} is missing", "reinstall statsfirst (its sql/ folder is incomplete)")
    migrations = [Migration("000", "supabase_compat", compat, "compat", checksum_of(compat))]
    seen: dict[str, Path] = {}
    for path in sorted(root.glob("*.sql")):
        match = _FILE_PATTERN.match(path.name)
        if not match:
            continue
        version = match["version"]
        if version in seen:
            raise SchemaStateError(
                f"two migrations share version {version}: {seen[version].name} and {path.name}", "renumber one of them"
            )
        seen[version] = path
        with path.open(encoding="utf-8") as handle:
            first_line = handle.readline().strip()
        kind = "repeatable" if first_line.startswith(REPEATABLE_MARKER) else "versioned"
        migrations.append(Migration(version, match["name"], path, kind, checksum_of(path)))
    return migrations


def validate_schema_name(name: str) -> str:
    """Target schema names are plain lower-case identifiers; anything else is refused (never formatted into SQL)."""
    if not _SCHEMA_NAME.match(name) or name.startswith("pg_") or name in _RESERVED_SCHEMAS:
        raise UsageError(
            f"target schema name {name!r} is not allowed",
            "use a lower-case identifier such as 'stats' (letters, digits, underscore; not statsfirst/auth/pg_*)",
        )
    return name


# --------------------------------------------------------------------------------------------- ledger
def read_ledger(conn: psycopg.Connection) -> dict[str, LedgerRow]:
    if not relation_exists(conn, BOOKKEEPING_SCHEMA, "schema_migrations"):
        return {}
    rows = conn.execute(
        "SELECT version, name, kind, checksum, target_schema FROM statsfirst.schema_migrations"
    ).fetchall()
    return {row[0]: LedgerRow(*row) for row in rows}


def recorded_target_schema(conn: psycopg.Connection) -> str | None:
    if not relation_exists(conn, BOOKKEEPING_SCHEMA, "settings"):
        return None
    row = conn.execute("SELECT value FROM statsfirst.settings WHERE key = 'target_schema'").fetchone()
    if row is None:
        return None
    recorded = str(row[0])
    try:
        return validate_schema_name(recorded)
    except UsageError:
        # only an edit by hand puts such a name there (apply validates it): refuse rather than act on it
        raise SchemaStateError(
            f"the target schema recorded in statsfirst.settings ({recorded!r}) is not a valid schema name",
            "set it back to the schema `statsfirst schema apply` created (UPDATE statsfirst.settings ...)",
        ) from None


def target_schema_for(dsn: ResolvedDsn) -> str:
    """The target schema recorded by ``schema apply``; later commands use it. Fails clearly when none applied."""
    with connection(dsn) as conn:
        schema = recorded_target_schema(conn)
        ledger = read_ledger(conn)
    if schema is None or "006" not in ledger:
        raise SchemaStateError(
            "the Statistics-First schema has not been applied to this database",
            "run `statsfirst schema apply` first",
        )
    # later files build on the lineage the migration writes (007's compatibility views): never migrate into a
    # schema that is behind
    missing = [m.filename for m in discover_migrations() if m.kind != "compat" and m.version not in ledger]
    if missing:
        raise SchemaStateError(
            f"the schema is not up to date: {', '.join(missing)} not applied yet",
            "run `statsfirst schema apply` first",
        )
    return schema


def _schema_exists(conn: psycopg.Connection, schema: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone() is not None


# --------------------------------------------------------------------------------------------- planning
def plan_migrations(
    conn: psycopg.Connection, migrations: list[Migration], ledger: dict[str, LedgerRow]
) -> list[PlanItem]:
    """Decide per file: apply, re-apply (repeatable, changed) or skip. Drift is an error, raised before any change."""
    drifted = [
        m
        for m in migrations
        if m.kind != "repeatable" and m.version in ledger and ledger[m.version].checksum != m.checksum
    ]
    if drifted:
        first = drifted[0]
        raise SchemaStateError(
            f"migration {first.filename} was applied with checksum {ledger[first.version].checksum[:12]}… "
            f"but the file now has {first.checksum[:12]}… (drift); applied migrations must never be edited",
            "restore the file as it was applied and put the change in a new numbered migration",
        )
    plan: list[PlanItem] = []
    for migration in migrations:
        applied = ledger.get(migration.version)
        if migration.kind == "compat":
            if applied:
                plan.append(PlanItem(migration, "skip", "applied"))
            elif _schema_exists(conn, "auth"):
                plan.append(PlanItem(migration, "skip", "Supabase auth schema present (not needed)"))
            else:
                plan.append(PlanItem(migration, "apply", "plain PostgreSQL: creates roles and auth.uid()"))
        elif applied is None:
            plan.append(PlanItem(migration, "apply", "pending"))
        elif migration.kind == "repeatable" and applied.checksum != migration.checksum:
            plan.append(PlanItem(migration, "reapply", "repeatable file changed"))
        else:
            plan.append(PlanItem(migration, "skip", "applied"))
    return plan


def check_preconditions(conn: psycopg.Connection, plan: list[PlanItem], target_schema: str) -> None:
    """Refuse before any change: missing legacy tables, or a legacy session_settings in the target schema."""
    if not any(item.action != "skip" and item.migration.version == "006" for item in plan):
        return
    missing = [t for t in LEGACY_REFERENCED_TABLES if not relation_exists(conn, LEGACY_SCHEMA, t)]
    if missing:
        raise SchemaStateError(
            f"the legacy tables {', '.join(missing)} are missing from schema {LEGACY_SCHEMA} "
            "(the new tables reference them)",
            "point --dsn at the legacy database, or create a dev baseline with `statsfirst legacy init`",
        )
    collision = conn.execute(
        """
        SELECT count(*) FILTER (WHERE a.attname IN ('user_id', 'session_id', 'params'))
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        WHERE n.nspname = %s AND c.relname = 'session_settings'
        """,
        (target_schema,),
    ).fetchone()
    if collision and collision[0] == 3:
        raise SchemaStateError(
            f"schema '{target_schema}' already holds the legacy session_settings table (user_id, session_id, "
            "params), whose name collides with the new session_settings; nothing was changed",
            "apply the new tables to another schema, e.g. `statsfirst schema apply --target-schema stats`",
        )


# --------------------------------------------------------------------------------------------- apply
def apply_migrations(
    dsn: ResolvedDsn,
    *,
    target_schema: str | None = None,
    dry_run: bool = False,
    lock_timeout_s: float = 60.0,
    log: Log = print,
    sql_root: Path | None = None,
) -> ApplyReport:
    """Apply every pending migration; a re-run with nothing pending is a no-op."""
    if target_schema is not None:
        validate_schema_name(target_schema)
    root = sql_root or sql_dir()
    migrations = discover_migrations(root)
    with connection(dsn, autocommit=True) as conn:
        if not dry_run:
            _acquire_lock(conn, lock_timeout_s)
        try:
            ledger = read_ledger(conn)
            schema = _choose_target_schema(conn, target_schema, ledger)
            plan = plan_migrations(conn, migrations, ledger)
            check_preconditions(conn, plan, schema)
            report = ApplyReport(target_schema=schema, dry_run=dry_run, plan=plan)
            for item in plan:
                if item.action != "skip":
                    log(f"{'would ' if dry_run else ''}{item.action} {item.migration.filename} ({item.reason})")
            if dry_run:
                return report
            _ensure_ledger(conn, root)
            for item in plan:
                if item.action == "skip":
                    continue
                seconds = _apply_one(conn, item.migration, schema)
                report.applied.append((item.migration, seconds))
                log(f"applied {item.migration.filename} in {seconds:.2f} s")
            return report
        finally:
            if not dry_run:
                conn.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK_KEY,))


def _choose_target_schema(conn: psycopg.Connection, requested: str | None, ledger: dict[str, LedgerRow]) -> str:
    recorded = recorded_target_schema(conn)
    if recorded and requested and requested != recorded and "006" in ledger:
        raise UsageError(
            f"the Statistics-First tables were already applied to schema '{recorded}', not '{requested}'",
            f"omit --target-schema (the recorded '{recorded}' is used) or use a fresh database",
        )
    return requested or recorded or DEFAULT_TARGET_SCHEMA


def _acquire_lock(conn: psycopg.Connection, timeout_s: float) -> None:
    """Session advisory lock; waits up to ``timeout_s`` for a concurrent apply, then fails clearly."""
    deadline = time.monotonic() + timeout_s
    while True:
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (SCHEMA_LOCK_KEY,)).fetchone()
        if row and row[0]:
            return
        if time.monotonic() >= deadline:
            holder = conn.execute(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
                "AND classid = %s::bigint::oid AND objid = %s::bigint::oid LIMIT 1",
                ((SCHEMA_LOCK_KEY >> 32) & 0xFFFFFFFF, SCHEMA_LOCK_KEY & 0xFFFFFFFF),
            ).fetchone()
            who = f" (held by backend pid {holder[0]})" if holder else ""
            raise SchemaStateError(
                f"another `statsfirst schema apply` is running on this database{who}; waited {timeout_s:g} s",
                "wait for it to finish and re-run, or raise --lock-timeout",
            )
        time.sleep(0.1)


def _ensure_ledger(conn: psycopg.Connection, root: Path) -> None:
    with conn.transaction():
        conn.execute((root / "bookkeeping" / "ledger.sql").read_text(encoding="utf-8"))


def _apply_one(conn: psycopg.Connection, migration: Migration, target_schema: str) -> float:
    """Run one file and its ledger row in a single transaction; any error rolls both back."""
    started = time.perf_counter()
    try:
        with conn.transaction():
            if migration.kind != "compat":
                conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(target_schema)))
                conn.execute(
                    sql.SQL("SET LOCAL search_path TO {}, {}").format(
                        sql.Identifier(target_schema), sql.Identifier(LEGACY_SCHEMA)
                    )
                )
            conn.execute(migration.text())
            duration_ms = int((time.perf_counter() - started) * 1000)
            conn.execute(
                """
                INSERT INTO statsfirst.schema_migrations
                    (version, name, kind, checksum, target_schema, duration_ms)
                VALUES (%s, %s, %s, %s, %s, %s)
                ON CONFLICT (version) DO UPDATE SET
                    checksum = EXCLUDED.checksum, applied_at = now(), duration_ms = EXCLUDED.duration_ms,
                    applied_by = current_user, target_schema = EXCLUDED.target_schema
                """,
                (migration.version, migration.name, migration.kind, migration.checksum, target_schema, duration_ms),
            )
            conn.execute(
                """
                INSERT INTO statsfirst.settings (key, value) VALUES ('target_schema', %s)
                ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()
                """,
                (target_schema,),
            )
    except psycopg.Error as exc:
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise SchemaStateError(
            f"migration {migration.filename} failed and was rolled back (nothing of it was kept): {first_line}",
            "fix the file or the database state and re-run `statsfirst schema apply`",
        ) from None
    return time.perf_counter() - started


# --------------------------------------------------------------------------------------------- status
def migration_status(dsn: ResolvedDsn, sql_root: Path | None = None) -> StatusReport:
    migrations = discover_migrations(sql_root)
    with connection(dsn, autocommit=True) as conn:
        ledger = read_ledger(conn)
        schema = recorded_target_schema(conn)
        auth_present = _schema_exists(conn, "auth")
    rows: list[tuple[str, str, str, str]] = []
    for migration in migrations:
        applied = ledger.get(migration.version)
        if applied is None:
            if migration.kind == "compat" and auth_present:
                rows.append((migration.filename, migration.kind, "not needed", "Supabase auth schema present"))
            else:
                rows.append((migration.filename, migration.kind, "pending", migration.checksum[:12]))
        elif applied.checksum == migration.checksum:
            rows.append((migration.filename, migration.kind, "applied", migration.checksum[:12]))
        elif migration.kind == "repeatable":
            rows.append((migration.filename, migration.kind, "changed", "re-applied by the next apply"))
        else:
            rows.append(
                (
                    migration.filename,
                    migration.kind,
                    "DRIFT",
                    f"applied {applied.checksum[:12]}…, file {migration.checksum[:12]}…",
                )
            )
    return StatusReport(target_schema=schema, rows=rows)
