"""Normalize one legacy batch into one frame per target table (no Python loops over rows).

Every legacy row has a home (mapping.md): a session still ``pending``/``processing`` in the legacy system is
migrated as a therapy_sessions row with that status and no child rows yet (no emg_statistics, performance_scores,
bfr_monitoring, session_settings or processing_parameters), under the same column rules as any session: references
resolved, session_date, and plausibility, so an implausible header quarantines it like any other (the legacy
writer's 0/NULL headers of a pending row mean unknown and pass). Any analysis row it already has still becomes a
signal_processing_cache row (every analysis row does). Its lineage hash covers the c3d row, status included, so the
run after the legacy row completes re-processes it and writes the children. Failed sessions are final and migrate
with their error message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

from statsfirst.extract.legacy_reader import LegacyBatch
from statsfirst.extract.references import ReferenceData
from statsfirst.transform.analytics_residual import RESIDUAL_SCHEMA, build_analysis_residuals
from statsfirst.transform.bfr_monitoring import build_bfr_monitoring
from statsfirst.transform.channels import current_analysis_channels, decode_channels
from statsfirst.transform.emg_statistics import build_emg_statistics
from statsfirst.transform.linked_settings import choose_linked_settings
from statsfirst.transform.performance_scores import build_performance_scores
from statsfirst.transform.problems import problems_from
from statsfirst.transform.processing_parameters import build_processing_parameters
from statsfirst.transform.references import resolve_references
from statsfirst.transform.scoring import ComplianceWeights, PerformanceWeights
from statsfirst.transform.session_settings import build_session_settings
from statsfirst.transform.signal_processing_cache import build_signal_processing_cache
from statsfirst.transform.therapy_sessions import PLAUSIBLE_RANGES, build_therapy_sessions, implausible

NOT_YET_PROCESSED = ("pending", "processing")


@dataclass
class NormalizedBatch:
    """Frames per target table plus what is held back (problems) or skipped, all keyed by legacy session id."""

    tables: dict[str, pl.DataFrame]
    problems: pl.DataFrame
    # no rule skips a session any more (pending ones are migrated); kept so a future rule has its place
    skipped: pl.DataFrame
    lineage: pl.DataFrame
    session_ids: list[str] = field(default_factory=list)
    # per current analysis: what emg_statistics does not keep (analysis_lineage; read by analysis_results_view)
    residuals: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=RESIDUAL_SCHEMA))


@dataclass(frozen=True)
class NormalizeOptions:
    weights: PerformanceWeights
    run_time: datetime
    compliance_weights: ComplianceWeights = field(default_factory=ComplianceWeights)


def normalize_batch(batch: LegacyBatch, refs: ReferenceData, options: NormalizeOptions) -> NormalizedBatch:
    sessions = resolve_references(batch.sessions, refs)
    # a NULL status (the legacy CHECK lets it through) is not "waiting": it gets children and is held back
    waiting = pl.col("processing_status").is_in(NOT_YET_PROCESSED).fill_null(False)
    active = sessions.filter(~waiting)
    active_ids = active.select("session_id")
    analyses = batch.analyses.join(sessions.select("session_id"), on="session_id", how="semi")
    active_analyses = analyses.join(active_ids, on="session_id", how="semi")
    # current analysis of every session (cache validity, processing_time_ms); children only from active ones
    all_channels = current_analysis_channels(batch.channels, analyses)
    channels = all_channels.join(active_ids, on="session_id", how="semi")
    settings_rows = batch.settings.join(active_ids, on="session_id", how="semi")

    decoded, channel_problems = decode_channels(channels)
    settings, settings_problems = choose_linked_settings(settings_rows)
    problems = [
        channel_problems,
        settings_problems,
        _analysis_problems(active_analyses),
        _game_point_problems(active),
        _status_problems(sessions),
        _implausible_metadata_problems(sessions),
        _timestamp_problems(sessions, "therapy_sessions"),
        _timestamp_problems(analyses, "signal_processing_cache"),
        _timestamp_problems(settings_rows, "session_settings"),
    ]

    current = (
        all_channels.select("session_id", "analysis_id")
        .unique("session_id")
        .join(analyses.select("analysis_id", "processing_time_ms"), on="analysis_id")
        .drop("analysis_id")
        .join(_newest_analysis_versions(analyses), on="session_id", how="full", coalesce=True)
    )
    decoded = decoded.join(
        active_analyses.select("analysis_id", "processing_version", "processing_time_ms"), on="analysis_id", how="left"
    )
    therapy_sessions = build_therapy_sessions(sessions, current)
    emg = build_emg_statistics(decoded, settings, active, options.compliance_weights)
    problems.append(_duplicate_side_problems(emg))
    bfr = build_bfr_monitoring(settings)
    game_points = active.select(
        "session_id",
        pl.col("game_points_achieved_raw").cast(pl.Float64, strict=False).alias("game_points_achieved"),
        pl.col("game_points_maximum_raw").cast(pl.Float64, strict=False).alias("game_points_maximum"),
    )
    tables = {
        "therapy_sessions": therapy_sessions,
        "emg_statistics": emg,
        "performance_scores": build_performance_scores(
            emg, bfr, settings, therapy_sessions, game_points, options.weights
        ),
        "bfr_monitoring": bfr,
        "session_settings": build_session_settings(active_ids, settings, bfr, emg, options.weights),
        "signal_processing_cache": build_signal_processing_cache(
            analyses, all_channels["analysis_id"].unique(), options.run_time
        ),
        "processing_parameters": build_processing_parameters(decoded, therapy_sessions, settings),
    }
    return NormalizedBatch(
        tables=tables,
        problems=pl.concat(problems, how="vertical_relaxed"),
        skipped=pl.DataFrame(schema={"session_id": pl.String, "reason": pl.String}),
        lineage=_lineage(sessions, analyses, settings_rows),
        session_ids=sessions["session_id"].to_list(),
        residuals=build_analysis_residuals(channels),
    )


def waiting_sessions(therapy_sessions: pl.DataFrame) -> int:
    """Migrated sessions still pending/processing in legacy: the run summary's ``migrated_pending``."""
    return therapy_sessions.filter(pl.col("processing_status").is_in(NOT_YET_PROCESSED)).height


