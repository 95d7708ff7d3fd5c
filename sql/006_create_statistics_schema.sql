-- 006_create_statistics_schema.sql: the eight tables of the Statistics-First schema (spec: target-schema.md).
--
-- How this file is applied: in ONE transaction, after `CREATE SCHEMA IF NOT EXISTS <target>` and
-- `SET LOCAL search_path TO <target>, public`. Every object below is therefore created unqualified and lands in
-- the target schema (public by default, e.g. `stats` when public already holds the legacy session_settings).
-- The legacy tables referenced here (patients, therapists, researcher_profiles) are found through the same
-- search_path; this file never alters, drops or renames them. Every function carries `SET search_path FROM
-- CURRENT`, so its unqualified names resolve to the target schema whatever the caller's search_path is.
--
-- Layout: helper functions first, then one section per table (table, comments, indexes, row-level security,
-- policies, grants, triggers), so that each table's protection sits next to it.
--
-- Access model (Supabase semantics):
--   * researchers (researcher_profiles.id = auth.uid()): read every row of every table; insert their own
--     export_history rows;
--   * therapists (therapists.user_id = auth.uid()): read the sessions of their own patients
--     (patients.therapist_id = their therapists.id) and sessions assigned to them (therapy_sessions.therapist_id),
--     and the child rows of those sessions; they see no export_history rows; they write nothing;
--   * anon: no privilege at all;
--   * service_role (BYPASSRLS) and the table owner: the pipeline, full access.

-- =================================================================================================================
-- Helper functions that do not read tables
-- =================================================================================================================

CREATE FUNCTION statsfirst_touch_updated_at() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path FROM CURRENT
AS $$
BEGIN
    -- An UPDATE that changes the row without setting updated_at itself gets now(). An UPDATE that sets
    -- updated_at explicitly (the migration carrying the legacy value) keeps it, and a no-op UPDATE (an
    -- idempotent re-load writing identical values) changes nothing, so re-runs do not disturb lineage.
    IF NEW IS DISTINCT FROM OLD AND NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION statsfirst_touch_updated_at() IS
    'BEFORE UPDATE trigger function keeping updated_at: set to now() when a row changes and the UPDATE did not '
    'set updated_at itself; explicit values (legacy timestamps) and no-op updates are left alone.';

-- =================================================================================================================
-- 1. therapy_sessions: one row per C3D file (legacy c3d_metadata row), same id
-- =================================================================================================================

CREATE TABLE therapy_sessions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    file_path text NOT NULL,
    file_hash text NOT NULL,
    file_size_bytes bigint NOT NULL,
    patient_id text REFERENCES patients (patient_code) ON UPDATE CASCADE ON DELETE SET NULL,
    therapist_id uuid REFERENCES therapists (id) ON UPDATE CASCADE ON DELETE SET NULL,
    session_code text,
    session_date timestamptz,
    session_type text,
    protocol_day integer,
    original_sampling_rate float8,
    original_duration_seconds float8,
    original_sample_count integer,
    channel_names jsonb,
    channel_count integer,
    game_metadata jsonb,
    processing_version text NOT NULL,
    processing_status text NOT NULL DEFAULT 'pending',
    processing_time_ms integer,
    error_message text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz,
    CONSTRAINT therapy_sessions_file_path_key UNIQUE (file_path),
    -- a length test and an unbounded class, not a bounded repetition, which compiles into a large automaton (~10 us
    -- a row on PostgreSQL 15, against under 1 us); the same values pass and fail (tests/schema/test_constraints.py)
    CONSTRAINT therapy_sessions_file_hash_check CHECK (length(file_hash) = 64 AND file_hash ~ '^[0-9a-f]+$'),
    CONSTRAINT therapy_sessions_file_size_bytes_check CHECK (file_size_bytes >= 0),
    CONSTRAINT therapy_sessions_session_type_check
        CHECK (session_type IS NULL OR session_type IN ('baseline', 'training', 'assessment')),
    CONSTRAINT therapy_sessions_protocol_day_check CHECK (protocol_day IS NULL OR protocol_day BETWEEN 1 AND 14),
    CONSTRAINT therapy_sessions_original_sampling_rate_check
        CHECK (original_sampling_rate IS NULL OR original_sampling_rate > 0),
    CONSTRAINT therapy_sessions_original_duration_seconds_check
        CHECK (original_duration_seconds IS NULL OR original_duration_seconds > 0),
    CONSTRAINT therapy_sessions_original_sample_count_check
        CHECK (original_sample_count IS NULL OR original_sample_count > 0),
    CONSTRAINT therapy_sessions_channel_names_check
        CHECK (channel_names IS NULL
               OR (jsonb_typeof(channel_names) = 'array' AND jsonb_array_length(channel_names) > 0)),
    CONSTRAINT therapy_sessions_channel_count_check CHECK (channel_count IS NULL OR channel_count > 0),
    CONSTRAINT therapy_sessions_processing_status_check
        CHECK (processing_status IN ('pending', 'processing', 'completed', 'failed')),
    CONSTRAINT therapy_sessions_processing_time_ms_check CHECK (processing_time_ms IS NULL OR processing_time_ms >= 0)
);

COMMENT ON TABLE therapy_sessions IS
    'Statistics-First: one row per recorded therapy session, i.e. per uploaded C3D file. Fed from legacy '
    'c3d_metadata, keeping its id (therapy_sessions.id = c3d_metadata.id). Parent of every other table.';
COMMENT ON COLUMN therapy_sessions.id IS 'Session id; equals the legacy c3d_metadata.id (identity preserved).';
COMMENT ON COLUMN therapy_sessions.file_path IS
    'Storage object name of the C3D file (e.g. P005/Ghostly_Emg_....c3d), from c3d_metadata.file_path; natural key.';
COMMENT ON COLUMN therapy_sessions.file_hash IS
    'SHA-256 of the C3D file as 64 lower-case hex digits, from c3d_metadata.file_hash; not unique (re-uploads).';
COMMENT ON COLUMN therapy_sessions.file_size_bytes IS 'Size of the C3D file in bytes (0 = unknown), from c3d_metadata.';
COMMENT ON COLUMN therapy_sessions.patient_id IS
    'Patient code (patients.patient_code, e.g. P005): c3d_metadata.resolved_patient_id, else patient_id; '
    'NULL when Unknown or not a known patient (raw value kept in the migration lineage).';
COMMENT ON COLUMN therapy_sessions.therapist_id IS
    'Therapist (therapists.id) responsible for the session: the legacy therapist_id when it is a known therapist '
    'uuid, else NULL (legacy held only NULL/''Unknown'').';
COMMENT ON COLUMN therapy_sessions.session_code IS 'Legacy session identifier (c3d_metadata.session_id, a path folder), or NULL.';
COMMENT ON COLUMN therapy_sessions.session_date IS
    'When the session took place: c3d_metadata.session_date, else resolved_session_date (naive values read as UTC).';
COMMENT ON COLUMN therapy_sessions.session_type IS
    'baseline, training or assessment; legacy value when in that set, else NULL.';
COMMENT ON COLUMN therapy_sessions.protocol_day IS 'Day 1-14 of the GHOSTLY+ protocol; NULL (never recorded in legacy).';
COMMENT ON COLUMN therapy_sessions.original_sampling_rate IS
    'Sampling rate (Hz) stated by the legacy row (c3d_metadata.sampling_rate; 33 Hz is the C3D point rate), '
    'NULL when 0/unknown.';
COMMENT ON COLUMN therapy_sessions.original_duration_seconds IS
    'Recording length in seconds (c3d_metadata.duration_seconds), NULL when 0/unknown.';
COMMENT ON COLUMN therapy_sessions.original_sample_count IS
    'Number of frames in the recording (c3d_metadata.frame_count, point frames), NULL when 0/unknown.';
COMMENT ON COLUMN therapy_sessions.channel_names IS
    'JSON array of EMG channel names (c3d_metadata.channel_names), NULL when the legacy value is [] or NULL.';
COMMENT ON COLUMN therapy_sessions.channel_count IS 'Number of EMG channels (c3d_metadata.channel_count), NULL when 0/unknown.';
COMMENT ON COLUMN therapy_sessions.game_metadata IS 'Game information from the C3D file (c3d_metadata.game_metadata), as is.';
COMMENT ON COLUMN therapy_sessions.processing_version IS
    'Version of the EMG processing that produced the statistics: current analysis processing_version, else '
    'c3d_metadata.processing_version, else ''unknown''. Changing it invalidates the session''s cache rows.';
COMMENT ON COLUMN therapy_sessions.processing_status IS
    'pending, processing, completed or failed, from c3d_metadata.processing_status.';
COMMENT ON COLUMN therapy_sessions.processing_time_ms IS 'Processing time in ms of the current analysis (analysis_results.processing_time_ms).';
COMMENT ON COLUMN therapy_sessions.error_message IS 'Processing error text, from c3d_metadata.error_message.';
COMMENT ON COLUMN therapy_sessions.created_at IS 'When the file was registered (c3d_metadata.created_at).';
COMMENT ON COLUMN therapy_sessions.updated_at IS
    'Last change (c3d_metadata.updated_at when migrated); kept by trigger therapy_sessions_touch_updated_at.';
COMMENT ON COLUMN therapy_sessions.processed_at IS 'When processing completed (c3d_metadata.processed_at).';

