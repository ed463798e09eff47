-- 038_payments_only_here: a payment without a list pays first what only
-- its document can pay. 031 paid first "what each person-month still owes
-- in all" (net charge less allocations), capped at the item here. A
-- person-month billed on two payable documents (its line on the invoice,
-- and an increase on a supplementary invoice: a line cancelled and
-- reinstated, a relief withdrawn) was then paid in full by whichever
-- document was paid first, and the other document's payment could only pay
-- it again: the invoice's other people were left unpaid although the payer
-- owed nothing, and lapsed three months later (a review found it; the
-- result depended on which document was paid first). Now three passes,
-- each in the document's order: (1) `only_here`, what the person-month
-- owes that no other payable document still bills; (2) `due`, what it still
-- owes in all; (3) the rest of each item (docs/billing.md, "Payments to
-- lines"). With `lines` or `except`, only the third, as before. Also: a
-- payment now locks every document of its payer's month (two payments to
-- two documents of a month at once each paid the same person-month).

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
BEGIN
    SELECT * INTO inv FROM invoices i WHERE i.id = p_invoice;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found'::text, NULL::bigint, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::text;
        RETURN;
    END IF;
    -- Every document of the payer's month, in id order: a payment reads what
    -- the month's other documents still bill and were paid, so two payments
    -- to two documents of one month must not run at once (each would pay
    -- the person-month the other was paying).
    PERFORM 1 FROM invoices i
    WHERE i.period = inv.period AND i.funding_source = inv.funding_source
      AND i.payer_code = inv.payer_code
    ORDER BY i.id FOR UPDATE;
    SELECT coalesce(sum(p.amount), 0) INTO already FROM payments p WHERE p.invoice_id = p_invoice;
    CREATE TEMP TABLE IF NOT EXISTS pay_items (enrolment_id bigint, period date,
        village text, owed bigint, due bigint, only_here bigint,
        PRIMARY KEY (enrolment_id, period)) ON COMMIT DROP;
    TRUNCATE pay_items;
    -- owed: what this document's items for the person-month have not yet
    -- received from this document's payments. Without a list, also: due,
    -- what the person-month still owes in all (its line and adjustments on
    -- any document, less every allocation to it); and only_here, the part
    -- of due that no other payable document of the month still bills (an
    -- item there not yet paid by that document's payments), which only a
    -- payment here can pay. Both never more than owed nor below zero.
    INSERT INTO pay_items (enrolment_id, period, village, owed, due)
    SELECT d.enrolment_id, d.period, e.village_code, d.owed,
           CASE WHEN p_lines IS NULL AND p_except IS NULL THEN
           greatest(0, least(d.owed,
               coalesce((SELECT a.amount FROM accruals a
                         WHERE a.enrolment_id = d.enrolment_id AND a.period = d.period), 0)
               + coalesce((SELECT sum(l.amount) FROM line_adjustments l
                           WHERE l.enrolment_id = d.enrolment_id AND l.period = d.period), 0)
               - coalesce((SELECT sum(pl.amount) FROM payment_lines pl
                           WHERE pl.enrolment_id = d.enrolment_id
                             AND pl.period = d.period), 0))) END
    FROM (SELECT di.enrolment_id, di.period, sum(di.amount - di.allocated) AS owed
          FROM document_items(p_invoice) di
          GROUP BY di.enrolment_id, di.period) d
    JOIN enrolments e ON e.id = d.enrolment_id;
    UPDATE pay_items SET only_here = due;
    -- what the month's other payable documents still bill for people here
    -- (none for most invoices; read from those documents, not per item)
    IF p_lines IS NULL AND p_except IS NULL THEN
        UPDATE pay_items pi
        SET only_here = greatest(0, pi.due - o.open)
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
    END IF;
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
            -- first what only this document can pay, then what each
            -- person-month still owes in all
            -- (the first pass is the second when no other document bills
            -- anyone here, as for most invoices: then it is skipped)
            IF EXISTS (SELECT 1 FROM pay_items WHERE only_here < due) THEN
                left_over := pay_items_take(new_id, left_over, 'only_here');
            END IF;
            left_over := pay_items_take(new_id, left_over, 'due');
        END IF;
        -- then the rest of each item here (with a list: only that)
        left_over := pay_items_take(new_id, left_over, 'owed', p_lines, p_except);
        result := 'ok';
    END IF;
    RETURN QUERY SELECT result, new_id, b.total, b.paid, b.outstanding, b.status
                 FROM invoice_balances b WHERE b.id = p_invoice;
END $$;

ALTER FUNCTION billing_record_payment(bigint, bigint, date, text, text, bigint[], bigint[])
    SECURITY DEFINER SET search_path = public, pg_temp;
REVOKE ALL ON FUNCTION pay_items_take(bigint, bigint, text, bigint[], bigint[]) FROM PUBLIC;
COMMENT ON FUNCTION pay_items_take(bigint, bigint, text, bigint[], bigint[]) IS
    'One pass of billing_record_payment over its pay_items (038).';
