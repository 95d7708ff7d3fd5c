"""Row-by-row baseline: the simple Python script. For each legacy session (in id order): fetch its c3d_metadata
row, fetch its analysis rows, compute the target rows in Python, INSERT each row with ``cursor.execute``, commit.

Usage: python -m contenders.row_by_row --dsn DSN [--limit 2000] [--commit-every 1]
Same rules and the same three tables as the all-SQL baseline (therapy_sessions, emg_statistics,
performance_scores); invalid sessions are left out. The script is not made artificially slow: the reference
tables and the legacy session_settings (no index on session_id) are read once into dicts, JSON is decoded by
psycopg, and only the columns the mapping needs are fetched (never emg_signals).
"""

from __future__ import annotations

import argparse
import math
import re
import resource
import time
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from contenders.common import TARGET_SCHEMA, emit, proc_cpu_seconds
from statsfirst.extract.references import clean_reference as clean
from statsfirst.transform.therapy_sessions import PLAUSIBLE_RANGES

CHANNEL_KEY = re.compile(r"^CH[0-9]+$")
NUMBERS = (
    "contraction_count", "good_contraction_count", "mvc_contraction_count", "duration_contraction_count",
    "avg_duration_ms", "min_duration_ms", "max_duration_ms", "total_time_under_tension_ms",
    "duration_threshold_actual_value", "avg_amplitude", "max_amplitude", "rms", "mav", "mvc_threshold_actual_value",
    "mpf", "mdf", "fatigue_index_fi_nsm5", "expected_contractions",
)
BLOCKS = {"rms_temporal_stats": "rms", "mav_temporal_stats": "mav", "mpf_temporal_stats": "mpf",
          "mdf_temporal_stats": "mdf", "fatigue_index_temporal_stats": "fatigue_index"}
NON_NEGATIVE = (
    "rms", "mav", "mpf", "mdf", "rms_std", "mav_std", "mpf_std", "mdf_std", "fatigue_index_std", "avg_duration_ms",
    "min_duration_ms", "max_duration_ms", "total_time_under_tension_ms", "avg_amplitude", "max_amplitude",
    "mvc_threshold_actual_value",
)
MVC_METHODS = {"backend_estimation": "backend_95percentile", "user_provided": "user_defined",
               "global_provided": "user_defined"}
# the migration's recorded default weights (statsfirst.transform.scoring.MIGRATION_DEFAULT_WEIGHTS)
WEIGHTS = {"compliance": 0.5, "symmetry": 0.25, "effort": 0.25, "game": 0.0}
SCORING_VERSION = "metricsDefinitions-2025-08-12/statsfirst-1"
W = 1 / 3


class Invalid(Exception):
    """The session's legacy data would violate a target check or a mapping rule: it is left out."""


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def number(obj: dict[str, Any], key: str) -> float | None:
    value = obj.get(key)
    if value is None:
        return None
    if not is_number(value):
        raise Invalid(f"{key}={value!r}")
    return float(value)


def count(value: float | None) -> int | None:
    if value is None:
        return None
    if value < 0 or value != math.floor(value):
        raise Invalid(f"count {value}")
    return int(value)


def le(a: float | None, b: float | None) -> None:
    if a is not None and b is not None and a > b:
        raise Invalid(f"{a} > {b}")


def side_named(mapping: str | None) -> str | None:
    if mapping is None:
        return None
    lowered = mapping.lower()
    return "left" if "left" in lowered else "right" if "right" in lowered else None


def linked_settings(c: dict[str, Any], by_session: dict[str, list[dict[str, Any]]]) -> dict[str, Any] | None:
    code, own = c["session_id"], str(c["id"])
    candidates = list(by_session.get(code, [])) if code is not None else []
    candidates += [s for s in by_session.get(own, []) if s["session_id"] != code]
    if not candidates:
        return None
    far_past = datetime.min.replace(tzinfo=UTC)
    candidates.sort(key=lambda s: (s["user_id"], s["session_id"]))
    candidates.sort(key=lambda s: (s["updated_at"] is not None, s["updated_at"] or far_past), reverse=True)
    return candidates[0]


