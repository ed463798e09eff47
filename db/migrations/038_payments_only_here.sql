-- 038_payments_only_here: a payment without a list is allocated with the
-- other such payments of its payer's month, so that a payer who pays what
-- it owes has paid every person-month once, whatever the order of its
-- payments. 031 paid first "what each person-month still owes in all"
-- (net charge less allocations), capped at the item here. A person-month
-- billed on two payable documents (its line on the invoice, and an increase
-- on a supplementary invoice: a line cancelled and reinstated, a relief
-- withdrawn) was then paid in full by whichever document was paid first,
-- and the other document's payment could only pay it again: the invoice's
-- other people were left unpaid although the payer owed nothing, and lapsed
-- three months later (reviews found it, and then that no single payment
-- can know which of two such people it was meant for). Now:
--   * a payment records how it is allocated (payments.allocation): 'lines'
--     or 'except' as its list says, once; 'order' (no list) again at every
--     payment of the payer's month: the month's 'order' payments are
--     allocated anew, documents newest first (supplementary invoices before
--     the invoice), each in three passes in the document's order: (1)
--     `only_here`, what the person-month owes that no other payable document
--     still bills; (2) `due`, what it still owes in all; (3) the rest of each
--     item (docs/billing.md, "Payments to lines");
--   * a payment locks every document of its payer's month (two payments to
--     two documents of a month at once each paid the same person-month).
-- Payments recorded before 038 keep their allocation (allocation NULL).

ALTER TABLE payments ADD COLUMN allocation text
    CHECK (allocation IN ('order', 'lines', 'except'));
COMMENT ON COLUMN payments.allocation IS
    'How the payment was allocated to person-months: lines or except (its list, once), '
    'order (no list: allocated again with the payer''s other order payments of the month '
    'at each of its payments, 038); NULL: recorded before 038, kept as made.';

