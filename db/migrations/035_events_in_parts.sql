-- 035_events_in_parts: a batch of life events is stored in one transaction
-- and applied in parts, each in its own transaction, so that a big batch
-- uses two PostgreSQL backends (two cores) as verify's two workers do
-- (issue 14: 10,000 events at no less than half verify's decision rate;
-- docs/benchmarks.md, "Life events").
--
-- 017 stored and applied a batch in one statement of one backend. Now:
--   participant_events_store   idempotency, scope, the events stored with
--                              their part (result NULL: pending);
--   participant_events_apply   one part's pending events applied (the rules
--                              of 017 and 033, unchanged), once: its rows are
--                              locked, so a second applier of the same part
--                              waits and then finds nothing left to do;
--   participant_events_results as before, once every part is applied.
-- What the split changes for a client: an answered request is applied, as
-- before. A request that got no answer (intake killed, connection lost)
-- may have been stored and not yet applied; its pending events are applied
-- by a retry with the same Idempotency-Key, and by intake on its start and
-- every sweep (docs/lifecycle.md, "Crashes"). Nothing is applied twice and
-- nothing stored is dropped.
--
-- The parts: moves all in part 0 (a move's transfer takes quota locks, and
-- two backends taking them in different orders could deadlock); deaths and
-- departures shared out by NIK (one event per NIK in a batch, so a person's
-- rows are locked by one part only). A batch smaller than intake's split
-- size (LINDUNG_EVENTS_SPLIT_FROM) is one part.

ALTER TABLE event_batches
    ADD COLUMN parts smallint NOT NULL DEFAULT 1 CHECK (parts BETWEEN 1 AND 2),
    ADD COLUMN pending_parts smallint NOT NULL DEFAULT 0 CHECK (pending_parts >= 0),
    ADD COLUMN scope_kind text,
    ADD COLUMN scope_code text;
CREATE INDEX event_batches_pending_idx ON event_batches (received_at) WHERE pending_parts > 0;
COMMENT ON COLUMN event_batches.parts IS
    'How many parts its events were split into, each applied in its own transaction (035).';
COMMENT ON COLUMN event_batches.pending_parts IS
    'Parts stored and not yet applied; 0 once every event has its result (035).';
COMMENT ON COLUMN event_batches.scope_kind IS
    'The sending key''s scope kind (admin, regency, village) when stored, for applying it '
    'later (moves are transfers only inside this scope); NULL before 035.';
COMMENT ON COLUMN event_batches.scope_code IS
    'The sending key''s scope code when stored (a regency or village code; NULL for admin).';
COMMENT ON INDEX event_batches_pending_idx IS
    'Batches with parts still to apply: intake applies them on start and every sweep.';

ALTER TABLE participant_events ADD COLUMN part smallint NOT NULL DEFAULT 0;
COMMENT ON COLUMN participant_events.part IS
    'Which part of its batch applies it (035): moves and the first half by NIK 0, the rest 1.';

-- Store one batch (nothing applied yet). p_events as 017: [{idx, kind, nik,
-- date, reference, to_village, reason}], validated by intake. p_split_from:
-- a batch of at least this many events is split in two parts.
-- One row: outcome 'stored' (new), 'replay' (same key, same events),
-- 'conflict' (same key, other events), or 'not_found' with idx, the first
-- index a scope may not see (nothing stored); parts: how many parts to apply.
CREATE FUNCTION participant_events_store(p_batch uuid, p_key uuid, p_idem text,
                                         p_print text, p_request text, p_kind text,
                                         p_code text, p_events jsonb, p_split_from integer)
RETURNS TABLE (outcome text, batch_id uuid, idx integer, parts integer)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    old event_batches%ROWTYPE;
    hash bytea := sha256(convert_to(p_print, 'UTF8'));
    unseen integer[];
    inserted uuid;
    n integer := jsonb_array_length(p_events);
    split integer := CASE WHEN n >= greatest(p_split_from, 2) THEN 2 ELSE 1 END;
