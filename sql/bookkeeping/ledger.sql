-- statsfirst bookkeeping: the migration ledger and the recorded settings.
-- Applied by the schema runner before anything else, idempotently (IF NOT EXISTS), in its own transaction.
-- The bookkeeping schema never holds target or legacy data.

CREATE SCHEMA IF NOT EXISTS statsfirst;
COMMENT ON SCHEMA statsfirst IS 'statsfirst bookkeeping: migration ledger, run/batch ledger, quarantine, lineage, watermarks';

CREATE TABLE IF NOT EXISTS statsfirst.schema_migrations (
    version        text        PRIMARY KEY,
    name           text        NOT NULL,
    kind           text        NOT NULL CHECK (kind IN ('versioned', 'repeatable', 'compat')),
    checksum       text        NOT NULL CHECK (checksum ~ '^[0-9a-f]{64}$'),
    target_schema  text        NOT NULL,
    applied_at     timestamptz NOT NULL DEFAULT now(),
    duration_ms    integer     NOT NULL CHECK (duration_ms >= 0),
    applied_by     text        NOT NULL DEFAULT current_user
);
COMMENT ON TABLE statsfirst.schema_migrations IS 'One row per applied sql/ migration: what ran, with which file checksum, when and how long';
COMMENT ON COLUMN statsfirst.schema_migrations.version IS 'Numeric prefix of the file name (000 for the Supabase compatibility script)';
COMMENT ON COLUMN statsfirst.schema_migrations.name IS 'File name without the version prefix and .sql suffix';
COMMENT ON COLUMN statsfirst.schema_migrations.kind IS 'versioned (applied once, never edited), repeatable (re-applied when its checksum changes) or compat';
COMMENT ON COLUMN statsfirst.schema_migrations.checksum IS 'SHA-256 of the file bytes when applied; an edited versioned file is refused as drift';
COMMENT ON COLUMN statsfirst.schema_migrations.target_schema IS 'Schema the migration created its objects in';
COMMENT ON COLUMN statsfirst.schema_migrations.applied_at IS 'When the migration transaction committed';
COMMENT ON COLUMN statsfirst.schema_migrations.duration_ms IS 'Wall time of the migration transaction in milliseconds';
COMMENT ON COLUMN statsfirst.schema_migrations.applied_by IS 'Database role that applied it';

CREATE TABLE IF NOT EXISTS statsfirst.settings (
    key         text        PRIMARY KEY,
    value       text        NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE statsfirst.settings IS 'Choices recorded once and used by later commands (e.g. target_schema)';
COMMENT ON COLUMN statsfirst.settings.key IS 'Setting name';
COMMENT ON COLUMN statsfirst.settings.value IS 'Setting value as text';
COMMENT ON COLUMN statsfirst.settings.updated_at IS 'When the setting was last written';
