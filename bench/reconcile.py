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
from contextlib import nullcontext
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict

from scratch import scratch_database, seed_and_apply
from statsfirst.db.dsn import resolve_dsn

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
    reused = args.database is not None
    database = nullcontext(admin.with_database(args.database)) if reused else scratch_database(admin, keep=args.keep)
    with database as target:
        name = str(conninfo_to_dict(target.conninfo)["dbname"])
        timings: dict[str, float] = {}
        if not reused:
            timings["seed_seconds"] = seed_and_apply(target, sessions=args.sessions)
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
            "database": name if (args.keep or reused) else None,
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


if __name__ == "__main__":
    main()
