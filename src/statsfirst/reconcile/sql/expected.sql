-- Reconciliation, part 2: what the eight target tables should hold, recomputed from the legacy tables alone.
--
-- One rc_exp_<table> per target table, with the key clinical columns in the same order and types as the
-- rc_act_<table> of actual.sql (numbers as float8, times as timestamptz). Only sessions that should be migrated
-- count: in scope, not held in an open quarantine entry. A session still pending/processing in legacy (`waiting`)
-- has its therapy_sessions row and a cache row per analysis, but no other child rows yet (mapping.md "Every legacy
-- row has a home"). Every formula mirrors mapping.md as
-- the pipeline implements it (src/statsfirst/transform/); the comments name the rule.

-- name: expected_sessions
-- The sessions that should be in the target (the legacy c3d_metadata rows they come from); a session that
-- arrived or changed after the last completed run is picked up by the next run, so it is not compared.
CREATE TEMP TABLE rc_expected ON COMMIT DROP AS
SELECT a.session_id, a.patient_code, c.session_id AS legacy_session_code, c.processing_version AS c3d_version,
       c.processed_at, c.duration_seconds, c.sampling_rate, c.game_metadata, a.waiting
FROM rc_accounting a
JOIN public.c3d_metadata c ON c.id = a.session_id
WHERE NOT a.in_quarantine AND a.state <> 'arrived_since_last_run';
CREATE UNIQUE INDEX ON rc_expected (session_id);

-- name: current_analysis
-- "Current" analysis: the newest analysis_results row whose analytics_data is a non-empty object
-- (created_at DESC, id DESC). Ids only: the (large) analytics_data is read once more, where it is taken apart.
CREATE TEMP TABLE rc_current ON COMMIT DROP AS
SELECT DISTINCT ON (a.c3d_metadata_id)
       a.c3d_metadata_id AS session_id, a.id AS analysis_id, a.processing_version, a.processing_time_ms
FROM public.analysis_results a
JOIN rc_expected e ON e.session_id = a.c3d_metadata_id
WHERE jsonb_typeof(a.analytics_data) = 'object' AND a.analytics_data <> '{}'::jsonb
ORDER BY a.c3d_metadata_id, a.created_at DESC, a.id DESC;
CREATE UNIQUE INDEX ON rc_current (analysis_id);

-- name: newest_analysis_version
-- therapy_sessions.processing_version: the newest analysis row's version (created_at DESC, id DESC), whatever its
-- analytics_data holds (a `{}` analysis was still written by that version).
CREATE TEMP TABLE rc_newest_version ON COMMIT DROP AS
SELECT DISTINCT ON (a.c3d_metadata_id) a.c3d_metadata_id AS session_id, a.processing_version
FROM public.analysis_results a
JOIN rc_expected e ON e.session_id = a.c3d_metadata_id
ORDER BY a.c3d_metadata_id, a.created_at DESC, a.id DESC;
CREATE UNIQUE INDEX ON rc_newest_version (session_id);

-- name: linked_settings
-- The legacy session_settings row linked to a session: its session_id equals the legacy session_id or the
-- session's id as text; among several, the newest updated_at.
CREATE TEMP TABLE rc_settings ON COMMIT DROP AS
WITH candidates AS (
    SELECT e.session_id, s.params, s.updated_at, s.user_id, s.session_id AS settings_session_id
    FROM rc_expected e JOIN public.session_settings s ON s.session_id = e.legacy_session_code
    WHERE NOT e.waiting
    UNION
    SELECT e.session_id, s.params, s.updated_at, s.user_id, s.session_id
    FROM rc_expected e JOIN public.session_settings s ON s.session_id = e.session_id::text
    WHERE NOT e.waiting
)
SELECT DISTINCT ON (session_id) session_id, params
FROM candidates
ORDER BY session_id, updated_at DESC NULLS LAST, user_id::text COLLATE "C", settings_session_id COLLATE "C";

-- name: no_linked_settings
-- A legacy database without the session_settings table links nothing.
CREATE TEMP TABLE rc_settings (session_id uuid, params jsonb) ON COMMIT DROP;

-- name: settings_fields
-- The parts of the linked params the mapping uses, in the real app's units (percent, milliseconds, counts for
-- both muscles together); the per-channel maps stay JSON objects, looked up by channel key.
CREATE TEMP TABLE rc_linked ON COMMIT DROP AS
SELECT session_id,
       pg_temp.rc_number(params -> 'post_session_rpe') AS rpe,
       pg_temp.rc_number(params -> 'session_expected_contractions_ch1') AS expected_ch1,
       pg_temp.rc_number(params -> 'session_expected_contractions_ch2') AS expected_ch2,
       pg_temp.rc_number(params -> 'session_expected_contractions') AS expected_total,
       pg_temp.rc_number(params -> 'session_mvc_threshold_percentage') AS mvc_threshold_pct,
       pg_temp.rc_number(params -> 'contraction_duration_threshold') AS duration_threshold_ms,
       pg_temp.rc_number(params -> 'session_mvc_value') AS mvc_value,
       CASE WHEN jsonb_typeof(params -> 'session_mvc_values') = 'object'
            THEN params -> 'session_mvc_values' END AS mvc_values,
       CASE WHEN jsonb_typeof(params -> 'session_mvc_threshold_percentages') = 'object'
            THEN params -> 'session_mvc_threshold_percentages' END AS threshold_pcts,
       params #>> '{channel_muscle_mapping,CH1}' AS mapping_ch1,
       params #>> '{channel_muscle_mapping,CH2}' AS mapping_ch2,
       CASE WHEN jsonb_typeof(params -> 'channel_muscle_mapping') = 'object'
            THEN jsonb_build_object('CH1', params #> '{channel_muscle_mapping,CH1}',
                                    'CH2', params #> '{channel_muscle_mapping,CH2}') END AS channel_muscle_mapping,
       params -> 'bfr_parameters' AS bfr
FROM rc_settings;
CREATE UNIQUE INDEX ON rc_linked (session_id);

-- name: channels
-- One row per channel key of the current analysis, with every field the mapping reads taken out in one pass
-- (jsonb_to_record picks the keys as jsonb, so a wrongly typed value is seen, never cast); later steps read plain
-- columns. Not for a session still pending/processing: it gets no emg_statistics/processing_parameters yet.
CREATE TEMP TABLE rc_channel ON COMMIT DROP AS
SELECT cur.session_id, cur.analysis_id, ch.key AS channel_name,
       cur.processing_version, cur.processing_time_ms,
       pg_temp.rc_number(f.contraction_count) AS total,
       pg_temp.rc_number(f.mvc_contraction_count) AS good_intensity,
       pg_temp.rc_number(f.duration_contraction_count) AS good_duration,
       pg_temp.rc_number(f.good_contraction_count) AS good_both,
       pg_temp.rc_number(f.duration_threshold_actual_value) AS duration_threshold_ms,
       pg_temp.rc_number(f.mvc_threshold_actual_value) AS mvc_threshold_value,
       pg_temp.rc_number(f.expected_contractions) AS expected_contractions,
       f.mvc_estimation_method #>> '{}' AS mvc_estimation_method,
       pg_temp.rc_number(f.rms) AS rms,
       pg_temp.rc_number(f.mav) AS mav,
       pg_temp.rc_number(f.mpf) AS mpf,
       pg_temp.rc_number(f.mdf) AS mdf,
       pg_temp.rc_number(f.fatigue_index_fi_nsm5) AS fatigue_index,
       pg_temp.rc_number(f.rms_temporal_stats -> 'mean_value') AS rms_mean,
       pg_temp.rc_number(f.rms_temporal_stats -> 'std_value') AS rms_std,
       pg_temp.rc_number(f.mav_temporal_stats -> 'mean_value') AS mav_mean,
       pg_temp.rc_number(f.mav_temporal_stats -> 'std_value') AS mav_std,
       pg_temp.rc_number(f.mpf_temporal_stats -> 'mean_value') AS mpf_mean,
       pg_temp.rc_number(f.mpf_temporal_stats -> 'std_value') AS mpf_std,
       pg_temp.rc_number(f.mdf_temporal_stats -> 'mean_value') AS mdf_mean,
       pg_temp.rc_number(f.mdf_temporal_stats -> 'std_value') AS mdf_std,
       pg_temp.rc_number(f.fatigue_index_temporal_stats -> 'mean_value') AS fatigue_index_mean,
       pg_temp.rc_number(f.fatigue_index_temporal_stats -> 'std_value') AS fatigue_index_std,
       pg_temp.rc_number(f.avg_duration_ms) AS avg_duration_ms,
       pg_temp.rc_number(f.min_duration_ms) AS min_duration_ms,
       pg_temp.rc_number(f.max_duration_ms) AS max_duration_ms,
       pg_temp.rc_number(f.total_time_under_tension_ms) AS total_time_under_tension_ms,
       pg_temp.rc_number(f.avg_amplitude) AS avg_amplitude,
       pg_temp.rc_number(f.max_amplitude) AS max_amplitude,
       CASE WHEN jsonb_typeof(f.signal_processing -> 'processing_steps') = 'array'
            THEN (SELECT string_agg(step #>> '{}', ' -> ' ORDER BY n)
                  FROM jsonb_array_elements(f.signal_processing -> 'processing_steps')
                       WITH ORDINALITY AS steps(step, n)) END AS processing_pipeline,
       CASE WHEN jsonb_typeof(f.signal_processing -> 'parameters_used') = 'object'
            THEN f.signal_processing -> 'parameters_used' END AS parameters_used
FROM rc_current cur
JOIN rc_expected e ON e.session_id = cur.session_id AND NOT e.waiting
JOIN public.analysis_results a ON a.id = cur.analysis_id
CROSS JOIN LATERAL jsonb_each(a.analytics_data) ch
LEFT JOIN LATERAL jsonb_to_record(CASE WHEN jsonb_typeof(ch.value) = 'object' THEN ch.value END) AS f(
    contraction_count jsonb, mvc_contraction_count jsonb, duration_contraction_count jsonb,
    good_contraction_count jsonb, duration_threshold_actual_value jsonb, mvc_threshold_actual_value jsonb,
    expected_contractions jsonb, mvc_estimation_method jsonb, rms jsonb, mav jsonb, mpf jsonb, mdf jsonb,
    fatigue_index_fi_nsm5 jsonb, rms_temporal_stats jsonb, mav_temporal_stats jsonb, mpf_temporal_stats jsonb,
    mdf_temporal_stats jsonb, fatigue_index_temporal_stats jsonb, avg_duration_ms jsonb, min_duration_ms jsonb,
    max_duration_ms jsonb, total_time_under_tension_ms jsonb, avg_amplitude jsonb, max_amplitude jsonb,
    signal_processing jsonb
) ON true;

-- name: channel_positions
-- The rank of each channel key in sorted (byte) order: 0 = first = left, 1 = right by the legacy convention.
CREATE TEMP TABLE rc_position ON COMMIT DROP AS
SELECT session_id, channel_name,
       (row_number() OVER (PARTITION BY session_id ORDER BY channel_name COLLATE "C") - 1)::int AS position
FROM rc_channel;

-- Division by a constant is written x * (1 / c): polars computes it so, and the checksums compare bits.

-- name: exp_therapy_sessions
-- therapy_sessions <- c3d_metadata: legacy 0 / [] mean unknown -> NULL; patient_id a registered code or NULL;
-- naive legacy timestamps are UTC; processing_version from the newest analysis row (even an empty one), else the
-- c3d_metadata row, else 'unknown'.
CREATE TEMP TABLE rc_exp_therapy_sessions ON COMMIT DROP AS
SELECT c.id AS session_id,
       c.file_path,
       c.file_hash,
       c.file_size_bytes::float8 AS file_size_bytes,
       e.patient_code AS patient_id,
       th.id AS therapist_id,
       c.session_id AS session_code,
       coalesce(c.session_date, c.resolved_session_date) AT TIME ZONE 'UTC' AS session_date,
       CASE WHEN c.session_type IN ('baseline', 'training', 'assessment') THEN c.session_type END AS session_type,
       nullif(c.sampling_rate, 0)::float8 AS original_sampling_rate,
       nullif(c.duration_seconds, 0)::float8 AS original_duration_seconds,
       nullif(c.frame_count, 0)::float8 AS original_sample_count,
       CASE WHEN c.channel_names IN ('[]'::jsonb, 'null'::jsonb) THEN NULL ELSE c.channel_names END AS channel_names,
       nullif(c.channel_count, 0)::float8 AS channel_count,
       coalesce(nv.processing_version, c.processing_version, 'unknown') AS processing_version,
       c.processing_status,
       cur.processing_time_ms::float8 AS processing_time_ms,
       c.error_message,
       c.created_at,
       c.processed_at
FROM rc_expected e
JOIN public.c3d_metadata c ON c.id = e.session_id
LEFT JOIN rc_current cur ON cur.session_id = e.session_id
LEFT JOIN rc_newest_version nv ON nv.session_id = e.session_id
LEFT JOIN public.therapists th
       ON th.id::text = lower(coalesce(statsfirst.clean_legacy_ref(c.therapist_id), statsfirst.clean_legacy_ref(c.resolved_therapist_id)));

-- name: exp_emg_statistics
-- emg_statistics <- the current analysis' analytics_data.<channel>. Side: a linked channel_muscle_mapping naming
-- Left/Right, else first key = left, second = right. T = the linked session_expected_contractions_ch1/_ch2 of the
-- channel, else session_expected_contractions / 2, else the analysis' expected_contractions, else the default.
-- MVC threshold: the channel's session_mvc_threshold_percentages entry, else session_mvc_threshold_percentage
-- (percent / 100), else the default; duration threshold: the analysis' value, else contraction_duration_threshold
-- (both ms / 1000), else the default. mvc_peak_value = mvc_threshold_actual_value / the threshold in force.
-- R_comp = min(total / T, 1); R_int, R_dur = good / total (0 when total = 0); S_comp = the weighted sum.
CREATE TEMP TABLE rc_exp_emg_statistics ON COMMIT DROP AS
WITH fields AS (
    SELECT ch.*, p.position,
           coalesce(CASE ch.channel_name WHEN 'CH1' THEN l.expected_ch1 WHEN 'CH2' THEN l.expected_ch2 END,
                    l.expected_total * (1::float8 / 2),
                    ch.expected_contractions,
                    %(default_target_contractions)s) AS target_contractions,
           coalesce(pg_temp.rc_number(l.threshold_pcts -> ch.channel_name) * (1::float8 / 100),
                    l.mvc_threshold_pct * (1::float8 / 100),
                    %(default_mvc_threshold)s) AS mvc_threshold_percentage,
           coalesce(ch.duration_threshold_ms * (1::float8 / 1000),
                    l.duration_threshold_ms * (1::float8 / 1000),
                    %(default_duration_threshold_s)s) AS duration_threshold_seconds,
           coalesce(CASE ch.channel_name WHEN 'CH1' THEN pg_temp.rc_side_named(l.mapping_ch1)
                                         WHEN 'CH2' THEN pg_temp.rc_side_named(l.mapping_ch2) END,
                    CASE p.position WHEN 0 THEN 'left' WHEN 1 THEN 'right' END) AS side
    FROM rc_channel ch
    JOIN rc_position p ON p.session_id = ch.session_id AND p.channel_name = ch.channel_name
    LEFT JOIN rc_linked l ON l.session_id = ch.session_id
),
rates AS (
    SELECT f.*,
           -- least() skips NULLs: guard so a missing count or target stays NULL (as in transform/scoring.py)
           CASE WHEN f.total IS NOT NULL AND f.target_contractions > 0
                THEN least(f.total * (1::float8 / f.target_contractions), 1.0::float8) END AS completion_rate,
           CASE WHEN f.total = 0 THEN 0.0::float8 ELSE f.good_intensity / nullif(f.total, 0) END AS intensity_rate,
           CASE WHEN f.total = 0 THEN 0.0::float8 ELSE f.good_duration / nullif(f.total, 0) END AS duration_rate
    FROM fields f
)
SELECT r.session_id,
       r.channel_name,
       r.side,
       r.mvc_threshold_value * (1::float8 / r.mvc_threshold_percentage) AS mvc_peak_value,
       NULL::float8 AS mvc_rms_value,
       NULL::float8 AS mvc_confidence_score,
       CASE r.mvc_estimation_method
           WHEN 'backend_estimation' THEN 'backend_95percentile'
           WHEN 'user_provided' THEN 'user_defined'
           WHEN 'global_provided' THEN 'user_defined'
       END AS mvc_calculation_method,
       r.total AS total_contractions,
       r.good_intensity AS good_contractions_intensity,
       r.good_duration AS good_contractions_duration,
       r.good_both AS good_contractions_both,
       r.completion_rate,
       r.intensity_rate,
       r.duration_rate,
       %(w_completion)s * r.completion_rate + %(w_intensity)s * r.intensity_rate + %(w_duration)s * r.duration_rate
           AS muscle_compliance_score,
       NULL::float8 AS signal_quality_score,
       NULL::float8 AS noise_level_db,
       NULL::float8 AS artifacts_detected,
       NULL::float8 AS processing_confidence,
       r.rms, r.mav, r.mpf, r.mdf, r.fatigue_index,
       r.rms_mean, r.rms_std, r.mav_mean, r.mav_std, r.mpf_mean, r.mpf_std, r.mdf_mean, r.mdf_std,
       r.fatigue_index_mean, r.fatigue_index_std,
       r.avg_duration_ms, r.min_duration_ms, r.max_duration_ms, r.total_time_under_tension_ms,
       r.avg_amplitude, r.max_amplitude,
       r.processing_pipeline,
       r.processing_version,
       r.processing_time_ms::float8 AS processing_time_ms,
       r.mvc_threshold_percentage,
       r.duration_threshold_seconds,
       e.processed_at
FROM rates r
JOIN rc_expected e ON e.session_id = r.session_id;

-- name: exp_bfr_monitoring
-- bfr_monitoring <- the linked params' bfr_parameters: one row per side with a percentage_aop;
-- safety gate = actual within [45, 55] percent AOP; target: the configured default (50 percent AOP).
CREATE TEMP TABLE rc_exp_bfr_monitoring ON COMMIT DROP AS
SELECT l.session_id,
       s.side,
       %(default_bfr_target_aop)s AS target_pressure_aop,
       pg_temp.rc_number(l.bfr #> ARRAY[s.side, 'percentage_aop']) AS actual_pressure_aop,
       pg_temp.rc_number(l.bfr #> ARRAY[s.side, 'aop_measured']) AS patient_aop_baseline_mmhg,
       pg_temp.rc_number(l.bfr #> ARRAY[s.side, 'applied_pressure']) AS applied_pressure_mmhg,
       pg_temp.rc_number(l.bfr #> ARRAY[s.side, 'application_time_minutes']) AS bfr_session_duration_minutes,
       pg_temp.rc_number(l.bfr #> ARRAY[s.side, 'percentage_aop']) BETWEEN 45 AND 55 AS safety_gate_status,
       'legacy_session_settings'::text AS source
FROM rc_linked l
CROSS JOIN (VALUES ('left'), ('right')) AS s(side)
WHERE pg_temp.rc_number(l.bfr #> ARRAY[s.side, 'percentage_aop']) IS NOT NULL;

-- name: exp_performance_scores
-- performance_scores, one row per session with emg_statistics (metricsDefinitions as recomputed in mapping.md):
-- compliance = 100 (L + R) / 2 C_BFR; symmetry = 100 (1 - |L - R| / (L + R)); effort from RPE bands;
-- game = 100 points / maximum; C_BFR = 1 when every recorded side is within [45, 55], 0 otherwise, NULL (not
-- applied) without a BFR record; overall = (sum of w x S) C_BFR only when every non-zero-weight component exists.
CREATE TEMP TABLE rc_exp_performance_scores ON COMMIT DROP AS
WITH sides AS (
    SELECT session_id,
           max(muscle_compliance_score) FILTER (WHERE side = 'left') AS l,
           max(muscle_compliance_score) FILTER (WHERE side = 'right') AS r,
           max(completion_rate) FILTER (WHERE side = 'left') AS left_completion,
           max(intensity_rate) FILTER (WHERE side = 'left') AS left_intensity,
           max(duration_rate) FILTER (WHERE side = 'left') AS left_duration,
           max(completion_rate) FILTER (WHERE side = 'right') AS right_completion,
           max(intensity_rate) FILTER (WHERE side = 'right') AS right_intensity,
           max(duration_rate) FILTER (WHERE side = 'right') AS right_duration
    FROM rc_exp_emg_statistics
    GROUP BY session_id
),
bfr AS (
    SELECT session_id, count(*) AS sides_recorded, count(*) FILTER (WHERE safety_gate_status) AS sides_in_range,
           avg(actual_pressure_aop) AS pressure
    FROM rc_exp_bfr_monitoring
    GROUP BY session_id
),
inputs AS (
    SELECT s.*, b.pressure,
           CASE WHEN coalesce(b.sides_recorded, 0) = 0 THEN NULL
                WHEN b.sides_in_range = b.sides_recorded THEN 1.0::float8 ELSE 0.0::float8 END AS gate,
           l.rpe,
           CASE WHEN jsonb_typeof(e.game_metadata) = 'object'
                THEN pg_temp.rc_text_number(e.game_metadata ->> 'game_points_achieved') END AS points,
           CASE WHEN jsonb_typeof(e.game_metadata) = 'object'
                THEN pg_temp.rc_text_number(e.game_metadata ->> 'game_points_maximum') END AS maximum,
           nullif(e.duration_seconds, 0) AS duration_seconds
    FROM sides s
    JOIN rc_expected e ON e.session_id = s.session_id
    LEFT JOIN bfr b ON b.session_id = s.session_id
    LEFT JOIN rc_linked l ON l.session_id = s.session_id
),
scores AS (
    SELECT i.*,
           100.0::float8 * (i.l + i.r) / 2.0::float8 * coalesce(i.gate, 1.0::float8) AS compliance,
           CASE WHEN i.l + i.r > 0 THEN 100.0::float8 * (1.0::float8 - abs(i.l - i.r) / (i.l + i.r)) END AS symmetry,
           CASE WHEN i.rpe IS NULL THEN NULL
                WHEN i.rpe >= 4 AND i.rpe <= 6 THEN 100.0::float8
                WHEN (i.rpe >= 3 AND i.rpe < 4) OR (i.rpe > 6 AND i.rpe <= 7) THEN 80.0::float8
                WHEN (i.rpe >= 2 AND i.rpe < 3) OR (i.rpe > 7 AND i.rpe <= 8) THEN 60.0::float8
                ELSE 20.0::float8 END AS effort,
           CASE WHEN i.maximum > 0 THEN 100.0::float8 * i.points / i.maximum END AS game
    FROM inputs i
)
SELECT s.session_id,
       CASE WHEN (%(w_compliance)s = 0 OR s.compliance IS NOT NULL) AND (%(w_symmetry)s = 0 OR s.symmetry IS NOT NULL)
                 AND (%(w_effort)s = 0 OR s.effort IS NOT NULL) AND (%(w_game)s = 0 OR s.game IS NOT NULL)
            THEN (0.0::float8 + %(w_compliance)s * coalesce(s.compliance, 0.0::float8)
                  + %(w_symmetry)s * coalesce(s.symmetry, 0.0::float8)
                  + %(w_effort)s * coalesce(s.effort, 0.0::float8)
                  + %(w_game)s * coalesce(s.game, 0.0::float8)) * coalesce(s.gate, 1.0::float8)
       END AS overall_performance_score,
       s.compliance AS compliance_score,
       s.symmetry AS symmetry_score,
       s.effort AS effort_score,
       s.game AS game_score,
       %(w_compliance)s AS weight_compliance,
       %(w_symmetry)s AS weight_symmetry,
       %(w_effort)s AS weight_effort,
       %(w_game)s AS weight_game,
       s.pressure AS bfr_pressure_aop,
       s.gate AS bfr_compliance_gate,
       s.rpe AS rpe_post_session,
       s.duration_seconds * (1::float8 / 60) AS session_duration_minutes,
       s.left_completion AS left_muscle_completion_rate,
       s.left_intensity AS left_muscle_intensity_rate,
       s.left_duration AS left_muscle_duration_rate,
       s.right_completion AS right_muscle_completion_rate,
       s.right_intensity AS right_muscle_intensity_rate,
       s.right_duration AS right_muscle_duration_rate,
       array_remove(ARRAY[
           CASE WHEN %(w_compliance)s <> 0 AND s.compliance IS NULL THEN 'compliance' END,
           CASE WHEN %(w_symmetry)s <> 0 AND s.symmetry IS NULL THEN 'symmetry' END,
           CASE WHEN %(w_effort)s <> 0 AND s.effort IS NULL THEN 'effort' END,
           CASE WHEN %(w_game)s <> 0 AND s.game IS NULL THEN 'game' END,
           CASE WHEN s.gate IS NULL THEN 'bfr_gate' END], NULL)::text[] AS missing_components
FROM scores s;

-- name: exp_session_settings
-- session_settings, one row per session (not yet for one still pending/processing): the linked legacy params where present ('legacy'), else the configured
-- defaults ('default'); per-side targets follow the muscle mapping (CH1 mapped right swaps them). Units converted:
-- session_mvc_threshold_percentage percent / 100, contraction_duration_threshold ms / 1000; the per-muscle target
-- is session_expected_contractions / 2 (both muscles together), else the default. The MVC method is what the
-- current analysis says (its first channel in key order that states one), else backend_95percentile.
CREATE TEMP TABLE rc_exp_session_settings ON COMMIT DROP AS
SELECT e.session_id,
       coalesce(m.mvc_calculation_method, 'backend_95percentile') AS mvc_calculation_method,
       coalesce(l.mvc_threshold_pct * (1::float8 / 100), %(default_mvc_threshold)s) AS mvc_threshold_percentage,
       %(w_compliance)s AS weight_compliance,
       %(w_symmetry)s AS weight_symmetry,
       %(w_effort)s AS weight_effort,
       %(w_game)s AS weight_game,
       coalesce(l.duration_threshold_ms * (1::float8 / 1000), %(default_duration_threshold_s)s)
           AS duration_threshold_seconds,
       coalesce(l.expected_total * (1::float8 / 2), %(default_target_contractions)s) AS target_contractions_per_muscle,
       CASE WHEN coalesce(lower(l.mapping_ch1) LIKE '%%right%%', false) THEN l.expected_ch2 ELSE l.expected_ch1 END
           AS target_contractions_left,
       CASE WHEN coalesce(lower(l.mapping_ch1) LIKE '%%right%%', false) THEN l.expected_ch1 ELSE l.expected_ch2 END
           AS target_contractions_right,
       l.channel_muscle_mapping,
       EXISTS (SELECT 1 FROM rc_exp_bfr_monitoring b WHERE b.session_id = e.session_id) AS bfr_enabled,
       %(default_bfr_target_aop)s AS bfr_target_pressure_aop,
       CASE WHEN l.session_id IS NOT NULL THEN 'legacy' ELSE 'default' END AS settings_source
FROM rc_expected e
LEFT JOIN rc_linked l ON l.session_id = e.session_id
LEFT JOIN (SELECT DISTINCT ON (session_id) session_id, mvc_calculation_method
           FROM rc_exp_emg_statistics
           WHERE mvc_calculation_method IS NOT NULL
           ORDER BY session_id, channel_name COLLATE "C") m ON m.session_id = e.session_id
WHERE NOT e.waiting;

-- name: exp_signal_processing_cache
-- signal_processing_cache <- every analysis_results row of the session, same id. request hash = SHA-256 of the
-- canonical JSON of {"processing_params": <params or {}>, "processing_version": <version>}. Validity depends on
-- the run time, so it is compared as a class: valid / superseded now, or 'expires' when expired since (either
-- state can be right then). hit_count and last_accessed_at are never lowered by a re-migration: a hit recorded
-- through analysis_results_view stays, so the expected value is the greatest of the legacy one and the target's.
CREATE TEMP TABLE rc_exp_signal_processing_cache ON COMMIT DROP AS
SELECT a.c3d_metadata_id AS session_id,
       a.id,
       encode(sha256(convert_to(
           '{"processing_params":'
           || CASE WHEN a.processing_params IS NULL OR a.processing_params IN ('{}'::jsonb, 'null'::jsonb) THEN '{}'
                   ELSE pg_temp.rc_canonical_json(a.processing_params) END
           || ',"processing_version":' || coalesce(to_json(a.processing_version)::text, 'null') || '}',
           'UTF8')), 'hex') AS processing_request_hash,
       a.processing_version,
       coalesce(a.processing_params, '{}'::jsonb) AS processing_params,
       'legacy_analysis'::text AS cache_type,
       a.processing_time_ms::float8 AS processing_time_ms,
       greatest(coalesce(a.cache_hits, 0)::float8, t.hit_count::float8) AS hit_count,
       greatest(a.last_accessed_at, t.last_accessed_at) AS last_accessed_at,
       a.expires_at,
       a.created_at,
       CASE WHEN a.expires_at IS NOT NULL AND a.expires_at <= now() THEN 'expired_by_now'
            WHEN cur.analysis_id IS NOT NULL THEN 'valid'
            ELSE 'superseded' END AS validity
FROM public.analysis_results a
JOIN rc_expected e ON e.session_id = a.c3d_metadata_id
LEFT JOIN rc_current cur ON cur.analysis_id = a.id
LEFT JOIN signal_processing_cache t ON t.id = a.id;

-- name: exp_processing_parameters
-- processing_parameters, one row per session with a current analysis: parameters_used of the first channel (in
-- key order) that has it; duration threshold and MVC source from the first channel that states them (the duration
-- threshold else the linked contraction_duration_threshold in ms, else the default); the MVC threshold in force
-- (session_mvc_threshold_percentage / 100, else the default). filter_low_cutoff_hz <- highpass_cutoff_hz;
-- filter_high_cutoff_hz is NULL: the legacy lowpass_cutoff_hz smooths the envelope and stays in algorithm_config.
CREATE TEMP TABLE rc_exp_processing_parameters ON COMMIT DROP AS
WITH first_parameters AS (
    SELECT DISTINCT ON (session_id) session_id, parameters_used AS parameters
    FROM rc_channel
    WHERE parameters_used IS NOT NULL
    ORDER BY session_id, channel_name COLLATE "C"
),
firsts AS (
    SELECT session_id,
           (array_agg(duration_threshold_ms ORDER BY channel_name COLLATE "C")
               FILTER (WHERE duration_threshold_ms IS NOT NULL))[1] AS duration_threshold_ms,
           (array_agg(mvc_estimation_method ORDER BY channel_name COLLATE "C")
               FILTER (WHERE mvc_estimation_method IS NOT NULL))[1] AS mvc_source,
           (array_agg(processing_version ORDER BY channel_name COLLATE "C"))[1] AS processing_version
    FROM rc_channel
    GROUP BY session_id
)
SELECT f.session_id,
       nullif(e.sampling_rate, 0)::float8 AS sampling_rate_hz,
       pg_temp.rc_number(p.parameters -> 'highpass_cutoff_hz') AS filter_low_cutoff_hz,
       NULL::float8 AS filter_high_cutoff_hz,
       pg_temp.rc_number(p.parameters -> 'filter_order') AS filter_order,
       pg_temp.rc_number(p.parameters -> 'smoothing_window_ms') AS smoothing_window_ms,
       coalesce(l.mvc_threshold_pct * (1::float8 / 100), %(default_mvc_threshold)s) AS mvc_threshold_percentage,
       coalesce(f.duration_threshold_ms, l.duration_threshold_ms, 1000 * %(default_duration_threshold_s)s)
           AS duration_threshold_ms,
       f.mvc_source,
       p.parameters AS algorithm_config,
       f.processing_version
FROM firsts f
JOIN rc_expected e ON e.session_id = f.session_id
LEFT JOIN first_parameters p ON p.session_id = f.session_id
LEFT JOIN rc_linked l ON l.session_id = f.session_id;
