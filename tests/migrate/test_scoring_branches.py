"""Branches of the clinical formulas (transform/scoring.py), on small frames and through the flow."""

from __future__ import annotations

import polars as pl
import pytest
from migration_support import WORKED_ANALYTICS, WORKED_PARAMS, HandBuilt, bfr_side, channel, run

from statsfirst.errors import UsageError
from statsfirst.transform import scoring
from statsfirst.transform.scoring import PerformanceWeights


@pytest.mark.parametrize(
    ("rpe", "expected"),
    [(3.5, 80.0), (6.5, 80.0), (7.5, 60.0), (8.5, 20.0), (1.5, 20.0), (4.0, 100.0), (6.0, 100.0), (3.0, 80.0),
     (2.0, 60.0), (7.0, 80.0), (8.0, 60.0), (2.5, 60.0), (0.0, 20.0), (10.0, 20.0), (None, None)],
)
def test_effort_bands(rpe: float | None, expected: float | None) -> None:
    frame = pl.DataFrame({"rpe": [rpe]}, schema={"rpe": pl.Float64})
    assert frame.select(scoring.effort_score(pl.col("rpe")).alias("e"))["e"].to_list() == [expected]


def test_zero_contractions_give_zero_rates() -> None:
    frame = pl.DataFrame({"total": [0.0, 10.0], "good": [0.0, 5.0], "target": [12.0, 12.0]})
    out = frame.select(
        scoring.quality_rate(pl.col("good"), pl.col("total")).alias("q"),
        scoring.completion_rate(pl.col("total"), pl.col("target")).alias("c"),
    )
    assert out["q"].to_list() == [0.0, 0.5]
    assert out["c"].to_list() == [0.0, pytest.approx(10 / 12)]


def test_completion_rate_is_capped_at_one() -> None:
    frame = pl.DataFrame({"total": [20.0], "target": [12.0]})
    assert frame.select(scoring.completion_rate(pl.col("total"), pl.col("target")).alias("c"))["c"].to_list() == [1.0]


def test_symmetry_null_when_side_missing_or_sum_zero() -> None:
    frame = pl.DataFrame({"l": [0.5, 0.0, None, 0.6], "r": [None, 0.0, 0.4, 0.2]}, schema={"l": pl.Float64,
                                                                                           "r": pl.Float64})
    out = frame.select(scoring.symmetry_score(pl.col("l"), pl.col("r")).alias("s"))["s"].to_list()
    assert out[:3] == [None, None, None]
    assert out[3] == pytest.approx(100 * (1 - 0.4 / 0.8))


def test_bfr_gate_values() -> None:
    frame = pl.DataFrame({"inr": [None, 2, 1, 0, 1], "rec": [None, 2, 2, 1, 1]},
                         schema={"inr": pl.Int64, "rec": pl.Int64})
    out = frame.select(scoring.bfr_gate(pl.col("inr"), pl.col("rec")).alias("g"))["g"].to_list()
    assert out == [None, 1.0, 0.0, 0.0, 1.0]


def test_game_score_null_when_unknown_or_zero_max() -> None:
    frame = pl.DataFrame({"p": [850.0, None, 5.0], "m": [1000.0, 1000.0, 0.0]})
    assert frame.select(scoring.game_score(pl.col("p"), pl.col("m")).alias("g"))["g"].to_list() == [85.0, None,
                                                                                                     None]


def test_overall_ignores_zero_weight_component() -> None:
    weights = PerformanceWeights(0.5, 0.25, 0.25, 0.0)
    frame = pl.DataFrame({"compliance_score": [80.0], "symmetry_score": [90.0], "effort_score": [100.0],
                          "game_score": [None], "bfr_compliance_gate": [None]},
                         schema={c: pl.Float64 for c in ("compliance_score", "symmetry_score", "effort_score",
                                                         "game_score", "bfr_compliance_gate")})
    out = frame.select(scoring.overall_score(weights, pl.col("bfr_compliance_gate")).alias("o"),
                       scoring.missing_components(weights).alias("m"))
    assert out["o"].to_list() == [pytest.approx(0.5 * 80 + 0.25 * 90 + 0.25 * 100)]
    assert out["m"].to_list() == [["bfr_gate"]]
    default = frame.select(scoring.overall_score(PerformanceWeights(), pl.col("bfr_compliance_gate")).alias("o"),
                           scoring.missing_components(PerformanceWeights()).alias("m"))
    assert default["o"].to_list() == [None]
    assert default["m"].to_list() == [["game", "bfr_gate"]]


# ------------------------------------------------------------------------------------------------ through the flow
def test_one_channel_only(hand_built: HandBuilt) -> None:
    sid = hand_built.add_session(analytics={"CH1": channel(11, 9, 10, 8)}, params=WORKED_PARAMS)
    summary = run(hand_built.dsn)
    assert summary.migrated == 1, summary.as_json()
    s = hand_built.scores(sid)
    assert s["symmetry_score"] is None
    assert s["compliance_score"] is None
    assert s["overall_performance_score"] is None
    assert {"compliance", "symmetry"} <= set(s["missing_components"])
    assert s["right_muscle_completion_rate"] is None
    assert s["left_muscle_completion_rate"] == pytest.approx(11 / 12)