def decode_settings(params: Any) -> dict[str, Any]:
    """The linked params the three tables use, type-checked."""
    if not isinstance(params, dict):
        raise Invalid("params")
    out: dict[str, Any] = {
        "rpe": number(params, "post_session_rpe"),
        "expected_total": number(params, "session_expected_contractions"),
        "expected_ch1": number(params, "session_expected_contractions_ch1"),
        "expected_ch2": number(params, "session_expected_contractions_ch2"),
    }
    bfr = params.get("bfr_parameters")
    mapping = params.get("channel_muscle_mapping")
    if bfr is not None and not isinstance(bfr, dict):
        raise Invalid("bfr_parameters")
    if mapping is not None and not isinstance(mapping, dict):
        raise Invalid("channel_muscle_mapping")
    for side in ("left", "right"):
        block = (bfr or {}).get(side)
        if block is not None and not isinstance(block, dict):
            raise Invalid(f"bfr {side}")
        for key in ("aop_measured", "applied_pressure", "percentage_aop", "application_time_minutes"):
            value = number(block or {}, key)
            if key == "percentage_aop":
                out[f"bfr_{side}"] = value
    for ch in ("CH1", "CH2"):
        value = (mapping or {}).get(ch)
        if value is not None and not isinstance(value, str):
            raise Invalid(f"mapping {ch}")
        out[f"mapping_{ch.lower()}"] = value
    rpe = out["rpe"]
    if rpe is not None and not (0 <= rpe <= 10 and rpe * 2 == math.floor(rpe * 2)):
        raise Invalid("rpe")
    for side in ("left", "right"):
        value = out[f"bfr_{side}"]
        if value is not None and not 0 <= value <= 100:
            raise Invalid("bfr")
    for key in ("expected_ch1", "expected_ch2"):
        if out[key] is not None and out[key] <= 0:
            raise Invalid(key)
    return out


def channel_rows(
    session_id: Any, analysis: dict[str, Any], settings: dict[str, Any], processed_at: Any
) -> list[dict[str, Any]]:
    rows = []
    for position, (name, ch) in enumerate(sorted(analysis["analytics_data"].items())):
        if not CHANNEL_KEY.match(name) or not isinstance(ch, dict):
            raise Invalid(f"channel {name}")
        v = {key: number(ch, key) for key in NUMBERS}
        for block, metric in BLOCKS.items():
            stats = ch.get(block)
            if stats is not None and not isinstance(stats, dict):
                raise Invalid(block)
            v[f"{metric}_mean"] = number(stats or {}, "mean_value")
            v[f"{metric}_std"] = number(stats or {}, "std_value")
        total = count(v["contraction_count"])
        both, intensity = count(v["good_contraction_count"]), count(v["mvc_contraction_count"])
        duration = count(v["duration_contraction_count"])
        for small, large in ((intensity, total), (duration, total), (both, total), (both, intensity),
                             (both, duration), (v["min_duration_ms"], v["max_duration_ms"])):
            le(small, large)
        for key in NON_NEGATIVE:
            value = v[key]
            if value is not None and value < 0:
                raise Invalid(key)
        method = ch.get("mvc_estimation_method")
        if method is not None and method not in MVC_METHODS:
            raise Invalid("mvc_estimation_method")
        mapped = {"CH1": settings.get("mapping_ch1"), "CH2": settings.get("mapping_ch2")}.get(name)
        side = side_named(mapped) or {0: "left", 1: "right"}.get(position)
        linked_target = {"CH1": settings.get("expected_ch1"), "CH2": settings.get("expected_ch2")}.get(name)
        total_target = settings.get("expected_total")
        half = None if total_target is None else total_target / 2.0
        # the channel's linked target, else half the session's, else the analysis', else the default
        target = next((t for t in (linked_target, half, v["expected_contractions"]) if t is not None), 12.0)
        if target <= 0 or target != math.floor(target):
            raise Invalid("target")
        # a count that is not recorded gives no completion rate (and so no compliance), never "complete"
        completion = None if total is None else min(total * (1.0 / target), 1.0)
        intensity_rate = 0.0 if total == 0 else (None if total is None or intensity is None else intensity / total)
        duration_rate = 0.0 if total == 0 else (None if total is None or duration is None else duration / total)
        compliance = (
            None
            if completion is None or intensity_rate is None or duration_rate is None
            else W * completion + W * intensity_rate + W * duration_rate
        )
        steps = (ch.get("signal_processing") or {}).get("processing_steps")
        rows.append({
            "session_id": session_id, "channel_name": name, "side": side,
            "mvc_peak_value": None if v["mvc_threshold_actual_value"] is None
            else v["mvc_threshold_actual_value"] / 0.75,
            "mvc_calculation_method": MVC_METHODS.get(method) if method else None,
            "total_contractions": total, "good_contractions_intensity": intensity,
            "good_contractions_duration": duration, "good_contractions_both": both,
            "completion_rate": completion, "intensity_rate": intensity_rate, "duration_rate": duration_rate,
            "muscle_compliance_score": compliance,
            "rms": v["rms"], "mav": v["mav"], "mpf": v["mpf"], "mdf": v["mdf"],
            "fatigue_index": v["fatigue_index_fi_nsm5"],
            **{f"{m}_{s}": v[f"{m}_{s}"] for m in BLOCKS.values() for s in ("mean", "std")},
            "avg_duration_ms": v["avg_duration_ms"], "min_duration_ms": v["min_duration_ms"],
            "max_duration_ms": v["max_duration_ms"], "total_time_under_tension_ms": v["total_time_under_tension_ms"],
            "avg_amplitude": v["avg_amplitude"], "max_amplitude": v["max_amplitude"],
            "processing_pipeline": " -> ".join(str(s) for s in steps) if isinstance(steps, list) else None,
            "processing_version": analysis["processing_version"],
            "processing_time_ms": analysis["processing_time_ms"], "mvc_threshold_percentage": 0.75,
            "duration_threshold_seconds": 2.0 if v["duration_threshold_actual_value"] is None
            else v["duration_threshold_actual_value"] / 1000.0,
            "processed_at": processed_at,
        })
    sides = [r["side"] for r in rows if r["side"] is not None]
    if len(sides) != len(set(sides)):
        raise Invalid("conflicting sides")
    return rows


