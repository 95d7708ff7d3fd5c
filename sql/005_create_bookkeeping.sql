-- statsfirst bookkeeping for the migration flow: run and batch ledger (resume), quarantine, lineage, watermarks,
-- and the JSON type guard used by extraction. Everything lives in the bookkeeping schema `statsfirst`,
-- never in the target schema and never in the legacy tables.

-- ------------------------------------------------------------------------------------------ runs and batches
CREATE TABLE statsfirst.migration_runs (
    run_id        uuid        PRIMARY KEY,
    command_key   text        NOT NULL,
    parameters    jsonb       NOT NULL,
    target_schema text        NOT NULL,
    status        text        NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    totals        jsonb,
    legacy_snapshot pg_snapshot
);
COMMENT ON TABLE statsfirst.migration_runs IS 'One row per `statsfirst migrate` run; an unfinished run with the same command_key is resumed';
COMMENT ON COLUMN statsfirst.migration_runs.run_id IS 'Run identifier, recorded on quarantine and lineage rows';
COMMENT ON COLUMN statsfirst.migration_runs.command_key IS 'SHA-256 of the parameters that define the work (range, batch size, weights, target schema)';
COMMENT ON COLUMN statsfirst.migration_runs.parameters IS 'The run parameters as given (no connection string)';
COMMENT ON COLUMN statsfirst.migration_runs.legacy_snapshot IS 'pg_current_snapshot() before the run read the legacy tables: the point of legacy history it covers';
COMMENT ON COLUMN statsfirst.migration_runs.target_schema IS 'Schema the run loaded into';
COMMENT ON COLUMN statsfirst.migration_runs.status IS 'running (or killed while running), completed, failed';
COMMENT ON COLUMN statsfirst.migration_runs.started_at IS 'When the run was created';
COMMENT ON COLUMN statsfirst.migration_runs.finished_at IS 'When the last batch committed';
COMMENT ON COLUMN statsfirst.migration_runs.totals IS 'Closing summary: sessions migrated/quarantined/skipped, per-table rows, wall time';

CREATE INDEX migration_runs_command_key_idx ON statsfirst.migration_runs (command_key, started_at DESC);

CREATE TABLE statsfirst.migration_batches (
    run_id        uuid        NOT NULL REFERENCES statsfirst.migration_runs (run_id) ON DELETE CASCADE,
    batch_no      integer     NOT NULL CHECK (batch_no >= 0),
    first_id      uuid        NOT NULL,
    last_id       uuid        NOT NULL,
    session_count integer     NOT NULL CHECK (session_count >= 0),
    status        text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'committed')),
    committed_at  timestamptz,
    outcome       jsonb,
    PRIMARY KEY (run_id, batch_no)
);
COMMENT ON TABLE statsfirst.migration_batches IS 'The key ranges of a run; a batch is committed in the same transaction as its data, so a killed run redoes only uncommitted batches';
COMMENT ON COLUMN statsfirst.migration_batches.run_id IS 'Run the batch belongs to';
COMMENT ON COLUMN statsfirst.migration_batches.batch_no IS 'Position of the batch in the run (keyset order by c3d_metadata.id)';
COMMENT ON COLUMN statsfirst.migration_batches.first_id IS 'First legacy c3d_metadata.id of the batch (inclusive)';
COMMENT ON COLUMN statsfirst.migration_batches.last_id IS 'Last legacy c3d_metadata.id of the batch (inclusive)';
COMMENT ON COLUMN statsfirst.migration_batches.session_count IS 'Legacy sessions in the batch when the run was planned';
COMMENT ON COLUMN statsfirst.migration_batches.status IS 'pending or committed';
COMMENT ON COLUMN statsfirst.migration_batches.committed_at IS 'When the batch transaction committed';
COMMENT ON COLUMN statsfirst.migration_batches.outcome IS 'Per-batch counts: migrated, quarantined and skipped by reason, rows per table';

