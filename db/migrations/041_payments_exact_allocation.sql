-- 041_payments_exact_allocation: the payments without a list of a payer's
-- month are allocated as a flow, so that no person-month is paid twice
-- while another stays unpaid when the money could have paid both. 038 made
-- them again at every payment in a greedy pass (documents newest first,
-- three passes each); mixed with payments that carry a list, it still paid
-- one person twice and left another unpaid in 5 of 196 sequences of a
-- review's check (docs/billing.md, "Payments to lines"). Now:
--   * cells: for every payable document of the month and every person-month
--     on it, what the document bills for it less what its payments with a
--     list (or recorded before 038) gave it (`cap`); for every person-month,
--     its net charge over all the month's documents, credit notes included,
--     less every such allocation (`need`);
--   * each document's money without a list goes (1) to what only it can pay
--     of each person-month (the need less what the month's other documents
--     with such money could give), in the document's order; (2) to what is
--     still needed, document by document, newest first (those no other
--     document with money can pay first); (3) along augmenting paths: a
--     person-month still owed on a document without money left is paid by
--     handing person-months that document paid to another document that has
--     room for them and money, in bulk along the shortest chain of
--     documents (a maximum flow: when it stops, no person-month still owed
--     can be reached by money left);
--     (4) what is left, beyond every need, to the rest of the document's
--     items in order;
--   * each document's cells are then split over its payments without a
--     list in the order they came;
--   * a list is checked against what its items owe apart from payments
--     without a list (those are allocated again after it): before, `lines:
--     [A]` after a payment without a list that went to A was refused
--     `nothing_due`, although that payment would have moved elsewhere;
--   * a run locks each payer-month it issued a document to before it asks
--     whether the month has payments without a list (040 asked first, and
--     missed a payment committing meanwhile);
--   * once, the payer-months with such payments and more than one document
--     are allocated by this rule.
-- Payments with a list, and those recorded before 038, keep their
-- allocation as made.

-- A payer-month's documents, found by every payment (its lock) and by a
-- run's follow step; invoices_first_idx holds invoices only.
CREATE INDEX invoices_payer_month_idx ON invoices (period, funding_source, payer_code);

DROP FUNCTION pay_items_take(bigint, bigint, text, bigint[], bigint[]);
DROP FUNCTION pay_items_fill(bigint, boolean);

-- The allocation's temporary tables are made by these functions, which run
-- as their owner (billing_record_payment is SECURITY DEFINER): a caller that
-- made one of the same name first, with a trigger, would have its trigger
-- run as the owner, or choose who counts as paid (a review added a relief
-- that way from intake's login). Refuse any such table not our own.
CREATE FUNCTION pay_temp_check(p_name text) RETURNS void
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_class c
               WHERE c.oid = to_regclass('pg_temp.' || p_name)
                 AND c.relowner <> (SELECT r.oid FROM pg_roles r
                                    WHERE r.rolname = current_user)) THEN
        RAISE EXCEPTION 'a temporary table % made by another role is in the way', p_name;
    END IF;
END $$;

