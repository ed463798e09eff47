-- 033_event_scope_and_late_deaths: two faults in applying life events that
-- a review found (ninth session; docs/lifecycle.md).
--
-- 1. Scope. When no enrolment covers an event's month, 017 let any key that
--    sees one enrolment of the person (an old, ended one) report it; a death
--    then cancelled the person's active enrolments wherever they were. A key
--    that once covered someone could end their enrolment in another regency
--    by dating a death in a gap month. Now, when no enrolment covers the
--    month, the key must also see every active enrolment the event would
--    change (any covering a later month); otherwise the NIK is unseen: 404,
--    as for an unknown NIK.
--
-- 2. A death reported after the enrolment covering its month had ended
--    (moved with a transfer, or left) did not reach it: only active
--    enrolments were ended, so the months after the death stayed covered
--    and billed on the ended enrolment, and no JKM claim was opened. A death
--    now also shortens an ended enrolment (not one ended by death, lapse,
--    BPJS's refusal or its programme's end) that still covers a month after
--    the death: it ends with the death month and reason 'death', its later
--    months are credited by billing, and the claim opens on it. Later
--    enrolments (the transfer's continuation) are cancelled as before.
--    Departures and moves still act on active enrolments only.

CREATE OR REPLACE FUNCTION participant_events_unseen(p_kind text, p_code text, p_events jsonb)
RETURNS integer[] LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(x.idx ORDER BY x.idx), '{}')
    FROM jsonb_to_recordset(p_events) AS x(idx int, nik text, date date)
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
$$;

-- As 017's, but a death also ends (shortens, or cancels) an enrolment ended
-- by a move or a departure that still covers a month at or after the death.
CREATE OR REPLACE FUNCTION participant_events_end(p_batch uuid)
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
