-- 011_accrual_parts: a month's first load written in parts, by as many
-- sessions at once, so that the writing of lines, the checks and the unique
-- index are shared among the machine's cores. 009 let parallel workers
-- compute a month's lines, but one process still wrote every line, then
-- checked it, then indexed it; measured in bench/billing, that one process was
-- the run's length. Explained in docs/billing.md ("How a run is made fast").
--
-- A month loaded this way is a partition of accruals that is itself
-- partitioned by ranges of enrolment_id, one part per session. Each part is
-- made by accrual_part_load in its own session, reading the run's snapshot,
-- and committed there once every part is written: a table no query of
-- accruals can see. The run's own transaction then makes the
-- month's partition, attaches the parts to it and attaches it to accruals
-- (accrual_parts_attach). So a month's lines still appear all at once, with
-- the run that made them, or not at all. A part left by a run that died
-- between its parts' commits and its own is dropped by the next load of its
-- month; it holds no line anyone counts, because only attached tables are
-- lines.

-- Who pays, in order: a month's first load finds its payers by stepping from
-- one payer to the next in this index, a few hundred probes, instead of
-- grouping a million enrolments (accrual.c, SQL_PAYERS_FIRST).
CREATE INDEX enrolments_payer_idx ON enrolments (funding_source, payer_code, program_id);

-- What an enrolment owes for a month and who pays it: accrual_due without
-- the invoice. The parts are made in other sessions than the run's, which
-- cannot see the invoices the run opened and has not committed; they get
-- them as arrays. The premium rules are those of 007 (docs/billing.md).
CREATE FUNCTION accrual_premiums(p_period date)
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
         rel AS (SELECT p.id AS program_id, adj.transport,
                        CASE WHEN p.relief_applies THEN adj.jkk_off ELSE 0 END AS jkk_off,
                        CASE WHEN p.relief_applies THEN adj.jkm_off ELSE 0 END AS jkm_off
                 FROM programs p CROSS JOIN adj
                 WHERE p.coverage_end IS NULL OR p.coverage_end >= p_period)
    SELECT e.id, e.funding_source, e.payer_code, c.jkk, c.jkm
    FROM enrolments e
    JOIN rel ON rel.program_id = e.program_id AND rel.transport = e.transport
    CROSS JOIN jkk CROSS JOIN jkm
    CROSS JOIN LATERAL (SELECT
        ((greatest(e.declared_income, jkk.min_income) * jkk.income_bp + 5000) / 10000
          * (10000 - rel.jkk_off) + 5000) / 10000 AS jkk,
        (jkm.flat_amount * (10000 - rel.jkm_off) + 5000) / 10000 AS jkm) c
    WHERE e.start_month <= p_period AND (e.end_month IS NULL OR e.end_month >= p_period)
$$;

-- The same lines with their invoice, as before; one premium rule for both.
CREATE OR REPLACE FUNCTION accrual_due(p_period date)
RETURNS TABLE (enrolment_id bigint, jkk bigint, jkm bigint, invoice_id bigint)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT p.enrolment_id, p.jkk, p.jkm, i.id
    FROM accrual_premiums(p_period) p
    JOIN invoices i ON i.period = p_period AND i.funding_source = p.funding_source
                   AND i.payer_code = p.payer_code
$$;

-- Part k of month M is the table accruals_YYYY_MM_pk.
CREATE FUNCTION accrual_part_name(p_period date, p_part int) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT accrual_partition_name(p_period) || '_p' || p_part $$;

