-- 042_payments_follow_set_based: a run's follow step allocates, in one pass
-- over all of them, the payer-months whose payments without a list were all
-- made to one document; only the others go through 041's flow, one by one.
-- 041 allocated every payer-month the run issued a document to one by one,
-- about 10 ms each (plpgsql, temporary tables): a correction that reaches
-- every payer at once, a rate or relief entered after months were billed
-- and paid, cost 10.5 s for 1,000 villages (bench/payments/follow), some 13
-- minutes a month at national size, with every payer's documents locked.
--
-- With one document holding money without a list, 041's flow comes down to
-- two pours over that document's person-months in its order (village,
-- enrolment, period): (1) each up to what it still needs (its net charge
-- over all the month's documents, credit notes included, less what
-- payments with a list gave it) and what the document can take for it (its
-- charge there less its list payments: the cap); (2) the money beyond every
-- need, up to the caps. Its other steps have nothing to do: step (1)'s
-- "what only this document can pay" is the whole need when no other
-- document has money, step (2) pours what (1) already did, and no
-- augmenting path exists without a second document to hand a person-month
-- to. The cells are then split over the document's payments without a list
-- in the order they came, as 041 does. Same result, to the rupiah (checked
-- against 041's flow on every payer-month of a review's sequences and of
-- test_money; docs/billing.md, "Payments to lines").

-- The run's payer-months that have payments without a list: on how many
-- documents, and (for those with one) that document and its money. One
-- query for both sides of the split, so that each payer-month is taken by
-- exactly one of them.
CREATE FUNCTION pay_follow_months(p_run bigint)
RETURNS TABLE (period date, funding_source text, payer_code text, docs integer,
               doc bigint, money bigint)
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
    SELECT m.period, m.funding_source, m.payer_code, count(DISTINCT p.invoice_id)::integer,
           min(p.invoice_id), sum(p.amount)::bigint
    FROM (SELECT DISTINCT i.period, i.funding_source, i.payer_code
          FROM invoices i WHERE i.run_id = p_run) m
    JOIN invoices i ON i.period = m.period AND i.funding_source = m.funding_source
                   AND i.payer_code = m.payer_code
    JOIN payments p ON p.invoice_id = i.id AND p.allocation = 'order'
    GROUP BY m.period, m.funding_source, m.payer_code
$$;

-- Those documents' payments without a list, allocated again (their old
-- lines replaced), as 041's flow would; raises as it does when a
-- document's money does not fit its items. The person-months go first into
-- a temporary table (pay_follow), analysed: planned over CTEs, whose sizes
-- the planner cannot know, the pass joined them in nested loops, quadratic
-- (300 villages: 7.8 s). Both statements are planned at each call
-- (EXECUTE), for the sizes of that run, and the first is given the run's
-- months as values, so that it reads only their partitions of accruals (a
-- month known only from a CTE made it probe every month billed: 3 times
-- slower at 24 months, a review).
CREATE FUNCTION pay_follow_allocate(p_docs bigint[], p_money bigint[])
RETURNS void LANGUAGE plpgsql SET search_path = public, pg_temp
SET client_min_messages = warning AS $$
DECLARE
    bad record;
