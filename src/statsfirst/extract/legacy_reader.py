"""Read one batch of legacy sessions: four COPY queries, only the columns the mapping needs.

``emg_signals`` is never selected, and the per-contraction lists are stripped inside PostgreSQL, so a database whose
analysis rows carry megabytes of signal arrays migrates as fast as one without. Of each channel object only
the numeric fields the mapping reads leave the database, each as its JSON text, for polars to parse and type-check.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import polars as pl
import psycopg
from psycopg import sql

from statsfirst.db.catalog import relation_exists
from statsfirst.errors import SchemaStateError
from statsfirst.extract.copy_reader import copy_frame
from statsfirst.extract.fields import (
    CHANNEL_NUMBERS,
    NOT_KEPT_CHANNEL_PARTS,
    PARAMETER_NUMBERS,
    SETTINGS_NUMBER_PATHS,
    STORED_CHANNEL_NUMBERS,
    TEMPORAL_BLOCKS,
    TEMPORAL_FIELDS,
    block_shape_column,
    raw_block_column,
    raw_number_column,
    raw_parameter_column,
    residual_block_column,
    residual_rest_column,
)

LEGACY = sql.Identifier("public")


# PostgreSQL timestamps reach further than polars' (epoch microseconds in an int64): ±infinity and dates after the
# year 294,000 cannot be carried. Such a value comes out NULL, and `unrepresentable_timestamps` names it, so the
# session is held back with the value (never a failed batch, never a silent NULL).
_REPRESENTABLE = "(isfinite({col}) AND {col} < '294000-01-01')"


def _epoch(column: str, alias: str) -> sql.Composable:
    return sql.SQL(
        "CASE WHEN " + _REPRESENTABLE + " THEN (extract(epoch FROM {col}) * 1000000)::bigint END AS {alias}"
    ).format(col=sql.SQL(column), alias=sql.Identifier(f"{alias}_us"))


def _unrepresentable(columns: dict[str, str]) -> sql.Composable:
    """``name=value`` of each timestamp column that polars cannot hold, joined by ``; `` (NULL when none)."""
    parts = [
        sql.SQL("CASE WHEN NOT " + _REPRESENTABLE + " THEN {name} || {col}::text END").format(
            col=sql.SQL(column), name=sql.Literal(f"{name}=")
        )
        for name, column in columns.items()
    ]
    return sql.SQL("nullif(concat_ws('; ', {}), '') AS unrepresentable_timestamps").format(sql.SQL(", ").join(parts))


@dataclass(frozen=True)
class KeyRange:
    """Which legacy sessions a batch covers: c3d_metadata.id in [first_id, last_id] and created_at in range."""

    first_id: str
    last_id: str
    since: datetime | None
    until: datetime | None

    def params(self) -> dict[str, object]:
        return {"first": self.first_id, "last": self.last_id, "since": self.since, "until": self.until}


RANGE_FILTER = sql.SQL(
    "c.id BETWEEN %(first)s::uuid AND %(last)s::uuid"
    " AND (%(since)s::timestamptz IS NULL OR c.created_at >= %(since)s::timestamptz)"
    " AND (%(until)s::timestamptz IS NULL OR c.created_at < %(until)s::timestamptz)"
)
# The same id range on analysis_results.c3d_metadata_id, so its index bounds the scan whatever the planner's
# statistics say (without it, a legacy database that was never ANALYZEd gets a sequential scan that detoasts every
# analytics_data of the table for every batch).
ANALYSIS_RANGE = sql.SQL("a.c3d_metadata_id BETWEEN %(first)s::uuid AND %(last)s::uuid")

SESSIONS_QUERY = sql.SQL(
    """
    SELECT c.id::text AS session_id, c.file_path, c.file_hash, c.file_size_bytes, c.patient_id,
           c.therapist_id, c.session_id AS legacy_session_code, {session_date}, c.session_type,
           c.game_metadata::text AS game_metadata,
           CASE WHEN jsonb_typeof(c.game_metadata) = 'object' THEN c.game_metadata ->> 'game_points_achieved' END
               AS game_points_achieved_raw,
           CASE WHEN jsonb_typeof(c.game_metadata) = 'object' THEN c.game_metadata ->> 'game_points_maximum' END
               AS game_points_maximum_raw,
           c.channel_names::text AS channel_names, c.channel_count,
           c.sampling_rate, c.duration_seconds, c.frame_count, c.resolved_patient_id, c.resolved_therapist_id,
           {resolved_session_date}, c.processing_status, c.processing_version, c.error_message,
           {created_at}, {updated_at}, {processed_at}, {unrepresentable},
           md5(c::text) AS c3d_hash
    FROM {legacy}.c3d_metadata c
    WHERE {range}
    """
).format(
    session_date=_epoch("c.session_date", "session_date"),
    resolved_session_date=_epoch("c.resolved_session_date", "resolved_session_date"),
    created_at=_epoch("c.created_at", "created_at"),
    updated_at=_epoch("c.updated_at", "updated_at"),
    processed_at=_epoch("c.processed_at", "processed_at"),
    unrepresentable=_unrepresentable({name: f"c.{name}" for name in (
        "session_date", "resolved_session_date", "created_at", "updated_at", "processed_at")}),
    legacy=LEGACY,
    range=RANGE_FILTER,
)
SESSIONS_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "session_id": pl.String,
    "file_path": pl.String,
    "file_hash": pl.String,
    "file_size_bytes": pl.Int64,
    "patient_id": pl.String,
    "therapist_id": pl.String,
    "legacy_session_code": pl.String,
    "session_date_us": pl.Int64,
    "session_type": pl.String,
    "game_metadata": pl.String,
    "game_points_achieved_raw": pl.String,
    "game_points_maximum_raw": pl.String,
    "channel_names": pl.String,
    "channel_count": pl.Int64,
    "sampling_rate": pl.Float64,
    "duration_seconds": pl.Float64,
    "frame_count": pl.Int64,
    "resolved_patient_id": pl.String,
    "resolved_therapist_id": pl.String,
    "resolved_session_date_us": pl.Int64,
    "processing_status": pl.String,
    "processing_version": pl.String,
    "error_message": pl.String,
    "created_at_us": pl.Int64,
    "updated_at_us": pl.Int64,
    "processed_at_us": pl.Int64,
    "unrepresentable_timestamps": pl.String,
    "c3d_hash": pl.String,
}

ANALYSES_QUERY = sql.SQL(
    """
    SELECT a.id::text AS analysis_id, a.c3d_metadata_id::text AS session_id, a.file_hash, a.processing_version,
           a.processing_params::text AS processing_params, a.processing_time_ms, a.cache_hits,
           {last_accessed_at}, {expires_at}, {created_at}, {unrepresentable},
           -- the scalar columns' part of the change detector; analytics_data's part comes with the channels
           md5(concat_ws('|', a.id, a.file_hash, a.processing_version, a.processing_params, a.processing_time_ms,
                         a.cache_hits, a.last_accessed_at, a.created_at, a.expires_at)) AS scalar_hash
    FROM {legacy}.analysis_results a
    JOIN {legacy}.c3d_metadata c ON c.id = a.c3d_metadata_id
    WHERE {analysis_range} AND {range}
    """
).format(
    last_accessed_at=_epoch("a.last_accessed_at", "last_accessed_at"),
    expires_at=_epoch("a.expires_at", "expires_at"),
    created_at=_epoch("a.created_at", "created_at"),
    unrepresentable=_unrepresentable({name: f"a.{name}" for name in ("last_accessed_at", "expires_at", "created_at")}),
    legacy=LEGACY,
    range=RANGE_FILTER,
    analysis_range=ANALYSIS_RANGE,
)
ANALYSES_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "analysis_id": pl.String,
    "session_id": pl.String,
    "file_hash": pl.String,
    "processing_version": pl.String,
    "processing_params": pl.String,
    "processing_time_ms": pl.Int64,
    "cache_hits": pl.Int64,
    "last_accessed_at_us": pl.Int64,
    "expires_at_us": pl.Int64,
    "created_at_us": pl.Int64,
    "unrepresentable_timestamps": pl.String,
    "scalar_hash": pl.String,
}

def _channel_field_columns() -> sql.Composable:
    """Each numeric field the mapping reads, as its JSON text (``null``, a number, or a wrongly typed value).

    Picking the fields out in PostgreSQL is cheaper than shipping the channel object, and polars parses them with
    an explicit Float64 dtype, reporting (not coercing) anything that is not a representable JSON number.
    """
    items: list[sql.Composable] = [
        sql.SQL("(ch.value -> {key})::text AS {alias}").format(
            key=sql.Literal(name), alias=sql.Identifier(raw_number_column(name))
        )
        for name in CHANNEL_NUMBERS
    ]
    for block in TEMPORAL_BLOCKS:
        items.append(
            sql.SQL(
                "CASE WHEN jsonb_typeof(ch.value -> {key}) NOT IN ('object', 'null') "
                "THEN left((ch.value -> {key})::text, 80) END AS {alias}"
            ).format(key=sql.Literal(block), alias=sql.Identifier(block_shape_column(block)))
        )
        for field_name in TEMPORAL_FIELDS:
            items.append(
                sql.SQL("(ch.value -> {key} -> {field})::text AS {alias}").format(
                    key=sql.Literal(block),
                    field=sql.Literal(field_name),
                    alias=sql.Identifier(raw_block_column(block, field_name)),
                )
            )
    # What emg_statistics does not keep, for the compatibility view: the channel minus its stored numbers, the
    # temporal blocks and the parts not kept; each temporal block minus mean_value/std_value.
    dropped = [*NOT_KEPT_CHANNEL_PARTS, *STORED_CHANNEL_NUMBERS, *TEMPORAL_BLOCKS]
    items.append(
        sql.SQL(
            "CASE WHEN jsonb_typeof(ch.value) = 'object' THEN (ch.value - {dropped}::text[])::text END AS {alias}"
        ).format(dropped=sql.Literal(dropped), alias=sql.Identifier(residual_rest_column()))
    )
    for block in TEMPORAL_BLOCKS:
        items.append(
            sql.SQL(
                "CASE WHEN jsonb_typeof(ch.value -> {key}) = 'object' "
                "THEN ((ch.value -> {key}) - '{{mean_value,std_value}}'::text[])::text "
                "ELSE (ch.value -> {key})::text END AS {alias}"
            ).format(key=sql.Literal(block), alias=sql.Identifier(residual_block_column(block)))
        )
    for name in PARAMETER_NUMBERS:
        items.append(
            sql.SQL(
                "CASE WHEN jsonb_typeof(ch.value #> '{{signal_processing,parameters_used}}') = 'object' "
                "THEN (ch.value #> '{{signal_processing,parameters_used}}' -> {key})::text END AS {alias}"
            ).format(key=sql.Literal(name), alias=sql.Identifier(raw_parameter_column(name)))
        )
    return sql.SQL(",\n           ").join(items)


# The channel query's text columns, in its select order: the frame's schema and what channel_hash covers.
CHANNEL_TEXT_COLUMNS: tuple[str, ...] = (
    "channel_name",
    "channel_not_object",
    "mvc_estimation_method",
    "processing_pipeline",
    "parameters_used",
    *(raw_number_column(name) for name in CHANNEL_NUMBERS),
    *(
        column
        for block in TEMPORAL_BLOCKS
        for column in (block_shape_column(block), *(raw_block_column(block, f) for f in TEMPORAL_FIELDS))
    ),
    residual_rest_column(),
    *(residual_block_column(block) for block in TEMPORAL_BLOCKS),
    *(raw_parameter_column(name) for name in PARAMETER_NUMBERS),
)

CHANNELS_QUERY = sql.SQL(
    """
    -- channel_hash: MD5 of everything the migration reads of the channel (the change detector's analytics part);
    -- hashing these texts is far cheaper than hashing the whole analytics_data with its per-contraction lists
    SELECT f.*, md5(concat_ws('|', f.analytics_type, {hashed})) AS channel_hash
    FROM (
    SELECT a.id::text AS analysis_id, a.c3d_metadata_id::text AS session_id,
           jsonb_typeof(a.analytics_data) AS analytics_type, ch.key AS channel_name,
           CASE WHEN jsonb_typeof(ch.value) IS DISTINCT FROM 'object'
                THEN left(coalesce(ch.value::text, 'NULL'), 80) END AS channel_not_object,
           CASE WHEN jsonb_typeof(ch.value) = 'object' THEN ch.value ->> 'mvc_estimation_method' END
               AS mvc_estimation_method,
           -- a function scan returns the array's elements in order and nothing re-orders a single-input
           -- aggregate, so no ORDER BY (whose per-channel sort cost more than the rest of the pipeline)
           CASE WHEN jsonb_typeof(ch.value #> '{{signal_processing,processing_steps}}') = 'array'
                THEN (SELECT string_agg(step, ' -> ')
                      FROM jsonb_array_elements_text(ch.value #> '{{signal_processing,processing_steps}}') AS step)
                END AS processing_pipeline,
           CASE WHEN jsonb_typeof(ch.value #> '{{signal_processing,parameters_used}}') = 'object'
                THEN (ch.value #> '{{signal_processing,parameters_used}}')::text END AS parameters_used,
           {fields}
    -- analytics_data is detoasted (decompressed) once per analysis: `#> '{{}}'` returns the whole value unpacked,
    -- and OFFSET 0 keeps that copy for every use above (each use of the stored column would decompress it again)
    FROM (SELECT a.id, a.c3d_metadata_id, a.analytics_data #> '{{}}' AS analytics_data
          FROM {legacy}.analysis_results a
          JOIN {legacy}.c3d_metadata c ON c.id = a.c3d_metadata_id
          WHERE {analysis_range} AND {range}
          OFFSET 0) a
    -- every analysis' channels, and one row with a NULL channel for an analysis without any; which analysis is
    -- current (the newest with channels) is picked in polars, which saves a sort
    LEFT JOIN LATERAL jsonb_each(CASE WHEN jsonb_typeof(a.analytics_data) = 'object' THEN a.analytics_data END) ch
        ON true
    OFFSET 0) f
    """
).format(
    legacy=LEGACY,
    range=RANGE_FILTER,
    analysis_range=ANALYSIS_RANGE,
    fields=_channel_field_columns(),
    hashed=sql.SQL(", ").join(sql.SQL("f.{}").format(sql.Identifier(c)) for c in CHANNEL_TEXT_COLUMNS),
)
CHANNELS_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "analysis_id": pl.String,
    "session_id": pl.String,
    "analytics_type": pl.String,
    **{column: pl.String for column in CHANNEL_TEXT_COLUMNS},
    "channel_hash": pl.String,
}

# The real app's session store keys (legacy-schema.md) the mapping reads beyond fields.SETTINGS_NUMBER_PATHS:
# numbers checked by the same JSON type guard.
SETTINGS_KEY_PATHS: tuple[str, ...] = (
    "{session_mvc_value}",
    "{session_mvc_threshold_percentage}",
    "{session_expected_contractions}",
    "{contraction_duration_threshold}",
)


def _channel_map_entries(key: str, alias: str) -> sql.Composable:
    """A per-channel params map (``{"CH1": v, ...}``) as a JSON array of ``{"channel", "value"}`` (NULL when empty
    or not an object), so polars can join its entries to the channels whatever the channel keys are."""
    return sql.SQL(
        "CASE WHEN jsonb_typeof(s.params -> {key}) = 'object' THEN (SELECT json_agg(json_build_object("
        "'channel', e.key, 'value', e.value) ORDER BY e.key) FROM jsonb_each(s.params -> {key}) AS e)::text END "
        "AS {alias}"
    ).format(key=sql.Literal(key), alias=sql.Identifier(alias))


SETTINGS_QUERY = sql.SQL(
    """
    -- a settings row links by the legacy session code or by the c3d_metadata id; two equi-joins (not one OR join)
    -- so each is a hash join over the batch, and a row matching both ways is counted once. Each arm reads the batch
    -- from c3d_metadata itself (not from a CTE): with the table's statistics the planner hashes the batch, not the
    -- (unindexed, wide) session_settings table
    WITH linked AS (
        SELECT c.id AS c_id, c.session_id AS c_session_id, s.user_id, s.session_id, s.params, s.updated_at
        FROM {legacy}.c3d_metadata c JOIN {legacy}.session_settings s ON s.session_id = c.session_id
        WHERE {range}
        UNION ALL
        SELECT c.id, c.session_id, s.user_id, s.session_id, s.params, s.updated_at
        FROM {legacy}.c3d_metadata c JOIN {legacy}.session_settings s
             ON s.session_id = c.id::text AND s.session_id IS DISTINCT FROM c.session_id
        WHERE {range}
    )
    SELECT s.c_id::text AS session_id, s.user_id::text AS settings_user_id, s.session_id AS settings_session_id,
           CASE WHEN s.session_id = s.c_session_id THEN 'session_id' ELSE 'id' END AS link,
           CASE WHEN jsonb_typeof(s.params) = 'object' THEN s.params::text END AS params,
           {updated_at}, {unrepresentable},
           count(*) OVER (PARTITION BY s.c_id) AS candidates,
           to_json(
               CASE WHEN jsonb_typeof(s.params) IS DISTINCT FROM 'object'
                    THEN ARRAY['params=' || left(coalesce(s.params::text, 'NULL'), 80)]
                    ELSE ARRAY(
                        SELECT 'params.' || array_to_string(path::text[], '.') || '='
                               || left((s.params #> path::text[])::text, 80)
                        FROM unnest(%(paths)s::text[]) AS path
                        WHERE NOT statsfirst.json_is_float8(s.params #> path::text[])
                        UNION ALL
                        SELECT 'params.' || key || '=' || left((s.params -> key)::text, 80)
                        FROM unnest(ARRAY['bfr_parameters', 'channel_muscle_mapping', 'session_mvc_values',
                                          'session_mvc_threshold_percentages']) AS key
                        WHERE jsonb_typeof(s.params -> key) NOT IN ('object', 'null')
                        UNION ALL
                        -- the per-channel maps (MVC in volts, threshold in percent): every entry a number or null
                        SELECT 'params.' || m.key || '.' || e.key || '=' || left(e.value::text, 80)
                        FROM unnest(ARRAY['session_mvc_values', 'session_mvc_threshold_percentages']) AS m(key)
                        CROSS JOIN LATERAL jsonb_each(CASE WHEN jsonb_typeof(s.params -> m.key) = 'object'
                                                           THEN s.params -> m.key END) AS e
                        WHERE NOT statsfirst.json_is_float8(e.value)
                        UNION ALL
                        SELECT 'params.bfr_parameters.' || side || '='
                               || left((s.params #> ARRAY['bfr_parameters', side])::text, 80)
                        FROM unnest(ARRAY['left', 'right']) AS side
                        WHERE jsonb_typeof(s.params #> ARRAY['bfr_parameters', side]) NOT IN ('object', 'null')
                        UNION ALL
                        SELECT 'params.channel_muscle_mapping.' || ch || '='
                               || left((s.params #> ARRAY['channel_muscle_mapping', ch])::text, 80)
                        FROM unnest(ARRAY['CH1', 'CH2']) AS ch
                        WHERE jsonb_typeof(s.params #> ARRAY['channel_muscle_mapping', ch]) NOT IN ('string', 'null'))
               END)::text AS type_problems,
           {mvc_values_entries}, {threshold_entries}
    FROM linked s
    """
).format(
    updated_at=_epoch("s.updated_at", "settings_updated_at"),
    unrepresentable=_unrepresentable({"updated_at": "s.updated_at"}),
    mvc_values_entries=_channel_map_entries("session_mvc_values", "mvc_values_entries"),
    threshold_entries=_channel_map_entries("session_mvc_threshold_percentages", "threshold_entries"),
    legacy=LEGACY,
    range=RANGE_FILTER,
)
SETTINGS_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "session_id": pl.String,
    "settings_user_id": pl.String,
    "settings_session_id": pl.String,
    "link": pl.String,
    "params": pl.String,
    "settings_updated_at_us": pl.Int64,
    "unrepresentable_timestamps": pl.String,
    "candidates": pl.Int64,
    "type_problems": pl.String,
    "mvc_values_entries": pl.String,
    "threshold_entries": pl.String,
}


@dataclass
class LegacyBatch:
    """The legacy rows of one batch, one frame per legacy source."""

    sessions: pl.DataFrame
    analyses: pl.DataFrame
    channels: pl.DataFrame
    settings: pl.DataFrame


REQUIRED_LEGACY = ("c3d_metadata", "analysis_results", "patients", "therapists")  # in schema public


def check_legacy_tables(conn: psycopg.Connection) -> None:
    """The legacy tables every command reads exist, else one line naming the missing ones (a DSN pointing at the
    wrong database is the usual cause)."""
    missing = [table for table in REQUIRED_LEGACY if not relation_exists(conn, "public", table)]
    if missing:
        raise SchemaStateError(
            f"the legacy table(s) {', '.join(missing)} are missing from schema public",
            "point --dsn/DATABASE_URL at the legacy database",
        )


def has_legacy_session_settings(conn: psycopg.Connection) -> bool:
    """The legacy session_settings table (user_id, session_id, params) exists in the legacy schema."""
    row = conn.execute(
        """
        SELECT count(*) FROM information_schema.columns
        WHERE table_schema = 'public' AND table_name = 'session_settings'
          AND column_name IN ('user_id', 'session_id', 'params')
        """
    ).fetchone()
    return bool(row and row[0] == 3)


def read_batch(conn: psycopg.Connection, key_range: KeyRange, *, with_settings: bool) -> LegacyBatch:
    """The batch's legacy rows, read in one REPEATABLE READ snapshot so the four sources agree with each other."""
    params = key_range.params()
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        sessions = copy_frame(conn, SESSIONS_QUERY, params, SESSIONS_SCHEMA)
        analyses = copy_frame(conn, ANALYSES_QUERY, params, ANALYSES_SCHEMA)
        channels = copy_frame(conn, CHANNELS_QUERY, params, CHANNELS_SCHEMA)
        if with_settings:
            settings = copy_frame(
                conn, SETTINGS_QUERY, {**params, "paths": [*SETTINGS_NUMBER_PATHS, *SETTINGS_KEY_PATHS]},
                SETTINGS_SCHEMA,
            )
        else:
            settings = pl.DataFrame(
                schema={k.removesuffix("_us"): v for k, v in SETTINGS_SCHEMA.items()}
            ).with_columns(pl.col("settings_updated_at").cast(pl.Datetime("us", "UTC")))
    analyses, channels = _attach_analytics_content(analyses, channels)
    return LegacyBatch(sessions=sessions, analyses=analyses, channels=channels, settings=settings)


def _attach_analytics_content(analyses: pl.DataFrame, channels: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Move what the channel query says of each analysis as a whole onto its analysis row.

    ``analytics_type`` (the JSON type of analytics_data) and the change detector's ``analysis_hash``: the scalar
    columns' MD5 followed by the channel hashes in channel order. Rows for analyses without channels are dropped
    from the channel frame.
    """
    content = channels.group_by("analysis_id").agg(
        pl.col("analytics_type").first(),
        pl.col("channel_hash").sort_by("channel_name", nulls_last=True).str.join(",").alias("_analytics_hash"),
    )
    analyses = (
        analyses.join(content, on="analysis_id", how="left")
        .with_columns(
            pl.concat_str(
                [pl.col("scalar_hash"), pl.col("_analytics_hash").fill_null("")], separator=":"
            ).alias("analysis_hash")
        )
        .drop("scalar_hash", "_analytics_hash")
    )
    channels = channels.filter(pl.col("channel_name").is_not_null()).drop("analytics_type", "channel_hash")
    return analyses, channels
