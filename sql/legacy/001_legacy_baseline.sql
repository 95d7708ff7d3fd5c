-- Legacy GHOSTLY+ baseline (dev / test / demo only): the tables the migration reads, exactly as production
-- held them (see shared/spec/legacy-schema.md): the real column order, defaults and names of constraints, indexes,
-- trigger and functions. Created unqualified, i.e. in `public`, the legacy schema.
-- Run by `statsfirst legacy init` in one transaction; never run against a production database.

-- ------------------------------------------------------------------------------------------- therapists
CREATE TABLE therapists (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid NOT NULL UNIQUE,
    first_name  text,
    last_name   text,
    created_at  timestamptz DEFAULT now()
);
COMMENT ON TABLE therapists IS 'Legacy therapists; user_id is the Supabase auth user. No text code column.';

-- ------------------------------------------------------------------------------------------- patients
CREATE TABLE patients (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    therapist_id   uuid NOT NULL REFERENCES therapists (id),
    patient_code   text NOT NULL UNIQUE,
    first_name     text,
    last_name      text,
    date_of_birth  date,
    created_at     timestamptz DEFAULT now()
);
COMMENT ON TABLE patients IS 'Legacy patients; patient_code (P001, P005, ...) is what c3d_metadata paths refer to.';

-- ------------------------------------------------------------------------------------------- researcher_profiles
CREATE TABLE researcher_profiles (
    id            uuid PRIMARY KEY,
    full_name     text,
    institution   text,
    department    text,
    role          text CHECK (role IN ('admin', 'clinical_specialist', 'researcher')),
    access_level  text CHECK (access_level IN ('full', 'advanced', 'basic')),
    created_at    timestamptz DEFAULT now(),
    updated_at    timestamptz DEFAULT now()
);
COMMENT ON TABLE researcher_profiles IS 'Legacy researcher profiles; id equals the Supabase auth user id.';

-- ------------------------------------------------------------------------------------------- c3d_metadata
CREATE TABLE c3d_metadata (
    id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    file_path              text NOT NULL UNIQUE,
    file_hash              text NOT NULL,
    file_size_bytes        bigint NOT NULL,
    patient_id             text,
    therapist_id           text,
    session_id             text,
    session_date           timestamp,
    session_type           text,
    session_duration       double precision,
    session_notes          text,
    game_metadata          jsonb,
    channel_names          jsonb,
    channel_count          integer,
    sampling_rate          double precision,
    duration_seconds       double precision,
    frame_count            integer,
    resolved_patient_id    text,
    resolved_therapist_id  text,
    resolved_session_date  timestamp,
    size_category          text,
    content_type           text,
    upload_date            timestamptz,
    bucket_name            text DEFAULT 'c3d-files',
    object_metadata        jsonb,
    processing_status      text DEFAULT 'pending',
    processing_version     text,
    error_message          text,
    created_at             timestamptz DEFAULT now(),
    updated_at             timestamptz DEFAULT now(),
    processed_at           timestamptz,
    CONSTRAINT valid_status CHECK (processing_status IN ('pending', 'processing', 'completed', 'failed')),
    CONSTRAINT valid_size_category CHECK (size_category IN ('small', 'medium', 'large'))
);
COMMENT ON TABLE c3d_metadata IS 'Legacy: one row per uploaded C3D file (storage object); file_hash is not unique.';
COMMENT ON COLUMN c3d_metadata.sampling_rate IS 'The C3D point rate (33 Hz), not the EMG analog rate (990 Hz).';
COMMENT ON COLUMN c3d_metadata.frame_count IS 'Point frames, not EMG samples; 0 for some files.';

