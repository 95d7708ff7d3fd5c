"""The clinical formulas of metricsDefinitions.md (as recomputed in ``mapping.md``), as polars expressions.

Every function cites the formula it implements. Nothing here invents a value: a component whose inputs are
unknown is NULL and named in ``missing_components``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import polars as pl

from statsfirst.errors import UsageError

SCORING_VERSION = "metricsDefinitions-2025-08-12/statsfirst-1"
BFR_SAFE_MIN_AOP = 45.0
BFR_SAFE_MAX_AOP = 55.0
DEFAULT_TARGET_CONTRACTIONS = 12
DEFAULT_MVC_THRESHOLD_PERCENTAGE = 0.75
DEFAULT_DURATION_THRESHOLD_SECONDS = 2.0
DEFAULT_BFR_TARGET_AOP = 50.0
COMPONENTS = ("compliance", "symmetry", "effort", "game")


@dataclass(frozen=True)
class PerformanceWeights:
    """Weights of the overall score (w_c, w_s, w_e, w_g); a run parameter, stored on every row."""

    compliance: float = 0.40
    symmetry: float = 0.25
    effort: float = 0.20
    game: float = 0.15

    def __post_init__(self) -> None:
        values = [self.compliance, self.symmetry, self.effort, self.game]
        if any(not math.isfinite(v) or v < 0 or v > 1 for v in values):
            raise UsageError(
                f"performance weights must each be in [0, 1], got {self.as_text()}",
                "e.g. --weights compliance=0.40,symmetry=0.25,effort=0.20,game=0.15",
            )
        if abs(sum(values) - 1.0) > 1e-9:
            raise UsageError(
                f"performance weights must sum to 1, got {sum(values):.6g} ({self.as_text()})",
                "adjust them, e.g. --weights compliance=0.50,symmetry=0.25,effort=0.25,game=0",
            )

    @classmethod
    def parse(cls, text: str) -> PerformanceWeights:
        """Parse ``compliance=0.40,symmetry=0.25,effort=0.20,game=0.15`` (all four required)."""
        values: dict[str, float] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            name, sep, raw = part.partition("=")
            name = name.strip()
            if not sep or name not in COMPONENTS or name in values:
                raise UsageError(
                    f"cannot read weight {part!r} in --weights {text!r}",
                    "use compliance=W,symmetry=W,effort=W,game=W with each name once",
                )
            try:
                values[name] = float(raw)
            except ValueError:
                raise UsageError(f"weight {name}={raw!r} is not a number", "use decimals such as 0.25") from None
        missing = [c for c in COMPONENTS if c not in values]
        if missing:
            raise UsageError(
                f"--weights lacks {', '.join(missing)}", "give all four: compliance, symmetry, effort, game"
            )
        return cls(**values)

    def as_text(self) -> str:
        return ",".join(f"{c}={getattr(self, c):g}" for c in COMPONENTS)

    def as_json(self) -> str:
        return json.dumps({c: getattr(self, c) for c in COMPONENTS}, separators=(",", ":"))


# The migration's default (metricsDefinitions' current weights): legacy data never has game points, so a non-zero
# game weight would leave every overall score NULL. The plan's 0.40/0.25/0.20/0.15 stay the column default.
MIGRATION_DEFAULT_WEIGHTS = PerformanceWeights(compliance=0.50, symmetry=0.25, effort=0.25, game=0.0)


@dataclass(frozen=True)
class ComplianceWeights:
    """w_comp, w_int, w_dur of the per-muscle compliance score (1/3 each by default)."""

    completion: float = 1 / 3
    intensity: float = 1 / 3
    duration: float = 1 / 3


def completion_rate(total: pl.Expr, target: pl.Expr) -> pl.Expr:
    """R_comp = min(total / T, 1); NULL when the count is not recorded or T is not positive.

    (``min_horizontal`` skips nulls, so without the guard a missing count would read as complete.) Written
    total · (1 / T): polars divides by a column that is one repeated value (every T the default) as a multiplication
    by its reciprocal, so the explicit form gives the same bits whatever the batch holds (the reconciliation's SQL
    computes it so too).
    """
    known = total.is_not_null() & target.is_not_null() & (target > 0)
    return pl.when(known).then(pl.min_horizontal(total * (1.0 / target), pl.lit(1.0)))


def quality_rate(good: pl.Expr, total: pl.Expr) -> pl.Expr:
    """R_int = good_intensity / total, R_dur = good_duration / total; 0 when total = 0."""
    return pl.when(total == 0).then(pl.lit(0.0)).otherwise(good / total)


def muscle_compliance(r_comp: pl.Expr, r_int: pl.Expr, r_dur: pl.Expr, weights: ComplianceWeights) -> pl.Expr:
    """S_comp = w_comp·R_comp + w_int·R_int + w_dur·R_dur."""
    return weights.completion * r_comp + weights.intensity * r_int + weights.duration * r_dur


def compliance_score(left: pl.Expr, right: pl.Expr, bfr_gate: pl.Expr) -> pl.Expr:
    """S_compliance = 100 · (L + R) / 2 · C_BFR; the gate is not applied when it is unknown (NULL)."""
    return 100.0 * (left + right) / 2.0 * bfr_gate.fill_null(1.0)


def symmetry_score(left: pl.Expr, right: pl.Expr) -> pl.Expr:
    """S_symmetry = 100 · (1 − |L − R| / (L + R)); NULL when L + R = 0 or a side is missing."""
    total = left + right
    return pl.when(total > 0).then(100.0 * (1.0 - (left - right).abs() / total)).otherwise(None)


def effort_score(rpe: pl.Expr) -> pl.Expr:
    """S_effort from post-session RPE (Borg CR-10): [4,6] → 100; [3,4) or (6,7] → 80; [2,3) or (7,8] → 60; else 20."""
    return (
        pl.when(rpe.is_null())
        .then(None)
        .when((rpe >= 4) & (rpe <= 6))
        .then(100.0)
        .when(((rpe >= 3) & (rpe < 4)) | ((rpe > 6) & (rpe <= 7)))
        .then(80.0)
        .when(((rpe >= 2) & (rpe < 3)) | ((rpe > 7) & (rpe <= 8)))
        .then(60.0)
        .otherwise(20.0)
    )


def game_score(points: pl.Expr, maximum: pl.Expr) -> pl.Expr:
    """S_game = 100 · points / maximum; NULL when either is unknown (or the maximum is 0)."""
    return pl.when(maximum > 0).then(100.0 * points / maximum).otherwise(None)


def bfr_gate(sides_in_range: pl.Expr, sides_recorded: pl.Expr) -> pl.Expr:
    """C_BFR = 1 when every recorded side is within [45, 55] % AOP, 0 otherwise; NULL without a BFR record."""
    return (
        pl.when(sides_recorded.fill_null(0) == 0)
        .then(None)
        .when(sides_in_range == sides_recorded)
        .then(1.0)
        .otherwise(0.0)
    )


def overall_score(weights: PerformanceWeights, gate: pl.Expr) -> pl.Expr:
    """P_overall = (w_c·S_c + w_s·S_s + w_e·S_e + w_g·S_g) · C_BFR, only when every non-zero-weight component exists."""
    weighted = pl.lit(0.0)
    present = pl.lit(True)
    for component in COMPONENTS:
        weight = getattr(weights, component)
        if weight == 0:
            continue
        column = pl.col(f"{component}_score")
        weighted = weighted + weight * column.fill_null(0.0)
        present = present & column.is_not_null()
    return pl.when(present).then(weighted * gate.fill_null(1.0)).otherwise(None)


def missing_components(weights: PerformanceWeights) -> pl.Expr:
    """Names of the score inputs that were absent (a zero-weight component is not needed, so not listed)."""
    parts = [
        pl.when(pl.col(f"{c}_score").is_null()).then(pl.lit(c)).otherwise(None)
        for c in COMPONENTS
        if getattr(weights, c) != 0
    ]
    parts.append(pl.when(pl.col("bfr_compliance_gate").is_null()).then(pl.lit("bfr_gate")).otherwise(None))
    return pl.concat_list(parts).list.drop_nulls()