def _newest_analysis_versions(analyses: pl.DataFrame) -> pl.DataFrame:
    """session_id, processing_version of the session's newest analysis row (created_at DESC, id DESC), whatever
    its analytics_data holds: a session whose only analysis is ``{}`` was still processed by that version."""
    return (
        analyses.sort(["created_at", "analysis_id"], descending=True, nulls_last=False)
        .unique("session_id", keep="first", maintain_order=True)
        .select("session_id", "processing_version")
    )


def _implausible_metadata_problems(sessions: pl.DataFrame) -> pl.DataFrame:
    """Plausibility (mapping.md §therapy_sessions): a sampling_rate outside (0, 100 000] Hz, a duration_seconds
    outside (0, 86 400] s or a negative frame_count means the file was not a readable C3D (legacy 0 stays unknown)."""
    frames = [
        problems_from(
            sessions.filter(implausible(column)),
            stage="normalize",
            table="therapy_sessions",
            column=pl.lit(column),
            check=f"plausible_{column}",
            value=pl.col(column),
            reason="implausible_metadata",
        )
        for column in PLAUSIBLE_RANGES
    ]
    return pl.concat(frames)


def _analysis_problems(analyses: pl.DataFrame) -> pl.DataFrame:
    malformed = analyses.filter(pl.col("analytics_type") != "object")
    return problems_from(
        malformed,
        stage="normalize",
        table="emg_statistics",
        column=pl.lit("analytics_data"),
        check="json_object",
        value=pl.col("analytics_type"),
        reason="malformed_analytics",
    )


