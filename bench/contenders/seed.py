"""Seed the legacy tables of an empty database (``statsfirst.legacy.generator.seed_legacy``), in its own process so
its time and peak RSS are measured alone; then spoil a small, fixed share of the legacy contraction counts.

The generator never drops a count key (the migration needs them), so a contender whose completion rule treats a
missing count as complete (``least(total / target, 1)`` is 1 for a NULL total in SQL, as ``min_horizontal`` is in
polars) would still agree with statsfirst. After seeding, ~2 % of the channels of analytics_data (every analysis
row) lose one of contraction_count, good_contraction_count or expected_contractions, and a quarter of those get it
as JSON null instead; which channel and which key follow from md5(analysis id : channel key), so every run seeds
the same. The JSON reports how many channels were changed (``missing_counts_seeded``, by key and form).

Usage: python -m contenders.seed --dsn DSN --sessions N [--signal-samples K] [--seed 1] [--bad-fraction 0.01]
       [--missing-count-permille 20]
"""

from __future__ import annotations

import argparse
import time

import psycopg

from contenders.common import emit
from statsfirst.legacy.baseline import init_legacy
from statsfirst.legacy.generator import seed_legacy

# One statement. Per channel object of every analysis: d = md5(id ':' key) as bytes; bytes 0-1 pick the channel
# (< permille * 65536 / 1000), byte 2 the key, byte 3 whether it becomes JSON null (< 64: a quarter) or goes away.
# Only channels whose object actually changes are rewritten and counted (a key already absent stays absent).
SPOIL_COUNTS = """
WITH picked AS (
    SELECT a.id, e.key AS channel,
           (ARRAY['contraction_count', 'good_contraction_count', 'expected_contractions'])[get_byte(d, 2) %% 3 + 1]
               AS count_key,
           get_byte(d, 3) < 64 AS as_null
    FROM public.analysis_results a
    CROSS JOIN LATERAL jsonb_each(CASE WHEN jsonb_typeof(a.analytics_data) = 'object' THEN a.analytics_data END) e
    CROSS JOIN LATERAL (SELECT decode(md5(a.id::text || ':' || e.key), 'hex') AS d) h
    WHERE jsonb_typeof(e.value) = 'object' AND get_byte(d, 0) * 256 + get_byte(d, 1) < %(threshold)s
),
changed AS (
    SELECT p.*, CASE WHEN p.as_null THEN jsonb_set(a.analytics_data -> p.channel, ARRAY[p.count_key], 'null')
                     ELSE (a.analytics_data -> p.channel) - p.count_key END AS spoiled
    FROM picked p JOIN public.analysis_results a ON a.id = p.id
),
effective AS (
    SELECT c.* FROM changed c JOIN public.analysis_results a ON a.id = c.id
    WHERE c.spoiled IS DISTINCT FROM a.analytics_data -> c.channel
),
written AS (
    UPDATE public.analysis_results a
    SET analytics_data = a.analytics_data || s.patch
    FROM (SELECT id, jsonb_object_agg(channel, spoiled) AS patch FROM effective GROUP BY id) s
    WHERE a.id = s.id
    RETURNING a.id
)
SELECT count_key, as_null, count(*), (SELECT count(*) FROM written) FROM effective GROUP BY count_key, as_null
"""


def spoil_counts(conn: psycopg.Connection, permille: int) -> dict[str, object]:
    """Remove (or null) one count key of ~permille/1000 of the channels; returns what was changed."""
    rows = conn.execute(SPOIL_COUNTS, {"threshold": permille * 65536 // 1000}).fetchall()
    conn.execute("ANALYZE public.analysis_results")
    conn.commit()
    by_key: dict[str, int] = {}
    for key, as_null, n, _ in rows:
        label = f"{key}={'null' if as_null else 'absent'}"
        by_key[label] = by_key.get(label, 0) + int(n)
    return {
        "missing_counts_seeded": sum(by_key.values()),
        "missing_counts_by_key": dict(sorted(by_key.items())),
        "missing_counts_analyses": int(rows[0][3]) if rows else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--sessions", type=int, required=True)
    parser.add_argument("--signal-samples", type=int, default=0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--bad-fraction", type=float, default=0.01)
    parser.add_argument("--missing-count-permille", type=int, default=20,
                        help="channels (per thousand) that lose a count key after seeding (0: none)")
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
        spoiled = spoil_counts(conn, args.missing_count_permille) if args.missing_count_permille > 0 else {
            "missing_counts_seeded": 0, "missing_counts_by_key": {}, "missing_counts_analyses": 0}
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    emit({
        "seconds": round(time.perf_counter() - started, 3),
        "sessions": report.sessions,
        "analyses": report.analyses,
        "settings_rows": report.settings_rows,
        "spoiled": report.spoiled,
        **spoiled,
        "signal_samples": args.signal_samples,
        "grounded": report.grounded,
        "catalog_source": report.catalog_source,
        "database_mb": round((size[0] if size else 0) / 2**20, 1),
    })


if __name__ == "__main__":
    main()
