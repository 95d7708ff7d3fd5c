"""Quarantine, lineage and resolution writes (bookkeeping schema), set-based from staging tables.

Each write comes in two parts: its staging table (``*_staging``, created and filled with the batch's other staging
tables in one go) and its statement, which returns its cursor so the batch loader can pipeline the statements.
"""

from __future__ import annotations

import polars as pl
import psycopg
from psycopg import sql

from statsfirst.load.staging import STAGED_RANGE, StagingTable, bookkeeping_staging

ANALYSIS_PAYLOAD = sql.SQL("""
    jsonb_build_object('id', a.id, 'c3d_metadata_id', a.c3d_metadata_id, 'file_hash', a.file_hash,
        'processing_version', a.processing_version, 'processing_params', a.processing_params,
        'analytics_data', a.analytics_data, 'processing_time_ms', a.processing_time_ms, 'cache_hits', a.cache_hits,
        'last_accessed_at', a.last_accessed_at, 'good_contractions_count', a.good_contractions_count,
        'total_contractions_count', a.total_contractions_count, 'created_at', a.created_at,
        'expires_at', a.expires_at)
""")
ANALYSIS_LINEAGE = sql.SQL("""
    jsonb_build_object('id', a.id, 'c3d_metadata_id', a.c3d_metadata_id, 'file_hash', a.file_hash,
        'processing_version', a.processing_version, 'processing_params', a.processing_params,
        'processing_time_ms', a.processing_time_ms, 'cache_hits', a.cache_hits,
        'last_accessed_at', a.last_accessed_at, 'good_contractions_count', a.good_contractions_count,
        'total_contractions_count', a.total_contractions_count, 'contractions_data', a.contractions_data,
        'mvc_values', a.mvc_values, 'compliance_scores', a.compliance_scores, 'temporal_stats', a.temporal_stats,
        'created_at', a.created_at, 'expires_at', a.expires_at)
""")
# analytics_residual (its own json column): what emg_statistics does not keep, built per current analysis by
# transform/analytics_residual.py (NULL for other analyses); read by analysis_results_view (sql/007). json, not
# jsonb: its input is only syntax-checked, where jsonb would parse every residual into a tree.


def quarantine_staging(problems: pl.DataFrame) -> StagingTable:
    """One row per held-back session, with every failed check."""
    grouped = (
        problems.group_by("session_id")
        .agg(
            pl.col("stage").first().alias("stage"),
            pl.col("reason").unique().sort().alias("reasons"),
            pl.struct("table", "column", "check", "value", "reason").alias("failures"),
        )
        .with_columns(
            pl.col("failures")
            .list.eval(pl.element().struct.json_encode())
            .list.join(",")
            .alias("failures")
        )
        .with_columns((pl.lit("[") + pl.col("failures") + pl.lit("]")).alias("failures")
        )
    )
    reasons_literal = pl.lit("{") + pl.col("reasons").list.join(",") + pl.lit("}")
    return bookkeeping_staging(
        "stage_quarantine",
        sql.SQL("session_id text, stage text, reasons text[], failures text"),
        grouped.select("session_id", "stage", reasons_literal.alias("reasons"), "failures"),
    )


def write_quarantine(conn: psycopg.Connection, run_id: str) -> psycopg.Cursor:
    """One open entry per staged held-back session, with the legacy payload (no signal arrays)."""
    return conn.execute(
        sql.SQL(
            """
        INSERT INTO statsfirst.quarantine AS q (legacy_session_id, legacy_analysis_ids, stage, reasons, failures,
                                                payload, first_run_id, last_run_id)
        SELECT c.id,
               ARRAY(SELECT a.id FROM public.analysis_results a WHERE a.c3d_metadata_id = c.id ORDER BY a.id),
               s.stage, s.reasons, s.failures::jsonb,
               jsonb_build_object('c3d_metadata', to_jsonb(c), 'analysis_results',
                   (SELECT coalesce(jsonb_agg({analysis_payload} ORDER BY a.id), '[]'::jsonb)
                    FROM public.analysis_results a WHERE a.c3d_metadata_id = c.id)),
               %(run)s, %(run)s
        FROM stage_quarantine s JOIN public.c3d_metadata c ON c.id = s.session_id::uuid
        ON CONFLICT (legacy_session_id) WHERE resolved_at IS NULL DO UPDATE SET
            stage = EXCLUDED.stage, reasons = EXCLUDED.reasons, failures = EXCLUDED.failures,
            payload = EXCLUDED.payload, legacy_analysis_ids = EXCLUDED.legacy_analysis_ids,
            last_run_id = EXCLUDED.last_run_id
            """
        ).format(analysis_payload=ANALYSIS_PAYLOAD),
        {"run": run_id},
    )