CREATE INDEX therapy_sessions_patient_date_idx ON therapy_sessions (patient_id, session_date DESC);
COMMENT ON INDEX therapy_sessions_patient_date_idx IS 'Clinical read path: a patient''s sessions, newest first.';
CREATE INDEX therapy_sessions_therapist_date_idx ON therapy_sessions (therapist_id, session_date DESC);
COMMENT ON INDEX therapy_sessions_therapist_date_idx IS 'Clinical read path: a therapist''s sessions, newest first.';
CREATE INDEX therapy_sessions_file_hash_idx ON therapy_sessions (file_hash);
COMMENT ON INDEX therapy_sessions_file_hash_idx IS 'Lookup by file hash (cache and compatibility-view reads).';

CREATE TRIGGER therapy_sessions_touch_updated_at
    BEFORE UPDATE ON therapy_sessions
    FOR EACH ROW EXECUTE FUNCTION statsfirst_touch_updated_at();
COMMENT ON TRIGGER therapy_sessions_touch_updated_at ON therapy_sessions IS 'Keeps updated_at on change.';

-- =================================================================================================================
-- Row-level security helpers (need therapy_sessions; SECURITY DEFINER so that policies read the legacy
-- patients/therapists/researcher_profiles tables and therapy_sessions without going through their RLS, which
-- avoids policy recursion and works when the legacy tables have RLS of their own)
-- =================================================================================================================

CREATE FUNCTION statsfirst_is_researcher() RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path FROM CURRENT
AS $$
    SELECT EXISTS (SELECT 1 FROM researcher_profiles WHERE id = auth.uid())
$$;
COMMENT ON FUNCTION statsfirst_is_researcher() IS
    'RLS helper: true when the caller (auth.uid()) has a researcher_profiles row. SECURITY DEFINER, STABLE.';

CREATE FUNCTION statsfirst_current_therapist_id() RETURNS uuid
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path FROM CURRENT
AS $$
    SELECT id FROM therapists WHERE user_id = auth.uid()
$$;
COMMENT ON FUNCTION statsfirst_current_therapist_id() IS
    'RLS helper: therapists.id of the caller (therapists.user_id = auth.uid()), NULL when not a therapist.';

CREATE FUNCTION statsfirst_current_therapist_patient_codes() RETURNS SETOF text
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path FROM CURRENT
AS $$
    SELECT p.patient_code
    FROM patients AS p
    JOIN therapists AS t ON t.id = p.therapist_id
    WHERE t.user_id = auth.uid()
$$;
COMMENT ON FUNCTION statsfirst_current_therapist_patient_codes() IS
    'RLS helper: patient codes of the caller''s own patients (patients.therapist_id = the caller''s therapists.id).';

CREATE FUNCTION statsfirst_can_read_session(session_id uuid) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path FROM CURRENT
AS $$
    SELECT EXISTS (SELECT 1 FROM researcher_profiles WHERE id = auth.uid())
        OR EXISTS (
            SELECT 1
            FROM therapy_sessions AS s
            JOIN therapists AS t ON t.user_id = auth.uid()
            WHERE s.id = statsfirst_can_read_session.session_id
              AND (s.therapist_id = t.id
                   OR EXISTS (SELECT 1 FROM patients AS p
                              WHERE p.patient_code = s.patient_id AND p.therapist_id = t.id))
        )
$$;
COMMENT ON FUNCTION statsfirst_can_read_session(uuid) IS
    'RLS helper for child tables: true when the caller is a researcher, or a therapist to whom the session '
    'belongs (therapy_sessions.therapist_id) or whose patient it is (patients.therapist_id via patient_code).';

