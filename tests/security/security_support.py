"""Helpers of the security tests (imported by the test modules and the conftest; never import a conftest).

`SecuredRun` is one database taken through the whole job by the CLI as a login role with a password: legacy init and
seed, schema apply, migrate (also failing ones), reconcile in every format, and error paths. Everything the commands
printed or wrote is kept for the scans, with snapshots of the legacy tables before the schema was applied and after
everything ran.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from statsfirst.db.dsn import ResolvedDsn

SqlText = str | sql.SQL | sql.Composed  # what Connection.execute takes

TARGET = "stats"
CLI = Path(sys.executable).parent / "statsfirst"
LEGACY_TABLES = ("c3d_metadata", "analysis_results", "session_settings", "patients", "therapists",
                 "researcher_profiles")
LEGACY_FUNCTIONS = ("update_updated_at_column", "update_cache_hit")
LEGACY_VIEWS = ("analysis_summary",)
TARGET_TABLES = ("therapy_sessions", "emg_statistics", "performance_scores", "bfr_monitoring", "session_settings",
                 "export_history", "signal_processing_cache", "processing_parameters")
VIEWS = ("c3d_metadata_view", "analysis_results_view")


@dataclass
class Output:
    """What one command showed: its arguments (without the secret), exit code, stdout and stderr."""

    label: str
    returncode: int
    stdout: str
    stderr: str


@dataclass
class SecuredRun:
    admin: ResolvedDsn  # the test server's admin DSN, to this database
    uri: str  # postgresql://role:password@.../db
    keywords: str  # user=role password=... dbname=...
    role: str
    password: str
    folder: Path
    planted_names: set[str] = field(default_factory=set)
    quarantined_with_names: list[str] = field(default_factory=list)
    outputs: list[Output] = field(default_factory=list)
    legacy_before: dict[str, Any] = field(default_factory=dict)
    legacy_after: dict[str, Any] = field(default_factory=dict)
    flow_states: dict[str, str] = field(default_factory=dict)  # final state of each Prefect flow run

    @property
    def secrets(self) -> set[str]:
        """The password as typed, in every encoding a DSN could carry it, and each of its pieces (a parser that
        stops at a space or quote echoes the rest)."""
        pieces = {p for p in re.split(r"[\s'@]", self.password) if len(p) >= 4}
        return {self.password, urllib.parse.quote(self.password, safe=""), urllib.parse.quote_plus(self.password),
                *pieces}

    def cli(self, label: str, *args: str, env: dict[str, str] | None = None) -> Output:
        done = subprocess.run([str(CLI), *args], capture_output=True, text=True, timeout=300, cwd=self.folder,
                              env={**cli_env(), **(env or {})})
        output = Output(label, done.returncode, done.stdout, done.stderr)
        self.outputs.append(output)
        return output

    def files(self) -> dict[str, str]:
        return {str(p): p.read_text(encoding="utf-8", errors="replace") for p in self.folder.rglob("*") if p.is_file()}


def cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["COLUMNS"] = "250"
    return env


def secret_dsns(admin: ResolvedDsn, role: str, password: str) -> tuple[str, str]:
    """A URI and a keyword DSN to ``admin``'s database as ``role`` with ``password`` (same host, port or socket)."""
    parts = {k: v for k, v in conninfo_to_dict(admin.conninfo).items() if v not in (None, "")}
    keywords = make_conninfo("", **{**parts, "user": role, "password": password})
    host = str(parts.get("host", ""))
    port = f":{parts['port']}" if "port" in parts and not host.startswith("/") else ""
    location = "" if host.startswith("/") else host
    query = f"?host={urllib.parse.quote(host, safe='')}" if host.startswith("/") else ""
    if host.startswith("/") and "port" in parts:
        query += f"&port={parts['port']}"
    uri = (f"postgresql://{role}:{urllib.parse.quote(password, safe='')}@{location}{port}/"
           f"{urllib.parse.quote(str(parts['dbname']))}{query}")
    return uri, keywords


def rows(dsn: ResolvedDsn, query: SqlText, params: tuple[Any, ...] | None = None) -> list[Any]:
    with psycopg.connect(dsn.conninfo, autocommit=True) as conn:
        return conn.execute(query, params).fetchall()


