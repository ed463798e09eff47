-- 037_events_before_birth: an event dated before the person's birth date
-- is refused ('before_birth') instead of applied. A death dated 1925 for
-- someone born in 1980 (a typing error for 2025) was applied as written:
-- no enrolment covered 1925, so every enrolment of the person was cancelled
-- and every month billed for them credited (docs/lifecycle.md). Also the
-- participant_events.code comment lists the new code.

CREATE OR REPLACE FUNCTION participant_events_apply(p_batch uuid, p_part smallint)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    b event_batches%ROWTYPE;
    n integer;
BEGIN
    SELECT * INTO b FROM event_batches WHERE id = p_batch;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    -- The part's pending events. A second applier of this part waits here;
    -- when the first commits, its rows have their results and are skipped.
    PERFORM 1 FROM participant_events pe
    WHERE pe.batch_id = p_batch AND pe.part = p_part AND pe.result IS NULL
    ORDER BY pe.id FOR UPDATE;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n = 0 THEN
        RETURN 0;
    END IF;
    -- The people's rows, locked in NIK order: two batches about one person
    -- (or a correction) apply one after the other and never deadlock with
    -- each other. NO KEY: foreign-key checks of other tables still pass.
    PERFORM 1 FROM participants pa
    WHERE pa.nik IN (SELECT pe.nik FROM participant_events pe
                     WHERE pe.batch_id = p_batch AND pe.part = p_part
                       AND pe.result IS NULL)
    ORDER BY pa.nik FOR NO KEY UPDATE;
    -- Refusals first: a dead person has no later events; moves and
    -- departures need an active enrolment covering their month.
    UPDATE participant_events pe
    SET result = 'refused',
        code = CASE WHEN pe.kind = 'death' THEN 'already_deceased' ELSE 'deceased' END,
        message = format('recorded as deceased on %s', to_char(pa.deceased_on, 'YYYY-MM-DD'))
    FROM participants pa
    WHERE pe.batch_id = p_batch AND pe.part = p_part AND pe.result IS NULL
      AND pa.nik = pe.nik AND pa.deceased_on IS NOT NULL;
    -- An event dated before the person was born is a typing error (1925
    -- for 2025): taken as written, a death would cancel every enrolment
    -- and credit every month billed.
    UPDATE participant_events pe
    SET result = 'refused', code = 'before_birth',
        message = format('dated %s, before the birth date %s',
                         to_char(pe.event_date, 'YYYY-MM-DD'),
                         to_char(pa.birth_date, 'YYYY-MM-DD'))
    FROM participants pa
    WHERE pe.batch_id = p_batch AND pe.part = p_part AND pe.result IS NULL
      AND pa.nik = pe.nik AND pe.event_date < pa.birth_date;
    UPDATE participant_events pe
    SET result = 'refused', code = 'not_covered',
        message = format('no active enrolment of this NIK covers %s',
                         to_char(pe.month, 'YYYY-MM'))
    WHERE pe.batch_id = p_batch AND pe.part = p_part AND pe.kind <> 'death'
      AND pe.result IS NULL
      AND NOT EXISTS (SELECT 1 FROM enrolments e
                      WHERE e.nik = pe.nik AND e.status = 'active'
                        AND enrolment_months(e.start_month, e.end_month) @> pe.month);
    -- Moves (all in part 0): a transfer where one is possible (the rest end below).
    IF p_part = 0 THEN
        PERFORM participant_events_moves(p_batch, b.scope_kind, b.scope_code,
                                         'api:' || b.api_key_id::text);
    END IF;
    -- Every other event ends the person's cover with its month. For a death
    -- billing credits any later month already billed (016 marks the change).
    PERFORM participant_events_end(p_batch, p_part);
    -- A death with nothing left to end (reported after an end) is recorded.
    UPDATE participant_events pe
    SET result = 'applied', code = 'recorded',
        message = 'recorded as deceased; no active enrolment covers that month or later'
    WHERE pe.batch_id = p_batch AND pe.part = p_part AND pe.kind = 'death'
      AND pe.result IS NULL;
    -- (none in practice: the people's rows are locked and checked above)
    UPDATE participant_events pe
    SET result = 'refused', code = 'not_covered',
        message = format('no active enrolment of this NIK covers %s',
                         to_char(pe.month, 'YYYY-MM'))
    WHERE pe.batch_id = p_batch AND pe.part = p_part AND pe.result IS NULL;
    UPDATE participants pa SET deceased_on = pe.event_date, updated_at = now()
    FROM participant_events pe
    WHERE pe.batch_id = p_batch AND pe.part = p_part AND pe.kind = 'death'
      AND pe.result = 'applied' AND pe.corrected_at IS NULL AND pa.nik = pe.nik;
    -- The last part to commit leaves 0 (the row lock orders the two parts).
    UPDATE event_batches SET pending_parts = pending_parts - 1 WHERE id = p_batch;
    RETURN n;
END $$;
ALTER FUNCTION participant_events_apply(uuid, smallint)
    SECURITY DEFINER SET search_path = public, pg_temp;
COMMENT ON COLUMN participant_events.code IS 'applied: ended, transferred or recorded; '
    'refused: not_covered, deceased, already_deceased, same_place, before_birth (037).';
