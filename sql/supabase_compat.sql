-- supabase_compat.sql: the small part of Supabase that the Statistics-First schema relies on, for plain PostgreSQL.
--
-- Applied by the migration runner ONLY when the database has no `auth` schema (embedded server, CI, a bare
-- PostgreSQL), in its own transaction, before 006_create_statistics_schema.sql. Never applied on Supabase itself.
--
-- It creates:
--   * the roles anon, authenticated (NOLOGIN) and service_role (NOLOGIN BYPASSRLS), as Supabase has them;
--   * schema auth with auth.uid(), auth.role() and auth.jwt(), with Supabase's definitions: they read the
--     `request.jwt.claim.*` / `request.jwt.claims` settings that PostgREST sets per request (tests set them with
--     set_config) and return NULL when nothing is set.
--
-- Roles are cluster-wide and many test databases share one cluster, so every role is created only when missing,
-- and a concurrent creator (another test database being prepared at the same moment) is tolerated.

-- Roles ------------------------------------------------------------------------------------------------------------
DO $$
DECLARE
    wanted constant text[][] := ARRAY[
        ARRAY['anon', 'NOLOGIN NOINHERIT'],
        ARRAY['authenticated', 'NOLOGIN NOINHERIT'],
        ARRAY['service_role', 'NOLOGIN NOINHERIT BYPASSRLS']
    ];
    i int;
BEGIN
    FOR i IN 1 .. array_length(wanted, 1) LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = wanted[i][1]) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I %s', wanted[i][1], wanted[i][2]);
            EXCEPTION
                -- another session created it between our check and our CREATE (duplicate_object), or its
                -- insert into pg_authid won the race on the unique index (unique_violation): either way it exists.
                WHEN duplicate_object OR unique_violation THEN
                    NULL;
            END;
        END IF;
    END LOOP;
END
$$;

-- Let the current (migrating) user SET ROLE to the three roles, as the Supabase `postgres` user can. A superuser
-- can SET ROLE to anything already; a CREATEROLE user gets membership granted. Lacking the right is not fatal.
DO $$
DECLARE
    r text;
BEGIN
    IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
        RETURN;
    END IF;
    FOREACH r IN ARRAY ARRAY['anon', 'authenticated', 'service_role'] LOOP
        IF NOT pg_catalog.pg_has_role(current_user, r, 'MEMBER') THEN
            BEGIN
                EXECUTE format('GRANT %I TO %I', r, current_user);
            EXCEPTION
                WHEN insufficient_privilege OR invalid_grant_operation THEN
                    RAISE NOTICE 'supabase_compat: cannot grant role % to %; SET ROLE % will not work',
                        r, current_user, r;
            END;
        END IF;
    END LOOP;
END
$$;

-- Schema auth ------------------------------------------------------------------------------------------------------
CREATE SCHEMA IF NOT EXISTS auth;
COMMENT ON SCHEMA auth IS
    'Stand-in for Supabase''s auth schema on plain PostgreSQL (created by statsfirst sql/supabase_compat.sql): '
    'only the JWT accessor functions auth.uid(), auth.role() and auth.jwt().';

GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;

-- Same definitions as Supabase (supabase/postgres, auth schema migrations).
CREATE OR REPLACE FUNCTION auth.uid() RETURNS uuid
    LANGUAGE sql STABLE
AS $$
    SELECT coalesce(
        nullif(current_setting('request.jwt.claim.sub', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
    )::uuid
$$;
COMMENT ON FUNCTION auth.uid() IS
    'Supabase-compatible: the id of the authenticated user (JWT claim sub), read from request.jwt.claim.sub or '
    'request.jwt.claims; NULL when no JWT is set (anonymous or server-side session).';

CREATE OR REPLACE FUNCTION auth.role() RETURNS text
    LANGUAGE sql STABLE
AS $$
    SELECT coalesce(
        nullif(current_setting('request.jwt.claim.role', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
    )::text
$$;
COMMENT ON FUNCTION auth.role() IS
    'Supabase-compatible: the role claim of the JWT (anon, authenticated, service_role), read from '
    'request.jwt.claim.role or request.jwt.claims; NULL when no JWT is set.';

CREATE OR REPLACE FUNCTION auth.jwt() RETURNS jsonb
    LANGUAGE sql STABLE
AS $$
    SELECT coalesce(
        nullif(current_setting('request.jwt.claim', true), ''),
        nullif(current_setting('request.jwt.claims', true), '')
    )::jsonb
$$;
COMMENT ON FUNCTION auth.jwt() IS
    'Supabase-compatible: all claims of the JWT as jsonb, read from request.jwt.claim or request.jwt.claims; '
    'NULL when no JWT is set.';

GRANT EXECUTE ON FUNCTION auth.uid(), auth.role(), auth.jwt() TO anon, authenticated, service_role;