BEGIN
    PERFORM pay_temp_check('pay_follow');
    CREATE TEMP TABLE IF NOT EXISTS pay_follow (money_doc bigint, money bigint,
        period date, doc bigint, payable boolean, enrolment_id bigint, village text,
        amount bigint, fixed bigint) ON COMMIT DROP;
    TRUNCATE pay_follow;
    DELETE FROM payment_lines pl
    USING payments p
    WHERE pl.payment_id = p.id AND p.allocation = 'order' AND p.invoice_id = ANY (p_docs);
    -- every item of those payer-months' documents, credit notes too, with
    -- what payments with a list (or made before 038) gave it, as
    -- pay_cells_fill (041) reads them: a person's lines and adjustments
    -- are all on their payer's documents of the month
    EXECUTE $q$
    INSERT INTO pay_follow (money_doc, money, period, doc, payable, enrolment_id, village,
                            amount, fixed)
    WITH money AS MATERIALIZED (
        SELECT d.doc, d.money, i.period, i.funding_source, i.payer_code
        FROM unnest($1::bigint[], $2::bigint[]) AS d (doc, money)
        JOIN invoices i ON i.id = d.doc),
    items AS (
        SELECT m.doc AS money_doc, m.money, m.period, a.invoice_id AS doc,
               a.enrolment_id, a.amount
        FROM money m
        JOIN enrolments e ON e.funding_source = m.funding_source
                         AND e.payer_code = m.payer_code
        JOIN accruals a ON a.enrolment_id = e.id AND a.period = m.period
            AND a.period = ANY ($3::date[])
        JOIN invoices ai ON ai.id = a.invoice_id AND ai.period = m.period
                        AND ai.funding_source = m.funding_source
                        AND ai.payer_code = m.payer_code
      UNION ALL
        -- an adjustment has its document's month (accrual.c SQL_DIFF_LINES
        -- writes both as the run's): 041 groups by the adjustment's own
        -- period, which is the same
        SELECT m.doc, m.money, m.period, l.invoice_id, l.enrolment_id, l.amount
        FROM money m
        JOIN invoices i ON i.period = m.period AND i.funding_source = m.funding_source
                       AND i.payer_code = m.payer_code
        JOIN line_adjustments l ON l.invoice_id = i.id)
    SELECT x.money_doc, x.money, x.period, x.doc, i.kind <> 'credit_note',
           x.enrolment_id, e.village_code, x.amount,
           coalesce((SELECT sum(pl.amount)::bigint
                     FROM payment_lines pl JOIN payments p ON p.id = pl.payment_id
                     WHERE pl.enrolment_id = x.enrolment_id AND pl.period = x.period
                       AND p.invoice_id = x.doc
                       AND p.allocation IS DISTINCT FROM 'order'), 0)
    FROM (SELECT money_doc, money, period, doc, enrolment_id, sum(amount)::bigint AS amount
          FROM items GROUP BY 1, 2, 3, 4, 5) x
    JOIN invoices i ON i.id = x.doc
    JOIN enrolments e ON e.id = x.enrolment_id
    $q$ USING p_docs, p_money,
        (SELECT array_agg(DISTINCT i.period) FROM invoices i WHERE i.id = ANY (p_docs));
    ANALYZE pay_follow;
    -- over the money document's cells, in its order (village, enrolment):
    -- (1) up to each need (net over all the month's documents less list
    -- payments) and cap (its charge there less its list payments); (2)
    -- the money beyond every need, up to the caps; then each document's
    -- cells over its payments, in the order both came
    EXECUTE $q$
    INSERT INTO payment_lines (payment_id, enrolment_id, period, amount)
    WITH cells AS (
        SELECT c.money_doc AS doc, c.money, c.period, c.enrolment_id, c.village, c.cap,
               greatest(0, least(c.cap, c.need)) AS part
        FROM (SELECT money_doc, money, period, doc, payable, enrolment_id, village,
                     greatest(0, amount - fixed) AS cap,
                     greatest(0, sum(amount) OVER pm - sum(fixed) OVER pm) AS need
              FROM pay_follow
              WINDOW pm AS (PARTITION BY money_doc, enrolment_id)) c
        WHERE c.doc = c.money_doc AND c.payable),
    within AS (
        SELECT c.*,
               least(c.part, greatest(0, c.money - (sum(c.part) OVER w - c.part))) AS take
        FROM cells c
        WINDOW w AS (PARTITION BY c.doc ORDER BY c.village, c.enrolment_id)),
    flows AS (
        SELECT w.doc, w.period, w.enrolment_id, w.village,
               w.take + least(w.cap - w.take, greatest(0,
                   (w.money - sum(w.take) OVER d)
                   - (sum(w.cap - w.take) OVER x - (w.cap - w.take)))) AS flow
        FROM within w
        WINDOW d AS (PARTITION BY w.doc),
               x AS (PARTITION BY w.doc ORDER BY w.village, w.enrolment_id))
    SELECT p.id, c.enrolment_id, c.period, least(c.hi, p.hi) - greatest(c.lo, p.lo)
    FROM (SELECT doc, period, enrolment_id, sum(flow) OVER w - flow AS lo,
                 sum(flow) OVER w AS hi
          FROM flows WHERE flow > 0
          WINDOW w AS (PARTITION BY doc ORDER BY village, enrolment_id)) c
    JOIN (SELECT p.id, p.invoice_id, sum(p.amount) OVER w - p.amount AS lo,
                 sum(p.amount) OVER w AS hi
          FROM payments p
          WHERE p.allocation = 'order' AND p.invoice_id = ANY ($1::bigint[])
          WINDOW w AS (PARTITION BY p.invoice_id ORDER BY p.id)) p
      ON p.invoice_id = c.doc AND p.lo < c.hi AND c.lo < p.hi
    $q$ USING p_docs;
    SELECT d.doc, d.money - coalesce(sum(pl.amount), 0) AS left_over INTO bad
    FROM unnest(p_docs, p_money) AS d (doc, money)
    LEFT JOIN payments p ON p.invoice_id = d.doc AND p.allocation = 'order'
    LEFT JOIN payment_lines pl ON pl.payment_id = p.id
    GROUP BY d.doc, d.money
    HAVING d.money <> coalesce(sum(pl.amount), 0)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'payments to document % do not fit it (% left)',
            bad.doc, bad.left_over;
    END IF;
