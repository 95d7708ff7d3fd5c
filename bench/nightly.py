"""The nightly deployment's cost: an incremental run with nothing changed, one with a day's changes, and the
reconciliation, after a full backfill of N sessions.

Usage: python bench/nightly.py --sessions 100000 [--changed 500] [--dsn ADMIN]
Each command runs as a child process (as the deployment's worker runs it); wall seconds are printed as JSON.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from scratch import scratch_database, seed_and_apply
from statsfirst.db.dsn import resolve_dsn

CLI = Path(sys.executable).parent / "statsfirst"


def timed(*args: str) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run([str(CLI), *args], capture_output=True, text=True, check=False)
    if done.returncode not in (0, 1):
        raise SystemExit(f"statsfirst {args[0]} failed: {done.stderr.strip()}")
    return time.perf_counter() - started, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--changed", type=int, default=500, help="sessions the legacy app touches in a 'day'")
    parser.add_argument("--dsn", default=None, help="admin DSN of the server (default: DATABASE_URL/embedded)")
    args = parser.parse_args()

    admin = resolve_dsn(args.dsn)
    with scratch_database(admin) as target:
        seed_seconds = seed_and_apply(target, sessions=args.sessions)
        dsn = target.conninfo
        backfill, _ = timed("migrate", "--dsn", dsn, "--json")
        idle, idle_out = timed("migrate", "--dsn", dsn, "--incremental", "--json")
        with psycopg.connect(dsn, autocommit=True) as conn:
            # a day: cache hits on analyses of `changed` sessions (a new row version, no timestamp the run trusts)
            conn.execute(
                "UPDATE public.analysis_results SET cache_hits = coalesce(cache_hits, 0) + 1 WHERE c3d_metadata_id IN "
                "(SELECT id FROM public.c3d_metadata ORDER BY md5(id::text) LIMIT %s)",
                (args.changed,),
            )
        day, day_out = timed("migrate", "--dsn", dsn, "--incremental", "--json")
        check, report = timed("reconcile", "--dsn", dsn, "--format", "json")
        print(json.dumps({
            "sessions": args.sessions,
            "seed_seconds": round(seed_seconds, 1),
            "backfill_seconds": round(backfill, 1),
            "nightly_nothing_changed_seconds": round(idle, 2),
            "nightly_nothing_changed_sessions_read": json.loads(idle_out)["sessions"]["in_range"],
            "nightly_day_of_changes_seconds": round(day, 2),
            "nightly_day_of_changes_sessions_read": json.loads(day_out)["sessions"]["in_range"],
            "reconcile_seconds": round(check, 1),
            "reconciled": json.loads(report)["reconciled"],
        }, indent=2))


if __name__ == "__main__":
    main()