def score_row(session_id: Any, channels: list[dict[str, Any]], settings: dict[str, Any], c: dict[str, Any]) -> dict:
    by_side = {r["side"]: r for r in channels if r["side"]}
    left, right = by_side.get("left", {}), by_side.get("right", {})
    lc, rc = left.get("muscle_compliance_score"), right.get("muscle_compliance_score")
    recorded = [p for p in (settings.get("bfr_left"), settings.get("bfr_right")) if p is not None]
    gate = None if not recorded else (1.0 if all(45 <= p <= 55 for p in recorded) else 0.0)
    compliance = None if lc is None or rc is None else 100.0 * (lc + rc) / 2.0 * (1.0 if gate is None else gate)
    symmetry = None if lc is None or rc is None or lc + rc <= 0 else 100.0 * (1.0 - abs(lc - rc) / (lc + rc))
    rpe = settings.get("rpe")
    if rpe is None:
        effort = None
    elif 4 <= rpe <= 6:
        effort = 100.0
    elif 3 <= rpe < 4 or 6 < rpe <= 7:
        effort = 80.0
    elif 2 <= rpe < 3 or 7 < rpe <= 8:
        effort = 60.0
    else:
        effort = 20.0
    game = c["game_metadata"] if isinstance(c["game_metadata"], dict) else {}
    points, maximum = game.get("game_points_achieved"), game.get("game_points_maximum")
    try:
        points = float(points) if points is not None else None
        maximum = float(maximum) if maximum is not None else None
    except ValueError:
        raise Invalid("game points") from None
    game_score = 100.0 * points / maximum if points is not None and maximum is not None and maximum > 0 else None
    scores = {"compliance": compliance, "symmetry": symmetry, "effort": effort, "game": game_score}
    overall = None
    if all(scores[k] is not None for k, w in WEIGHTS.items() if w):
        overall = 0.0
        for k, w in WEIGHTS.items():
            overall += w * (scores[k] or 0.0)
        overall *= 1.0 if gate is None else gate
    missing = [k for k, w in WEIGHTS.items() if w and scores[k] is None] + (["bfr_gate"] if gate is None else [])
    duration = c["duration_seconds"] or None
    return {
        "session_id": session_id, "overall_performance_score": overall, "compliance_score": compliance,
        "symmetry_score": symmetry, "effort_score": effort, "game_score": game_score,
        "performance_weights": Jsonb(WEIGHTS), "bfr_pressure_aop": sum(recorded) / len(recorded) if recorded else None,
        "bfr_compliance_gate": None if gate is None else int(gate), "rpe_post_session": rpe,
        "game_points_achieved": points, "game_points_maximum": maximum,
        "session_duration_minutes": None if duration is None else duration / 60.0,
        **{f"{s}_muscle_{r}_rate": side.get(f"{r}_rate") for s, side in (("left", left), ("right", right))
           for r in ("completion", "intensity", "duration")},
        "missing_components": missing, "scoring_version": SCORING_VERSION,
    }


