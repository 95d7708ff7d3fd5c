"""The schema runner: applies ``sql/`` migrations in order with a ledger, checksums and an advisory lock.

Like Flyway/Sqitch: each migration runs in its own transaction together with its ledger row, so a failing file
leaves no objects and no record; an applied versioned file whose bytes changed is refused (drift) before anything
runs; repeatable files (first line ``-- statsfirst:repeatable``) are re-applied when their checksum changes; a
session advisory lock serialises concurrent applies. The legacy tables are never touched.

Before anything changes, ``apply`` refuses a transaction-mode pooler (db/pooler.py) and a role that lacks a
privilege the pending files need, naming the GRANT; ``check_pipeline_privileges``/``preflight`` do the same for
``migrate`` and ``reconcile`` (a managed-database role such as Supabase's ``postgres`` is no superuser).
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
from rich.console import Group
from rich.table import Table

from statsfirst.db.catalog import relation_exists
from statsfirst.db.connection import connection
from statsfirst.db.dsn import ResolvedDsn
from statsfirst.db.pooler import refuse_transaction_pooler
from statsfirst.errors import SchemaStateError, UsageError
from statsfirst.paths import sql_dir
from statsfirst.target_tables import TARGET_TABLES

BOOKKEEPING_SCHEMA = "statsfirst"
LEGACY_SCHEMA = "public"
DEFAULT_TARGET_SCHEMA = "public"
COMPAT_FILE = "supabase_compat.sql"
REPEATABLE_MARKER = "-- statsfirst:repeatable"
# pg_advisory_lock key: "statsfirst schema" folded to a bigint; constant so every client agrees.
SCHEMA_LOCK_KEY = int.from_bytes(hashlib.sha256(b"statsfirst schema apply").digest()[:8], "big", signed=True)
LEGACY_REFERENCED_TABLES = ("patients", "therapists", "researcher_profiles")
# what migrate and reconcile read from the legacy schema (session_settings only where it is the legacy table)
LEGACY_READ_TABLES = ("c3d_metadata", "analysis_results", "patients", "therapists", "researcher_profiles")
CLIENT_ROLES = ("anon", "authenticated", "service_role")
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
    # the target's recorded configuration (statsfirst.configuration) as (what, value); empty before the first run
    configuration: list[tuple[str, str]] = field(default_factory=list)

    @property
    def drifted(self) -> bool:
        return any(state == "DRIFT" for _, _, state, _ in self.rows)

    def render(self) -> Group:
        table = Table(title=f"statsfirst schema (target schema: {self.target_schema or 'not recorded yet'})")
        for column in ("migration", "kind", "state", "detail"):
            table.add_column(column)
        for row in self.rows:
            table.add_row(*row)
        configuration = Table(title="recorded configuration (used by every run and by the reconciliation)")
        configuration.add_column("what", overflow="fold")
        configuration.add_column("value", overflow="fold")
        for what, value in self.configuration or [("(none yet)", "recorded by the first statsfirst migrate")]:
            configuration.add_row(what, value)
        return Group(table, configuration)


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
        if _schema_exists(conn, BOOKKEEPING_SCHEMA):  # a role that cannot read the ledger is told which grant
            _require_schema(conn, None, BOOKKEEPING_SCHEMA, "USAGE")
            tables = _tables_in(conn, BOOKKEEPING_SCHEMA, ("schema_migrations", "settings"))
            _require_tables(conn, None, BOOKKEEPING_SCHEMA, tables, ("SELECT",))
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
    # the schema lock is a session advisory lock: refuse a transaction-mode pooler before taking it
    refuse_transaction_pooler(dsn, "statsfirst schema apply")
    with connection(dsn, autocommit=True) as conn:
        if not dry_run:
            _acquire_lock(conn, lock_timeout_s)
        try:
            ledger = read_ledger(conn)
            schema = _choose_target_schema(conn, target_schema, ledger)
            plan = plan_migrations(conn, migrations, ledger)
            check_preconditions(conn, plan, schema)
            check_apply_privileges(conn, plan, schema)
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


# --------------------------------------------------------------------------------------------- privileges
# Every command checks, before it writes anything, that its role holds what it needs, and names the missing
# privilege with the statement that grants it (README "A managed-database role"). A superuser passes every check.
def _ident(conn: psycopg.Connection, *parts: str) -> str:
    """``parts`` quoted as SQL identifiers where needed (``quote_ident``) and joined with dots, for messages and the
    GRANT they suggest."""
    return ".".join(str(_scalar(conn, "SELECT pg_catalog.quote_ident(%s)", (part,))) for part in parts)


def _scalar(conn: psycopg.Connection, query: str, params: tuple[object, ...] = ()) -> object:
    row = conn.execute(query, params).fetchone()
    return None if row is None else row[0]


def _lacking(conn: psycopg.Connection, command: str | None, what: str, grant: str) -> SchemaStateError:
    """``role R lacks <what>, which `statsfirst <command>` needs; nothing was changed — as …: <grant>``."""
    role = _ident(conn, str(_scalar(conn, "SELECT current_user")))
    needs = f"`statsfirst {command}` needs" if command else "statsfirst needs"
    return SchemaStateError(
        f"role {role} lacks {what}, which {needs}; nothing was changed",
        f"as a superuser or the owner: {grant.replace('{role}', role)}",
    )


def _require_database(conn: psycopg.Connection, command: str | None, privilege: str) -> None:
    if not _scalar(conn, "SELECT has_database_privilege(current_database(), %s)", (privilege,)):
        database = _ident(conn, str(_scalar(conn, "SELECT current_database()")))
        grant = f"GRANT {privilege} ON DATABASE {database} TO {{role}}"
        raise _lacking(conn, command, f"{privilege} on database {database}", grant)


def _require_schema(conn: psycopg.Connection, command: str | None, schema: str, *privileges: str) -> None:
    if not _schema_exists(conn, schema):
        return
    for privilege in privileges:
        if not _scalar(conn, "SELECT has_schema_privilege(%s, %s)", (schema, privilege)):
            name = _ident(conn, schema)
            grant = f"GRANT {privilege} ON SCHEMA {name} TO {{role}}"
            raise _lacking(conn, command, f"{privilege} on schema {name}", grant)


def _tables_in(conn: psycopg.Connection, schema: str, names: tuple[str, ...] | None) -> list[str]:
    rows = conn.execute(
        "SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND (%s::text[] IS NULL OR c.relname = ANY(%s::text[]))"
        " ORDER BY c.relname",
        (schema, None if names is None else list(names), None if names is None else list(names)),
    ).fetchall()
    return [str(row[0]) for row in rows]


def _require_tables(
    conn: psycopg.Connection, command: str | None, schema: str, tables: list[str], privileges: tuple[str, ...]
) -> None:
    """Each privilege on each table, and that row-level security does not hide rows from the role."""
    for table in tables:
        name = _ident(conn, schema, table)
        for privilege in privileges:
            if not _scalar(conn, "SELECT has_table_privilege(%s, %s)", (name, privilege)):
                grant = f"GRANT {privilege} ON {name} TO {{role}}"
                raise _lacking(conn, command, f"{privilege} on table {name}", grant)
        row = conn.execute(
            "SELECT c.relrowsecurity AND (c.relforcerowsecurity OR NOT pg_has_role(c.relowner, 'USAGE'))"
            " AND NOT (SELECT r.rolbypassrls OR r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user)"
            " FROM pg_catalog.pg_class c WHERE c.oid = %s::regclass",
            (name,),
        ).fetchone()
        if row and row[0]:
            raise _lacking(
                conn,
                command,
                f"BYPASSRLS (table {name} has row-level security and the role is not its owner, so rows would be "
                "hidden from it)",
                "ALTER ROLE {role} BYPASSRLS",
            )


def check_apply_privileges(conn: psycopg.Connection, plan: list[PlanItem], target_schema: str) -> None:
    """What ``schema apply`` needs for the pending files of ``plan``; raises naming the first missing privilege."""
    pending = {item.migration.version for item in plan if item.action != "skip"}
    if not pending:
        return
    command = "schema apply"
    if _scalar(conn, "SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user"):
        return
    # every file runs CREATE SCHEMA IF NOT EXISTS, which checks CREATE on the database even when the schema exists
    _require_database(conn, command, "CREATE")
    for schema in (BOOKKEEPING_SCHEMA, target_schema):
        _require_schema(conn, command, schema, "USAGE", "CREATE")
    owner = _scalar(
        conn,
        "SELECT pg_get_userbyid(relowner) FROM pg_catalog.pg_class"
        " WHERE oid = to_regclass('statsfirst.schema_migrations')",
    )
    if owner is not None and not _scalar(conn, "SELECT pg_has_role(%s, 'USAGE')", (owner,)):
        role, applier = _ident(conn, str(_scalar(conn, "SELECT current_user"))), _ident(conn, str(owner))
        applier_is_superuser = _scalar(conn, "SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = %s", (owner,))
        raise SchemaStateError(
            f"the Statistics-First objects belong to role {applier}, which applied the schema, and role {role} "
            "cannot alter them; nothing was changed",
            f"run `statsfirst schema apply` as {applier}"
            + ("" if applier_is_superuser else f", or as a superuser: GRANT {applier} TO {role}"),
        )
    if "000" in pending:
        present = conn.execute("SELECT rolname FROM pg_catalog.pg_roles WHERE rolname = ANY(%s)", (list(CLIENT_ROLES),))
        missing = sorted(set(CLIENT_ROLES) - {str(row[0]) for row in present.fetchall()})
        if missing and not _scalar(conn, "SELECT rolcreaterole FROM pg_catalog.pg_roles WHERE rolname = current_user"):
            raise _lacking(
                conn,
                command,
                f"CREATEROLE (the roles {', '.join(missing)} do not exist on this server yet)",
                "ALTER ROLE {role} CREATEROLE, or create the roles " + ", ".join(missing) + " yourself",
            )
        # before PostgreSQL 16 only a superuser may create a BYPASSRLS role (16+: a CREATEROLE role with BYPASSRLS)
        version = int(str(_scalar(conn, "SELECT current_setting('server_version_num')")))
        bypass = _scalar(conn, "SELECT rolbypassrls FROM pg_catalog.pg_roles WHERE rolname = current_user")
        if "service_role" in missing and (version < 160000 or not bypass):
            raise _lacking(
                conn,
                command,
                "the right to create the BYPASSRLS role service_role, which does not exist yet (PostgreSQL "
                f"{version // 10000} lets {'only a superuser' if version < 160000 else 'only a BYPASSRLS role'} "
                "create one)",
                "CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS; GRANT service_role TO {role}",
            )
    if "006" in pending:
        _require_schema(conn, command, LEGACY_SCHEMA, "USAGE")
        _require_tables(
            conn, command, LEGACY_SCHEMA, _tables_in(conn, LEGACY_SCHEMA, LEGACY_REFERENCED_TABLES), ("REFERENCES",)
        )
        if "000" not in pending:  # Supabase's own auth schema: the policies call auth.uid()
            _require_schema(conn, command, "auth", "USAGE")
    if "007" in pending:
        _require_schema(conn, command, LEGACY_SCHEMA, "USAGE", "CREATE")  # the compatibility views live in public


def check_pipeline_privileges(conn: psycopg.Connection, command: str, target_schema: str, *, writes: bool) -> None:
    """What ``migrate`` (``writes``) and ``reconcile`` (read-only) need; raises naming the first missing privilege."""
    if _scalar(conn, "SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user"):
        return
    _require_database(conn, command, "TEMPORARY")  # staging tables (migrate) and the recount's temp tables
    for schema in (LEGACY_SCHEMA, BOOKKEEPING_SCHEMA, target_schema):
        _require_schema(conn, command, schema, "USAGE")
    legacy = _tables_in(conn, LEGACY_SCHEMA, LEGACY_READ_TABLES)
    if target_schema != LEGACY_SCHEMA:
        legacy += _tables_in(conn, LEGACY_SCHEMA, ("session_settings",))
    _require_tables(conn, command, LEGACY_SCHEMA, legacy, ("SELECT",))
    privileges = ("SELECT", "INSERT", "UPDATE", "DELETE") if writes else ("SELECT",)
    _require_tables(conn, command, target_schema, _tables_in(conn, target_schema, TARGET_TABLES), privileges)
    bookkeeping = [t for t in _tables_in(conn, BOOKKEEPING_SCHEMA, None) if t != "schema_migrations"]
    _require_tables(conn, command, BOOKKEEPING_SCHEMA, bookkeeping, privileges)


def preflight(conn: psycopg.Connection, dsn: ResolvedDsn, target_schema: str, *, writes: bool = True) -> None:
    """Before ``statsfirst migrate`` changes anything: refuse a transaction-mode pooler, then a missing privilege."""
    refuse_transaction_pooler(dsn, "statsfirst migrate")
    check_pipeline_privileges(conn, "migrate", target_schema, writes=writes)


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
