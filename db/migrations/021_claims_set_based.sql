-- 021_claims_set_based: 018's JKM claims opened per statement, not per row
-- (docs/benchmarks.md, "Life events"; docs/lifecycle.md, "Claims").
--
-- 018 opened or withdrew the JKM claim of a death with a deferred trigger
-- per enrolment row: one claims_sync_death call (five queries) per death at
-- commit, which took a 10,000-event batch from 0.61 to 0.35 of verify's
-- decision rate. Here one statement-level trigger per UPDATE of enrolments
-- does the same for all its rows at once, from the transition tables.
-- The rules are 018's, unchanged:
--   - the death of an enrolment covering a month (end_reason 'death', not
--     active, end_month >= start_month) opens a JKM claim for the benefit in
--     force in the death month, source 'death', step 'reported';
--   - one JKM claim per enrolment: a death recorded again reopens its
--     withdrawn claim, and a person dies once (no claim when another
--     enrolment of the NIK has a claim that is not withdrawn);
--   - the death undone (another end_reason, or active again) withdraws the
--     claim while reported or filed; a paid or refused claim stays.
-- What changes: the trigger is no longer deferred (a constraint trigger
-- cannot be statement-level), so it runs at the end of each UPDATE, before
-- participant_events_receive (017) writes participants.deceased_on. The
-- date of death is therefore taken first from the death event itself (the
-- latest uncorrected death event of the NIK in the death month, by
-- participant_events_nik_idx), then from deceased_on, else the first day of
-- the death month: what 018 read at commit. A death undone in the same
-- transaction that recorded it leaves a withdrawn claim with its two steps
-- (018 left nothing); nothing in lindung does that, and the register shows
-- what happened.

DROP TRIGGER claims_on_death ON enrolments;
DROP FUNCTION claims_on_death();

