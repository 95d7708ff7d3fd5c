"""Seed N legacy sessions into a scratch database, migrate them, then time `statsfirst reconcile`; prints JSON.

Usage: python bench/reconcile.py --sessions 100000 [--workers 2] [--keep] [--dsn ADMIN]
The reconciliation runs as the CLI a user would run (a child process, JSON report to a file); its wall time
includes interpreter start-up, ``reconcile_seconds_in_process`` does not. ``--keep`` leaves the database for reuse
(its name is printed); ``--database NAME`` reconciles such a kept database again without seeding.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from psycopg import sql

from statsfirst.db.dsn import resolve_dsn
from statsfirst.db.migrations import apply_migrations
from statsfirst.legacy.baseline import init_legacy
from statsfirst.legacy.generator import seed_legacy

CLI = Path(sys.executable).parent / "statsfirst"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=1, help="migration workers")
    parser.add_argument("--dsn", default=None, help="admin DSN of the server (default: DATABASE_URL/embedded)")
    parser.add_argument("--keep", action="store_true", help="do not drop the scratch database")
    parser.add_argument("--database", default=None, help="reconcile this existing (kept) database again")
    args = parser.parse_args()

    admin = resolve_dsn(args.dsn)
    name = args.database or f"sf_bench_{uuid.uuid4().hex[:8]}"
    target = admin.with_database(name)
    timings: dict[str, float] = {}
    try:
        if args.database is None:
            with psycopg.connect(admin.conninfo, autocommit=True) as conn:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            started = time.perf_counter()
            with psycopg.connect(target.conninfo) as conn:
                init_legacy(conn, with_session_settings=True)
                seed_legacy(conn, sessions=args.sessions, seed=1, bad_fraction=0.01)
            timings["seed_seconds"] = time.perf_counter() - started
            apply_migrations(target, target_schema="stats", log=lambda _: None)
            started = time.perf_counter()
            subprocess.run(
                [str(CLI), "migrate", "--dsn", target.conninfo, "--workers", str(args.workers), "--json"],
                check=True, capture_output=True, text=True,
            )
            timings["migrate_seconds"] = time.perf_counter() - started
        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder) / "report.json"
            started = time.perf_counter()
            result = subprocess.run(
                [str(CLI), "reconcile", "--dsn", target.conninfo, "--format", "json", "--output", str(out)],
                capture_output=True, text=True, check=False,
            )
            timings["reconcile_seconds"] = time.perf_counter() - started
            if result.returncode not in (0, 1):
                raise SystemExit(result.stderr)
            report = json.loads(out.read_text())
        peak_rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(json.dumps({
            "database": name if (args.keep or args.database) else None,
            "sessions": report["sessions"]["legacy"],
            **{k: round(v, 1) for k, v in timings.items()},
            "reconcile_seconds_in_process": report["wall_seconds"],
            "peak_rss_mb_children": round(peak_rss_mb, 1),
            "reconciled": report["reconciled"],
            "migrated": report["sessions"]["migrated"],
            "quarantined": report["sessions"]["quarantined"],
            "skipped": report["sessions"]["skipped"],
            "rows_compared": sum(report["values"]["rows_compared"].values()),
            "checksum_segments": report["values"]["segments"],
            "mismatch_counts": report["mismatch_counts"],
        }, indent=2))
    finally:
        if not (args.keep or args.database):
            with psycopg.connect(admin.conninfo, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


if __name__ == "__main__":
    main()
