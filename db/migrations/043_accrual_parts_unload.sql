-- 043_accrual_parts_unload: a month's first load runs beside the run's lapse
-- check instead of after it, and the lines it wrote for the people the check
-- then ended are taken out of its parts before they are attached.
--
-- Before, a first load waited for the lapse check, since the part sessions
-- cannot see the run's uncommitted ends and were handed the ended ids to
-- skip (p_skip). At national size that put one after the other the lapse
-- check (about 24 s at 10 million enrolments, one session) and the load
-- (16-26 s, two sessions): docs/benchmarks.md. Now the parts start first,
-- bill everyone active in the run's snapshot, and once the check has
-- decided, the lines of the enrolments it ended or cancelled, and of those
-- others ended while the parts wrote, are deleted from the parts. A part is a table of its own, not yet a partition of
-- accruals: nothing in it has been billed, and nothing has read it. Lines of
-- accruals itself are still never deleted (lindung_billing has INSERT on it,
-- no DELETE); this function refuses a part that is already attached.

-- Delete from the first p_parts parts of month p_period the lines run p_run
-- wrote for enrolments p_ids; returns what was taken out per invoice, as
-- negative (lines, rupiah), for the run to add to the parts' own counts.
-- Only the run itself may: it holds the month's lock (accrual.c's
-- SQL_LOCK_MONTH; taking it again in the same transaction is free, and
-- another session waits for the run to end), its run is not finished, and
-- only its own lines go (a review: any billing session could otherwise have
-- emptied another run's parts, whose invoices would then not match them).
CREATE FUNCTION accrual_parts_unload(p_period date, p_parts int, p_run bigint,
                                     p_ids bigint[])
RETURNS TABLE (invoice_id bigint, lines bigint, amount bigint)
LANGUAGE plpgsql
SET lock_timeout = '30s'
AS $$
DECLARE
    part text;
BEGIN
    PERFORM pg_advisory_xact_lock(4242, to_char(p_period, 'YYYYMM')::int);
    IF NOT EXISTS (SELECT 1 FROM billing_runs r WHERE r.id = p_run
                       AND r.period = p_period AND r.finished_at IS NULL) THEN
        RAISE EXCEPTION 'run % of % is not under way', p_run, p_period;
    END IF;
    FOR k IN 0 .. p_parts - 1 LOOP
        part := accrual_part_name(p_period, k);
        IF to_regclass(part) IS NULL THEN
            RAISE EXCEPTION '% does not exist: its load was not written', part;
        END IF;
        IF EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass(part)) THEN
            RAISE EXCEPTION '% is attached: its lines are billed and stay', part;
        END IF;
        RETURN QUERY EXECUTE format(
            'WITH gone AS (DELETE FROM %I WHERE enrolment_id = ANY ($1) AND run_id = $2 '
            '              RETURNING invoice_id, amount) '
            'SELECT invoice_id, -count(*), -sum(amount)::bigint '
            'FROM gone GROUP BY invoice_id', part)
            USING coalesce(p_ids, '{}'), p_run;
    END LOOP;
END $$;

ALTER FUNCTION accrual_parts_unload(date, int, bigint, bigint[])
    SECURITY DEFINER SET search_path = public, pg_temp;
REVOKE ALL ON FUNCTION accrual_parts_unload(date, int, bigint, bigint[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION accrual_parts_unload(date, int, bigint, bigint[]) TO lindung_billing;

COMMENT ON FUNCTION accrual_parts_unload(date, int, bigint, bigint[]) IS
    'A first load''s lines of enrolments no longer due once its run''s lapse check has '
    'run (lapsed, or ended meanwhile), taken out of the parts before they are attached (043).';