REVOKE ALL ON FUNCTION statsfirst_is_researcher(), statsfirst_current_therapist_id(),
    statsfirst_current_therapist_patient_codes(), statsfirst_can_read_session(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION statsfirst_is_researcher(), statsfirst_current_therapist_id(),
    statsfirst_current_therapist_patient_codes(), statsfirst_can_read_session(uuid)
    TO anon, authenticated, service_role;

DO $$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO anon, authenticated, service_role', current_schema());
END
$$;

-- RLS of therapy_sessions
ALTER TABLE therapy_sessions ENABLE ROW LEVEL SECURITY;
CREATE POLICY therapy_sessions_select ON therapy_sessions
    FOR SELECT TO authenticated
    USING ((SELECT statsfirst_is_researcher())
           OR therapist_id = (SELECT statsfirst_current_therapist_id())
           OR patient_id IN (SELECT statsfirst_current_therapist_patient_codes()));
COMMENT ON POLICY therapy_sessions_select ON therapy_sessions IS
    'Researchers read all sessions; therapists read sessions assigned to them or of their own patients.';
REVOKE ALL ON therapy_sessions FROM PUBLIC, anon, authenticated;
GRANT SELECT ON therapy_sessions TO authenticated;
GRANT ALL ON therapy_sessions TO service_role;

-- =================================================================================================================
-- 2. emg_statistics: one row per session x EMG channel
-- =================================================================================================================

CREATE TABLE emg_statistics (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id uuid NOT NULL REFERENCES therapy_sessions (id) ON DELETE CASCADE,
    channel_name text NOT NULL,
    side text,
    mvc_peak_value float8,
    mvc_rms_value float8,
    mvc_confidence_score float8,
    mvc_calculation_method text,
    total_contractions integer,
    good_contractions_intensity integer,
    good_contractions_duration integer,
    good_contractions_both integer,
    completion_rate float8,
    intensity_rate float8,
    duration_rate float8,
    muscle_compliance_score float8,
    signal_quality_score float8,
    noise_level_db float8,
    artifacts_detected integer,
    processing_confidence float8,
    rms float8,
    mav float8,
    mpf float8,
    mdf float8,
    fatigue_index float8,
    rms_mean float8,
    rms_std float8,
    mav_mean float8,
    mav_std float8,
    mpf_mean float8,
    mpf_std float8,
    mdf_mean float8,
    mdf_std float8,
    fatigue_index_mean float8,
    fatigue_index_std float8,
    avg_duration_ms float8,
    min_duration_ms float8,
    max_duration_ms float8,
    total_time_under_tension_ms float8,
    avg_amplitude float8,
    max_amplitude float8,
    processing_pipeline text,
    processing_version text NOT NULL,
    processing_time_ms integer,
    mvc_threshold_percentage float8 NOT NULL DEFAULT 0.75,
    duration_threshold_seconds float8 NOT NULL DEFAULT 2.0,
    processed_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT emg_statistics_session_channel_key UNIQUE (session_id, channel_name),
    CONSTRAINT emg_statistics_channel_name_check CHECK (channel_name <> ''),
    CONSTRAINT emg_statistics_side_check CHECK (side IS NULL OR side IN ('left', 'right')),
    CONSTRAINT emg_statistics_mvc_peak_value_check CHECK (mvc_peak_value IS NULL OR mvc_peak_value >= 0),
    CONSTRAINT emg_statistics_mvc_rms_value_check CHECK (mvc_rms_value IS NULL OR mvc_rms_value >= 0),
    CONSTRAINT emg_statistics_mvc_confidence_score_check
        CHECK (mvc_confidence_score IS NULL OR mvc_confidence_score BETWEEN 0 AND 1),
    CONSTRAINT emg_statistics_mvc_calculation_method_check
        CHECK (mvc_calculation_method IS NULL OR mvc_calculation_method IN ('backend_95percentile', 'user_defined')),
    CONSTRAINT emg_statistics_total_contractions_check CHECK (total_contractions IS NULL OR total_contractions >= 0),
    CONSTRAINT emg_statistics_good_contractions_intensity_check
        CHECK (good_contractions_intensity IS NULL OR good_contractions_intensity >= 0),
    CONSTRAINT emg_statistics_good_contractions_duration_check
        CHECK (good_contractions_duration IS NULL OR good_contractions_duration >= 0),
    CONSTRAINT emg_statistics_good_contractions_both_check
        CHECK (good_contractions_both IS NULL OR good_contractions_both >= 0),
    -- least() ignores NULLs: with one criterion unknown, good_both is bounded by the other
    CONSTRAINT emg_statistics_good_both_le_criteria_check
        CHECK (good_contractions_both <= least(good_contractions_intensity, good_contractions_duration)),
    CONSTRAINT emg_statistics_good_intensity_le_total_check CHECK (good_contractions_intensity <= total_contractions),
    CONSTRAINT emg_statistics_good_duration_le_total_check CHECK (good_contractions_duration <= total_contractions),
    CONSTRAINT emg_statistics_good_both_le_total_check CHECK (good_contractions_both <= total_contractions),
    CONSTRAINT emg_statistics_completion_rate_check CHECK (completion_rate IS NULL OR completion_rate BETWEEN 0 AND 1),
    CONSTRAINT emg_statistics_intensity_rate_check CHECK (intensity_rate IS NULL OR intensity_rate BETWEEN 0 AND 1),
    CONSTRAINT emg_statistics_duration_rate_check CHECK (duration_rate IS NULL OR duration_rate BETWEEN 0 AND 1),
    CONSTRAINT emg_statistics_muscle_compliance_score_check
        CHECK (muscle_compliance_score IS NULL OR muscle_compliance_score BETWEEN 0 AND 1),
    CONSTRAINT emg_statistics_signal_quality_score_check
        CHECK (signal_quality_score IS NULL OR signal_quality_score BETWEEN 0 AND 1),
    CONSTRAINT emg_statistics_artifacts_detected_check CHECK (artifacts_detected IS NULL OR artifacts_detected >= 0),
    CONSTRAINT emg_statistics_processing_confidence_check
        CHECK (processing_confidence IS NULL OR processing_confidence BETWEEN 0 AND 1),
    CONSTRAINT emg_statistics_rms_check CHECK (rms IS NULL OR rms >= 0),
    CONSTRAINT emg_statistics_mav_check CHECK (mav IS NULL OR mav >= 0),
    CONSTRAINT emg_statistics_mpf_check CHECK (mpf IS NULL OR mpf >= 0),
    CONSTRAINT emg_statistics_mdf_check CHECK (mdf IS NULL OR mdf >= 0),
    CONSTRAINT emg_statistics_rms_std_check CHECK (rms_std IS NULL OR rms_std >= 0),
    CONSTRAINT emg_statistics_mav_std_check CHECK (mav_std IS NULL OR mav_std >= 0),
    CONSTRAINT emg_statistics_mpf_std_check CHECK (mpf_std IS NULL OR mpf_std >= 0),
    CONSTRAINT emg_statistics_mdf_std_check CHECK (mdf_std IS NULL OR mdf_std >= 0),
    CONSTRAINT emg_statistics_fatigue_index_std_check CHECK (fatigue_index_std IS NULL OR fatigue_index_std >= 0),
    CONSTRAINT emg_statistics_avg_duration_ms_check CHECK (avg_duration_ms IS NULL OR avg_duration_ms >= 0),
    CONSTRAINT emg_statistics_min_duration_ms_check CHECK (min_duration_ms IS NULL OR min_duration_ms >= 0),
    CONSTRAINT emg_statistics_max_duration_ms_check CHECK (max_duration_ms IS NULL OR max_duration_ms >= 0),
    CONSTRAINT emg_statistics_total_time_under_tension_ms_check
        CHECK (total_time_under_tension_ms IS NULL OR total_time_under_tension_ms >= 0),
    CONSTRAINT emg_statistics_processing_time_ms_check CHECK (processing_time_ms IS NULL OR processing_time_ms >= 0),
    CONSTRAINT emg_statistics_mvc_threshold_percentage_check
        CHECK (mvc_threshold_percentage > 0 AND mvc_threshold_percentage <= 1),
    CONSTRAINT emg_statistics_duration_threshold_seconds_check CHECK (duration_threshold_seconds > 0)
);

COMMENT ON TABLE emg_statistics IS
    'Statistics-First: per-channel EMG statistics of a session (one row per session x channel), from '
    'analytics_data.<channel> of the session''s current legacy analysis_results row.';
COMMENT ON COLUMN emg_statistics.id IS 'Row id (generated).';
COMMENT ON COLUMN emg_statistics.session_id IS 'The session (therapy_sessions.id = legacy c3d_metadata.id).';
COMMENT ON COLUMN emg_statistics.channel_name IS 'EMG channel key of analytics_data (e.g. CH1); unique per session.';
COMMENT ON COLUMN emg_statistics.side IS
    'left or right quadriceps: first sorted channel key = left, second = right (legacy convention), unless a '
    'linked channel_muscle_mapping says otherwise; NULL for further channels.';
COMMENT ON COLUMN emg_statistics.mvc_peak_value IS
    'Estimated MVC amplitude (V) = mvc_threshold_actual_value / mvc_threshold_percentage; NULL without threshold.';
COMMENT ON COLUMN emg_statistics.mvc_rms_value IS 'MVC RMS amplitude (V); NULL (never recorded in legacy).';
COMMENT ON COLUMN emg_statistics.mvc_confidence_score IS 'Confidence of the MVC estimate, 0-1; NULL (never recorded).';
COMMENT ON COLUMN emg_statistics.mvc_calculation_method IS
    'backend_95percentile (legacy backend_estimation) or user_defined (user_provided/global_provided).';
COMMENT ON COLUMN emg_statistics.total_contractions IS 'Contractions detected (analytics contraction_count).';
COMMENT ON COLUMN emg_statistics.good_contractions_intensity IS
    'Contractions reaching the MVC threshold (analytics mvc_contraction_count).';
COMMENT ON COLUMN emg_statistics.good_contractions_duration IS
    'Contractions lasting at least the duration threshold (analytics duration_contraction_count).';
COMMENT ON COLUMN emg_statistics.good_contractions_both IS
    'Contractions meeting both criteria (analytics good_contraction_count).';
COMMENT ON COLUMN emg_statistics.completion_rate IS 'R_comp = min(total / target contractions, 1) (metricsDefinitions).';
COMMENT ON COLUMN emg_statistics.intensity_rate IS 'R_int = good_contractions_intensity / total (0 when total = 0).';
COMMENT ON COLUMN emg_statistics.duration_rate IS 'R_dur = good_contractions_duration / total (0 when total = 0).';
COMMENT ON COLUMN emg_statistics.muscle_compliance_score IS
    'S_comp = weighted mean of completion, intensity and duration rates (1/3 each by default), 0-1.';
COMMENT ON COLUMN emg_statistics.signal_quality_score IS 'Signal quality 0-1; NULL (never recorded in legacy).';
COMMENT ON COLUMN emg_statistics.noise_level_db IS 'Noise level in dB; NULL (never recorded in legacy).';
COMMENT ON COLUMN emg_statistics.artifacts_detected IS 'Number of artefacts detected; NULL (never recorded in legacy).';
COMMENT ON COLUMN emg_statistics.processing_confidence IS 'Processing confidence 0-1; NULL (never recorded in legacy).';
COMMENT ON COLUMN emg_statistics.rms IS 'Root mean square amplitude (V), analytics rms.';
COMMENT ON COLUMN emg_statistics.mav IS 'Mean absolute value (V), analytics mav.';
COMMENT ON COLUMN emg_statistics.mpf IS 'Mean power frequency (Hz), analytics mpf.';
COMMENT ON COLUMN emg_statistics.mdf IS 'Median frequency (Hz), analytics mdf.';
COMMENT ON COLUMN emg_statistics.fatigue_index IS 'Fatigue index FI_nsm5, analytics fatigue_index_fi_nsm5.';
COMMENT ON COLUMN emg_statistics.rms_mean IS 'Mean of windowed RMS (rms_temporal_stats.mean_value).';
COMMENT ON COLUMN emg_statistics.rms_std IS 'Std deviation of windowed RMS (rms_temporal_stats.std_value).';
COMMENT ON COLUMN emg_statistics.mav_mean IS 'Mean of windowed MAV (mav_temporal_stats.mean_value).';
COMMENT ON COLUMN emg_statistics.mav_std IS 'Std deviation of windowed MAV (mav_temporal_stats.std_value).';
COMMENT ON COLUMN emg_statistics.mpf_mean IS 'Mean of windowed MPF (mpf_temporal_stats.mean_value).';
COMMENT ON COLUMN emg_statistics.mpf_std IS 'Std deviation of windowed MPF (mpf_temporal_stats.std_value).';
COMMENT ON COLUMN emg_statistics.mdf_mean IS 'Mean of windowed MDF (mdf_temporal_stats.mean_value).';
COMMENT ON COLUMN emg_statistics.mdf_std IS 'Std deviation of windowed MDF (mdf_temporal_stats.std_value).';
COMMENT ON COLUMN emg_statistics.fatigue_index_mean IS 'Mean of windowed fatigue index (fatigue_index_temporal_stats.mean_value).';
COMMENT ON COLUMN emg_statistics.fatigue_index_std IS 'Std deviation of windowed fatigue index (fatigue_index_temporal_stats.std_value).';
COMMENT ON COLUMN emg_statistics.avg_duration_ms IS 'Mean contraction duration in ms (analytics avg_duration_ms).';
COMMENT ON COLUMN emg_statistics.min_duration_ms IS 'Shortest contraction in ms (analytics min_duration_ms).';
COMMENT ON COLUMN emg_statistics.max_duration_ms IS 'Longest contraction in ms (analytics max_duration_ms).';
COMMENT ON COLUMN emg_statistics.total_time_under_tension_ms IS 'Summed contraction time in ms (analytics total_time_under_tension_ms).';
COMMENT ON COLUMN emg_statistics.avg_amplitude IS 'Mean contraction amplitude (V), analytics avg_amplitude.';
COMMENT ON COLUMN emg_statistics.max_amplitude IS 'Largest contraction amplitude (V), analytics max_amplitude.';
COMMENT ON COLUMN emg_statistics.processing_pipeline IS
    'Processing steps joined with '' -> '' (signal_processing.processing_steps), NULL when absent.';
COMMENT ON COLUMN emg_statistics.processing_version IS 'Processing version of the analysis the row comes from.';
COMMENT ON COLUMN emg_statistics.processing_time_ms IS 'Processing time in ms of that analysis.';
COMMENT ON COLUMN emg_statistics.mvc_threshold_percentage IS
    'MVC fraction a contraction must reach, (0, 1]; the setting in force (default 0.75).';
COMMENT ON COLUMN emg_statistics.duration_threshold_seconds IS
    'Minimum contraction duration in s: duration_threshold_actual_value / 1000, else the setting (default 2.0).';
COMMENT ON COLUMN emg_statistics.processed_at IS 'When the analysis was produced (legacy analysis created_at).';
COMMENT ON COLUMN emg_statistics.created_at IS 'When this row was written by the migration/pipeline.';

-- the unique (session_id, channel_name) index also serves as the session_id index
CREATE INDEX emg_statistics_session_side_idx ON emg_statistics (session_id, side);
COMMENT ON INDEX emg_statistics_session_side_idx IS 'Clinical read path: a session''s left/right channel.';
CREATE INDEX emg_statistics_compliance_idx ON emg_statistics (muscle_compliance_score);
COMMENT ON INDEX emg_statistics_compliance_idx IS 'Clinical read path: channels by muscle compliance score.';

ALTER TABLE emg_statistics ENABLE ROW LEVEL SECURITY;
CREATE POLICY emg_statistics_select ON emg_statistics
    FOR SELECT TO authenticated
    USING ((SELECT statsfirst_is_researcher()) OR statsfirst_can_read_session(session_id));
COMMENT ON POLICY emg_statistics_select ON emg_statistics IS
    'Researchers read all rows; therapists read the rows of sessions they may read.';
REVOKE ALL ON emg_statistics FROM PUBLIC, anon, authenticated;
GRANT SELECT ON emg_statistics TO authenticated;
GRANT ALL ON emg_statistics TO service_role;

-- =================================================================================================================
-- 3. performance_scores: one row per session (metricsDefinitions formulas)
-- =================================================================================================================

CREATE TABLE performance_scores (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id uuid NOT NULL REFERENCES therapy_sessions (id) ON DELETE CASCADE,
    overall_performance_score float8,
    compliance_score float8,
    symmetry_score float8,
    effort_score float8,
    game_score float8,
    performance_weights jsonb NOT NULL
        DEFAULT '{"compliance": 0.40, "symmetry": 0.25, "effort": 0.20, "game": 0.15}'::jsonb,
    bfr_pressure_aop float8,
    bfr_compliance_gate smallint,
    rpe_post_session numeric(3, 1),
    game_points_achieved integer,
    game_points_maximum integer,
    session_duration_minutes float8,
    left_muscle_completion_rate float8,
    left_muscle_intensity_rate float8,
    left_muscle_duration_rate float8,
    right_muscle_completion_rate float8,
    right_muscle_intensity_rate float8,
    right_muscle_duration_rate float8,
    missing_components text[] NOT NULL DEFAULT '{}',
    scoring_version text NOT NULL,
    calculated_at timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT performance_scores_session_id_key UNIQUE (session_id),
    CONSTRAINT performance_scores_overall_performance_score_check
        CHECK (overall_performance_score IS NULL OR overall_performance_score BETWEEN 0 AND 100),
    CONSTRAINT performance_scores_compliance_score_check
        CHECK (compliance_score IS NULL OR compliance_score BETWEEN 0 AND 100),
    CONSTRAINT performance_scores_symmetry_score_check
        CHECK (symmetry_score IS NULL OR symmetry_score BETWEEN 0 AND 100),
    CONSTRAINT performance_scores_effort_score_check CHECK (effort_score IS NULL OR effort_score BETWEEN 0 AND 100),
    CONSTRAINT performance_scores_game_score_check CHECK (game_score IS NULL OR game_score BETWEEN 0 AND 100),
    CONSTRAINT performance_scores_bfr_pressure_aop_check
        CHECK (bfr_pressure_aop IS NULL OR bfr_pressure_aop BETWEEN 0 AND 100),
    CONSTRAINT performance_scores_bfr_compliance_gate_check
        CHECK (bfr_compliance_gate IS NULL OR bfr_compliance_gate IN (0, 1)),
    CONSTRAINT performance_scores_rpe_post_session_check
        CHECK (rpe_post_session IS NULL OR rpe_post_session BETWEEN 0 AND 10),
    CONSTRAINT performance_scores_game_points_achieved_check
        CHECK (game_points_achieved IS NULL OR game_points_achieved >= 0),
    CONSTRAINT performance_scores_game_points_maximum_check
        CHECK (game_points_maximum IS NULL OR game_points_maximum > 0),
    CONSTRAINT performance_scores_game_points_achieved_le_maximum_check
        CHECK (game_points_achieved <= game_points_maximum),
    CONSTRAINT performance_scores_session_duration_minutes_check
        CHECK (session_duration_minutes IS NULL OR session_duration_minutes >= 0),
    CONSTRAINT performance_scores_left_muscle_completion_rate_check
        CHECK (left_muscle_completion_rate IS NULL OR left_muscle_completion_rate BETWEEN 0 AND 1),
    CONSTRAINT performance_scores_left_muscle_intensity_rate_check
        CHECK (left_muscle_intensity_rate IS NULL OR left_muscle_intensity_rate BETWEEN 0 AND 1),
    CONSTRAINT performance_scores_left_muscle_duration_rate_check
        CHECK (left_muscle_duration_rate IS NULL OR left_muscle_duration_rate BETWEEN 0 AND 1),
    CONSTRAINT performance_scores_right_muscle_completion_rate_check
        CHECK (right_muscle_completion_rate IS NULL OR right_muscle_completion_rate BETWEEN 0 AND 1),
    CONSTRAINT performance_scores_right_muscle_intensity_rate_check
        CHECK (right_muscle_intensity_rate IS NULL OR right_muscle_intensity_rate BETWEEN 0 AND 1),
    CONSTRAINT performance_scores_right_muscle_duration_rate_check
        CHECK (right_muscle_duration_rate IS NULL OR right_muscle_duration_rate BETWEEN 0 AND 1)
);

COMMENT ON TABLE performance_scores IS
    'Statistics-First: the session''s performance scores (one row per session with emg_statistics), derived '
    'with the metricsDefinitions.md formulas; weights stored on every row.';
COMMENT ON COLUMN performance_scores.id IS 'Row id (generated).';
COMMENT ON COLUMN performance_scores.session_id IS 'The session (therapy_sessions.id); one row per session.';
COMMENT ON COLUMN performance_scores.overall_performance_score IS
    'P_overall = (w_c*compliance + w_s*symmetry + w_e*effort + w_g*game) * C_BFR, 0-100; NULL when a weighted '
    'component is missing (listed in missing_components).';
COMMENT ON COLUMN performance_scores.compliance_score IS 'S_compliance = 100 * (L + R) / 2 * C_BFR from the per-side S_comp, 0-100.';
COMMENT ON COLUMN performance_scores.symmetry_score IS
    'S_symmetry = 100 * (1 - |L - R| / (L + R)), 0-100; NULL when L + R = 0 or a side is missing.';
COMMENT ON COLUMN performance_scores.effort_score IS 'S_effort from post-session RPE (Borg CR-10 bands), 0-100; NULL when RPE unknown.';
COMMENT ON COLUMN performance_scores.game_score IS 'S_game = 100 * points / maximum, 0-100; NULL when unknown (legacy never stored points).';
COMMENT ON COLUMN performance_scores.performance_weights IS
    'Weights used: {"compliance","symmetry","effort","game"}, each in [0, 1], summing to 1 (run parameter).';
COMMENT ON COLUMN performance_scores.bfr_pressure_aop IS 'Applied BFR pressure in % AOP (legacy session_settings bfr_parameters), 0-100.';
COMMENT ON COLUMN performance_scores.bfr_compliance_gate IS
    'C_BFR: 1 when pressure within [45, 55] % AOP on every recorded side, else 0; NULL when no BFR record.';
COMMENT ON COLUMN performance_scores.rpe_post_session IS 'Post-session RPE, Borg CR-10 (0-10, half steps), from legacy session_settings params.';
COMMENT ON COLUMN performance_scores.game_points_achieved IS 'Game points scored; NULL (never stored in legacy).';
COMMENT ON COLUMN performance_scores.game_points_maximum IS 'Maximum game points; NULL (never stored in legacy).';
COMMENT ON COLUMN performance_scores.session_duration_minutes IS 'Session length in minutes (from the recording duration).';
COMMENT ON COLUMN performance_scores.left_muscle_completion_rate IS 'Left side completion rate (emg_statistics.completion_rate).';
COMMENT ON COLUMN performance_scores.left_muscle_intensity_rate IS 'Left side intensity rate (emg_statistics.intensity_rate).';
COMMENT ON COLUMN performance_scores.left_muscle_duration_rate IS 'Left side duration rate (emg_statistics.duration_rate).';
COMMENT ON COLUMN performance_scores.right_muscle_completion_rate IS 'Right side completion rate (emg_statistics.completion_rate).';
COMMENT ON COLUMN performance_scores.right_muscle_intensity_rate IS 'Right side intensity rate (emg_statistics.intensity_rate).';
COMMENT ON COLUMN performance_scores.right_muscle_duration_rate IS 'Right side duration rate (emg_statistics.duration_rate).';
COMMENT ON COLUMN performance_scores.missing_components IS
    'Score inputs that were absent (e.g. effort, game, bfr_gate); empty when all were present.';
COMMENT ON COLUMN performance_scores.scoring_version IS 'Version of the scoring formulas that produced the row.';
COMMENT ON COLUMN performance_scores.calculated_at IS 'When the scores were computed.';
COMMENT ON COLUMN performance_scores.created_at IS 'When this row was written by the migration/pipeline.';

-- the unique (session_id) index also serves as the session_id index
CREATE INDEX performance_scores_overall_idx ON performance_scores (overall_performance_score);
COMMENT ON INDEX performance_scores_overall_idx IS 'Clinical read path: sessions by overall performance score.';

ALTER TABLE performance_scores ENABLE ROW LEVEL SECURITY;
CREATE POLICY performance_scores_select ON performance_scores
    FOR SELECT TO authenticated
    USING ((SELECT statsfirst_is_researcher()) OR statsfirst_can_read_session(session_id));
COMMENT ON POLICY performance_scores_select ON performance_scores IS
    'Researchers read all rows; therapists read the rows of sessions they may read.';
REVOKE ALL ON performance_scores FROM PUBLIC, anon, authenticated;
GRANT SELECT ON performance_scores TO authenticated;
GRANT ALL ON performance_scores TO service_role;

-- =================================================================================================================
-- 4. bfr_monitoring: one row per session x side, only where BFR data exists
-- =================================================================================================================

CREATE TABLE bfr_monitoring (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id uuid NOT NULL REFERENCES therapy_sessions (id) ON DELETE CASCADE,
    side text NOT NULL,
    target_pressure_aop float8 NOT NULL,
    actual_pressure_aop float8 NOT NULL,
    pressure_stability_coefficient float8,
    safety_gate_status boolean NOT NULL,
    safety_violations_count integer,
    safety_violations_duration_seconds float8,
    max_pressure_deviation_aop float8,
    patient_aop_baseline_mmhg float8,
    applied_pressure_mmhg float8,
    patient_limb_circumference_cm float8,
    cuff_size text,
    cuff_position text,
    monitoring_device text,
    device_calibration_date date,
    device_serial_number text,
    bfr_session_duration_minutes float8,
    monitoring_frequency_hz float8,
    source text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT bfr_monitoring_session_side_key UNIQUE (session_id, side),
    CONSTRAINT bfr_monitoring_side_check CHECK (side IN ('left', 'right')),
    CONSTRAINT bfr_monitoring_target_pressure_aop_check CHECK (target_pressure_aop BETWEEN 0 AND 100),
    CONSTRAINT bfr_monitoring_actual_pressure_aop_check CHECK (actual_pressure_aop BETWEEN 0 AND 100),
    CONSTRAINT bfr_monitoring_safety_gate_status_check
        CHECK (safety_gate_status = (actual_pressure_aop BETWEEN 45 AND 55)),
    CONSTRAINT bfr_monitoring_pressure_stability_coefficient_check
        CHECK (pressure_stability_coefficient IS NULL OR pressure_stability_coefficient >= 0),
    CONSTRAINT bfr_monitoring_safety_violations_count_check
        CHECK (safety_violations_count IS NULL OR safety_violations_count >= 0),
    CONSTRAINT bfr_monitoring_safety_violations_duration_seconds_check
        CHECK (safety_violations_duration_seconds IS NULL OR safety_violations_duration_seconds >= 0),
    CONSTRAINT bfr_monitoring_patient_aop_baseline_mmhg_check
        CHECK (patient_aop_baseline_mmhg IS NULL OR patient_aop_baseline_mmhg >= 0),
    CONSTRAINT bfr_monitoring_applied_pressure_mmhg_check
        CHECK (applied_pressure_mmhg IS NULL OR applied_pressure_mmhg >= 0),
    CONSTRAINT bfr_monitoring_patient_limb_circumference_cm_check
        CHECK (patient_limb_circumference_cm IS NULL OR patient_limb_circumference_cm > 0),
    CONSTRAINT bfr_monitoring_bfr_session_duration_minutes_check
        CHECK (bfr_session_duration_minutes IS NULL OR bfr_session_duration_minutes >= 0),
    CONSTRAINT bfr_monitoring_monitoring_frequency_hz_check
        CHECK (monitoring_frequency_hz IS NULL OR monitoring_frequency_hz > 0),
    CONSTRAINT bfr_monitoring_source_check CHECK (source <> '')
);

COMMENT ON TABLE bfr_monitoring IS
    'Statistics-First: blood flow restriction monitoring per session and side, only where BFR data exists '
    '(legacy session_settings.params.bfr_parameters of sessions linked to a legacy settings row).';
COMMENT ON COLUMN bfr_monitoring.id IS 'Row id (generated).';
COMMENT ON COLUMN bfr_monitoring.session_id IS 'The session (therapy_sessions.id).';
COMMENT ON COLUMN bfr_monitoring.side IS 'left or right limb (bfr_parameters key).';
COMMENT ON COLUMN bfr_monitoring.target_pressure_aop IS 'Target cuff pressure in % AOP (setting in force, default 50).';
COMMENT ON COLUMN bfr_monitoring.actual_pressure_aop IS 'Applied pressure in % AOP (bfr_parameters.<side>.percentage_aop).';
COMMENT ON COLUMN bfr_monitoring.pressure_stability_coefficient IS 'Pressure stability (coefficient of variation); NULL (never recorded).';
COMMENT ON COLUMN bfr_monitoring.safety_gate_status IS 'True when actual_pressure_aop is within [45, 55] % AOP (the BFR safety gate).';
COMMENT ON COLUMN bfr_monitoring.safety_violations_count IS 'Number of pressure safety violations; NULL (never recorded).';
COMMENT ON COLUMN bfr_monitoring.safety_violations_duration_seconds IS 'Time outside the safe range in s; NULL (never recorded).';
COMMENT ON COLUMN bfr_monitoring.max_pressure_deviation_aop IS 'Largest deviation from target in % AOP; NULL (never recorded).';
COMMENT ON COLUMN bfr_monitoring.patient_aop_baseline_mmhg IS 'Measured arterial occlusion pressure in mmHg (bfr_parameters aop_measured).';
COMMENT ON COLUMN bfr_monitoring.applied_pressure_mmhg IS 'Applied cuff pressure in mmHg (bfr_parameters applied_pressure).';
COMMENT ON COLUMN bfr_monitoring.patient_limb_circumference_cm IS 'Limb circumference at the cuff in cm; NULL (never recorded).';
COMMENT ON COLUMN bfr_monitoring.cuff_size IS 'Cuff size; NULL (never recorded).';
COMMENT ON COLUMN bfr_monitoring.cuff_position IS 'Cuff position on the limb; NULL (never recorded).';
COMMENT ON COLUMN bfr_monitoring.monitoring_device IS 'BFR device used; NULL (never recorded).';
COMMENT ON COLUMN bfr_monitoring.device_calibration_date IS 'Last calibration date of the device; NULL (never recorded).';
COMMENT ON COLUMN bfr_monitoring.device_serial_number IS 'Device serial number; NULL (never recorded).';
COMMENT ON COLUMN bfr_monitoring.bfr_session_duration_minutes IS 'Cuff application time in minutes (bfr_parameters application_time_minutes).';
COMMENT ON COLUMN bfr_monitoring.monitoring_frequency_hz IS 'Pressure sampling frequency in Hz; NULL (never recorded).';
COMMENT ON COLUMN bfr_monitoring.source IS 'Where the row came from, e.g. legacy_session_settings.';
COMMENT ON COLUMN bfr_monitoring.created_at IS 'When this row was written by the migration/pipeline.';

-- the unique (session_id, side) index also serves as the session_id index
CREATE INDEX bfr_monitoring_unsafe_idx ON bfr_monitoring (session_id) WHERE NOT safety_gate_status;
COMMENT ON INDEX bfr_monitoring_unsafe_idx IS 'Clinical read path: sessions whose BFR pressure failed the safety gate.';

ALTER TABLE bfr_monitoring ENABLE ROW LEVEL SECURITY;
CREATE POLICY bfr_monitoring_select ON bfr_monitoring
    FOR SELECT TO authenticated
    USING ((SELECT statsfirst_is_researcher()) OR statsfirst_can_read_session(session_id));
COMMENT ON POLICY bfr_monitoring_select ON bfr_monitoring IS
    'Researchers read all rows; therapists read the rows of sessions they may read.';
REVOKE ALL ON bfr_monitoring FROM PUBLIC, anon, authenticated;
GRANT SELECT ON bfr_monitoring TO authenticated;
GRANT ALL ON bfr_monitoring TO service_role;

-- =================================================================================================================
-- 5. session_settings: the settings in force for a session (one row per session)
-- =================================================================================================================

CREATE TABLE session_settings (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id uuid NOT NULL REFERENCES therapy_sessions (id) ON DELETE CASCADE,
    mvc_calculation_method text NOT NULL DEFAULT 'backend_95percentile',
    mvc_threshold_percentage float8 NOT NULL DEFAULT 0.75,
    mvc_user_left float8,
    mvc_user_right float8,
    performance_weights jsonb NOT NULL
        DEFAULT '{"compliance": 0.40, "symmetry": 0.25, "effort": 0.20, "game": 0.15}'::jsonb,
    duration_threshold_seconds float8 NOT NULL DEFAULT 2.0,
    duration_threshold_left float8,
    duration_threshold_right float8,
    target_contractions_per_muscle integer NOT NULL DEFAULT 12,
    target_contractions_left integer,
    target_contractions_right integer,
    channel_muscle_mapping jsonb,
    rest_between_contractions_seconds float8,
    rest_between_sets_seconds float8,
    bfr_enabled boolean NOT NULL DEFAULT false,
    bfr_target_pressure_aop float8 NOT NULL DEFAULT 50,
    game_difficulty_level integer,
    visual_feedback_enabled boolean NOT NULL DEFAULT true,
    audio_feedback_enabled boolean NOT NULL DEFAULT true,
    haptic_feedback_enabled boolean NOT NULL DEFAULT false,
    settings_source text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT session_settings_session_id_key UNIQUE (session_id),
    CONSTRAINT session_settings_mvc_calculation_method_check
        CHECK (mvc_calculation_method IN ('backend_95percentile', 'user_defined')),
    CONSTRAINT session_settings_mvc_threshold_percentage_check
        CHECK (mvc_threshold_percentage > 0 AND mvc_threshold_percentage <= 1),
    CONSTRAINT session_settings_mvc_user_left_check CHECK (mvc_user_left IS NULL OR mvc_user_left >= 0),
    CONSTRAINT session_settings_mvc_user_right_check CHECK (mvc_user_right IS NULL OR mvc_user_right >= 0),
    CONSTRAINT session_settings_duration_threshold_seconds_check CHECK (duration_threshold_seconds > 0),
    CONSTRAINT session_settings_duration_threshold_left_check
        CHECK (duration_threshold_left IS NULL OR duration_threshold_left > 0),
    CONSTRAINT session_settings_duration_threshold_right_check
        CHECK (duration_threshold_right IS NULL OR duration_threshold_right > 0),
    CONSTRAINT session_settings_target_contractions_per_muscle_check CHECK (target_contractions_per_muscle > 0),
    CONSTRAINT session_settings_target_contractions_left_check
        CHECK (target_contractions_left IS NULL OR target_contractions_left > 0),
    CONSTRAINT session_settings_target_contractions_right_check
        CHECK (target_contractions_right IS NULL OR target_contractions_right > 0),
    CONSTRAINT session_settings_channel_muscle_mapping_check
        CHECK (channel_muscle_mapping IS NULL OR jsonb_typeof(channel_muscle_mapping) = 'object'),
    CONSTRAINT session_settings_rest_between_contractions_seconds_check
        CHECK (rest_between_contractions_seconds IS NULL OR rest_between_contractions_seconds >= 0),
    CONSTRAINT session_settings_rest_between_sets_seconds_check
        CHECK (rest_between_sets_seconds IS NULL OR rest_between_sets_seconds >= 0),
    CONSTRAINT session_settings_bfr_target_pressure_aop_check CHECK (bfr_target_pressure_aop BETWEEN 0 AND 100),
    CONSTRAINT session_settings_game_difficulty_level_check
        CHECK (game_difficulty_level IS NULL OR game_difficulty_level BETWEEN 1 AND 10),
    CONSTRAINT session_settings_settings_source_check CHECK (settings_source IN ('legacy', 'default'))
);

-- performance_weights (performance_scores above, session_settings here: one rule, written once): an object whose
-- keys compliance, symmetry, effort and game are JSON numbers in [0, 1] summing to 1 within 1e-9
-- (metricsDefinitions.md w_c, w_s, w_e, w_g); other keys ignored; NULL left to NOT NULL. One expression, not a
-- plpgsql function (a call and a search_path change per row cost twice as much); CASE evaluates in order, so a
-- value is cast only once it is known to be a number.
DO $$
DECLARE
    rule constant text := $rule$
        performance_weights IS NULL OR CASE
            WHEN jsonb_typeof(performance_weights) <> 'object' THEN false
            WHEN jsonb_typeof(performance_weights -> 'compliance') IS DISTINCT FROM 'number'
              OR jsonb_typeof(performance_weights -> 'symmetry') IS DISTINCT FROM 'number'
              OR jsonb_typeof(performance_weights -> 'effort') IS DISTINCT FROM 'number'
              OR jsonb_typeof(performance_weights -> 'game') IS DISTINCT FROM 'number' THEN false
            ELSE (performance_weights -> 'compliance')::numeric BETWEEN 0 AND 1
             AND (performance_weights -> 'symmetry')::numeric BETWEEN 0 AND 1
             AND (performance_weights -> 'effort')::numeric BETWEEN 0 AND 1
             AND (performance_weights -> 'game')::numeric BETWEEN 0 AND 1
             AND abs((performance_weights -> 'compliance')::numeric + (performance_weights -> 'symmetry')::numeric
                     + (performance_weights -> 'effort')::numeric + (performance_weights -> 'game')::numeric - 1)
                 <= 1e-9
        END$rule$;
    target text;
BEGIN
    FOREACH target IN ARRAY ARRAY['performance_scores', 'session_settings'] LOOP
        EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (%s)', target, target || '_performance_weights_check',
                       rule);
    END LOOP;
