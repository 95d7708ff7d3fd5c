-- statsfirst:repeatable
-- 007_create_backward_compatibility_views.sql: c3d_metadata_view and analysis_results_view (spec: compat-views.md).
--
-- Code written for the legacy tables keeps working once they are archived: both views live in the legacy schema
-- (public), have exactly the legacy columns (names, order, types) and the legacy ids, and answer the legacy
-- application's reads with the legacy values. They read the Statistics-First tables plus the migration lineage:
--   * values the target stores as is come from the target (file_path, file_hash, statuses, timestamps, cache hits);
--   * values the target normalised or does not store (raw patient/therapist references, 0/[] sentinels,
--     bucket_name, object_metadata, size_category, ...) come from the lineage record of the session
--     (statsfirst.session_lineage.legacy_c3d) or of the analysis (statsfirst.analysis_lineage.legacy_analysis);
--   * analytics_data is rebuilt from emg_statistics, plus the per-channel fields emg_statistics has no column for:
--     the "residual" of the current analysis, which the migration stores in its analysis lineage record
--     (analysis_lineage.analytics_residual, built by transform/analytics_residual.py). The SQL definition below,
--     statsfirst.compat_analytics_residual, says the same (tests/views compare the two).
--     The per-channel `contractions` list, the `signal_processing` block and `errors` are not reproduced (the
--     Statistics-First design re-derives them from the C3D file); non-current analysis rows show {}.
--
-- Repeatable: re-applied when this file changes. Everything here is CREATE OR REPLACE / IF NOT EXISTS / DROP ...
-- IF EXISTS, and CREATE OR REPLACE VIEW keeps objects that depend on the views (the column list is the legacy
-- table's; a view left with another column list by an earlier version of this file is dropped first, see below).
-- Applied like 006 with `SET LOCAL search_path TO <target>, public`, so unqualified
-- names are the target tables; functions carry `SET search_path FROM CURRENT` (or are schema-qualified).
--
-- Views only: the lineage columns the views read, and who may read them, are part of the bookkeeping (005) and
-- of the schema's row-level security (006).
--
-- Security: the views are security_invoker, so RLS of the tables applies to the reader, the lineage tables
-- included (006: readable by `authenticated` only where the session is, and only in the columns the views read).
-- `anon` gets nothing.

-- =================================================================================================================
-- The analytics_data fields emg_statistics stores (one column each); everything else of a channel is residual
-- =================================================================================================================

CREATE OR REPLACE FUNCTION statsfirst.compat_stored_channel_keys() RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT ARRAY[
        'contraction_count', 'good_contraction_count', 'mvc_contraction_count', 'duration_contraction_count',
        'avg_duration_ms', 'min_duration_ms', 'max_duration_ms', 'total_time_under_tension_ms',
        'avg_amplitude', 'max_amplitude', 'rms', 'mav', 'mpf', 'mdf', 'fatigue_index_fi_nsm5',
        'mvc_threshold_actual_value'
    ]
$$;
COMMENT ON FUNCTION statsfirst.compat_stored_channel_keys() IS
    'analytics_data channel keys that emg_statistics stores in a column of its own (the compatibility view '
    'rebuilds them from there); a temporal-stats block stores mean_value and std_value.';

CREATE OR REPLACE FUNCTION statsfirst.compat_analytics_residual(analytics jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    -- Per channel: the channel object without contractions/signal_processing/errors (not reproduced) and
    -- without every stored key whose value is a number (rebuilt from emg_statistics); in the temporal-stats
    -- blocks, without numeric mean_value/std_value. What stays: keys emg_statistics has no column for
    -- (expected_contractions, mvc_estimation_method, duration_threshold_actual_value, min/max/valid_windows/
    -- coefficient_of_variation, unexpected extra keys) and stored keys whose legacy value was null, so that
    -- "null" and "absent" are reproduced exactly. NULL for an empty or non-object analytics_data.
    SELECT CASE WHEN jsonb_typeof(analytics) = 'object' AND analytics <> '{}'::jsonb THEN (
        SELECT jsonb_object_agg(ch.key, CASE WHEN jsonb_typeof(ch.value) = 'object' THEN (
            SELECT coalesce(jsonb_object_agg(f.key,
                       CASE WHEN f.key LIKE '%\_temporal\_stats' AND jsonb_typeof(f.value) = 'object'
                            THEN f.value - array_remove(ARRAY[
                                     CASE WHEN jsonb_typeof(f.value -> 'mean_value') = 'number' THEN 'mean_value' END,
                                     CASE WHEN jsonb_typeof(f.value -> 'std_value') = 'number' THEN 'std_value' END
                                 ], NULL)
                            ELSE f.value END), '{}'::jsonb)
            FROM jsonb_each(ch.value) AS f
            WHERE f.key NOT IN ('contractions', 'signal_processing', 'errors')
              AND NOT (f.key = ANY (statsfirst.compat_stored_channel_keys()) AND jsonb_typeof(f.value) = 'number')
        ) ELSE ch.value END)
        FROM jsonb_each(analytics) AS ch
    ) END
$$;
COMMENT ON FUNCTION statsfirst.compat_analytics_residual(jsonb) IS
    'The part of a legacy analytics_data that emg_statistics does not store, per channel (what the migration '
    'stores in analysis_lineage.analytics_residual); analysis_results_view merges it with '
    'the values rebuilt from emg_statistics. NULL when analytics_data is {} or not an object.';

-- =================================================================================================================
-- A view created by an earlier version of this file with another column order (before the real legacy order of
-- analysis_results was known) cannot be fixed by CREATE OR REPLACE VIEW, which only appends columns: drop it, so it
-- is created afresh below (its trigger, comment and grants with it). Without CASCADE: an object depending on it
-- stops the migration with PostgreSQL's message naming it, rather than being dropped silently.
-- =================================================================================================================

DO $$
DECLARE
    wanted constant jsonb := jsonb_build_object(
        'c3d_metadata_view', ARRAY[
            'id', 'file_path', 'file_hash', 'file_size_bytes', 'patient_id', 'therapist_id', 'session_id',
            'session_date', 'session_type', 'session_duration', 'session_notes', 'game_metadata', 'channel_names',
            'channel_count', 'sampling_rate', 'duration_seconds', 'frame_count', 'resolved_patient_id',
            'resolved_therapist_id', 'resolved_session_date', 'size_category', 'content_type', 'upload_date',
            'bucket_name', 'object_metadata', 'processing_status', 'processing_version', 'error_message',
            'created_at', 'updated_at', 'processed_at'],
        'analysis_results_view', ARRAY[
            'id', 'c3d_metadata_id', 'file_hash', 'processing_version', 'processing_params', 'analytics_data',
            'emg_signals', 'contractions_data', 'processing_time_ms', 'cache_hits', 'last_accessed_at',
            'mvc_values', 'good_contractions_count', 'total_contractions_count', 'compliance_scores',
            'temporal_stats', 'created_at', 'expires_at']);
    view_name text;
BEGIN
    FOR view_name IN SELECT jsonb_object_keys(wanted) LOOP
        IF to_regclass(format('public.%I', view_name)) IS NOT NULL
           AND (SELECT to_jsonb(array_agg(a.attname::text ORDER BY a.attnum)) FROM pg_attribute AS a
                WHERE a.attrelid = to_regclass(format('public.%I', view_name)) AND a.attnum > 0
                  AND NOT a.attisdropped) IS DISTINCT FROM wanted -> view_name THEN
            EXECUTE format('DROP VIEW public.%I', view_name);
        END IF;
    END LOOP;
END
$$;

-- =================================================================================================================
-- c3d_metadata_view: one row per migrated session, the legacy c3d_metadata columns
-- =================================================================================================================

CREATE OR REPLACE VIEW public.c3d_metadata_view WITH (security_invoker = true) AS
SELECT
    s.id,
    s.file_path,
    s.file_hash,
    s.file_size_bytes,
    l.raw_patient_id AS patient_id,
    l.raw_therapist_id AS therapist_id,
    s.session_code AS session_id,
    (l.legacy_c3d ->> 'session_date')::timestamp AS session_date,
    l.legacy_c3d ->> 'session_type' AS session_type,
    (l.legacy_c3d ->> 'session_duration')::double precision AS session_duration,
    l.legacy_c3d ->> 'session_notes' AS session_notes,
    s.game_metadata,
    -- the target holds NULL for the legacy "unknown" sentinels ([] / 0); the lineage has the legacy value
    coalesce(s.channel_names, nullif(l.legacy_c3d -> 'channel_names', 'null'::jsonb)) AS channel_names,
    coalesce(s.channel_count, (l.legacy_c3d ->> 'channel_count')::integer) AS channel_count,
    coalesce(s.original_sampling_rate, (l.legacy_c3d ->> 'sampling_rate')::double precision) AS sampling_rate,
    coalesce(s.original_duration_seconds, (l.legacy_c3d ->> 'duration_seconds')::double precision)
        AS duration_seconds,
    coalesce(s.original_sample_count, (l.legacy_c3d ->> 'frame_count')::integer) AS frame_count,
    l.raw_resolved_patient_id AS resolved_patient_id,
    l.raw_resolved_therapist_id AS resolved_therapist_id,
    (l.legacy_c3d ->> 'resolved_session_date')::timestamp AS resolved_session_date,
    l.legacy_c3d ->> 'size_category' AS size_category,
    l.legacy_c3d ->> 'content_type' AS content_type,
    (l.legacy_c3d ->> 'upload_date')::timestamptz AS upload_date,
    l.legacy_c3d ->> 'bucket_name' AS bucket_name,
    nullif(l.legacy_c3d -> 'object_metadata', 'null'::jsonb) AS object_metadata,
    s.processing_status,
    -- therapy_sessions.processing_version is the analysis version; the legacy column is the c3d row's own
    l.legacy_c3d ->> 'processing_version' AS processing_version,
    s.error_message,
    s.created_at,
    s.updated_at,
    s.processed_at
FROM therapy_sessions AS s
LEFT JOIN statsfirst.session_lineage AS l ON l.legacy_session_id = s.id
-- legacy insertion order (created_at, then id): `SELECT * ... WHERE file_hash = $1` without ORDER BY returns the
-- legacy table's first row first, as the legacy application (which takes data[0]) expects (compat-views.md §3).
-- The WHERE of such a read is pushed below the sort, so it still uses the by-hash / by-id indexes.
ORDER BY s.created_at, s.id;

COMMENT ON VIEW public.c3d_metadata_view IS
    'Backward compatibility: the legacy c3d_metadata (same columns, ids and values) for every migrated session, '
    'read from therapy_sessions and the session lineage. security_invoker: RLS of therapy_sessions applies. '
    'Read-only: sessions are written by the migration.';

-- =================================================================================================================
-- analysis_results_view: one row per migrated legacy analysis row (= signal_processing_cache row, same id)
-- =================================================================================================================

CREATE OR REPLACE VIEW public.analysis_results_view WITH (security_invoker = true) AS
SELECT
    c.id,
    c.session_id AS c3d_metadata_id,
    l.file_hash,
    c.processing_version,
    -- signal_processing_cache.processing_params is {} for a legacy NULL; the lineage has the legacy value
    nullif(l.legacy_analysis -> 'processing_params', 'null'::jsonb) AS processing_params,
    CASE WHEN l.analytics_residual IS NOT NULL
              -- the current analysis (mapping.md: the newest with a non-empty analytics_data) is the only one the
              -- migration stores a residual for; the check keeps older lineage (a residual on every non-empty
              -- analysis) right too
              AND NOT EXISTS (SELECT FROM signal_processing_cache AS o
                              JOIN statsfirst.analysis_lineage AS ol ON ol.legacy_analysis_id = o.id
                              WHERE o.session_id = c.session_id AND (o.created_at, o.id) > (c.created_at, c.id)
                                AND ol.analytics_residual IS NOT NULL)
    THEN coalesce((
        -- per channel: the residual (keys emg_statistics has no column for, and stored keys whose legacy value
        -- was null), the stored numbers that are not null, and each temporal block the residual has: its stored
        -- mean_value/std_value merged into the residual's rest of the block (blocks the legacy lacked stay absent)
        SELECT jsonb_object_agg(e.channel_name,
                   r.res
                   || jsonb_strip_nulls(jsonb_build_object(
                       'contraction_count', e.total_contractions::double precision,
                       'good_contraction_count', e.good_contractions_both::double precision,
                       'mvc_contraction_count', e.good_contractions_intensity::double precision,
                       'duration_contraction_count', e.good_contractions_duration::double precision,
                       'avg_duration_ms', e.avg_duration_ms,
                       'min_duration_ms', e.min_duration_ms,
                       'max_duration_ms', e.max_duration_ms,
                       'total_time_under_tension_ms', e.total_time_under_tension_ms,
                       'avg_amplitude', e.avg_amplitude,
                       'max_amplitude', e.max_amplitude,
                       'rms', e.rms,
                       'mav', e.mav,
                       'mpf', e.mpf,
                       'mdf', e.mdf,
                       'fatigue_index_fi_nsm5', e.fatigue_index,
                       'mvc_threshold_actual_value', e.mvc_peak_value * e.mvc_threshold_percentage))
                   || (jsonb_build_object(
                       'rms_temporal_stats', CASE WHEN jsonb_typeof(r.res -> 'rms_temporal_stats') = 'object'
                           THEN jsonb_strip_nulls(jsonb_build_object('mean_value', e.rms_mean, 'std_value', e.rms_std))
                                || (r.res -> 'rms_temporal_stats')
                           ELSE r.res -> 'rms_temporal_stats' END,
                       'mav_temporal_stats', CASE WHEN jsonb_typeof(r.res -> 'mav_temporal_stats') = 'object'
                           THEN jsonb_strip_nulls(jsonb_build_object('mean_value', e.mav_mean, 'std_value', e.mav_std))
                                || (r.res -> 'mav_temporal_stats')
                           ELSE r.res -> 'mav_temporal_stats' END,
                       'mpf_temporal_stats', CASE WHEN jsonb_typeof(r.res -> 'mpf_temporal_stats') = 'object'
                           THEN jsonb_strip_nulls(jsonb_build_object('mean_value', e.mpf_mean, 'std_value', e.mpf_std))
                                || (r.res -> 'mpf_temporal_stats')
                           ELSE r.res -> 'mpf_temporal_stats' END,
                       'mdf_temporal_stats', CASE WHEN jsonb_typeof(r.res -> 'mdf_temporal_stats') = 'object'
                           THEN jsonb_strip_nulls(jsonb_build_object('mean_value', e.mdf_mean, 'std_value', e.mdf_std))
                                || (r.res -> 'mdf_temporal_stats')
                           ELSE r.res -> 'mdf_temporal_stats' END,
                       'fatigue_index_temporal_stats',
                       CASE WHEN jsonb_typeof(r.res -> 'fatigue_index_temporal_stats') = 'object'
                           THEN jsonb_strip_nulls(jsonb_build_object('mean_value', e.fatigue_index_mean,
                                                                     'std_value', e.fatigue_index_std))
                                || (r.res -> 'fatigue_index_temporal_stats')
                           ELSE r.res -> 'fatigue_index_temporal_stats' END)
                       - ARRAY[
                       CASE WHEN NOT r.res ? 'rms_temporal_stats' THEN 'rms_temporal_stats' END,
                       CASE WHEN NOT r.res ? 'mav_temporal_stats' THEN 'mav_temporal_stats' END,
                       CASE WHEN NOT r.res ? 'mpf_temporal_stats' THEN 'mpf_temporal_stats' END,
                       CASE WHEN NOT r.res ? 'mdf_temporal_stats' THEN 'mdf_temporal_stats' END,
                       CASE WHEN NOT r.res ? 'fatigue_index_temporal_stats' THEN 'fatigue_index_temporal_stats' END]))
        -- OFFSET 0 keeps the residual extracted once per row and per channel instead of once per reference
        FROM (SELECT l.analytics_residual::jsonb AS channels OFFSET 0) AS x
        CROSS JOIN emg_statistics AS e
        CROSS JOIN LATERAL (SELECT coalesce(x.channels -> e.channel_name, '{}'::jsonb) AS res OFFSET 0) AS r
        WHERE e.session_id = c.session_id
    ), '{}'::jsonb) ELSE '{}'::jsonb END AS analytics_data,
    NULL::jsonb AS emg_signals,  -- never populated in legacy, never read by the migration
    nullif(l.legacy_analysis -> 'contractions_data', 'null'::jsonb) AS contractions_data,
    c.processing_time_ms,
    c.hit_count AS cache_hits,
    c.last_accessed_at,
    nullif(l.legacy_analysis -> 'mvc_values', 'null'::jsonb) AS mvc_values,
    (l.legacy_analysis ->> 'good_contractions_count')::integer AS good_contractions_count,
    (l.legacy_analysis ->> 'total_contractions_count')::integer AS total_contractions_count,
    nullif(l.legacy_analysis -> 'compliance_scores', 'null'::jsonb) AS compliance_scores,
    nullif(l.legacy_analysis -> 'temporal_stats', 'null'::jsonb) AS temporal_stats,
    c.created_at,
    c.expires_at
FROM signal_processing_cache AS c
JOIN statsfirst.analysis_lineage AS l ON l.legacy_analysis_id = c.id
WHERE c.cache_type = 'legacy_analysis'
-- legacy insertion order: a read without ORDER BY returns the rows as the legacy table did (compat-views.md §3)
ORDER BY c.created_at, c.id;

COMMENT ON VIEW public.analysis_results_view IS
    'Backward compatibility: the legacy analysis_results (same columns, ids and scalar values) for every migrated '
    'analysis row, read from signal_processing_cache, emg_statistics and the analysis lineage. analytics_data is '
    'rebuilt for the current analysis without contractions/signal_processing/errors, {} otherwise. '
    'security_invoker: RLS applies. The only write is the cache-hit update (cache_hits, last_accessed_at).';

-- =================================================================================================================
-- Writes: the cache-hit update goes to signal_processing_cache; everything else is refused, naming the table
-- =================================================================================================================

CREATE OR REPLACE FUNCTION statsfirst_compat_analysis_results_write() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path FROM CURRENT
AS $$
DECLARE
    unchanged public.analysis_results_view;
    target text := format('%I.signal_processing_cache', current_schema());
BEGIN
    IF TG_OP = 'UPDATE' THEN
        unchanged := NEW;
        unchanged.cache_hits := OLD.cache_hits;
        unchanged.last_accessed_at := OLD.last_accessed_at;
        IF unchanged IS NOT DISTINCT FROM OLD THEN
            UPDATE signal_processing_cache
            SET hit_count = NEW.cache_hits, last_accessed_at = NEW.last_accessed_at
            WHERE id = OLD.id;
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'analysis_results_view is read-only except for the cache-hit update of cache_hits and '
                    'last_accessed_at (% refused)', TG_OP
        USING ERRCODE = 'feature_not_supported',
              HINT = format('write analyses to %s (and the session statistics to its sibling tables) instead',
                            target);
END
$$;
COMMENT ON FUNCTION statsfirst_compat_analysis_results_write() IS
    'INSTEAD OF trigger of public.analysis_results_view: an UPDATE that changes only cache_hits/last_accessed_at '
    'sets signal_processing_cache.hit_count/last_accessed_at; any other write raises, naming that table.';

CREATE OR REPLACE TRIGGER analysis_results_view_write
    INSTEAD OF INSERT OR UPDATE OR DELETE ON public.analysis_results_view
    FOR EACH ROW EXECUTE FUNCTION statsfirst_compat_analysis_results_write();
COMMENT ON TRIGGER analysis_results_view_write ON public.analysis_results_view IS
    'Maps the legacy cache-hit update to signal_processing_cache; refuses other writes with a clear error.';

CREATE OR REPLACE FUNCTION statsfirst_compat_c3d_metadata_write() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path FROM CURRENT
AS $$
BEGIN
    RAISE EXCEPTION 'c3d_metadata_view is read-only (% refused)', TG_OP
        USING ERRCODE = 'feature_not_supported',
              HINT = format('write sessions to %I.therapy_sessions instead (the migration does)', current_schema());
END
$$;
COMMENT ON FUNCTION statsfirst_compat_c3d_metadata_write() IS
    'INSTEAD OF trigger of public.c3d_metadata_view: refuses every write, naming therapy_sessions.';

CREATE OR REPLACE TRIGGER c3d_metadata_view_write
    INSTEAD OF INSERT OR UPDATE OR DELETE ON public.c3d_metadata_view
    FOR EACH ROW EXECUTE FUNCTION statsfirst_compat_c3d_metadata_write();
COMMENT ON TRIGGER c3d_metadata_view_write ON public.c3d_metadata_view IS
    'Refuses writes with a clear error naming therapy_sessions.';

-- =================================================================================================================
-- Privileges: the readers of the tables read the views; anon nothing
-- =================================================================================================================

REVOKE ALL ON public.c3d_metadata_view, public.analysis_results_view FROM PUBLIC, anon, authenticated;
GRANT SELECT ON public.c3d_metadata_view, public.analysis_results_view TO authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.c3d_metadata_view, public.analysis_results_view TO service_role;
-- trigger functions: EXECUTE is checked when the trigger is created, not when it fires
REVOKE ALL ON FUNCTION statsfirst_compat_analysis_results_write(), statsfirst_compat_c3d_metadata_write() FROM PUBLIC;
