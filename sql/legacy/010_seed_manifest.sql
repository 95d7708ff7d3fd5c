-- Bookkeeping of `statsfirst legacy seed` (dev / test / demo only), kept in its own schema, never in the legacy
-- tables. Tests of later features read legacy_seed.manifest to know which traps and spoiled rows each session has.
CREATE SCHEMA IF NOT EXISTS legacy_seed;
COMMENT ON SCHEMA legacy_seed IS 'What the synthetic legacy generator wrote: runs and the per-session trap manifest.';

CREATE TABLE IF NOT EXISTS legacy_seed.runs (
    seed            bigint NOT NULL,
    sessions        integer NOT NULL,
    bad_fraction    double precision NOT NULL,
    signal_samples  integer NOT NULL,
    grounded        boolean NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE legacy_seed.runs IS 'One row per seed run (arguments and whether real C3D files grounded it).';

CREATE TABLE IF NOT EXISTS legacy_seed.manifest (
    c3d_metadata_id  uuid PRIMARY KEY,
    ordinal          integer NOT NULL,
    traps            text[] NOT NULL,
    spoiled_kind     text,
    spoiled_detail   text
);
COMMENT ON TABLE legacy_seed.manifest IS
    'Per seeded session: every trap label it carries; spoiled_kind/detail when it was made invalid on purpose.';