def insert(cur: psycopg.Cursor[Any], schema: str, table: str, row: dict[str, Any]) -> None:
    cur.execute(
        sql.SQL("INSERT INTO {}.{} ({}) VALUES ({})").format(
            sql.Identifier(schema),
            sql.Identifier(table),
            sql.SQL(", ").join(sql.Identifier(k) for k in row),
            sql.SQL(", ").join(sql.Placeholder() * len(row)),
        ),
        list(row.values()),
    )


def migrate_session(
    cur: psycopg.Cursor[Any], schema: str, session_id: Any, refs: dict[str, Any]
) -> int:
    """Returns the number of target rows inserted (0 when the session is skipped or invalid)."""
    c = cur.execute(
        "SELECT id, file_path, file_hash, file_size_bytes, patient_id, therapist_id, session_id, session_date, "
        "session_type, game_metadata, channel_names, channel_count, sampling_rate, duration_seconds, frame_count, "
        "resolved_patient_id, resolved_therapist_id, resolved_session_date, processing_status, processing_version, "
        "error_message, created_at, updated_at, processed_at FROM public.c3d_metadata WHERE id = %s",
        (session_id,),
    ).fetchone()
    if c is None:
        return 0
    # a session the legacy app is still processing is migrated with its status and no child rows
    waiting = c["processing_status"] in ("pending", "processing")
    analyses = cur.execute(
        "SELECT id, processing_version, processing_time_ms, analytics_data, created_at "
        "FROM public.analysis_results WHERE c3d_metadata_id = %s",
        (session_id,),
    ).fetchall()
    candidates = [a for a in analyses if isinstance(a["analytics_data"], dict) and a["analytics_data"]]
    current = max(candidates, key=lambda a: (a["created_at"], str(a["id"])), default=None)
    newest = max(analyses, key=lambda a: (a["created_at"], str(a["id"])), default=None)
    try:
        if not re.fullmatch(r"[0-9a-f]{64}", c["file_hash"]) or c["file_size_bytes"] < 0:
            raise Invalid("file")
        for column, (low, high) in PLAUSIBLE_RANGES.items():  # an unreadable header: held back, not migrated
            value = c[column]
            if value and not (math.isfinite(value) and value > low and (high is None or value <= high)):
                raise Invalid(column)
        link = None if waiting else linked_settings(c, refs["settings"])
        settings = decode_settings(link["params"]) if link else {}
        channels = channel_rows(session_id, current, settings, c["processed_at"]) if current and not waiting else []
        for row in channels:
            if row["processing_time_ms"] is not None and row["processing_time_ms"] < 0:
                raise Invalid("processing_time_ms")
        scores = score_row(session_id, channels, settings, c) if channels else None
    except Invalid:
        return 0
    patient = clean(c["resolved_patient_id"]) or clean(c["patient_id"])
    therapist = clean(c["therapist_id"]) or clean(c["resolved_therapist_id"])
    session_date = c["session_date"] or c["resolved_session_date"]
    names = c["channel_names"]
    insert(cur, schema, "therapy_sessions", {
        "id": c["id"], "file_path": c["file_path"], "file_hash": c["file_hash"],
        "file_size_bytes": c["file_size_bytes"], "patient_id": patient if patient in refs["patients"] else None,
        "therapist_id": therapist.lower() if therapist and therapist.lower() in refs["therapists"] else None,
        "session_code": c["session_id"],
        "session_date": session_date.replace(tzinfo=UTC) if session_date else None,
        "session_type": c["session_type"] if c["session_type"] in ("baseline", "training", "assessment") else None,
        "original_sampling_rate": c["sampling_rate"] or None,
        "original_duration_seconds": c["duration_seconds"] or None,
        "original_sample_count": c["frame_count"] or None,
        "channel_names": None if names is None or names == [] else Jsonb(names),
        "channel_count": c["channel_count"] or None,
        "game_metadata": None if c["game_metadata"] is None else Jsonb(c["game_metadata"]),
        # the newest analysis row's version, even when its analytics_data is {}
        "processing_version": (newest or {}).get("processing_version") or c["processing_version"] or "unknown",
        "processing_status": c["processing_status"],
        "processing_time_ms": current["processing_time_ms"] if current else None,
        "error_message": c["error_message"], "created_at": c["created_at"], "updated_at": c["updated_at"],
        "processed_at": c["processed_at"],
    })
    for row in channels:
        insert(cur, schema, "emg_statistics", row)
    if scores:
        insert(cur, schema, "performance_scores", scores)
    return 1 + len(channels) + (1 if scores else 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--limit", type=int, default=2000, help="first N legacy sessions in id order")
    parser.add_argument("--commit-every", type=int, default=1, help="sessions per transaction")
    parser.add_argument("--target-schema", default=TARGET_SCHEMA)
    args = parser.parse_args()

    started = time.perf_counter()
    with psycopg.connect(args.dsn, row_factory=dict_row) as conn, conn.cursor() as cur:
        refs: dict[str, Any] = {
            "patients": {r["patient_code"] for r in cur.execute("SELECT patient_code FROM public.patients")},
            "therapists": {str(r["id"]) for r in cur.execute("SELECT id FROM public.therapists")},
            "settings": defaultdict(list),
        }
        has_settings = cur.execute("SELECT to_regclass('public.session_settings') IS NOT NULL AS ok").fetchone()
        if has_settings and has_settings["ok"]:
            for s in cur.execute("SELECT user_id, session_id, params, updated_at FROM public.session_settings"):
                refs["settings"][s["session_id"]].append(s)
        ids = [r["id"] for r in cur.execute("SELECT id FROM public.c3d_metadata ORDER BY id LIMIT %s", (args.limit,))]
        conn.commit()
        rows = migrated = 0
        loop_started = _clocks(conn)
        for n, session_id in enumerate(ids, start=1):
            inserted = migrate_session(cur, args.target_schema, session_id, refs)
            rows += inserted
            migrated += inserted > 0
            if n % args.commit_every == 0:
                conn.commit()
        conn.commit()
        loop_ended = _clocks(conn)
    loop = {key: _elapsed(loop_started[key], loop_ended[key]) for key in loop_started}
    emit({
        "seconds": round(time.perf_counter() - started, 3), "sessions": len(ids), "migrated": migrated,
        "rows": rows, "commit_every": args.commit_every,
        # the per-session loop alone (the set-up above it is paid once, whatever N): what the bench extrapolates
        "loop_wall_s": loop["wall"], "loop_client_cpu_s": loop["client_cpu"], "loop_server_cpu_s": loop["server_cpu"],
    })


def _elapsed(start: float | None, end: float | None) -> float | None:
    return None if start is None or end is None else round(end - start, 3)


def _clocks(conn: psycopg.Connection[Any]) -> dict[str, float | None]:
    """Wall clock, this process' CPU and its backend's CPU (from /proc when the server runs on this machine)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    row = conn.execute("SELECT pg_backend_pid() AS pid").fetchone()
    server = proc_cpu_seconds(int(row["pid"])) if row else None
    return {"wall": time.perf_counter(), "client_cpu": usage.ru_utime + usage.ru_stime, "server_cpu": server}


if __name__ == "__main__":
    main()
