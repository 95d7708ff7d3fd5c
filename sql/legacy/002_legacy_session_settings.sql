-- Legacy `session_settings` (dev / test / demo only; created by `statsfirst legacy init --with-session-settings`).
-- The only place BFR pressure and post-session RPE were recorded; its session_id has no reliable link to
-- c3d_metadata. Its name collides with the new schema's session_settings table.
CREATE TABLE session_settings (
    user_id     uuid NOT NULL,
    session_id  text NOT NULL,
    params      jsonb,
    updated_at  timestamptz DEFAULT now(),
    PRIMARY KEY (user_id, session_id)
);
COMMENT ON TABLE session_settings IS
    'Legacy per-session settings: bfr_parameters per side, post_session_rpe, channel_muscle_mapping, targets.';
