-- All-SQL baseline: the migration of therapy_sessions, emg_statistics and performance_scores as a competent DBA
-- writes it, inside the database, set-based, in one transaction. Run with search_path = <target schema>, public
-- (unqualified names are the target tables; legacy tables are public.*). Follows mapping.md and the rules of
-- statsfirst's transform/ (current analysis, side assignment, target contractions, scoring), so it produces the
-- same rows for the sessions statsfirst migrates. Sessions whose data would violate a target CHECK or a mapping
-- rule are left out (no quarantine, no lineage); pending/processing sessions get their therapy_sessions row only.
--
-- Shape: the JSON is parsed once (jsonb_each + jsonb_to_record over each current analysis) into a typed temp
-- table of channels, the linked legacy settings are resolved once into another, each temp table is ANALYZEd, then
-- one INSERT ... SELECT per target table; performance_scores is aggregated from the freshly written
-- emg_statistics rows instead of parsing the JSON again.

-- A JSON value as float8 when it is a number; whether it is a number or null (absent counts as null).
-- Single-expression SQL functions: the planner inlines them.
CREATE FUNCTION pg_temp.num(j jsonb) RETURNS float8 LANGUAGE sql IMMUTABLE
AS $$ SELECT CASE WHEN jsonb_typeof(j) = 'number' THEN j::float8 END $$;
CREATE FUNCTION pg_temp.num_ok(j jsonb) RETURNS boolean LANGUAGE sql IMMUTABLE
AS $$ SELECT j IS NULL OR jsonb_typeof(j) IN ('number', 'null') $$;
CREATE FUNCTION pg_temp.obj_ok(j jsonb) RETURNS boolean LANGUAGE sql IMMUTABLE
AS $$ SELECT j IS NULL OR jsonb_typeof(j) IN ('object', 'null') $$;
-- a count: NULL, or a non-negative whole number
CREATE FUNCTION pg_temp.count_ok(x float8) RETURNS boolean LANGUAGE sql IMMUTABLE
AS $$ SELECT x IS NULL OR (x >= 0 AND x = trunc(x)) $$;
-- a <= b unless either is unknown
CREATE FUNCTION pg_temp.le(a float8, b float8) RETURNS boolean LANGUAGE sql IMMUTABLE
AS $$ SELECT a IS NULL OR b IS NULL OR a <= b $$;
CREATE FUNCTION pg_temp.nonneg(x float8) RETURNS boolean LANGUAGE sql IMMUTABLE
AS $$ SELECT x IS NULL OR x >= 0 $$;

