"""Latency of the legacy application's reads: compatibility views versus the legacy tables; prints JSON.

Usage: python bench/views.py --sessions 100000 [--samples 300] [--rounds 3] [--dsn ADMIN]
Creates a scratch database, seeds N legacy sessions, applies the schema (005-007), migrates, ANALYZEs, then for
each read of compat-views.md runs the same statement (prepared, as the table owner, i.e. without RLS like the
legacy backend's service role) for ``--samples`` keys against the legacy table and against its view, alternating
in chunks of 25 keys, ``--rounds`` times, and reports p50/p95 client round-trip latency (rows fetched and
decoded) and the ratio view/legacy.
The plan of each read (node type and relation of every scan) is printed for the owner and for a therapist (RLS
on), so the "index scans at 100k sessions" requirement can be read off directly. The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql

from scratch import scratch_database, seed_and_apply
from statsfirst.db.dsn import resolve_dsn
from statsfirst.pipeline.options import MigrateOptions
from statsfirst.pipeline.run import migrate

TARGET = "stats"
CHUNK = 25
NOW = datetime.now(UTC)
# name: (statement with {} for the relation, key columns taken from the sample, legacy table, view)
READS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "c3d_by_id": ("SELECT * FROM {} WHERE id = %s", ("session",), "c3d_metadata"),
    "c3d_by_hash": ("SELECT * FROM {} WHERE file_hash = %s", ("hash",), "c3d_metadata"),
    "analysis_by_hash": (
        "SELECT * FROM {} WHERE file_hash = %s AND processing_version = %s AND expires_at > %s "
        "ORDER BY created_at DESC LIMIT 1",
        ("hash", "version", "now"),
        "analysis_results",
    ),
    "analyses_by_session": (
        "SELECT * FROM {} WHERE c3d_metadata_id = %s AND expires_at > %s ORDER BY created_at DESC",
        ("session", "epoch"),
        "analysis_results",
    ),
    "cache_hits_by_id": ("SELECT cache_hits FROM {} WHERE id = %s", ("analysis",), "analysis_results"),
}


def samples(conn: psycopg.Connection, n: int) -> list[dict[str, Any]]:
    """Deterministic sample of migrated current analyses (sessions and hashes that have cached analyses)."""
    rows = conn.execute(
        "SELECT c3d_metadata_id, id, file_hash, processing_version FROM public.analysis_results_view "
        "WHERE analytics_data <> '{}' ORDER BY md5(id::text) LIMIT %s",
        (n,),
    ).fetchall()
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    return [{"session": s, "analysis": a, "hash": h, "version": v, "now": NOW, "epoch": epoch} for s, a, h, v in rows]


def statement(template: str, relation: str) -> sql.Composed:
    return sql.SQL(template).format(sql.Identifier("public", relation))


def timed(conn: psycopg.Connection, query: sql.Composed, params: list[tuple[Any, ...]]) -> list[float]:
    for p in params:  # warm-up: caches, prepared statement
        conn.execute(query, p, prepare=True).fetchall()
    out = []
    for p in params:
        started = time.perf_counter()
        conn.execute(query, p, prepare=True).fetchall()
        out.append((time.perf_counter() - started) * 1000)
    return out


def timed_pair(
    conn: psycopg.Connection, legacy: sql.Composed, view: sql.Composed, params: list[tuple[Any, ...]], rounds: int
) -> tuple[list[float], list[float]]:
    """Both statements over the same keys, alternating in chunks of CHUNK keys (which goes first alternates too),
    so bursts of load on a shared machine hit both alike while each statement still runs back to back as an
    application's repeated read does; one warm-up pass each, then ``rounds`` passes over the keys."""
    timed(conn, legacy, params)
    timed(conn, view, params)
    times: dict[int, list[float]] = {0: [], 1: []}
    chunks = [params[i : i + CHUNK] for i in range(0, len(params), CHUNK)]
    for r in range(rounds):
        for i, chunk in enumerate(chunks):
            order = ((0, legacy), (1, view)) if (i + r) % 2 == 0 else ((1, view), (0, legacy))
            for which, query in order:
                for p in chunk:
                    started = time.perf_counter()
                    conn.execute(query, p, prepare=True).fetchall()
                    times[which].append((time.perf_counter() - started) * 1000)
    return times[0], times[1]


