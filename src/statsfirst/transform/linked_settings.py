"""Link legacy session_settings rows to sessions (mapping.md): newest updated_at wins among candidates.

A params row links when its session_id equals the session's legacy session_id or its id as text. The chosen
row's params are decoded with an explicit dtype; wrongly typed params hold the session back, and so does a value
outside what its target column allows (a threshold of 0 or 250 percent, a negative or fractional target), named
by its params key and legacy value. The real app's units stay as they are here (percent, milliseconds); the
tables' builders convert them.
"""

from __future__ import annotations

import polars as pl

from statsfirst.extract.fields import SETTINGS_DTYPE
from statsfirst.transform.problems import problems_from

INT4_MAX = 2_147_483_647.0
# the decoded params: fields.SETTINGS_DTYPE plus the real app's threshold, target and MVC keys
PARAMS_DTYPE = pl.Struct(
    [
        *SETTINGS_DTYPE.fields,
        pl.Field("session_mvc_value", pl.Float64),
        pl.Field("session_mvc_threshold_percentage", pl.Float64),
        pl.Field("session_expected_contractions", pl.Float64),
        pl.Field("contraction_duration_threshold", pl.Float64),
    ]
)
ENTRIES_DTYPE = pl.List(pl.Struct([pl.Field("channel", pl.String), pl.Field("value", pl.Float64)]))


def _percent(v: pl.Expr) -> pl.Expr:
    return (v > 0) & (v <= 100)


def _count(v: pl.Expr) -> pl.Expr:
    return (v > 0) & (v <= INT4_MAX) & (v == v.round())


# (params key, decoded column, whether a present value is allowed, check name, reason). A target column's CHECK
# in the legacy unit: mvc_threshold_percentage (0, 1] is (0, 100] percent; durations > 0; targets whole and > 0
# (session_expected_contractions counts both muscles, so it must halve into a whole per-muscle target); MVC >= 0.
SCALAR_RULES: tuple[tuple[str, str, pl.Expr, str, str], ...] = (
    ("session_mvc_threshold_percentage", "mvc_threshold_pct",
     _percent(pl.col("mvc_threshold_pct")), "percent_in_0_100", "out_of_range"),
    ("contraction_duration_threshold", "duration_threshold_ms_setting",
     pl.col("duration_threshold_ms_setting") > 0, "positive", "out_of_range"),
    ("session_expected_contractions", "expected_total",
     (pl.col("expected_total") > 0) & (pl.col("expected_total") <= INT4_MAX), "positive", "out_of_range"),
    ("session_expected_contractions", "expected_total",
     ~((pl.col("expected_total") > 0) & (pl.col("expected_total") <= INT4_MAX))
     | ((pl.col("expected_total") / 2) == (pl.col("expected_total") / 2).round()),
     "even_count", "fractional_count"),
    ("session_expected_contractions_ch1", "expected_ch1",
     (pl.col("expected_ch1") > 0) & (pl.col("expected_ch1") <= INT4_MAX), "positive", "out_of_range"),
    ("session_expected_contractions_ch1", "expected_ch1",
     ~((pl.col("expected_ch1") > 0) & (pl.col("expected_ch1") <= INT4_MAX))
     | (pl.col("expected_ch1") == pl.col("expected_ch1").round()), "integral", "fractional_count"),
    ("session_expected_contractions_ch2", "expected_ch2",
     (pl.col("expected_ch2") > 0) & (pl.col("expected_ch2") <= INT4_MAX), "positive", "out_of_range"),
    ("session_expected_contractions_ch2", "expected_ch2",
     ~((pl.col("expected_ch2") > 0) & (pl.col("expected_ch2") <= INT4_MAX))
     | (pl.col("expected_ch2") == pl.col("expected_ch2").round()), "integral", "fractional_count"),
    ("session_mvc_value", "mvc_value", pl.col("mvc_value") >= 0, "non_negative", "out_of_range"),
)
# per-channel maps: (params key, decoded entries column, whether an entry's value is allowed, check name)
ENTRY_RULES: tuple[tuple[str, str, pl.Expr, str], ...] = (
    ("session_mvc_threshold_percentages", "threshold_entries", _percent(pl.col("value")), "percent_in_0_100"),
    ("session_mvc_values", "mvc_values_entries", pl.col("value") >= 0, "non_negative"),
)


