-- Reconciliation, part 1: helpers, the legacy sessions in scope, and what became of each one.
--
-- Runs inside one REPEATABLE READ transaction whose search_path is `<target schema>, pg_catalog`, so unqualified
-- names are the target tables (or this transaction's rc_* temporary tables); the legacy tables are always
-- qualified with `public.` and the bookkeeping ones with `statsfirst.`. Nothing here writes outside pg_temp, and
-- every temporary object disappears when the transaction ends.
--
-- The expected side never reads the pipeline's counters: it is recomputed from the legacy rows with the rules of
-- mapping.md and README "Rules where the mapping is silent".

-- name: function_number
-- A JSON number as float8, else NULL (strings, arrays, objects). One CASE expression, so the planner inlines it.
-- A number beyond float8's range raises an error here; the caller then switches to function_number_checked.
CREATE FUNCTION pg_temp.rc_number(value jsonb) RETURNS float8
LANGUAGE sql IMMUTABLE
AS $$
    SELECT CASE WHEN jsonb_typeof(value) = 'number' THEN value::float8 END
$$;

-- name: function_number_checked
-- The same, with over- and underflow giving NULL instead of an error (about three times slower).
CREATE OR REPLACE FUNCTION pg_temp.rc_number(value jsonb) RETURNS float8
LANGUAGE sql IMMUTABLE
AS $$
    SELECT CASE WHEN jsonb_typeof(value) = 'number'
                 AND (value::numeric = 0 OR abs(value::numeric) BETWEEN 2.3e-308 AND 1.7e308)
           THEN value::float8 END
$$;

-- name: function_text_number
-- A number written as text (game points in game_metadata are strings), else NULL.
CREATE FUNCTION pg_temp.rc_text_number(value text) RETURNS float8
LANGUAGE sql IMMUTABLE
AS $$
    SELECT CASE WHEN btrim(value) ~ '^[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]{1,3})?$'
           THEN btrim(value)::float8 END
$$;

-- name: function_side
-- The side a channel_muscle_mapping entry names ('Left Quadriceps' -> left), else NULL.
CREATE FUNCTION pg_temp.rc_side_named(mapping text) RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
    SELECT CASE WHEN lower(mapping) LIKE '%left%' THEN 'left' WHEN lower(mapping) LIKE '%right%' THEN 'right' END
$$;

-- name: function_python_float
-- A float as Python's json.dumps writes it (shortest round-trip digits, always with a '.' or an exponent).
CREATE FUNCTION pg_temp.rc_python_float(value float8) RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
    SELECT CASE WHEN value::text ~ '[.eEn]' THEN value::text ELSE value::text || '.0' END
$$;

-- name: function_canonical_json
-- Canonical JSON (keys sorted by code point, no spaces), as json.dumps(sort_keys=True, separators=(",", ":"))
-- writes it after json.loads: the input of signal_processing_cache.processing_request_hash.
CREATE FUNCTION pg_temp.rc_canonical_json(value jsonb) RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
    SELECT CASE jsonb_typeof(value)
        WHEN 'object' THEN '{' || coalesce((
            SELECT string_agg(to_json(e.key)::text || ':' || pg_temp.rc_canonical_json(e.value), ','
                              ORDER BY e.key COLLATE "C")
            FROM jsonb_each(value) e), '') || '}'
        WHEN 'array' THEN '[' || coalesce((
            SELECT string_agg(pg_temp.rc_canonical_json(e.value), ',' ORDER BY e.n)
            FROM jsonb_array_elements(value) WITH ORDINALITY e(value, n)), '') || ']'
        WHEN 'number' THEN CASE WHEN value::text ~ '^-?[0-9]+$' THEN value::text
                                ELSE pg_temp.rc_python_float(value::float8) END
        ELSE value::text
    END
$$;

-- name: scope
-- Every legacy session in range (created_at in [since, until)), with who it belongs to, whether it is still
-- pending/processing in legacy (migrated as a therapy_sessions row without child rows yet: mapping.md "Every legacy
-- row has a home"; no rule skips a session), and whether it arrived: a row version
-- of the session (its c3d_metadata row or an analysis row) was committed after the point of legacy history the last
-- completed run covered (%(mark)s, NULL when no run completed), so that run could not have seen it.
CREATE TEMP TABLE rc_scope ON COMMIT DROP AS
WITH point AS (
    SELECT %(mark)s::pg_snapshot AS mark, pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS next_xid
)
SELECT c.id AS session_id,
       coalesce(c.processing_status IN ('pending', 'processing'), false) AS waiting,
       c.processing_status,
       coalesce(statsfirst.clean_legacy_ref(c.resolved_patient_id), statsfirst.clean_legacy_ref(c.patient_id)) AS patient_candidate,
       p.patient_code,
       c.sampling_rate,
       c.created_at,
       pt.mark IS NOT NULL
           AND (statsfirst.committed_after(c.xmin, pt.mark, pt.next_xid)
                OR c.id IN (SELECT a.c3d_metadata_id FROM public.analysis_results a
                            WHERE statsfirst.committed_after(a.xmin, pt.mark, pt.next_xid))) AS arrived
FROM public.c3d_metadata c
CROSS JOIN point pt
LEFT JOIN public.patients p
       ON p.patient_code = coalesce(statsfirst.clean_legacy_ref(c.resolved_patient_id), statsfirst.clean_legacy_ref(c.patient_id))
WHERE (%(since)s::timestamptz IS NULL OR c.created_at >= %(since)s::timestamptz)
  AND (%(until)s::timestamptz IS NULL OR c.created_at < %(until)s::timestamptz);

-- name: arrived_settings
-- A linked legacy session_settings row changed after the point: its session arrived too.
WITH pt AS (
    SELECT %(mark)s::pg_snapshot AS mark, pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS next_xid
), changed AS (
    SELECT st.session_id FROM public.session_settings st CROSS JOIN pt
    WHERE pt.mark IS NOT NULL AND statsfirst.committed_after(st.xmin, pt.mark, pt.next_xid)
)
UPDATE rc_scope s SET arrived = true
WHERE NOT s.arrived AND s.session_id IN (
    SELECT c.id FROM changed ch JOIN public.c3d_metadata c ON c.session_id = ch.session_id
    UNION
    SELECT c.id FROM changed ch JOIN public.c3d_metadata c ON c.id::text = ch.session_id);

-- name: accounting
-- Where each session in scope actually is: the target's therapy_sessions, an open quarantine entry, neither or
-- both. A session must be in exactly one of migrated / quarantined (pending and processing ones too: they are
-- migrated); every other state is a mismatch. `waiting` marks the migrated ones still pending/processing.
CREATE TEMP TABLE rc_accounting ON COMMIT DROP AS
WITH located AS (
    SELECT s.*,
           t.id IS NOT NULL AS in_target,
           q.legacy_session_id IS NOT NULL AS in_quarantine,
           q.reasons[1] AS quarantine_reason
    FROM rc_scope s
    LEFT JOIN therapy_sessions t ON t.id = s.session_id
    LEFT JOIN statsfirst.quarantine q ON q.legacy_session_id = s.session_id AND q.resolved_at IS NULL
)
SELECT session_id, patient_candidate, patient_code, sampling_rate, created_at, waiting, in_target, in_quarantine,
       quarantine_reason,
       CASE
           WHEN arrived THEN 'arrived_since_last_run'
           WHEN in_target AND NOT in_quarantine THEN 'migrated'
           WHEN in_quarantine AND NOT in_target THEN 'quarantined'
           WHEN NOT in_target AND NOT in_quarantine THEN 'unaccounted'
           ELSE 'migrated_and_quarantined'
       END AS state
FROM located;
CREATE UNIQUE INDEX ON rc_accounting (session_id);

-- name: orphans
-- Migrated sessions (or open quarantine entries) whose legacy row is gone: deleted in legacy, kept in the target
-- (mapping.md "Deleted legacy rows"); in range by their own dates. One row per session.
SELECT DISTINCT ON (session_id) session_id, patient_code, uploaded_at::text, kept_in
FROM (
    SELECT t.id::text AS session_id, t.patient_id AS patient_code, t.created_at AS uploaded_at, 'target' AS kept_in
    FROM therapy_sessions t
    WHERE NOT EXISTS (SELECT 1 FROM public.c3d_metadata c WHERE c.id = t.id)
      AND (%(since)s::timestamptz IS NULL OR t.created_at >= %(since)s::timestamptz)
      AND (%(until)s::timestamptz IS NULL OR t.created_at < %(until)s::timestamptz)
    UNION ALL
    SELECT q.legacy_session_id::text, NULL, (q.payload #>> '{c3d_metadata,created_at}')::timestamptz, 'quarantine'
    FROM statsfirst.quarantine q
    WHERE q.resolved_at IS NULL
      AND NOT EXISTS (SELECT 1 FROM public.c3d_metadata c WHERE c.id = q.legacy_session_id)
      AND (%(since)s::timestamptz IS NULL
           OR (q.payload #>> '{c3d_metadata,created_at}')::timestamptz >= %(since)s::timestamptz)
      AND (%(until)s::timestamptz IS NULL
           OR (q.payload #>> '{c3d_metadata,created_at}')::timestamptz < %(until)s::timestamptz)
) gone
ORDER BY session_id, kept_in DESC;
