-- 009_accrual_ctas: a month's first load written by CREATE TABLE AS, so that
-- parallel worker processes compute the lines (the scan of enrolments, the
-- premium, the invoice) while the leader writes them. PostgreSQL 15 never
-- runs the SELECT of an INSERT ... SELECT in parallel; it does for CREATE
-- TABLE AS, and CREATE TABLE AS writes through a bulk-insert buffer ring
-- rather than page by page. The constraints and the unique index are then
-- added in one ALTER TABLE: one index build, one check pass. Measured in
-- bench/billing; explained in docs/billing.md ("How a run is made fast").
-- The table still lives and dies with the run's transaction: a crash leaves
-- no table and no line, as before.

-- The body is one SELECT of stable, parallel-safe parts; declaring it lets
-- the planner use parallel workers for a caller's query (it is checked
-- before the function is inlined).
ALTER FUNCTION accrual_due(date) PARALLEL SAFE;

-- The month's lines into a new table named like its partition. Parallel
-- workers hand every line to the leader, which the planner prices as costly
-- (parallel_tuple_cost) although the leader's writing is the bottleneck, not
-- the hand-over; the SET clauses, undone when the function returns, let it
-- choose the parallel plan. Values are typed function arguments quoted by
-- format(%L): CREATE TABLE AS takes no bind parameters.
CREATE FUNCTION accrual_partition_fill(p_period date, p_run bigint, p_supplementary boolean)
RETURNS text
LANGUAGE plpgsql
SET parallel_setup_cost = 0
SET parallel_tuple_cost = 0.0001
AS $$
DECLARE
    part text := accrual_partition_name(p_period);
BEGIN
    EXECUTE format('CREATE TABLE %I AS '
                   'SELECT d.enrolment_id, %L::date AS period, d.jkk, d.jkm, '
                   '  d.jkk + d.jkm AS amount, d.invoice_id, %L::bigint AS run_id, '
                   '  %L::boolean AS supplementary, now() AS created_at '
                   'FROM accrual_due(%L::date) d',
                   part, p_period, p_run, p_supplementary, p_period);
    RETURN part;
END $$;

-- What ATTACH PARTITION demands of the table (the parent's NOT NULLs and
-- CHECK constraints, by name) and the unique (enrolment_id, period) key, in
-- one statement: one parallel index build, then one pass that checks every
-- constraint. The period CHECK also lets ATTACH skip its own scan. The sort
-- of a million keys gets the memory it was measured with (bench/billing),
-- whatever the server's default: a run is one statement at a time, once a
-- month.
CREATE FUNCTION accrual_partition_seal(p_period date) RETURNS void
LANGUAGE plpgsql
SET maintenance_work_mem = '256MB'
AS $$
DECLARE
    part text := accrual_partition_name(p_period);
BEGIN
    EXECUTE format('ALTER TABLE %I '
                   '  ALTER enrolment_id SET NOT NULL, ALTER period SET NOT NULL, '
                   '  ALTER jkk SET NOT NULL, ALTER jkm SET NOT NULL, '
                   '  ALTER amount SET NOT NULL, ALTER invoice_id SET NOT NULL, '
                   '  ALTER run_id SET NOT NULL, ALTER supplementary SET NOT NULL, '
                   '  ALTER created_at SET NOT NULL, '
                   '  ALTER supplementary SET DEFAULT false, ALTER created_at SET DEFAULT now(), '
                   '  ADD CONSTRAINT accruals_amount_check CHECK (amount = jkk + jkm), '
                   '  ADD CONSTRAINT %I CHECK (period = %L), '
                   '  ADD CONSTRAINT %I UNIQUE (enrolment_id, period)',
                   part, part || '_period_check', p_period, part || '_line_key');
    EXECUTE format('ALTER TABLE accruals ATTACH PARTITION %I FOR VALUES IN (%L)',
                   part, p_period);
END $$;

-- A month's first load: its lines into a new table, then its constraints
-- and index, then the partition, then each invoice grows by exactly its
-- lines. (Supplementary only when the month was run before with no line at
-- all.) Called inside the run's transaction (accrual.c). The new table has
-- no statistics when its lines are summed; with sorting off, the planner
-- groups a million lines by hashing, as it would knowing their number.
CREATE OR REPLACE FUNCTION accrual_load_month(p_period date, p_run bigint,
                                              p_supplementary boolean)
RETURNS TABLE (lines bigint, amount bigint)
LANGUAGE plpgsql
SET enable_sort = off
AS $$
BEGIN
    -- A month nobody is billed for gets no partition: a start-up catch-up
    -- over five empty years then costs no DDL.
    IF NOT EXISTS (SELECT 1 FROM accrual_due(p_period)) THEN
        RETURN QUERY SELECT 0::bigint, 0::bigint;
        RETURN;
    END IF;
    PERFORM accrual_partition_fill(p_period, p_run, p_supplementary);
    PERFORM accrual_partition_seal(p_period);
    RETURN QUERY
    WITH per_invoice AS (SELECT a.invoice_id, count(*) AS n, sum(a.amount) AS total
                         FROM accruals a WHERE a.period = p_period GROUP BY a.invoice_id),
         upd AS (UPDATE invoices i SET total = i.total + p.total,
                        line_count = i.line_count + p.n, updated_at = now()
                 FROM per_invoice p WHERE i.id = p.invoice_id RETURNING p.n, p.total)
    SELECT coalesce(sum(upd.n), 0)::bigint, coalesce(sum(upd.total), 0)::bigint FROM upd;
END $$;

-- The index-free table and the separate attach of 007 are no longer used.
DROP FUNCTION accrual_partition_create(date);
DROP FUNCTION accrual_partition_attach(date);