END
$$;

COMMENT ON TABLE session_settings IS
    'Statistics-First: thresholds, targets and weights in force for a session (one row per session): the linked '
    'legacy session_settings params where present (settings_source legacy), else configured defaults (default). '
    'Not the legacy session_settings table (user_id, session_id, params), which it never replaces in place.';
COMMENT ON COLUMN session_settings.id IS 'Row id (generated).';
COMMENT ON COLUMN session_settings.session_id IS 'The session (therapy_sessions.id); one row per session.';
COMMENT ON COLUMN session_settings.mvc_calculation_method IS 'backend_95percentile or user_defined.';
COMMENT ON COLUMN session_settings.mvc_threshold_percentage IS 'MVC fraction a contraction must reach, (0, 1]; default 0.75.';
COMMENT ON COLUMN session_settings.mvc_user_left IS 'User-provided MVC for the left side (V), when set.';
COMMENT ON COLUMN session_settings.mvc_user_right IS 'User-provided MVC for the right side (V), when set.';
COMMENT ON COLUMN session_settings.performance_weights IS
    'Performance score weights {"compliance","symmetry","effort","game"}, each in [0, 1], summing to 1.';
COMMENT ON COLUMN session_settings.duration_threshold_seconds IS 'Minimum contraction duration in s (> 0; default 2.0).';
COMMENT ON COLUMN session_settings.duration_threshold_left IS 'Per-side override of the duration threshold for the left side (s).';
COMMENT ON COLUMN session_settings.duration_threshold_right IS 'Per-side override of the duration threshold for the right side (s).';
COMMENT ON COLUMN session_settings.target_contractions_per_muscle IS 'Target contractions per muscle T (> 0; default 12).';
COMMENT ON COLUMN session_settings.target_contractions_left IS
    'Per-side target for the left muscle (legacy params session_expected_contractions_ch1), when set.';
