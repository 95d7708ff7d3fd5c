-- statsfirst.quarantine_review: the held-back sessions a clinician may see, and why, without anything that can
-- carry a name.
--
-- The reconciliation report counts the sessions held back for review; this view lets a therapist (or a researcher)
-- see which ones. statsfirst.quarantine itself stays readable by no client role: its payload is the legacy row as
-- it was (free text such as game_metadata, session_notes, error_message, file names) and each failed check carries
-- the offending value, any of which can hold a patient's name. The view shows only what the pipeline itself wrote
-- or what is a code: the legacy session id, the patient code when it is a registered one (patients.patient_code,
-- resolved as the migration resolves it: resolved_patient_id, else patient_id; sentinels such as 'Unknown' count as
-- none), the upload time, the stage, the reason codes and the checks that failed (table, column, check, reason;
-- never the value).
--
-- Who sees a row is the rule of target-schema.md for sessions, applied to the legacy row (a held-back session has
-- no therapy_sessions row): researchers all; a therapist the sessions of their own patients and those whose legacy
-- therapist reference is their therapists.id; service_role (by JWT claim or as the database role) and the owner all;
-- anon nothing. The view runs with its owner's rights
-- (it is not security_invoker) and filters by auth.uid() through the SECURITY DEFINER helpers of 006; it is a
-- security_barrier view so that no caller-supplied function sees rows before that filter.
--
-- Applied like 006 (`SET LOCAL search_path TO <target>, public`): the unqualified RLS helpers resolve to the target
-- schema (where 006 created them); the legacy tables are named with their schema.

CREATE VIEW statsfirst.quarantine_review WITH (security_barrier = true) AS
SELECT q.legacy_session_id,
       p.patient_code,
       c.created_at AS uploaded_at,
       q.stage,
       q.reasons,
       ARRAY(SELECT DISTINCT concat_ws(' / ', f ->> 'table', f ->> 'column', f ->> 'check', f ->> 'reason')
             FROM jsonb_array_elements(q.failures) AS f
             ORDER BY 1) AS failed_checks,
       cardinality(q.legacy_analysis_ids) AS analyses,
       q.created_at AS held_back_at
FROM statsfirst.quarantine AS q
LEFT JOIN public.c3d_metadata AS c ON c.id = q.legacy_session_id
LEFT JOIN public.patients AS p
       ON p.patient_code = coalesce(statsfirst.clean_legacy_ref(c.resolved_patient_id),
                                    statsfirst.clean_legacy_ref(c.patient_id))
LEFT JOIN public.therapists AS t
       ON t.id::text = lower(coalesce(statsfirst.clean_legacy_ref(c.therapist_id),
                                      statsfirst.clean_legacy_ref(c.resolved_therapist_id)))
WHERE q.resolved_at IS NULL
  -- service_role by its JWT claim or as a database role (SET ROLE service_role, a service connection), and the
  -- pipeline: superusers and members of statsfirst.quarantine's owner (who read the full entries anyway)
  AND ((SELECT auth.role()) = 'service_role'
       OR (SELECT pg_has_role(current_user, 'service_role', 'MEMBER'))
       OR (SELECT pg_has_role(current_user, o.relowner, 'MEMBER') FROM pg_catalog.pg_class AS o
           WHERE o.oid = 'statsfirst.quarantine'::regclass)
       OR (SELECT statsfirst_is_researcher())
       OR p.patient_code IN (SELECT statsfirst_current_therapist_patient_codes())
       OR t.id = (SELECT statsfirst_current_therapist_id()));

COMMENT ON VIEW statsfirst.quarantine_review IS
    'Open quarantine entries a clinician may see (researchers: all; therapists: their patients'' and their own '
    'sessions; service_role: all; anon: none), without the payload or the failed values, which can hold names. '
    'The full entry is in statsfirst.quarantine (pipeline and owner only).';
COMMENT ON COLUMN statsfirst.quarantine_review.legacy_session_id IS 'Legacy c3d_metadata.id of the held-back session';
COMMENT ON COLUMN statsfirst.quarantine_review.patient_code IS
    'Registered patient code of the session (patients.patient_code), NULL when the legacy reference is a sentinel or '
    'an unregistered code (only researchers and service_role see those)';
COMMENT ON COLUMN statsfirst.quarantine_review.uploaded_at IS
    'Legacy c3d_metadata.created_at (read from the live legacy row; NULL once that row is gone)';
COMMENT ON COLUMN statsfirst.quarantine_review.stage IS 'Pipeline stage that held the session back';
COMMENT ON COLUMN statsfirst.quarantine_review.reasons IS 'Reason codes (explained in the reconciliation report)';
COMMENT ON COLUMN statsfirst.quarantine_review.failed_checks IS
    'Each failed check as "table / column / check / reason", without the offending value';
COMMENT ON COLUMN statsfirst.quarantine_review.analyses IS 'Number of legacy analysis_results rows of the session';
COMMENT ON COLUMN statsfirst.quarantine_review.held_back_at IS 'When the session was first held back';

REVOKE ALL ON statsfirst.quarantine_review FROM PUBLIC, anon;
GRANT SELECT ON statsfirst.quarantine_review TO authenticated, service_role;
