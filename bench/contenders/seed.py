"""Seed the legacy tables of an empty database (``statsfirst.legacy.generator.seed_legacy``), in its own process so
its time and peak RSS are measured alone.

Usage: python -m contenders.seed --dsn DSN --sessions N [--signal-samples K] [--seed 1] [--bad-fraction 0.01]
"""

from __future__ import annotations

import argparse
import time

import psycopg

from contenders.common import emit
from statsfirst.legacy.baseline import init_legacy
from statsfirst.legacy.generator import seed_legacy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--sessions", type=int, required=True)
    parser.add_argument("--signal-samples", type=int, default=0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--bad-fraction", type=float, default=0.01)
    args = parser.parse_args()

    started = time.perf_counter()
    with psycopg.connect(args.dsn) as conn:
        init_legacy(conn, with_session_settings=True)
        report = seed_legacy(
            conn,
            sessions=args.sessions,
            seed=args.seed,
            bad_fraction=args.bad_fraction,
            signal_samples=args.signal_samples,
        )
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    emit({
        "seconds": round(time.perf_counter() - started, 3),
        "sessions": report.sessions,
        "analyses": report.analyses,
        "settings_rows": report.settings_rows,
        "spoiled": report.spoiled,
        "signal_samples": args.signal_samples,
        "grounded": report.grounded,
        "catalog_source": report.catalog_source,
        "database_mb": round((size[0] if size else 0) / 2**20, 1),
    })


if __name__ == "__main__":
    main()
