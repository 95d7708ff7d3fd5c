"""``statsfirst demo``: the whole job on a fresh database, in one command.

On the embedded server it (re)creates a dedicated ``statsfirst_demo`` database each time, so the demo can be
re-run; with ``--dsn``/``DATABASE_URL`` it uses that database, which must be empty. It ends with the exact commands
that work on what it built (``--dsn`` included: the embedded server has no password) and with how to stop the
embedded server it leaves running.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path

from rich.console import Console

from statsfirst.db.connection import connection
from statsfirst.db.dsn import ResolvedDsn
from statsfirst.db.migrations import apply_migrations
from statsfirst.legacy.baseline import init_legacy
from statsfirst.legacy.generator import seed_legacy
from statsfirst.paths import statsfirst_home
from statsfirst.pipeline.options import MigrateOptions
from statsfirst.pipeline.run import migrate
from statsfirst.reconcile.options import ReconcileOptions
from statsfirst.reconcile.render_html import render_html
from statsfirst.reconcile.render_text import summary_renderable
from statsfirst.reconcile.run import reconcile

DEMO_DATABASE = "statsfirst_demo"
DEMO_BAD_FRACTION = 0.02
REPORT_NAME = "reconciliation-demo.html"


def demo_database(dsn: ResolvedDsn) -> ResolvedDsn:
    """A fresh demo database on the embedded server; the caller's own database otherwise."""
    if dsn.source != "embedded":
        return dsn
    from psycopg import sql

    with connection(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DEMO_DATABASE)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DEMO_DATABASE)))
    return dsn.with_database(DEMO_DATABASE)


def run_demo(dsn: ResolvedDsn, *, sessions: int, seed: int, console: Console) -> None:
    target = demo_database(dsn)
    console.rule("statsfirst demo")
    console.print(f"database: {target.redacted()}", highlight=False, soft_wrap=True)
    with connection(target) as conn:
        created = init_legacy(conn, with_session_settings=True)
        console.print(f"1/5 legacy baseline created ({len(created)} objects)")
        seeded = seed_legacy(conn, sessions=sessions, seed=seed, bad_fraction=DEMO_BAD_FRACTION)
        console.print(f"2/5 {seeded.summary()}", highlight=False)
    applied = apply_migrations(target, target_schema="stats", log=lambda _line: None)
    console.print(f"3/5 {applied.summary()}", highlight=False)
    summary = migrate(target, MigrateOptions(batch_size=1000))
    console.print("4/5 migration finished:")
    console.print(summary.render())
    report = reconcile(target, ReconcileOptions())
    path = statsfirst_home() / REPORT_NAME
    path.write_text(render_html(report), encoding="utf-8")
    console.print("5/5 reconciliation (recomputed from the legacy tables, independent of the counts above):")
    console.print(summary_renderable(report))
    console.print(f"Clinicians' report (open in any browser, works offline): {path}", highlight=False, soft_wrap=True)
    for line in next_steps(target):
        console.print(line, highlight=False, soft_wrap=True)


def dsn_argument(dsn: ResolvedDsn) -> str:
    """What the next commands need to reach ``dsn``, never with a password."""
    if dsn.source == "DATABASE_URL":
        return ""  # DATABASE_URL still points there
    if dsn.password:
        return " --dsn '<your DSN>'"  # the user has it; it is never printed
    return f" --dsn {shlex.quote(dsn.conninfo)}"


def invocation() -> str:
    """How to start this very statsfirst again from the same directory: ``statsfirst`` when PATH finds it, else the
    path it was started by (``.venv/bin/statsfirst`` after the README's quick start, whose venv is not activated)."""
    started = sys.argv[0]
    if started.endswith("__main__.py"):
        return f"{shlex.quote(sys.executable)} -m statsfirst"
    found = shutil.which("statsfirst")
    if found and Path(found).resolve() == Path(started).resolve():
        return "statsfirst"
    return shlex.quote(started)


def next_steps(target: ResolvedDsn) -> list[str]:
    """The closing lines: commands that work copy-pasted, as printed, on the database the demo built."""
    arg = dsn_argument(target)
    statsfirst = invocation()
    review = "SELECT * FROM statsfirst.quarantine_review ORDER BY uploaded_at"
    if target.source == "embedded":
        from statsfirst.db.embedded import psql_path

        psql = f"{shlex.quote(str(psql_path()))} {shlex.quote(target.conninfo)}"
    elif target.password:
        psql = "psql '<your DSN>'"
    else:
        psql = f"psql {shlex.quote(target.conninfo)}" if target.source == "--dsn" else 'psql "$DATABASE_URL"'
    lines = [
        "",
        f"Next (these work on the database the demo built, {target.redacted()}):",
        f"  {statsfirst} schema status{arg}",
        f"  {statsfirst} reconcile{arg}",
        f"  {statsfirst} reconcile{arg} --format html --output report.html",
        f"  {statsfirst} migrate{arg}            # a second run: reports every session as unchanged in legacy",
        f"  {psql} -c {shlex.quote(review)}   # the held-back sessions and why",
    ]
    if target.source == "embedded":
        home = os.environ.get("STATSFIRST_HOME")  # the stop command must find the same server
        prefix = f"STATSFIRST_HOME={shlex.quote(home)} " if home else ""
        lines += [
            "The embedded PostgreSQL server keeps running in the background (its data: "
            f"{statsfirst_home() / 'pgdata'}); stop it with:",
            f"  {prefix}{statsfirst} embedded stop",
        ]
    return lines
