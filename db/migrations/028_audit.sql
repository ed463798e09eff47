-- 028_audit: the audit trail (issue 15, "Audit trail (UU PDP 27/2022)";
-- docs/security.md, "Audit trail"; docs/operations.md, "Audit trail"). One
-- row per request that read a person's data or changed something: who (an
-- API key's id, or the operator's OS login for lindungctl, and the database
-- login that wrote the row), what (action, object), which people (their
-- NIKs as keyed hashes, never in clear), when, and the request id.
--
-- Append-only: no role may change or delete a row. The daemon roles of
-- 027_roles.sql get INSERT alone (no SELECT, UPDATE, DELETE, TRUNCATE), and
-- a trigger refuses UPDATE, DELETE and TRUNCATE to everyone, the table's
-- owner included. Only the owner or a superuser can get past it, and only by
-- DDL (ALTER TABLE ... DISABLE TRIGGER, DROP TRIGGER), which is itself a
-- deliberate act (docs/security.md says what this does not defend against).
--
-- NIKs: HMAC-SHA256 of the 16 digits with a random 32-byte pepper that lives
-- in audit_pepper, readable by its owner alone; callers hash through the
-- SECURITY DEFINER functions audit_nik_hash() and audit_nik_hashes(). A NIK
-- is 16 digits with much structure (region, birth date, serial), some 10^10
-- plausible values: a plain sha256 of it would be reversed by trying them
-- all in hours, so the log would be a second copy of the register. With the
-- pepper, a copy of audit_log alone (a backup, an export for an auditor)
-- tells nothing about whom it concerns. Whoever may call the functions can
-- still test a guessed NIK, so EXECUTE goes only to roles that already read
-- the register (the daemons, the operator).
--
-- Only the HMAC's first 64 bits are kept, as a bigint: the value is a search
-- key, not a signature. Two NIKs of 10^8 share one with a chance of about
-- 3 in 10,000 over the whole register, and then a search for either also
-- lists the other's rows (it never misses one); without the pepper 64 bits
-- are as opaque as 256. What it saves (measured, 100 NIKs a row): a row of
-- 32-byte hashes is 3.2 kB and goes to TOAST, and bytea keys make the GIN
-- index slow to update; as bigints the row stays inline and an insert with
-- its index entries costs a tenth (0.14 ms against 1.6 ms).
--
-- One row per request, not one per NIK: a request that returns or changes
-- many people (a 100-applicant submission, a 10,000-line invoice export)
-- is one row with an array of hashes (nik_hashes, a GIN index answers
-- `lindungctl audit --nik`). The trade-off: a bulk row is large (8 bytes a
-- person; an export of 10,000 lines is an 80 kB row) and the GIN index takes
-- one entry per person, but a request is one INSERT, whatever its size,
-- where a row per NIK would be thousands of rows and index entries for one
-- export.

CREATE EXTENSION IF NOT EXISTS pgcrypto;

CREATE TABLE audit_pepper (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    pepper   bytea NOT NULL CHECK (length(pepper) >= 32)
);
INSERT INTO audit_pepper (pepper) VALUES (gen_random_bytes(32));
REVOKE ALL ON audit_pepper FROM PUBLIC;
COMMENT ON TABLE audit_pepper IS
    'The secret key of the audit trail''s NIK hashes (HMAC-SHA256), one row, made at '
    'migration; readable by the owner alone, used through audit_nik_hash(). Never '
    'changed: a new pepper would make every older row unfindable by NIK.';

-- The hash of one NIK with the key k: the 16 digits as lindung normalises
-- them (nik_parse drops spaces, dots and dashes), so a NIK stored as typed
-- and one normalised hash alike; the first 64 bits of the HMAC as a bigint
-- (above: why). Holds no secret (k is an argument): one definition of the
-- formula, inlined where the two functions below use it.
CREATE FUNCTION audit_hmac64(k bytea, p_nik text) RETURNS bigint
LANGUAGE sql STABLE STRICT AS $$
    SELECT ('x' || encode(substr(hmac(convert_to(translate(p_nik, ' .-', ''), 'UTF8'), k,
                                      'sha256'), 1, 8), 'hex'))::bit(64)::bigint
$$;

-- PL/pgSQL, not SQL: its plans are kept for the session, where a SQL
-- function that cannot be inlined (SECURITY DEFINER) is planned again at
-- every call; with one NIK, the usual case, no query runs at all but the
-- pepper's. Measured with pgbench: a third of the SQL function's time.
CREATE FUNCTION audit_nik_hash(p_nik text) RETURNS bigint
LANGUAGE plpgsql STABLE STRICT SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    RETURN audit_hmac64((SELECT pepper FROM audit_pepper), p_nik);
END $$;

-- Every distinct NIK of a request, hashed: one call per request, never per
-- row. NULLs are skipped; an empty or NULL list gives '{}'.
CREATE FUNCTION audit_nik_hashes(p_niks text[]) RETURNS bigint[]
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    k bytea := (SELECT pepper FROM audit_pepper);
BEGIN
    IF cardinality(p_niks) = 1 AND p_niks[1] IS NOT NULL THEN
        RETURN ARRAY[audit_hmac64(k, p_niks[1])];
    END IF;
    RETURN (SELECT coalesce(array_agg(DISTINCT audit_hmac64(k, n)), '{}')
            FROM unnest(p_niks) AS n WHERE n IS NOT NULL);
