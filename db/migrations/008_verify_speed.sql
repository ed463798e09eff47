-- 008_verify_speed: less work per decision in lindung-verify (issue #4,
-- docs/benchmarks.md "Verify"). Measured with pg_stat_statements on the
-- verify benchmark; every rule the database enforced before it still enforces.

-- 1. Decisions as HOT updates. verify sets decision, reasons and warnings of
-- every applicant of a submission in one transaction, so the old row versions
-- cannot be pruned while the new ones are written: the page needs room for a
-- whole second copy of each row, which grows from about 140 to 150-400 bytes
-- (reasons and warnings as JSON). At fillfactor 70 only one update in seven
-- stayed on its page; the others inserted into all three applicant indexes,
-- one of them (applicants_nik_idx) at a random place. Fillfactor 40 leaves
-- room for rows without warnings (the usual case) and for most with them. It
-- applies to pages filled from now on.
ALTER TABLE applicants SET (fillfactor = 40);

-- 2. One NIK index, not two. enrolments_nik_idx (003) held every enrolment's
-- NIK, and enrolments_one_active_idx (001) already holds the active ones, so
-- each accepted applicant paid for two inserts at random places in two
-- equally large trees. The readers of a NIK's whole history (intake's
-- participant read, lindungctl enrolment history, lindungctl participants)
-- now ask for status = 'active' OR status = 'ended', which the planner answers
-- with a BitmapOr of the active index and this index of ended enrolments;
-- status can hold nothing else (CHECK in 001).
CREATE INDEX enrolments_ended_nik_idx ON enrolments (nik) WHERE status = 'ended';
DROP INDEX enrolments_nik_idx;

-- 3. Reference checks once per statement instead of once per row. The two
-- foreign keys of enrolments (nik -> participants, applicant_id -> applicants)
-- each ran a query and took a row lock (a WAL record and a dirtied page) per
-- enrolment: about 40% of verify's enrolment INSERT. The same guarantee, set
-- based:
--   * after each INSERT into enrolments, one query checks every new row has its
--     participant and its applicant;
--   * an enrolment's nik and applicant_id never change;
--   * participants and applicants are never deleted and their keys never
--     change (nothing in lindung does either; an enrolment's history and the
--     decisions are the record).
-- With the referenced rows permanent, a check at insert time holds for ever,
-- so no row lock is needed. TRUNCATE stays possible for tests and benchmarks,
-- as with any table.
ALTER TABLE enrolments DROP CONSTRAINT IF EXISTS enrolments_nik_fkey,
                       DROP CONSTRAINT IF EXISTS enrolments_applicant_id_fkey;

CREATE FUNCTION enrolments_check_refs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- LIMIT 1 in the lateral subqueries keeps them apart from the outer query,
    -- so each new row is one index probe whatever the planner guesses of the
    -- transition table's size (never a scan of a large table).
    IF EXISTS (SELECT 1 FROM new_enrolments n
               LEFT JOIN LATERAL (SELECT 1 AS hit FROM participants p
                                  WHERE p.nik = n.nik LIMIT 1) p ON true
               LEFT JOIN LATERAL (SELECT 1 AS hit FROM applicants a
                                  WHERE a.id = n.applicant_id LIMIT 1) a ON true
               WHERE p.hit IS NULL OR a.hit IS NULL) THEN
        RAISE EXCEPTION 'enrolment without its participant or applicant'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER enrolments_refs AFTER INSERT ON enrolments
    REFERENCING NEW TABLE AS new_enrolments
    FOR EACH STATEMENT EXECUTE FUNCTION enrolments_check_refs();

CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'foreign_key_violation';
END $$;

CREATE TRIGGER enrolments_refs_fixed BEFORE UPDATE OF nik, applicant_id ON enrolments
    FOR EACH ROW WHEN (NEW.nik IS DISTINCT FROM OLD.nik
                       OR NEW.applicant_id IS DISTINCT FROM OLD.applicant_id)
    EXECUTE FUNCTION refuse_change('an enrolment''s nik and applicant_id do not change');
CREATE TRIGGER participants_kept BEFORE DELETE ON participants
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change('participants are never deleted');
CREATE TRIGGER participants_nik_fixed BEFORE UPDATE OF nik ON participants
    FOR EACH ROW WHEN (NEW.nik IS DISTINCT FROM OLD.nik)
    EXECUTE FUNCTION refuse_change('a participant''s nik does not change');
CREATE TRIGGER applicants_kept BEFORE DELETE ON applicants
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change('applicants are never deleted');
CREATE TRIGGER applicants_id_fixed BEFORE UPDATE OF id ON applicants
    FOR EACH ROW WHEN (NEW.id IS DISTINCT FROM OLD.id)
    EXECUTE FUNCTION refuse_change('an applicant''s id does not change');