COMMENT ON COLUMN session_settings.target_contractions_right IS
    'Per-side target for the right muscle (legacy params session_expected_contractions_ch2), when set.';
COMMENT ON COLUMN session_settings.channel_muscle_mapping IS
    'Channel to muscle/side mapping override (legacy params channel_muscle_mapping), when set.';
COMMENT ON COLUMN session_settings.rest_between_contractions_seconds IS 'Prescribed rest between contractions in s, when known.';
COMMENT ON COLUMN session_settings.rest_between_sets_seconds IS 'Prescribed rest between sets in s, when known.';
COMMENT ON COLUMN session_settings.bfr_enabled IS 'Whether blood flow restriction was part of the session (legacy BFR parameters present).';
COMMENT ON COLUMN session_settings.bfr_target_pressure_aop IS 'Target BFR pressure in % AOP (0-100; default 50).';
COMMENT ON COLUMN session_settings.game_difficulty_level IS 'Game difficulty 1-10, when known.';
COMMENT ON COLUMN session_settings.visual_feedback_enabled IS 'Visual feedback to the patient on (default true).';
COMMENT ON COLUMN session_settings.audio_feedback_enabled IS 'Audio feedback to the patient on (default true).';
COMMENT ON COLUMN session_settings.haptic_feedback_enabled IS 'Haptic feedback to the patient on (default false).';
COMMENT ON COLUMN session_settings.settings_source IS 'legacy (from a linked legacy session_settings row) or default (configured defaults).';
COMMENT ON COLUMN session_settings.created_at IS 'When the row was created.';
COMMENT ON COLUMN session_settings.updated_at IS 'Last change; kept by trigger session_settings_touch_updated_at.';