END $$;
REVOKE EXECUTE ON FUNCTION audit_hmac64(bytea, text), audit_nik_hash(text),
    audit_nik_hashes(text[]) FROM PUBLIC;

CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor_kind  text NOT NULL CHECK (actor_kind IN ('key', 'operator', 'daemon')),
    actor       text NOT NULL,
    db_user     text NOT NULL DEFAULT session_user,
    action      text NOT NULL,
    object      text,
    nik_hashes  bigint[] NOT NULL DEFAULT '{}',
    nik_count   integer GENERATED ALWAYS AS (cardinality(nik_hashes)) STORED,
    request_id  text,
    detail      jsonb NOT NULL DEFAULT '{}'
);
-- fastupdate off: GIN's pending list batches new entries and merges them
-- into the index when it passes gin_pending_list_limit (4 MB), in whichever
-- request crosses it; at a hundred NIKs a submission that was a pause of 1
-- to 2 s every few thousand submissions (bench/intake/run: 1.0-1.6 s
-- maximum latency against 0.1 s). Entered directly, each NIK costs a few
-- microseconds in its own request, and the latency stays flat.
CREATE INDEX audit_log_nik_idx ON audit_log USING gin (nik_hashes) WITH (fastupdate = off);
CREATE INDEX audit_log_actor_idx ON audit_log (actor, id);
-- rows arrive in time order: a BRIN index costs next to nothing per insert
CREATE INDEX audit_log_at_idx ON audit_log USING brin (at);

COMMENT ON TABLE audit_log IS
    'Append-only record of every read of a person''s data and every change made over '
    'the API or by lindungctl (docs/security.md, "Audit trail"). UPDATE, DELETE and '
    'TRUNCATE are refused by trigger; daemon roles may only INSERT.';
COMMENT ON COLUMN audit_log.actor_kind IS
    '''key'' (an API key: actor is its id), ''operator'' (lindungctl: actor is the OS '
    'login that ran it) or ''daemon''.';
COMMENT ON COLUMN audit_log.db_user IS
    'The database login that wrote the row (session_user): set by PostgreSQL, not by '
    'the client, so it holds even when actor is what a client said.';
COMMENT ON COLUMN audit_log.action IS
    'What was done, e.g. participant.read, submission.create, invoice.export, '
    'apikey.revoke (docs/operations.md, "Audit trail", lists them).';
COMMENT ON COLUMN audit_log.object IS
    'The id of the thing read or changed (submission, invoice, claim, key, event ...); '
    'never a NIK.';
COMMENT ON COLUMN audit_log.nik_hashes IS
    'audit_nik_hash() of every distinct NIK the request read or changed (the first 64 '
    'bits of HMAC-SHA256 with the pepper); search with '
    'nik_hashes @> ARRAY[audit_nik_hash(nik)].';
COMMENT ON COLUMN audit_log.request_id IS
    'The HTTP request''s X-Request-Id (API), or one id per lindungctl invocation.';
COMMENT ON COLUMN audit_log.detail IS
    'Counts, ids and codes about the action; never personal data.';

-- A statement-level BEFORE trigger fires even when no row matches, so a
-- DELETE with any WHERE is refused, and TRUNCATE too.
CREATE FUNCTION audit_log_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse();
REVOKE EXECUTE ON FUNCTION audit_log_refuse() FROM PUBLIC;

-- Grants, for the roles of 027_roles.sql where they exist. Everything is
-- revoked from the others first: default privileges might otherwise have
-- given a daemon UPDATE or DELETE on the new table. Never from
-- lindung_admin: 027 makes it the owner of what this file creates, and the
-- owner must keep reading audit_pepper for the SECURITY DEFINER functions.
REVOKE ALL ON audit_log FROM PUBLIC;
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['lindung_intake', 'lindung_verify', 'lindung_billing',
                             'lindung_analyst'] LOOP
        IF EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('REVOKE ALL ON audit_log, audit_pepper FROM %I', r);
            EXECUTE format('REVOKE ALL ON SEQUENCE audit_log_id_seq FROM %I', r);
            EXECUTE format('REVOKE ALL ON FUNCTION audit_nik_hash(text), '
                           'audit_nik_hashes(text[]) FROM %I', r);
        END IF;
    END LOOP;
    -- the daemons write rows and nothing else; the operator (lindungctl) writes
    -- its own rows and reads them all (lindungctl audit). Analysts get nothing:
    -- the trail is about people, and they have no business with hashes.
    FOREACH r IN ARRAY ARRAY['lindung_intake', 'lindung_verify', 'lindung_billing',
                             'lindung_admin'] LOOP
        IF EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('GRANT INSERT ON audit_log TO %I', r);
            EXECUTE format('GRANT USAGE ON SEQUENCE audit_log_id_seq TO %I', r);
            EXECUTE format('GRANT EXECUTE ON FUNCTION audit_nik_hash(text), '
                           'audit_nik_hashes(text[]) TO %I', r);
        END IF;
    END LOOP;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'lindung_admin') THEN
        GRANT SELECT ON audit_log TO lindung_admin;
    END IF;
END $$;
