-- 017_life_events: deaths, moves and departures reported by villages and
-- district offices over the API (issue 14, "Life events API" and "Death";
-- docs/lifecycle.md). Every event is stored as received, with the key that
-- sent it, and applied in the same statement that stores it
-- (participant_events_receive): an acknowledged event is applied, and one
-- whose transaction did not commit was never stored, so a client retries with
-- its Idempotency-Key and nothing is applied twice.

ALTER TABLE participants ADD COLUMN deceased_on date;
COMMENT ON COLUMN participants.deceased_on IS
    'Date of death as reported by a death event (participant_events); verify rejects '
    'later submissions of the NIK with DECEASED. Cleared by a correction.';

-- One request of events (one event or a batch), the unit of idempotency.
CREATE TABLE event_batches (
    id              uuid PRIMARY KEY,
    api_key_id      uuid REFERENCES api_keys (id),
    idempotency_key text,
    body_hash       bytea NOT NULL,   -- sha256 of the normalized events
    event_count     integer NOT NULL,
    request_id      text,
    received_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX event_batches_idempotency_idx ON event_batches (api_key_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
COMMENT ON TABLE event_batches IS 'One request of life events (POST /v1/events or '
    '/v1/participants/{nik}/events); (api_key_id, idempotency_key) answers a retry.';

-- Each event as received, and what applying it did. Never deleted; a death
-- reported in error is corrected (corrected_at), not removed. No foreign
-- keys: every value comes from participant_events_receive, which has just
-- read the rows they name (the batch, the participant, the enrolments), and
-- a check per row per statement cost a fifth of a 10,000-event batch.
CREATE TABLE participant_events (
    id                bigserial PRIMARY KEY,
    batch_id          uuid NOT NULL,
    idx               integer NOT NULL,
    kind              text NOT NULL CHECK (kind IN ('death', 'moved', 'left')),
    nik               text NOT NULL,
    event_date        date NOT NULL,
    month             date NOT NULL,    -- first day of event_date's month
    reference         text,            -- e.g. the death certificate number
    to_village        text,            -- moved
    reason            text,            -- left
    api_key_id        uuid,
    received_at       timestamptz NOT NULL DEFAULT now(),
    result            text CHECK (result IN ('applied', 'refused')),
    code              text,            -- applied: ended, transferred, recorded; refused: why
    message           text,
    enrolment_id      bigint,          -- the one ended or moved
    new_enrolment_id  bigint,          -- a transfer's continuation
    cancelled_ids     bigint[] NOT NULL DEFAULT '{}',      -- later enrolments cancelled
    corrected_at      timestamptz,
    correction_reason text,
    corrected_by      text,
    UNIQUE (batch_id, idx)
);
CREATE INDEX participant_events_nik_idx ON participant_events (nik);
COMMENT ON TABLE participant_events IS 'Life events (death, moved, left) as received, '
    'with the key that sent them and the result of applying them (docs/lifecycle.md).';
COMMENT ON COLUMN participant_events.code IS 'applied: ended, transferred or recorded; '
    'refused: not_covered, deceased, already_deceased, same_place.';

-- The scope test of intake's scope_allows_village (common/scope.c), in SQL.
CREATE FUNCTION scope_allows_village(p_kind text, p_code text, p_village text)
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT p_kind = 'admin' OR (p_kind = 'regency' AND left(p_village, 5) = p_code)
           OR (p_kind = 'village' AND p_village = p_code)
$$;

-- The indexes of events (p_events: [{idx, kind, nik, date, ...}]) whose NIK
-- this scope may not see: unknown, or the enrolment covering the event's
-- month is outside the scope, or (none covers it) no enrolment of the NIK is
-- in scope. The same answer for all, as GET /v1/participants/{nik}.
CREATE FUNCTION participant_events_unseen(p_kind text, p_code text, p_events jsonb)
RETURNS integer[] LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(x.idx ORDER BY x.idx), '{}')
    FROM jsonb_to_recordset(p_events) AS x(idx int, nik text, date date)
    WHERE NOT EXISTS (SELECT 1 FROM participants pa WHERE pa.nik = x.nik)
       OR NOT coalesce(
            (SELECT scope_allows_village(p_kind, p_code, e.village_code) FROM enrolments e
             WHERE e.nik = x.nik AND enrolment_months(e.start_month, e.end_month)
                   @> date_trunc('month', x.date)::date LIMIT 1),
            EXISTS (SELECT 1 FROM enrolments e WHERE e.nik = x.nik
                    AND scope_allows_village(p_kind, p_code, e.village_code)))
$$;

-- The stored results of a batch, as participant_events_receive returns them.
CREATE FUNCTION participant_events_results(p_batch uuid, p_outcome text)
RETURNS TABLE (outcome text, batch_id uuid, idx integer, event_id bigint, kind text,
               nik text, result text, code text, message text, enrolment_id bigint,
               new_enrolment_id bigint)
LANGUAGE sql STABLE AS $$
    SELECT p_outcome, pe.batch_id, pe.idx, pe.id, pe.kind, pe.nik, pe.result, pe.code,
           pe.message, pe.enrolment_id, pe.new_enrolment_id
    FROM participant_events pe WHERE pe.batch_id = p_batch ORDER BY pe.idx
$$;

-- End every active enrolment of the batch's unapplied events that covers
-- the event month (with that month, end_reason = the event's kind) or starts
-- after it (cancelled: ended the month before it starts, so it covers
-- nothing), and write each event's result in the same pass. Set-based: one
-- statement for any number of events, and each event row rewritten once.
CREATE FUNCTION participant_events_end(p_batch uuid)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    WITH ended AS (
        UPDATE enrolments e
        SET status = 'ended', end_reason = pe.kind, ended_at = now(),
            end_month = CASE WHEN e.start_month > pe.month
                             THEN (e.start_month - interval '1 month')::date
                             ELSE pe.month END
        FROM participant_events pe
        WHERE pe.batch_id = p_batch AND pe.result IS NULL
          AND e.nik = pe.nik AND e.status = 'active'
          AND (e.end_month IS NULL OR e.end_month >= pe.month)
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

-- Moves: a transfer (enrolment_transfer, 014) into the same programme when
-- the new village is one of its regency's and in the key's scope; otherwise
-- (another regency, outside the scope, or the transfer refused) an end with
-- 'moved' at the event month, and the message says why. One function call
-- per move: moves are few beside deaths and departures, and the transfer's
-- rules (quota locks, eligibility) live in 014 once.
CREATE FUNCTION participant_events_moves(p_batch uuid, p_kind text, p_code text,
                                         p_source text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    ev record;
    t record;
BEGIN
    FOR ev IN
        SELECT pe.id, pe.nik, pe.month, pe.to_village, e.id AS enrolment_id,
               e.village_code, p.code AS program_code, p.regency_code
        FROM participant_events pe
        JOIN enrolments e ON e.nik = pe.nik AND e.status = 'active'
             AND enrolment_months(e.start_month, e.end_month) @> pe.month
        JOIN programs p ON p.id = e.program_id
        WHERE pe.batch_id = p_batch AND pe.kind = 'moved' AND pe.result IS NULL
        ORDER BY pe.nik
    LOOP
        IF ev.to_village = ev.village_code THEN
            -- a move inside the village changes nothing lindung knows
            UPDATE participant_events
            SET result = 'refused', code = 'same_place',
                message = format('enrolment %s is already in village %s', ev.enrolment_id,
                                 ev.village_code)
            WHERE id = ev.id;
            CONTINUE;
        END IF;
        IF left(ev.to_village, 5) <> ev.regency_code
           OR NOT scope_allows_village(p_kind, p_code, ev.to_village) THEN
            UPDATE participant_events SET message = format(
                'no transfer: %s is not in programme %s''s regency or not in this key''s scope',
                ev.to_village, ev.program_code) WHERE id = ev.id;
            CONTINUE;
        END IF;
        SELECT * INTO t FROM enrolment_transfer(ev.nik, NULL, ev.to_village, ev.month,
                                                p_source);
        IF t.result = 'ok' THEN
            UPDATE participant_events
            SET result = 'applied', code = 'transferred', message = t.message,
                enrolment_id = t.old_enrolment_id, new_enrolment_id = t.new_enrolment_id
            WHERE id = ev.id;
        ELSE
            UPDATE participant_events SET message = format('no transfer (%s): %s',
                t.result, t.message) WHERE id = ev.id;
        END IF;
    END LOOP;
END $$;

-- Store and apply one batch, all in this one statement's transaction.
-- p_events: [{idx, kind, nik, date, reference, to_village, reason}], already
-- validated by intake (one event per NIK, dates not in the future).
-- Returns one row per event with outcome 'applied' (new batch), 'replay'
-- (same key, same events: the stored results), or a single row with outcome
-- 'conflict' (same key, other events) or 'not_found' (idx: the first index a
-- scope may not see; nothing stored).
CREATE FUNCTION participant_events_receive(p_batch uuid, p_key uuid, p_idem text,
                                           p_print text, p_request text, p_kind text,
                                           p_code text, p_events jsonb)
RETURNS TABLE (outcome text, batch_id uuid, idx integer, event_id bigint, kind text,
               nik text, result text, code text, message text, enrolment_id bigint,
               new_enrolment_id bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    old event_batches%ROWTYPE;
    hash bytea := sha256(convert_to(p_print, 'UTF8'));
    unseen integer[];
    inserted uuid;
BEGIN
    IF p_idem IS NOT NULL THEN
        SELECT * INTO old FROM event_batches b
        WHERE b.api_key_id = p_key AND b.idempotency_key = p_idem;
        IF FOUND THEN
            IF old.body_hash <> hash THEN
                RETURN QUERY SELECT 'conflict'::text, old.id, NULL::int, NULL::bigint,
                    NULL::text, NULL::text, NULL::text, NULL::text, NULL::text, NULL::bigint,
                    NULL::bigint;
                RETURN;
            END IF;
            RETURN QUERY SELECT * FROM participant_events_results(old.id, 'replay');
            RETURN;
        END IF;
    END IF;
    unseen := participant_events_unseen(p_kind, p_code, p_events);
    IF cardinality(unseen) > 0 THEN
        RETURN QUERY SELECT 'not_found'::text, NULL::uuid, unseen[1], NULL::bigint,
            NULL::text, NULL::text, NULL::text, NULL::text, NULL::text, NULL::bigint,
            NULL::bigint;
        RETURN;
    END IF;
    INSERT INTO event_batches (id, api_key_id, idempotency_key, body_hash, event_count,
                               request_id)
    VALUES (p_batch, p_key, p_idem, hash, jsonb_array_length(p_events), p_request)
    ON CONFLICT (api_key_id, idempotency_key) WHERE idempotency_key IS NOT NULL
    DO NOTHING RETURNING id INTO inserted;
    IF inserted IS NULL THEN
        -- the same key raced us and committed first: answer as a retry
        RETURN QUERY SELECT * FROM participant_events_receive(p_batch, p_key, p_idem,
            p_print, p_request, p_kind, p_code, p_events);
        RETURN;
    END IF;
    -- The people's rows, locked in NIK order: two batches about one person
    -- (or a correction) apply one after the other and never deadlock with
    -- each other. NO KEY: foreign-key checks of other tables still pass.
    PERFORM 1 FROM participants pa
    WHERE pa.nik IN (SELECT x.nik FROM jsonb_to_recordset(p_events) AS x(nik text))
    ORDER BY pa.nik FOR NO KEY UPDATE;
    INSERT INTO participant_events (batch_id, idx, kind, nik, event_date, month, reference,
                                    to_village, reason, api_key_id)
    SELECT p_batch, x.idx, x.kind, x.nik, x.date, date_trunc('month', x.date)::date,
           x.reference, x.to_village, x.reason, p_key
    FROM jsonb_to_recordset(p_events) AS x(idx int, kind text, nik text, date date,
                                           reference text, to_village text, reason text)
    ORDER BY x.idx;
    -- Refusals first: a dead person has no later events; moves and
    -- departures need an active enrolment covering their month.
    UPDATE participant_events pe
    SET result = 'refused',
        code = CASE WHEN pe.kind = 'death' THEN 'already_deceased' ELSE 'deceased' END,
        message = format('recorded as deceased on %s', to_char(pa.deceased_on, 'YYYY-MM-DD'))
    FROM participants pa
    WHERE pe.batch_id = p_batch AND pa.nik = pe.nik AND pa.deceased_on IS NOT NULL;
    UPDATE participant_events pe
    SET result = 'refused', code = 'not_covered',
        message = format('no active enrolment of this NIK covers %s',
                         to_char(pe.month, 'YYYY-MM'))
    WHERE pe.batch_id = p_batch AND pe.kind <> 'death' AND pe.result IS NULL
      AND NOT EXISTS (SELECT 1 FROM enrolments e
                      WHERE e.nik = pe.nik AND e.status = 'active'
                        AND enrolment_months(e.start_month, e.end_month) @> pe.month);
    -- Moves: a transfer where one is possible (the rest end below).
    PERFORM participant_events_moves(p_batch, p_kind, p_code, 'api:' || p_key::text);
    -- Every other event ends the person's cover with its month. For a death
    -- billing credits any later month already billed (016 marks the change).
    PERFORM participant_events_end(p_batch);
    -- A death with nothing left to end (reported after an end) is recorded.
    UPDATE participant_events pe
    SET result = 'applied', code = 'recorded',
        message = 'recorded as deceased; no active enrolment covers that month or later'
    WHERE pe.batch_id = p_batch AND pe.kind = 'death' AND pe.result IS NULL;
    -- (none in practice: the people's rows are locked and checked above)
    UPDATE participant_events pe
    SET result = 'refused', code = 'not_covered',
        message = format('no active enrolment of this NIK covers %s',
                         to_char(pe.month, 'YYYY-MM'))
    WHERE pe.batch_id = p_batch AND pe.result IS NULL;
    UPDATE participants pa SET deceased_on = pe.event_date, updated_at = now()
    FROM participant_events pe
    WHERE pe.batch_id = p_batch AND pe.kind = 'death' AND pe.result = 'applied'
      AND pa.nik = pe.nik;
    RETURN QUERY SELECT * FROM participant_events_results(p_batch, 'applied');
END $$;

-- A death reported in error (lindungctl event correct): recorded on the
-- event, deceased_on cleared, and the enrolments the death ended or
-- cancelled active again to their programme's coverage_end (NULL: open).
-- Billing bills the months again by itself (016 marks the change:
-- supplementary 'reinstated' lines, and months never billed).
-- Result 'ok', or a refusal that changed nothing:
--   not_found       no such event
--   not_a_death     only a death can be corrected this way
--   not_applied     the death was refused, nothing to undo
--   corrected       already corrected
--   changed         an enrolment it ended was changed since (moved, ended again)
--   conflict        the restored months would overlap another enrolment
CREATE FUNCTION participant_event_correct(p_event bigint, p_reason text, p_source text)
RETURNS TABLE (result text, message text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    ev participant_events%ROWTYPE;
    ids bigint[];
    n integer;
BEGIN
    SELECT * INTO ev FROM participant_events WHERE id = p_event;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found'::text, format('no event %s', p_event);
        RETURN;
    END IF;
    PERFORM 1 FROM participants WHERE nik = ev.nik FOR NO KEY UPDATE;
    SELECT * INTO ev FROM participant_events WHERE id = p_event FOR UPDATE;
    IF ev.kind <> 'death' THEN
        RETURN QUERY SELECT 'not_a_death'::text,
            format('event %s is a %s; only a death reported in error is corrected here',
                   p_event, ev.kind);
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
        UPDATE enrolments e
        SET status = 'active', end_month = p.coverage_end, end_reason = NULL, ended_at = NULL
        FROM programs p
        WHERE e.id = ANY (ids) AND p.id = e.program_id;
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
                    THEN format('; enrolment(s) %s active again', array_to_string(ids, ', '))
                    ELSE '' END);
END $$;