-- ------------------------------------------------------------------------------------------ quarantine
CREATE TABLE statsfirst.quarantine (
    quarantine_id     uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    legacy_session_id uuid        NOT NULL,
    legacy_analysis_ids uuid[]    NOT NULL DEFAULT '{}',
    stage             text        NOT NULL CHECK (stage IN ('normalize', 'validate', 'load')),
    reasons           text[]      NOT NULL,
    failures          jsonb       NOT NULL,
    payload           jsonb       NOT NULL,
    first_run_id      uuid        NOT NULL,
    last_run_id       uuid        NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    resolved_at       timestamptz,
    resolved_by_run   uuid
);
COMMENT ON TABLE statsfirst.quarantine IS 'Legacy sessions held back: every failed check with column and value, and the legacy payload without signal arrays';
COMMENT ON COLUMN statsfirst.quarantine.quarantine_id IS 'Entry identifier';
COMMENT ON COLUMN statsfirst.quarantine.legacy_session_id IS 'Legacy c3d_metadata.id of the session held back (the whole session is held back)';
COMMENT ON COLUMN statsfirst.quarantine.legacy_analysis_ids IS 'Legacy analysis_results ids of the session';
COMMENT ON COLUMN statsfirst.quarantine.stage IS 'normalize (malformed JSON), validate (pandera checks) or load (rejected by the database)';
COMMENT ON COLUMN statsfirst.quarantine.reasons IS 'Distinct reason codes, e.g. wrong_type, count_exceeds_total, out_of_range';
COMMENT ON COLUMN statsfirst.quarantine.failures IS 'Every failed check: [{table, column, check, value, reason}]';
COMMENT ON COLUMN statsfirst.quarantine.payload IS 'The legacy rows of the session (c3d_metadata, analysis_results without emg_signals)';
COMMENT ON COLUMN statsfirst.quarantine.first_run_id IS 'Run that first held the session back';
COMMENT ON COLUMN statsfirst.quarantine.last_run_id IS 'Latest run that held it back';
COMMENT ON COLUMN statsfirst.quarantine.created_at IS 'When the entry was created';
COMMENT ON COLUMN statsfirst.quarantine.resolved_at IS 'When a later run migrated the session after the legacy data was fixed';
COMMENT ON COLUMN statsfirst.quarantine.resolved_by_run IS 'Run that migrated the fixed session';

CREATE UNIQUE INDEX quarantine_open_session_idx ON statsfirst.quarantine (legacy_session_id) WHERE resolved_at IS NULL;

