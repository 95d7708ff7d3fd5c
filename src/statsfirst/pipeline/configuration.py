"""The target's scoring configuration: recorded once, then used by every run and by the reconciliation.

The first migration of a target records the performance weights (``--weights``, else the migration default
0.50/0.25/0.25/0.00: legacy data never has game points), the per-muscle compliance weights and the defaults used
where the legacy data is silent. Every later run, incremental or full, CLI or Prefect, scores with exactly that.
A run that asks for other weights is refused unless it says ``--reweigh``; then every score is rewritten and the
new configuration is recorded. So a nightly run can never rescore sessions with other weights than the backfill.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import psycopg

from statsfirst.db.catalog import relation_exists
from statsfirst.errors import UsageError
from statsfirst.transform.scoring import (
    DEFAULT_BFR_TARGET_AOP,
    DEFAULT_DURATION_THRESHOLD_SECONDS,
    DEFAULT_MVC_THRESHOLD_PERCENTAGE,
    DEFAULT_TARGET_CONTRACTIONS,
    MIGRATION_DEFAULT_WEIGHTS,
    ComplianceWeights,
    PerformanceWeights,
)


def code_defaults() -> dict[str, float]:
    """The defaults this version of statsfirst applies where the legacy data is silent."""
    return {
        "mvc_threshold_percentage": DEFAULT_MVC_THRESHOLD_PERCENTAGE,
        "duration_threshold_seconds": DEFAULT_DURATION_THRESHOLD_SECONDS,
        "target_contractions": float(DEFAULT_TARGET_CONTRACTIONS),
        "bfr_target_aop": DEFAULT_BFR_TARGET_AOP,
    }


@dataclass(frozen=True)
class TargetConfiguration:
    performance_weights: PerformanceWeights = MIGRATION_DEFAULT_WEIGHTS
    compliance_weights: ComplianceWeights = field(default_factory=ComplianceWeights)
    defaults: dict[str, float] = field(default_factory=code_defaults)

    def as_rows(self) -> list[tuple[str, str]]:
        """(what, value) pairs for ``statsfirst schema status`` and the reports."""
        c = self.compliance_weights
        return [
            ("performance weights", self.performance_weights.as_text()),
            (
                "compliance weights",
                f"completion={c.completion:.4g},intensity={c.intensity:.4g},duration={c.duration:.4g}",
            ),
            *((f"default {name}", f"{value:g}") for name, value in self.defaults.items()),
        ]

    def reconcile_params(self) -> dict[str, float]:
        """The named parameters the reconciliation's SQL receives (it restates no configuration itself)."""
        w, c = self.performance_weights, self.compliance_weights
        return {
            "w_compliance": w.compliance,
            "w_symmetry": w.symmetry,
            "w_effort": w.effort,
            "w_game": w.game,
            "w_completion": c.completion,
            "w_intensity": c.intensity,
            "w_duration": c.duration,
            "default_mvc_threshold": self.defaults["mvc_threshold_percentage"],
            "default_duration_threshold_s": self.defaults["duration_threshold_seconds"],
            "default_target_contractions": self.defaults["target_contractions"],
            "default_bfr_target_aop": self.defaults["bfr_target_aop"],
        }


def _weights_from_json(value: Any) -> PerformanceWeights:
    data = value if isinstance(value, dict) else json.loads(value)
    return PerformanceWeights(**{k: float(v) for k, v in data.items()})


def read_configuration(conn: psycopg.Connection, target_schema: str) -> TargetConfiguration | None:
    row = conn.execute(
        "SELECT performance_weights, compliance_weights, defaults FROM statsfirst.configuration "
        "WHERE target_schema = %s",
        (target_schema,),
    ).fetchone()
    if row is None:
        return None
    compliance = row[1] if isinstance(row[1], dict) else json.loads(row[1])
    defaults = row[2] if isinstance(row[2], dict) else json.loads(row[2])
    return TargetConfiguration(
        performance_weights=_weights_from_json(row[0]),
        compliance_weights=ComplianceWeights(**{k: float(v) for k, v in compliance.items()}),
        defaults={k: float(v) for k, v in defaults.items()},
    )


def read_recorded_configuration(conn: psycopg.Connection, target_schema: str) -> TargetConfiguration | None:
    """Like read_configuration, but None also before the bookkeeping schema holds the table (schema status)."""
    exists = relation_exists(conn, "statsfirst", "configuration")
    return read_configuration(conn, target_schema) if exists else None


def record_configuration(
    conn: psycopg.Connection, target_schema: str, config: TargetConfiguration, run_id: str | None, *, replace: bool
) -> TargetConfiguration:
    """Record ``config`` (``replace``: overwrite, for --reweigh); returns what is recorded after the statement.

    Without ``replace`` a concurrent first run that recorded first wins, and its configuration is returned.
    """
    c = config.compliance_weights
    conflict = (
        "DO UPDATE SET performance_weights = EXCLUDED.performance_weights, compliance_weights = "
        "EXCLUDED.compliance_weights, defaults = EXCLUDED.defaults, recorded_by_run = EXCLUDED.recorded_by_run, "
        "recorded_at = now()"
        if replace
        else "DO NOTHING"
    )
    conn.execute(
        "INSERT INTO statsfirst.configuration (target_schema, performance_weights, compliance_weights, defaults, "  # noqa: S608 - constant text
        f"recorded_by_run) VALUES (%s, %s, %s, %s, %s) ON CONFLICT (target_schema) {conflict}",
        (
            target_schema,
            config.performance_weights.as_json(),
            json.dumps({"completion": c.completion, "intensity": c.intensity, "duration": c.duration}),
            json.dumps(config.defaults),
            run_id,
        ),
    )
    recorded = read_configuration(conn, target_schema)
    assert recorded is not None
    return recorded


def settle_configuration(
    conn: psycopg.Connection, target_schema: str, requested: PerformanceWeights | None, reweigh: bool
) -> tuple[TargetConfiguration, bool]:
    """The configuration this run must use, and whether it still has to be recorded (first run or --reweigh).

    Refuses (exit 2, nothing written) a run whose weights differ from the recorded ones without ``--reweigh``,
    and a recorded configuration whose defaults this version of statsfirst no longer applies.
    """
    recorded = read_configuration(conn, target_schema)
    if recorded is None:
        return TargetConfiguration(performance_weights=requested or MIGRATION_DEFAULT_WEIGHTS), True
    if reweigh:
        assert requested is not None
        return TargetConfiguration(performance_weights=requested, compliance_weights=recorded.compliance_weights,
                                   defaults=recorded.defaults), requested != recorded.performance_weights
    if requested is not None and requested != recorded.performance_weights:
        raise UsageError(
            f"--weights {requested.as_text()} differ from the weights recorded for target {target_schema!r} "
            f"({recorded.performance_weights.as_text()})",
            "drop --weights to use the recorded ones, or add --reweigh to rewrite every score with the new weights",
        )
    if recorded.defaults != code_defaults() or recorded.compliance_weights != ComplianceWeights():
        raise UsageError(
            f"the configuration recorded for target {target_schema!r} (defaults {recorded.defaults}) is not the "
            "one this version of statsfirst applies",
            "run the statsfirst version that recorded it, or re-migrate into a new target schema",
        )
    return recorded, False