-- One part of a month's first load, in a session of its own (accrual.c):
-- a new table like accruals, with every constraint of accruals and two of
-- its own, its month and its range of enrolment ids (so that ATTACH finds
-- them proven and reads nothing), all checked as each line is written; then
-- the lines of enrolments with p_from <= id < p_to (NULL: no bound), except
-- p_skip (ended by the run's lapse check, which this session cannot see),
-- each with its invoice from the arrays (an enrolment whose payer has none is
-- not billed, as in accrual_due); then the unique (enrolment_id, period)
-- index, built in one sort; then the part's lines per invoice, which the run
-- adds to the invoices. Parallel workers are not asked for: the run's parts
-- already keep the cores busy. A part whose run died (its billing process
-- killed) stops within a second instead of writing on for nobody; a part
-- that waits 30 s for a lock fails (and so does its run) rather than wait
-- for ever on a lock queued behind the run's own, which no deadlock check
-- can see. The caller reads the run's snapshot (SET TRANSACTION SNAPSHOT)
-- and commits once every part is written.
CREATE FUNCTION accrual_part_load(p_period date, p_part int, p_from bigint, p_to bigint,
                                  p_run bigint, p_supplementary boolean, p_skip bigint[],
                                  p_invoice_ids bigint[], p_sources text[], p_payers text[])
RETURNS TABLE (invoice_id bigint, lines bigint, amount bigint)
LANGUAGE plpgsql
SET max_parallel_workers_per_gather = 0
SET max_parallel_maintenance_workers = 0
SET maintenance_work_mem = '256MB'
SET enable_sort = off
SET client_connection_check_interval = '1s'
SET lock_timeout = '30s'
AS $$
DECLARE
    part text := accrual_part_name(p_period, p_part);
    -- The part's id range as the predicate ATTACH compares its bound with.
    bounds text := coalesce(nullif(concat_ws(' AND ',
        CASE WHEN p_from IS NOT NULL THEN format('enrolment_id >= %s', p_from) END,
        CASE WHEN p_to IS NOT NULL THEN format('enrolment_id < %s', p_to) END), ''), 'true');
BEGIN
    IF EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass(part)) THEN
        RAISE EXCEPTION '% is already attached: its month was loaded', part;
    END IF;
    EXECUTE format('DROP TABLE IF EXISTS %I', part);
    EXECUTE format('CREATE TABLE %I (LIKE accruals INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                   part);
    EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (period = %L), '
                   '  ADD CONSTRAINT %I CHECK (%s)',
                   part, part || '_period_check', p_period, part || '_range_check', bounds);
    EXECUTE format('INSERT INTO %I (enrolment_id, period, jkk, jkm, amount, invoice_id, '
                   '  run_id, supplementary) '
                   'SELECT p.enrolment_id, %L::date, p.jkk, p.jkm, p.jkk + p.jkm, i.id, '
                   '  %L::bigint, %L::boolean '
                   'FROM accrual_premiums(%L::date) p '
                   'JOIN unnest(%L::bigint[], %L::text[], %L::text[]) '
                   '  AS i (id, funding_source, payer_code) '
                   '  ON i.funding_source = p.funding_source AND i.payer_code = p.payer_code '
                   'WHERE %s AND NOT (p.enrolment_id = ANY (%L::bigint[]))',
                   part, p_period, p_run, p_supplementary, p_period,
                   p_invoice_ids, p_sources, p_payers, bounds, coalesce(p_skip, '{}'));
    EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I UNIQUE (enrolment_id, period)',
                   part, part || '_line_key');
    RETURN QUERY EXECUTE format('SELECT invoice_id, count(*), sum(amount)::bigint '
                                'FROM %I GROUP BY invoice_id', part);
END $$;

-- The run's side, once every part is committed: the month's partition,
-- partitioned by the parts' ranges (p_bounds: the inner bounds, ascending;
-- part k holds ids from bound k-1 to bound k), each part attached to it, and
-- it attached to accruals. Every constraint an ATTACH checks is one a part
-- already has, so no line is read again. ATTACH takes a SHARE UPDATE
-- EXCLUSIVE lock on accruals: readers and writers of other months go on.
CREATE FUNCTION accrual_parts_attach(p_period date, p_bounds bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    month text := accrual_partition_name(p_period);
    parts int := coalesce(cardinality(p_bounds), 0) + 1;
    stale name;
    lo text;
    hi text;
BEGIN
    EXECUTE format('CREATE TABLE %I (LIKE accruals INCLUDING DEFAULTS INCLUDING CONSTRAINTS) '
                   'PARTITION BY RANGE (enrolment_id)', month);
    FOR k IN 0 .. parts - 1 LOOP
        lo := CASE WHEN k = 0 THEN 'MINVALUE' ELSE p_bounds[k]::text END;
        hi := CASE WHEN k = parts - 1 THEN 'MAXVALUE' ELSE p_bounds[k + 1]::text END;
        EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%s) TO (%s)',
                       month, accrual_part_name(p_period, k), lo, hi);
    END LOOP;
    EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I UNIQUE (enrolment_id, period)',
                   month, month || '_line_key');
    EXECUTE format('ALTER TABLE accruals ATTACH PARTITION %I FOR VALUES IN (%L)',
                   month, p_period);
    -- Parts of the month that were not attached now never will be: left by a
    -- run that died between its parts' commits and its own, with more parts
    -- than this one.
    FOR stale IN SELECT c.relname FROM pg_class c
                 WHERE c.relnamespace = to_regnamespace(current_schema())
                   AND c.relkind = 'r' AND c.relname ~ ('^' || month || '_p[0-9]+$')
                   AND NOT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid) LOOP
        EXECUTE format('DROP TABLE %I', stale);
    END LOOP;
END $$;

-- The single-session load of 009 is no longer used.
DROP FUNCTION accrual_load_month(date, bigint, boolean);
DROP FUNCTION accrual_partition_fill(date, bigint, boolean);
DROP FUNCTION accrual_partition_seal(date);
