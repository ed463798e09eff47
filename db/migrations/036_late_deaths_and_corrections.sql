-- 036_late_deaths_and_corrections: four faults in life events and one in
-- BPJS answers that the tenth session's reviews found (docs/lifecycle.md).
--
-- 1. A death reported after the programme year ended, or after a lapse, did
--    not reach the enrolment that covered it (033 reached only those ended
--    by a move or a departure): the months after the death stayed billed and
--    no JKM claim opened. A death now also shortens an enrolment ended by its
--    programme's end or by a lapse that still covers a month after the death.
-- 2. Correcting a death reported in error made every enrolment it had
--    touched active again, to its programme's end, also those that a move,
--    a departure, the programme's end or a lapse had ended before: the
--    village was billed again for someone who had left. The death now keeps
--    the end it overwrote (participant_events.prior_ends) and the correction
--    restores exactly that.
-- 3. Scope. A key that saw the enrolment covering the event month could end
--    the person's other enrolments, in another regency too (a village dating
--    a death inside its own old enrolment's months cancelled the person's
--    enrolment elsewhere). A death, which reaches every enrolment after it,
--    now needs the key's scope over every enrolment it would change (else
--    404, as for an unknown NIK); a move or a departure changes only the
--    enrolments in the key's scope and leaves the others alone.
-- 4. A JKM claim withdrawn (a death corrected) and reopened by a later death
--    kept the benefit of the first date; it now takes the benefit in force
--    in the month of the new death.
-- 6. A correction of a death stored and not yet applied (035) was taken as
--    done, and the death applied after it; the correction now refuses it
--    ('not_applied'), and takes the event's row before the person's, as
--    the apply does, so the two never deadlock.
-- 5. BPJS: a refusal repeated in a later answer file refused and ended the
--    person's next enrolment, which BPJS had not even been asked about. A
--    refusal row is now 'already' when the NIK has a recorded refusal and
--    no enrolment of the NIK still pending was exported after it was
--    recorded (a refusal of what was exported since is applied as before).

ALTER TABLE participant_events ADD COLUMN prior_ends jsonb;
COMMENT ON COLUMN participant_events.prior_ends IS
    'A death: the ends it overwrote, {enrolment id: {end_month, end_reason, ended_at}} of '
    'enrolments already ended when it shortened them; a correction restores them (036).';

-- The ended enrolments a death reaches (033, 036): ended by a move, a
-- departure, the programme's end or a lapse, and still covering a month.
CREATE FUNCTION enrolment_reachable_by_death(p_status text, p_end_reason text,
                                             p_start date, p_end date)
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT p_status = 'ended' AND p_end_reason IN ('moved', 'left', 'program_ended', 'lapsed')
           AND p_end >= p_start
$$;
COMMENT ON FUNCTION enrolment_reachable_by_death(text, text, date, date) IS
    'Whether a death reported late also shortens this ended enrolment (033, 036): ended by '
    'a move, a departure, its programme''s end or a lapse, and covering at least a month.';

-- As 033's, and: a death needs the key's scope over every enrolment it would
-- change, the one covering its month included.
CREATE OR REPLACE FUNCTION participant_events_unseen(p_kind text, p_code text, p_events jsonb)
RETURNS integer[] LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(x.idx ORDER BY x.idx), '{}')
    FROM jsonb_to_recordset(p_events) AS x(idx int, kind text, nik text, date date)
    WHERE NOT EXISTS (SELECT 1 FROM participants pa WHERE pa.nik = x.nik)
       OR NOT coalesce(
            (SELECT scope_allows_village(p_kind, p_code, e.village_code) FROM enrolments e
             WHERE e.nik = x.nik AND enrolment_months(e.start_month, e.end_month)
                   @> date_trunc('month', x.date)::date LIMIT 1),
            EXISTS (SELECT 1 FROM enrolments e WHERE e.nik = x.nik
                    AND scope_allows_village(p_kind, p_code, e.village_code))
            AND NOT EXISTS (SELECT 1 FROM enrolments e
                            WHERE e.nik = x.nik AND e.status = 'active'
                              AND (e.end_month IS NULL
                                   OR e.end_month >= date_trunc('month', x.date)::date)
                              AND NOT scope_allows_village(p_kind, p_code, e.village_code)))
       OR (x.kind = 'death' AND p_kind <> 'admin' AND EXISTS (
            SELECT 1 FROM enrolments e
            WHERE e.nik = x.nik
              AND (e.end_month IS NULL OR e.end_month >= date_trunc('month', x.date)::date)
              AND (e.status = 'active'
                   OR enrolment_reachable_by_death(e.status, e.end_reason, e.start_month,
                                                   e.end_month))
              AND NOT scope_allows_village(p_kind, p_code, e.village_code)))