def wait_for_no_backends(dsn: ResolvedDsn, timeout: float = 30) -> None:
    """Other backends gone: their statistics are flushed when they exit."""
    name = conninfo_to_dict(dsn.conninfo)["dbname"]
    deadline = time.monotonic() + timeout
    while rows(dsn, "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
               (name,))[0][0]:
        assert time.monotonic() < deadline, "backends still connected"
        time.sleep(0.05)


# ------------------------------------------------------------------------------------------------ legacy snapshot
def legacy_snapshot(dsn: ResolvedDsn) -> dict[str, Any]:
    """Content and definition of every legacy object: rows, columns, defaults, constraints, indexes, triggers, RLS,
    policies, grants, owner, comments, the legacy view and trigger function, and the write counters."""
    wait_for_no_backends(dsn)
    snapshot: dict[str, Any] = {}
    with psycopg.connect(dsn.conninfo, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        for table in LEGACY_TABLES:
            oid = conn.execute("SELECT %s::regclass::oid", (f"public.{table}",)).fetchone()
            assert oid is not None
            queries: dict[str, SqlText] = {
                "rows": sql.SQL("SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), ''))"
                                " FROM {} t").format(sql.Identifier("public", table)),
                "columns": "SELECT a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,"
                           " pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated, a.attcollation,"
                           " col_description(a.attrelid, a.attnum), a.attacl::text"
                           " FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid"
                           " AND d.adnum = a.attnum WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped"
                           " ORDER BY a.attnum",
                "constraints": "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s"
                               " ORDER BY conname",
                "indexes": "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = %s ORDER BY 1",
                # the legacy table's own triggers; the internal ones PostgreSQL adds for foreign keys that point at
                # it from elsewhere are listed apart (the new tables reference patients, therapists, researchers)
                "triggers": "SELECT tgname, pg_get_triggerdef(oid), tgenabled FROM pg_trigger WHERE tgrelid = %s"
                            " AND NOT tgisinternal ORDER BY tgname",
                "referenced_by": "SELECT DISTINCT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)"
                                 " FROM pg_trigger t JOIN pg_constraint c ON c.oid = t.tgconstraint"
                                 " WHERE t.tgrelid = %s AND t.tgisinternal AND c.conrelid <> t.tgrelid ORDER BY 1, 2",
                "relation": "SELECT relkind, relrowsecurity, relforcerowsecurity, relacl::text,"
                            " pg_get_userbyid(relowner), obj_description(oid, 'pg_class'), relpersistence"
                            " FROM pg_class WHERE oid = %s",
                "policies": "SELECT polname, polcmd, polpermissive, pg_get_expr(polqual, polrelid),"
                            " pg_get_expr(polwithcheck, polrelid) FROM pg_policy WHERE polrelid = %s ORDER BY 1",
                "rules": "SELECT rulename, pg_get_ruledef(oid) FROM pg_rewrite WHERE ev_class = %s ORDER BY 1",
                "writes": "SELECT n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables WHERE relid = %s",
            }
            for name, query in queries.items():
                params = None if name == "rows" else (oid[0],)
                snapshot[f"{table}.{name}"] = conn.execute(query, params).fetchall()
        for view in LEGACY_VIEWS:
            snapshot[f"{view}.definition"] = conn.execute(
                "SELECT pg_get_viewdef(%s::regclass, true), (SELECT relacl::text FROM pg_class"
                " WHERE oid = %s::regclass)", (f"public.{view}", f"public.{view}")).fetchall()
        for function in LEGACY_FUNCTIONS:
            snapshot[f"{function}.definition"] = conn.execute(
                "SELECT pg_get_functiondef(p.oid), p.proacl::text FROM pg_proc p"
                " JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public' AND p.proname = %s",
                (function,)).fetchall()
    return snapshot


def act_as(conn: psycopg.Connection, role: str, sub: Any) -> None:
    """Act as a Supabase client for the rest of the transaction: its database role and JWT claims (sub = auth.uid())."""
    conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
    claims = {"role": role} if sub is None else {"sub": str(sub), "role": role}
    conn.execute("SELECT set_config('request.jwt.claims', %s, true)", (json.dumps(claims),))
