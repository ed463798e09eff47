-- 013_money_rules: money an auditor can sign (issue 13; docs/billing.md and
-- docs/verify.md say each rule in words, with its source).
--   1. One person, one covered month: an exclusion constraint over the NIK
--      and the months an enrolment covers, whatever programme, village or
--      funder. It replaces the unique index of active NIKs.
--   2. Enrolments that continue another (a transfer, a renewal) name it.
--   3. Programme years, renewals, insured income, relief by funding source.
--   4. Invoices never change once issued: each run issues its own documents
--      (the month's invoice, a supplementary invoice, a credit note);
--      corrections are adjustment lines on new documents.
--   5. Payments are allocated to lines; a person-month is paid when its
--      line is; lapse is judged per person (accrual.c).
-- Not the premium arithmetic itself (accrual_premiums, redefined at the end
-- only to take the programme's insured income), nor how a month is loaded
-- (011, 012).

CREATE EXTENSION IF NOT EXISTS btree_gist;

-- 1 and 2. The months an enrolment covers, as a range of first days:
-- [start_month, end_month], open-ended while end_month is NULL. An enrolment
-- ended before it began (a renewal cancelled before its first month) covers
-- nothing.
CREATE FUNCTION enrolment_months(p_start date, p_end date) RETURNS daterange
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN p_end < p_start THEN 'empty'::daterange
                ELSE daterange(p_start, p_end, '[]') END
$$;

DO $$
DECLARE
    n_overlap bigint;
BEGIN
    SELECT count(*) INTO n_overlap
    FROM enrolments a JOIN enrolments b ON a.nik = b.nik AND a.id < b.id
    WHERE enrolment_months(a.start_month, a.end_month)
          && enrolment_months(b.start_month, b.end_month);
    IF n_overlap > 0 THEN
        RAISE EXCEPTION '% pairs of enrolments cover the same NIK in the same month; '
                        'end the later ones before their first month (docs/billing.md, '
                        '"One person, one covered month") and migrate again', n_overlap;
    END IF;
END $$;

ALTER TABLE enrolments
    ADD COLUMN previous_enrolment_id bigint,
    ALTER COLUMN applicant_id DROP NOT NULL,
    ADD CONSTRAINT enrolments_origin_check
        CHECK (applicant_id IS NOT NULL OR previous_enrolment_id IS NOT NULL),
    ADD CONSTRAINT enrolments_one_cover_per_month
        EXCLUDE USING gist (nik WITH =, enrolment_months(start_month, end_month) WITH &&);
-- The exclusion constraint's index answers "this NIK's enrolments" too.
DROP INDEX enrolments_one_active_idx;
-- Enrolments ended after a month was billed: what a re-run must correct.
CREATE INDEX enrolments_ended_at_idx ON enrolments (ended_at) WHERE ended_at IS NOT NULL;
CREATE INDEX enrolments_previous_idx ON enrolments (previous_enrolment_id)
    WHERE previous_enrolment_id IS NOT NULL;

-- An applicant row may be missing only for a transfer (previous_enrolment_id).
CREATE OR REPLACE FUNCTION enrolments_check_refs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM new_enrolments n
               LEFT JOIN LATERAL (SELECT 1 AS hit FROM participants p
                                  WHERE p.nik = n.nik LIMIT 1) p ON true
               LEFT JOIN LATERAL (SELECT 1 AS hit FROM applicants a
                                  WHERE a.id = n.applicant_id LIMIT 1) a ON true
               LEFT JOIN LATERAL (SELECT 1 AS hit FROM enrolments e
                                  WHERE e.id = n.previous_enrolment_id LIMIT 1) e ON true
               WHERE p.hit IS NULL
                  OR (n.applicant_id IS NOT NULL AND a.hit IS NULL)
                  OR (n.previous_enrolment_id IS NOT NULL AND e.hit IS NULL)) THEN
        RAISE EXCEPTION 'enrolment without its participant, applicant or previous enrolment'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;

-- The applicant whose details an enrolment carries: its own, or for a
-- transfer the one of the enrolment it continues.
CREATE FUNCTION enrolment_applicant(p_enrolment bigint) RETURNS bigint
LANGUAGE sql STABLE AS $$
    WITH RECURSIVE chain AS (
        SELECT id, applicant_id, previous_enrolment_id, 0 AS depth
        FROM enrolments WHERE id = p_enrolment
      UNION ALL
        SELECT e.id, e.applicant_id, e.previous_enrolment_id, c.depth + 1
        FROM chain c JOIN enrolments e ON e.id = c.previous_enrolment_id
        WHERE c.applicant_id IS NULL AND c.depth < 1000)
    SELECT applicant_id FROM chain WHERE applicant_id IS NOT NULL LIMIT 1
$$;

-- 3. Programmes.
--   renews          the programme this one continues (docs/programs.md)
--   insured_income  the premium basis, Rp 1,000,000 unless decided otherwise
--   income_ceiling  set: each applicant's declared income is the basis, up
--                   to this ceiling (and never below the legal minimum);
--                   NULL: the declared income is kept as information only
--   total_target    a programme-wide goal, reported only (Musi Rawas 9,300)
--   relief_basis    the legal basis of a relief that does not follow from
--                   the funding source (PP 50/2025 Pasal 3)
ALTER TABLE programs
    ADD COLUMN renews integer REFERENCES programs (id),
    ADD COLUMN insured_income bigint NOT NULL DEFAULT 1000000 CHECK (insured_income > 0),
    ADD COLUMN income_ceiling bigint CHECK (income_ceiling > 0),
    ADD COLUMN relief_basis text,
    ADD COLUMN total_target integer CHECK (total_target > 0),
    ADD CONSTRAINT programs_renews_self CHECK (renews <> id);

-- PP 50/2025 Pasal 3: no relief for BPU participants paid from APBN/APBD
-- (APBD, DBH sawit); relief for CSR; ADD and APBDes (transfers from the
-- regency's APBD) none unless the programme records a legal basis.
UPDATE programs SET relief_applies = (funding_source = 'CSR'), version = version + 1,
                    updated_at = now()
WHERE relief_basis IS NULL AND relief_applies IS DISTINCT FROM (funding_source = 'CSR');
ALTER TABLE programs ADD CONSTRAINT programs_relief_rule CHECK (
    CASE funding_source
        WHEN 'CSR' THEN relief_applies
        WHEN 'APBD' THEN NOT relief_applies
        WHEN 'DBH_SAWIT' THEN NOT relief_applies
        ELSE NOT relief_applies OR relief_basis IS NOT NULL
    END);

-- An enrolment's planned last month: its programme's coverage_end.
UPDATE enrolments e SET end_month = p.coverage_end
FROM programs p
WHERE p.id = e.program_id AND e.status = 'active' AND e.end_month IS NULL
  AND p.coverage_end IS NOT NULL;

-- Who is invoiced for an enrolment of programme p in a village (verifier.c's
-- payer_of says the same in C): the village for ADD and APBDES, the company
-- for CSR, the regency for DBH_SAWIT and APBD.
CREATE FUNCTION program_payer(p_program integer, p_village text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN funding_source IN ('ADD', 'APBDES') THEN p_village
                WHEN funding_source = 'CSR' THEN payer_code
                ELSE regency_code END
    FROM programs WHERE id = p_program
$$;

-- Renewals are decided by verify like any list: a submission per village,
-- its applicants copied from the enrolments they continue.
ALTER TABLE submissions ADD COLUMN origin text NOT NULL DEFAULT 'api'
    CHECK (origin IN ('api', 'renewal'));
ALTER TABLE applicants ADD COLUMN renews_enrolment_id bigint;
CREATE UNIQUE INDEX applicants_renews_idx ON applicants (renews_enrolment_id)
    WHERE renews_enrolment_id IS NOT NULL;

-- Queue the renewal of every participant of the programme p_new renews who
-- is not queued yet: those still active in it, and those whose enrolment
-- ended only because it did. Idempotent; returns how many were queued.
CREATE FUNCTION program_renewal_queue(p_new integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    old_id integer;
    old_end date;
    queued integer := 0;
    v record;
BEGIN
    SELECT o.id, o.coverage_end INTO old_id, old_end
    FROM programs n JOIN programs o ON o.id = n.renews WHERE n.id = p_new;
    IF old_id IS NULL OR old_end IS NULL THEN
        RETURN 0;
    END IF;
    -- one renewal at a time per programme, so two callers never queue twice
    PERFORM pg_advisory_xact_lock(4343, p_new);
    FOR v IN SELECT e.village_code, count(*) AS n
             FROM enrolments e
             WHERE e.program_id = old_id
               AND (e.status = 'active' OR (e.end_reason = 'program_ended'
                                            AND e.end_month = old_end))
               AND NOT EXISTS (SELECT 1 FROM applicants a WHERE a.renews_enrolment_id = e.id)
             GROUP BY e.village_code ORDER BY e.village_code LOOP
        WITH s AS (
            INSERT INTO submissions (id, program_id, village_code, reference, applicant_count,
                                     origin)
            VALUES (gen_random_uuid(), p_new, v.village_code,
                    'renewal of ' || (SELECT code FROM programs WHERE id = old_id), v.n,
                    'renewal')
            RETURNING id)
        INSERT INTO applicants (submission_id, idx, nik, name, birth_date, sex, occupation,
                                address, phone, monthly_income, poverty_ref,
                                renews_enrolment_id)
        SELECT s.id, (row_number() OVER (ORDER BY e.id) - 1)::int, e.nik, pa.name,
               pa.birth_date, pa.sex, a.occupation, a.address, a.phone, a.monthly_income,
               a.poverty_ref, e.id
        FROM s, enrolments e
        JOIN participants pa ON pa.nik = e.nik
        JOIN applicants a ON a.id = enrolment_applicant(e.id)
        WHERE e.program_id = old_id AND e.village_code = v.village_code
          AND (e.status = 'active' OR (e.end_reason = 'program_ended'
                                       AND e.end_month = old_end))
          AND NOT EXISTS (SELECT 1 FROM applicants x WHERE x.renews_enrolment_id = e.id);
        queued := queued + v.n;
    END LOOP;
    RETURN queued;
END $$;

-- 4. Documents. kind: 'invoice' (a month's first document for a payer),
-- 'supplementary' (lines a later run added, or re-rated upwards),
-- 'credit_note' (reversals; negative). run_id: the run that issued it; once
-- that run has committed, the document never changes.
ALTER TABLE invoices
    ADD COLUMN kind text NOT NULL DEFAULT 'invoice'
        CHECK (kind IN ('invoice', 'supplementary', 'credit_note')),
    ADD COLUMN run_id bigint REFERENCES billing_runs (id);
ALTER TABLE invoices DROP CONSTRAINT invoices_period_funding_source_payer_code_key;
CREATE UNIQUE INDEX invoices_first_idx ON invoices (period, funding_source, payer_code)
    WHERE kind = 'invoice';
CREATE UNIQUE INDEX invoices_run_idx ON invoices (run_id, kind, funding_source, payer_code);
CREATE INDEX invoices_period_idx ON invoices (period, funding_source, payer_code);

CREATE FUNCTION invoices_issued_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND (NEW.id, NEW.period, NEW.funding_source, NEW.payer_code,
                             NEW.payer_name, NEW.total, NEW.line_count, NEW.due_date,
                             NEW.kind, NEW.run_id)
                            IS NOT DISTINCT FROM
                            (OLD.id, OLD.period, OLD.funding_source, OLD.payer_code,
                             OLD.payer_name, OLD.total, OLD.line_count, OLD.due_date,
                             OLD.kind, OLD.run_id) THEN
        RETURN NEW;
    END IF;
    IF OLD.run_id IS NULL OR EXISTS (SELECT 1 FROM billing_runs r
                                     WHERE r.id = OLD.run_id AND r.finished_at IS NOT NULL) THEN
        RAISE EXCEPTION 'invoice % is issued: it never changes (a supplementary invoice '
                        'or a credit note corrects it)', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
CREATE TRIGGER invoices_issued_fixed BEFORE UPDATE OR DELETE ON invoices
    FOR EACH ROW EXECUTE FUNCTION invoices_issued_fixed();

-- A correction of one person-month, carried by a supplementary invoice
-- (amount > 0) or a credit note (amount < 0). It names the line it corrects
-- by (enrolment_id, period), the key of accruals. A person-month's net
-- charge is its line plus its adjustments, and never below zero.
CREATE TABLE line_adjustments (
    id           bigserial PRIMARY KEY,
    enrolment_id bigint NOT NULL,
    period       date NOT NULL,
    invoice_id   bigint NOT NULL REFERENCES invoices (id),
    jkk          bigint NOT NULL,
    jkm          bigint NOT NULL,
    amount       bigint NOT NULL CHECK (amount = jkk + jkm AND amount <> 0),
    reason       text NOT NULL CHECK (reason IN ('rerate', 'ended', 'reinstated')),
    run_id       bigint NOT NULL REFERENCES billing_runs (id),
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX line_adjustments_line_idx ON line_adjustments (enrolment_id, period);
CREATE INDEX line_adjustments_invoice_idx ON line_adjustments (invoice_id);
CREATE INDEX line_adjustments_period_idx ON line_adjustments (period);

-- What a run was billed under: the rates, reliefs and programme premium
-- data; a month billed under another mark is re-rated by its next run.
ALTER TABLE billing_runs ADD COLUMN rates_mark text;

CREATE FUNCTION billing_rates_mark() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT md5(concat_ws('|',
        (SELECT string_agg(concat_ws(':', component, effective_month, income_bp, flat_amount,
                                     min_income), ',' ORDER BY component, effective_month)
         FROM premium_rates),
        (SELECT string_agg(concat_ws(':', id, first_month, last_month, sector, off_bp,
                                     applies_jkk, applies_jkm), ',' ORDER BY id)
         FROM premium_adjustments),
        (SELECT string_agg(concat_ws(':', id, relief_applies, insured_income,
                                     income_ceiling, coverage_end), ',' ORDER BY id)
         FROM programs)))
$$;

-- 5. Payments allocated to lines: which person-months a payment paid, and
-- how much of each. A person-month is paid when its allocations reach its
-- net charge.
CREATE TABLE payment_lines (
    payment_id   bigint NOT NULL REFERENCES payments (id),
    enrolment_id bigint NOT NULL,
    period       date NOT NULL,
    amount       bigint NOT NULL CHECK (amount > 0),
    PRIMARY KEY (payment_id, enrolment_id, period)
);
CREATE INDEX payment_lines_line_idx ON payment_lines (enrolment_id, period);

-- Balances per document. A credit note's total is negative; it is not paid
-- but counted against what its payer owes (docs/billing.md, "What a payer
-- owes").
DROP VIEW invoice_balances;
CREATE VIEW invoice_balances AS
SELECT i.id, i.period, i.funding_source, i.payer_code, i.payer_name, i.total, i.line_count,
       i.due_date, coalesce(p.paid, 0)::bigint AS paid,
       (i.total - coalesce(p.paid, 0))::bigint AS outstanding,
       CASE WHEN i.kind = 'credit_note' THEN 'credit'
            WHEN coalesce(p.paid, 0) = 0 AND i.total > 0 THEN 'open'
            WHEN coalesce(p.paid, 0) >= i.total THEN 'paid'
            ELSE 'partially_paid' END AS status,
       i.kind, i.created_at AS issued_at
FROM invoices i
LEFT JOIN (SELECT invoice_id, sum(amount) AS paid FROM payments GROUP BY invoice_id) p
       ON p.invoice_id = i.id;

-- The items of one document: its accrual lines and its adjustments, each as
-- (enrolment_id, period, jkk, jkm, amount, kind), found through the payer's
-- enrolments (accruals have no invoice index, 007), and what payments to
-- this document have allocated to each.
CREATE FUNCTION document_items(p_invoice bigint)
RETURNS TABLE (enrolment_id bigint, period date, jkk bigint, jkm bigint, amount bigint,
               item text, allocated bigint)
LANGUAGE sql STABLE AS $$
    WITH doc AS (SELECT * FROM invoices WHERE id = p_invoice),
    items AS (
        SELECT a.enrolment_id, a.period, a.jkk, a.jkm, a.amount, 'line'::text AS item
        FROM doc JOIN enrolments e ON e.funding_source = doc.funding_source
                                  AND e.payer_code = doc.payer_code
        JOIN accruals a ON a.enrolment_id = e.id AND a.period = doc.period
        WHERE a.invoice_id = doc.id
      UNION ALL
        SELECT l.enrolment_id, l.period, l.jkk, l.jkm, l.amount, l.reason
        FROM line_adjustments l WHERE l.invoice_id = p_invoice)
    SELECT i.enrolment_id, i.period, i.jkk, i.jkm, i.amount, i.item,
           coalesce((SELECT sum(pl.amount) FROM payment_lines pl
                     JOIN payments p ON p.id = pl.payment_id
                     WHERE p.invoice_id = p_invoice AND pl.enrolment_id = i.enrolment_id
                       AND pl.period = i.period), 0)::bigint
    FROM items i
$$;

-- Record one payment and allocate it to lines, or say why not, in one
-- statement shared by lindungctl and intake. p_lines: the enrolments whose
-- lines it pays (the amount must be exactly what they still owe on this
-- document); p_except: the lines it leaves unpaid (a disputed line; the
-- amount must be exactly the rest); neither: it pays the document's lines in
-- the order the document lists them (village, then enrolment id), the last
-- one perhaps in part.
-- result: 'ok', 'not_found', 'overpaid', 'duplicate', 'future_date',
-- 'bad_amount', 'not_payable' (a credit note), 'unknown_line' (a listed
-- enrolment has no line on this document), 'amount_mismatch' (lines or
-- exceptions given and the amount is not what they add up to), 'nothing_due'.
DROP FUNCTION billing_record_payment(bigint, bigint, date, text, text);
CREATE FUNCTION billing_record_payment(p_invoice bigint, p_amount bigint, p_paid_on date,
                                       p_reference text, p_source text,
                                       p_lines bigint[] DEFAULT NULL,
                                       p_except bigint[] DEFAULT NULL)
RETURNS TABLE (result text, payment_id bigint, total bigint, paid bigint,
               outstanding bigint, status text)
LANGUAGE plpgsql AS $$
DECLARE
    inv invoices%ROWTYPE;
    already bigint;
    wanted bigint;
    unknown bigint;
    new_id bigint;
    left_over bigint;
    it record;
    take bigint;
BEGIN
    SELECT * INTO inv FROM invoices i WHERE i.id = p_invoice FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found'::text, NULL::bigint, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::text;
        RETURN;
    END IF;
    SELECT coalesce(sum(p.amount), 0) INTO already FROM payments p WHERE p.invoice_id = p_invoice;
    CREATE TEMP TABLE IF NOT EXISTS pay_items (enrolment_id bigint, period date,
        village text, owed bigint) ON COMMIT DROP;
    TRUNCATE pay_items;
    INSERT INTO pay_items
    SELECT d.enrolment_id, d.period, e.village_code, sum(d.amount - d.allocated)
    FROM document_items(p_invoice) d JOIN enrolments e ON e.id = d.enrolment_id
    GROUP BY d.enrolment_id, d.period, e.village_code;
    SELECT count(*) INTO unknown
    FROM unnest(coalesce(p_lines, '{}') || coalesce(p_except, '{}')) AS x (id)
    WHERE NOT EXISTS (SELECT 1 FROM pay_items pi WHERE pi.enrolment_id = x.id);
    IF p_lines IS NOT NULL THEN
        SELECT coalesce(sum(owed), 0) INTO wanted FROM pay_items WHERE enrolment_id = ANY (p_lines);
    ELSIF p_except IS NOT NULL THEN
        SELECT coalesce(sum(owed), 0) INTO wanted FROM pay_items
        WHERE NOT (enrolment_id = ANY (p_except));
    END IF;
    IF p_amount IS NULL OR p_amount <= 0 THEN
        result := 'bad_amount';
    ELSIF inv.kind = 'credit_note' THEN
        result := 'not_payable';
    ELSIF p_paid_on > (now() AT TIME ZONE 'Asia/Jakarta')::date THEN
        result := 'future_date';
    ELSIF p_reference IS NOT NULL AND EXISTS (SELECT 1 FROM payments p
            WHERE p.invoice_id = p_invoice AND p.reference = p_reference) THEN
        result := 'duplicate';
    ELSIF unknown > 0 THEN
        result := 'unknown_line';
    ELSIF already + p_amount > inv.total THEN
        result := 'overpaid';
    ELSIF wanted IS NOT NULL AND wanted = 0 THEN
        result := 'nothing_due';
    ELSIF wanted IS NOT NULL AND wanted <> p_amount THEN
        result := 'amount_mismatch';
    ELSE
        INSERT INTO payments (invoice_id, amount, paid_on, reference, source)
        VALUES (p_invoice, p_amount, p_paid_on, p_reference, coalesce(p_source, 'lindungctl'))
        RETURNING id INTO new_id;
        left_over := p_amount;
        FOR it IN SELECT pi.enrolment_id, pi.period, pi.owed FROM pay_items pi
                  WHERE pi.owed > 0
                    AND (p_lines IS NULL OR pi.enrolment_id = ANY (p_lines))
                    AND (p_except IS NULL OR NOT (pi.enrolment_id = ANY (p_except)))
                  ORDER BY pi.village, pi.enrolment_id LOOP
            EXIT WHEN left_over = 0;
            take := least(it.owed, left_over);
            INSERT INTO payment_lines (payment_id, enrolment_id, period, amount)
            VALUES (new_id, it.enrolment_id, it.period, take);
            left_over := left_over - take;
        END LOOP;
        result := 'ok';
    END IF;
    RETURN QUERY SELECT result, new_id, b.total, b.paid, b.outstanding, b.status
                 FROM invoice_balances b WHERE b.id = p_invoice;
END $$;

-- Payments recorded before this migration paid their invoice's lines in the
-- same order (a fully paid invoice: every line).
DO $$
DECLARE
    p record;
    it record;
    left_over bigint;
    take bigint;
BEGIN
    FOR p IN SELECT id, invoice_id, amount FROM payments ORDER BY id LOOP
        left_over := p.amount;
        FOR it IN SELECT d.enrolment_id, d.period, d.amount - d.allocated AS owed
                  FROM document_items(p.invoice_id) d
                  JOIN enrolments e ON e.id = d.enrolment_id
                  WHERE d.amount - d.allocated > 0
                  ORDER BY e.village_code, d.enrolment_id LOOP
            EXIT WHEN left_over = 0;
            take := least(it.owed, left_over);
            INSERT INTO payment_lines VALUES (p.id, it.enrolment_id, it.period, take);
            left_over := left_over - take;
        END LOOP;
    END LOOP;
END $$;

-- The premium rule of 011 with the programme's premium basis: its insured
-- income, or (income_ceiling set) the declared income up to the ceiling.
-- Everything else as 007 and 011 (docs/billing.md).
CREATE OR REPLACE FUNCTION accrual_premiums(p_period date)
RETURNS TABLE (enrolment_id bigint, funding_source text, payer_code text,
               jkk bigint, jkm bigint)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH jkk AS (SELECT income_bp, min_income FROM premium_rates
                 WHERE component = 'JKK' AND effective_month <= p_period
                 ORDER BY effective_month DESC LIMIT 1),
         jkm AS (SELECT flat_amount FROM premium_rates
                 WHERE component = 'JKM' AND effective_month <= p_period
                 ORDER BY effective_month DESC LIMIT 1),
         adj AS (SELECT t.transport,
                        coalesce(max(a.off_bp) FILTER (WHERE a.applies_jkk), 0) AS jkk_off,
                        coalesce(max(a.off_bp) FILTER (WHERE a.applies_jkm), 0) AS jkm_off
                 FROM (VALUES (false), (true)) AS t (transport)
                 LEFT JOIN premium_adjustments a
                        ON a.first_month <= p_period AND a.last_month >= p_period
                       AND (a.sector IS NULL OR (a.sector = 'transport' AND t.transport))
                 GROUP BY t.transport),
         rel AS (SELECT p.id AS program_id, adj.transport, p.insured_income,
                        p.income_ceiling,
                        CASE WHEN p.relief_applies THEN adj.jkk_off ELSE 0 END AS jkk_off,
                        CASE WHEN p.relief_applies THEN adj.jkm_off ELSE 0 END AS jkm_off
                 FROM programs p CROSS JOIN adj
                 WHERE (p.coverage_end IS NULL OR p.coverage_end >= p_period)
                   AND p.coverage_start <= p_period)
    SELECT e.id, e.funding_source, e.payer_code, c.jkk, c.jkm
    FROM enrolments e
    JOIN rel ON rel.program_id = e.program_id AND rel.transport = e.transport
    CROSS JOIN jkk CROSS JOIN jkm
    CROSS JOIN LATERAL (SELECT CASE WHEN rel.income_ceiling IS NULL THEN rel.insured_income
                                    ELSE least(e.declared_income, rel.income_ceiling)
                               END AS basis) b
    CROSS JOIN LATERAL (SELECT
        ((greatest(b.basis, jkk.min_income) * jkk.income_bp + 5000) / 10000
          * (10000 - rel.jkk_off) + 5000) / 10000 AS jkk,
        (jkm.flat_amount * (10000 - rel.jkm_off) + 5000) / 10000 AS jkm) c
    WHERE e.start_month <= p_period AND (e.end_month IS NULL OR e.end_month >= p_period)
$$;