-- The payer-month's cells (pay_cells: payable document x person-month,
-- `cap`) and person-months (pay_pms: `need`), leaving payments without a
-- list out: they are what is allocated again.
-- (client_min_messages: a second call in a transaction, a run following
-- several payer-months, would send each client "already exists, skipping")
CREATE FUNCTION pay_cells_fill(p_period date, p_funding text, p_payer text)
RETURNS void LANGUAGE plpgsql SET search_path = public, pg_temp
SET client_min_messages = warning AS $$
BEGIN
    PERFORM pay_temp_check('pay_cells');
    PERFORM pay_temp_check('pay_pms');
    PERFORM pay_temp_check('pay_charges');
    PERFORM pay_temp_check('pay_cells_pm');
    CREATE TEMP TABLE IF NOT EXISTS pay_cells (doc bigint, enrolment_id bigint, period date,
        village text NOT NULL, cap bigint NOT NULL, flow bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (doc, enrolment_id, period)) ON COMMIT DROP;
    CREATE INDEX IF NOT EXISTS pay_cells_pm ON pay_cells (enrolment_id, period);
    CREATE TEMP TABLE IF NOT EXISTS pay_pms (enrolment_id bigint, period date,
        need bigint NOT NULL, got bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (enrolment_id, period)) ON COMMIT DROP;
    CREATE TEMP TABLE IF NOT EXISTS pay_charges (doc bigint, payable boolean,
        enrolment_id bigint, period date, village text, amount bigint, fixed bigint)
        ON COMMIT DROP;
    TRUNCATE pay_cells, pay_pms, pay_charges;
    -- every document's charges and fixed allocations per person-month (a
    -- person's lines and adjustments are all on their payer's documents of
    -- the month: accrual.c SQL_DIFF_LINES)
    INSERT INTO pay_charges (doc, payable, enrolment_id, period, village, amount, fixed)
    WITH docs AS MATERIALIZED (
        SELECT i.id, i.kind <> 'credit_note' AS payable FROM invoices i
        WHERE i.period = p_period AND i.funding_source = p_funding AND i.payer_code = p_payer),
    items AS (
        SELECT a.invoice_id AS doc, a.enrolment_id, a.period, a.amount
        FROM enrolments e
        JOIN accruals a ON a.enrolment_id = e.id AND a.period = p_period
        WHERE e.funding_source = p_funding AND e.payer_code = p_payer
          AND a.invoice_id IN (SELECT id FROM docs)
      UNION ALL
        SELECT l.invoice_id, l.enrolment_id, l.period, l.amount
        FROM docs d JOIN line_adjustments l ON l.invoice_id = d.id),
    fixed AS (
        SELECT p.invoice_id AS doc, pl.enrolment_id, pl.period, sum(pl.amount) AS amount
        FROM docs d
        JOIN payments p ON p.invoice_id = d.id AND p.allocation IS DISTINCT FROM 'order'
        JOIN payment_lines pl ON pl.payment_id = p.id
        GROUP BY 1, 2, 3)
    SELECT x.doc, d.payable, x.enrolment_id, x.period, e.village_code, x.amount,
           coalesce(f.amount, 0)
    FROM (SELECT doc, enrolment_id, period, sum(amount) AS amount
          FROM items GROUP BY 1, 2, 3) x
    JOIN docs d ON d.id = x.doc
    JOIN enrolments e ON e.id = x.enrolment_id
    LEFT JOIN fixed f ON f.doc = x.doc AND f.enrolment_id = x.enrolment_id
                     AND f.period = x.period;
    INSERT INTO pay_cells (doc, enrolment_id, period, village, cap)
    SELECT doc, enrolment_id, period, village, greatest(0, amount - fixed)
    FROM pay_charges WHERE payable;
    INSERT INTO pay_pms (enrolment_id, period, need)
    SELECT enrolment_id, period, greatest(0, sum(amount) - sum(fixed))
    FROM pay_charges GROUP BY 1, 2
    HAVING bool_or(payable);
    -- no ANALYZE: on every call it cost most of a small month's time (more
    -- with each call in one transaction); taken here, with every flow still
    -- 0, it made the augmenting step's plans 2-3.5 times slower (reviews)
END $$;

-- One step of the augmenting search (3): the documents that have money left
-- (level 0), or can be given it by handing person-months to a document one
-- level nearer the money (hop_doc), level by level: each document is reached
-- by a shortest chain. Returns whether any document has money left at all.
CREATE FUNCTION pay_docs_reach() RETURNS boolean
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    lvl integer := 0;
BEGIN
    UPDATE pay_docs SET seen = left_over > 0, level = CASE WHEN left_over > 0 THEN 0 END,
                        hop_doc = NULL;
    IF NOT EXISTS (SELECT 1 FROM pay_docs WHERE seen) THEN
        RETURN false;
    END IF;
    LOOP
        UPDATE pay_docs g
        SET seen = true, level = lvl + 1, hop_doc = x.to_doc
        FROM (SELECT DISTINCT ON (c2.doc) c2.doc AS from_doc, c.doc AS to_doc
              FROM pay_docs s
              JOIN pay_cells c ON c.doc = s.doc AND c.cap > c.flow
              JOIN pay_cells c2 ON c2.enrolment_id = c.enrolment_id
                               AND c2.period = c.period AND c2.flow > 0
              JOIN pay_docs u ON u.doc = c2.doc AND NOT u.seen
              WHERE s.seen AND s.level = lvl
              ORDER BY c2.doc, c.doc) x
        WHERE g.doc = x.from_doc;
        EXIT WHEN NOT FOUND;
        lvl := lvl + 1;
    END LOOP;
    RETURN true;