def resolve_quarantine(conn: psycopg.Connection, run_id: str) -> psycopg.Cursor:
    """Sessions fixed in the legacy data after being held back: their open entry is marked resolved."""
    return conn.execute(
        sql.SQL(
            "UPDATE statsfirst.quarantine SET resolved_at = now(), resolved_by_run = %s "
            "WHERE resolved_at IS NULL AND legacy_session_id IN (SELECT id FROM stage_therapy_sessions) "
            "AND legacy_session_id {staged_range}"
        ).format(staged_range=STAGED_RANGE),
        (run_id,),
    )


def lineage_staging(lineage: pl.DataFrame, residuals: pl.DataFrame) -> list[StagingTable]:
    """The sessions' lineage rows and the current analyses' residuals."""
    return [
        bookkeeping_staging(
            "stage_lineage",
            sql.SQL(
                "session_id uuid, raw_patient_id text, raw_resolved_patient_id text, raw_therapist_id text, "
                "raw_resolved_therapist_id text, raw_session_id text, patient_resolution text, linked_settings text, "
                "source_fingerprint text"
            ),
            lineage,
        ),
        bookkeeping_staging(
            "stage_residual",
            sql.SQL("analysis_id uuid, analytics_residual text"),
            residuals.select("analysis_id", "analytics_residual"),
        ),
    ]


def write_lineage(conn: psycopg.Connection, run_id: str) -> None:
    """Session and analysis lineage of the staged sessions (rewritten only where their sources changed)."""
    conn.execute(
        sql.SQL(
            """
        INSERT INTO statsfirst.session_lineage AS l (legacy_session_id, raw_patient_id, raw_resolved_patient_id,
            raw_therapist_id, raw_resolved_therapist_id, raw_session_id, patient_resolution, linked_settings,
            legacy_c3d, source_hash, run_id)
        SELECT s.session_id, s.raw_patient_id, s.raw_resolved_patient_id, s.raw_therapist_id,
               s.raw_resolved_therapist_id, s.raw_session_id, s.patient_resolution, s.linked_settings::jsonb,
               to_jsonb(c), md5(s.source_fingerprint), %(run)s
        FROM stage_lineage s
        JOIN stage_therapy_sessions t ON t.id = s.session_id
        JOIN public.c3d_metadata c ON c.id = s.session_id AND c.id {staged_range}
        ON CONFLICT (legacy_session_id) DO UPDATE SET
            raw_patient_id = EXCLUDED.raw_patient_id, raw_resolved_patient_id = EXCLUDED.raw_resolved_patient_id,
            raw_therapist_id = EXCLUDED.raw_therapist_id,
            raw_resolved_therapist_id = EXCLUDED.raw_resolved_therapist_id,
            raw_session_id = EXCLUDED.raw_session_id, patient_resolution = EXCLUDED.patient_resolution,
            linked_settings = EXCLUDED.linked_settings, legacy_c3d = EXCLUDED.legacy_c3d,
            source_hash = EXCLUDED.source_hash, run_id = EXCLUDED.run_id, migrated_at = now()
        WHERE l.source_hash IS DISTINCT FROM EXCLUDED.source_hash
            """
        ).format(staged_range=STAGED_RANGE),
        {"run": run_id},
    )
    conn.execute(
        sql.SQL(
            """
        INSERT INTO statsfirst.analysis_lineage AS l (legacy_analysis_id, legacy_session_id, legacy_analysis,
                                                      analytics_residual, run_id)
        SELECT a.id, a.c3d_metadata_id, {analysis_lineage}, r.analytics_residual::json, %(run)s
        FROM public.analysis_results a JOIN stage_therapy_sessions t ON t.id = a.c3d_metadata_id
        LEFT JOIN stage_residual r ON r.analysis_id = a.id
        WHERE a.c3d_metadata_id {staged_range}
        ON CONFLICT (legacy_analysis_id) DO UPDATE SET legacy_session_id = EXCLUDED.legacy_session_id,
            legacy_analysis = EXCLUDED.legacy_analysis, analytics_residual = EXCLUDED.analytics_residual,
            run_id = EXCLUDED.run_id
        WHERE (l.legacy_session_id, l.legacy_analysis, l.analytics_residual::text)
              IS DISTINCT FROM (EXCLUDED.legacy_session_id, EXCLUDED.legacy_analysis, EXCLUDED.analytics_residual::text)
            """
        ).format(analysis_lineage=ANALYSIS_LINEAGE, staged_range=STAGED_RANGE),
        {"run": run_id},
    )