-- The deaths recorded or undone by one UPDATE of enrolments, from its
-- transition tables (018's WHEN, per row). died: the date of the death
-- event, else participants.deceased_on when in the death month, else the
-- first day of that month.
-- Rows whose end_reason did not change cost one hash-join probe. The
-- transition tables are seen only in this function, so the recorded deaths
-- (d) are written out in each step that needs them.
-- Every statement is planned at each firing (EXECUTE): PL/pgSQL keeps a
-- statement's plan for the session, and a plan made for empty transition
-- tables (a coverage end touching no row) reused for an UPDATE of hundreds of
-- thousands of rows (billing's lapses) hung it (bench/billing: 20,000 rows
-- 86.8 s instead of 3.0 s; 3 million did not finish).
CREATE FUNCTION claims_on_deaths() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    missing integer;
    any_death boolean;
BEGIN
    -- Most updates of enrolments (billing's lapses, BPJS answers, coverage
    -- ends) touch no death: two scans that stop at the first death, no join.
    EXECUTE $q$SELECT EXISTS (SELECT 1 FROM claims_new_enrolments WHERE end_reason = 'death')
                   OR EXISTS (SELECT 1 FROM claims_old_enrolments WHERE end_reason = 'death')$q$
        INTO any_death;
    IF NOT any_death THEN
        RETURN NULL;
    END IF;
    -- 1. Undone: withdraw what is not yet decided.
    EXECUTE $q$WITH w AS (
        UPDATE claims c SET status = 'withdrawn', status_on = claims_today(), updated_at = now()
        FROM claims_old_enrolments o JOIN claims_new_enrolments n ON n.id = o.id
        WHERE o.end_reason = 'death'
          AND (n.end_reason IS DISTINCT FROM 'death' OR n.status = 'active')
          AND c.enrolment_id = n.id AND c.kind = 'JKM' AND c.status IN ('reported', 'filed')
        RETURNING c.id)
    INSERT INTO claim_steps (claim_id, status, on_date, note, source)
    SELECT w.id, 'withdrawn', claims_today(), 'death undone', 'death' FROM w ORDER BY w.id$q$;

    -- 2. Recorded again: the enrolment's withdrawn claim reopens. A death
    -- that covers no month (a later enrolment cancelled by it) is left out
    -- here and below: the claim is on the enrolment that covered the death.
    EXECUTE $q$WITH r AS (
        UPDATE claims c SET status = 'reported', status_on = claims_today(),
                            event_date = d.died, updated_at = now()
        FROM (SELECT n.id, n.nik, n.program_id, n.village_code,
                   coalesce((SELECT pe.event_date FROM participant_events pe
                             WHERE pe.nik = n.nik AND pe.kind = 'death'
                               AND pe.month = n.end_month AND pe.corrected_at IS NULL
                               AND pe.result IS DISTINCT FROM 'refused'
                             ORDER BY pe.id DESC LIMIT 1),
                            CASE WHEN date_trunc('month', pa.deceased_on)::date = n.end_month
                                 THEN pa.deceased_on END,
                            n.end_month) AS died
              FROM claims_old_enrolments o JOIN claims_new_enrolments n ON n.id = o.id
              LEFT JOIN participants pa ON pa.nik = n.nik
              WHERE n.end_reason = 'death' AND o.end_reason IS DISTINCT FROM 'death'
                AND n.status <> 'active' AND n.end_month >= n.start_month) d
        WHERE c.enrolment_id = d.id AND c.kind = 'JKM' AND c.status = 'withdrawn'
        RETURNING c.id, c.amount_claimed)
    INSERT INTO claim_steps (claim_id, status, on_date, amount, note, source)
    SELECT r.id, 'reported', claims_today(), r.amount_claimed, 'death recorded again', 'death'
    FROM r ORDER BY r.id$q$;

    -- 3. First death of the enrolment: open, one per person (the lowest
    -- enrolment id if one statement records two), unless the person already
    -- has a live claim (step 2 included: each statement sees the one before).
    -- The benefit in force in the death month is a join, not a call of
    -- claim_benefit() per death. missing: deaths with no benefit in force.
    EXECUTE $q$WITH todo AS (
        SELECT DISTINCT ON (d.nik) d.*, b.amount AS benefit
        FROM (SELECT n.id, n.nik, n.program_id, n.village_code,
                   coalesce((SELECT pe.event_date FROM participant_events pe
                             WHERE pe.nik = n.nik AND pe.kind = 'death'
                               AND pe.month = n.end_month AND pe.corrected_at IS NULL
                               AND pe.result IS DISTINCT FROM 'refused'
                             ORDER BY pe.id DESC LIMIT 1),
                            CASE WHEN date_trunc('month', pa.deceased_on)::date = n.end_month
                                 THEN pa.deceased_on END,
                            n.end_month) AS died
              FROM claims_old_enrolments o JOIN claims_new_enrolments n ON n.id = o.id
              LEFT JOIN participants pa ON pa.nik = n.nik
              WHERE n.end_reason = 'death' AND o.end_reason IS DISTINCT FROM 'death'
                AND n.status <> 'active' AND n.end_month >= n.start_month) d
        LEFT JOIN LATERAL (
            SELECT cb.amount FROM claim_benefits cb
            WHERE cb.kind = 'JKM' AND cb.effective_month <= date_trunc('month', d.died)::date
            ORDER BY cb.effective_month DESC LIMIT 1) b ON true
        WHERE NOT EXISTS (SELECT 1 FROM claims c WHERE c.enrolment_id = d.id AND c.kind = 'JKM')
          AND NOT EXISTS (SELECT 1 FROM claims c WHERE c.nik = d.nik AND c.kind = 'JKM'
                          AND c.status <> 'withdrawn')
        ORDER BY d.nik, d.id),
    n AS (
        INSERT INTO claims (kind, enrolment_id, nik, program_id, village_code, regency_code,
                            event_date, amount_claimed, status_on, source)
        SELECT 'JKM', t.id, t.nik, t.program_id, t.village_code, left(t.village_code, 5),
               t.died, t.benefit, claims_today(), 'death'
        FROM todo t WHERE t.benefit IS NOT NULL ORDER BY t.id
        ON CONFLICT DO NOTHING
        RETURNING id, amount_claimed),
    steps AS (
        INSERT INTO claim_steps (claim_id, status, on_date, amount, note, source)
        SELECT n.id, 'reported', claims_today(), n.amount_claimed, 'opened on the death',
               'death'
        FROM n ORDER BY n.id)
    SELECT count(*) FILTER (WHERE t.benefit IS NULL) FROM todo t$q$
        INTO missing;
    IF missing > 0 THEN
        RAISE WARNING 'no JKM benefit in force for % death(s): no claim opened', missing;
    END IF;
    RETURN NULL;
END $$;

-- No column list: PostgreSQL allows none on a trigger with transition tables.
CREATE TRIGGER claims_on_death AFTER UPDATE ON enrolments
    REFERENCING OLD TABLE AS claims_old_enrolments NEW TABLE AS claims_new_enrolments
    FOR EACH STATEMENT EXECUTE FUNCTION claims_on_deaths();

COMMENT ON FUNCTION claims_on_deaths() IS
    'Trigger claims_on_death (statement level): opens, reopens or withdraws the JKM claims of '
    'every enrolment whose death the UPDATE recorded or undid.';
