"""``statsfirst demo``: the whole job on a fresh database, in one command.

On the embedded server it (re)creates a dedicated ``statsfirst_demo`` database each time, so the demo can be
re-run; with ``--dsn``/``DATABASE_URL`` it uses that database, which must be empty.
"""

from __future__ import annotations

from rich.console import Console

from statsfirst.db.connection import connection
from statsfirst.db.dsn import ResolvedDsn
from statsfirst.db.migrations import apply_migrations
from statsfirst.legacy.baseline import init_legacy
from statsfirst.legacy.generator import seed_legacy
from statsfirst.pipeline.options import MigrateOptions
from statsfirst.pipeline.run import migrate

DEMO_DATABASE = "statsfirst_demo"
DEMO_BAD_FRACTION = 0.02


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
        console.print(f"1/3 legacy baseline created ({len(created)} objects)")
        report = seed_legacy(conn, sessions=sessions, seed=seed, bad_fraction=DEMO_BAD_FRACTION)
        console.print(f"2/3 {report.summary()}", highlight=False)
    applied = apply_migrations(target, target_schema="stats", log=lambda _line: None)
    console.print(f"3/4 {applied.summary()}", highlight=False)
    summary = migrate(target, MigrateOptions(batch_size=1000))
    console.print("4/4 migration finished:")
    console.print(summary.render())
    console.print(
        "Held-back sessions and their reasons: statsfirst.quarantine; lineage: statsfirst.session_lineage. "
        "The reconciliation report is not part of this release yet.",
        highlight=False,
    )