def choose_linked_settings(settings: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Returns (one decoded settings row per linked session, problems)."""
    chosen = (
        settings.sort(
            ["session_id", "settings_updated_at", "settings_user_id", "settings_session_id"],
            descending=[False, True, False, False],
            nulls_last=True,
        )
        .unique("session_id", keep="first", maintain_order=True)
        .with_columns(pl.col("type_problems").str.json_decode(pl.List(pl.String)).fill_null([]))
    )
    issues = (
        chosen.filter(pl.col("type_problems").list.len() > 0)
        .explode("type_problems")
        .with_columns(pl.col("type_problems").str.splitn("=", 2).alias("_parts"))
    )
    problems = problems_from(
        issues,
        stage="normalize",
        table="session_settings",
        column=pl.col("_parts").struct.field("field_0"),
        check="json_type",
        value=pl.col("_parts").struct.field("field_1"),
        reason="wrong_type",
    )
    good = chosen.filter(pl.col("type_problems").list.len() == 0).drop("type_problems")
    decoded = (
        good.with_columns(
            pl.col("params").str.json_decode(PARAMS_DTYPE).alias("_p"),
            pl.col("mvc_values_entries").str.json_decode(ENTRIES_DTYPE),
            pl.col("threshold_entries").str.json_decode(ENTRIES_DTYPE),
        )
        .with_columns(
            pl.col("_p").struct.field("post_session_rpe").alias("post_session_rpe"),
            pl.col("_p").struct.field("session_mvc_threshold_percentage").alias("mvc_threshold_pct"),
            pl.col("_p").struct.field("contraction_duration_threshold").alias("duration_threshold_ms_setting"),
            pl.col("_p").struct.field("session_expected_contractions").alias("expected_total"),
            pl.col("_p").struct.field("session_mvc_value").alias("mvc_value"),
            pl.col("_p").struct.field("session_expected_contractions_ch1").alias("expected_ch1"),
            pl.col("_p").struct.field("session_expected_contractions_ch2").alias("expected_ch2"),
            pl.col("_p").struct.field("bfr_parameters").struct.field("left").alias("bfr_left"),
            pl.col("_p").struct.field("bfr_parameters").struct.field("right").alias("bfr_right"),
            pl.col("_p").struct.field("channel_muscle_mapping").struct.field("CH1").alias("mapping_ch1"),
            pl.col("_p").struct.field("channel_muscle_mapping").struct.field("CH2").alias("mapping_ch2"),
            pl.when(pl.col("_p").struct.field("channel_muscle_mapping").is_null()).then(None)
        .otherwise(pl.col("_p").struct.field("channel_muscle_mapping").struct.json_encode())
        .alias("channel_muscle_mapping"),
        )
        .drop("_p")
    )
    range_problems = [problems]
    for key, column, allowed, check, reason in SCALAR_RULES:
        bad = decoded.filter(pl.col(column).is_not_null() & ~allowed)
        range_problems.append(
            problems_from(
                bad,
                stage="normalize",
                table="session_settings",
                column=pl.lit(f"params.{key}"),
                check=check,
                value=pl.col("params").str.json_path_match(f"$.{key}"),
                reason=reason,
            )
        )
    for key, column, allowed, check in ENTRY_RULES:
        entries = decoded.select("session_id", pl.col(column).alias("_e")).explode("_e").unnest("_e")
        bad = entries.filter(pl.col("value").is_not_null() & ~allowed)
        range_problems.append(
            problems_from(
                bad,
                stage="normalize",
                table="session_settings",
                column=pl.lit(f"params.{key}.") + pl.col("channel"),
                check=check,
                value=pl.col("value"),
                reason="out_of_range",
            )
        )
    # the session is held back for a value out of range; dropping the value keeps it to that one named reason
    # (the converted column would fail its own check again)
    allowed_by_column: dict[str, pl.Expr] = {}
    for _, column, allowed, _, _ in SCALAR_RULES:
        allowed_by_column[column] = allowed_by_column.get(column, pl.lit(True)) & allowed.fill_null(True)
    decoded = decoded.with_columns(
        *(pl.when(allowed).then(pl.col(column)).alias(column) for column, allowed in allowed_by_column.items()),
        *(
            pl.col(column).list.eval(pl.element().filter(_entry_allowed(check))).alias(column)
            for _, column, _, check in ENTRY_RULES
        ),
    )
    return decoded, pl.concat(range_problems, how="vertical_relaxed")


def _entry_allowed(check: str) -> pl.Expr:
    value = pl.element().struct.field("value")
    allowed = _percent(value) if check == "percent_in_0_100" else value >= 0
    return allowed.fill_null(True)


def channel_entries(settings: pl.DataFrame, column: str, alias: str) -> pl.DataFrame:
    """One row per (session, channel) of a per-channel params map: session_id, channel_name, ``alias``."""
    return (
        settings.select("session_id", pl.col(column).alias("_e"))
        .explode("_e")
        .unnest("_e")
        .filter(pl.col("channel").is_not_null() & pl.col("value").is_not_null())
        .select("session_id", pl.col("channel").alias("channel_name"), pl.col("value").alias(alias))
        .unique(["session_id", "channel_name"])
    )