def percentiles(ms: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(ms, n=20)
    return {"p50_ms": round(statistics.median(ms), 3), "p95_ms": round(cuts[18], 3)}


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


def scans(conn: psycopg.Connection, query: sql.Composed, params: tuple[Any, ...]) -> list[str]:
    row = conn.execute(sql.SQL("EXPLAIN (FORMAT JSON) ") + query, params).fetchone()
    assert row is not None
    plan = row[0] if isinstance(row[0], list) else json.loads(row[0])
    return [f"{n['Node Type']} on {n['Relation Name']}" for n in nodes(plan[0]["Plan"]) if "Relation Name" in n]


def therapist_of(conn: psycopg.Connection, session: Any) -> Any:
    row = conn.execute(
        f"SELECT t.user_id FROM {TARGET}.therapy_sessions s JOIN public.patients p ON p.patient_code = s.patient_id "
        "JOIN public.therapists t ON t.id = p.therapist_id WHERE s.id = %s",
        (session,),
    ).fetchone()
    return row[0] if row else None


def measure(conn: psycopg.Connection, picks: list[dict[str, Any]], rounds: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name, (template, keys, table) in READS.items():
        params = [tuple(p[k] for k in keys) for p in picks]
        legacy_q, view_q = statement(template, table), statement(template, f"{table}_view")
        legacy_ms, view_ms = timed_pair(conn, legacy_q, view_q, params, rounds)
        legacy, view = percentiles(legacy_ms), percentiles(view_ms)
        results[name] = {
            "legacy": legacy,
            "view": view,
            "ratio_p50": round(view["p50_ms"] / legacy["p50_ms"], 2),
            "ratio_p95": round(view["p95_ms"] / legacy["p95_ms"], 2),
            "plan_legacy": scans(conn, legacy_q, params[0]),
            "plan_view": scans(conn, view_q, params[0]),
        }
    # the same plans as a therapist (RLS quals added): still index scans
    pick, user = next((p, u) for p in picks if (u := therapist_of(conn, p["session"])) is not None)
    with conn.transaction():
        conn.execute("SET LOCAL ROLE authenticated")
        conn.execute("SELECT set_config('request.jwt.claims', %s, true)",
                     (json.dumps({"sub": str(user), "role": "authenticated"}),))
        for name, (template, keys, table) in READS.items():
            results[name]["plan_view_as_therapist"] = scans(
                conn, statement(template, f"{table}_view"), tuple(pick[k] for k in keys)
            )
        conn.execute("RESET ROLE")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3, help="timed passes over the sampled keys")
    parser.add_argument("--dsn", default=None, help="admin DSN of the server (default: DATABASE_URL/embedded)")
    args = parser.parse_args()

    admin = resolve_dsn(args.dsn)
    with scratch_database(admin) as target:
        seed_seconds = seed_and_apply(target, sessions=args.sessions, target_schema=TARGET)
        started = time.perf_counter()
        summary = migrate(target, MigrateOptions(), log=lambda _: None)
        migrate_seconds = time.perf_counter() - started
        with psycopg.connect(target.conninfo, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
            picks = samples(conn, args.samples)
            version = conn.execute("SHOW server_version").fetchone()
            counts = conn.execute(
                "SELECT (SELECT count(*) FROM public.c3d_metadata), (SELECT count(*) FROM public.c3d_metadata_view),"
                " (SELECT count(*) FROM public.analysis_results), (SELECT count(*) FROM public.analysis_results_view)"
            ).fetchone()
            reads = measure(conn, picks, args.rounds)
            count_legacy, count_view = timed_pair(
                conn, statement("SELECT count(*) FROM {}", "c3d_metadata"),
                statement("SELECT count(*) FROM {}", "c3d_metadata_view"), [()] * 20, 1,
            )
            count_ms = {"legacy": percentiles(count_legacy), "view": percentiles(count_view)}
        print(json.dumps({
            "sessions": args.sessions,
            "server_version": version[0] if version else None,
            "seed_seconds": round(seed_seconds, 1),
            "migrate_seconds": round(migrate_seconds, 1),
            "migrated": summary.migrated,
            "rows": dict(zip(("c3d_metadata", "c3d_metadata_view", "analysis_results", "analysis_results_view"),
                             counts or (), strict=False)),
            "samples": len(picks),
            "rounds": args.rounds,
            "reads": reads,
            "count": count_ms,
        }, indent=2, default=str))


if __name__ == "__main__":
    main()
