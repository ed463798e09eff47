-- 019_bpjs: reconciliation with BPJS Ketenagakerjaan's own membership
-- records (issue 14, "BPJS reconciliation"; docs/lifecycle.md, "BPJS
-- registration"). lindung exports newly accepted participants for
-- registration (`lindungctl bpjs export`) and imports BPJS's answer
-- (`lindungctl bpjs import`): a KPJ number, or a refusal. A refused
-- enrolment ends covering nothing (end_reason 'bpjs_refused'), so billing's
-- next run credits every line already billed for it (docs/billing.md,
-- "Corrections"): nothing here writes billing data.

-- Every enrolment starts 'pending' at BPJS, including those enrolled before
-- this migration: lindung has never known whether BPJS registered them.
ALTER TABLE enrolments
    ADD COLUMN kpj text CHECK (kpj ~ '^[0-9A-Za-z]{5,20}$'),
    ADD COLUMN bpjs_status text NOT NULL DEFAULT 'pending'
        CHECK (bpjs_status IN ('pending', 'registered', 'refused')),
    ADD COLUMN bpjs_effective_month date CHECK (extract(day FROM bpjs_effective_month) = 1),
    ADD COLUMN bpjs_refusal text,
    ADD COLUMN bpjs_exported_at timestamptz,
    ADD COLUMN bpjs_answered_at timestamptz,
    ADD CONSTRAINT enrolments_bpjs_answer_check CHECK (
        CASE bpjs_status
            WHEN 'registered' THEN kpj IS NOT NULL AND bpjs_answered_at IS NOT NULL
            WHEN 'refused' THEN bpjs_refusal IS NOT NULL AND bpjs_answered_at IS NOT NULL
            ELSE true
        END);

-- end_reason gains 'bpjs_refused'. The CHECK is found by what it checks, not
-- by name, and keeps every reason a migration before this one added.
DO $$
DECLARE
    c record;
    def text;
BEGIN
    SELECT conname, pg_get_constraintdef(oid) AS def INTO c
    FROM pg_constraint
    WHERE conrelid = 'enrolments'::regclass AND contype = 'c'
      AND pg_get_constraintdef(oid) LIKE '%end_reason%'
      AND pg_get_constraintdef(oid) LIKE '%''lapsed''%';
    IF c.conname IS NULL THEN
        RAISE EXCEPTION 'no CHECK constraint on enrolments.end_reason found';
    END IF;
    IF c.def LIKE '%''bpjs_refused''%' THEN
        RETURN;
    END IF;
    def := regexp_replace(c.def, 'ARRAY\[', 'ARRAY[''bpjs_refused''::text, ');
    IF def = c.def THEN
        RAISE EXCEPTION 'unexpected form of %: %', c.conname, c.def;
    END IF;
    EXECUTE format('ALTER TABLE enrolments DROP CONSTRAINT %I', c.conname);
    EXECUTE format('ALTER TABLE enrolments ADD CONSTRAINT %I %s', c.conname, def);
END $$;

-- Follow-up of registrations BPJS has not answered (`lindungctl bpjs
-- unconfirmed`, lindung_bpjs_unconfirmed_enrolments) and the export of those
-- not yet sent: both read only pending enrolments, a small part of all.
CREATE INDEX enrolments_bpjs_pending_idx ON enrolments (created_at)
    WHERE bpjs_status = 'pending';

-- A transfer or a renewal continues the same person at BPJS: the KPJ
-- belongs to the person, so a continuation of a registered enrolment is
-- registered with the same KPJ and is not exported again.
CREATE FUNCTION enrolments_bpjs_continue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT p.kpj, 'registered', p.bpjs_effective_month, p.bpjs_answered_at,
           p.bpjs_exported_at
    INTO NEW.kpj, NEW.bpjs_status, NEW.bpjs_effective_month, NEW.bpjs_answered_at,
         NEW.bpjs_exported_at
    FROM enrolments p
    WHERE p.id = NEW.previous_enrolment_id AND p.bpjs_status = 'registered';
    IF NOT FOUND THEN
        NEW.bpjs_status := coalesce(NEW.bpjs_status, 'pending');
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER enrolments_bpjs_continue BEFORE INSERT ON enrolments
    FOR EACH ROW WHEN (NEW.previous_enrolment_id IS NOT NULL)
    EXECUTE FUNCTION enrolments_bpjs_continue();

-- Each answer file imported, once: the same file (by its SHA-256) again is
-- recognised and changes nothing. rows: data rows read; matched: rows
-- applied now; skipped: rows already applied by an earlier file; unmatched:
-- rows refused (unknown NIK, no enrolment pending, a bad field).
CREATE TABLE bpjs_imports (
    id          bigserial PRIMARY KEY,
    file_name   text NOT NULL,
    sha256      bytea NOT NULL UNIQUE,
    imported_at timestamptz NOT NULL DEFAULT now(),
    rows        integer NOT NULL CHECK (rows >= 0),
    matched     integer NOT NULL CHECK (matched >= 0),
    skipped     integer NOT NULL DEFAULT 0 CHECK (skipped >= 0),
    unmatched   integer NOT NULL CHECK (unmatched >= 0),
    CHECK (matched + skipped + unmatched = rows)
);

-- Apply one row of BPJS's answer, whole or not at all. The row is matched to
-- the NIK's enrolment pending at BPJS: the latest one not refused.
-- result:
--   'registered', 'refused'  applied now
--   'already'                the same answer was applied before: skipped
--   'unknown_nik'            no enrolment of that NIK
--   'not_pending'            the latest enrolment not refused is registered
--                            already (under another KPJ, or BPJS refuses a
--                            registered member): follow up by hand
--   'kpj_taken'              the KPJ is another NIK's
-- enrolment_id: the enrolment matched (NULL when none).
CREATE FUNCTION bpjs_apply(p_nik text, p_kpj text, p_status text, p_reason text,
                           p_month date)
RETURNS TABLE (result text, enrolment_id bigint)
LANGUAGE plpgsql AS $$
DECLARE
    target enrolments%ROWTYPE;
    refused_id bigint;
BEGIN
    -- the NIK's enrolments are locked so two imports never answer one twice
    PERFORM 1 FROM enrolments e WHERE e.nik = p_nik FOR UPDATE;
    SELECT * INTO target FROM enrolments e
    WHERE e.nik = p_nik AND e.bpjs_status <> 'refused' ORDER BY e.id DESC LIMIT 1;
    SELECT e.id INTO refused_id FROM enrolments e
    WHERE e.nik = p_nik AND e.bpjs_status = 'refused' ORDER BY e.id DESC LIMIT 1;
    IF target.id IS NULL AND refused_id IS NULL THEN
        RETURN QUERY SELECT 'unknown_nik'::text, NULL::bigint;
    ELSIF p_status = 'registered' THEN
        IF target.id IS NULL THEN
            RETURN QUERY SELECT 'not_pending'::text, refused_id;
        ELSIF target.bpjs_status = 'registered' THEN
            RETURN QUERY SELECT CASE WHEN target.kpj = p_kpj THEN 'already'
                                     ELSE 'not_pending' END, target.id;
        ELSIF EXISTS (SELECT 1 FROM enrolments e WHERE e.kpj = p_kpj AND e.nik <> p_nik) THEN
            RETURN QUERY SELECT 'kpj_taken'::text, target.id;
        ELSE
            UPDATE enrolments SET kpj = p_kpj, bpjs_status = 'registered',
                                  bpjs_effective_month = p_month, bpjs_refusal = NULL,
                                  bpjs_answered_at = now()
            WHERE id = target.id;
            RETURN QUERY SELECT 'registered'::text, target.id;
        END IF;
    ELSIF target.id IS NOT NULL AND target.bpjs_status = 'pending' THEN
        -- never covered: the enrolment ends the month before it began, so
        -- billing credits whatever it billed for it
        UPDATE enrolments SET bpjs_status = 'refused', bpjs_refusal = p_reason,
                              bpjs_effective_month = p_month, bpjs_answered_at = now(),
                              status = 'ended', end_reason = 'bpjs_refused',
                              end_month = (start_month - interval '1 month')::date,
                              ended_at = now()
        WHERE id = target.id;
        RETURN QUERY SELECT 'refused'::text, target.id;
    ELSIF refused_id IS NOT NULL AND (target.id IS NULL OR refused_id > target.id) THEN
        RETURN QUERY SELECT 'already'::text, refused_id;
    ELSE
        RETURN QUERY SELECT 'not_pending'::text, target.id;
    END IF;
END $$;

-- Registrations BPJS has not answered, for reports and follow-up: every
-- pending enrolment that covers a month, with how long it has waited
-- (`lindungctl bpjs unconfirmed` and lindung_bpjs_unconfirmed_enrolments
-- keep those past LINDUNG_BPJS_CONFIRM_DAYS, default 14).
CREATE VIEW bpjs_unconfirmed AS
SELECT e.id AS enrolment_id, e.nik, p.code AS program_code, e.village_code,
       left(e.village_code, 5) AS regency_code, e.start_month,
       e.created_at AS accepted_at, e.bpjs_exported_at AS exported_at,
       floor(extract(epoch FROM now() - e.created_at) / 86400)::integer AS days_waiting
FROM enrolments e JOIN programs p ON p.id = e.program_id
WHERE e.bpjs_status = 'pending' AND NOT isempty(enrolment_months(e.start_month, e.end_month));
