-- Legacy `session_settings` (dev / test / demo only; created by `statsfirst legacy init --with-session-settings`),
-- as the legacy migration file created it (2025-08-10). The only place BFR pressure and post-session RPE were
-- recorded; its session_id has no reliable link to c3d_metadata. Its name collides with the new schema's
-- session_settings table.
CREATE TABLE session_settings (
    user_id     uuid NOT NULL,
    session_id  text NOT NULL,
    params      jsonb NOT NULL DEFAULT '{}'::jsonb,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, session_id)
);
COMMENT ON TABLE session_settings IS
    'Legacy per-session settings: bfr_parameters per side, post_session_rpe, channel_muscle_mapping, targets.';

CREATE INDEX session_settings_params_gin ON session_settings USING gin (params);

ALTER TABLE session_settings ENABLE ROW LEVEL SECURITY;

-- The legacy file wrote its four own-row policies as `create policy if not exists`, which PostgreSQL rejects: a live
-- table may have RLS on and no policy. Here they exist where auth.uid() does (Supabase, or a database that already
-- has statsfirst's supabase_compat.sql); elsewhere the table keeps RLS on without a policy, the other real state.
DO $$
BEGIN
    IF to_regprocedure('auth.uid()') IS NOT NULL THEN
        CREATE POLICY session_settings_select_own ON session_settings
            FOR SELECT USING (auth.uid() = user_id);
        CREATE POLICY session_settings_insert_own ON session_settings
            FOR INSERT WITH CHECK (auth.uid() = user_id);
        CREATE POLICY session_settings_update_own ON session_settings
            FOR UPDATE USING (auth.uid() = user_id) WITH CHECK (auth.uid() = user_id);
        CREATE POLICY session_settings_delete_own ON session_settings
            FOR DELETE USING (auth.uid() = user_id);
    END IF;
END
$$;
