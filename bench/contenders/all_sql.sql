-- All-SQL baseline: the whole migration as a competent DBA writes it, inside the database, set-based, in one
-- transaction. Run with search_path = <target schema>, public (unqualified names are the target tables; legacy
-- tables are public.*, the legacy session_settings table included); the schema (sql/005-008) is applied first, so
-- statsfirst's SQL functions (statsfirst.clean_legacy_ref, statsfirst.json_is_float8) are there to call.
--
-- Writes the same rows as `statsfirst migrate` to every table it fills: the seven target tables therapy_sessions,
-- emg_statistics, performance_scores, bfr_monitoring, session_settings, signal_processing_cache and
-- processing_parameters (export_history stays empty: legacy has no exports), and the lineage tables
-- statsfirst.session_lineage and statsfirst.analysis_lineage (source hash, raw references, linked settings row,
-- analytics residual). Child-row ids are statsfirst's deterministic md5 ids. Follows mapping.md and the current
-- rules of statsfirst's transform/ and validate/ (current analysis, linked settings, side assignment, targets,
-- thresholds in force, completion NULL for a missing count, scoring with the recorded configuration, or the
-- migration defaults when none is recorded yet).
--
-- Leaves out: every session statsfirst quarantines (a failed normalize/validate rule or a row the target's CHECKs
-- and keys would reject) is left out whole and only counted (temp table held_back; no quarantine rows). No run or
-- batch ledger, watermark or configuration row is written. Pending/processing sessions get their therapy_sessions,
-- signal_processing_cache and lineage rows only, as in statsfirst.
--
-- Shape: the JSON is parsed once (one jsonb_each over every analysis, each field converted to text and float8
-- once) into a typed temp table of channels (chn); the analyses (ana), sessions (ses) and linked legacy settings
-- (lnk) are resolved once into their own, the per-channel statistics (emg), BFR sides (bfr) and the left-out
-- sessions (held_back) computed once; each temp table is ANALYZEd (the columns joins and filters use), then one
-- INSERT ... SELECT per table. jit is off, as on statsfirst's connections.

-- JIT compiles these wide expressions for seconds (the planner's 100-rows-per-jsonb_each guess makes every
-- statement look huge) to save milliseconds; statsfirst's connections run with jit = off too.
SET LOCAL jit = off;

