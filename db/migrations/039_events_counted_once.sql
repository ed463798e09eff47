-- 039_events_counted_once: intake's lindung_events_total counted a part's
-- events when its own call of participant_events_apply applied them. When
-- that call outlived the answer timeout (LINDUNG_DB_ANSWER_TIMEOUT_S: intake
-- closes the session, and the server finishes and commits the apply), or
-- the session was lost after the commit, no later call applied anything,
-- and the events were never counted (a review found it). Now a part's
-- counting is claimed in the database, once, by whichever intake asks
-- first after the part is applied: the request, a retry, or intake's sweep
-- (participant_events_count).

ALTER TABLE event_batches ADD COLUMN counted_parts smallint NOT NULL DEFAULT 0;
-- batches before 039 were counted as they were applied, or never will be
UPDATE event_batches SET counted_parts = CASE parts WHEN 2 THEN 3 ELSE 1 END;
COMMENT ON COLUMN event_batches.counted_parts IS
    'Parts (bit 0: part 0, bit 1: part 1) whose events intake has counted in '
    'lindung_events_total (039).';
CREATE INDEX event_batches_uncounted_idx ON event_batches (received_at)
    WHERE counted_parts <> CASE parts WHEN 2 THEN 3 ELSE 1 END;
COMMENT ON INDEX event_batches_uncounted_idx IS
    'Batches with a part whose events intake has not counted yet (039).';

-- The events of one applied part, per kind and result, for the caller to
-- count: once. No rows when the part is not wholly applied yet, or was
-- counted already (by this or another intake).
CREATE FUNCTION participant_events_count(p_batch uuid, p_part smallint)
RETURNS TABLE (kind text, result text, events bigint)
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE event_batches b SET counted_parts = b.counted_parts | (1 << p_part)
    WHERE b.id = p_batch AND b.counted_parts & (1 << p_part) = 0
      AND NOT EXISTS (SELECT 1 FROM participant_events pe
                      WHERE pe.batch_id = p_batch AND pe.part = p_part
                        AND pe.result IS NULL);
    IF NOT FOUND THEN
        RETURN;
    END IF;
    RETURN QUERY SELECT pe.kind, pe.result, count(*) FROM participant_events pe
                 WHERE pe.batch_id = p_batch AND pe.part = p_part
                 GROUP BY pe.kind, pe.result;
END $$;
ALTER FUNCTION participant_events_count(uuid, smallint)
    SECURITY DEFINER SET search_path = public, pg_temp;
REVOKE ALL ON FUNCTION participant_events_count(uuid, smallint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION participant_events_count(uuid, smallint) TO lindung_intake;
COMMENT ON FUNCTION participant_events_count(uuid, smallint) IS
    'lindung_events_total: an applied part''s events per kind and result, claimed once (039).';