-- ------------------------------------------------------------------------------------------ lineage
CREATE TABLE statsfirst.session_lineage (
    legacy_session_id uuid        PRIMARY KEY,
    raw_patient_id    text,
    raw_resolved_patient_id text,
    raw_therapist_id  text,
    raw_resolved_therapist_id text,
    raw_session_id    text,
    patient_resolution text       NOT NULL,
    linked_settings   jsonb,
    legacy_c3d        jsonb       NOT NULL,
    source_hash       text        NOT NULL,
    run_id            uuid        NOT NULL,
    migrated_at       timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE statsfirst.session_lineage IS 'Per migrated session: the raw legacy references, legacy-only fields and the source hash (for change detection and the compatibility views)';
COMMENT ON COLUMN statsfirst.session_lineage.legacy_session_id IS 'Legacy c3d_metadata.id (= therapy_sessions.id)';
COMMENT ON COLUMN statsfirst.session_lineage.raw_patient_id IS 'Legacy patient_id as stored';
COMMENT ON COLUMN statsfirst.session_lineage.raw_resolved_patient_id IS 'Legacy resolved_patient_id as stored (may be the sentinel Unknown)';
COMMENT ON COLUMN statsfirst.session_lineage.raw_therapist_id IS 'Legacy therapist_id as stored';
COMMENT ON COLUMN statsfirst.session_lineage.raw_resolved_therapist_id IS 'Legacy resolved_therapist_id as stored';
COMMENT ON COLUMN statsfirst.session_lineage.raw_session_id IS 'Legacy session_id (folder name) as stored';
COMMENT ON COLUMN statsfirst.session_lineage.patient_resolution IS 'resolved, sentinel (Unknown/empty/NULL) or unregistered (code absent from patients)';
COMMENT ON COLUMN statsfirst.session_lineage.linked_settings IS 'Which legacy session_settings row fed the session ({user_id, session_id, link, candidates}) or NULL';
COMMENT ON COLUMN statsfirst.session_lineage.legacy_c3d IS 'The legacy c3d_metadata row as JSON (legacy-only fields for the compatibility views)';
COMMENT ON COLUMN statsfirst.session_lineage.source_hash IS 'MD5 of the legacy rows the session was built from; unchanged hash = nothing to redo';
COMMENT ON COLUMN statsfirst.session_lineage.run_id IS 'Run that last wrote the session';
COMMENT ON COLUMN statsfirst.session_lineage.migrated_at IS 'When that run wrote it';

-- analytics_residual is json (not a key of legacy_analysis): json input is only checked for syntax and kept as
-- text, while jsonb input is parsed into a tree, which for a ~1.5 kB residual per analysis cost the migration more
-- than the rest of the lineage write; analysis_results_view reads it as jsonb (only the rows it returns pay).
-- file_hash is a plain generated column for the view's by-hash read: under RLS only leakproof conditions may drive
-- an index scan, and text equality is leakproof while the jsonb ->> operator is not.
CREATE TABLE statsfirst.analysis_lineage (
    legacy_analysis_id uuid       PRIMARY KEY,
    legacy_session_id uuid        NOT NULL,
    legacy_analysis   jsonb       NOT NULL,
    run_id            uuid        NOT NULL,
    analytics_residual json,
    file_hash         text        GENERATED ALWAYS AS (legacy_analysis ->> 'file_hash') STORED
);
COMMENT ON TABLE statsfirst.analysis_lineage IS 'Per legacy analysis_results row: its legacy-only scalar fields (no analytics_data, no emg_signals)';
COMMENT ON COLUMN statsfirst.analysis_lineage.legacy_analysis_id IS 'Legacy analysis_results.id (= signal_processing_cache.id)';
COMMENT ON COLUMN statsfirst.analysis_lineage.legacy_session_id IS 'Legacy c3d_metadata_id';
COMMENT ON COLUMN statsfirst.analysis_lineage.legacy_analysis IS 'Legacy scalar columns as JSON (file_hash, processing_params, processing_time_ms, ...)';
COMMENT ON COLUMN statsfirst.analysis_lineage.run_id IS 'Run that last wrote it';
CREATE INDEX analysis_lineage_session_idx ON statsfirst.analysis_lineage (legacy_session_id);
COMMENT ON COLUMN statsfirst.analysis_lineage.analytics_residual IS
    'For the session''s current analysis: the part of its analytics_data that emg_statistics does not store, per '
    'channel (see statsfirst.compat_analytics_residual); NULL for the session''s other analyses.';
COMMENT ON COLUMN statsfirst.analysis_lineage.file_hash IS
    'Legacy analysis_results.file_hash (generated from legacy_analysis), indexed for analysis_results_view.';
CREATE INDEX analysis_lineage_file_hash_idx ON statsfirst.analysis_lineage (file_hash);
COMMENT ON INDEX statsfirst.analysis_lineage_file_hash_idx IS
    'analysis_results_view: SELECT ... WHERE file_hash = $1 (the legacy cache lookup) uses this index.';

-- ------------------------------------------------------------------------------------------ watermarks
-- The point of the legacy history the last complete run covered, as a transaction snapshot (pg_current_snapshot()
-- taken before the run read anything). A legacy row version committed after that point has an xmin the snapshot
-- does not see, whatever its timestamps say, so the next incremental run finds it (pipeline/incremental.py).
CREATE TABLE statsfirst.watermarks (
    target_schema   text        PRIMARY KEY,
    legacy_snapshot pg_snapshot NOT NULL,
    references_hash text        NOT NULL,
    run_id          uuid,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE statsfirst.watermarks IS 'Incremental migration marks per target schema: the legacy snapshot the last complete run covered';
COMMENT ON COLUMN statsfirst.watermarks.target_schema IS 'Target schema the mark belongs to';
COMMENT ON COLUMN statsfirst.watermarks.legacy_snapshot IS 'pg_current_snapshot() taken before the run read the legacy tables: every change it sees was migrated';
COMMENT ON COLUMN statsfirst.watermarks.references_hash IS 'md5 of the legacy patient codes and therapist ids at the mark (a deletion there leaves no xmin)';
COMMENT ON COLUMN statsfirst.watermarks.run_id IS 'Run that advanced the mark';
COMMENT ON COLUMN statsfirst.watermarks.updated_at IS 'When the mark was advanced';

-- ------------------------------------------------------------------------------------------ configuration
-- Recorded once (at the first migration of a target, or by an explicit --reweigh) and used by every later run and
-- by the reconciliation: a nightly run can never score with other weights than the backfill did.
CREATE TABLE statsfirst.configuration (
    target_schema       text        PRIMARY KEY,
    performance_weights jsonb       NOT NULL,
    compliance_weights  jsonb       NOT NULL,
    defaults            jsonb       NOT NULL,
    recorded_by_run     uuid,
    recorded_at         timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE statsfirst.configuration IS 'The target''s scoring configuration, recorded once and used by every run and the reconciliation';
COMMENT ON COLUMN statsfirst.configuration.target_schema IS 'Target schema the configuration belongs to';
COMMENT ON COLUMN statsfirst.configuration.performance_weights IS 'Overall-score weights {compliance, symmetry, effort, game}';
COMMENT ON COLUMN statsfirst.configuration.compliance_weights IS 'Per-muscle compliance weights {completion, intensity, duration}';
COMMENT ON COLUMN statsfirst.configuration.defaults IS 'Defaults where the legacy data is silent (MVC threshold, duration threshold, target contractions, BFR target)';
COMMENT ON COLUMN statsfirst.configuration.recorded_by_run IS 'Run that recorded it (the first backfill, or a --reweigh run)';
COMMENT ON COLUMN statsfirst.configuration.recorded_at IS 'When it was recorded';

-- ------------------------------------------------------------------------------------------ change detection
CREATE FUNCTION statsfirst.committed_after(row_xmin xid, mark pg_snapshot, next_xid bigint) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    -- Whether the row version with this xmin was written by a transaction the snapshot `mark` does not see (it
    -- committed after the mark was taken, or was still open then). `next_xid` is pg_snapshot_xmax of a current
    -- snapshot (64-bit): the row's 32-bit xmin is widened into the epoch that makes it not newer than next_xid,
    -- which is exact for every transaction less than 2^31 transactions old (older row versions are visible to the
    -- mark anyway; the caller falls back to a full comparison when the mark itself is that old). Raw xmin values 1
    -- and 2 (bootstrap, frozen by a pre-9.4 server) are older than any mark. A single expression: inlined.
    SELECT CASE
        WHEN row_xmin::text::bigint < 3 THEN false
        ELSE NOT pg_visible_in_snapshot(
            greatest((next_xid - next_xid % 4294967296) + row_xmin::text::bigint
                     - CASE WHEN row_xmin::text::bigint > next_xid % 4294967296 THEN 4294967296 ELSE 0 END,
                     3)::text::xid8,
            mark)
    END;
$$;

COMMENT ON FUNCTION statsfirst.committed_after(xid, pg_snapshot, bigint) IS 'True when a row version (by its xmin) was committed after the snapshot mark was taken; change detection without privileged views';

-- ------------------------------------------------------------------------------------------ legacy references
CREATE FUNCTION statsfirst.clean_legacy_ref(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    -- No SET clause and a single expression, so the planner inlines it. The same rule as extract/references.py
    -- (SENTINELS, REFERENCE_WHITESPACE; \x0b is the vertical tab: E'\v' would be a plain v); tests/migrate/
    -- test_reference_rule.py proves they agree.
    SELECT CASE WHEN lower(btrim(value, E' \t\n\r\f\x0b')) IN ('unknown', '', 'null', 'none', 'n/a') THEN NULL
                ELSE btrim(value, E' \t\n\r\f\x0b') END
$$;
COMMENT ON FUNCTION statsfirst.clean_legacy_ref(text) IS 'A legacy patient/therapist reference as the migration reads it: trimmed of ASCII whitespace, NULL for the sentinels unknown, empty, null, none, n/a (any case)';

-- ------------------------------------------------------------------------------------------ JSON type guard
CREATE FUNCTION statsfirst.json_is_float8(value jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    -- true for JSON null or a JSON number that a float8 represents (no overflow, no underflow to zero).
    -- No SET clause and a single expression, so the planner inlines it (it runs for every field of every row).
    SELECT CASE jsonb_typeof(value)
        WHEN 'null' THEN true
        WHEN 'number' THEN abs(value::numeric) < 1.7e308 AND (value::numeric = 0 OR abs(value::numeric) > 2.3e-308)
        ELSE value IS NULL
    END;
$$;
COMMENT ON FUNCTION statsfirst.json_is_float8(jsonb) IS 'Whether a JSON value can load into a float8 column unchanged (null or a finite, representable number)';

-- ------------------------------------------------------------------------------------------ compression
-- The lineage rows are around 2 kB, so PostgreSQL compresses them as it stores them; lz4 does that several times
-- faster than the default pglz. Only where the server is built with lz4 (PostgreSQL 15 on Debian and Supabase are;
-- some embedded builds are not).
DO $$
BEGIN
    IF 'lz4' = ANY (SELECT unnest(enumvals) FROM pg_settings WHERE name = 'default_toast_compression') THEN
        ALTER TABLE statsfirst.analysis_lineage
            ALTER COLUMN legacy_analysis SET COMPRESSION lz4,
            ALTER COLUMN analytics_residual SET COMPRESSION lz4;
        ALTER TABLE statsfirst.session_lineage ALTER COLUMN legacy_c3d SET COMPRESSION lz4;
        ALTER TABLE statsfirst.quarantine ALTER COLUMN payload SET COMPRESSION lz4;
    END IF;
END
$$;
