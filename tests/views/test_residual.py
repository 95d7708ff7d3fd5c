"""statsfirst.compat_analytics_residual: what of a legacy analytics_data emg_statistics cannot hold (sql/007)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

CHANNEL = {
    "rms": 0.1,  # stored: left out
    "mpf": None,  # stored but null: kept as null (null and absent must both be reproduced)
    "contraction_count": 12.0,
    "contractions": [{"duration_ms": 2000.0}],  # not reproduced by the views
    "signal_processing": {"processing_steps": ["a"]},
    "errors": {"temporal_stats": "x"},
    "rms_temporal_stats": {"mean_value": 1.0, "std_value": None, "min_value": 0.0, "valid_windows": 20.0},
    "mav_temporal_stats": None,
    "duration_threshold_actual_value": 2000.0,  # the target keeps the setting, not this value
    "mvc_estimation_method": "user_provided",
    "expected_contractions": 12,
    "channel_label": "CH1 Raw",
}
RESIDUAL = {
    "mpf": None,
    "rms_temporal_stats": {"std_value": None, "min_value": 0.0, "valid_windows": 20.0},
    "mav_temporal_stats": None,
    "duration_threshold_actual_value": 2000.0,
    "mvc_estimation_method": "user_provided",
    "expected_contractions": 12,
    "channel_label": "CH1 Raw",
}


@pytest.mark.parametrize(
    ("analytics", "residual"),
    [
        ({"CH1": CHANNEL, "CH2": {"rms": 0.2}}, {"CH1": RESIDUAL, "CH2": {}}),
        ({"CH1": None}, {"CH1": None}),
        ({}, None),
        ([], None),
        (None, None),
    ],
)
def test_residual(conn: psycopg.Connection, analytics: Any, residual: Any) -> None:
    row = conn.execute(
        "SELECT statsfirst.compat_analytics_residual(%s)", (None if analytics is None else Jsonb(analytics),)
    ).fetchone()
    assert row == (residual,)


def test_the_migration_stores_the_same_residual_as_the_sql_definition(conn: psycopg.Connection) -> None:
    """transform/analytics_residual.py (what migrate writes) and the SQL function (007's backfill) agree."""
    row = conn.execute(
        """
        SELECT count(*),
               count(*) FILTER (WHERE l.analytics_residual::jsonb
                                      IS DISTINCT FROM statsfirst.compat_analytics_residual(a.analytics_data))
        FROM statsfirst.analysis_lineage AS l JOIN public.analysis_results AS a ON a.id = l.legacy_analysis_id
        WHERE l.analytics_residual IS NOT NULL
        """
    ).fetchone()
    assert row is not None and row[0] > 1000 and row[1] == 0
