"""Seed N legacy sessions into a scratch database, then time `statsfirst migrate`; prints sessions/s and peak RSS.

Usage: python bench/migrate.py --sessions 100000 [--signal-samples 0] [--batch-size 5000] [--workers 2] [--dsn ADMIN]
The migration runs in a child process so its peak RSS is measured alone (resource.getrusage of children).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from scratch import scratch_database, seed_and_apply
from statsfirst.db.dsn import resolve_dsn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--signal-samples", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--dsn", default=None, help="admin DSN of the server (default: DATABASE_URL/embedded)")
    args = parser.parse_args()

    admin = resolve_dsn(args.dsn)
    with scratch_database(admin) as target:
        seed_seconds = seed_and_apply(target, sessions=args.sessions, signal_samples=args.signal_samples)
        cli = Path(sys.executable).parent / "statsfirst"
        started = time.perf_counter()
        result = subprocess.run(
            [str(cli), "migrate", "--dsn", target.conninfo, "--batch-size", str(args.batch_size),
             "--workers", str(args.workers), "--json"],
            check=True, capture_output=True, text=True,
        )
        wall = time.perf_counter() - started
        peak_rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        summary = json.loads(result.stdout)
        print(json.dumps({
            "sessions": args.sessions,
            "signal_samples": args.signal_samples,
            "seed_seconds": round(seed_seconds, 1),
            "migrate_seconds": round(wall, 1),
            "sessions_per_second": round(args.sessions / wall, 1),
            "peak_rss_mb": round(peak_rss_mb, 1),
            "migrated": summary["sessions"]["migrated"],
            "quarantined": summary["sessions"]["quarantined"],
            "skipped": summary["sessions"]["skipped"],
        }, indent=2))

if __name__ == "__main__":
    main()