END $$;

-- 041's follow step (lock first, then ask), with the payer-months that have
-- money without a list on one document allocated together.
CREATE OR REPLACE FUNCTION payments_follow_run(p_run bigint)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    m record;
    n integer := 0;
    v_docs bigint[];
    v_money bigint[];
BEGIN
    PERFORM 1 FROM invoices o
    WHERE o.run_id IS DISTINCT FROM p_run
      AND EXISTS (SELECT 1 FROM invoices i
                  WHERE i.run_id = p_run AND i.period = o.period
                    AND i.funding_source = o.funding_source AND i.payer_code = o.payer_code)
    ORDER BY o.id FOR UPDATE OF o;
    SELECT coalesce(array_agg(f.doc ORDER BY f.doc), '{}'),
           coalesce(array_agg(f.money ORDER BY f.doc), '{}')
    INTO v_docs, v_money
    FROM pay_follow_months(p_run) f
    WHERE f.docs = 1;
    IF cardinality(v_docs) > 0 THEN
        PERFORM pay_follow_allocate(v_docs, v_money);
        n := cardinality(v_docs);
    END IF;
    FOR m IN SELECT f.period, f.funding_source, f.payer_code
             FROM pay_follow_months(p_run) f
             WHERE f.docs > 1
             ORDER BY 1, 2, 3 LOOP
        PERFORM payments_reallocate(m.period, m.funding_source, m.payer_code);
        n := n + 1;
    END LOOP;
    RETURN n;
END $$;
ALTER FUNCTION payments_follow_run(bigint) SECURITY DEFINER SET search_path = public, pg_temp;

REVOKE ALL ON FUNCTION pay_follow_months(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION pay_follow_allocate(bigint[], bigint[]) FROM PUBLIC;
COMMENT ON FUNCTION pay_follow_months(bigint) IS
    'The run''s payer-months with payments without a list, and on how many documents (042).';
COMMENT ON FUNCTION pay_follow_allocate(bigint[], bigint[]) IS
    'Payments without a list of payer-months with one such document, allocated in one pass (042).';
COMMENT ON FUNCTION payments_follow_run(bigint) IS
    'A billing run''s payer-months with new documents: their payments without a list '
    'allocated again (040; 042: those with one such document in one pass).';