END $$;

-- How much of what document p_from pays could document p_to pay instead.
-- (plpgsql: pay_cells exists only while an allocation runs)
CREATE FUNCTION pay_cells_movable(p_from bigint, p_to bigint) RETURNS bigint
LANGUAGE plpgsql STABLE SET search_path = public, pg_temp AS $$
BEGIN
    RETURN (SELECT coalesce(sum(least(y.flow, x.cap - x.flow)), 0)::bigint
            FROM pay_cells y
            JOIN pay_cells x ON x.doc = p_to AND x.enrolment_id = y.enrolment_id
                            AND x.period = y.period AND x.cap > x.flow
            WHERE y.doc = p_from AND y.flow > 0);
END $$;

-- Document p_to takes over p_amount of what document p_from pays, person-
-- month by person-month in order (p_amount no more than pay_cells_movable).
CREATE FUNCTION pay_cells_move(p_from bigint, p_to bigint, p_amount bigint) RETURNS void
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    WITH m AS (
        SELECT y.enrolment_id, y.period, y.village, least(y.flow, x.cap - x.flow) AS part
        FROM pay_cells y
        JOIN pay_cells x ON x.doc = p_to AND x.enrolment_id = y.enrolment_id
                        AND x.period = y.period AND x.cap > x.flow
        WHERE y.doc = p_from AND y.flow > 0),
    t AS (
        SELECT enrolment_id, period,
               least(part, greatest(0, p_amount - (sum(part) OVER w - part))) AS take
        FROM m
        WINDOW w AS (ORDER BY village, enrolment_id, period)),
    off AS (
        UPDATE pay_cells c SET flow = c.flow - t.take
        FROM t
        WHERE c.doc = p_from AND c.enrolment_id = t.enrolment_id AND c.period = t.period
          AND t.take > 0
        RETURNING c.enrolment_id, c.period, t.take)
    UPDATE pay_cells c SET flow = c.flow + o.take
    FROM off o
    WHERE c.doc = p_to AND c.enrolment_id = o.enrolment_id AND c.period = o.period;
END $$;

-- (3): while person-months are still owed on a document that can be given
-- money: the nearest such document, and as much as its chain of hand-overs
-- allows at once (person-months are many and documents few: one
-- person-month a search cost a review 20 minutes for 20,000 people, and a
-- search choosing any owed cell crept by a rupiah at a time).
CREATE FUNCTION pay_cells_augment() RETURNS void
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    z record;
    g record;
    chain bigint[];
    delta bigint;
    rounds integer := 0;
BEGIN
    LOOP
        EXIT WHEN NOT EXISTS (SELECT 1 FROM pay_pms WHERE need > got);
        EXIT WHEN NOT pay_docs_reach();
        SELECT d.doc, sum(least(c.cap - c.flow, m.need - m.got)) AS owed INTO z
        FROM pay_docs d
        JOIN pay_cells c ON c.doc = d.doc AND c.cap > c.flow
        JOIN pay_pms m ON m.enrolment_id = c.enrolment_id AND m.period = c.period
        WHERE d.seen AND m.need > m.got
        GROUP BY d.doc, d.level
        ORDER BY d.level, d.doc
        LIMIT 1;
        EXIT WHEN NOT FOUND;
        delta := z.owed;
        chain := ARRAY[z.doc];
        LOOP
            SELECT * INTO g FROM pay_docs WHERE doc = chain[array_length(chain, 1)];
            EXIT WHEN g.hop_doc IS NULL;
            delta := least(delta, pay_cells_movable(g.doc, g.hop_doc));
            chain := chain || g.hop_doc;
        END LOOP;
        delta := least(delta, g.left_over);
        rounds := rounds + 1;
        IF delta <= 0 OR rounds > 10000 THEN
            RAISE EXCEPTION 'payments: allocation of document % did not settle (%, %)',
                z.doc, delta, rounds;
        END IF;
        -- from the money's end: each document hands over, then the first pays
        FOR i IN REVERSE array_length(chain, 1) - 1 .. 1 LOOP
            PERFORM pay_cells_move(chain[i], chain[i + 1], delta);
        END LOOP;
        PERFORM pay_cells_pour(z.doc, false, delta);
        UPDATE pay_docs d SET left_over = d.money - coalesce(
            (SELECT sum(flow) FROM pay_cells WHERE doc = d.doc), 0)
        WHERE d.doc = ANY (chain);
    END LOOP;