def test_zero_contractions_through_flow(hand_built: HandBuilt) -> None:
    sid = hand_built.add_session(analytics={"CH1": channel(0, 0, 0, 0), "CH2": channel(12, 8, 11, 7)},
                                 params=WORKED_PARAMS)
    assert run(hand_built.dsn).migrated == 1
    s = hand_built.scores(sid)
    assert s["left_muscle_completion_rate"] == 0
    assert s["left_muscle_intensity_rate"] == 0
    assert s["left_muscle_duration_rate"] == 0
    right = (1 + 8 / 12 + 11 / 12) / 3
    assert s["symmetry_score"] == pytest.approx(0.0, abs=1e-9)  # 100·(1 − R/R)
    assert s["compliance_score"] == pytest.approx(100 * right / 2)


def test_no_bfr_record(hand_built: HandBuilt) -> None:
    params = {k: v for k, v in WORKED_PARAMS.items() if k != "bfr_parameters"}
    sid = hand_built.add_session(params=params)
    assert run(hand_built.dsn, weights=PerformanceWeights()).migrated == 1  # the worked check's (plan) weights
    s = hand_built.scores(sid)
    assert s["bfr_compliance_gate"] is None
    assert "bfr_gate" in s["missing_components"]
    assert s["compliance_score"] == pytest.approx(87.121, abs=1e-3)  # gate not applied
    assert s["overall_performance_score"] == pytest.approx(92.309, abs=1e-3)


def test_no_linked_settings_at_all(hand_built: HandBuilt) -> None:
    sid = hand_built.add_session(analytics=WORKED_ANALYTICS, params=None)
    assert run(hand_built.dsn).migrated == 1
    s = hand_built.scores(sid)
    assert s["effort_score"] is None
    assert s["overall_performance_score"] is None
    assert set(s["missing_components"]) == {"effort", "bfr_gate"}


def test_bfr_out_of_range_zeroes_compliance_and_overall(hand_built: HandBuilt) -> None:
    params = dict(WORKED_PARAMS, bfr_parameters={"left": bfr_side(60), "right": bfr_side(52)})
    sid = hand_built.add_session(params=params)
    assert run(hand_built.dsn).migrated == 1
    s = hand_built.scores(sid)
    assert s["bfr_compliance_gate"] == 0
    assert s["compliance_score"] == 0
    assert s["overall_performance_score"] == 0
    assert s["symmetry_score"] == pytest.approx(98.841, abs=1e-3)  # the gate only multiplies compliance/overall


# ------------------------------------------------------------------------------------------------ weights
@pytest.mark.parametrize("text", ["compliance=0.40,symmetry=0.25,effort=0.20,game=0.15",
                                  "compliance=0.50,symmetry=0.25,effort=0.25,game=0",
                                  " game=1 , compliance=0,symmetry=0,effort=0 "])
def test_weights_parse_accepts_sum_one(text: str) -> None:
    weights = PerformanceWeights.parse(text)
    assert sum(getattr(weights, c) for c in scoring.COMPONENTS) == pytest.approx(1.0)
    assert PerformanceWeights.parse(weights.as_text()) == weights


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("compliance=0.40,symmetry=0.25,effort=0.20,game=0.05", "sum to 1"),
     ("compliance=0.40,symmetry=0.25,effort=0.35", "lacks game"),
     ("compliance=abc,symmetry=0.25,effort=0.20,game=0.15", "not a number"),
     ("compliance=0.40,symmetry=0.25,effort=0.20,bogus=0.15", "cannot read weight"),
     ("compliance=0.40,compliance=0.25,effort=0.20,game=0.15", "cannot read weight"),
     ("compliance=1.5,symmetry=-0.5,effort=0,game=0", "[0, 1]")],
)
def test_weights_parse_rejects(text: str, fragment: str) -> None:
    with pytest.raises(UsageError) as info:
        PerformanceWeights.parse(text)
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message


def test_missing_count_gives_null_completion_not_one() -> None:
    """min_horizontal skips nulls: without a guard an unrecorded count would read as a complete session."""
    frame = pl.DataFrame({"total": [None, 6.0, 6.0], "target": [12.0, None, 0.0]},
                         schema={"total": pl.Float64, "target": pl.Float64})
    out = frame.select(scoring.completion_rate(pl.col("total"), pl.col("target")).alias("c"))["c"].to_list()
    assert out == [None, None, None]


def test_missing_count_through_flow(hand_built: HandBuilt) -> None:
    left = channel(11, 9, 10, 8)
    del left["contraction_count"]
    sid = hand_built.add_session(analytics={"CH1": left, "CH2": channel(12, 8, 11, 7)}, params=WORKED_PARAMS)
    summary = run(hand_built.dsn)
    assert summary.migrated == 1, summary.as_json()
    s = hand_built.scores(sid)
    assert s["left_muscle_completion_rate"] is None
    assert s["right_muscle_completion_rate"] == pytest.approx(1.0)
    assert s["compliance_score"] is None
