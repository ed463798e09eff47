-- 031_payments_by_person_month: two money faults a review found (ninth
-- session; docs/billing.md, "Payments" and "Rates and programme changes").
--
-- 1. A payment given without a list of lines paid the document's lines in
--    document order, counting as owed what each line's own document had not
--    yet received. A line whose person-month a credit note had cancelled
--    (its net charge 0) was paid before a live line of someone else, who
--    then looked unpaid and could lapse although the village paid all it
--    owed. Now such a payment pays first what each person-month still owes
--    in all (its line and every adjustment, less every allocation, on any
--    document), in document order; only money left after that goes to the
--    document's other lines, as before. Lists (p_lines, p_except) are
--    unchanged: they name the lines and the amount is theirs.
--
-- 2. billing_rates_mark() left out a programme's coverage_start, so moving
--    it later never re-rated the months already billed before it (their
--    lines stayed, while a person accepted after the change was not billed
--    for them). The mark now includes it: a changed coverage_start makes the
--    next run of each billed month compare all its lines with what is due
--    (credit notes for months now before the start). The first runs after
--    this migration compare every line once (the mark's text changed);
--    nothing differs, so they issue nothing.

CREATE OR REPLACE FUNCTION billing_rates_mark() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT md5(concat_ws('|',
        (SELECT string_agg(concat_ws(':', component, effective_month, income_bp, flat_amount,
                                     min_income), ',' ORDER BY component, effective_month)
         FROM premium_rates),
        (SELECT string_agg(concat_ws(':', id, first_month, last_month, sector, off_bp,
                                     applies_jkk, applies_jkm), ',' ORDER BY id)
         FROM premium_adjustments),
        (SELECT string_agg(concat_ws(':', id, relief_applies, insured_income,
                                     income_ceiling, coverage_start, coverage_end), ','
                           ORDER BY id)
         FROM programs)))
$$;

-- As 013's, but for a payment without lines: first what each person-month
-- still owes in all (due), then the rest of each line (owed), both in the
-- document's order (village, then enrolment id).
CREATE OR REPLACE FUNCTION billing_record_payment(p_invoice bigint, p_amount bigint,
                                                  p_paid_on date, p_reference text,
                                                  p_source text,
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
        village text, owed bigint, due bigint) ON COMMIT DROP;
    TRUNCATE pay_items;
    -- owed: what this document's items for the person-month have not yet
    -- received from this document's payments; due: what the person-month
    -- still owes in all (its line and adjustments on any document, less
    -- every allocation to it), never more than owed nor below zero.
    INSERT INTO pay_items
    SELECT d.enrolment_id, d.period, e.village_code, d.owed,
           greatest(0, least(d.owed,
               coalesce((SELECT a.amount FROM accruals a
                         WHERE a.enrolment_id = d.enrolment_id AND a.period = d.period), 0)
               + coalesce((SELECT sum(l.amount) FROM line_adjustments l
                           WHERE l.enrolment_id = d.enrolment_id AND l.period = d.period), 0)
               - coalesce((SELECT sum(pl.amount) FROM payment_lines pl
                           WHERE pl.enrolment_id = d.enrolment_id
                             AND pl.period = d.period), 0)))
    FROM (SELECT di.enrolment_id, di.period, sum(di.amount - di.allocated) AS owed
          FROM document_items(p_invoice) di
          GROUP BY di.enrolment_id, di.period) d
    JOIN enrolments e ON e.id = d.enrolment_id;
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
        IF p_lines IS NULL AND p_except IS NULL THEN
            -- first what each person-month still owes in all
            FOR it IN SELECT pi.enrolment_id, pi.period, pi.due FROM pay_items pi
                      WHERE pi.due > 0
                      ORDER BY pi.village, pi.enrolment_id LOOP
                EXIT WHEN left_over = 0;
                take := least(it.due, left_over);
                INSERT INTO payment_lines (payment_id, enrolment_id, period, amount)
                VALUES (new_id, it.enrolment_id, it.period, take);
                left_over := left_over - take;
            END LOOP;
        END IF;
        -- what the first pass took is this payment's rows so far (one query,
        -- not an update of pay_items per row: that made a payment quadratic)
        FOR it IN SELECT pi.enrolment_id, pi.period,
                         pi.owed - coalesce(pl.amount, 0) AS owed
                  FROM pay_items pi
                  LEFT JOIN payment_lines pl ON pl.payment_id = new_id
                      AND pl.enrolment_id = pi.enrolment_id AND pl.period = pi.period
                  WHERE pi.owed - coalesce(pl.amount, 0) > 0
                    AND (p_lines IS NULL OR pi.enrolment_id = ANY (p_lines))
                    AND (p_except IS NULL OR NOT (pi.enrolment_id = ANY (p_except)))
                  ORDER BY pi.village, pi.enrolment_id LOOP
            EXIT WHEN left_over = 0;
            take := least(it.owed, left_over);
            -- a person-month paid in part by the first pass grows its one row
            INSERT INTO payment_lines (payment_id, enrolment_id, period, amount)
            VALUES (new_id, it.enrolment_id, it.period, take)
            ON CONFLICT ON CONSTRAINT payment_lines_pkey
            DO UPDATE SET amount = payment_lines.amount + EXCLUDED.amount;
            left_over := left_over - take;
        END LOOP;
        result := 'ok';
    END IF;
    RETURN QUERY SELECT result, new_id, b.total, b.paid, b.outstanding, b.status
                 FROM invoice_balances b WHERE b.id = p_invoice;
END $$;

-- CREATE OR REPLACE resets what 027 set: intake calls it with its owner's rights.
ALTER FUNCTION billing_record_payment(bigint, bigint, date, text, text, bigint[], bigint[])
    SECURITY DEFINER SET search_path = public, pg_temp;

-- The lapse check now asks whether a payer paid anything for a month on any
-- of its documents (services/billing/accrual.c, SQL_LAPSE).
GRANT SELECT ON payments TO lindung_billing;