-- the unique (session_id) index also serves as the session_id index
CREATE TRIGGER session_settings_touch_updated_at
    BEFORE UPDATE ON session_settings
    FOR EACH ROW EXECUTE FUNCTION statsfirst_touch_updated_at();
COMMENT ON TRIGGER session_settings_touch_updated_at ON session_settings IS 'Keeps updated_at on change.';

ALTER TABLE session_settings ENABLE ROW LEVEL SECURITY;
CREATE POLICY session_settings_select ON session_settings
    FOR SELECT TO authenticated
    USING ((SELECT statsfirst_is_researcher()) OR statsfirst_can_read_session(session_id));
COMMENT ON POLICY session_settings_select ON session_settings IS
    'Researchers read all rows; therapists read the rows of sessions they may read.';
REVOKE ALL ON session_settings FROM PUBLIC, anon, authenticated;
GRANT SELECT ON session_settings TO authenticated;
GRANT ALL ON session_settings TO service_role;

-- =================================================================================================================
-- 6. export_history: one row per data export (empty after migration)
-- =================================================================================================================

CREATE TABLE export_history (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id uuid REFERENCES therapy_sessions (id) ON DELETE CASCADE,
    export_type text NOT NULL,
    data_format text NOT NULL,
    processing_method text,
    channels_exported jsonb,
    export_options jsonb NOT NULL DEFAULT '{}'::jsonb,
    exported_by uuid REFERENCES researcher_profiles (id) ON DELETE SET NULL,
    export_timestamp timestamptz NOT NULL DEFAULT now(),
    export_hash text,
    export_status text NOT NULL DEFAULT 'pending',
    validation_checks jsonb,
    error_message text,
    file_size_bytes bigint,
    CONSTRAINT export_history_export_type_check
        CHECK (export_type IN ('session_statistics', 'performance_scores', 'full_session', 'raw_signals',
                               'processed_signals', 'research_dataset')),
    CONSTRAINT export_history_data_format_check CHECK (data_format IN ('csv', 'json', 'xlsx', 'parquet', 'mat')),
    CONSTRAINT export_history_processing_method_check
        CHECK (processing_method IS NULL
               OR processing_method IN ('raw', 'filtered', 'rectified', 'rms_envelope', 'statistics_only')),
    CONSTRAINT export_history_channels_exported_check
        CHECK (channels_exported IS NULL OR jsonb_typeof(channels_exported) = 'array'),
    CONSTRAINT export_history_export_options_check CHECK (jsonb_typeof(export_options) = 'object'),
    CONSTRAINT export_history_export_hash_check
        CHECK (export_hash IS NULL OR (length(export_hash) = 64 AND export_hash ~ '^[0-9a-f]+$')),
    CONSTRAINT export_history_export_status_check
        CHECK (export_status IN ('pending', 'processing', 'completed', 'failed')),
    CONSTRAINT export_history_file_size_bytes_check CHECK (file_size_bytes IS NULL OR file_size_bytes >= 0)
);

