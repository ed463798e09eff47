-- 004_billing: rate adjustments (PP 50/2025 relief), payments against
-- invoices, invoice balances and status, and the index the lapse check reads.
-- See docs/billing.md for the rounding and the lapse rule.

-- A percentage off one or both components for a range of iuran months,
-- optionally for one sector only. Every adjustment is a relief: it is honoured
-- only for programmes whose relief_applies is true (who pays decides whether
-- the relief is passed on). Adjustments do not stack: when several apply to
-- the same month, sector and component, the largest one wins (PP 50/2025's
-- general and transport reliefs overlap in April-December 2026).
CREATE TABLE premium_adjustments (
    id          serial PRIMARY KEY,
    name        text NOT NULL,
    first_month date NOT NULL CHECK (extract(day FROM first_month) = 1),
    last_month  date NOT NULL CHECK (extract(day FROM last_month) = 1),
    sector      text CHECK (sector IN ('transport')),   -- NULL: every sector
    off_bp      integer NOT NULL CHECK (off_bp BETWEEN 1 AND 10000), -- 5000 = 50% off
    applies_jkk boolean NOT NULL,
    applies_jkm boolean NOT NULL,
    note        text,
    CHECK (last_month >= first_month),
    CHECK (applies_jkk OR applies_jkm),
    UNIQUE NULLS NOT DISTINCT (name, sector)
);

INSERT INTO premium_adjustments (name, first_month, last_month, sector, off_bp,
                                 applies_jkk, applies_jkm, note)
VALUES ('PP 50/2025', '2026-04-01', '2026-12-01', NULL, 5000, true, true,
        'PP 50/2025: JKK and JKM halved for iuran months April-December 2026'),
       ('PP 50/2025', '2026-01-01', '2027-03-01', 'transport', 5000, true, true,
        'PP 50/2025: transport sector, JKK and JKM halved January 2026-March 2027');

-- Money received against an invoice. An invoice is never overpaid (the
-- payment is refused), so paid <= total holds whenever a payment is made.
CREATE TABLE payments (
    id         bigserial PRIMARY KEY,
    invoice_id bigint NOT NULL REFERENCES invoices (id),
    amount     bigint NOT NULL CHECK (amount > 0),
    paid_on    date NOT NULL,
    reference  text,
    source     text NOT NULL DEFAULT 'lindungctl',  -- 'lindungctl' or 'api:<key id>'
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payments_invoice_idx ON payments (invoice_id);
-- A payment sent twice (same invoice, same reference) is recorded once.
CREATE UNIQUE INDEX payments_reference_idx ON payments (invoice_id, reference)
    WHERE reference IS NOT NULL;

-- Status is derived, never stored, so it cannot disagree with the payments:
-- a supplementary line added after an invoice was paid makes it partially
-- paid again, as it should.
CREATE VIEW invoice_balances AS
SELECT i.id, i.period, i.funding_source, i.payer_code, i.payer_name, i.total, i.line_count,
       i.due_date, coalesce(p.paid, 0)::bigint AS paid,
       (i.total - coalesce(p.paid, 0))::bigint AS outstanding,
       CASE WHEN coalesce(p.paid, 0) = 0 AND i.total > 0 THEN 'open'
            WHEN coalesce(p.paid, 0) >= i.total THEN 'paid'
            ELSE 'partially_paid' END AS status
FROM invoices i
LEFT JOIN (SELECT invoice_id, sum(amount) AS paid FROM payments GROUP BY invoice_id) p
       ON p.invoice_id = i.id;

-- The lapse check reads an enrolment's last months; the list endpoints page
-- invoices by period and payer.
CREATE INDEX invoices_payer_idx ON invoices (payer_code, period);
CREATE INDEX enrolments_lapsed_idx ON enrolments (ended_at) WHERE end_reason = 'lapsed';

-- Record one payment, or say why not, in one statement, so lindungctl and the
-- intake HTTP endpoint share one rule without sharing C code. The invoice row
-- is locked, so concurrent payments cannot overpay it together.
-- result: 'ok', 'not_found', 'overpaid' (more than is outstanding),
-- 'duplicate' (this reference was recorded for the invoice), 'future_date'
-- (paid_on after today in Jakarta), 'bad_amount' (not positive).
CREATE FUNCTION billing_record_payment(p_invoice bigint, p_amount bigint, p_paid_on date,
                                       p_reference text, p_source text)
RETURNS TABLE (result text, payment_id bigint, total bigint, paid bigint,
               outstanding bigint, status text)
LANGUAGE plpgsql AS $$
DECLARE
    inv_total bigint;
    already   bigint;
    new_id    bigint;
BEGIN
    SELECT i.total INTO inv_total FROM invoices i WHERE i.id = p_invoice FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found'::text, NULL::bigint, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::text;
        RETURN;
    END IF;
    SELECT coalesce(sum(p.amount), 0) INTO already FROM payments p WHERE p.invoice_id = p_invoice;
    IF p_amount IS NULL OR p_amount <= 0 THEN
        result := 'bad_amount';
    ELSIF p_paid_on > (now() AT TIME ZONE 'Asia/Jakarta')::date THEN
        result := 'future_date';
    ELSIF p_reference IS NOT NULL AND EXISTS (SELECT 1 FROM payments p
            WHERE p.invoice_id = p_invoice AND p.reference = p_reference) THEN
        result := 'duplicate';
    ELSIF already + p_amount > inv_total THEN
        result := 'overpaid';
    ELSE
        INSERT INTO payments (invoice_id, amount, paid_on, reference, source)
        VALUES (p_invoice, p_amount, p_paid_on, p_reference, coalesce(p_source, 'lindungctl'))
        RETURNING id INTO new_id;
        already := already + p_amount;
        result := 'ok';
    END IF;
    RETURN QUERY SELECT result, new_id, b.total, b.paid, b.outstanding, b.status
                 FROM invoice_balances b WHERE b.id = p_invoice;
END $$;

-- Speed of a run (bench/billing, docs/billing.md): the three foreign keys of
-- accruals cost two thirds of a million-line run (one trigger call and one
-- KEY SHARE row lock per line and key; the locks dirty every enrolment page).
-- Lines are written by one statement only (accrual.c), which takes every id
-- from the row it references in the same transaction, and enrolments,
-- invoices and billing_runs are never deleted, so the keys guard nothing
-- that can happen. The unique (enrolment_id, period) index, the rule that
-- matters, stays.
ALTER TABLE accruals DROP CONSTRAINT IF EXISTS accruals_enrolment_id_fkey,
                     DROP CONSTRAINT IF EXISTS accruals_invoice_id_fkey,
                     DROP CONSTRAINT IF EXISTS accruals_run_id_fkey;
