-- 040_payments_follow_new_documents: a billing run that issues a document
-- (a credit note, a supplementary invoice) to a payer's month allocates
-- that month's payments without a list again, as a payment does (038).
-- Before, a village that had paid, without a list, what it would owe once a
-- leaver's line was credited, before the credit note was issued, kept its
-- money on the leaver's line until its next payment of the month, and
-- someone else could lapse while it owed nothing (a review found it; so
-- since 031). Called by the run (services/billing/accrual.c) in its own
-- transaction, after its documents are made.
CREATE FUNCTION payments_follow_run(p_run bigint)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    m record;
    n integer := 0;
BEGIN
    FOR m IN SELECT DISTINCT i.period, i.funding_source, i.payer_code
             FROM invoices i
             WHERE i.run_id = p_run
               AND EXISTS (SELECT 1 FROM invoices o JOIN payments p ON p.invoice_id = o.id
                           WHERE o.period = i.period AND o.funding_source = i.funding_source
                             AND o.payer_code = i.payer_code AND p.allocation = 'order')
             ORDER BY i.period, i.funding_source, i.payer_code LOOP
        -- as billing_record_payment: the month's documents, in id order
        PERFORM 1 FROM invoices i
        WHERE i.period = m.period AND i.funding_source = m.funding_source
          AND i.payer_code = m.payer_code
        ORDER BY i.id FOR UPDATE;
        PERFORM payments_reallocate(m.period, m.funding_source, m.payer_code);
        n := n + 1;
    END LOOP;
    RETURN n;
END $$;
ALTER FUNCTION payments_follow_run(bigint) SECURITY DEFINER SET search_path = public, pg_temp;
REVOKE ALL ON FUNCTION payments_follow_run(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION payments_follow_run(bigint) TO lindung_billing;
COMMENT ON FUNCTION payments_follow_run(bigint) IS
    'A billing run''s payer-months with new documents: their payments without a list '
    'allocated again (040).';