COMMENT ON TABLE export_history IS
    'Statistics-First: audit trail of data exports (one row per export event). No legacy source: empty after '
    'the migration, written by future exports. Readable by researchers only.';
COMMENT ON COLUMN export_history.id IS 'Export id (generated).';
COMMENT ON COLUMN export_history.session_id IS 'The exported session (therapy_sessions.id); NULL when the export spans sessions.';
COMMENT ON COLUMN export_history.export_type IS
    'What was exported: session_statistics, performance_scores, full_session, raw_signals, processed_signals or research_dataset.';
COMMENT ON COLUMN export_history.data_format IS 'File format: csv, json, xlsx, parquet or mat.';
COMMENT ON COLUMN export_history.processing_method IS
    'Signal processing applied to exported signals: raw, filtered, rectified, rms_envelope or statistics_only; NULL when not applicable.';
COMMENT ON COLUMN export_history.channels_exported IS 'JSON array of the exported channel names.';
COMMENT ON COLUMN export_history.export_options IS 'Options of the export request (JSON object).';
COMMENT ON COLUMN export_history.exported_by IS 'The researcher who exported (researcher_profiles.id = auth user id); NULL once that profile is deleted.';
COMMENT ON COLUMN export_history.export_timestamp IS 'When the export was made.';
COMMENT ON COLUMN export_history.export_hash IS 'SHA-256 of the exported file, 64 lower-case hex digits.';
COMMENT ON COLUMN export_history.export_status IS 'pending, processing, completed or failed.';
COMMENT ON COLUMN export_history.validation_checks IS 'Results of the checks run on the export (JSON).';
COMMENT ON COLUMN export_history.error_message IS 'Error text when the export failed.';
COMMENT ON COLUMN export_history.file_size_bytes IS 'Size of the exported file in bytes.';

CREATE INDEX export_history_session_id_idx ON export_history (session_id);
COMMENT ON INDEX export_history_session_id_idx IS 'Exports of a session (and ON DELETE CASCADE).';
CREATE INDEX export_history_exported_by_time_idx ON export_history (exported_by, export_timestamp DESC);
COMMENT ON INDEX export_history_exported_by_time_idx IS 'A researcher''s exports, newest first.';

ALTER TABLE export_history ENABLE ROW LEVEL SECURITY;
CREATE POLICY export_history_select ON export_history
    FOR SELECT TO authenticated
    USING ((SELECT statsfirst_is_researcher()));
COMMENT ON POLICY export_history_select ON export_history IS
    'Researchers read every export; therapists see none (exports are a research activity).';
CREATE POLICY export_history_insert ON export_history
    FOR INSERT TO authenticated
    WITH CHECK ((SELECT statsfirst_is_researcher()) AND exported_by = (SELECT auth.uid()));
COMMENT ON POLICY export_history_insert ON export_history IS
    'Researchers insert their own export records only (exported_by = auth.uid()).';
REVOKE ALL ON export_history FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT ON export_history TO authenticated;
GRANT ALL ON export_history TO service_role;

-- =================================================================================================================
-- 7. signal_processing_cache: one row per legacy analysis row / cached artefact
-- =================================================================================================================

CREATE TABLE signal_processing_cache (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id uuid NOT NULL REFERENCES therapy_sessions (id) ON DELETE CASCADE,
    processing_request_hash text NOT NULL,
    processing_version text NOT NULL,
    processing_params jsonb,
    cache_type text NOT NULL,
    cache_data jsonb,
    processing_time_ms integer,
    hit_count integer NOT NULL DEFAULT 0,
    last_accessed_at timestamptz,
    expires_at timestamptz,
    cache_valid boolean NOT NULL DEFAULT true,
    invalidated_reason text,
    invalidated_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT signal_processing_cache_session_request_key UNIQUE (session_id, processing_request_hash),
    CONSTRAINT signal_processing_cache_processing_request_hash_check
        CHECK (length(processing_request_hash) = 64 AND processing_request_hash ~ '^[0-9a-f]+$'),
    CONSTRAINT signal_processing_cache_cache_type_check
        CHECK (cache_type IN ('visualization_1k', 'export_full', 'envelope_rms', 'legacy_analysis')),
    CONSTRAINT signal_processing_cache_processing_time_ms_check
        CHECK (processing_time_ms IS NULL OR processing_time_ms >= 0),
    CONSTRAINT signal_processing_cache_hit_count_check CHECK (hit_count >= 0),
    CONSTRAINT signal_processing_cache_invalidated_reason_check
        CHECK (invalidated_reason IS NULL
               OR invalidated_reason IN ('session_reprocessed', 'expired', 'manual', 'superseded'))
);

COMMENT ON TABLE signal_processing_cache IS
    'Statistics-First: processing cache, one row per legacy analysis_results row (same id) or cached artefact. '
    'Invalidated (cache_valid = false, reason session_reprocessed) when the session''s processing_version changes.';
COMMENT ON COLUMN signal_processing_cache.id IS 'Cache row id; equals the legacy analysis_results.id for migrated rows.';
COMMENT ON COLUMN signal_processing_cache.session_id IS 'The session (therapy_sessions.id = analysis_results.c3d_metadata_id).';
COMMENT ON COLUMN signal_processing_cache.processing_request_hash IS
    'SHA-256 (64 lower-case hex) of the canonical JSON {"processing_params": ..., "processing_version": ...}; '
    'unique per session.';
COMMENT ON COLUMN signal_processing_cache.processing_version IS 'Processing version of the request (analysis_results.processing_version).';
COMMENT ON COLUMN signal_processing_cache.processing_params IS 'Processing parameters of the request (analysis_results.processing_params).';
COMMENT ON COLUMN signal_processing_cache.cache_type IS 'visualization_1k, export_full, envelope_rms, or legacy_analysis (migrated rows).';
COMMENT ON COLUMN signal_processing_cache.cache_data IS
    'The cached artefact; NULL for legacy_analysis rows (their statistics live in emg_statistics).';
COMMENT ON COLUMN signal_processing_cache.processing_time_ms IS 'Processing time in ms of the request (analysis_results.processing_time_ms).';
COMMENT ON COLUMN signal_processing_cache.hit_count IS 'Times the cache row was served (analysis_results.cache_hits).';
COMMENT ON COLUMN signal_processing_cache.last_accessed_at IS 'Last time the row was served (analysis_results.last_accessed_at).';
COMMENT ON COLUMN signal_processing_cache.expires_at IS 'When the row expires (analysis_results.expires_at).';
COMMENT ON COLUMN signal_processing_cache.cache_valid IS
    'Whether the row may be served: true for the current, unexpired analysis; false once invalidated.';
COMMENT ON COLUMN signal_processing_cache.invalidated_reason IS 'session_reprocessed, expired, manual or superseded; NULL while valid.';
COMMENT ON COLUMN signal_processing_cache.invalidated_at IS 'When the row was invalidated.';
COMMENT ON COLUMN signal_processing_cache.created_at IS 'When the cache row was made (analysis_results.created_at).';

-- the unique (session_id, processing_request_hash) index also serves as the session_id index
CREATE INDEX signal_processing_cache_valid_idx ON signal_processing_cache (session_id, cache_type) WHERE cache_valid;
COMMENT ON INDEX signal_processing_cache_valid_idx IS 'Cache lookup: a session''s valid rows by type.';
CREATE INDEX signal_processing_cache_expires_at_idx ON signal_processing_cache (expires_at);
COMMENT ON INDEX signal_processing_cache_expires_at_idx IS 'Expiry sweeps.';

ALTER TABLE signal_processing_cache ENABLE ROW LEVEL SECURITY;
CREATE POLICY signal_processing_cache_select ON signal_processing_cache
    FOR SELECT TO authenticated
    USING ((SELECT statsfirst_is_researcher()) OR statsfirst_can_read_session(session_id));
COMMENT ON POLICY signal_processing_cache_select ON signal_processing_cache IS
    'Researchers read all rows; therapists read the rows of sessions they may read.';
REVOKE ALL ON signal_processing_cache FROM PUBLIC, anon, authenticated;
GRANT SELECT ON signal_processing_cache TO authenticated;
GRANT ALL ON signal_processing_cache TO service_role;