CREATE INDEX idx_c3d_metadata_file_hash ON c3d_metadata (file_hash);
CREATE INDEX idx_c3d_metadata_patient_id ON c3d_metadata (patient_id);
CREATE INDEX idx_c3d_metadata_resolved_patient_id ON c3d_metadata (resolved_patient_id);
CREATE INDEX idx_c3d_metadata_therapist_id ON c3d_metadata (therapist_id);
CREATE INDEX idx_c3d_metadata_resolved_therapist_id ON c3d_metadata (resolved_therapist_id);
CREATE INDEX idx_c3d_metadata_session_date ON c3d_metadata (session_date);
CREATE INDEX idx_c3d_metadata_resolved_session_date ON c3d_metadata (resolved_session_date);
CREATE INDEX idx_c3d_metadata_size_category ON c3d_metadata (size_category);
CREATE INDEX idx_c3d_metadata_processing_status ON c3d_metadata (processing_status);
CREATE INDEX idx_c3d_metadata_created_at ON c3d_metadata (created_at DESC);
CREATE INDEX idx_c3d_metadata_upload_date ON c3d_metadata (upload_date DESC);
CREATE INDEX idx_c3d_metadata_patient_therapist ON c3d_metadata (resolved_patient_id, resolved_therapist_id);
CREATE INDEX idx_c3d_metadata_date_range ON c3d_metadata (resolved_session_date, size_category);

CREATE FUNCTION update_updated_at_column() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at = now();
    RETURN NEW;
END;
$$;
COMMENT ON FUNCTION update_updated_at_column() IS 'Keeps c3d_metadata.updated_at current on every UPDATE.';

CREATE TRIGGER update_c3d_metadata_updated_at
    BEFORE UPDATE ON c3d_metadata
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

-- ------------------------------------------------------------------------------------------- analysis_results
CREATE TABLE analysis_results (
    id                        uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    c3d_metadata_id           uuid NOT NULL REFERENCES c3d_metadata (id) ON DELETE CASCADE,
    file_hash                 text NOT NULL,
    processing_version        text NOT NULL,
    processing_params         jsonb,
    analytics_data            jsonb NOT NULL,
    emg_signals               jsonb,
    contractions_data         jsonb,
    processing_time_ms        integer,
    cache_hits                integer DEFAULT 0,
    last_accessed_at          timestamptz DEFAULT now(),
    mvc_values                jsonb,
    good_contractions_count   integer,
    total_contractions_count  integer,
    compliance_scores         jsonb,
    temporal_stats            jsonb,
    created_at                timestamptz DEFAULT now(),
    expires_at                timestamptz DEFAULT (now() + interval '30 days'),
    CONSTRAINT unique_analysis_cache UNIQUE (file_hash, processing_version, processing_params)
);
COMMENT ON TABLE analysis_results IS 'Legacy cached EMG analysis per file hash; analytics_data is the only rich column.';
COMMENT ON COLUMN analysis_results.emg_signals IS 'NULL in practice; meant for processed signal arrays (the bloat).';

CREATE INDEX idx_analysis_results_file_hash ON analysis_results (file_hash);
CREATE INDEX idx_analysis_results_c3d_metadata_id ON analysis_results (c3d_metadata_id);
CREATE INDEX idx_analysis_results_created_at ON analysis_results (created_at DESC);
CREATE INDEX idx_analysis_results_expires_at ON analysis_results (expires_at);
CREATE INDEX idx_analysis_results_last_accessed ON analysis_results (last_accessed_at DESC);

-- exists in the real database; no trigger uses it (the application does read-then-update instead)
CREATE FUNCTION update_cache_hit() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.cache_hits = OLD.cache_hits + 1;
    NEW.last_accessed_at = now();
    RETURN NEW;
END;
$$;

-- ------------------------------------------------------------------------------------------- analysis_summary
CREATE VIEW analysis_summary AS
SELECT
    ar.id,
    cm.file_path,
    cm.patient_id,
    cm.session_date,
    cm.session_type,
    ar.mvc_values,
    ar.good_contractions_count,
    ar.total_contractions_count,
    ar.compliance_scores,
    ar.processing_time_ms,
    ar.cache_hits,
    ar.created_at,
    ar.last_accessed_at
FROM analysis_results ar
JOIN c3d_metadata cm ON ar.c3d_metadata_id = cm.id
WHERE ar.expires_at > now()
ORDER BY ar.last_accessed_at DESC;
COMMENT ON VIEW analysis_summary IS 'Legacy convenience view joining metadata and analyses (never read by the app).';
