-- 007_accrual_partitions: accrual lines partitioned by month, so that a
-- month's first run loads its lines into a fresh table with no index and
-- builds the one unique index afterwards, and a re-run reads only enrolments
-- that appeared since the month's last run. Measured in bench/billing and
-- explained in docs/billing.md ("How a run is made fast").
--
-- What changes for readers: accruals has no surrogate id (its key is
-- (enrolment_id, period), unique as before) and no index on invoice_id (an
-- invoice's lines are found by scanning its month's partition; add
-- `a.period = <invoice period>` so only that partition is read).

ALTER TABLE accruals RENAME TO accruals_before_007;

-- The columns of 001, minus id. One line per (enrolment, month), ever: the
-- unique constraint is on the parent, so every partition carries it.
CREATE TABLE accruals (
    enrolment_id  bigint NOT NULL,
    period        date NOT NULL,
    jkk           bigint NOT NULL,
    jkm           bigint NOT NULL,
    amount        bigint NOT NULL CONSTRAINT accruals_amount_check CHECK (amount = jkk + jkm),
    invoice_id    bigint NOT NULL,
    run_id        bigint NOT NULL,
    supplementary boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT accruals_line_key UNIQUE (enrolment_id, period)
) PARTITION BY LIST (period);

-- What a re-run needs to read only what is new: every enrolment with an id
-- at or below enrolment_watermark was visible to the run (accrual.c takes it
-- while no enrolment write is in flight), and programs_mark fingerprints the
-- programmes' coverage ends, the only programme data that decides whether an
-- enrolment is billed in a month.
ALTER TABLE billing_runs ADD COLUMN enrolment_watermark bigint,
                         ADD COLUMN programs_mark text;

-- The partition of a month is named accruals_YYYY_MM.
CREATE FUNCTION accrual_partition_name(p_period date) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT 'accruals_' || to_char(p_period, 'YYYY_MM') $$;

-- A month's lines go into a new, index-free table first; the CHECK makes
-- ATTACH PARTITION skip its validation scan.
CREATE FUNCTION accrual_partition_create(p_period date) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    part text := accrual_partition_name(p_period);
BEGIN
    EXECUTE format('CREATE TABLE %I (LIKE accruals INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                   part);
    EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (period = %L)',
                   part, part || '_period_check', p_period);
    RETURN part;
END $$;

-- Then its unique index is built in one sort (far cheaper than a million
-- index insertions) and it becomes the month's partition. The index must
-- back a constraint to match the parent's; ATTACH then reuses it.
CREATE FUNCTION accrual_partition_attach(p_period date) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    part text := accrual_partition_name(p_period);
BEGIN
    EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I UNIQUE (enrolment_id, period)',
                   part, part || '_line_key');
    EXECUTE format('ALTER TABLE accruals ATTACH PARTITION %I FOR VALUES IN (%L)',
                   part, p_period);
END $$;

DO $$
DECLARE
    p date;
BEGIN
    FOR p IN SELECT DISTINCT period FROM accruals_before_007 ORDER BY 1 LOOP
        EXECUTE format('INSERT INTO %I (enrolment_id, period, jkk, jkm, amount, invoice_id, '
                       '  run_id, supplementary, created_at) '
                       'SELECT enrolment_id, period, jkk, jkm, amount, invoice_id, run_id, '
                       '  supplementary, created_at FROM accruals_before_007 WHERE period = $1',
                       accrual_partition_create(p)) USING p;
        PERFORM accrual_partition_attach(p);
    END LOOP;
END $$;

DROP TABLE accruals_before_007;

-- Every line an enrolment owes for a month: each enrolment active in the
-- month, of a programme still covering it, with its premium and its invoice
-- (opened before; an enrolment whose invoice is missing is not billed).
-- The premium, as premium_compute() does it (premium.c): JKK =
-- half-up(max(income, min_income) x bp / 10000), then each component x
-- (10000 - relief off) / 10000, half up, in bigint arithmetic. The relief for
-- the month is the largest adjustment in force for the enrolment's sector
-- (adjustments do not stack), and only where the programme's relief_applies.
-- A SQL function of one SELECT: the planner inlines it, so a caller's
-- `enrolment_id > $n` reaches the enrolments scan and uses its key.
CREATE FUNCTION accrual_due(p_period date)
RETURNS TABLE (enrolment_id bigint, jkk bigint, jkm bigint, invoice_id bigint)
LANGUAGE sql STABLE AS $$
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
         rel AS (SELECT p.id AS program_id, adj.transport,
                        CASE WHEN p.relief_applies THEN adj.jkk_off ELSE 0 END AS jkk_off,
                        CASE WHEN p.relief_applies THEN adj.jkm_off ELSE 0 END AS jkm_off
                 FROM programs p CROSS JOIN adj
                 WHERE p.coverage_end IS NULL OR p.coverage_end >= p_period)
    SELECT e.id, c.jkk, c.jkm, i.id
    FROM enrolments e
    JOIN rel ON rel.program_id = e.program_id AND rel.transport = e.transport
    JOIN invoices i ON i.period = p_period AND i.funding_source = e.funding_source
                   AND i.payer_code = e.payer_code
    CROSS JOIN jkk CROSS JOIN jkm
    CROSS JOIN LATERAL (SELECT
        ((greatest(e.declared_income, jkk.min_income) * jkk.income_bp + 5000) / 10000
          * (10000 - rel.jkk_off) + 5000) / 10000 AS jkk,
        (jkm.flat_amount * (10000 - rel.jkm_off) + 5000) / 10000 AS jkm) c
    WHERE e.start_month <= p_period AND (e.end_month IS NULL OR e.end_month >= p_period)
$$;

-- A month's first load: its lines into a new table, then the index, then the
-- partition, then each invoice grows by exactly its lines. (Supplementary
-- only when the month was run before with no line at all.) Called inside the
-- run's transaction (accrual.c), so a crash leaves no table and no line.
CREATE FUNCTION accrual_load_month(p_period date, p_run bigint, p_supplementary boolean)
RETURNS TABLE (lines bigint, amount bigint)
LANGUAGE plpgsql AS $$
BEGIN
    -- A month nobody is billed for gets no partition: a start-up catch-up
    -- over five empty years then costs no DDL.
    IF NOT EXISTS (SELECT 1 FROM accrual_due(p_period)) THEN
        RETURN QUERY SELECT 0::bigint, 0::bigint;
        RETURN;
    END IF;
    EXECUTE format('INSERT INTO %I (enrolment_id, period, jkk, jkm, amount, invoice_id, '
                   '  run_id, supplementary) '
                   'SELECT d.enrolment_id, $1, d.jkk, d.jkm, d.jkk + d.jkm, d.invoice_id, '
                   '  $2, $3 FROM accrual_due($1) d',
                   accrual_partition_create(p_period)) USING p_period, p_run, p_supplementary;
    PERFORM accrual_partition_attach(p_period);
    RETURN QUERY
    WITH per_invoice AS (SELECT a.invoice_id, count(*) AS n, sum(a.amount) AS total
                         FROM accruals a WHERE a.period = p_period GROUP BY a.invoice_id),
         upd AS (UPDATE invoices i SET total = i.total + p.total,
                        line_count = i.line_count + p.n, updated_at = now()
                 FROM per_invoice p WHERE i.id = p.invoice_id RETURNING p.n, p.total)
    SELECT coalesce(sum(upd.n), 0)::bigint, coalesce(sum(upd.total), 0)::bigint FROM upd;
END $$;
