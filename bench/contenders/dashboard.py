"""Dashboard reads: the Statistics-First tables versus the equivalent query over the legacy JSONB.

Usage: python -m contenders.dashboard --dsn DSN [--samples 50] [--seed 7]
Two reads, each for ``--samples`` random parameter sets, new and legacy alternating in chunks (so a burst of load
on a shared machine hits both alike), after one warm-up pass; client round-trip latency (rows fetched):

* ``patient_14d``: one patient's sessions over 14 days with their compliance, symmetry and effort scores, BFR gate
  and per-side completion rates (new: therapy_sessions (patient_id, session_date) index + performance_scores).
* ``clinic_14d``: clinic-wide compliance summary over 14 days, per therapist and patient: sessions, mean compliance
  and symmetry, share of sessions passing the BFR gate, sessions under 50 % compliance.

The legacy equivalents compute the same numbers the way the legacy data forces: pick each session's current
analysis (newest non-empty analytics_data), walk its channels with jsonb_each, assign sides (sorted key, or the
linked channel_muscle_mapping), compute the rates and scores of mapping.md, and find the linked legacy
session_settings row (RPE, BFR pressures) by session code or id (the legacy table has no index for that).
Values that are not JSON numbers read as NULL, so spoiled legacy rows do not break the read.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from contenders.common import TARGET_SCHEMA, emit

CHUNK = 10


def _num(expr: str) -> str:
    return f"CASE WHEN jsonb_typeof({expr}) = 'number' THEN ({expr})::float8 END"


def _side(mapping: str) -> str:
    return (f"CASE WHEN lower({mapping}) LIKE '%%left%%' THEN 'left' "
            f"WHEN lower({mapping}) LIKE '%%right%%' THEN 'right' END")


def legacy_scores(sessions: str) -> str:
    """CTEs ending in ``scored`` (one row per session with a current analysis) for the sessions of ``sessions``
    (a query returning id, code, session_date, patient)."""
    return f"""
    WITH s AS ({sessions}),
    cur AS (
        SELECT s.id, a.analytics_data
        FROM s CROSS JOIN LATERAL (
            SELECT a.analytics_data FROM public.analysis_results a
            WHERE a.c3d_metadata_id = s.id AND jsonb_typeof(a.analytics_data) = 'object'
              AND a.analytics_data <> '{{}}'::jsonb
            ORDER BY a.created_at DESC, a.id DESC LIMIT 1) a
    ),
    st AS (
        SELECT DISTINCT ON (id) id, params
        FROM (SELECT s.id, x.params, x.updated_at, x.user_id, x.session_id
              FROM s JOIN public.session_settings x ON x.session_id = s.code
              UNION ALL
              SELECT s.id, x.params, x.updated_at, x.user_id, x.session_id
              FROM s JOIN public.session_settings x
                   ON x.session_id = s.id::text AND x.session_id IS DISTINCT FROM s.code) linked
        ORDER BY id, updated_at DESC NULLS LAST, user_id, session_id
    ),
    ch AS (
        SELECT cur.id, {_num("e.value -> 'contraction_count'")} AS total,
               {_num("e.value -> 'mvc_contraction_count'")} AS good_intensity,
               {_num("e.value -> 'duration_contraction_count'")} AS good_duration,
               coalesce({_num("e.value -> 'expected_contractions'")},
                        CASE e.key WHEN 'CH1' THEN {_num("st.params -> 'session_expected_contractions_ch1'")}
                                   WHEN 'CH2' THEN {_num("st.params -> 'session_expected_contractions_ch2'")} END,
                        12.0) AS target,
               coalesce(CASE e.key WHEN 'CH1' THEN {_side("st.params #>> '{channel_muscle_mapping,CH1}'")}
                                   WHEN 'CH2' THEN {_side("st.params #>> '{channel_muscle_mapping,CH2}'")} END,
                        CASE row_number() OVER (PARTITION BY cur.id ORDER BY e.key COLLATE "C")
                            WHEN 1 THEN 'left' WHEN 2 THEN 'right' END) AS side
        FROM cur CROSS JOIN LATERAL jsonb_each(cur.analytics_data) e
        LEFT JOIN st ON st.id = cur.id
    ),
    rated AS (
        SELECT id, side, CASE WHEN total IS NOT NULL AND target > 0 THEN least(total / target, 1.0) END AS completion,
               CASE WHEN total = 0 THEN 0.0 ELSE good_intensity / total END AS intensity,
               CASE WHEN total = 0 THEN 0.0 ELSE good_duration / total END AS duration
        FROM ch
    ),
    sides AS (
        SELECT id,
               max((completion + intensity + duration) / 3) FILTER (WHERE side = 'left') AS l,
               max((completion + intensity + duration) / 3) FILTER (WHERE side = 'right') AS r,
               max(completion) FILTER (WHERE side = 'left') AS left_completion,
               max(completion) FILTER (WHERE side = 'right') AS right_completion
        FROM rated GROUP BY id
    ),
    gated AS (
        SELECT s.*, sides.l, sides.r, sides.left_completion, sides.right_completion,
               {_num("st.params -> 'post_session_rpe'")} AS rpe,
               {_num("st.params #> '{bfr_parameters,left,percentage_aop}'")} AS bfr_left,
               {_num("st.params #> '{bfr_parameters,right,percentage_aop}'")} AS bfr_right
        FROM s JOIN sides ON sides.id = s.id LEFT JOIN st ON st.id = s.id
    ),
    scored AS (
        SELECT gated.*, gate,
               100.0 * (l + r) / 2.0 * coalesce(gate, 1.0) AS compliance_score,
               CASE WHEN l + r > 0 THEN 100.0 * (1.0 - abs(l - r) / (l + r)) END AS symmetry_score,
               CASE WHEN rpe IS NULL THEN NULL WHEN rpe BETWEEN 4 AND 6 THEN 100.0
                    WHEN (rpe >= 3 AND rpe < 4) OR (rpe > 6 AND rpe <= 7) THEN 80.0
                    WHEN (rpe >= 2 AND rpe < 3) OR (rpe > 7 AND rpe <= 8) THEN 60.0 ELSE 20.0 END AS effort_score
        FROM gated CROSS JOIN LATERAL (
            SELECT CASE WHEN bfr_left IS NULL AND bfr_right IS NULL THEN NULL
                        WHEN coalesce(bfr_left BETWEEN 45 AND 55, true) AND coalesce(bfr_right BETWEEN 45 AND 55, true)
                        THEN 1 ELSE 0 END AS gate) g
    )"""


QUERIES: dict[str, dict[str, str]] = {
    "patient_14d": {
        "new": f"""
            SELECT s.id, s.session_date, p.compliance_score, p.symmetry_score, p.effort_score, p.bfr_compliance_gate,
                   p.left_muscle_completion_rate, p.right_muscle_completion_rate
            FROM {TARGET_SCHEMA}.therapy_sessions s
            JOIN {TARGET_SCHEMA}.performance_scores p ON p.session_id = s.id
            WHERE s.patient_id = %(patient)s AND s.session_date >= %(start)s AND s.session_date < %(end)s
            ORDER BY s.session_date, s.id""",
        "legacy": legacy_scores("""
            SELECT c.id, c.session_id AS code, c.resolved_session_date AS session_date, c.resolved_patient_id AS patient
            FROM public.c3d_metadata c
            WHERE c.resolved_patient_id = %(patient)s
              AND c.resolved_session_date >= %(start_naive)s AND c.resolved_session_date < %(end_naive)s""")
        + """
            SELECT id, session_date, compliance_score, symmetry_score, effort_score, gate, left_completion,
                   right_completion
            FROM scored ORDER BY session_date, id""",
    },
    "clinic_14d": {
        "new": f"""
            SELECT pt.therapist_id, s.patient_id, count(*) AS sessions, avg(p.compliance_score) AS compliance,
                   avg(p.symmetry_score) AS symmetry, avg(p.bfr_compliance_gate) AS bfr_gate_passed,
                   count(*) FILTER (WHERE p.compliance_score < 50) AS under_50
            FROM public.patients pt
            JOIN {TARGET_SCHEMA}.therapy_sessions s ON s.patient_id = pt.patient_code
            JOIN {TARGET_SCHEMA}.performance_scores p ON p.session_id = s.id
            WHERE s.session_date >= %(start)s AND s.session_date < %(end)s
            GROUP BY pt.therapist_id, s.patient_id ORDER BY 1, 2""",
        "legacy": legacy_scores("""
            SELECT c.id, c.session_id AS code, c.resolved_session_date AS session_date, c.resolved_patient_id AS patient
            FROM public.c3d_metadata c JOIN public.patients pt ON pt.patient_code = c.resolved_patient_id
            WHERE c.resolved_session_date >= %(start_naive)s AND c.resolved_session_date < %(end_naive)s""")
        + """
            SELECT pt.therapist_id, scored.patient, count(*) AS sessions, avg(compliance_score) AS compliance,
                   avg(symmetry_score) AS symmetry, avg(gate) AS bfr_gate_passed,
                   count(*) FILTER (WHERE compliance_score < 50) AS under_50
            FROM scored JOIN public.patients pt ON pt.patient_code = scored.patient
            GROUP BY pt.therapist_id, scored.patient ORDER BY 1, 2""",
    },
}


def parameters(conn: psycopg.Connection, n: int, rng: random.Random) -> dict[str, list[dict[str, Any]]]:
    """Random (patient, 14-day window) pairs ending on a day the patient trained; random clinic windows."""
    rows = conn.execute(
        f"SELECT s.patient_id, s.session_date FROM {TARGET_SCHEMA}.therapy_sessions s "
        f"JOIN {TARGET_SCHEMA}.performance_scores p ON p.session_id = s.id "
        "WHERE s.patient_id IS NOT NULL AND s.session_date IS NOT NULL"
    ).fetchall()
    picks = rng.sample(rows, min(n, len(rows)))

    def window(day: datetime) -> dict[str, Any]:
        end = day.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
        start = end - timedelta(days=14)
        return {"start": start, "end": end, "start_naive": start.replace(tzinfo=None),
                "end_naive": end.replace(tzinfo=None)}

    return {
        "patient_14d": [{"patient": patient, **window(day)} for patient, day in picks],
        "clinic_14d": [window(day) for _, day in rng.sample(rows, min(n, len(rows)))],
    }


def run(conn: psycopg.Connection, query: str, params: dict[str, Any]) -> tuple[float, list[tuple[Any, ...]]]:
    started = time.perf_counter()
    rows = conn.execute(query, params, prepare=True).fetchall()
    return (time.perf_counter() - started) * 1000, rows


def percentiles(ms: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(ms, n=20) if len(ms) > 1 else [ms[0]] * 19
    return {"p50_ms": round(statistics.median(ms), 3), "p95_ms": round(cuts[18], 3)}


def scans(conn: psycopg.Connection, query: str, params: dict[str, Any]) -> list[str]:
    row = conn.execute("EXPLAIN (FORMAT JSON) " + query, params).fetchone()
    plan = row[0] if row else []
    plan = plan if isinstance(plan, list) else json.loads(plan)
    found: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        if "Relation Name" in node:
            found.append(f"{node['Node Type']} on {node['Relation Name']}" + (
                f" using {node['Index Name']}" if "Index Name" in node else ""))
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return found


def agreement(new_rows: list[tuple[Any, ...]], legacy_rows: list[tuple[Any, ...]]) -> tuple[int, int]:
    """patient_14d: sessions in both results and how many have the same compliance score (to 1e-9)."""
    legacy = {r[0]: r[2] for r in legacy_rows}
    both = [(r[2], legacy[r[0]]) for r in new_rows if r[0] in legacy]
    same = sum(1 for a, b in both if (a is None and b is None) or (None not in (a, b) and abs(a - b) < 1e-9))
    return len(both), same


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    results: dict[str, Any] = {}
    with psycopg.connect(args.dsn, autocommit=True) as conn:
        picks = parameters(conn, args.samples, rng)
        for name, pair in QUERIES.items():
            params = picks[name]
            times: dict[str, list[float]] = {"new": [], "legacy": []}
            rows_returned = {"new": 0, "legacy": 0}
            compared = same = 0
            for p in params:  # warm-up: caches, prepared statements
                run(conn, pair["new"], p)
                run(conn, pair["legacy"], p)
            for i in range(0, len(params), CHUNK):
                order = ("new", "legacy") if (i // CHUNK) % 2 == 0 else ("legacy", "new")
                outputs: dict[str, list[list[tuple[Any, ...]]]] = {"new": [], "legacy": []}
                for side in order:
                    for p in params[i : i + CHUNK]:
                        ms, rows = run(conn, pair[side], p)
                        times[side].append(ms)
                        rows_returned[side] += len(rows)
                        outputs[side].append(rows)
                if name == "patient_14d":
                    for new_rows, legacy_rows in zip(outputs["new"], outputs["legacy"], strict=True):
                        c, s = agreement(new_rows, legacy_rows)
                        compared, same = compared + c, same + s
            new, legacy = percentiles(times["new"]), percentiles(times["legacy"])
            results[name] = {
                "samples": len(params),
                "new": new,
                "legacy": legacy,
                "speedup_p50": round(legacy["p50_ms"] / new["p50_ms"], 1),
                "speedup_p95": round(legacy["p95_ms"] / new["p95_ms"], 1),
                "rows_per_read": {k: round(v / max(len(params), 1), 1) for k, v in rows_returned.items()},
                "plan_new": scans(conn, pair["new"], params[0]),
            }
            if name == "patient_14d":
                results[name]["sessions_compared"] = compared
                results[name]["sessions_same_compliance"] = same
    emit(results)


if __name__ == "__main__":
    main()
