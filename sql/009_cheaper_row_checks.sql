-- 009_cheaper_row_checks.sql: the same CHECK rules as 006, written so that each row costs a fraction to check.
--
-- Every migrated row pays for its table's CHECK constraints, so their cost is part of the migration's. Two of
-- them cost more than the rest together (measured on PostgreSQL 15, 94,000 rows, 2 vCPU):
--   * `x ~ '^[0-9a-f]{64}$'`: the bounded repetition compiles into a large automaton, ~10 us per row. The same
--     rule as `length(x) = 64 AND x ~ '^[0-9a-f]+$'` costs under 1 us;
--   * statsfirst_valid_performance_weights(): a plpgsql function with SET search_path, i.e. a function call and a
--     configuration change per row. The same rule as one expression inside the constraint (stored as a parsed
--     expression, so no search_path is involved) costs less than half.
-- The rules accept and refuse exactly the same values (tests/schema/test_constraints.py has a case for each side
-- of each rule). Applied like 006 (`SET LOCAL search_path TO <target>, public`); constraint names are unchanged.

ALTER TABLE therapy_sessions DROP CONSTRAINT therapy_sessions_file_hash_check;
ALTER TABLE therapy_sessions ADD CONSTRAINT therapy_sessions_file_hash_check
    CHECK (length(file_hash) = 64 AND file_hash ~ '^[0-9a-f]+$');

ALTER TABLE signal_processing_cache DROP CONSTRAINT signal_processing_cache_processing_request_hash_check;
ALTER TABLE signal_processing_cache ADD CONSTRAINT signal_processing_cache_processing_request_hash_check
    CHECK (length(processing_request_hash) = 64 AND processing_request_hash ~ '^[0-9a-f]+$');

ALTER TABLE export_history DROP CONSTRAINT export_history_export_hash_check;
ALTER TABLE export_history ADD CONSTRAINT export_history_export_hash_check
    CHECK (export_hash IS NULL OR (length(export_hash) = 64 AND export_hash ~ '^[0-9a-f]+$'));

-- performance_weights (performance_scores and session_settings, one rule for both): an object whose keys
-- compliance, symmetry, effort and game are JSON numbers in [0, 1] that sum to 1 within 1e-9 (metricsDefinitions.md
-- weights w_c, w_s, w_e, w_g); other keys are ignored; NULL is left to NOT NULL. CASE evaluates in order, so a value
-- is cast only once it is known to be a number.
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
        EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', target, target || '_performance_weights_check');
        EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (%s)', target, target || '_performance_weights_check',
                       rule);
    END LOOP;
END
$$;

COMMENT ON FUNCTION statsfirst_valid_performance_weights(jsonb) IS
    'The performance_weights rule as a function (true when the object has the four numeric keys compliance, '
    'symmetry, effort and game, each in [0, 1], summing to 1 within 1e-9; NULL in, NULL out). The CHECK '
    'constraints of performance_scores and session_settings state the same rule inline (009) because a function '
    'call per row costs more; this function stays for ad-hoc checks of stored or incoming weights.';