END $$;

-- (2) and (4) for document p_doc: its money left (or p_amount, freed for it
-- in (3)) over the cells that have room (p_beyond: up to their cap; else also
-- within their person-month's need), in the document's order.
CREATE FUNCTION pay_cells_pour(p_doc bigint, p_beyond boolean, p_amount bigint DEFAULT NULL)
RETURNS void LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    money bigint;
    others boolean;
BEGIN
    SELECT coalesce(p_amount, left_over) INTO money FROM pay_docs WHERE doc = p_doc;
    IF money <= 0 THEN
        RETURN;
    END IF;
    -- within the need, person-months that no other document with money
    -- left can pay come first: poured in the document's order alone, a
    -- newer document paid people an older one alone could have paid, and
    -- each of them then cost a search of its own (500 people: 56 s)
    others := NOT p_beyond AND EXISTS (SELECT 1 FROM pay_docs
                                       WHERE doc <> p_doc AND left_over > 0);
    WITH room AS (
        SELECT c.enrolment_id, c.period, c.village,
               CASE WHEN p_beyond THEN c.cap - c.flow
                    ELSE least(c.cap - c.flow, m.need - m.got) END AS part,
               others AND EXISTS (SELECT 1 FROM pay_cells o
                                  JOIN pay_docs od ON od.doc = o.doc AND od.left_over > 0
                                  WHERE o.enrolment_id = c.enrolment_id
                                    AND o.period = c.period AND o.doc <> p_doc
                                    AND o.cap > o.flow) AS elsewhere
        FROM pay_cells c
        JOIN pay_pms m ON m.enrolment_id = c.enrolment_id AND m.period = c.period
        WHERE c.doc = p_doc AND c.cap > c.flow AND (p_beyond OR m.need > m.got)),
    took AS (
        SELECT enrolment_id, period,
               least(part, greatest(0, money - (sum(part) OVER w - part))) AS take
        FROM room
        WINDOW w AS (ORDER BY elsewhere, village, enrolment_id, period)),
    upd AS (
        UPDATE pay_cells c SET flow = c.flow + t.take
        FROM took t
        WHERE c.doc = p_doc AND c.enrolment_id = t.enrolment_id AND c.period = t.period
          AND t.take > 0
        RETURNING c.enrolment_id, c.period, t.take)
    UPDATE pay_pms m SET got = m.got + u.take
    FROM upd u
    WHERE m.enrolment_id = u.enrolment_id AND m.period = u.period;
    UPDATE pay_docs d SET left_over = d.money - coalesce(
        (SELECT sum(flow) FROM pay_cells WHERE doc = p_doc), 0)
    WHERE d.doc = p_doc;
END $$;

-- The payer-month's payments without a list, allocated over pay_cells and
-- pay_pms (filled by pay_cells_fill, lists already taken out of them): their
-- old payment_lines replaced.
CREATE FUNCTION pay_cells_allocate(p_period date, p_funding text, p_payer text)
RETURNS void LANGUAGE plpgsql SET search_path = public, pg_temp
SET client_min_messages = warning AS $$
DECLARE
    d record;
BEGIN
    PERFORM pay_temp_check('pay_docs');
    CREATE TEMP TABLE IF NOT EXISTS pay_docs (doc bigint PRIMARY KEY, money bigint NOT NULL,
        left_over bigint NOT NULL, seen boolean NOT NULL DEFAULT false, level integer,
        hop_doc bigint) ON COMMIT DROP;
    TRUNCATE pay_docs;
    INSERT INTO pay_docs (doc, money, left_over)
    SELECT p.invoice_id, sum(p.amount), sum(p.amount)
    FROM payments p JOIN invoices i ON i.id = p.invoice_id
    WHERE p.allocation = 'order' AND i.period = p_period
      AND i.funding_source = p_funding AND i.payer_code = p_payer
    GROUP BY p.invoice_id;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    DELETE FROM payment_lines pl
    USING payments p
    WHERE pl.payment_id = p.id AND p.allocation = 'order'
      AND p.invoice_id IN (SELECT doc FROM pay_docs);
    -- (1) what only one document with money can pay of each person-month:
    -- its need less the room on the other such documents; these parts
    -- never add up to more than the need
    WITH room AS (
        SELECT c.doc, c.enrolment_id, c.period, c.village,
               greatest(0, least(c.cap, m.need - (sum(c.cap) OVER (
                   PARTITION BY c.enrolment_id, c.period) - c.cap))) AS part
        FROM pay_cells c
        JOIN pay_docs g ON g.doc = c.doc
        JOIN pay_pms m ON m.enrolment_id = c.enrolment_id AND m.period = c.period),
    took AS (
        SELECT r.doc, r.enrolment_id, r.period,
               least(r.part, greatest(0, g.money - (sum(r.part) OVER w - r.part))) AS take
        FROM room r JOIN pay_docs g ON g.doc = r.doc
        WHERE r.part > 0
        WINDOW w AS (PARTITION BY r.doc ORDER BY r.village, r.enrolment_id, r.period))
    UPDATE pay_cells c SET flow = t.take
    FROM took t
    WHERE c.doc = t.doc AND c.enrolment_id = t.enrolment_id AND c.period = t.period
      AND t.take > 0;
    UPDATE pay_pms m SET got = s.flow
    FROM (SELECT enrolment_id, period, sum(flow) AS flow FROM pay_cells
          WHERE flow > 0 GROUP BY 1, 2) s
    WHERE m.enrolment_id = s.enrolment_id AND m.period = s.period;
    UPDATE pay_docs g SET left_over = g.money - s.flow
    FROM (SELECT doc, sum(flow) AS flow FROM pay_cells GROUP BY doc) s
    WHERE s.doc = g.doc;
    -- (2) what is still needed, newest document first
    FOR d IN SELECT doc FROM pay_docs WHERE left_over > 0 ORDER BY doc DESC LOOP
        PERFORM pay_cells_pour(d.doc, false);
    END LOOP;
    -- (3) what can be reached only by moving a person-month between documents
    PERFORM pay_cells_augment();
    -- (4) money beyond every need: the rest of the items, in order
    FOR d IN SELECT doc FROM pay_docs WHERE left_over > 0 ORDER BY doc LOOP
        PERFORM pay_cells_pour(d.doc, true);
    END LOOP;
    SELECT doc, left_over INTO d FROM pay_docs WHERE left_over <> 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'payments to document % do not fit it (% left)', d.doc, d.left_over;
    END IF;
    -- each document's cells over its payments, in the order both came
    INSERT INTO payment_lines (payment_id, enrolment_id, period, amount)
    SELECT p.id, c.enrolment_id, c.period, least(c.hi, p.hi) - greatest(c.lo, p.lo)
    FROM (SELECT doc, enrolment_id, period, sum(flow) OVER w - flow AS lo,
                 sum(flow) OVER w AS hi
          FROM pay_cells WHERE flow > 0
          WINDOW w AS (PARTITION BY doc ORDER BY village, enrolment_id, period)) c
    JOIN (SELECT p.id, p.invoice_id, sum(p.amount) OVER w - p.amount AS lo,
                 sum(p.amount) OVER w AS hi
          FROM payments p JOIN pay_docs g ON g.doc = p.invoice_id
          WHERE p.allocation = 'order'
          WINDOW w AS (PARTITION BY p.invoice_id ORDER BY p.id)) p
      ON p.invoice_id = c.doc AND p.lo < c.hi AND c.lo < p.hi;
END $$;

-- The payer's month's payments without a list, allocated anew (038's name
-- and use: billing_record_payment, payments_follow_run).
CREATE OR REPLACE FUNCTION payments_reallocate(p_period date, p_funding text, p_payer text)
RETURNS void LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM pay_cells_fill(p_period, p_funding, p_payer);
    PERFORM pay_cells_allocate(p_period, p_funding, p_payer);
END $$;

-- What a list payment to document p_invoice must pay: the items chosen, each
-- at what it owes on the document apart from payments without a list. The
-- rule billing_record_payment applies, for the answers that explain an
-- amount_mismatch (intake invoices.c, lindungctl billing_pay.c).
CREATE FUNCTION document_list_owed(p_invoice bigint, p_lines bigint[], p_except bigint[])
RETURNS bigint LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
    SELECT coalesce(sum(greatest(0, x.charged - x.fixed)), 0)::bigint
    FROM (SELECT di.enrolment_id, di.period, sum(di.amount) AS charged,
                 coalesce((SELECT sum(pl.amount) FROM payment_lines pl
                           JOIN payments p ON p.id = pl.payment_id
                           WHERE p.invoice_id = p_invoice
                             AND p.allocation IS DISTINCT FROM 'order'
                             AND pl.enrolment_id = di.enrolment_id
                             AND pl.period = di.period), 0) AS fixed
          FROM document_items(p_invoice) di
          WHERE (p_lines IS NULL OR di.enrolment_id = ANY (p_lines))
            AND (p_except IS NULL OR NOT (di.enrolment_id = ANY (p_except)))
          GROUP BY di.enrolment_id, di.period) x
$$;

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
    -- Every document of the payer's month, in id order: a payment allocates
    -- the month's other payments again, so two payments to two documents of
    -- one month must not run at once.
    PERFORM 1 FROM invoices i
    WHERE i.period = inv.period AND i.funding_source = inv.funding_source
      AND i.payer_code = inv.payer_code
    ORDER BY i.id FOR UPDATE;
    SELECT coalesce(sum(p.amount), 0) INTO already FROM payments p WHERE p.invoice_id = p_invoice;
    IF listed THEN
        PERFORM pay_cells_fill(inv.period, inv.funding_source, inv.payer_code);
        SELECT count(*) INTO unknown
        FROM unnest(coalesce(p_lines, '{}') || coalesce(p_except, '{}')) AS x (id)
        WHERE NOT EXISTS (SELECT 1 FROM pay_cells c
                          WHERE c.doc = p_invoice AND c.enrolment_id = x.id);
        SELECT coalesce(sum(c.cap), 0) INTO wanted FROM pay_cells c
        WHERE c.doc = p_invoice
          AND (p_lines IS NULL OR c.enrolment_id = ANY (p_lines))
          AND (p_except IS NULL OR NOT (c.enrolment_id = ANY (p_except)));
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
        -- a list: exactly its items here, once; then they are fixed for the
        -- payments without a list
        IF listed THEN
            PERFORM pay_temp_check('pay_listed');
            IF to_regclass('pg_temp.pay_listed') IS NULL THEN
                CREATE TEMP TABLE pay_listed ON COMMIT DROP AS
                    SELECT * FROM pay_cells WITH NO DATA;
            END IF;
            TRUNCATE pay_listed;
            INSERT INTO pay_listed
            SELECT * FROM pay_cells c
            WHERE c.doc = p_invoice AND c.cap > 0
              AND (p_lines IS NULL OR c.enrolment_id = ANY (p_lines))
              AND (p_except IS NULL OR NOT (c.enrolment_id = ANY (p_except)));
            INSERT INTO payment_lines (payment_id, enrolment_id, period, amount)
            SELECT new_id, l.enrolment_id, l.period, l.cap FROM pay_listed l;
            UPDATE pay_pms m SET need = greatest(0, m.need - l.cap)
            FROM pay_listed l
            WHERE m.enrolment_id = l.enrolment_id AND m.period = l.period;
            UPDATE pay_cells c SET cap = 0
            FROM pay_listed l
            WHERE c.doc = l.doc AND c.enrolment_id = l.enrolment_id AND c.period = l.period;
        END IF;
        -- then the month's payments without a list, this one among them
        IF NOT listed THEN
            PERFORM pay_cells_fill(inv.period, inv.funding_source, inv.payer_code);
        END IF;
        PERFORM pay_cells_allocate(inv.period, inv.funding_source, inv.payer_code);
        result := 'ok';
    END IF;
    RETURN QUERY SELECT result, new_id, b.total, b.paid, b.outstanding, b.status
                 FROM invoice_balances b WHERE b.id = p_invoice;
END $$;

ALTER FUNCTION billing_record_payment(bigint, bigint, date, text, text, bigint[], bigint[])
    SECURITY DEFINER SET search_path = public, pg_temp;

-- A run's payer-months (040): their documents locked before the run asks
-- which have payments without a list. Asked first, a payment still
-- uncommitted while the run issued its credit note was not seen, and its
-- money stayed on the leaver for good (a review reproduced it in 8 of 10
-- overlapping tries). The lock waits for such a payment; the next statement
-- then sees it. Only documents issued before the run can have payments (a
-- month's first run has none to lock), all locked in one statement in id
-- order, as a payment locks its month's: no per-payer loop over the tens of
-- thousands of villages a first run bills. Runs in the run's own
-- transaction (accrual.c), so a crash leaves neither half.
CREATE OR REPLACE FUNCTION payments_follow_run(p_run bigint)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    m record;
    n integer := 0;
BEGIN
    PERFORM 1 FROM invoices o
    WHERE o.run_id IS DISTINCT FROM p_run
      AND EXISTS (SELECT 1 FROM invoices i
                  WHERE i.run_id = p_run AND i.period = o.period
                    AND i.funding_source = o.funding_source AND i.payer_code = o.payer_code)
    ORDER BY o.id FOR UPDATE OF o;
    FOR m IN SELECT DISTINCT i.period, i.funding_source, i.payer_code
             FROM invoices i
             WHERE i.run_id = p_run
               AND EXISTS (SELECT 1 FROM invoices o JOIN payments p ON p.invoice_id = o.id
                           WHERE o.period = i.period AND o.funding_source = i.funding_source
                             AND o.payer_code = i.payer_code AND p.allocation = 'order')
             ORDER BY i.period, i.funding_source, i.payer_code LOOP
        PERFORM payments_reallocate(m.period, m.funding_source, m.payer_code);
        n := n + 1;
    END LOOP;
    RETURN n;
END $$;
ALTER FUNCTION payments_follow_run(bigint) SECURITY DEFINER SET search_path = public, pg_temp;

-- Once: every payer-month that has payments without a list and more than
-- one document, allocated by the new rule. A month with its invoice alone
-- is allocated the same by 038 and 041 (the document's order); the others
-- may hold 038's greedy allocation, or one a credit note issued after the
-- payment left on the leaver before 040 (a review: an upgrade kept it).
DO $$
DECLARE
    m record;
BEGIN
    FOR m IN SELECT i.period, i.funding_source, i.payer_code
             FROM invoices i
             GROUP BY 1, 2, 3
             HAVING count(*) > 1
                AND bool_or(EXISTS (SELECT 1 FROM payments p WHERE p.invoice_id = i.id
                                      AND p.allocation = 'order'))
             ORDER BY 1, 2, 3 LOOP
        PERFORM 1 FROM invoices i
        WHERE i.period = m.period AND i.funding_source = m.funding_source
          AND i.payer_code = m.payer_code
        ORDER BY i.id FOR UPDATE;
        PERFORM payments_reallocate(m.period, m.funding_source, m.payer_code);
    END LOOP;
END $$;
REVOKE ALL ON FUNCTION pay_cells_fill(date, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pay_docs_reach() FROM PUBLIC;
REVOKE ALL ON FUNCTION pay_temp_check(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pay_cells_movable(bigint, bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION pay_cells_move(bigint, bigint, bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION pay_cells_augment() FROM PUBLIC;
REVOKE ALL ON FUNCTION pay_cells_pour(bigint, boolean, bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION pay_cells_allocate(date, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION document_list_owed(bigint, bigint[], bigint[]) TO lindung_intake;
COMMENT ON FUNCTION pay_cells_fill(date, text, text) IS
    'A payer-month''s cells and person-months as its payments without a list are '
    'allocated over them (041).';
COMMENT ON FUNCTION pay_temp_check(text) IS
    'Refuses a temporary table of the allocation''s made by another role (041).';
COMMENT ON FUNCTION pay_cells_movable(bigint, bigint) IS
    'What one document could take over of another''s allocation (041).';
COMMENT ON FUNCTION pay_cells_move(bigint, bigint, bigint) IS
    'One document takes over part of another''s allocation (041).';
COMMENT ON FUNCTION pay_docs_reach() IS
    'One search for money in the allocation of payments without a list (041).';
COMMENT ON FUNCTION pay_cells_augment() IS
    'Augmenting paths of the allocation of payments without a list (041).';
COMMENT ON FUNCTION pay_cells_pour(bigint, boolean, bigint) IS
    'A document''s money left over its cells, in order (041).';
COMMENT ON FUNCTION pay_cells_allocate(date, text, text) IS
    'A payer-month''s payments without a list, allocated as a flow (041).';
COMMENT ON FUNCTION document_list_owed(bigint, bigint[], bigint[]) IS
    'What a list payment to the document must pay (041).';
COMMENT ON FUNCTION payments_reallocate(date, text, text) IS
    'The payer''s month''s payments without a list, allocated anew (038, 041).';
