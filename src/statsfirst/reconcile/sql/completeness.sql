-- Reconciliation, part 4: clinical completeness of the migrated sessions, from the legacy-derived expectations.
-- Codes only: a patient is shown by patients.patient_code, or by the legacy reference when it looks like a code
-- (P901); any other reference text is never selected.

-- name: score_reasons
-- Why a migrated session has no overall score: one row per session with one flag per reason (several may hold).
SELECT count(*) AS migrated,
       count(*) FILTER (WHERE p.overall_performance_score IS NOT NULL) AS computable,
       count(*) FILTER (WHERE p.session_id IS NULL) AS no_emg_analysis,
       count(*) FILTER (WHERE p.overall_performance_score IS NULL
                          AND ('compliance' = ANY (p.missing_components) OR 'symmetry' = ANY (p.missing_components))
                          AND NOT (coalesce(sides.has_left, false) AND coalesce(sides.has_right, false)))
           AS one_channel,
       count(*) FILTER (WHERE p.overall_performance_score IS NULL AND 'compliance' = ANY (p.missing_components)
                          AND sides.has_left AND sides.has_right) AS contraction_counts_missing,
       count(*) FILTER (WHERE p.overall_performance_score IS NULL AND 'symmetry' = ANY (p.missing_components)
                          AND NOT 'compliance' = ANY (p.missing_components)
                          AND sides.has_left AND sides.has_right) AS no_contractions,
       count(*) FILTER (WHERE p.overall_performance_score IS NULL AND 'effort' = ANY (p.missing_components))
           AS rpe_not_recorded,
       count(*) FILTER (WHERE p.overall_performance_score IS NULL AND 'game' = ANY (p.missing_components))
           AS game_points_not_recorded,
       count(*) FILTER (WHERE 'bfr_gate' = ANY (p.missing_components)) AS bfr_gate_not_applied
FROM rc_compared c
LEFT JOIN rc_exp_performance_scores p ON p.session_id = c.session_id
LEFT JOIN (
    SELECT session_id, bool_or(side = 'left') AS has_left, bool_or(side = 'right') AS has_right
    FROM rc_exp_emg_statistics GROUP BY session_id
) sides ON sides.session_id = c.session_id;

-- name: identity_and_rate
-- Sessions with no identifiable patient (sentinel such as 'Unknown', or a code absent from patients), and sessions
-- carrying the 33 Hz C3D point rate instead of an EMG sampling rate.
SELECT count(*) FILTER (WHERE a.state = 'migrated' AND a.patient_candidate IS NULL) AS unknown_sentinel,
       count(*) FILTER (WHERE a.state = 'migrated' AND a.patient_candidate IS NOT NULL AND a.patient_code IS NULL)
           AS unregistered_code,
       count(*) FILTER (WHERE a.sampling_rate = 33) AS point_rate_legacy,
       count(*) FILTER (WHERE a.sampling_rate = 33 AND a.state = 'migrated') AS point_rate_migrated
FROM rc_accounting a;

-- name: patients
-- Per patient: sessions in the old system and what became of them.
SELECT CASE WHEN a.patient_code IS NOT NULL THEN a.patient_code
            WHEN a.patient_candidate ~ '^P[0-9]{1,6}$' THEN a.patient_candidate END AS patient_code,
       a.patient_code IS NOT NULL AS registered,
       count(*) AS legacy,
       count(*) FILTER (WHERE a.state = 'migrated') AS migrated,
       count(*) FILTER (WHERE a.state = 'migrated' AND a.waiting) AS migrated_pending,
       count(*) FILTER (WHERE a.state = 'quarantined') AS quarantined,
       count(*) FILTER (WHERE a.state NOT IN ('migrated', 'quarantined', 'arrived_since_last_run'))
           AS mismatched,
       count(*) FILTER (WHERE a.state = 'migrated' AND p.overall_performance_score IS NOT NULL) AS computable
FROM rc_accounting a
LEFT JOIN rc_exp_performance_scores p ON p.session_id = a.session_id
GROUP BY 1, 2
ORDER BY 2 DESC, 1 NULLS LAST;