-- One pass of billing_record_payment: payment p_payment's money left
-- (p_left) over pay_items in the document's order, each item up to its
-- `p_cap` column (only_here, due or owed) less what this payment already
-- gave it; returns what is left. One query for the items and one row per
-- person-month: a person-month paid by an earlier pass grows its row.
CREATE FUNCTION pay_items_take(p_payment bigint, p_left bigint, p_cap text,
                               p_lines bigint[] DEFAULT NULL,
                               p_except bigint[] DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    it record;
    take bigint;
BEGIN
    FOR it IN SELECT pi.enrolment_id, pi.period,
                     CASE p_cap WHEN 'only_here' THEN pi.only_here
                                WHEN 'due' THEN pi.due ELSE pi.owed END
                     - coalesce(pl.amount, 0) AS open
              FROM pay_items pi
              LEFT JOIN payment_lines pl ON pl.payment_id = p_payment
                  AND pl.enrolment_id = pi.enrolment_id AND pl.period = pi.period
              WHERE (p_lines IS NULL OR pi.enrolment_id = ANY (p_lines))
                AND (p_except IS NULL OR NOT (pi.enrolment_id = ANY (p_except)))
              ORDER BY pi.village, pi.enrolment_id LOOP
        EXIT WHEN p_left = 0;
        CONTINUE WHEN it.open <= 0;
        take := least(it.open, p_left);
        INSERT INTO payment_lines (payment_id, enrolment_id, period, amount)
        VALUES (p_payment, it.enrolment_id, it.period, take)
        ON CONFLICT ON CONSTRAINT payment_lines_pkey
        DO UPDATE SET amount = payment_lines.amount + EXCLUDED.amount;
        p_left := p_left - take;
    END LOOP;
    RETURN p_left;
END $$;

-- pay_items for document p_invoice: each person-month's `owed` there (its
-- items less what this document's payments allocated to it); with p_order
-- also `need` (what it still owes in all: line and adjustments on any
-- document, less every allocation to it), `due` (need within what it owes
-- here) and `only_here` (need less what the month's other payable
-- documents still bill for it and were not paid for it, within what it
-- owes here); due and only_here never below zero.
CREATE FUNCTION pay_items_fill(p_invoice bigint, p_order boolean)
RETURNS void LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    inv invoices%ROWTYPE;
BEGIN
    SELECT * INTO inv FROM invoices WHERE id = p_invoice;
    CREATE TEMP TABLE IF NOT EXISTS pay_items (enrolment_id bigint, period date,
        village text, owed bigint, need bigint, due bigint, only_here bigint,
        PRIMARY KEY (enrolment_id, period)) ON COMMIT DROP;
    TRUNCATE pay_items;
    INSERT INTO pay_items (enrolment_id, period, village, owed, need)
    SELECT d.enrolment_id, d.period, e.village_code, d.owed,
           CASE WHEN p_order THEN
               coalesce((SELECT a.amount FROM accruals a
                         WHERE a.enrolment_id = d.enrolment_id AND a.period = d.period), 0)
               + coalesce((SELECT sum(l.amount) FROM line_adjustments l
                           WHERE l.enrolment_id = d.enrolment_id AND l.period = d.period), 0)
               - coalesce((SELECT sum(pl.amount) FROM payment_lines pl
                           WHERE pl.enrolment_id = d.enrolment_id
                             AND pl.period = d.period), 0) END
    FROM (SELECT di.enrolment_id, di.period, sum(di.amount - di.allocated) AS owed
          FROM document_items(p_invoice) di
          GROUP BY di.enrolment_id, di.period) d
    JOIN enrolments e ON e.id = d.enrolment_id;
    IF NOT p_order THEN
        RETURN;
    END IF;
    -- need (net less every allocation) is not capped: what another document
    -- still bills is taken from it before the cap at owed
    UPDATE pay_items SET due = greatest(0, least(owed, need)),
                         only_here = greatest(0, least(owed, need));
    -- what the month's other payable documents still bill for people here
    -- (none for most invoices; read from those documents, not per item)
    UPDATE pay_items pi
    SET only_here = greatest(0, least(pi.owed, pi.need - o.open))
    FROM (SELECT x.enrolment_id, x.period, sum(x.open) AS open
          FROM (SELECT di.enrolment_id, di.period,
                       greatest(0, sum(di.amount) - max(di.allocated)) AS open
                FROM invoices od
                CROSS JOIN LATERAL document_items(od.id) di
                WHERE od.period = inv.period AND od.funding_source = inv.funding_source
                  AND od.payer_code = inv.payer_code AND od.id <> p_invoice
                  AND od.kind <> 'credit_note'
                GROUP BY od.id, di.enrolment_id, di.period) x
          GROUP BY x.enrolment_id, x.period) o
    WHERE pi.enrolment_id = o.enrolment_id AND pi.period = o.period;
END $$;

-- The payer's month's payments without a list, allocated anew: their rows
-- removed, then each payment allocated again, documents newest first
-- (supplementary invoices, which bill few people, before the invoice that
-- bills everyone), a document's payments in the order they came. A
-- payment always fits its document (payments never exceed its total).
CREATE FUNCTION payments_reallocate(p_period date, p_funding text, p_payer text)
RETURNS void LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    pay record;
    left_over bigint;
BEGIN
    DELETE FROM payment_lines pl
    USING payments p, invoices i
    WHERE pl.payment_id = p.id AND p.invoice_id = i.id AND p.allocation = 'order'
      AND i.period = p_period AND i.funding_source = p_funding AND i.payer_code = p_payer;
    FOR pay IN SELECT p.id, p.invoice_id, p.amount
               FROM payments p JOIN invoices i ON i.id = p.invoice_id
               WHERE p.allocation = 'order' AND i.period = p_period
                 AND i.funding_source = p_funding AND i.payer_code = p_payer
               ORDER BY p.invoice_id DESC, p.id LOOP
        PERFORM pay_items_fill(pay.invoice_id, true);
        left_over := pay.amount;
        -- (the first pass is the second when no other document bills anyone
        -- here, as for most invoices: then it is skipped)
        IF EXISTS (SELECT 1 FROM pay_items WHERE only_here < due) THEN
            left_over := pay_items_take(pay.id, left_over, 'only_here');
        END IF;
        left_over := pay_items_take(pay.id, left_over, 'due');
        left_over := pay_items_take(pay.id, left_over, 'owed');
        IF left_over <> 0 THEN
            RAISE EXCEPTION 'payment % does not fit document % (% left)', pay.id,
                pay.invoice_id, left_over;
        END IF;
    END LOOP;
END $$;

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
    listed boolean := p_lines IS NOT NULL OR p_except IS NOT NULL;
    already bigint;
    wanted bigint;
    unknown bigint := 0;
    new_id bigint;
BEGIN
    SELECT * INTO inv FROM invoices i WHERE i.id = p_invoice;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found'::text, NULL::bigint, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::text;
        RETURN;
    END IF;
    -- Every document of the payer's month, in id order: a payment may
    -- allocate the month's other payments again, so two payments to two
    -- documents of one month must not run at once.
    PERFORM 1 FROM invoices i
    WHERE i.period = inv.period AND i.funding_source = inv.funding_source
      AND i.payer_code = inv.payer_code
    ORDER BY i.id FOR UPDATE;
    SELECT coalesce(sum(p.amount), 0) INTO already FROM payments p WHERE p.invoice_id = p_invoice;
    IF listed THEN
        PERFORM pay_items_fill(p_invoice, false);
        SELECT count(*) INTO unknown
        FROM unnest(coalesce(p_lines, '{}') || coalesce(p_except, '{}')) AS x (id)
        WHERE NOT EXISTS (SELECT 1 FROM pay_items pi WHERE pi.enrolment_id = x.id);
        IF p_lines IS NOT NULL THEN
            SELECT coalesce(sum(owed), 0) INTO wanted FROM pay_items
            WHERE enrolment_id = ANY (p_lines);
        ELSE
            SELECT coalesce(sum(owed), 0) INTO wanted FROM pay_items
            WHERE NOT (enrolment_id = ANY (p_except));
        END IF;
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
        INSERT INTO payments (invoice_id, amount, paid_on, reference, source, allocation)
        VALUES (p_invoice, p_amount, p_paid_on, p_reference, coalesce(p_source, 'lindungctl'),
                CASE WHEN p_lines IS NOT NULL THEN 'lines'
                     WHEN p_except IS NOT NULL THEN 'except' ELSE 'order' END)
        RETURNING id INTO new_id;
        -- a list: exactly its items here, once
        IF listed THEN
            PERFORM pay_items_take(new_id, p_amount, 'owed', p_lines, p_except);
        END IF;
        -- then the month's payments without a list, this one among them
        PERFORM payments_reallocate(inv.period, inv.funding_source, inv.payer_code);
        result := 'ok';
    END IF;
    RETURN QUERY SELECT result, new_id, b.total, b.paid, b.outstanding, b.status
                 FROM invoice_balances b WHERE b.id = p_invoice;
END $$;

ALTER FUNCTION billing_record_payment(bigint, bigint, date, text, text, bigint[], bigint[])
    SECURITY DEFINER SET search_path = public, pg_temp;
REVOKE ALL ON FUNCTION pay_items_take(bigint, bigint, text, bigint[], bigint[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION pay_items_fill(bigint, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION payments_reallocate(date, text, text) FROM PUBLIC;
COMMENT ON FUNCTION pay_items_fill(bigint, boolean) IS
    'A document''s items as billing_record_payment allocates them (038).';
COMMENT ON FUNCTION payments_reallocate(date, text, text) IS
    'The payer''s month''s payments without a list, allocated anew (038).';
COMMENT ON FUNCTION pay_items_take(bigint, bigint, text, bigint[], bigint[]) IS
    'One pass of billing_record_payment over its pay_items (038).';
