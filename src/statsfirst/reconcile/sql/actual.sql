-- Reconciliation, part 3: what the target tables hold for the sessions counted as migrated, in the exact column
-- order and types of the rc_exp_<table> tables of expected.sql (numbers as float8, so 12 and 12.0 compare equal).
-- Unqualified table names are the target schema's (the transaction's search_path).

-- name: compared_sessions
-- Values are compared for the sessions that are where they should be: migrated, and nothing else.
CREATE TEMP TABLE rc_compared ON COMMIT DROP AS
SELECT session_id, patient_code FROM rc_accounting WHERE state = 'migrated';
CREATE UNIQUE INDEX ON rc_compared (session_id);

-- name: act_therapy_sessions
CREATE TEMP TABLE rc_act_therapy_sessions ON COMMIT DROP AS
SELECT t.id AS session_id, t.file_path, t.file_hash, t.file_size_bytes::float8, t.patient_id, t.therapist_id,
       t.session_code, t.session_date, t.session_type, t.original_sampling_rate::float8,
       t.original_duration_seconds::float8, t.original_sample_count::float8, t.channel_names,
       t.channel_count::float8, t.processing_version, t.processing_status, t.processing_time_ms::float8,
       t.error_message, t.created_at, t.processed_at
FROM therapy_sessions t JOIN rc_compared c ON c.session_id = t.id;

-- name: act_emg_statistics
CREATE TEMP TABLE rc_act_emg_statistics ON COMMIT DROP AS
SELECT t.session_id, t.channel_name, t.side, t.mvc_peak_value::float8, t.mvc_rms_value::float8,
       t.mvc_confidence_score::float8, t.mvc_calculation_method, t.total_contractions::float8,
       t.good_contractions_intensity::float8, t.good_contractions_duration::float8,
       t.good_contractions_both::float8, t.completion_rate::float8, t.intensity_rate::float8,
       t.duration_rate::float8, t.muscle_compliance_score::float8, t.signal_quality_score::float8,
       t.noise_level_db::float8, t.artifacts_detected::float8, t.processing_confidence::float8,
       t.rms::float8, t.mav::float8, t.mpf::float8, t.mdf::float8, t.fatigue_index::float8,
       t.rms_mean::float8, t.rms_std::float8, t.mav_mean::float8, t.mav_std::float8, t.mpf_mean::float8,
       t.mpf_std::float8, t.mdf_mean::float8, t.mdf_std::float8, t.fatigue_index_mean::float8,
       t.fatigue_index_std::float8, t.avg_duration_ms::float8, t.min_duration_ms::float8,
       t.max_duration_ms::float8, t.total_time_under_tension_ms::float8, t.avg_amplitude::float8,
       t.max_amplitude::float8, t.processing_pipeline, t.processing_version, t.processing_time_ms::float8,
       t.mvc_threshold_percentage::float8, t.duration_threshold_seconds::float8, t.processed_at
FROM emg_statistics t JOIN rc_compared c ON c.session_id = t.session_id;

-- name: act_bfr_monitoring
CREATE TEMP TABLE rc_act_bfr_monitoring ON COMMIT DROP AS
SELECT t.session_id, t.side, t.target_pressure_aop::float8, t.actual_pressure_aop::float8,
       t.patient_aop_baseline_mmhg::float8, t.applied_pressure_mmhg::float8,
       t.bfr_session_duration_minutes::float8, t.safety_gate_status, t.source
FROM bfr_monitoring t JOIN rc_compared c ON c.session_id = t.session_id;

-- name: act_performance_scores
CREATE TEMP TABLE rc_act_performance_scores ON COMMIT DROP AS
SELECT t.session_id, t.overall_performance_score::float8, t.compliance_score::float8, t.symmetry_score::float8,
       t.effort_score::float8, t.game_score::float8,
       (t.performance_weights ->> 'compliance')::float8 AS weight_compliance,
       (t.performance_weights ->> 'symmetry')::float8 AS weight_symmetry,
       (t.performance_weights ->> 'effort')::float8 AS weight_effort,
       (t.performance_weights ->> 'game')::float8 AS weight_game,
       t.bfr_pressure_aop::float8, t.bfr_compliance_gate::float8, t.rpe_post_session::float8,
       t.session_duration_minutes::float8, t.left_muscle_completion_rate::float8,
       t.left_muscle_intensity_rate::float8, t.left_muscle_duration_rate::float8,
       t.right_muscle_completion_rate::float8, t.right_muscle_intensity_rate::float8,
       t.right_muscle_duration_rate::float8, t.missing_components::text[]
FROM performance_scores t JOIN rc_compared c ON c.session_id = t.session_id;

-- name: act_session_settings
CREATE TEMP TABLE rc_act_session_settings ON COMMIT DROP AS
SELECT t.session_id, t.mvc_calculation_method, t.mvc_threshold_percentage::float8,
       (t.performance_weights ->> 'compliance')::float8 AS weight_compliance,
       (t.performance_weights ->> 'symmetry')::float8 AS weight_symmetry,
       (t.performance_weights ->> 'effort')::float8 AS weight_effort,
       (t.performance_weights ->> 'game')::float8 AS weight_game,
       t.duration_threshold_seconds::float8, t.target_contractions_per_muscle::float8,
       t.target_contractions_left::float8, t.target_contractions_right::float8, t.channel_muscle_mapping,
       t.bfr_enabled, t.bfr_target_pressure_aop::float8, t.settings_source
FROM session_settings t JOIN rc_compared c ON c.session_id = t.session_id;

-- name: act_signal_processing_cache
CREATE TEMP TABLE rc_act_signal_processing_cache ON COMMIT DROP AS
SELECT t.session_id, t.id, t.processing_request_hash, t.processing_version, t.processing_params, t.cache_type,
       t.processing_time_ms::float8, t.hit_count::float8, t.last_accessed_at, t.expires_at, t.created_at,
       CASE WHEN t.expires_at IS NOT NULL AND t.expires_at <= now() THEN 'expired_by_now'
            WHEN t.cache_valid THEN 'valid'
            ELSE t.invalidated_reason END AS validity
FROM signal_processing_cache t JOIN rc_compared c ON c.session_id = t.session_id
-- an analysis row deleted in legacy keeps its cache row in the target (deleted_in_legacy): not compared
WHERE EXISTS (SELECT 1 FROM public.analysis_results a WHERE a.id = t.id);

-- name: act_processing_parameters
CREATE TEMP TABLE rc_act_processing_parameters ON COMMIT DROP AS
SELECT t.session_id, t.sampling_rate_hz::float8, t.filter_low_cutoff_hz::float8, t.filter_high_cutoff_hz::float8,
       t.filter_order::float8, t.smoothing_window_ms::float8, t.mvc_threshold_percentage::float8,
       t.duration_threshold_ms::float8, t.mvc_source, t.algorithm_config, t.processing_version
FROM processing_parameters t JOIN rc_compared c ON c.session_id = t.session_id;
