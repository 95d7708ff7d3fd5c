"""Who a session belongs to: legacy patient and therapist references resolved against the live tables.

Rule (mapping.md): patient_id ← resolved_patient_id, else patient_id; 'Unknown', empty, or a code absent from
patients.patient_code → NULL. therapist_id ← a legacy value that is a UUID present in therapists.id, else NULL.
The raw values stay in the lineage record.
"""

from __future__ import annotations

import polars as pl

from statsfirst.extract.references import REFERENCE_WHITESPACE, SENTINELS, ReferenceData


def _clean(column: str) -> pl.Expr:
    """extract.references.clean_reference, vectorized."""
    value = pl.col(column).str.strip_chars(REFERENCE_WHITESPACE)
    return pl.when(value.str.to_lowercase().is_in(SENTINELS)).then(None).otherwise(value)


def resolve_references(sessions: pl.DataFrame, refs: ReferenceData) -> pl.DataFrame:
    """Adds ``patient_code`` (or NULL), ``patient_resolution`` and ``therapist_uuid`` (or NULL)."""
    candidate = pl.coalesce(_clean("resolved_patient_id"), _clean("patient_id"))
    therapist = pl.coalesce(_clean("therapist_id"), _clean("resolved_therapist_id")).str.to_lowercase()
    return (
        sessions.with_columns(candidate.alias("_patient_candidate"), therapist.alias("_therapist_candidate"))
        .with_columns(
            pl.when(pl.col("_patient_candidate").is_in(refs.patient_codes.implode()))
            .then(pl.col("_patient_candidate"))
            .otherwise(None)
            .alias("patient_code"),
            pl.when(pl.col("_patient_candidate").is_null())
            .then(pl.lit("sentinel"))
            .when(pl.col("_patient_candidate").is_in(refs.patient_codes.implode()))
            .then(pl.lit("resolved"))
            .otherwise(pl.lit("unregistered"))
            .alias("patient_resolution"),
            pl.when(pl.col("_therapist_candidate").is_in(refs.therapist_ids.implode()))
            .then(pl.col("_therapist_candidate"))
            .otherwise(None)
            .alias("therapist_uuid"),
        )
        .drop("_patient_candidate", "_therapist_candidate")
    )