$$;

-- As 035's, and: a death also reaches enrolments ended by their programme's
-- end or a lapse, keeping the ends it overwrites (prior_ends); a move or a
-- departure changes only enrolments in the batch's scope.
CREATE OR REPLACE FUNCTION participant_events_end(p_batch uuid, p_part smallint)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    b event_batches%ROWTYPE;
BEGIN
    SELECT * INTO b FROM event_batches WHERE id = p_batch;
    WITH prior AS (
        -- read before the update below (one snapshot for the statement)
        SELECT pe.id AS event_id,
               jsonb_object_agg(e.id::text, jsonb_build_object(
                   'end_month', e.end_month, 'end_reason', e.end_reason,
                   'ended_at', e.ended_at)) AS ends
        FROM participant_events pe
        JOIN enrolments e ON e.nik = pe.nik
        WHERE pe.batch_id = p_batch AND pe.part = p_part AND pe.result IS NULL
          AND pe.kind = 'death' AND e.end_month >= pe.month
          AND enrolment_reachable_by_death(e.status, e.end_reason, e.start_month, e.end_month)
        GROUP BY pe.id),
    ended AS (
        UPDATE enrolments e
        SET status = 'ended', end_reason = pe.kind, ended_at = now(),
            end_month = CASE WHEN e.start_month > pe.month
                             THEN (e.start_month - interval '1 month')::date
                             ELSE pe.month END
        FROM participant_events pe
        WHERE pe.batch_id = p_batch AND pe.part = p_part AND pe.result IS NULL
          AND e.nik = pe.nik
          AND (e.end_month IS NULL OR e.end_month >= pe.month)
          AND ((e.status = 'active'
                AND (pe.kind = 'death' OR b.scope_kind IS NULL
                     OR scope_allows_village(b.scope_kind, b.scope_code, e.village_code)))
               OR (pe.kind = 'death'
                   AND enrolment_reachable_by_death(e.status, e.end_reason, e.start_month,
                                                    e.end_month)))
        RETURNING pe.id AS event_id, e.id, e.start_month > pe.month AS cancelled),
    -- one row per event, so the update below is a join, not a scan per event
    per_event AS (
        SELECT x.event_id, min(x.id) FILTER (WHERE NOT x.cancelled) AS covering,
               coalesce(array_agg(x.id ORDER BY x.id) FILTER (WHERE x.cancelled), '{}')
                   AS cancelled
        FROM ended x GROUP BY x.event_id)
    UPDATE participant_events pe
    SET result = 'applied', code = 'ended', enrolment_id = v.covering,
        cancelled_ids = v.cancelled, prior_ends = pr.ends,
        message = CASE WHEN v.covering IS NOT NULL
                       THEN format('enrolment %s covered to %s (%s)', v.covering,
                                   to_char(pe.month, 'YYYY-MM'), pe.kind)
                       ELSE format('no active enrolment covers %s',
                                   to_char(pe.month, 'YYYY-MM')) END
                  || coalesce('; ' || pe.message, '')
                  || CASE WHEN cardinality(v.cancelled) > 0
                          THEN format('; later enrolment(s) %s cancelled',
                                      array_to_string(v.cancelled, ', '))
                          ELSE '' END
    FROM per_event v LEFT JOIN prior pr ON pr.event_id = v.event_id
    WHERE pe.id = v.event_id;
END $$;

