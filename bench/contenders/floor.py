"""Floor: the I/O no migration can avoid. COPY out exactly the legacy columns and JSON paths the mapping reads (to
a sink), then COPY in the finished target rows (precomputed: statsfirst's own output, dumped beforehand in binary
format) into an empty copy of the schema with the same constraints, indexes and triggers. Time = out + in.

Usage: python -m contenders.floor --dsn DSN --dump-dir DIR
DIR holds ``<schema>.<table>.bin`` files and ``tables.txt`` (load order), written by :func:`dump_tables`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import psycopg
from psycopg import sql

from contenders.common import TARGET_SCHEMA, emit

# The channel numbers and temporal fields the mapping reads (mapping.md §emg_statistics, §processing_parameters).
CHANNEL_NUMBERS = (
    "contraction_count", "good_contraction_count", "mvc_contraction_count", "duration_contraction_count",
    "avg_duration_ms", "min_duration_ms", "max_duration_ms", "total_time_under_tension_ms",
    "duration_threshold_actual_value", "avg_amplitude", "max_amplitude", "rms", "mav", "mvc_threshold_actual_value",
    "mpf", "mdf", "fatigue_index_fi_nsm5", "expected_contractions", "mvc_estimation_method",
)
TEMPORAL_BLOCKS = ("rms_temporal_stats", "mav_temporal_stats", "mpf_temporal_stats", "mdf_temporal_stats",
                   "fatigue_index_temporal_stats")


def _channel_fields() -> str:
    fields = [f"ch.value ->> '{name}'" for name in CHANNEL_NUMBERS]
    fields += [f"ch.value #>> '{{{block},{f}}}'" for block in TEMPORAL_BLOCKS for f in ("mean_value", "std_value")]
    fields += [f"ch.value #> '{{signal_processing,{part}}}'" for part in ("processing_steps", "parameters_used")]
    return ", ".join(fields)


# What the mapping reads, and nothing else: each analytics_data is detoasted once; the current analysis is picked by
# the reader from (session, created_at, id), as statsfirst does.
COPY_OUT: dict[str, str] = {
    "c3d_metadata": """
        SELECT id, file_path, file_hash, file_size_bytes, patient_id, therapist_id, session_id, session_date,
               session_type, game_metadata, channel_names, channel_count, sampling_rate, duration_seconds, frame_count,
               resolved_patient_id, resolved_therapist_id, resolved_session_date, processing_status,
               processing_version, error_message, created_at, updated_at, processed_at
        FROM public.c3d_metadata""",
    "analysis_results": """
        SELECT id, c3d_metadata_id, processing_version, processing_params, processing_time_ms, cache_hits,
               last_accessed_at, expires_at, created_at
        FROM public.analysis_results""",
    "analytics_data channels": f"""
        SELECT a.id, ch.key, {_channel_fields()}
        FROM public.analysis_results a CROSS JOIN LATERAL jsonb_each(a.analytics_data) ch""",
    "session_settings (linked)": """
        SELECT c.id, s.user_id, s.session_id, s.updated_at, s.params
        FROM public.c3d_metadata c JOIN public.session_settings s ON s.session_id = c.session_id
        UNION ALL
        SELECT c.id, s.user_id, s.session_id, s.updated_at, s.params
        FROM public.c3d_metadata c JOIN public.session_settings s
             ON s.session_id = c.id::text AND s.session_id IS DISTINCT FROM c.session_id""",
    "patients, therapists": "SELECT patient_code FROM public.patients UNION ALL SELECT id::text FROM public.therapists",
}
TARGET_TABLES = ("therapy_sessions", "emg_statistics", "performance_scores", "bfr_monitoring", "session_settings",
                 "export_history", "signal_processing_cache", "processing_parameters")
BOOKKEEPING_TABLES = ("migration_runs", "migration_batches", "session_lineage", "analysis_lineage", "quarantine")


def dump_tables(dsn: str, directory: Path, schema: str = TARGET_SCHEMA) -> list[str]:
    """Write every table a statsfirst run fills (target and bookkeeping) as binary COPY files; returns load order."""
    order = [f"{schema}.{t}" for t in TARGET_TABLES] + [f"statsfirst.{t}" for t in BOOKKEEPING_TABLES]
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        for qualified in order:
            name = sql.Identifier(*qualified.split("."))
            with (directory / f"{qualified}.bin").open("wb") as out, cur.copy(
                sql.SQL("COPY {} TO STDOUT (FORMAT binary)").format(name)
            ) as copy:
                for chunk in copy:
                    out.write(chunk)
    (directory / "tables.txt").write_text("\n".join(order) + "\n", encoding="utf-8")
    return order


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--dump-dir", required=True, type=Path)
    args = parser.parse_args()

    out_seconds: dict[str, float] = {}
    in_seconds: dict[str, float] = {}
    bytes_out = bytes_in = 0
    with psycopg.connect(args.dsn) as conn, conn.cursor() as cur:
        started = time.perf_counter()
        for label, query in COPY_OUT.items():
            t0 = time.perf_counter()
            with cur.copy(f"COPY ({query}) TO STDOUT") as copy:
                for chunk in copy:
                    bytes_out += len(chunk)
            out_seconds[label] = round(time.perf_counter() - t0, 3)
        conn.commit()
        copy_out = time.perf_counter() - started

        started = time.perf_counter()
        for qualified in (args.dump_dir / "tables.txt").read_text(encoding="utf-8").split():
            t0 = time.perf_counter()
            statement = sql.SQL("COPY {} FROM STDIN (FORMAT binary)").format(sql.Identifier(*qualified.split(".")))
            with (args.dump_dir / f"{qualified}.bin").open("rb") as source, cur.copy(statement) as copy:
                while block := source.read(1 << 20):
                    bytes_in += len(block)
                    copy.write(block)
            in_seconds[qualified] = round(time.perf_counter() - t0, 3)
        conn.commit()
        copy_in = time.perf_counter() - started
    targets_in = sum(s for t, s in in_seconds.items() if t.startswith(f"{TARGET_SCHEMA}."))
    emit({
        "seconds": round(copy_out + copy_in, 3),
        "copy_out_s": round(copy_out, 3),
        "copy_in_s": round(copy_in, 3),
        "copy_in_target_tables_s": round(targets_in, 3),
        "bytes_out": bytes_out,
        "bytes_in": bytes_in,
        "copy_out_by_source": out_seconds,
        "copy_in_by_table": in_seconds,
    })


if __name__ == "__main__":
    main()
