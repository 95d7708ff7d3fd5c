"""mapping.md's worked check (metricsDefinitions.md example), through the real flow."""

from __future__ import annotations

import pytest
from migration_support import WORKED_PARAMS, HandBuilt, run

from statsfirst.transform.scoring import PerformanceWeights

TOL = 1e-3


def _s_comp(total: float, mvc: float, duration: float, target: float = 12) -> float:
    return (min(total / target, 1.0) + mvc / total + duration / total) / 3


def test_worked_example_plan_weights(hand_built: HandBuilt) -> None:
    """The worked check uses the plan's weights 0.40/0.25/0.20/0.15 (recorded by this first run)."""
    sid = hand_built.add_session(params=WORKED_PARAMS)
    summary = run(hand_built.dsn, batch_size=500, weights=PerformanceWeights())
    assert summary.migrated == 1, summary.as_json()
    s = hand_built.scores(sid)
    assert s["compliance_score"] == pytest.approx(87.121, abs=TOL)
    assert s["symmetry_score"] == pytest.approx(98.841, abs=TOL)
    assert s["effort_score"] == pytest.approx(100, abs=TOL)
    assert s["game_score"] == pytest.approx(85, abs=TOL)
    assert s["bfr_compliance_gate"] == 1
    assert s["overall_performance_score"] == pytest.approx(92.309, abs=TOL)
    assert list(s["missing_components"] or []) == []
    assert s["left_muscle_completion_rate"] == pytest.approx(11 / 12)
    assert s["right_muscle_intensity_rate"] == pytest.approx(8 / 12)


def test_worked_example_alternative_weights(hand_built: HandBuilt) -> None:
    weights = PerformanceWeights.parse("compliance=0.50,symmetry=0.25,effort=0.25,game=0")
    sid = hand_built.add_session(params=WORKED_PARAMS)
    run(hand_built.dsn, batch_size=500, weights=weights)
    left, right = _s_comp(11, 9, 10), _s_comp(12, 8, 11)
    compliance = 100 * (left + right) / 2
    symmetry = 100 * (1 - abs(left - right) / (left + right))
    expected = 0.50 * compliance + 0.25 * symmetry + 0.25 * 100 + 0 * 85
    s = hand_built.scores(sid)
    assert s["overall_performance_score"] == pytest.approx(expected, abs=TOL)
    assert abs(expected - 92.309) > 0.1  # the weights really changed the result
    assert list(s["missing_components"] or []) == []


def test_worked_example_params_without_muscle_mapping(hand_built: HandBuilt) -> None:
    params = {k: v for k, v in WORKED_PARAMS.items() if k != "channel_muscle_mapping"}
    hand_built.add_session(params=params)
    summary = run(hand_built.dsn, batch_size=500)
    assert summary.migrated == 1, summary.as_json()