-- 1. The current analysis of every session (newest non-empty analytics object), one row per channel, typed.
CREATE TEMP TABLE ch ON COMMIT DROP AS
WITH cur AS (
    SELECT DISTINCT ON (a.c3d_metadata_id)
           a.c3d_metadata_id AS session_id, a.processing_version, a.processing_time_ms, a.analytics_data
    FROM public.analysis_results a
    WHERE jsonb_typeof(a.analytics_data) = 'object' AND a.analytics_data <> '{}'::jsonb
    ORDER BY a.c3d_metadata_id, a.created_at DESC, a.id DESC
),
raw AS (
    SELECT cur.session_id, cur.processing_version, cur.processing_time_ms, e.key AS channel_name,
           jsonb_typeof(e.value) = 'object' AS is_object, r.*
    FROM cur
    CROSS JOIN LATERAL jsonb_each(cur.analytics_data) e
    LEFT JOIN LATERAL jsonb_to_record(CASE WHEN jsonb_typeof(e.value) = 'object' THEN e.value END) AS r(
        contraction_count jsonb, good_contraction_count jsonb, mvc_contraction_count jsonb,
        duration_contraction_count jsonb, avg_duration_ms jsonb, min_duration_ms jsonb, max_duration_ms jsonb,
        total_time_under_tension_ms jsonb, duration_threshold_actual_value jsonb, avg_amplitude jsonb,
        max_amplitude jsonb, rms jsonb, mav jsonb, mvc_threshold_actual_value jsonb, mpf jsonb, mdf jsonb,
        fatigue_index_fi_nsm5 jsonb, expected_contractions jsonb, mvc_estimation_method text,
        rms_temporal_stats jsonb, mav_temporal_stats jsonb, mpf_temporal_stats jsonb, mdf_temporal_stats jsonb,
        fatigue_index_temporal_stats jsonb, signal_processing jsonb) ON true
)
SELECT session_id, processing_version, processing_time_ms, channel_name,
       -- every field the mapping reads is a JSON number or null, every block an object or null
       is_object AND channel_name ~ '^CH[0-9]+$'
       AND pg_temp.num_ok(contraction_count) AND pg_temp.num_ok(good_contraction_count)
       AND pg_temp.num_ok(mvc_contraction_count) AND pg_temp.num_ok(duration_contraction_count)
       AND pg_temp.num_ok(avg_duration_ms) AND pg_temp.num_ok(min_duration_ms) AND pg_temp.num_ok(max_duration_ms)
       AND pg_temp.num_ok(total_time_under_tension_ms) AND pg_temp.num_ok(duration_threshold_actual_value)
       AND pg_temp.num_ok(avg_amplitude) AND pg_temp.num_ok(max_amplitude) AND pg_temp.num_ok(rms)
       AND pg_temp.num_ok(mav) AND pg_temp.num_ok(mvc_threshold_actual_value) AND pg_temp.num_ok(mpf)
       AND pg_temp.num_ok(mdf) AND pg_temp.num_ok(fatigue_index_fi_nsm5) AND pg_temp.num_ok(expected_contractions)
       AND pg_temp.obj_ok(rms_temporal_stats) AND pg_temp.obj_ok(mav_temporal_stats)
       AND pg_temp.obj_ok(mpf_temporal_stats) AND pg_temp.obj_ok(mdf_temporal_stats)
       AND pg_temp.obj_ok(fatigue_index_temporal_stats)
       AND pg_temp.num_ok(rms_temporal_stats -> 'mean_value') AND pg_temp.num_ok(rms_temporal_stats -> 'std_value')
       AND pg_temp.num_ok(mav_temporal_stats -> 'mean_value') AND pg_temp.num_ok(mav_temporal_stats -> 'std_value')
       AND pg_temp.num_ok(mpf_temporal_stats -> 'mean_value') AND pg_temp.num_ok(mpf_temporal_stats -> 'std_value')
       AND pg_temp.num_ok(mdf_temporal_stats -> 'mean_value') AND pg_temp.num_ok(mdf_temporal_stats -> 'std_value')
       AND pg_temp.num_ok(fatigue_index_temporal_stats -> 'mean_value')
       AND pg_temp.num_ok(fatigue_index_temporal_stats -> 'std_value') AS well_typed,
       pg_temp.num(contraction_count) AS total, pg_temp.num(good_contraction_count) AS good_both,
       pg_temp.num(mvc_contraction_count) AS good_intensity, pg_temp.num(duration_contraction_count) AS good_duration,
       pg_temp.num(avg_duration_ms) AS avg_duration_ms, pg_temp.num(min_duration_ms) AS min_duration_ms,
       pg_temp.num(max_duration_ms) AS max_duration_ms,
       pg_temp.num(total_time_under_tension_ms) AS total_time_under_tension_ms,
       pg_temp.num(duration_threshold_actual_value) AS duration_threshold_ms,
       pg_temp.num(avg_amplitude) AS avg_amplitude, pg_temp.num(max_amplitude) AS max_amplitude,
       pg_temp.num(rms) AS rms, pg_temp.num(mav) AS mav, pg_temp.num(mvc_threshold_actual_value) AS mvc_threshold,
       pg_temp.num(mpf) AS mpf, pg_temp.num(mdf) AS mdf, pg_temp.num(fatigue_index_fi_nsm5) AS fatigue_index,
       pg_temp.num(expected_contractions) AS expected_contractions, mvc_estimation_method,
       pg_temp.num(rms_temporal_stats -> 'mean_value') AS rms_mean,
       pg_temp.num(rms_temporal_stats -> 'std_value') AS rms_std,
       pg_temp.num(mav_temporal_stats -> 'mean_value') AS mav_mean,
       pg_temp.num(mav_temporal_stats -> 'std_value') AS mav_std,
       pg_temp.num(mpf_temporal_stats -> 'mean_value') AS mpf_mean,
       pg_temp.num(mpf_temporal_stats -> 'std_value') AS mpf_std,
       pg_temp.num(mdf_temporal_stats -> 'mean_value') AS mdf_mean,
       pg_temp.num(mdf_temporal_stats -> 'std_value') AS mdf_std,
       pg_temp.num(fatigue_index_temporal_stats -> 'mean_value') AS fatigue_index_mean,
       pg_temp.num(fatigue_index_temporal_stats -> 'std_value') AS fatigue_index_std,
       CASE WHEN jsonb_typeof(signal_processing -> 'processing_steps') = 'array'
            THEN (SELECT string_agg(step #>> '{}', ' -> ' ORDER BY n)
                  FROM jsonb_array_elements(signal_processing -> 'processing_steps') WITH ORDINALITY AS s(step, n))
       END AS processing_pipeline
FROM raw;
ANALYZE ch;

-- 2. The linked legacy session_settings row of each session (by legacy session code or by id as text; newest
--    updated_at wins), with the fields the three tables use, typed.
CREATE TEMP TABLE st ON COMMIT DROP AS
WITH candidates AS (
    SELECT c.id AS session_id, s.user_id, s.session_id AS settings_session_id, s.params, s.updated_at
    FROM public.c3d_metadata c JOIN public.session_settings s ON s.session_id = c.session_id
    UNION ALL
    SELECT c.id, s.user_id, s.session_id, s.params, s.updated_at
    FROM public.c3d_metadata c JOIN public.session_settings s
         ON s.session_id = c.id::text AND s.session_id IS DISTINCT FROM c.session_id
),
chosen AS (
    SELECT DISTINCT ON (session_id) session_id, params
    FROM candidates
    ORDER BY session_id, updated_at DESC NULLS LAST, user_id, settings_session_id
)
SELECT session_id,
       jsonb_typeof(params) = 'object'
       AND pg_temp.num_ok(params -> 'post_session_rpe')
       AND pg_temp.num_ok(params -> 'session_expected_contractions')
       AND pg_temp.num_ok(params -> 'session_expected_contractions_ch1')
       AND pg_temp.num_ok(params -> 'session_expected_contractions_ch2')
       AND pg_temp.obj_ok(params -> 'bfr_parameters') AND pg_temp.obj_ok(params -> 'channel_muscle_mapping')
       AND pg_temp.obj_ok(params #> '{bfr_parameters,left}') AND pg_temp.obj_ok(params #> '{bfr_parameters,right}')
       AND pg_temp.num_ok(params #> '{bfr_parameters,left,aop_measured}')
       AND pg_temp.num_ok(params #> '{bfr_parameters,left,applied_pressure}')
       AND pg_temp.num_ok(params #> '{bfr_parameters,left,percentage_aop}')
       AND pg_temp.num_ok(params #> '{bfr_parameters,left,application_time_minutes}')
       AND pg_temp.num_ok(params #> '{bfr_parameters,right,aop_measured}')
       AND pg_temp.num_ok(params #> '{bfr_parameters,right,applied_pressure}')
       AND pg_temp.num_ok(params #> '{bfr_parameters,right,percentage_aop}')
       AND pg_temp.num_ok(params #> '{bfr_parameters,right,application_time_minutes}')
       AND coalesce(jsonb_typeof(params #> '{channel_muscle_mapping,CH1}') IN ('string', 'null'), true)
       AND coalesce(jsonb_typeof(params #> '{channel_muscle_mapping,CH2}') IN ('string', 'null'), true)
           AS well_typed,
       pg_temp.num(params -> 'post_session_rpe') AS rpe,
       pg_temp.num(params -> 'session_expected_contractions') AS expected_total,
       pg_temp.num(params -> 'session_expected_contractions_ch1') AS expected_ch1,
       pg_temp.num(params -> 'session_expected_contractions_ch2') AS expected_ch2,
       lower(params #>> '{channel_muscle_mapping,CH1}') AS mapping_ch1,
       lower(params #>> '{channel_muscle_mapping,CH2}') AS mapping_ch2,
       pg_temp.num(params #> '{bfr_parameters,left,percentage_aop}') AS bfr_left,
       pg_temp.num(params #> '{bfr_parameters,right,percentage_aop}') AS bfr_right
FROM chosen;
ANALYZE st;

-- 3. Per channel: side, target, rates (mapping.md; weights 1/3 each); then the sessions that pass every check.
CREATE TEMP TABLE emg ON COMMIT DROP AS
WITH sided AS (
    SELECT ch.*, st.rpe, st.bfr_left, st.bfr_right,
           coalesce(
               CASE ch.channel_name
                   WHEN 'CH1' THEN CASE WHEN st.mapping_ch1 LIKE '%left%' THEN 'left'
                                        WHEN st.mapping_ch1 LIKE '%right%' THEN 'right' END
                   WHEN 'CH2' THEN CASE WHEN st.mapping_ch2 LIKE '%left%' THEN 'left'
                                        WHEN st.mapping_ch2 LIKE '%right%' THEN 'right' END
               END,
               CASE row_number() OVER (PARTITION BY ch.session_id ORDER BY ch.channel_name COLLATE "C")
                   WHEN 1 THEN 'left' WHEN 2 THEN 'right' END) AS side,
           -- the channel's linked target, else half the session's, else the analysis', else the default
           coalesce(CASE ch.channel_name WHEN 'CH1' THEN st.expected_ch1 WHEN 'CH2' THEN st.expected_ch2 END,
                    st.expected_total / 2.0, ch.expected_contractions, 12.0) AS target
    FROM ch LEFT JOIN st ON st.session_id = ch.session_id
),
rated AS (
    SELECT sided.*,
           least(total / target, 1.0) AS completion_rate,
           CASE WHEN total = 0 THEN 0.0 ELSE good_intensity / total END AS intensity_rate,
           CASE WHEN total = 0 THEN 0.0 ELSE good_duration / total END AS duration_rate
    FROM sided
)
SELECT rated.*,
       (1::float8 / 3) * completion_rate + (1::float8 / 3) * intensity_rate + (1::float8 / 3) * duration_rate
           AS compliance,
       well_typed
       AND pg_temp.count_ok(total) AND pg_temp.count_ok(good_both) AND pg_temp.count_ok(good_intensity)
       AND pg_temp.count_ok(good_duration)
       AND pg_temp.le(good_intensity, total) AND pg_temp.le(good_duration, total) AND pg_temp.le(good_both, total)
       AND pg_temp.le(good_both, good_intensity) AND pg_temp.le(good_both, good_duration)
       AND pg_temp.le(min_duration_ms, max_duration_ms)
       AND target > 0 AND target = trunc(target)
       AND pg_temp.nonneg(mvc_threshold)
       AND pg_temp.nonneg(rms) AND pg_temp.nonneg(mav) AND pg_temp.nonneg(mpf) AND pg_temp.nonneg(mdf)
       AND pg_temp.nonneg(rms_std) AND pg_temp.nonneg(mav_std) AND pg_temp.nonneg(mpf_std)
       AND pg_temp.nonneg(mdf_std) AND pg_temp.nonneg(fatigue_index_std)
       AND pg_temp.nonneg(avg_duration_ms) AND pg_temp.nonneg(min_duration_ms) AND pg_temp.nonneg(max_duration_ms)
       AND pg_temp.nonneg(total_time_under_tension_ms) AND pg_temp.nonneg(avg_amplitude)
       AND pg_temp.nonneg(max_amplitude) AND pg_temp.nonneg(processing_time_ms)
       AND (mvc_estimation_method IS NULL
            OR mvc_estimation_method IN ('backend_estimation', 'user_provided', 'global_provided')) AS valid
FROM rated;
ANALYZE emg;

CREATE TEMP TABLE held_back ON COMMIT DROP AS
SELECT session_id FROM (
SELECT session_id FROM emg GROUP BY session_id
HAVING NOT bool_and(valid) OR count(*) FILTER (WHERE side = 'left') > 1 OR count(*) FILTER (WHERE side = 'right') > 1
UNION
SELECT session_id FROM st
WHERE NOT well_typed OR NOT (rpe IS NULL OR (rpe BETWEEN 0 AND 10 AND rpe * 2 = trunc(rpe * 2)))
   OR NOT (bfr_left IS NULL OR bfr_left BETWEEN 0 AND 100) OR NOT (bfr_right IS NULL OR bfr_right BETWEEN 0 AND 100)
   OR expected_ch1 <= 0 OR expected_ch2 <= 0
) checked
-- a waiting session's analyses and settings are not looked at (it has no child rows yet)
WHERE NOT EXISTS (SELECT 1 FROM public.c3d_metadata w
                  WHERE w.id = checked.session_id AND w.processing_status IN ('pending', 'processing'));
ANALYZE held_back;

-- 4. therapy_sessions ← c3d_metadata
INSERT INTO therapy_sessions (
    id, file_path, file_hash, file_size_bytes, patient_id, therapist_id, session_code, session_date, session_type,
    protocol_day, original_sampling_rate, original_duration_seconds, original_sample_count, channel_names,
    channel_count, game_metadata, processing_version, processing_status, processing_time_ms, error_message,
    created_at, updated_at, processed_at)
SELECT c.id, c.file_path, c.file_hash, c.file_size_bytes, p.patient_code, t.id, c.session_id,
       coalesce(c.session_date, c.resolved_session_date) AT TIME ZONE 'UTC',
       CASE WHEN c.session_type IN ('baseline', 'training', 'assessment') THEN c.session_type END,
       NULL, nullif(c.sampling_rate, 0), nullif(c.duration_seconds, 0), nullif(c.frame_count, 0),
       CASE WHEN c.channel_names IN ('[]'::jsonb, 'null'::jsonb) THEN NULL ELSE c.channel_names END,
       nullif(c.channel_count, 0), c.game_metadata,
       coalesce(newest.processing_version, c.processing_version, 'unknown'), c.processing_status,
       cur.processing_time_ms, c.error_message, c.created_at, c.updated_at, c.processed_at
FROM public.c3d_metadata c
LEFT JOIN (SELECT DISTINCT session_id, processing_version, processing_time_ms FROM ch) cur ON cur.session_id = c.id
-- processing_version: the newest analysis row's, even when its analytics_data is {}
LEFT JOIN (SELECT DISTINCT ON (c3d_metadata_id) c3d_metadata_id AS session_id, processing_version
           FROM public.analysis_results ORDER BY c3d_metadata_id, created_at DESC, id DESC) newest
       ON newest.session_id = c.id
LEFT JOIN public.patients p ON p.patient_code = coalesce(
    statsfirst.clean_legacy_ref(c.resolved_patient_id),
    statsfirst.clean_legacy_ref(c.patient_id))
LEFT JOIN public.therapists t ON t.id::text = lower(coalesce(
    statsfirst.clean_legacy_ref(c.therapist_id),
    statsfirst.clean_legacy_ref(c.resolved_therapist_id)))
WHERE c.file_hash ~ '^[0-9a-f]{64}$' AND c.file_size_bytes >= 0
  AND NOT EXISTS (SELECT 1 FROM held_back h WHERE h.session_id = c.id);

-- 5. emg_statistics ← the typed channels of the migrated sessions
INSERT INTO emg_statistics (
    session_id, channel_name, side, mvc_peak_value, mvc_calculation_method, total_contractions,
    good_contractions_intensity, good_contractions_duration, good_contractions_both, completion_rate, intensity_rate,
    duration_rate, muscle_compliance_score, rms, mav, mpf, mdf, fatigue_index, rms_mean, rms_std, mav_mean, mav_std,
    mpf_mean, mpf_std, mdf_mean, mdf_std, fatigue_index_mean, fatigue_index_std, avg_duration_ms, min_duration_ms,
    max_duration_ms, total_time_under_tension_ms, avg_amplitude, max_amplitude, processing_pipeline,
    processing_version, processing_time_ms, mvc_threshold_percentage, duration_threshold_seconds, processed_at)
SELECT e.session_id, e.channel_name, e.side, e.mvc_threshold / 0.75,
       CASE e.mvc_estimation_method WHEN 'backend_estimation' THEN 'backend_95percentile'
                                    WHEN 'user_provided' THEN 'user_defined'
                                    WHEN 'global_provided' THEN 'user_defined' END,
       e.total, e.good_intensity, e.good_duration, e.good_both, e.completion_rate, e.intensity_rate, e.duration_rate,
       e.compliance, e.rms, e.mav, e.mpf, e.mdf, e.fatigue_index, e.rms_mean, e.rms_std, e.mav_mean, e.mav_std,
       e.mpf_mean, e.mpf_std, e.mdf_mean, e.mdf_std, e.fatigue_index_mean, e.fatigue_index_std, e.avg_duration_ms,
       e.min_duration_ms, e.max_duration_ms, e.total_time_under_tension_ms, e.avg_amplitude, e.max_amplitude,
       e.processing_pipeline, e.processing_version, e.processing_time_ms, 0.75,
       coalesce(e.duration_threshold_ms / 1000.0, 2.0), s.processed_at
FROM emg e JOIN therapy_sessions s ON s.id = e.session_id
WHERE s.processing_status NOT IN ('pending', 'processing');

-- 6. performance_scores ← the emg_statistics rows just written, the linked RPE and BFR pressures
INSERT INTO performance_scores (
    session_id, overall_performance_score, compliance_score, symmetry_score, effort_score, game_score,
    performance_weights, bfr_pressure_aop, bfr_compliance_gate, rpe_post_session, game_points_achieved,
    game_points_maximum, session_duration_minutes, left_muscle_completion_rate, left_muscle_intensity_rate,
    left_muscle_duration_rate, right_muscle_completion_rate, right_muscle_intensity_rate, right_muscle_duration_rate,
    missing_components, scoring_version)
WITH sides AS (
    SELECT session_id,
           max(muscle_compliance_score) FILTER (WHERE side = 'left') AS l,
           max(muscle_compliance_score) FILTER (WHERE side = 'right') AS r,
           max(completion_rate) FILTER (WHERE side = 'left') AS l_comp,
           max(intensity_rate) FILTER (WHERE side = 'left') AS l_int,
           max(duration_rate) FILTER (WHERE side = 'left') AS l_dur,
           max(completion_rate) FILTER (WHERE side = 'right') AS r_comp,
           max(intensity_rate) FILTER (WHERE side = 'right') AS r_int,
           max(duration_rate) FILTER (WHERE side = 'right') AS r_dur
    FROM emg_statistics GROUP BY session_id
),
inputs AS (
    SELECT sides.*, st.rpe,
           -- C_BFR over the recorded sides: NULL without a record, 1 when every recorded side is in [45, 55]
           CASE WHEN st.bfr_left IS NULL AND st.bfr_right IS NULL THEN NULL
                WHEN coalesce(st.bfr_left BETWEEN 45 AND 55, true) AND coalesce(st.bfr_right BETWEEN 45 AND 55, true)
                THEN 1.0 ELSE 0.0 END AS gate,
           CASE WHEN st.bfr_left IS NULL THEN st.bfr_right WHEN st.bfr_right IS NULL THEN st.bfr_left
                ELSE (st.bfr_left + st.bfr_right) / 2 END AS bfr_pressure,
           CASE WHEN jsonb_typeof(c.game_metadata) = 'object'
                THEN (c.game_metadata ->> 'game_points_achieved')::float8 END AS points,
           CASE WHEN jsonb_typeof(c.game_metadata) = 'object'
                THEN (c.game_metadata ->> 'game_points_maximum')::float8 END AS points_max,
           nullif(c.duration_seconds, 0) / 60.0 AS duration_minutes
    FROM sides
    JOIN public.c3d_metadata c ON c.id = sides.session_id
    LEFT JOIN st ON st.session_id = sides.session_id
),
scored AS (
    SELECT inputs.*,
           100.0 * (l + r) / 2.0 * coalesce(gate, 1.0) AS compliance_score,
           CASE WHEN l + r > 0 THEN 100.0 * (1.0 - abs(l - r) / (l + r)) END AS symmetry_score,
           CASE WHEN rpe IS NULL THEN NULL
                WHEN rpe >= 4 AND rpe <= 6 THEN 100.0
                WHEN (rpe >= 3 AND rpe < 4) OR (rpe > 6 AND rpe <= 7) THEN 80.0
                WHEN (rpe >= 2 AND rpe < 3) OR (rpe > 7 AND rpe <= 8) THEN 60.0
                ELSE 20.0 END AS effort_score,
           CASE WHEN points_max > 0 THEN 100.0 * points / points_max END AS game_score
    FROM inputs
)
SELECT session_id,
       -- the migration's recorded default weights 0.50/0.25/0.25/0.00: the zero-weight game is not needed
       CASE WHEN compliance_score IS NOT NULL AND symmetry_score IS NOT NULL AND effort_score IS NOT NULL
            THEN (0.0 + 0.5 * compliance_score + 0.25 * symmetry_score + 0.25 * effort_score)
                 * coalesce(gate, 1.0) END,
       compliance_score, symmetry_score, effort_score, game_score,
       '{"compliance": 0.5, "symmetry": 0.25, "effort": 0.25, "game": 0.0}'::jsonb, bfr_pressure, gate, rpe,
       points, points_max, duration_minutes, l_comp, l_int, l_dur, r_comp, r_int, r_dur,
       array_remove(ARRAY[CASE WHEN compliance_score IS NULL THEN 'compliance' END,
                          CASE WHEN symmetry_score IS NULL THEN 'symmetry' END,
                          CASE WHEN effort_score IS NULL THEN 'effort' END,
                          CASE WHEN gate IS NULL THEN 'bfr_gate' END], NULL),
       'metricsDefinitions-2025-08-12/statsfirst-1'
FROM scored;