-- ------------------------------------------------------------------------------------------------------- helpers
-- A JSON value as float8 when it is a number a float8 holds (statsfirst's guard), else NULL. Inlined.
CREATE FUNCTION pg_temp.f8(j jsonb) RETURNS float8 LANGUAGE sql IMMUTABLE
AS $$ SELECT CASE WHEN jsonb_typeof(j) = 'number' AND statsfirst.json_is_float8(j) THEN j::float8 END $$;
-- The same from the value and its text (already at hand for the change detector): a number whose text is shorter
-- than 300 characters always fits a float8 (neither overflow nor underflow to zero), and text -> float8 is what
-- jsonb -> float8 does internally (numeric_out, then float8in), so only the rare long number pays for the guard.
CREATE FUNCTION pg_temp.f8t(j jsonb, t text) RETURNS float8 LANGUAGE sql IMMUTABLE
AS $$ SELECT CASE WHEN jsonb_typeof(j) = 'number'
                  THEN CASE WHEN length(t) < 300 THEN t::float8 WHEN statsfirst.json_is_float8(j) THEN j::float8 END
             END $$;
-- The members of a JSON object's text without its braces, NULL when there are none (transform/analytics_residual).
CREATE FUNCTION pg_temp.inner_text(t text) RETURNS text LANGUAGE sql IMMUTABLE
AS $$ SELECT nullif(substr(t, 2, length(t) - 2), '') $$;
-- A timestamp polars cannot carry (±infinity, year 294,000 and later): the session is held back (extract/).
CREATE FUNCTION pg_temp.unrepresentable(ts timestamptz) RETURNS boolean LANGUAGE sql STABLE
AS $$ SELECT NOT (isfinite(ts) AND ts < '294000-01-01') $$;
CREATE FUNCTION pg_temp.unrepresentable(ts timestamp) RETURNS boolean LANGUAGE sql IMMUTABLE
AS $$ SELECT NOT (isfinite(ts) AND ts < '294000-01-01') $$;
-- Which side a legacy muscle name means (emg_statistics._side_named).
CREATE FUNCTION pg_temp.side_named(m text) RETURNS text LANGUAGE sql IMMUTABLE
AS $$ SELECT CASE WHEN lower(m) LIKE '%left%' THEN 'left' WHEN lower(m) LIKE '%right%' THEN 'right' END $$;
-- A count as pandera's integral_count accepts it: NULL, or whole, >= 0 and within integer.
CREATE FUNCTION pg_temp.count_ok(x float8) RETURNS boolean LANGUAGE sql IMMUTABLE
AS $$ SELECT x IS NULL OR (x >= 0 AND x <= 2147483647 AND x = round(x)) $$;
-- A string polars' cast to Float64 reads (game points are text inside game_metadata), else NULL; never raises.
CREATE FUNCTION pg_temp.text_float(t text) RETURNS float8 LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    IF t IS NULL OR t !~* '^[+-]?(([0-9]+\.?[0-9]*|\.[0-9]+)(e[+-]?[0-9]+)?|inf|infinity|nan)$' THEN
        RETURN NULL;
    END IF;
    RETURN t::float8;
EXCEPTION
    WHEN numeric_value_out_of_range THEN  -- polars overflows to ±inf and underflows to 0
        RETURN CASE WHEN abs(t::numeric) < 1 THEN 0 WHEN t LIKE '-%' THEN '-Infinity' ELSE 'Infinity' END::float8;
    WHEN invalid_text_representation THEN
        RETURN NULL;
END
$$;
-- Python's json.dumps(json.loads(text), sort_keys=True, separators=(',', ':'), ensure_ascii=False) of a jsonb value
-- (signal_processing_cache.request_hash): keys in code point order, integers as written, other numbers as
-- Python's float repr (float8 shortest-exact text, plain up to 1e16, '.0' on whole values). Only called for
-- processing_params other than {} (legacy writes {}).
CREATE FUNCTION pg_temp.py_json(j jsonb) RETURNS text LANGUAGE plpgsql IMMUTABLE SET extra_float_digits = 1
AS $$
DECLARE
    kind text := jsonb_typeof(j);
    num text;
    digits text;
BEGIN
    IF kind = 'object' THEN
        RETURN '{' || coalesce((SELECT string_agg(to_json(e.key)::text || ':' || pg_temp.py_json(e.value), ','
                                                  ORDER BY e.key COLLATE "C") FROM jsonb_each(j) e), '') || '}';
    ELSIF kind = 'array' THEN
        RETURN '[' || coalesce((SELECT string_agg(pg_temp.py_json(e.value), ',' ORDER BY e.n)
                                FROM jsonb_array_elements(j) WITH ORDINALITY e(value, n)), '') || ']';
    ELSIF kind <> 'number' OR j::text !~ '[.eE]' THEN
        RETURN j::text;  -- string, boolean, null (same escapes as json.dumps), or an integer
    END IF;
    BEGIN
        num := (j::numeric)::float8::text;
    EXCEPTION WHEN numeric_value_out_of_range THEN
        RETURN CASE WHEN abs(j::numeric) < 1 THEN '0.0' WHEN j::numeric < 0 THEN '-Infinity' ELSE 'Infinity' END;
    END;
    IF num ~ 'e\+15$' THEN  -- float8out switches to exponent form one decade before Python's repr
        digits := replace(replace(split_part(num, 'e', 1), '.', ''), '-', '');
        RETURN CASE WHEN num LIKE '-%' THEN '-' ELSE '' END
               || CASE WHEN length(digits) <= 16 THEN rpad(digits, 16, '0') || '.0'
                       ELSE left(digits, 16) || '.' || substr(digits, 17) END;
    ELSIF num ~ '[.e]' THEN
        RETURN num;
    END IF;
    RETURN num || '.0';
END
$$;

-- -------------------------------------------------------------------------------------------------------- 0. cfg
-- The recorded configuration of this target (statsfirst.configuration), else the migration's defaults.
CREATE TEMP TABLE cfg ON COMMIT DROP AS
SELECT gen_random_uuid() AS run_id, now() AS run_time,
       coalesce(r.performance_weights, '{"compliance": 0.5, "symmetry": 0.25, "effort": 0.25, "game": 0.0}')
           AS performance_weights,
       coalesce((r.performance_weights ->> 'compliance')::float8, 0.5) AS w_compliance,
       coalesce((r.performance_weights ->> 'symmetry')::float8, 0.25) AS w_symmetry,
       coalesce((r.performance_weights ->> 'effort')::float8, 0.25) AS w_effort,
       coalesce((r.performance_weights ->> 'game')::float8, 0.0) AS w_game,
       -- 1/3 as a float8 (through jsonb it would be cut to 15 digits)
       coalesce((r.compliance_weights ->> 'completion')::float8, 1::float8 / 3) AS w_completion,
       coalesce((r.compliance_weights ->> 'intensity')::float8, 1::float8 / 3) AS w_intensity,
       coalesce((r.compliance_weights ->> 'duration')::float8, 1::float8 / 3) AS w_duration,
       coalesce((r.defaults ->> 'mvc_threshold_percentage')::float8, 0.75) AS default_mvc_threshold,
       coalesce((r.defaults ->> 'duration_threshold_seconds')::float8, 2.0) AS default_duration_threshold_s,
       coalesce((r.defaults ->> 'target_contractions')::float8, 12.0) AS default_target,
       coalesce((r.defaults ->> 'bfr_target_aop')::float8, 50.0) AS default_bfr_target
FROM (SELECT 1) one
LEFT JOIN statsfirst.configuration r ON r.target_schema = current_schema();

-- -------------------------------------------------------------------------------------------------------- 1. chn
-- One row per channel of every analysis (and one with a NULL channel for an analysis without any): the texts of
-- statsfirst's change detector (channel_hash, same expressions as extract/legacy_reader.py), the channel's analytics
-- residual, the JSON type guard and every number the mapping reads as float8. Three levels, each fenced with
-- OFFSET 0 so that every JSON lookup and every cast happens once: lookups, then texts and casts, then use.
CREATE TEMP TABLE chn ON COMMIT DROP AS
SELECT analysis_id, session_id, analytics_type, channel_name,
       channel_name ~ '^CH[0-9]+$' AS key_ok,
       coalesce(is_object, false)
       AND NOT (t_contraction_count IS NOT NULL AND t_contraction_count <> 'null' AND contraction_count IS NULL)
       AND NOT (t_good_contraction_count IS NOT NULL AND t_good_contraction_count <> 'null'
                AND good_contraction_count IS NULL)
       AND NOT (t_mvc_contraction_count IS NOT NULL AND t_mvc_contraction_count <> 'null'
                AND mvc_contraction_count IS NULL)
       AND NOT (t_duration_contraction_count IS NOT NULL AND t_duration_contraction_count <> 'null'
                AND duration_contraction_count IS NULL)
       AND NOT (t_avg_duration_ms IS NOT NULL AND t_avg_duration_ms <> 'null' AND avg_duration_ms IS NULL)
       AND NOT (t_min_duration_ms IS NOT NULL AND t_min_duration_ms <> 'null' AND min_duration_ms IS NULL)
       AND NOT (t_max_duration_ms IS NOT NULL AND t_max_duration_ms <> 'null' AND max_duration_ms IS NULL)
       AND NOT (t_total_time_under_tension_ms IS NOT NULL AND t_total_time_under_tension_ms <> 'null'
                AND total_time_under_tension_ms IS NULL)
       AND NOT (t_duration_threshold_actual_value IS NOT NULL AND t_duration_threshold_actual_value <> 'null'
                AND duration_threshold_actual_value IS NULL)
       AND NOT (t_avg_amplitude IS NOT NULL AND t_avg_amplitude <> 'null' AND avg_amplitude IS NULL)
       AND NOT (t_max_amplitude IS NOT NULL AND t_max_amplitude <> 'null' AND max_amplitude IS NULL)
       AND NOT (t_rms IS NOT NULL AND t_rms <> 'null' AND rms IS NULL)
       AND NOT (t_mav IS NOT NULL AND t_mav <> 'null' AND mav IS NULL)
       AND NOT (t_mvc_threshold_actual_value IS NOT NULL AND t_mvc_threshold_actual_value <> 'null'
                AND mvc_threshold_actual_value IS NULL)
       AND NOT (t_mpf IS NOT NULL AND t_mpf <> 'null' AND mpf IS NULL)
       AND NOT (t_mdf IS NOT NULL AND t_mdf <> 'null' AND mdf IS NULL)
       AND NOT (t_fatigue_index_fi_nsm5 IS NOT NULL AND t_fatigue_index_fi_nsm5 <> 'null'
                AND fatigue_index_fi_nsm5 IS NULL)
       AND NOT (t_expected_contractions IS NOT NULL AND t_expected_contractions <> 'null'
                AND expected_contractions IS NULL)
       AND s_rms IS NULL AND s_mav IS NULL AND s_mpf IS NULL AND s_mdf IS NULL AND s_fatigue_index IS NULL
       AND NOT (t_rms_mean IS NOT NULL AND t_rms_mean <> 'null' AND rms_mean IS NULL)
       AND NOT (t_rms_std IS NOT NULL AND t_rms_std <> 'null' AND rms_std IS NULL)
       AND NOT (t_mav_mean IS NOT NULL AND t_mav_mean <> 'null' AND mav_mean IS NULL)
       AND NOT (t_mav_std IS NOT NULL AND t_mav_std <> 'null' AND mav_std IS NULL)
       AND NOT (t_mpf_mean IS NOT NULL AND t_mpf_mean <> 'null' AND mpf_mean IS NULL)
       AND NOT (t_mpf_std IS NOT NULL AND t_mpf_std <> 'null' AND mpf_std IS NULL)
       AND NOT (t_mdf_mean IS NOT NULL AND t_mdf_mean <> 'null' AND mdf_mean IS NULL)
       AND NOT (t_mdf_std IS NOT NULL AND t_mdf_std <> 'null' AND mdf_std IS NULL)
       AND NOT (t_fatigue_index_mean IS NOT NULL AND t_fatigue_index_mean <> 'null' AND fatigue_index_mean IS NULL)
       AND NOT (t_fatigue_index_std IS NOT NULL AND t_fatigue_index_std <> 'null' AND fatigue_index_std IS NULL)
       AND NOT (t_highpass_cutoff_hz IS NOT NULL AND t_highpass_cutoff_hz <> 'null' AND highpass_cutoff_hz IS NULL)
       AND NOT (t_lowpass_cutoff_hz IS NOT NULL AND t_lowpass_cutoff_hz <> 'null' AND lowpass_cutoff_hz IS NULL)
       AND NOT (t_filter_order IS NOT NULL AND t_filter_order <> 'null' AND filter_order IS NULL)
       AND NOT (t_smoothing_window_ms IS NOT NULL AND t_smoothing_window_ms <> 'null'
                AND smoothing_window_ms IS NULL)
       AND NOT (t_sampling_rate IS NOT NULL AND t_sampling_rate <> 'null' AND sampling_rate IS NULL) AS well_typed,
       md5(concat_ws('|', analytics_type, channel_name, channel_not_object, mvc_estimation_method,
                     processing_pipeline, parameters_used::text,
                     t_contraction_count, t_good_contraction_count, t_mvc_contraction_count,
                     t_duration_contraction_count, t_avg_duration_ms, t_min_duration_ms, t_max_duration_ms,
                     t_total_time_under_tension_ms, t_duration_threshold_actual_value, t_avg_amplitude,
                     t_max_amplitude, t_rms, t_mav, t_mvc_threshold_actual_value, t_mpf, t_mdf,
                     t_fatigue_index_fi_nsm5, t_expected_contractions,
                     s_rms, t_rms_mean, t_rms_std, s_mav, t_mav_mean, t_mav_std, s_mpf, t_mpf_mean, t_mpf_std,
                     s_mdf, t_mdf_mean, t_mdf_std, s_fatigue_index, t_fatigue_index_mean, t_fatigue_index_std,
                     rest, r_rms, r_mav, r_mpf, r_mdf, r_fatigue_index,
                     t_highpass_cutoff_hz, t_lowpass_cutoff_hz, t_filter_order, t_smoothing_window_ms,
                     t_sampling_rate)) AS channel_hash,
       -- what emg_statistics does not keep: the channel minus its stored numbers (a stored JSON null stays as
       -- null), each temporal block minus mean_value/std_value (transform/analytics_residual.py, as text)
       CASE WHEN rest IS NOT NULL THEN '{' || concat_ws(', ', pg_temp.inner_text(rest),
           CASE WHEN t_contraction_count = 'null' THEN '"contraction_count": null' END,
           CASE WHEN t_good_contraction_count = 'null' THEN '"good_contraction_count": null' END,
           CASE WHEN t_mvc_contraction_count = 'null' THEN '"mvc_contraction_count": null' END,
           CASE WHEN t_duration_contraction_count = 'null' THEN '"duration_contraction_count": null' END,
           CASE WHEN t_avg_duration_ms = 'null' THEN '"avg_duration_ms": null' END,
           CASE WHEN t_min_duration_ms = 'null' THEN '"min_duration_ms": null' END,
           CASE WHEN t_max_duration_ms = 'null' THEN '"max_duration_ms": null' END,
           CASE WHEN t_total_time_under_tension_ms = 'null' THEN '"total_time_under_tension_ms": null' END,
           CASE WHEN t_avg_amplitude = 'null' THEN '"avg_amplitude": null' END,
           CASE WHEN t_max_amplitude = 'null' THEN '"max_amplitude": null' END,
           CASE WHEN t_rms = 'null' THEN '"rms": null' END,
           CASE WHEN t_mav = 'null' THEN '"mav": null' END,
           CASE WHEN t_mvc_threshold_actual_value = 'null' THEN '"mvc_threshold_actual_value": null' END,
           CASE WHEN t_mpf = 'null' THEN '"mpf": null' END,
           CASE WHEN t_mdf = 'null' THEN '"mdf": null' END,
           CASE WHEN t_fatigue_index_fi_nsm5 = 'null' THEN '"fatigue_index_fi_nsm5": null' END,
           CASE WHEN r_rms IS NOT NULL THEN '"rms_temporal_stats": ' || CASE WHEN r_rms LIKE '{%'
               THEN '{' || concat_ws(', ', pg_temp.inner_text(r_rms),
                                     CASE WHEN t_rms_mean = 'null' THEN '"mean_value": null' END,
                                     CASE WHEN t_rms_std = 'null' THEN '"std_value": null' END) || '}'
               ELSE r_rms END END,
           CASE WHEN r_mav IS NOT NULL THEN '"mav_temporal_stats": ' || CASE WHEN r_mav LIKE '{%'
               THEN '{' || concat_ws(', ', pg_temp.inner_text(r_mav),
                                     CASE WHEN t_mav_mean = 'null' THEN '"mean_value": null' END,
                                     CASE WHEN t_mav_std = 'null' THEN '"std_value": null' END) || '}'
               ELSE r_mav END END,
           CASE WHEN r_mpf IS NOT NULL THEN '"mpf_temporal_stats": ' || CASE WHEN r_mpf LIKE '{%'
               THEN '{' || concat_ws(', ', pg_temp.inner_text(r_mpf),
                                     CASE WHEN t_mpf_mean = 'null' THEN '"mean_value": null' END,
                                     CASE WHEN t_mpf_std = 'null' THEN '"std_value": null' END) || '}'
               ELSE r_mpf END END,
           CASE WHEN r_mdf IS NOT NULL THEN '"mdf_temporal_stats": ' || CASE WHEN r_mdf LIKE '{%'
               THEN '{' || concat_ws(', ', pg_temp.inner_text(r_mdf),
                                     CASE WHEN t_mdf_mean = 'null' THEN '"mean_value": null' END,
                                     CASE WHEN t_mdf_std = 'null' THEN '"std_value": null' END) || '}'
               ELSE r_mdf END END,
           CASE WHEN r_fatigue_index IS NOT NULL THEN '"fatigue_index_temporal_stats": '
               || CASE WHEN r_fatigue_index LIKE '{%'
               THEN '{' || concat_ws(', ', pg_temp.inner_text(r_fatigue_index),
                                     CASE WHEN t_fatigue_index_mean = 'null' THEN '"mean_value": null' END,
                                     CASE WHEN t_fatigue_index_std = 'null' THEN '"std_value": null' END) || '}'
               ELSE r_fatigue_index END END) || '}' END AS residual,
       mvc_estimation_method, processing_pipeline, parameters_used,
       contraction_count, good_contraction_count, mvc_contraction_count, duration_contraction_count,
       avg_duration_ms, min_duration_ms, max_duration_ms, total_time_under_tension_ms,
       duration_threshold_actual_value, avg_amplitude, max_amplitude, rms, mav, mvc_threshold_actual_value, mpf, mdf,
       fatigue_index_fi_nsm5, expected_contractions, rms_mean, rms_std, mav_mean, mav_std, mpf_mean, mpf_std,
       mdf_mean, mdf_std, fatigue_index_mean, fatigue_index_std, highpass_cutoff_hz, filter_order, smoothing_window_ms
FROM (
    SELECT analysis_id, session_id, analytics_type, channel_name, is_object, channel_not_object, mvc_estimation_method,
           processing_pipeline, parameters_used, rest,
           t_contraction_count, pg_temp.f8t(j_contraction_count, t_contraction_count) AS contraction_count,
           t_good_contraction_count,
           pg_temp.f8t(j_good_contraction_count, t_good_contraction_count) AS good_contraction_count,
           t_mvc_contraction_count,
           pg_temp.f8t(j_mvc_contraction_count, t_mvc_contraction_count) AS mvc_contraction_count,
           t_duration_contraction_count,
           pg_temp.f8t(j_duration_contraction_count, t_duration_contraction_count) AS duration_contraction_count,
           t_avg_duration_ms, pg_temp.f8t(j_avg_duration_ms, t_avg_duration_ms) AS avg_duration_ms,
           t_min_duration_ms, pg_temp.f8t(j_min_duration_ms, t_min_duration_ms) AS min_duration_ms,
           t_max_duration_ms, pg_temp.f8t(j_max_duration_ms, t_max_duration_ms) AS max_duration_ms,
           t_total_time_under_tension_ms,
           pg_temp.f8t(j_total_time_under_tension_ms, t_total_time_under_tension_ms) AS total_time_under_tension_ms,
           t_duration_threshold_actual_value,
           pg_temp.f8t(j_duration_threshold_actual_value, t_duration_threshold_actual_value)
               AS duration_threshold_actual_value,
           t_avg_amplitude, pg_temp.f8t(j_avg_amplitude, t_avg_amplitude) AS avg_amplitude,
           t_max_amplitude, pg_temp.f8t(j_max_amplitude, t_max_amplitude) AS max_amplitude,
           t_rms, pg_temp.f8t(j_rms, t_rms) AS rms,
           t_mav, pg_temp.f8t(j_mav, t_mav) AS mav,
           t_mvc_threshold_actual_value,
           pg_temp.f8t(j_mvc_threshold_actual_value, t_mvc_threshold_actual_value) AS mvc_threshold_actual_value,
           t_mpf, pg_temp.f8t(j_mpf, t_mpf) AS mpf,
           t_mdf, pg_temp.f8t(j_mdf, t_mdf) AS mdf,
           t_fatigue_index_fi_nsm5,
           pg_temp.f8t(j_fatigue_index_fi_nsm5, t_fatigue_index_fi_nsm5) AS fatigue_index_fi_nsm5,
           t_expected_contractions,
           pg_temp.f8t(j_expected_contractions, t_expected_contractions) AS expected_contractions,
           CASE WHEN jsonb_typeof(b_rms) NOT IN ('object', 'null') THEN left(b_rms::text, 80) END AS s_rms,
           CASE WHEN jsonb_typeof(b_mav) NOT IN ('object', 'null') THEN left(b_mav::text, 80) END AS s_mav,
           CASE WHEN jsonb_typeof(b_mpf) NOT IN ('object', 'null') THEN left(b_mpf::text, 80) END AS s_mpf,
           CASE WHEN jsonb_typeof(b_mdf) NOT IN ('object', 'null') THEN left(b_mdf::text, 80) END AS s_mdf,
           CASE WHEN jsonb_typeof(b_fatigue_index) NOT IN ('object', 'null')
                THEN left(b_fatigue_index::text, 80) END AS s_fatigue_index,
           CASE WHEN jsonb_typeof(b_rms) = 'object' THEN (b_rms - '{mean_value,std_value}'::text[])::text
                ELSE b_rms::text END AS r_rms,
           CASE WHEN jsonb_typeof(b_mav) = 'object' THEN (b_mav - '{mean_value,std_value}'::text[])::text
                ELSE b_mav::text END AS r_mav,
           CASE WHEN jsonb_typeof(b_mpf) = 'object' THEN (b_mpf - '{mean_value,std_value}'::text[])::text
                ELSE b_mpf::text END AS r_mpf,
           CASE WHEN jsonb_typeof(b_mdf) = 'object' THEN (b_mdf - '{mean_value,std_value}'::text[])::text
                ELSE b_mdf::text END AS r_mdf,
           CASE WHEN jsonb_typeof(b_fatigue_index) = 'object'
                THEN (b_fatigue_index - '{mean_value,std_value}'::text[])::text
                ELSE b_fatigue_index::text END AS r_fatigue_index,
           t_rms_mean, pg_temp.f8t(j_rms_mean, t_rms_mean) AS rms_mean,
           t_rms_std, pg_temp.f8t(j_rms_std, t_rms_std) AS rms_std,
           t_mav_mean, pg_temp.f8t(j_mav_mean, t_mav_mean) AS mav_mean,
           t_mav_std, pg_temp.f8t(j_mav_std, t_mav_std) AS mav_std,
           t_mpf_mean, pg_temp.f8t(j_mpf_mean, t_mpf_mean) AS mpf_mean,
           t_mpf_std, pg_temp.f8t(j_mpf_std, t_mpf_std) AS mpf_std,
           t_mdf_mean, pg_temp.f8t(j_mdf_mean, t_mdf_mean) AS mdf_mean,
           t_mdf_std, pg_temp.f8t(j_mdf_std, t_mdf_std) AS mdf_std,
           t_fatigue_index_mean, pg_temp.f8t(j_fatigue_index_mean, t_fatigue_index_mean) AS fatigue_index_mean,
           t_fatigue_index_std, pg_temp.f8t(j_fatigue_index_std, t_fatigue_index_std) AS fatigue_index_std,
           t_highpass_cutoff_hz, pg_temp.f8t(j_highpass_cutoff_hz, t_highpass_cutoff_hz) AS highpass_cutoff_hz,
           t_lowpass_cutoff_hz, pg_temp.f8t(j_lowpass_cutoff_hz, t_lowpass_cutoff_hz) AS lowpass_cutoff_hz,
           t_filter_order, pg_temp.f8t(j_filter_order, t_filter_order) AS filter_order,
           t_smoothing_window_ms,
           pg_temp.f8t(j_smoothing_window_ms, t_smoothing_window_ms) AS smoothing_window_ms,
           t_sampling_rate, pg_temp.f8t(j_sampling_rate, t_sampling_rate) AS sampling_rate
    FROM (
        SELECT a.id AS analysis_id, a.c3d_metadata_id AS session_id, a.analytics_type, ch.key AS channel_name,
               jsonb_typeof(ch.value) = 'object' AS is_object,
               CASE WHEN jsonb_typeof(ch.value) IS DISTINCT FROM 'object'
                    THEN left(coalesce(ch.value::text, 'NULL'), 80) END AS channel_not_object,
               CASE WHEN jsonb_typeof(ch.value) = 'object' THEN ch.value ->> 'mvc_estimation_method' END
                   AS mvc_estimation_method,
               CASE WHEN jsonb_typeof(ch.value #> '{signal_processing,processing_steps}') = 'array'
                    THEN (SELECT string_agg(step, ' -> ')
                          FROM jsonb_array_elements_text(ch.value #> '{signal_processing,processing_steps}') AS step)
                    END AS processing_pipeline,
               CASE WHEN jsonb_typeof(ch.value #> '{signal_processing,parameters_used}') = 'object'
                    THEN ch.value #> '{signal_processing,parameters_used}' END AS parameters_used,
               CASE WHEN jsonb_typeof(ch.value) = 'object'
                    THEN (ch.value - '{contractions,signal_processing,errors,contraction_count,good_contraction_count,
                                      mvc_contraction_count,duration_contraction_count,avg_duration_ms,
                                      min_duration_ms,max_duration_ms,total_time_under_tension_ms,avg_amplitude,
                                      max_amplitude,rms,mav,mvc_threshold_actual_value,mpf,mdf,fatigue_index_fi_nsm5,
                                      rms_temporal_stats,mav_temporal_stats,mpf_temporal_stats,mdf_temporal_stats,
                                      fatigue_index_temporal_stats}'::text[])::text END AS rest,
               ch.value -> 'contraction_count' AS j_contraction_count,
               ch.value -> 'good_contraction_count' AS j_good_contraction_count,
               ch.value -> 'mvc_contraction_count' AS j_mvc_contraction_count,
               ch.value -> 'duration_contraction_count' AS j_duration_contraction_count,
               ch.value -> 'avg_duration_ms' AS j_avg_duration_ms,
               ch.value -> 'min_duration_ms' AS j_min_duration_ms,
               ch.value -> 'max_duration_ms' AS j_max_duration_ms,
               ch.value -> 'total_time_under_tension_ms' AS j_total_time_under_tension_ms,
               ch.value -> 'duration_threshold_actual_value' AS j_duration_threshold_actual_value,
               ch.value -> 'avg_amplitude' AS j_avg_amplitude,
               ch.value -> 'max_amplitude' AS j_max_amplitude,
               ch.value -> 'rms' AS j_rms,
               ch.value -> 'mav' AS j_mav,
               ch.value -> 'mvc_threshold_actual_value' AS j_mvc_threshold_actual_value,
               ch.value -> 'mpf' AS j_mpf,
               ch.value -> 'mdf' AS j_mdf,
               ch.value -> 'fatigue_index_fi_nsm5' AS j_fatigue_index_fi_nsm5,
               ch.value -> 'expected_contractions' AS j_expected_contractions,
               ch.value -> 'rms_temporal_stats' AS b_rms,
               ch.value -> 'mav_temporal_stats' AS b_mav,
               ch.value -> 'mpf_temporal_stats' AS b_mpf,
               ch.value -> 'mdf_temporal_stats' AS b_mdf,
               ch.value -> 'fatigue_index_temporal_stats' AS b_fatigue_index,
               ch.value -> 'rms_temporal_stats' -> 'mean_value' AS j_rms_mean,
               ch.value -> 'rms_temporal_stats' -> 'std_value' AS j_rms_std,
               ch.value -> 'mav_temporal_stats' -> 'mean_value' AS j_mav_mean,
               ch.value -> 'mav_temporal_stats' -> 'std_value' AS j_mav_std,
               ch.value -> 'mpf_temporal_stats' -> 'mean_value' AS j_mpf_mean,
               ch.value -> 'mpf_temporal_stats' -> 'std_value' AS j_mpf_std,
               ch.value -> 'mdf_temporal_stats' -> 'mean_value' AS j_mdf_mean,
               ch.value -> 'mdf_temporal_stats' -> 'std_value' AS j_mdf_std,
               ch.value -> 'fatigue_index_temporal_stats' -> 'mean_value' AS j_fatigue_index_mean,
               ch.value -> 'fatigue_index_temporal_stats' -> 'std_value' AS j_fatigue_index_std,
               CASE WHEN jsonb_typeof(ch.value #> '{signal_processing,parameters_used}') = 'object'
                    THEN ch.value #> '{signal_processing,parameters_used,highpass_cutoff_hz}' END
                   AS j_highpass_cutoff_hz,
               CASE WHEN jsonb_typeof(ch.value #> '{signal_processing,parameters_used}') = 'object'
                    THEN ch.value #> '{signal_processing,parameters_used,lowpass_cutoff_hz}' END
                   AS j_lowpass_cutoff_hz,
               CASE WHEN jsonb_typeof(ch.value #> '{signal_processing,parameters_used}') = 'object'
                    THEN ch.value #> '{signal_processing,parameters_used,filter_order}' END AS j_filter_order,
               CASE WHEN jsonb_typeof(ch.value #> '{signal_processing,parameters_used}') = 'object'
                    THEN ch.value #> '{signal_processing,parameters_used,smoothing_window_ms}' END
                   AS j_smoothing_window_ms,
               CASE WHEN jsonb_typeof(ch.value #> '{signal_processing,parameters_used}') = 'object'
                    THEN ch.value #> '{signal_processing,parameters_used,sampling_rate}' END AS j_sampling_rate,
               (ch.value -> 'contraction_count')::text AS t_contraction_count,
               (ch.value -> 'good_contraction_count')::text AS t_good_contraction_count,
               (ch.value -> 'mvc_contraction_count')::text AS t_mvc_contraction_count,
               (ch.value -> 'duration_contraction_count')::text AS t_duration_contraction_count,
               (ch.value -> 'avg_duration_ms')::text AS t_avg_duration_ms,
               (ch.value -> 'min_duration_ms')::text AS t_min_duration_ms,
               (ch.value -> 'max_duration_ms')::text AS t_max_duration_ms,
               (ch.value -> 'total_time_under_tension_ms')::text AS t_total_time_under_tension_ms,
               (ch.value -> 'duration_threshold_actual_value')::text AS t_duration_threshold_actual_value,
               (ch.value -> 'avg_amplitude')::text AS t_avg_amplitude,
               (ch.value -> 'max_amplitude')::text AS t_max_amplitude,
               (ch.value -> 'rms')::text AS t_rms,
               (ch.value -> 'mav')::text AS t_mav,
               (ch.value -> 'mvc_threshold_actual_value')::text AS t_mvc_threshold_actual_value,
               (ch.value -> 'mpf')::text AS t_mpf,
               (ch.value -> 'mdf')::text AS t_mdf,
               (ch.value -> 'fatigue_index_fi_nsm5')::text AS t_fatigue_index_fi_nsm5,
               (ch.value -> 'expected_contractions')::text AS t_expected_contractions,
               (ch.value -> 'rms_temporal_stats' -> 'mean_value')::text AS t_rms_mean,
               (ch.value -> 'rms_temporal_stats' -> 'std_value')::text AS t_rms_std,
               (ch.value -> 'mav_temporal_stats' -> 'mean_value')::text AS t_mav_mean,
               (ch.value -> 'mav_temporal_stats' -> 'std_value')::text AS t_mav_std,
               (ch.value -> 'mpf_temporal_stats' -> 'mean_value')::text AS t_mpf_mean,
               (ch.value -> 'mpf_temporal_stats' -> 'std_value')::text AS t_mpf_std,
               (ch.value -> 'mdf_temporal_stats' -> 'mean_value')::text AS t_mdf_mean,
               (ch.value -> 'mdf_temporal_stats' -> 'std_value')::text AS t_mdf_std,
               (ch.value -> 'fatigue_index_temporal_stats' -> 'mean_value')::text AS t_fatigue_index_mean,
               (ch.value -> 'fatigue_index_temporal_stats' -> 'std_value')::text AS t_fatigue_index_std,
               (CASE WHEN jsonb_typeof(ch.value #> '{signal_processing,parameters_used}') = 'object'
                     THEN ch.value #> '{signal_processing,parameters_used,highpass_cutoff_hz}' END)::text
                   AS t_highpass_cutoff_hz,
               (CASE WHEN jsonb_typeof(ch.value #> '{signal_processing,parameters_used}') = 'object'
                     THEN ch.value #> '{signal_processing,parameters_used,lowpass_cutoff_hz}' END)::text
                   AS t_lowpass_cutoff_hz,
               (CASE WHEN jsonb_typeof(ch.value #> '{signal_processing,parameters_used}') = 'object'
                     THEN ch.value #> '{signal_processing,parameters_used,filter_order}' END)::text AS t_filter_order,
               (CASE WHEN jsonb_typeof(ch.value #> '{signal_processing,parameters_used}') = 'object'
                     THEN ch.value #> '{signal_processing,parameters_used,smoothing_window_ms}' END)::text
                   AS t_smoothing_window_ms,
               (CASE WHEN jsonb_typeof(ch.value #> '{signal_processing,parameters_used}') = 'object'
                     THEN ch.value #> '{signal_processing,parameters_used,sampling_rate}' END)::text AS t_sampling_rate
        -- analytics_data is detoasted once per analysis (`#> '{}'` returns it unpacked; OFFSET 0 keeps the copy)
        FROM (SELECT id, c3d_metadata_id, doc, jsonb_typeof(doc) AS analytics_type
              FROM (SELECT id, c3d_metadata_id, analytics_data #> '{}' AS doc FROM public.analysis_results OFFSET 0) d
             ) a
        LEFT JOIN LATERAL jsonb_each(CASE WHEN a.analytics_type = 'object' THEN a.doc END) ch ON true
        OFFSET 0) lookups
    OFFSET 0) typed;
ANALYZE chn (analysis_id, session_id, channel_name);

-- -------------------------------------------------------------------------------------------------------- 2. ana
-- Every analysis row: its change-detector hash, the checks on its own columns, whether it is the session's newest
-- (therapy_sessions.processing_version) and current one (newest non-empty object), and the cache request hash.
CREATE TEMP TABLE ana ON COMMIT DROP AS
WITH content AS (
    SELECT analysis_id, min(analytics_type) AS analytics_type, count(channel_name) > 0 AS has_channels,
           string_agg(channel_hash, ',' ORDER BY channel_name COLLATE "C" NULLS LAST) AS channel_hashes
    FROM chn GROUP BY analysis_id
),
ordered AS (
    SELECT a.id, a.c3d_metadata_id AS session_id, a.processing_version, a.processing_params, a.processing_time_ms,
           a.cache_hits, a.last_accessed_at, a.expires_at, a.created_at, k.analytics_type, k.has_channels,
           md5(concat_ws('|', a.id, a.file_hash, a.processing_version, a.processing_params, a.processing_time_ms,
                         a.cache_hits, a.last_accessed_at, a.created_at, a.expires_at)) || ':' || k.channel_hashes
               AS analysis_hash,
           (pg_temp.unrepresentable(a.last_accessed_at) OR pg_temp.unrepresentable(a.expires_at)
            OR pg_temp.unrepresentable(a.created_at)) IS TRUE AS bad_timestamp,
           -- polars carries an unrepresentable created_at as NULL, which sorts first
           CASE WHEN NOT pg_temp.unrepresentable(a.created_at) THEN a.created_at END AS created_order
    FROM public.analysis_results a JOIN content k ON k.analysis_id = a.id
)
SELECT o.*,
       row_number() OVER (PARTITION BY session_id ORDER BY created_order DESC NULLS FIRST, id DESC) = 1 AS is_newest,
       has_channels AND row_number() OVER (PARTITION BY session_id, has_channels
                                           ORDER BY created_order DESC NULLS FIRST, id DESC) = 1 AS is_current,
       encode(sha256(convert_to(
           '{"processing_params":'
           || CASE WHEN coalesce(processing_params, '{}') = '{}' THEN '{}' ELSE pg_temp.py_json(processing_params) END
           || ',"processing_version":' || coalesce(to_json(processing_version)::text, 'null') || '}', 'UTF8')), 'hex')
           AS request_hash
FROM ordered o;
ANALYZE ana (id, session_id, is_current, is_newest);

-- -------------------------------------------------------------------------------------------------------- 3. ses
-- Every legacy session: waiting or not, its references resolved (the one rule: statsfirst.clean_legacy_ref), its
-- current and newest analysis, its row hash, and the checks on the c3d_metadata row itself.
CREATE TEMP TABLE ses ON COMMIT DROP AS
SELECT c.id AS session_id,
       coalesce(c.processing_status IN ('pending', 'processing'), false) AS waiting,
       p.patient_code,
       CASE WHEN r.patient IS NULL THEN 'sentinel' WHEN p.patient_code IS NOT NULL THEN 'resolved'
            ELSE 'unregistered' END AS patient_resolution,
       t.id::text AS therapist_uuid,
       md5(c::text) AS c3d_hash,
       cur.id AS current_analysis_id, cur.processing_time_ms, newest.processing_version AS newest_version,
       c.processed_at,
       nullif(c.duration_seconds, 0) AS duration_seconds,
       pg_temp.text_float(g.achieved) AS game_points_achieved, pg_temp.text_float(g.maximum) AS game_points_maximum,
       (g.achieved IS NOT NULL AND pg_temp.text_float(g.achieved) IS NULL)
       OR (g.maximum IS NOT NULL AND pg_temp.text_float(g.maximum) IS NULL) AS bad_game_points,
       (c.processing_status IS NULL
        -- plausibility (legacy 0 means unknown): a header no readable C3D has
        OR (c.sampling_rate <> 0 AND (c.sampling_rate <= 0 OR c.sampling_rate > 100000))
        OR (c.duration_seconds <> 0 AND (c.duration_seconds <= 0 OR c.duration_seconds > 86400))
        OR c.frame_count < 0
        OR pg_temp.unrepresentable(c.session_date) OR pg_temp.unrepresentable(c.resolved_session_date)
        OR pg_temp.unrepresentable(c.created_at) OR pg_temp.unrepresentable(c.updated_at)
        OR pg_temp.unrepresentable(c.processed_at)
        -- therapy_sessions' checks that the transform does not already satisfy
        OR c.file_path = '' OR NOT (length(c.file_hash) = 64 AND c.file_hash ~ '^[0-9a-f]+$')
        OR c.file_size_bytes < 0 OR c.channel_count < 0
        OR jsonb_typeof(c.channel_names) NOT IN ('array', 'null')
        OR c.processing_status NOT IN ('pending', 'processing', 'completed', 'failed')
        OR cur.processing_time_ms < 0) IS TRUE AS bad_row
FROM public.c3d_metadata c
CROSS JOIN LATERAL (
    SELECT coalesce(statsfirst.clean_legacy_ref(c.resolved_patient_id), statsfirst.clean_legacy_ref(c.patient_id))
               AS patient,
           lower(coalesce(statsfirst.clean_legacy_ref(c.therapist_id),
                          statsfirst.clean_legacy_ref(c.resolved_therapist_id))) AS therapist
) r
CROSS JOIN LATERAL (
    SELECT CASE WHEN jsonb_typeof(c.game_metadata) = 'object' THEN c.game_metadata ->> 'game_points_achieved' END
               AS achieved,
           CASE WHEN jsonb_typeof(c.game_metadata) = 'object' THEN c.game_metadata ->> 'game_points_maximum' END
               AS maximum
) g
LEFT JOIN public.patients p ON p.patient_code = r.patient
LEFT JOIN public.therapists t ON t.id::text = r.therapist
LEFT JOIN ana cur ON cur.session_id = c.id AND cur.is_current
LEFT JOIN ana newest ON newest.session_id = c.id AND newest.is_newest;
ANALYZE ses (session_id, waiting);

-- -------------------------------------------------------------------------------------------------------- 4. lnk
-- The linked legacy session_settings row of each processed session (by legacy session code or by id as text;
-- newest updated_at wins), its params typed, and the params checks (extract type guard, linked_settings ranges).
CREATE TEMP TABLE lnk ON COMMIT DROP AS
WITH candidates AS (
    SELECT c.id AS session_id, c.session_id AS c_session_id, s.user_id, s.session_id AS settings_session_id,
           s.params, s.updated_at
    FROM public.c3d_metadata c JOIN public.session_settings s ON s.session_id = c.session_id
    UNION ALL
    SELECT c.id, c.session_id, s.user_id, s.session_id, s.params, s.updated_at
    FROM public.c3d_metadata c JOIN public.session_settings s
         ON s.session_id = c.id::text AND s.session_id IS DISTINCT FROM c.session_id
),
counted AS (
    SELECT k.*, count(*) OVER (PARTITION BY k.session_id) AS candidates,
           bool_or(pg_temp.unrepresentable(k.updated_at)) OVER (PARTITION BY k.session_id) AS bad_timestamp
    FROM candidates k JOIN ses ON ses.session_id = k.session_id AND NOT ses.waiting
),
chosen AS (
    SELECT DISTINCT ON (session_id) *, CASE WHEN jsonb_typeof(params) = 'object' THEN params END AS p
    FROM counted
    ORDER BY session_id, CASE WHEN NOT pg_temp.unrepresentable(updated_at) THEN updated_at END DESC NULLS LAST,
             user_id, settings_session_id COLLATE "C"
),
typed AS (
    SELECT session_id, user_id, settings_session_id, candidates, bad_timestamp, p,
           CASE WHEN settings_session_id = c_session_id THEN 'session_id' ELSE 'id' END AS link,
           p IS NOT NULL
           AND statsfirst.json_is_float8(p -> 'post_session_rpe')
           AND statsfirst.json_is_float8(p -> 'session_expected_contractions_ch1')
           AND statsfirst.json_is_float8(p -> 'session_expected_contractions_ch2')
           AND statsfirst.json_is_float8(p #> '{bfr_parameters,left,aop_measured}')
           AND statsfirst.json_is_float8(p #> '{bfr_parameters,left,applied_pressure}')
           AND statsfirst.json_is_float8(p #> '{bfr_parameters,left,percentage_aop}')
           AND statsfirst.json_is_float8(p #> '{bfr_parameters,left,application_time_minutes}')
           AND statsfirst.json_is_float8(p #> '{bfr_parameters,right,aop_measured}')
           AND statsfirst.json_is_float8(p #> '{bfr_parameters,right,applied_pressure}')
           AND statsfirst.json_is_float8(p #> '{bfr_parameters,right,percentage_aop}')
           AND statsfirst.json_is_float8(p #> '{bfr_parameters,right,application_time_minutes}')
           AND statsfirst.json_is_float8(p -> 'session_mvc_value')
           AND statsfirst.json_is_float8(p -> 'session_mvc_threshold_percentage')
           AND statsfirst.json_is_float8(p -> 'session_expected_contractions')
           AND statsfirst.json_is_float8(p -> 'contraction_duration_threshold')
           AND coalesce(jsonb_typeof(p -> 'bfr_parameters') IN ('object', 'null'), true)
           AND coalesce(jsonb_typeof(p -> 'channel_muscle_mapping') IN ('object', 'null'), true)
           AND coalesce(jsonb_typeof(p -> 'session_mvc_values') IN ('object', 'null'), true)
           AND coalesce(jsonb_typeof(p -> 'session_mvc_threshold_percentages') IN ('object', 'null'), true)
           AND coalesce(jsonb_typeof(p #> '{bfr_parameters,left}') IN ('object', 'null'), true)
           AND coalesce(jsonb_typeof(p #> '{bfr_parameters,right}') IN ('object', 'null'), true)
           AND coalesce(jsonb_typeof(p #> '{channel_muscle_mapping,CH1}') IN ('string', 'null'), true)
           AND coalesce(jsonb_typeof(p #> '{channel_muscle_mapping,CH2}') IN ('string', 'null'), true)
           AND NOT EXISTS (SELECT 1 FROM jsonb_each(CASE WHEN jsonb_typeof(p -> 'session_mvc_values') = 'object'
                                                         THEN p -> 'session_mvc_values' END) e
                           WHERE NOT statsfirst.json_is_float8(e.value))
           AND NOT EXISTS (SELECT 1 FROM jsonb_each(CASE WHEN jsonb_typeof(p -> 'session_mvc_threshold_percentages')
                                                              = 'object'
                                                         THEN p -> 'session_mvc_threshold_percentages' END) e
                           WHERE NOT statsfirst.json_is_float8(e.value)) AS well_typed,
           pg_temp.f8(p -> 'post_session_rpe') AS rpe,
           pg_temp.f8(p -> 'session_expected_contractions') AS expected_total,
           pg_temp.f8(p -> 'session_expected_contractions_ch1') AS expected_ch1,
           pg_temp.f8(p -> 'session_expected_contractions_ch2') AS expected_ch2,
           pg_temp.f8(p -> 'session_mvc_value') AS mvc_value,
           pg_temp.f8(p -> 'session_mvc_threshold_percentage') AS mvc_threshold_pct,
           pg_temp.f8(p -> 'contraction_duration_threshold') AS duration_threshold_ms_setting,
           CASE WHEN jsonb_typeof(p -> 'session_mvc_values') = 'object' THEN p -> 'session_mvc_values' END AS mvc_map,
           CASE WHEN jsonb_typeof(p -> 'session_mvc_threshold_percentages') = 'object'
                THEN p -> 'session_mvc_threshold_percentages' END AS threshold_map,
           p #>> '{channel_muscle_mapping,CH1}' AS mapping_ch1,
           p #>> '{channel_muscle_mapping,CH2}' AS mapping_ch2,
           CASE WHEN jsonb_typeof(p -> 'channel_muscle_mapping') = 'object'
                THEN jsonb_build_object('CH1', p #> '{channel_muscle_mapping,CH1}',
                                        'CH2', p #> '{channel_muscle_mapping,CH2}') END AS channel_muscle_mapping,
           pg_temp.f8(p #> '{bfr_parameters,left,percentage_aop}') AS bfr_left_aop,
           pg_temp.f8(p #> '{bfr_parameters,left,aop_measured}') AS bfr_left_baseline,
           pg_temp.f8(p #> '{bfr_parameters,left,applied_pressure}') AS bfr_left_applied,
           pg_temp.f8(p #> '{bfr_parameters,left,application_time_minutes}') AS bfr_left_minutes,
           pg_temp.f8(p #> '{bfr_parameters,right,percentage_aop}') AS bfr_right_aop,
           pg_temp.f8(p #> '{bfr_parameters,right,aop_measured}') AS bfr_right_baseline,
           pg_temp.f8(p #> '{bfr_parameters,right,applied_pressure}') AS bfr_right_applied,
           pg_temp.f8(p #> '{bfr_parameters,right,application_time_minutes}') AS bfr_right_minutes
    FROM chosen
)
SELECT typed.*,
       coalesce(lower(mapping_ch1) LIKE '%right%', false) AS ch1_is_right,
       -- a value outside what its target column allows (linked_settings.SCALAR_RULES and ENTRY_RULES)
       (mvc_threshold_pct IS NULL OR (mvc_threshold_pct > 0 AND mvc_threshold_pct <= 100))
       AND (duration_threshold_ms_setting IS NULL OR duration_threshold_ms_setting > 0)
       AND (expected_total IS NULL OR (expected_total > 0 AND expected_total <= 2147483647
                                       AND expected_total / 2 = round(expected_total / 2)))
       AND (expected_ch1 IS NULL OR (expected_ch1 > 0 AND expected_ch1 <= 2147483647
                                     AND expected_ch1 = round(expected_ch1)))
       AND (expected_ch2 IS NULL OR (expected_ch2 > 0 AND expected_ch2 <= 2147483647
                                     AND expected_ch2 = round(expected_ch2)))
       AND (mvc_value IS NULL OR mvc_value >= 0)
       AND NOT EXISTS (SELECT 1 FROM jsonb_each(threshold_map) e
                       WHERE NOT (pg_temp.f8(e.value) > 0 AND pg_temp.f8(e.value) <= 100))
       AND NOT EXISTS (SELECT 1 FROM jsonb_each(mvc_map) e WHERE pg_temp.f8(e.value) < 0) AS in_range
FROM typed;
ANALYZE lnk (session_id);

-- -------------------------------------------------------------------------------------------------------- 5. bfr
-- One row per recorded BFR side of a linked settings row (bfr_monitoring).
CREATE TEMP TABLE bfr ON COMMIT DROP AS
SELECT l.session_id, v.side, v.actual, v.baseline, v.applied, v.minutes, v.actual BETWEEN 45 AND 55 AS in_range
FROM lnk l
CROSS JOIN LATERAL (VALUES ('left', l.bfr_left_aop, l.bfr_left_baseline, l.bfr_left_applied, l.bfr_left_minutes),
                           ('right', l.bfr_right_aop, l.bfr_right_baseline, l.bfr_right_applied, l.bfr_right_minutes))
    AS v(side, actual, baseline, applied, minutes)
WHERE v.actual IS NOT NULL;
ANALYZE bfr (session_id);

-- -------------------------------------------------------------------------------------------------------- 6. emg
-- Per channel of each processed session's current analysis: side, target, thresholds in force, rates (mapping.md,
-- transform/emg_statistics.py and scoring.py), and whether it passes every check of the channel. Unit conversions
-- multiply by the reciprocal (x * (1/100)), as polars computes a division by a constant, so the bits agree.
CREATE TEMP TABLE emg ON COMMIT DROP AS
WITH sided AS (
    SELECT ch.session_id, ch.channel_name, ch.key_ok, ch.well_typed, ch.mvc_estimation_method,
           ch.processing_pipeline, ch.parameters_used, ch.contraction_count, ch.good_contraction_count,
           ch.mvc_contraction_count, ch.duration_contraction_count, ch.avg_duration_ms, ch.min_duration_ms,
           ch.max_duration_ms, ch.total_time_under_tension_ms, ch.duration_threshold_actual_value, ch.avg_amplitude,
           ch.max_amplitude, ch.rms, ch.mav, ch.mvc_threshold_actual_value, ch.mpf, ch.mdf, ch.fatigue_index_fi_nsm5,
           ch.expected_contractions, ch.rms_mean, ch.rms_std, ch.mav_mean, ch.mav_std, ch.mpf_mean, ch.mpf_std,
           ch.mdf_mean, ch.mdf_std, ch.fatigue_index_mean, ch.fatigue_index_std, ch.highpass_cutoff_hz,
           ch.filter_order, ch.smoothing_window_ms, a.processing_version, a.processing_time_ms, s.processed_at,
           coalesce(CASE ch.channel_name WHEN 'CH1' THEN pg_temp.side_named(l.mapping_ch1)
                                         WHEN 'CH2' THEN pg_temp.side_named(l.mapping_ch2) END,
                    CASE row_number() OVER (PARTITION BY ch.session_id ORDER BY ch.channel_name COLLATE "C")
                        WHEN 1 THEN 'left' WHEN 2 THEN 'right' END) AS side,
           -- the channel's linked target, else half the session's, else the analysis', else the default
           coalesce(CASE ch.channel_name WHEN 'CH1' THEN l.expected_ch1 WHEN 'CH2' THEN l.expected_ch2 END,
                    l.expected_total / 2.0, ch.expected_contractions, cfg.default_target) AS target,
           coalesce(pg_temp.f8(l.threshold_map -> ch.channel_name) * (1::float8 / 100),
                    l.mvc_threshold_pct * (1::float8 / 100),
                    cfg.default_mvc_threshold) AS mvc_threshold_percentage,
           coalesce(ch.duration_threshold_actual_value * (1::float8 / 1000),
                    l.duration_threshold_ms_setting * (1::float8 / 1000),
                    cfg.default_duration_threshold_s) AS duration_threshold_seconds,
           cfg.w_completion, cfg.w_intensity, cfg.w_duration
    FROM chn ch
    JOIN ana a ON a.id = ch.analysis_id AND a.is_current
    JOIN ses s ON s.session_id = ch.session_id AND NOT s.waiting
    LEFT JOIN lnk l ON l.session_id = ch.session_id
    CROSS JOIN cfg
),
rated AS (
    SELECT sided.*,
           -- R_comp = min(total / T, 1), NULL when the count is not recorded (scoring.completion_rate)
           CASE WHEN contraction_count IS NOT NULL AND target > 0
                THEN least(contraction_count * (1.0 / target), 1.0) END AS completion_rate,
           CASE WHEN contraction_count = 0 THEN 0.0 ELSE mvc_contraction_count / contraction_count END
               AS intensity_rate,
           CASE WHEN contraction_count = 0 THEN 0.0 ELSE duration_contraction_count / contraction_count END
               AS duration_rate,
           -- (a zero threshold is out of range: that session is held back, and its peak never computed)
           CASE WHEN mvc_threshold_percentage <> 0 THEN mvc_threshold_actual_value * (1.0 / mvc_threshold_percentage)
                END AS mvc_peak_value
    FROM sided
),
scored AS (
    SELECT rated.*,
           w_completion * completion_rate + w_intensity * intensity_rate + w_duration * duration_rate
               AS muscle_compliance_score
    FROM rated
)
-- valid: the channel's checks (channels.decode_channels; validate/schemas.EMG_STATISTICS) on the computed values
SELECT scored.*,
       key_ok AND well_typed
       AND pg_temp.count_ok(contraction_count) AND pg_temp.count_ok(good_contraction_count)
       AND pg_temp.count_ok(mvc_contraction_count) AND pg_temp.count_ok(duration_contraction_count)
       AND (mvc_contraction_count > contraction_count OR duration_contraction_count > contraction_count
            OR good_contraction_count > contraction_count OR good_contraction_count > mvc_contraction_count
            OR good_contraction_count > duration_contraction_count OR min_duration_ms > max_duration_ms) IS NOT TRUE
       AND target > 0 AND target <= 2147483647 AND target = round(target)
       AND coalesce(completion_rate BETWEEN 0 AND 1, true) AND coalesce(intensity_rate BETWEEN 0 AND 1, true)
       AND coalesce(duration_rate BETWEEN 0 AND 1, true) AND coalesce(muscle_compliance_score BETWEEN 0 AND 1, true)
       AND (mvc_peak_value < 0 OR rms < 0 OR mav < 0 OR mpf < 0 OR mdf < 0 OR rms_std < 0 OR mav_std < 0
            OR mpf_std < 0 OR mdf_std < 0 OR fatigue_index_std < 0 OR avg_duration_ms < 0 OR min_duration_ms < 0
            OR max_duration_ms < 0 OR total_time_under_tension_ms < 0 OR avg_amplitude < 0 OR max_amplitude < 0
            OR processing_time_ms < 0) IS NOT TRUE
       AND (mvc_estimation_method IS NULL
            OR mvc_estimation_method IN ('backend_estimation', 'user_provided', 'global_provided'))
       AND mvc_threshold_percentage > 0 AND mvc_threshold_percentage <= 1 AND duration_threshold_seconds > 0
           AS valid
FROM scored;
ANALYZE emg (session_id, side);

-- -------------------------------------------------------------------------------------------------- 7. held_back
-- The sessions statsfirst quarantines: left out whole, only counted.
CREATE TEMP TABLE held_back ON COMMIT DROP AS
SELECT session_id FROM ses WHERE bad_row                      -- the c3d row (every session, waiting or not)
UNION
SELECT session_id FROM ana                                    -- any analysis row's own columns
WHERE bad_timestamp OR processing_version IS NULL OR cache_hits < 0 OR processing_time_ms < 0
UNION
-- two analyses of a session with one cache key: the target's UNIQUE (session_id, processing_request_hash) rejects
-- the second, and statsfirst holds the session back at load (rejected_by_database)
SELECT session_id FROM ana GROUP BY session_id, request_hash HAVING count(*) > 1
UNION
SELECT a.session_id FROM ana a JOIN ses s ON s.session_id = a.session_id AND NOT s.waiting
WHERE a.analytics_type <> 'object'                            -- malformed analytics_data
UNION
SELECT session_id FROM ses WHERE NOT waiting AND bad_game_points
UNION
SELECT session_id FROM lnk WHERE bad_timestamp OR NOT well_typed OR NOT in_range
UNION
SELECT session_id FROM bfr                                    -- bfr_monitoring's checks
WHERE NOT actual BETWEEN 0 AND 100 OR baseline < 0 OR applied < 0 OR minutes < 0
UNION
SELECT session_id FROM emg GROUP BY session_id                -- a bad channel, or two channels on one side
HAVING NOT bool_and(valid) OR count(*) FILTER (WHERE side = 'left') > 1 OR count(*) FILTER (WHERE side = 'right') > 1
UNION
SELECT e.session_id FROM (SELECT DISTINCT session_id FROM emg) e  -- performance_scores' checks
JOIN ses s ON s.session_id = e.session_id LEFT JOIN lnk l ON l.session_id = e.session_id
WHERE NOT (l.rpe IS NULL OR (l.rpe BETWEEN 0 AND 10 AND l.rpe * 2 = round(l.rpe * 2)))
   OR NOT pg_temp.count_ok(s.game_points_achieved)
   OR s.game_points_maximum <= 0 OR s.game_points_maximum > 2147483647  -- NaN and infinity sort above it
   OR s.game_points_maximum <> round(s.game_points_maximum)      -- 20.5 points is held back, not stored as 20
   OR s.game_points_achieved > s.game_points_maximum
UNION
SELECT session_id FROM (                                      -- processing_parameters' checks (first parameters)
    SELECT DISTINCT ON (session_id) session_id, highpass_cutoff_hz, filter_order, smoothing_window_ms
    FROM emg WHERE parameters_used IS NOT NULL ORDER BY session_id, channel_name COLLATE "C") f
WHERE highpass_cutoff_hz < 0 OR NOT (filter_order BETWEEN 1 AND 8 AND filter_order = round(filter_order))
   OR smoothing_window_ms <= 0;
ANALYZE held_back (session_id);

-- ------------------------------------------------------------------------------------------- 8. therapy_sessions
INSERT INTO therapy_sessions (
    id, file_path, file_hash, file_size_bytes, patient_id, therapist_id, session_code, session_date, session_type,
    protocol_day, original_sampling_rate, original_duration_seconds, original_sample_count, channel_names,
    channel_count, game_metadata, processing_version, processing_status, processing_time_ms, error_message,
    created_at, updated_at, processed_at)
SELECT c.id, c.file_path, c.file_hash, c.file_size_bytes, s.patient_code, s.therapist_uuid::uuid, c.session_id,
       coalesce(c.session_date, c.resolved_session_date) AT TIME ZONE 'UTC',
       CASE WHEN c.session_type IN ('baseline', 'training', 'assessment') THEN c.session_type END,
       NULL, nullif(c.sampling_rate, 0), nullif(c.duration_seconds, 0), nullif(c.frame_count, 0),
       CASE WHEN c.channel_names IN ('[]'::jsonb, 'null'::jsonb) THEN NULL ELSE c.channel_names END,
       nullif(c.channel_count, 0), c.game_metadata,
       coalesce(s.newest_version, c.processing_version, 'unknown'), c.processing_status, s.processing_time_ms,
       c.error_message, c.created_at, c.updated_at, c.processed_at
FROM public.c3d_metadata c
JOIN ses s ON s.session_id = c.id
WHERE NOT EXISTS (SELECT 1 FROM held_back h WHERE h.session_id = c.id);

-- --------------------------------------------------------------------------------------------- 9. emg_statistics
INSERT INTO emg_statistics (
    id, session_id, channel_name, side, mvc_peak_value, mvc_calculation_method, total_contractions,
    good_contractions_intensity, good_contractions_duration, good_contractions_both, completion_rate, intensity_rate,
    duration_rate, muscle_compliance_score, rms, mav, mpf, mdf, fatigue_index, rms_mean, rms_std, mav_mean, mav_std,
    mpf_mean, mpf_std, mdf_mean, mdf_std, fatigue_index_mean, fatigue_index_std, avg_duration_ms, min_duration_ms,
    max_duration_ms, total_time_under_tension_ms, avg_amplitude, max_amplitude, processing_pipeline,
    processing_version, processing_time_ms, mvc_threshold_percentage, duration_threshold_seconds, processed_at)
SELECT md5(concat_ws('/', 'emg_statistics', e.session_id::text, e.channel_name))::uuid, e.session_id,
       e.channel_name, e.side, e.mvc_peak_value,
       CASE e.mvc_estimation_method WHEN 'backend_estimation' THEN 'backend_95percentile'
                                    WHEN 'user_provided' THEN 'user_defined'
                                    WHEN 'global_provided' THEN 'user_defined' END,
       e.contraction_count, e.mvc_contraction_count, e.duration_contraction_count, e.good_contraction_count,
       e.completion_rate, e.intensity_rate, e.duration_rate, e.muscle_compliance_score, e.rms, e.mav, e.mpf, e.mdf,
       e.fatigue_index_fi_nsm5, e.rms_mean, e.rms_std, e.mav_mean, e.mav_std, e.mpf_mean, e.mpf_std, e.mdf_mean,
       e.mdf_std, e.fatigue_index_mean, e.fatigue_index_std, e.avg_duration_ms, e.min_duration_ms, e.max_duration_ms,
       e.total_time_under_tension_ms, e.avg_amplitude, e.max_amplitude, e.processing_pipeline, e.processing_version,
       e.processing_time_ms, e.mvc_threshold_percentage, e.duration_threshold_seconds, e.processed_at
FROM emg e
WHERE NOT EXISTS (SELECT 1 FROM held_back h WHERE h.session_id = e.session_id);

-- ---------------------------------------------------------------------------------------- 10. performance_scores
INSERT INTO performance_scores (
    id, session_id, overall_performance_score, compliance_score, symmetry_score, effort_score, game_score,
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
    FROM emg e
    WHERE NOT EXISTS (SELECT 1 FROM held_back h WHERE h.session_id = e.session_id)
    GROUP BY session_id
),
gates AS (
    -- C_BFR over the recorded sides: NULL without a record, 1 when every recorded side is in [45, 55]
    SELECT session_id, CASE WHEN bool_and(in_range) THEN 1.0::float8 ELSE 0.0::float8 END AS gate,
           sum(actual) / count(*) AS bfr_pressure
    FROM bfr GROUP BY session_id
),
scored AS (
    SELECT sides.*, g.gate, g.bfr_pressure, l.rpe, s.game_points_achieved AS points,
           s.game_points_maximum AS points_max, s.duration_seconds * (1::float8 / 60) AS duration_minutes,
           100.0 * (sides.l + sides.r) / 2.0 * coalesce(g.gate, 1.0) AS compliance_score,
           CASE WHEN sides.l + sides.r > 0 THEN 100.0 * (1.0 - abs(sides.l - sides.r) / (sides.l + sides.r)) END
               AS symmetry_score,
           CASE WHEN l.rpe IS NULL THEN NULL
                WHEN l.rpe >= 4 AND l.rpe <= 6 THEN 100.0
                WHEN (l.rpe >= 3 AND l.rpe < 4) OR (l.rpe > 6 AND l.rpe <= 7) THEN 80.0
                WHEN (l.rpe >= 2 AND l.rpe < 3) OR (l.rpe > 7 AND l.rpe <= 8) THEN 60.0
                ELSE 20.0 END AS effort_score,
           CASE WHEN s.game_points_maximum > 0 THEN 100.0 * s.game_points_achieved / s.game_points_maximum END
               AS game_score
    FROM sides
    JOIN ses s ON s.session_id = sides.session_id
    LEFT JOIN gates g ON g.session_id = sides.session_id
    LEFT JOIN lnk l ON l.session_id = sides.session_id
)
SELECT md5(concat_ws('/', 'performance_scores', x.session_id::text))::uuid, x.session_id,
       -- only when every component with a non-zero weight is present; a zero-weight one adds nothing
       CASE WHEN (cfg.w_compliance = 0 OR x.compliance_score IS NOT NULL)
             AND (cfg.w_symmetry = 0 OR x.symmetry_score IS NOT NULL)
             AND (cfg.w_effort = 0 OR x.effort_score IS NOT NULL) AND (cfg.w_game = 0 OR x.game_score IS NOT NULL)
            THEN (0.0 + cfg.w_compliance * coalesce(x.compliance_score, 0.0)
                  + cfg.w_symmetry * coalesce(x.symmetry_score, 0.0) + cfg.w_effort * coalesce(x.effort_score, 0.0)
                  + cfg.w_game * coalesce(x.game_score, 0.0)) * coalesce(x.gate, 1.0) END,
       x.compliance_score, x.symmetry_score, x.effort_score, x.game_score, cfg.performance_weights, x.bfr_pressure,
       x.gate, x.rpe, x.points, x.points_max, x.duration_minutes, x.l_comp, x.l_int, x.l_dur, x.r_comp, x.r_int,
       x.r_dur,
       array_remove(ARRAY[CASE WHEN cfg.w_compliance <> 0 AND x.compliance_score IS NULL THEN 'compliance' END,
                          CASE WHEN cfg.w_symmetry <> 0 AND x.symmetry_score IS NULL THEN 'symmetry' END,
                          CASE WHEN cfg.w_effort <> 0 AND x.effort_score IS NULL THEN 'effort' END,
                          CASE WHEN cfg.w_game <> 0 AND x.game_score IS NULL THEN 'game' END,
                          CASE WHEN x.gate IS NULL THEN 'bfr_gate' END], NULL),
       'metricsDefinitions-2025-08-12/statsfirst-1'
FROM scored x CROSS JOIN cfg;

-- -------------------------------------------------------------------------------------------- 11. bfr_monitoring
INSERT INTO bfr_monitoring (
    id, session_id, side, target_pressure_aop, actual_pressure_aop, safety_gate_status, patient_aop_baseline_mmhg,
    applied_pressure_mmhg, bfr_session_duration_minutes, source)
SELECT md5(concat_ws('/', 'bfr_monitoring', b.session_id::text, b.side))::uuid, b.session_id, b.side,
       cfg.default_bfr_target, b.actual, b.in_range, b.baseline, b.applied, b.minutes, 'legacy_session_settings'
FROM bfr b CROSS JOIN cfg
WHERE NOT EXISTS (SELECT 1 FROM held_back h WHERE h.session_id = b.session_id);

-- ------------------------------------------------------------------------------------------ 12. session_settings
-- One row per processed session: the linked params where present, else the configured defaults.
INSERT INTO session_settings (
    id, session_id, mvc_calculation_method, mvc_threshold_percentage, mvc_user_left, mvc_user_right,
    performance_weights, duration_threshold_seconds, target_contractions_per_muscle, target_contractions_left,
    target_contractions_right, channel_muscle_mapping, bfr_enabled, bfr_target_pressure_aop, settings_source)
WITH channels AS (
    SELECT session_id,
           min(channel_name COLLATE "C") FILTER (WHERE side = 'left') AS left_channel,
           min(channel_name COLLATE "C") FILTER (WHERE side = 'right') AS right_channel,
           -- the MVC method of the first channel (key order) that states one
           (array_agg(CASE mvc_estimation_method WHEN 'backend_estimation' THEN 'backend_95percentile'
                                                 WHEN 'user_provided' THEN 'user_defined'
                                                 WHEN 'global_provided' THEN 'user_defined' END
                      ORDER BY channel_name COLLATE "C")
                FILTER (WHERE mvc_estimation_method IN ('backend_estimation', 'user_provided', 'global_provided'))
           )[1] AS method
    FROM emg GROUP BY session_id
)
SELECT md5(concat_ws('/', 'session_settings', s.session_id::text))::uuid, s.session_id,
       coalesce(k.method, 'backend_95percentile'),
       coalesce(l.mvc_threshold_pct * (1::float8 / 100), cfg.default_mvc_threshold),
       coalesce(pg_temp.f8(l.mvc_map -> coalesce(k.left_channel,
                                                 CASE WHEN l.ch1_is_right THEN 'CH2' ELSE 'CH1' END)), l.mvc_value),
       coalesce(pg_temp.f8(l.mvc_map -> coalesce(k.right_channel,
                                                 CASE WHEN l.ch1_is_right THEN 'CH1' ELSE 'CH2' END)), l.mvc_value),
       cfg.performance_weights,
       coalesce(l.duration_threshold_ms_setting * (1::float8 / 1000), cfg.default_duration_threshold_s),
       coalesce(l.expected_total / 2.0, cfg.default_target),
       CASE WHEN l.ch1_is_right THEN l.expected_ch2 ELSE l.expected_ch1 END,
       CASE WHEN l.ch1_is_right THEN l.expected_ch1 ELSE l.expected_ch2 END,
       l.channel_muscle_mapping,
       EXISTS (SELECT 1 FROM bfr b WHERE b.session_id = s.session_id), cfg.default_bfr_target,
       CASE WHEN l.session_id IS NOT NULL THEN 'legacy' ELSE 'default' END
FROM ses s
CROSS JOIN cfg
LEFT JOIN lnk l ON l.session_id = s.session_id
LEFT JOIN channels k ON k.session_id = s.session_id
WHERE NOT s.waiting AND NOT EXISTS (SELECT 1 FROM held_back h WHERE h.session_id = s.session_id);

-- ----------------------------------------------------------------------------------- 13. signal_processing_cache
-- Every analysis row of a migrated session, keeping its id; valid only when current and not expired at run time.
INSERT INTO signal_processing_cache (
    id, session_id, processing_request_hash, processing_version, processing_params, cache_type, processing_time_ms,
    hit_count, last_accessed_at, expires_at, cache_valid, invalidated_reason, invalidated_at, created_at)
SELECT a.id, a.session_id, a.request_hash, a.processing_version, coalesce(a.processing_params, '{}'),
       'legacy_analysis', a.processing_time_ms, coalesce(a.cache_hits, 0), a.last_accessed_at, a.expires_at,
       v.valid, CASE WHEN v.valid THEN NULL WHEN v.expired THEN 'expired' ELSE 'superseded' END,
       CASE WHEN NOT v.valid THEN cfg.run_time END, a.created_at
FROM ana a
CROSS JOIN cfg
CROSS JOIN LATERAL (SELECT coalesce(a.expires_at <= cfg.run_time, false) AS expired) e
CROSS JOIN LATERAL (SELECT a.is_current AND NOT e.expired AS valid, e.expired) v
WHERE NOT EXISTS (SELECT 1 FROM held_back h WHERE h.session_id = a.session_id);

-- ------------------------------------------------------------------------------------- 14. processing_parameters
INSERT INTO processing_parameters (
    id, session_id, sampling_rate_hz, filter_low_cutoff_hz, filter_high_cutoff_hz, filter_order, smoothing_window_ms,
    mvc_threshold_percentage, duration_threshold_ms, mvc_source, algorithm_config, processing_version)
WITH firsts AS (
    SELECT session_id,
           (array_agg(duration_threshold_actual_value ORDER BY channel_name COLLATE "C")
                FILTER (WHERE duration_threshold_actual_value IS NOT NULL))[1] AS duration_threshold_ms,
           (array_agg(mvc_estimation_method ORDER BY channel_name COLLATE "C")
                FILTER (WHERE mvc_estimation_method IS NOT NULL))[1] AS mvc_source,
           min(processing_version) AS processing_version
    FROM emg e
    WHERE NOT EXISTS (SELECT 1 FROM held_back h WHERE h.session_id = e.session_id)
    GROUP BY session_id
),
params AS (  -- signal_processing.parameters_used of the first channel that has it
    SELECT DISTINCT ON (session_id) session_id, highpass_cutoff_hz, filter_order, smoothing_window_ms, parameters_used
    FROM emg WHERE parameters_used IS NOT NULL ORDER BY session_id, channel_name COLLATE "C"
)
SELECT md5(concat_ws('/', 'processing_parameters', f.session_id::text))::uuid, f.session_id,
       nullif(c.sampling_rate, 0), p.highpass_cutoff_hz, NULL, p.filter_order, p.smoothing_window_ms,
       coalesce(l.mvc_threshold_pct * (1::float8 / 100), cfg.default_mvc_threshold),
       coalesce(f.duration_threshold_ms, l.duration_threshold_ms_setting, cfg.default_duration_threshold_s * 1000.0),
       f.mvc_source, p.parameters_used, f.processing_version
FROM firsts f
CROSS JOIN cfg
JOIN public.c3d_metadata c ON c.id = f.session_id
LEFT JOIN params p ON p.session_id = f.session_id
LEFT JOIN lnk l ON l.session_id = f.session_id;

-- --------------------------------------------------------------------------------------------------- 15. lineage
-- Per migrated session (load/bookkeeping.write_lineage): raw references, the linked settings row, the legacy row,
-- and the md5 of what the session was built from (its c3d row, its analyses' hashes, the linked params, who it
-- resolves to; normalize._lineage).
INSERT INTO statsfirst.session_lineage (
    legacy_session_id, raw_patient_id, raw_resolved_patient_id, raw_therapist_id, raw_resolved_therapist_id,
    raw_session_id, patient_resolution, linked_settings, legacy_c3d, source_hash, run_id)
SELECT c.id, c.patient_id, c.resolved_patient_id, c.therapist_id, c.resolved_therapist_id, c.session_id,
       s.patient_resolution,
       CASE WHEN l.session_id IS NOT NULL
            THEN jsonb_build_object('user_id', l.user_id::text, 'session_id', l.settings_session_id, 'link', l.link,
                                    'candidates', l.candidates) END,
       to_jsonb(c),
       md5(concat_ws('#', s.c3d_hash, coalesce(h.hashes, ''), coalesce(l.p::text, ''), coalesce(s.patient_code, ''),
                     coalesce(s.therapist_uuid, ''))),
       cfg.run_id
FROM public.c3d_metadata c
JOIN ses s ON s.session_id = c.id
CROSS JOIN cfg
LEFT JOIN lnk l ON l.session_id = c.id
LEFT JOIN (SELECT session_id, string_agg(analysis_hash, '|' ORDER BY id) AS hashes FROM ana GROUP BY session_id) h
       ON h.session_id = c.id
WHERE NOT EXISTS (SELECT 1 FROM held_back h WHERE h.session_id = c.id);

-- Per analysis row of a migrated session: its legacy scalar columns, and for a processed session's current
-- analysis the part of analytics_data emg_statistics does not keep (read by analysis_results_view).
INSERT INTO statsfirst.analysis_lineage (legacy_analysis_id, legacy_session_id, legacy_analysis, analytics_residual,
                                         run_id)
SELECT a.id, a.c3d_metadata_id,
       jsonb_build_object('id', a.id, 'c3d_metadata_id', a.c3d_metadata_id, 'file_hash', a.file_hash,
           'processing_version', a.processing_version, 'processing_params', a.processing_params,
           'processing_time_ms', a.processing_time_ms, 'cache_hits', a.cache_hits,
           'last_accessed_at', a.last_accessed_at, 'good_contractions_count', a.good_contractions_count,
           'total_contractions_count', a.total_contractions_count, 'contractions_data', a.contractions_data,
           'mvc_values', a.mvc_values, 'compliance_scores', a.compliance_scores, 'temporal_stats', a.temporal_stats,
           'created_at', a.created_at, 'expires_at', a.expires_at),
       r.residual::json, cfg.run_id
FROM public.analysis_results a
CROSS JOIN cfg
LEFT JOIN (
    SELECT ch.analysis_id,
           '{' || string_agg('"' || ch.channel_name || '": ' || coalesce(ch.residual, 'null'), ', '
                             ORDER BY ch.channel_name COLLATE "C") || '}' AS residual
    FROM chn ch
    JOIN ana x ON x.id = ch.analysis_id AND x.is_current
    JOIN ses s ON s.session_id = ch.session_id AND NOT s.waiting
    WHERE ch.key_ok
    GROUP BY ch.analysis_id
) r ON r.analysis_id = a.id
WHERE NOT EXISTS (SELECT 1 FROM held_back h WHERE h.session_id = a.c3d_metadata_id);