-- As 017's, but restoring the ends a death overwrote (prior_ends).
CREATE OR REPLACE FUNCTION participant_event_correct(p_event bigint, p_reason text, p_source text)
RETURNS TABLE (result text, message text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    ev participant_events%ROWTYPE;
    ids bigint[];
    n integer;
BEGIN
    -- The event row first, then the person's: the order in which
    -- participant_events_apply (035) takes them, so a correction and the
    -- apply of the event's own batch wait for each other, never deadlock.
    SELECT * INTO ev FROM participant_events WHERE id = p_event FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found'::text, format('no event %s', p_event);
        RETURN;
    END IF;
    PERFORM 1 FROM participants WHERE nik = ev.nik FOR NO KEY UPDATE;
    IF ev.kind <> 'death' THEN
        RETURN QUERY SELECT 'not_a_death'::text,
            format('event %s is a %s; only a death reported in error is corrected here',
                   p_event, ev.kind);
        RETURN;
    ELSIF ev.result IS NULL THEN
        -- stored, not applied yet (035): nothing to undo yet
        RETURN QUERY SELECT 'not_applied'::text,
            format('event %s is not applied yet: try again once it is', p_event);
        RETURN;
    ELSIF ev.result <> 'applied' THEN
        RETURN QUERY SELECT 'not_applied'::text,
            format('event %s was refused (%s): nothing to undo', p_event, ev.code);
        RETURN;
    ELSIF ev.corrected_at IS NOT NULL THEN
        RETURN QUERY SELECT 'corrected'::text,
            format('event %s was corrected on %s', p_event,
                   to_char(ev.corrected_at, 'YYYY-MM-DD'));
        RETURN;
    END IF;
    ids := array_remove(ev.cancelled_ids || ev.enrolment_id, NULL);
    SELECT count(*) INTO n FROM enrolments e
    WHERE e.id = ANY (ids) AND e.status = 'ended' AND e.end_reason = 'death';
    IF n <> cardinality(ids) THEN
        RETURN QUERY SELECT 'changed'::text,
            format('an enrolment this death ended (%s) was changed since; correct it by hand',
                   array_to_string(ids, ', '));
        RETURN;
    END IF;
    BEGIN
        -- as before the death: an enrolment that had already ended (moved,
        -- left, a lapse) ends as it did (036); one that was active, or had
        -- ended only with its programme, is active again to the programme's
        -- coverage_end as it is now (billing ends it again if that is past:
        -- the end may have been moved since)
        UPDATE enrolments e
        SET status = CASE WHEN pr.kept THEN 'ended' ELSE 'active' END,
            end_month = CASE WHEN pr.kept THEN (pr.v ->> 'end_month')::date
                             ELSE p.coverage_end END,
            end_reason = CASE WHEN pr.kept THEN pr.v ->> 'end_reason' END,
            ended_at = CASE WHEN pr.kept THEN (pr.v ->> 'ended_at')::timestamptz END
        FROM programs p,
             (SELECT x.key::bigint AS id, x.value AS v,
                     x.value ->> 'end_reason' <> 'program_ended' AS kept
              FROM jsonb_each(coalesce(ev.prior_ends, '{}')) x
              UNION ALL
              SELECT i, NULL, false FROM unnest(ids) i
              WHERE NOT coalesce(ev.prior_ends, '{}') ? i::text) pr
        WHERE e.id = ANY (ids) AND pr.id = e.id AND p.id = e.program_id;
    EXCEPTION WHEN exclusion_violation THEN
        RETURN QUERY SELECT 'conflict'::text,
            'the restored months would overlap another enrolment of this NIK'::text;
        RETURN;
    END;
    UPDATE participants SET deceased_on = NULL, updated_at = now() WHERE nik = ev.nik;
    UPDATE participant_events
    SET corrected_at = now(), correction_reason = p_reason, corrected_by = p_source
    WHERE id = p_event;
    RETURN QUERY SELECT 'ok'::text,
        format('event %s corrected: deceased_on cleared%s', p_event,
               CASE WHEN cardinality(ids) > 0
                    THEN format('; enrolment(s) %s as before the death',
                                array_to_string(ids, ', '))
                    ELSE '' END);
END $$;

-- As 021's, but a reopened claim takes the benefit in force in the month of
-- the new death.
CREATE OR REPLACE FUNCTION claims_on_deaths() RETURNS trigger LANGUAGE plpgsql AS $$
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
                            event_date = d.died, updated_at = now(),
                            -- the benefit in force in the month of this death (036)
                            amount_claimed = coalesce(
                                (SELECT cb.amount FROM claim_benefits cb
                                 WHERE cb.kind = 'JKM'
                                   AND cb.effective_month <= date_trunc('month', d.died)::date
                                 ORDER BY cb.effective_month DESC LIMIT 1),
                                c.amount_claimed)
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
ALTER FUNCTION claims_on_deaths() SECURITY DEFINER SET search_path = public, pg_temp;

-- As 032's, but a refusal repeated in a later file is 'already' (see 5.).
CREATE OR REPLACE FUNCTION bpjs_apply(p_nik text, p_kpj text, p_status text, p_reason text,
                                      p_month date)
RETURNS TABLE (result text, enrolment_id bigint)
LANGUAGE plpgsql AS $$
DECLARE
    target enrolments%ROWTYPE;
    refused_id bigint;
BEGIN
    -- the NIK's enrolments are locked so two imports never answer one twice
    PERFORM 1 FROM enrolments e WHERE e.nik = p_nik FOR UPDATE;
    SELECT * INTO target FROM enrolments e
    WHERE e.nik = p_nik AND e.bpjs_status <> 'refused' ORDER BY e.id DESC LIMIT 1;
    SELECT e.id INTO refused_id FROM enrolments e
    WHERE e.nik = p_nik AND e.bpjs_status = 'refused' ORDER BY e.id DESC LIMIT 1;
    IF target.id IS NULL AND refused_id IS NULL THEN
        RETURN QUERY SELECT 'unknown_nik'::text, NULL::bigint;
    ELSIF p_status = 'registered' THEN
        IF target.id IS NULL THEN
            RETURN QUERY SELECT 'not_pending'::text, refused_id;
        ELSIF target.bpjs_status = 'registered' THEN
            RETURN QUERY SELECT CASE WHEN target.kpj = p_kpj THEN 'already'
                                     ELSE 'not_pending' END, target.id;
        ELSIF EXISTS (SELECT 1 FROM enrolments e WHERE e.kpj = p_kpj AND e.nik <> p_nik) THEN
            RETURN QUERY SELECT 'kpj_taken'::text, target.id;
        ELSE
            UPDATE enrolments SET kpj = p_kpj, bpjs_status = 'registered',
                                  bpjs_effective_month = p_month, bpjs_refusal = NULL,
                                  bpjs_answered_at = now()
            WHERE id = target.id;
            RETURN QUERY SELECT 'registered'::text, target.id;
        END IF;
    ELSIF refused_id IS NOT NULL AND (target.id IS NULL OR refused_id > target.id) THEN
        -- the newest enrolment was refused already: this answer was applied
        RETURN QUERY SELECT 'already'::text, refused_id;
    ELSIF refused_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM enrolments e, enrolments r
                          WHERE r.id = refused_id AND e.nik = p_nik
                            AND e.bpjs_status = 'pending'
                            AND e.bpjs_exported_at > r.bpjs_answered_at) THEN
        -- an answer already applied, repeated in a later file: the person's
        -- newer enrolment was not sent to BPJS after that refusal, so this
        -- row cannot be BPJS's answer about it
        RETURN QUERY SELECT 'already'::text, refused_id;
    ELSIF target.id IS NOT NULL AND target.bpjs_status = 'pending' THEN
        -- never covered: every pending enrolment ends the month before it
        -- began, so billing credits whatever it billed for them
        UPDATE enrolments e SET bpjs_status = 'refused', bpjs_refusal = p_reason,
                                bpjs_effective_month = p_month, bpjs_answered_at = now(),
                                status = 'ended', end_reason = 'bpjs_refused',
                                end_month = (e.start_month - interval '1 month')::date,
                                ended_at = now()
        WHERE e.nik = p_nik AND e.bpjs_status = 'pending';
        RETURN QUERY SELECT 'refused'::text, target.id;
    ELSE
        RETURN QUERY SELECT 'not_pending'::text, target.id;
    END IF;
END $$;