def _status_problems(sessions: pl.DataFrame) -> pl.DataFrame:
    """A session without a processing_status: the legacy app always sets one, so someone cleared it; review it."""
    return problems_from(
        sessions.filter(pl.col("processing_status").is_null()),
        stage="normalize",
        table="therapy_sessions",
        column=pl.lit("processing_status"),
        check="not_null",
        value=pl.lit("NULL"),
        reason="unknown_processing_status",
    )


def _timestamp_problems(rows: pl.DataFrame, table: str) -> pl.DataFrame:
    """Legacy timestamps polars cannot carry (±infinity, beyond the year 294,000), named by the extract."""
    named = (
        rows.filter(pl.col("unrepresentable_timestamps").is_not_null())
        .with_columns(pl.col("unrepresentable_timestamps").str.split("; ").alias("_named"))
        .explode("_named")
        .with_columns(pl.col("_named").str.splitn("=", 2).alias("_parts"))
    )
    return problems_from(
        named,
        stage="normalize",
        table=table,
        column=pl.col("_parts").struct.field("field_0"),
        check="representable_timestamp",
        value=pl.col("_parts").struct.field("field_1"),
        reason="out_of_range",
    )


def _game_point_problems(sessions: pl.DataFrame) -> pl.DataFrame:
    frames = []
    for name in ("game_points_achieved", "game_points_maximum"):
        raw = pl.col(f"{name}_raw")
        bad = sessions.filter(raw.is_not_null() & raw.cast(pl.Float64, strict=False).is_null())
        frames.append(
            problems_from(
                bad,
                stage="normalize",
                table="performance_scores",
                column=pl.lit(name),
                check="number",
                value=raw,
                reason="wrong_type",
            )
        )
    return pl.concat(frames)


def _duplicate_side_problems(emg: pl.DataFrame) -> pl.DataFrame:
    duplicated = emg.filter(pl.col("side").is_not_null() & (pl.len().over("session_id", "side") > 1))
    return problems_from(
        duplicated,
        stage="normalize",
        table="emg_statistics",
        column=pl.lit("side"),
        check="one_channel_per_side",
        value=pl.col("channel_name") + "=" + pl.col("side"),
        reason="conflicting_sides",
    )


def _lineage(sessions: pl.DataFrame, analyses: pl.DataFrame, settings: pl.DataFrame) -> pl.DataFrame:
    analysis_hashes = (
        analyses.sort("analysis_id")
        .group_by("session_id")
        .agg(pl.col("analysis_hash").str.join("|").alias("_analysis_hashes"))
    )
    chosen = (
        settings.sort(
            ["session_id", "settings_updated_at", "settings_user_id", "settings_session_id"],
            descending=[False, True, False, False],
            nulls_last=True,
        )
        .unique("session_id", keep="first")
        .select(
            "session_id",
            "params",
            pl.struct(
                pl.col("settings_user_id").alias("user_id"),
                pl.col("settings_session_id").alias("session_id"),
                "link",
                "candidates",
            )
            .struct.json_encode()
            .alias("linked_settings"),
        )
    )
    frame = sessions.join(analysis_hashes, on="session_id", how="left").join(chosen, on="session_id", how="left")
    return frame.select(
        "session_id",
        pl.col("patient_id").alias("raw_patient_id"),
        pl.col("resolved_patient_id").alias("raw_resolved_patient_id"),
        pl.col("therapist_id").alias("raw_therapist_id"),
        pl.col("resolved_therapist_id").alias("raw_resolved_therapist_id"),
        pl.col("legacy_session_code").alias("raw_session_id"),
        "patient_resolution",
        "linked_settings",
        pl.concat_str(
            # who the session resolves to is part of its source: a newly registered patient changes the target
            [
                pl.col("c3d_hash"),
                pl.col("_analysis_hashes").fill_null(""),
                pl.col("params").fill_null(""),
                pl.col("patient_code").fill_null(""),
                pl.col("therapist_uuid").fill_null(""),
            ],
            separator="#",
        ).alias("source_fingerprint"),
    )
