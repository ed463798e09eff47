-- 027_roles: least privilege in the database (issue 15, finding 10 and
-- "Least privilege in the database"; docs/security.md and docs/operations.md,
-- "Database roles"). Until now lindungctl and the three daemons all connected
-- as one superuser: a flaw in intake's HTTP code could have read or changed
-- anything, and any session could run programs on the database host
-- (COPY ... PROGRAM). From here on:
--
--   lindung_admin    owns every table, view, sequence and function of the
--                    schema: lindungctl and migrations. Not a superuser.
--   lindung_intake   the HTTP API: reads what the API answers, stores
--                    submissions and applicants, writes a key's last use.
--   lindung_verify   decides applicants and enrols the accepted ones.
--   lindung_billing  accrues premiums and issues documents, ends lapsed and
--                    finished enrolments.
--   lindung_analyst  read-only reports: views whose NIKs are masked
--                    (1612******0001), reference tables, no base table that
--                    holds a NIK.
--
-- All five are NOLOGIN group roles. An operator gives each a login user (with
-- a password, or peer/cert authentication) as its member; the admin's login
-- also gets `SET role = lindung_admin` so that what it creates belongs to the
-- owner role (docs/operations.md shows the SQL; deploy/db-users.sql does it
-- for scripts/up, the test harness and docker-compose.yml).
--
-- Who may write what. A daemon gets table privileges for the statements its
-- own code runs (services/*/, read statement by statement), UPDATE on the
-- columns it sets only, except where PostgreSQL asks for more (billing's
-- LOCK TABLE enrolments IN SHARE MODE needs UPDATE on the whole table).
-- Where a daemon calls a database function that writes tables it must not
-- write itself (intake's events end enrolments; its payments, claims; the
-- renewals billing queues are submissions; billing's monthly partitions are
-- DDL on accruals), the function is SECURITY DEFINER: it runs as
-- lindung_admin with a fixed search_path (public, then pg_temp last, so no
-- caller can put a table or function of its own in front of the schema's),
-- and the rules written in it are the only way in. The claims trigger
-- (claims_on_death, 021) is one too: every way a death is recorded opens
-- its claim, whoever's session records it. EXECUTE on every other function
-- is revoked from PUBLIC (PostgreSQL's default gives it to everyone) and
-- granted where the code or a view it reads calls it: a function called in
-- a view runs with the reader's privileges, the view's tables with the
-- owner's.
--
-- This file is idempotent like every migration: roles are cluster-wide and
-- may exist already (another database in the same cluster, or made by
-- deploy/db-users.sql before the first migration), so they are made only
-- when missing; grants and ownership changes are repeatable.
--
-- Who runs it: a superuser, or lindung_admin itself when the roles exist and
-- lindung_admin owns the database's objects already (deploy/db-users.sql,
-- docker-compose.yml). At its end the migrating session acts as
-- lindung_admin (SET ROLE) for every later migration of the same run, so a
-- later migration's objects belong to the owner role even on the first run
-- by a superuser, and its ALTER DEFAULT PRIVILEGES below apply to them.
--
-- For later migrations: objects they create belong to lindung_admin; a new
-- function is executable by its owner alone until GRANT EXECUTE; a new table
-- or sequence by nobody else until GRANT; never revoke from lindung_admin
-- what it needs, it owns the SECURITY DEFINER functions.

-- ---------------------------------------------------------------- 1. roles

DO $$
DECLARE
    r text;
    roles text[] := ARRAY['lindung_admin', 'lindung_intake', 'lindung_verify',
                          'lindung_billing', 'lindung_analyst'];
BEGIN
    FOREACH r IN ARRAY roles LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', r);
            EXCEPTION WHEN insufficient_privilege THEN
                RAISE EXCEPTION '027_roles: role % does not exist and % may not create it', r,
                                current_user
                    USING HINT = 'Run `lindungctl migrate` once as a superuser, or create '
                                 'the roles first (deploy/db-users.sql; docs/operations.md, '
                                 '"Database roles").';
            END;
        END IF;
    END LOOP;
    -- A role of these names made by hand with more power would defeat them all.
    SELECT string_agg(rolname, ', ') INTO r FROM pg_roles
    WHERE rolname = ANY (roles)
      AND (rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication OR rolbypassrls);
    IF r IS NOT NULL THEN
        RAISE EXCEPTION '027_roles: % must be plain roles (no SUPERUSER, CREATEROLE, CREATEDB, '
                        'REPLICATION or BYPASSRLS)', r;
    END IF;
END $$;

-- Comments on roles are the cluster's, and only a superuser or a CREATEROLE
-- role may write them: when lindung_admin migrates (the roles made before by
-- deploy/db-users.sql), they are left as they are.
DO $$
BEGIN
    IF (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user) THEN
        COMMENT ON ROLE lindung_admin IS
            'lindung: owner of the schema''s objects; lindungctl and migrations (027_roles.sql).';
        COMMENT ON ROLE lindung_intake IS
            'lindung: lindung-intake, the HTTP API (027_roles.sql).';
        COMMENT ON ROLE lindung_verify IS
            'lindung: lindung-verify, decisions and enrolments (027_roles.sql).';
        COMMENT ON ROLE lindung_billing IS
            'lindung: lindung-billing, accruals and documents (027_roles.sql).';
        COMMENT ON ROLE lindung_analyst IS
            'lindung: read-only reports; NIKs only masked (027_roles.sql).';
    END IF;
END $$;

-- ---------------------------------------------------------------- 2. ownership

-- Everything of the schema that is not an extension's (btree_gist's
-- functions live in public too and stay with their extension): tables
-- (with their indexes and the sequences their columns own), the monthly
-- partitions of accruals billing made so far, views, other sequences,
-- functions and types. ALTER ... OWNER needs a superuser or a member of
-- lindung_admin that owns the object; after a first run everything is
-- lindung_admin's and nothing is changed.
DO $$
DECLARE
    o record;
BEGIN
    FOR o IN SELECT c.oid::regclass AS obj,
                    CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                                   WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END AS kind
             FROM pg_class c
             WHERE c.relnamespace = 'public'::regnamespace
               AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
               AND c.relowner <> 'lindung_admin'::regrole
               AND NOT EXISTS (SELECT FROM pg_depend d
                               WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                                 AND d.deptype = 'e')
             ORDER BY c.oid LOOP
        EXECUTE format('ALTER %s %s OWNER TO lindung_admin', o.kind, o.obj);
    END LOOP;
    -- sequences no column owns (those that one does followed their table)
    FOR o IN SELECT c.oid::regclass AS obj FROM pg_class c
             WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'S'
               AND c.relowner <> 'lindung_admin'::regrole
               AND NOT EXISTS (SELECT FROM pg_depend d
                               WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                                 AND d.deptype IN ('a', 'i', 'e')) LOOP
        EXECUTE format('ALTER SEQUENCE %s OWNER TO lindung_admin', o.obj);
    END LOOP;
    FOR o IN SELECT p.oid::regprocedure AS obj,
                    CASE p.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE'
                                   ELSE 'FUNCTION' END AS kind
             FROM pg_proc p
             WHERE p.pronamespace = 'public'::regnamespace
               AND p.proowner <> 'lindung_admin'::regrole
               AND NOT EXISTS (SELECT FROM pg_depend d
                               WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                                 AND d.deptype = 'e') LOOP
        EXECUTE format('ALTER %s %s OWNER TO lindung_admin', o.kind, o.obj);
    END LOOP;
    -- domains, enums, ranges and free-standing composite types (a table's row
    -- type and an array type follow their table or element)
    FOR o IN SELECT t.oid::regtype AS obj,
                    CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END AS kind
             FROM pg_type t LEFT JOIN pg_class c ON c.oid = t.typrelid
             WHERE t.typnamespace = 'public'::regnamespace
               AND t.typowner <> 'lindung_admin'::regrole
               AND (t.typtype IN ('d', 'e', 'r') OR c.relkind = 'c')
               AND NOT EXISTS (SELECT FROM pg_depend d
                               WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid
                                 AND d.deptype = 'e') LOOP
        EXECUTE format('ALTER %s %s OWNER TO lindung_admin', o.kind, o.obj);
    END LOOP;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE EXCEPTION '027_roles: % may not give the schema''s objects to lindung_admin: %',
                    current_user, SQLERRM
        USING HINT = 'Run `lindungctl migrate` once as a superuser (docs/operations.md, '
                     '"Database roles").';
END $$;

-- ---------------------------------------------------------------- 3. database and schema

-- lindung_admin creates in public: the tables of later migrations, and the
-- monthly partitions billing makes through its functions (4). Trusted
-- extensions (btree_gist, pgcrypto) need CREATE on the database. Every role
-- connects and uses the schema; billing and lindung_admin make temporary
-- tables (a run's corrections; a payment's items). PUBLIC holds CONNECT,
-- TEMPORARY and USAGE by default; they are granted by name as well, so a
-- cluster that revoked them from PUBLIC still works. And no one else creates
-- in public (a cluster upgraded from PostgreSQL 14 or older still lets
-- PUBLIC). Only the database's owner or a superuser can grant these: when
-- lindung_admin migrates a database it owns (deploy/db-users.sql) it has
-- them already, and otherwise a missing one is an error.
DO $$
BEGIN
    IF has_database_privilege(current_database(), 'CREATE WITH GRANT OPTION') THEN
        EXECUTE format('GRANT CONNECT, CREATE, TEMPORARY ON DATABASE %I TO lindung_admin',
                       current_database());
        EXECUTE format('GRANT CONNECT ON DATABASE %I TO lindung_intake, lindung_verify, '
                       'lindung_billing, lindung_analyst', current_database());
        EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO lindung_billing',
                       current_database());
    ELSIF NOT has_database_privilege('lindung_admin', current_database(), 'CREATE') THEN
        RAISE EXCEPTION '027_roles: lindung_admin needs CREATE on database %, and % may not '
                        'grant it', current_database(), current_user
            USING HINT = 'Run `lindungctl migrate` once as a superuser.';
    END IF;
    IF has_schema_privilege('public', 'CREATE WITH GRANT OPTION') THEN
        REVOKE CREATE ON SCHEMA public FROM PUBLIC;
        GRANT USAGE, CREATE ON SCHEMA public TO lindung_admin;
        GRANT USAGE ON SCHEMA public TO lindung_intake, lindung_verify, lindung_billing,
                                        lindung_analyst;
    ELSIF NOT has_schema_privilege('lindung_admin', 'public', 'CREATE') THEN
        RAISE EXCEPTION '027_roles: lindung_admin needs CREATE on schema public, and % may '
                        'not grant it', current_user
            USING HINT = 'Run `lindungctl migrate` once as a superuser.';
    END IF;
END $$;

-- ---------------------------------------------------------------- 4. functions

-- No function of the schema is anyone's to call unless granted below, now
-- and for the functions later migrations make (PostgreSQL gives EXECUTE to
-- PUBLIC on every new function otherwise, which would hand the SECURITY
-- DEFINER ones to every role). Extensions' functions keep their own rules.
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid FROM pg_proc p
             WHERE p.pronamespace = 'public'::regnamespace
               AND NOT EXISTS (SELECT FROM pg_depend d
                               WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                                 AND d.deptype = 'e') LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END $$;
ALTER DEFAULT PRIVILEGES FOR ROLE lindung_admin REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

-- The writes a daemon makes only through the rules of a function (see the
-- head of this file). Each runs as lindung_admin.
--   participant_events_receive  intake, POST /v1/events: ends, moves and
--                               records deaths (enrolments, participants,
--                               transfers, claims)
--   billing_record_payment      intake, POST /v1/invoices/{id}/payments
--   claim_open_jkk_once         intake, POST /v1/claims
--   claim_step                  intake, POST /v1/claims/{id}/steps
--   program_renewal_queue       billing: renewals are queued as submissions
--   accrual_part_load           billing: a month's part is a new table ...
--   accrual_parts_attach        ... attached to accruals (its owner's right)
--   claims_on_deaths            trigger: claims and steps on a death
ALTER FUNCTION participant_events_receive(uuid, uuid, text, text, text, text, text, jsonb)
    SECURITY DEFINER SET search_path = public, pg_temp;
ALTER FUNCTION billing_record_payment(bigint, bigint, date, text, text, bigint[], bigint[])
    SECURITY DEFINER SET search_path = public, pg_temp;
ALTER FUNCTION claim_open_jkk_once(text, date, text, bigint, text, text, text, text)
    SECURITY DEFINER SET search_path = public, pg_temp;
ALTER FUNCTION claim_step(bigint, text, date, bigint, text, text)
    SECURITY DEFINER SET search_path = public, pg_temp;
ALTER FUNCTION program_renewal_queue(integer)
    SECURITY DEFINER SET search_path = public, pg_temp;
ALTER FUNCTION accrual_part_load(date, int, bigint, bigint, bigint, boolean, bigint[],
                                 bigint[], text[], text[])
    SECURITY DEFINER SET search_path = public, pg_temp;
ALTER FUNCTION accrual_parts_attach(date, bigint[])
    SECURITY DEFINER SET search_path = public, pg_temp;
ALTER FUNCTION claims_on_deaths()
    SECURITY DEFINER SET search_path = public, pg_temp;

-- ---------------------------------------------------------------- 5. the daemons

-- Every daemon: /readyz compares schema_migrations with the version it needs
-- (common/ready.c); enrolment_months is in the exclusion constraint of
-- enrolments (023) and in views, and PostgreSQL checks EXECUTE on a
-- function an index expression or a view calls as on any other call.
GRANT SELECT ON schema_migrations TO lindung_intake, lindung_verify, lindung_billing;
GRANT EXECUTE ON FUNCTION enrolment_months(date, date)
    TO lindung_intake, lindung_verify, lindung_billing, lindung_analyst;

-- lindung-intake (services/intake: api.c, auth.c, reads.c, reports.c,
-- invoices.c, claims.c, events.c)
GRANT SELECT ON regions, programs, api_keys, submissions, applicants, participants,
                enrolments, participant_events, invoices, accruals, line_adjustments,
                payments, payment_lines, claims, claim_steps,
                invoice_balances, loss_ratio, report_participants_village,
                report_participants_district, report_participants_regency
    TO lindung_intake;
GRANT INSERT ON submissions, applicants TO lindung_intake;
GRANT USAGE ON SEQUENCE applicants_id_seq TO lindung_intake;
-- a key's last use, at most once a minute (025); never its scope or revocation
GRANT UPDATE (last_used_at) ON api_keys TO lindung_intake;
GRANT EXECUTE ON FUNCTION
    scope_allows_village(text, text, text),           -- reports.c
    claims_today(),                                   -- in report_participants_*
    report_share_bp(bigint, bigint),                  -- in report_participants_*
    document_items(bigint),                           -- invoices.c
    participant_events_receive(uuid, uuid, text, text, text, text, text, jsonb),
    billing_record_payment(bigint, bigint, date, text, text, bigint[], bigint[]),
    claim_open_jkk_once(text, date, text, bigint, text, text, text, text),
    claim_step(bigint, text, date, bigint, text, text)
    TO lindung_intake;

-- lindung-verify (services/verify/verifier.c): claims submissions, decides
-- their applicants, enrols, and takes back an enrolment of the same batch.
GRANT SELECT ON occupations, programs, submissions, applicants, participants, enrolments
    TO lindung_verify;
GRANT UPDATE (status, verifying_at, verified_at) ON submissions TO lindung_verify;
GRANT UPDATE (decision, reasons, warnings, program_version, decided_at) ON applicants
    TO lindung_verify;
GRANT INSERT, UPDATE (name, birth_date, sex, updated_at) ON participants TO lindung_verify;
GRANT INSERT, DELETE ON enrolments TO lindung_verify;
GRANT USAGE ON SEQUENCE enrolments_id_seq TO lindung_verify;

-- lindung-billing (services/billing: accrual.c, billing.c, main.c). UPDATE on
-- the whole of enrolments: it ends lapsed and finished enrolments, and a
-- run's LOCK TABLE enrolments IN SHARE MODE is allowed only with a
-- table-wide UPDATE, DELETE or TRUNCATE.
GRANT SELECT ON regions, programs, premium_rates, premium_adjustments, enrolments,
                invoices, accruals, line_adjustments, payment_lines, billing_runs, claims,
                invoice_balances
    TO lindung_billing;
GRANT UPDATE ON enrolments TO lindung_billing;
GRANT INSERT, DELETE, UPDATE (total, line_count, updated_at) ON invoices TO lindung_billing;
GRANT INSERT ON accruals, line_adjustments TO lindung_billing;
GRANT INSERT, UPDATE (finished_at, lines_added, amount_added) ON billing_runs
    TO lindung_billing;
GRANT USAGE ON SEQUENCE invoices_id_seq, billing_runs_id_seq, line_adjustments_id_seq
    TO lindung_billing;
GRANT EXECUTE ON FUNCTION
    accrual_partition_name(date),
    accrual_premiums(date),
    billing_rates_mark(),
    accrual_part_load(date, int, bigint, bigint, bigint, boolean, bigint[], bigint[], text[],
                      text[]),
    accrual_parts_attach(date, bigint[]),
    program_renewal_queue(integer)
    TO lindung_billing;

-- ---------------------------------------------------------------- 6. the analyst

-- A NIK masked as everywhere else in lindung (common/nik.c, nik_mask):
-- first 4 digits (province and regency), six stars, last 4 (the serial);
-- anything that is not 16 digits is '****'.
CREATE OR REPLACE FUNCTION nik_mask(p_nik text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN p_nik ~ '^[0-9]{16}$' THEN left(p_nik, 4) || '******' || right(p_nik, 4)
                ELSE '****' END
$$;
COMMENT ON FUNCTION nik_mask(text) IS
    'A NIK masked as lindung''s logs and lindungctl mask it: 1612******0001; ''****'' for '
    'anything not 16 digits.';

-- The people, their enrolments and their claims with the NIK masked. No
-- birth date (the masked digits 7-12 of a NIK are the date of birth, so
-- with the date and the village only the district would be missing): the
-- year is enough for ages. No name, address, income, KPJ or free text a
-- NIK could have been typed into.
CREATE OR REPLACE VIEW participants_masked AS
SELECT nik_mask(p.nik) AS nik_masked, p.sex,
       extract(year FROM p.birth_date)::integer AS birth_year,
       date_trunc('month', p.deceased_on)::date AS deceased_month,
       p.created_at, p.updated_at
FROM participants p;
COMMENT ON VIEW participants_masked IS
    'Participants for analysts: NIK masked, birth year, month of death (027_roles.sql).';
COMMENT ON COLUMN participants_masked.nik_masked IS 'The NIK masked: 1612******0001.';
COMMENT ON COLUMN participants_masked.sex IS 'M or F.';
COMMENT ON COLUMN participants_masked.birth_year IS 'Year of birth.';
COMMENT ON COLUMN participants_masked.deceased_month IS 'First day of the month of death; NULL: none reported.';
COMMENT ON COLUMN participants_masked.created_at IS 'When the person was first enrolled.';
COMMENT ON COLUMN participants_masked.updated_at IS 'When their details last changed.';

CREATE OR REPLACE VIEW enrolments_masked AS
SELECT e.id AS enrolment_id, nik_mask(e.nik) AS nik_masked, pa.sex,
       extract(year FROM pa.birth_date)::integer AS birth_year,
       e.program_id, p.code AS program_code, e.village_code,
       left(e.village_code, 5) AS regency_code, e.funding_source, e.payer_code, e.transport,
       e.start_month, e.end_month, e.status, e.end_reason, e.previous_enrolment_id,
       e.bpjs_status, e.created_at, e.ended_at
FROM enrolments e
JOIN participants pa ON pa.nik = e.nik
JOIN programs p ON p.id = e.program_id;
COMMENT ON VIEW enrolments_masked IS
    'Enrolments for analysts: NIK masked, the person''s sex and birth year (027_roles.sql).';
COMMENT ON COLUMN enrolments_masked.enrolment_id IS 'Enrolment id.';
COMMENT ON COLUMN enrolments_masked.nik_masked IS 'The NIK masked: 1612******0001.';
COMMENT ON COLUMN enrolments_masked.sex IS 'M or F.';
COMMENT ON COLUMN enrolments_masked.birth_year IS 'Year of birth.';
COMMENT ON COLUMN enrolments_masked.program_id IS 'Programme id.';
COMMENT ON COLUMN enrolments_masked.program_code IS 'Programme code.';
COMMENT ON COLUMN enrolments_masked.village_code IS 'PP.RR.DD.VVVV.';
COMMENT ON COLUMN enrolments_masked.regency_code IS 'PP.RR.';
COMMENT ON COLUMN enrolments_masked.funding_source IS 'ADD, DBH_SAWIT, CSR, APBD or APBDES.';
COMMENT ON COLUMN enrolments_masked.payer_code IS 'Who is invoiced: village, regency or company code.';
COMMENT ON COLUMN enrolments_masked.transport IS 'Transport sector (sector reliefs).';
COMMENT ON COLUMN enrolments_masked.start_month IS 'First covered month (its first day).';
COMMENT ON COLUMN enrolments_masked.end_month IS 'Last covered month; NULL: open.';
COMMENT ON COLUMN enrolments_masked.status IS 'active or ended.';
COMMENT ON COLUMN enrolments_masked.end_reason IS 'Why it ended; NULL while active.';
COMMENT ON COLUMN enrolments_masked.previous_enrolment_id IS 'The enrolment it continues (a transfer or renewal).';
COMMENT ON COLUMN enrolments_masked.bpjs_status IS 'pending, registered or refused at BPJS.';
COMMENT ON COLUMN enrolments_masked.created_at IS 'When verify accepted it.';
COMMENT ON COLUMN enrolments_masked.ended_at IS 'When it was ended; NULL while active.';

CREATE OR REPLACE VIEW claims_masked AS
SELECT c.id AS claim_id, c.kind, nik_mask(c.nik) AS nik_masked, c.enrolment_id,
       c.program_id, p.code AS program_code, c.village_code, c.regency_code, c.event_date,
       c.amount_claimed, c.amount_paid, c.status, c.status_on, c.created_at, c.updated_at
FROM claims c JOIN programs p ON p.id = c.program_id;
COMMENT ON VIEW claims_masked IS
    'The claims register for analysts: NIK masked, no free text (027_roles.sql).';
COMMENT ON COLUMN claims_masked.claim_id IS 'Claim number.';
COMMENT ON COLUMN claims_masked.kind IS 'JKM (death) or JKK (work accident).';
COMMENT ON COLUMN claims_masked.nik_masked IS 'The NIK masked: 1612******0001.';
COMMENT ON COLUMN claims_masked.enrolment_id IS 'The enrolment that covered the event month.';
COMMENT ON COLUMN claims_masked.program_id IS 'Programme id.';
COMMENT ON COLUMN claims_masked.program_code IS 'Programme code.';
COMMENT ON COLUMN claims_masked.village_code IS 'PP.RR.DD.VVVV.';
COMMENT ON COLUMN claims_masked.regency_code IS 'PP.RR.';
COMMENT ON COLUMN claims_masked.event_date IS 'Date of death (JKM) or of the accident (JKK).';
COMMENT ON COLUMN claims_masked.amount_claimed IS 'Whole rupiah claimed.';
COMMENT ON COLUMN claims_masked.amount_paid IS 'Whole rupiah paid; NULL unless paid.';
COMMENT ON COLUMN claims_masked.status IS 'reported, filed, paid, refused or withdrawn.';
COMMENT ON COLUMN claims_masked.status_on IS 'Date of the step that gave the status.';
COMMENT ON COLUMN claims_masked.created_at IS 'When the claim was recorded.';
COMMENT ON COLUMN claims_masked.updated_at IS 'When its status last changed.';

-- Made by whoever runs this file (a superuser on a first run), so given to
-- the owner role like everything else, and nik_mask kept from PUBLIC (the
-- default privileges above apply to lindung_admin's functions only).
ALTER VIEW participants_masked OWNER TO lindung_admin;
ALTER VIEW enrolments_masked OWNER TO lindung_admin;
ALTER VIEW claims_masked OWNER TO lindung_admin;
ALTER FUNCTION nik_mask(text) OWNER TO lindung_admin;
REVOKE EXECUTE ON FUNCTION nik_mask(text) FROM PUBLIC;

-- What the analyst reads: the masked views, the reports (counts and money,
-- no NIK: 018, 022; not bpjs_unconfirmed, whose rows carry the NIK), the
-- documents' balances, and reference tables without people in them. The
-- functions are those the views call.
GRANT SELECT ON participants_masked, enrolments_masked, claims_masked,
                report_participants_village, report_participants_district,
                report_participants_regency, report_bpjs_unconfirmed,
                claims_by_month, loss_ratio, invoice_balances,
                regions, occupations, programs, premium_rates, premium_adjustments,
                claim_benefits
    TO lindung_analyst;
GRANT EXECUTE ON FUNCTION nik_mask(text), claims_today(), report_share_bp(bigint, bigint)
    TO lindung_analyst;

-- ---------------------------------------------------------------- 7. the rest of this run

-- Later migrations of this run (and the schema_migrations row of this one)
-- are made as the owner role: see the head of this file. A superuser that
-- runs `lindungctl migrate` again later starts as itself, as it should for
-- a migration that needs it.
SET ROLE lindung_admin;