-- Cache invalidation when a session is reprocessed (trigger on therapy_sessions, defined here because it
-- writes this table)
CREATE FUNCTION statsfirst_invalidate_session_cache() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path FROM CURRENT
AS $$
BEGIN
    UPDATE signal_processing_cache
    SET cache_valid = false,
        invalidated_reason = 'session_reprocessed',
        invalidated_at = now()
    WHERE session_id = NEW.id
      AND cache_valid;  -- rows already invalid keep their first reason
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION statsfirst_invalidate_session_cache() IS
    'AFTER UPDATE trigger function: when therapy_sessions.processing_version changes, marks the session''s valid '
    'signal_processing_cache rows invalid (reason session_reprocessed, invalidated_at now()).';

CREATE TRIGGER therapy_sessions_invalidate_cache
    AFTER UPDATE OF processing_version ON therapy_sessions
    FOR EACH ROW
    WHEN (OLD.processing_version IS DISTINCT FROM NEW.processing_version)
    EXECUTE FUNCTION statsfirst_invalidate_session_cache();
COMMENT ON TRIGGER therapy_sessions_invalidate_cache ON therapy_sessions IS
    'Invalidates the session''s cache rows when its processing_version changes.';

-- =================================================================================================================
-- 8. processing_parameters: the signal processing parameters of a session (one row per session)
-- =================================================================================================================

CREATE TABLE processing_parameters (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id uuid NOT NULL REFERENCES therapy_sessions (id) ON DELETE CASCADE,
    sampling_rate_hz float8,
    filter_low_cutoff_hz float8,
    filter_high_cutoff_hz float8,
    filter_order integer,
    smoothing_window_ms float8,
    rms_window_ms float8,
    rms_overlap_percent float8,
    mvc_window_seconds float8,
    mvc_threshold_percentage float8,
    duration_threshold_ms float8,
    mvc_source text,
    algorithm_config jsonb,
    processing_version text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT processing_parameters_session_id_key UNIQUE (session_id),
    CONSTRAINT processing_parameters_sampling_rate_hz_check CHECK (sampling_rate_hz IS NULL OR sampling_rate_hz > 0),
    CONSTRAINT processing_parameters_filter_low_cutoff_hz_check
        CHECK (filter_low_cutoff_hz IS NULL OR filter_low_cutoff_hz >= 0),
    -- a band's high cut-off is positive and above its low cut-off whenever both are set
    CONSTRAINT processing_parameters_filter_high_cutoff_hz_check
        CHECK (filter_high_cutoff_hz IS NULL OR (filter_high_cutoff_hz > 0
               AND (filter_low_cutoff_hz IS NULL OR filter_low_cutoff_hz < filter_high_cutoff_hz))),
    CONSTRAINT processing_parameters_filter_order_check CHECK (filter_order IS NULL OR filter_order BETWEEN 1 AND 8),
    CONSTRAINT processing_parameters_smoothing_window_ms_check
        CHECK (smoothing_window_ms IS NULL OR smoothing_window_ms > 0),
    CONSTRAINT processing_parameters_rms_window_ms_check CHECK (rms_window_ms IS NULL OR rms_window_ms > 0),
    CONSTRAINT processing_parameters_rms_overlap_percent_check
        CHECK (rms_overlap_percent IS NULL OR (rms_overlap_percent >= 0 AND rms_overlap_percent < 100)),
    CONSTRAINT processing_parameters_mvc_window_seconds_check
        CHECK (mvc_window_seconds IS NULL OR mvc_window_seconds > 0),
    CONSTRAINT processing_parameters_mvc_threshold_percentage_check
        CHECK (mvc_threshold_percentage IS NULL OR (mvc_threshold_percentage > 0 AND mvc_threshold_percentage <= 1)),
    CONSTRAINT processing_parameters_duration_threshold_ms_check
        CHECK (duration_threshold_ms IS NULL OR duration_threshold_ms > 0),
    CONSTRAINT processing_parameters_mvc_source_check
        CHECK (mvc_source IS NULL OR mvc_source IN ('c3d_metadata', 'patient_database', 'self_calibration',
                                                     'session_defaults', 'backend_estimation', 'user_provided',
                                                     'global_provided')),
    CONSTRAINT processing_parameters_algorithm_config_check
        CHECK (algorithm_config IS NULL OR jsonb_typeof(algorithm_config) = 'object')
);

COMMENT ON TABLE processing_parameters IS
    'Statistics-First: signal processing parameters used for a session (one row per session with a current '
    'analysis), from analytics_data.<channel>.signal_processing.parameters_used and the thresholds.';
COMMENT ON COLUMN processing_parameters.id IS 'Row id (generated).';
COMMENT ON COLUMN processing_parameters.session_id IS 'The session (therapy_sessions.id); one row per session.';
COMMENT ON COLUMN processing_parameters.sampling_rate_hz IS 'Sampling rate in Hz (the session''s sampling rate when known).';
COMMENT ON COLUMN processing_parameters.filter_low_cutoff_hz IS 'High-pass cutoff in Hz (parameters_used.highpass_cutoff_hz).';
COMMENT ON COLUMN processing_parameters.filter_high_cutoff_hz IS 'Low-pass cut-off of the raw band in Hz; NULL for legacy data (its 10 Hz low-pass smooths the envelope and stays in algorithm_config).';
COMMENT ON COLUMN processing_parameters.filter_order IS 'Butterworth filter order 1-8 (parameters_used.filter_order).';
COMMENT ON COLUMN processing_parameters.smoothing_window_ms IS 'Envelope smoothing window in ms (parameters_used.smoothing_window_ms).';
COMMENT ON COLUMN processing_parameters.rms_window_ms IS 'RMS window in ms, when recorded.';
COMMENT ON COLUMN processing_parameters.rms_overlap_percent IS 'RMS window overlap in percent [0, 100), when recorded.';
COMMENT ON COLUMN processing_parameters.mvc_window_seconds IS 'MVC estimation window in s, when recorded.';
COMMENT ON COLUMN processing_parameters.mvc_threshold_percentage IS 'MVC threshold fraction (0, 1] used by the analysis.';
COMMENT ON COLUMN processing_parameters.duration_threshold_ms IS 'Duration threshold in ms used by the analysis (duration_threshold_actual_value).';
COMMENT ON COLUMN processing_parameters.mvc_source IS 'Where the MVC came from (analytics mvc_estimation_method, or a newer source name).';
COMMENT ON COLUMN processing_parameters.algorithm_config IS 'The whole parameters_used object, as is.';
COMMENT ON COLUMN processing_parameters.processing_version IS 'Processing version of the analysis the parameters come from.';
COMMENT ON COLUMN processing_parameters.created_at IS 'When this row was written by the migration/pipeline.';

-- the unique (session_id) index also serves as the session_id index
ALTER TABLE processing_parameters ENABLE ROW LEVEL SECURITY;
CREATE POLICY processing_parameters_select ON processing_parameters
    FOR SELECT TO authenticated
    USING ((SELECT statsfirst_is_researcher()) OR statsfirst_can_read_session(session_id));
COMMENT ON POLICY processing_parameters_select ON processing_parameters IS
    'Researchers read all rows; therapists read the rows of sessions they may read.';
REVOKE ALL ON processing_parameters FROM PUBLIC, anon, authenticated;
GRANT SELECT ON processing_parameters TO authenticated;
GRANT ALL ON processing_parameters TO service_role;

-- =================================================================================================================
-- The migration lineage (statsfirst.session_lineage / analysis_lineage, 005), read by the compatibility views
-- (007): visible to their readers exactly where the session is, in the columns the views read
-- =================================================================================================================

GRANT USAGE ON SCHEMA statsfirst TO authenticated, service_role;
REVOKE ALL ON statsfirst.session_lineage, statsfirst.analysis_lineage FROM PUBLIC, anon, authenticated;
GRANT SELECT (legacy_session_id, raw_patient_id, raw_resolved_patient_id, raw_therapist_id,
              raw_resolved_therapist_id, legacy_c3d)
    ON statsfirst.session_lineage TO authenticated;
GRANT SELECT (legacy_analysis_id, legacy_session_id, legacy_analysis, file_hash, analytics_residual)
    ON statsfirst.analysis_lineage TO authenticated;
GRANT SELECT ON statsfirst.session_lineage, statsfirst.analysis_lineage TO service_role;

ALTER TABLE statsfirst.session_lineage ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS session_lineage_select ON statsfirst.session_lineage;  -- one per database, whatever the target
CREATE POLICY session_lineage_select ON statsfirst.session_lineage
    FOR SELECT TO authenticated
    USING ((SELECT statsfirst_is_researcher()) OR statsfirst_can_read_session(legacy_session_id));
COMMENT ON POLICY session_lineage_select ON statsfirst.session_lineage IS
    'c3d_metadata_view readers: researchers read all rows; therapists the rows of sessions they may read.';

ALTER TABLE statsfirst.analysis_lineage ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS analysis_lineage_select ON statsfirst.analysis_lineage;
CREATE POLICY analysis_lineage_select ON statsfirst.analysis_lineage
    FOR SELECT TO authenticated
    USING ((SELECT statsfirst_is_researcher()) OR statsfirst_can_read_session(legacy_session_id));
COMMENT ON POLICY analysis_lineage_select ON statsfirst.analysis_lineage IS
    'analysis_results_view readers: researchers read all rows; therapists the rows of sessions they may read.';
