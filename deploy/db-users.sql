-- deploy/db-users.sql: the login users of lindung's database roles
-- (db/migrations/027_roles.sql; docs/operations.md, "Database roles").
-- Run with psql, as a superuser, connected to lindung's database:
--
--   psql -X -v ON_ERROR_STOP=1 -d lindung -f deploy/db-users.sql
--       no passwords: for a cluster whose pg_hba.conf trusts or peer-checks
--       its local users (scripts/up, the tests)
--   psql -X -v ON_ERROR_STOP=1 -v secrets=/run/secrets -d lindung -f deploy/db-users.sql
--       each login's password read from the file <secrets>/<login>_password
--       (docker-compose.yml's secrets; one trailing newline is dropped); a
--       missing or empty file leaves that login's password as it was (none,
--       for a new login: it cannot log in with a password)
--
-- Idempotent: run it before the first migration, after it, or again after
-- changing a password. It makes what is missing of
--
--   the five NOLOGIN roles of 027_roles.sql, so that a new database can be
--     migrated by lindung_admin from the first migration (027 makes them
--     too, for an operator who runs `lindungctl migrate` as a superuser)
--   the logins lindungctl (a member of lindung_admin that acts as it, so
--     that what it creates belongs to the owner role), intake, verify,
--     billing (one per daemon) and analyst, each a member of its role and
--     of nothing else
--
-- and makes lindung_admin the owner of the database: the owner role may
-- then create in it (migrations, trusted extensions such as btree_gist and
-- pgcrypto) and grant CONNECT on it, without a superuser.
\set ON_ERROR_STOP 1
SET client_min_messages = warning; -- "already a member" on every run after the first

DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['lindung_admin', 'lindung_intake', 'lindung_verify',
                             'lindung_billing', 'lindung_analyst'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
    FOREACH r IN ARRAY ARRAY['lindungctl', 'intake', 'verify', 'billing', 'analyst'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I LOGIN', r);
        END IF;
    END LOOP;
END $$;

GRANT lindung_admin TO lindungctl;
GRANT lindung_intake TO intake;
GRANT lindung_verify TO verify;
GRANT lindung_billing TO billing;
GRANT lindung_analyst TO analyst;
-- lindungctl's sessions start as lindung_admin (SET ROLE at login)
ALTER ROLE lindungctl SET role = 'lindung_admin';

SELECT format('ALTER DATABASE %I OWNER TO lindung_admin', current_database())
WHERE (SELECT pg_get_userbyid(datdba) FROM pg_database
       WHERE datname = current_database()) <> 'lindung_admin' \gexec

\if :{?secrets}
\set pw_file :secrets/lindungctl_password
\set pw `cat :pw_file 2>/dev/null`
SELECT format('ALTER ROLE lindungctl PASSWORD %L', :'pw') WHERE :'pw' <> '' \gexec
\set pw_file :secrets/intake_password
\set pw `cat :pw_file 2>/dev/null`
SELECT format('ALTER ROLE intake PASSWORD %L', :'pw') WHERE :'pw' <> '' \gexec
\set pw_file :secrets/verify_password
\set pw `cat :pw_file 2>/dev/null`
SELECT format('ALTER ROLE verify PASSWORD %L', :'pw') WHERE :'pw' <> '' \gexec
\set pw_file :secrets/billing_password
\set pw `cat :pw_file 2>/dev/null`
SELECT format('ALTER ROLE billing PASSWORD %L', :'pw') WHERE :'pw' <> '' \gexec
\set pw_file :secrets/analyst_password
\set pw `cat :pw_file 2>/dev/null`
SELECT format('ALTER ROLE analyst PASSWORD %L', :'pw') WHERE :'pw' <> '' \gexec
\unset pw
\endif