BEGIN
    IF p_idem IS NOT NULL THEN
        SELECT * INTO old FROM event_batches b
        WHERE b.api_key_id = p_key AND b.idempotency_key = p_idem;
        IF FOUND THEN
            RETURN QUERY SELECT CASE WHEN old.body_hash <> hash THEN 'conflict' ELSE 'replay' END,
                old.id, NULL::int, old.parts::int;
            RETURN;
        END IF;
    END IF;
    unseen := participant_events_unseen(p_kind, p_code, p_events);
    IF cardinality(unseen) > 0 THEN
        RETURN QUERY SELECT 'not_found'::text, NULL::uuid, unseen[1], 0;
        RETURN;
    END IF;
    INSERT INTO event_batches (id, api_key_id, idempotency_key, body_hash, event_count,
                               request_id, parts, pending_parts, scope_kind, scope_code)
    VALUES (p_batch, p_key, p_idem, hash, n, p_request, split, split, p_kind, p_code)
    ON CONFLICT (api_key_id, idempotency_key) WHERE idempotency_key IS NOT NULL
    DO NOTHING RETURNING id INTO inserted;
    IF inserted IS NULL THEN
        -- the same key raced us and committed first: answer as a retry
        RETURN QUERY SELECT * FROM participant_events_store(p_batch, p_key, p_idem, p_print,
            p_request, p_kind, p_code, p_events, p_split_from);
        RETURN;
    END IF;
    -- The parts: in the order moves first, then by NIK, the first half is
    -- part 0 and the rest part 1 (every move in part 0, however many). By
    -- NIK rather than at random: NIKs begin with the region code, so each
    -- part's people, and often their enrolments, are near each other on
    -- disk, and the two backends seldom write the same pages. Stored part by
    -- part for the same reason.
    INSERT INTO participant_events (batch_id, idx, kind, nik, event_date, month, reference,
                                    to_village, reason, api_key_id, part)
    SELECT p_batch, x.idx, x.kind, x.nik, x.date, date_trunc('month', x.date)::date,
           x.reference, x.to_village, x.reason, p_key,
           CASE WHEN split = 1 OR x.kind = 'moved' OR x.rank <= n / 2 THEN 0 ELSE 1 END
    FROM (SELECT y.*, row_number() OVER (ORDER BY y.kind = 'moved' DESC, y.nik) AS rank
          FROM jsonb_to_recordset(p_events) AS y(idx int, kind text, nik text, date date,
                                                 reference text, to_village text,
                                                 reason text)) x
    ORDER BY x.rank;
    IF split > 1 THEN
        -- a batch of moves alone is all part 0
        UPDATE event_batches b SET pending_parts =
            (SELECT count(DISTINCT pe.part) FROM participant_events pe
             WHERE pe.batch_id = p_batch)
        WHERE b.id = p_batch;
    END IF;
    RETURN QUERY SELECT 'stored'::text, p_batch, NULL::int, split;
END $$;

-- As 033's participant_events_end, for one part of the batch.
CREATE FUNCTION participant_events_end(p_batch uuid, p_part smallint)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    WITH ended AS (
        UPDATE enrolments e
        SET status = 'ended', end_reason = pe.kind, ended_at = now(),
            end_month = CASE WHEN e.start_month > pe.month
                             THEN (e.start_month - interval '1 month')::date
                             ELSE pe.month END
        FROM participant_events pe
        WHERE pe.batch_id = p_batch AND pe.part = p_part AND pe.result IS NULL
          AND e.nik = pe.nik
          AND (e.end_month IS NULL OR e.end_month >= pe.month)
          AND (e.status = 'active'
               -- a death also reaches an enrolment that a move or a departure
               -- ended after the death month (033)
               OR (pe.kind = 'death' AND e.end_reason IN ('moved', 'left')
                   AND e.end_month >= e.start_month))
        RETURNING pe.id AS event_id, e.id, e.start_month > pe.month AS cancelled),
    -- one row per event, so the update below is a join, not a scan per event
    per_event AS (
        SELECT x.event_id, min(x.id) FILTER (WHERE NOT x.cancelled) AS covering,
               coalesce(array_agg(x.id ORDER BY x.id) FILTER (WHERE x.cancelled), '{}')
                   AS cancelled
        FROM ended x GROUP BY x.event_id)
    UPDATE participant_events pe
    SET result = 'applied', code = 'ended', enrolment_id = v.covering,
        cancelled_ids = v.cancelled,
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
    FROM per_event v
    WHERE pe.id = v.event_id;
END $$;

-- Apply the pending events of one part of a stored batch, with 017's rules
-- (033's scope and late deaths). Returns how many events it applied or
-- refused: 0 when another transaction applied them first. Meant to run as
-- its own transaction: its locks (the part's events, then the people's rows
-- in NIK order) are what keep two appliers of one part from both applying.
CREATE FUNCTION participant_events_apply(p_batch uuid, p_part smallint)
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

-- 017's one-statement form is replaced by the three above.
DROP FUNCTION participant_events_receive(uuid, uuid, text, text, text, text, text, jsonb);
DROP FUNCTION participant_events_end(uuid);

COMMENT ON FUNCTION participant_events_store(uuid, uuid, text, text, text, text, text, jsonb,
                                             integer) IS
    'POST /v1/events, first step: idempotency, scope and the events stored pending, in parts '
    '(035).';
COMMENT ON FUNCTION participant_events_apply(uuid, smallint) IS
    'POST /v1/events, second step: one part''s pending events applied once (ends, moves, '
    'deaths); also intake''s recovery of batches stored and not applied (035).';
COMMENT ON FUNCTION participant_events_end(uuid, smallint) IS
    'Ends the enrolments of one part''s pending events and writes their results (033''s rules).';

-- As 027 did for participant_events_receive: they write enrolments,
-- participants and claims, which intake may not write itself.
ALTER FUNCTION participant_events_store(uuid, uuid, text, text, text, text, text, jsonb, integer)
    SECURITY DEFINER SET search_path = public, pg_temp;
ALTER FUNCTION participant_events_apply(uuid, smallint)
    SECURITY DEFINER SET search_path = public, pg_temp;
GRANT EXECUTE ON FUNCTION
    participant_events_store(uuid, uuid, text, text, text, text, text, jsonb, integer),
    participant_events_apply(uuid, smallint),
    participant_events_results(uuid, text)
    TO lindung_intake;
-- intake finds the batches to finish (on start, every sweep)
GRANT SELECT ON event_batches TO lindung_intake;
