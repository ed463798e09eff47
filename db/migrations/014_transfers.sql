-- 014_transfers: a participant who moves to another village (of the same
-- programme or another one) is ended in month M and continues from M+1, in
-- one operation: no gap, no overlap (issue 13, "Transfers"; docs/programs.md,
-- "Transfers"). Operators call it through `lindungctl enrolment transfer`;
-- the API for villages' reports (the life-events issue) is to call the same
-- function, so the rules live here once.

-- Who moved whom and when: the enrolments themselves say what continues what
-- (previous_enrolment_id, 013); this says who asked, for the audit trail.
CREATE TABLE enrolment_transfers (
    old_enrolment_id bigint PRIMARY KEY REFERENCES enrolments (id),
    new_enrolment_id bigint NOT NULL UNIQUE REFERENCES enrolments (id),
    month            date NOT NULL CHECK (extract(day FROM month) = 1),  -- M, the last old month
    source           text NOT NULL,   -- 'lindungctl', later the API key of a report
    created_at       timestamptz NOT NULL DEFAULT now()
);

-- Why a person cannot join programme p in month p_first, or NULL when they
-- can: the programme's age limits (age on that month, as verify judges a new
-- applicant on their own first month), its occupations (the original
-- applicant's occupation text, as a Dukcapil code or name) and its poverty
-- reference. Only for a move into another programme: within a programme the
-- person was already judged by its rules.
CREATE FUNCTION enrolment_transfer_ineligible(p_program integer, p_enrolment bigint,
                                              p_first date) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    prog programs%ROWTYPE;
    born date;
    years integer;
    occ text;
    occ_code integer;
    poverty text;
BEGIN
    SELECT * INTO prog FROM programs WHERE id = p_program;
    SELECT pa.birth_date INTO born
    FROM enrolments e JOIN participants pa ON pa.nik = e.nik WHERE e.id = p_enrolment;
    years := date_part('year', age(p_first, born))::integer;
    IF prog.max_age IS NOT NULL AND years > prog.max_age THEN
        RETURN format('aged %s on %s; programme %s takes people up to %s', years,
                      to_char(p_first, 'YYYY-MM'), prog.code, prog.max_age);
    END IF;
    IF prog.min_age IS NOT NULL AND years < prog.min_age THEN
        RETURN format('aged %s on %s; programme %s takes people from %s', years,
                      to_char(p_first, 'YYYY-MM'), prog.code, prog.min_age);
    END IF;
    SELECT a.occupation, a.poverty_ref INTO occ, poverty
    FROM applicants a WHERE a.id = enrolment_applicant(p_enrolment);
    IF cardinality(prog.occupations) > 0 THEN
        SELECT o.code INTO occ_code FROM occupations o
        WHERE o.code::text = btrim(occ) OR upper(o.name) = upper(btrim(occ))
        ORDER BY o.code LIMIT 1;
        IF occ_code IS NULL OR NOT (occ_code = ANY (prog.occupations)) THEN
            RETURN format('occupation %s is not one programme %s covers',
                          coalesce(occ, 'unknown'), prog.code);
        END IF;
    END IF;
    IF prog.poverty_ref_required AND coalesce(btrim(poverty), '') = '' THEN
        RETURN format('programme %s needs a poverty reference (Musdes, DTKS, P3KE) and '
                      'the enrolment has none', prog.code);
    END IF;
    RETURN NULL;
END $$;

-- Quota places left for one more enrolment of programme p_program in
-- p_village, after taking verify's quota locks (services/verify/verifier.c,
-- SQL_LOCK_TOTAL and SQL_LOCK_VILLAGE, same keys and order: total, then
-- village), so a transfer and a verify batch can never both take the last
-- place. The total is counted only for a move into another programme: within
-- one, the old enrolment's place is freed as the new one takes it. NULL when
-- there is room, else the reason.
CREATE FUNCTION enrolment_transfer_quota(p_program integer, p_village text,
                                         p_count_total boolean) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    prog programs%ROWTYPE;
    n bigint;
BEGIN
    SELECT * INTO prog FROM programs WHERE id = p_program;
    IF prog.total_quota IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock(-(p_program::bigint));
        IF p_count_total THEN
            SELECT count(*) INTO n FROM enrolments
            WHERE program_id = p_program AND status = 'active';
            IF n >= prog.total_quota THEN
                RETURN format('programme %s is full: %s of %s places taken', prog.code, n,
                              prog.total_quota);
            END IF;
        END IF;
    END IF;
    PERFORM pg_advisory_xact_lock((p_program::bigint << 32)
                                  | (hashtext(p_village)::bigint & 4294967295));
    IF prog.village_quota IS NOT NULL THEN
        SELECT count(*) INTO n FROM enrolments
        WHERE program_id = p_program AND village_code = p_village AND status = 'active';
        IF n >= prog.village_quota THEN
            RETURN format('village %s is full in programme %s: %s of %s places taken',
                          p_village, prog.code, n, prog.village_quota);
        END IF;
    END IF;
    RETURN NULL;
END $$;

-- Move the NIK's enrolment that covers month p_month (M) to village
-- p_village of programme p_program (NULL: the same programme): the old
-- enrolment ends in M ('ended', 'moved'), a new one continues from M+1 to the
-- target programme's coverage_end, with the payer and funding source of the
-- target (program_payer), the declared income and sector copied, and
-- previous_enrolment_id naming the old one. p_month NULL is the current month
-- in Asia/Jakarta; callers (lindungctl) default to the same. p_source says
-- who asked (kept in enrolment_transfers).
--
-- Everything or nothing: result 'ok' with both ids, or a refusal that changed
-- nothing, with a message for people:
--   not_found         no active enrolment of the NIK covers M
--   unknown_program   p_program names no programme
--   same_place        same programme and village
--   unknown_village   not a village of the target programme's regency
--   not_a_desa        a kelurahan, for an ADD or APBDES programme
--   outside_coverage  M+1 is outside the target's coverage_start..coverage_end
--   not_eligible      another programme whose age limits (on M+1), occupations
--                     or poverty reference exclude the person
--   already_billed    the old enrolment has lines for months after M: move
--                     from the last billed month or later
--   quota_exceeded    the target village's or programme's quota is full
--   conflict          the new months would overlap another enrolment of the
--                     NIK (enrolments_one_cover_per_month)
-- The old enrolment's row is locked first, so two transfers of one NIK run
-- one after the other: the second finds it ended and answers not_found.
CREATE FUNCTION enrolment_transfer(p_nik text, p_program text, p_village text,
                                   p_month date, p_source text)
RETURNS TABLE (result text, old_enrolment_id bigint, new_enrolment_id bigint,
               message text)
LANGUAGE plpgsql AS $$
DECLARE
    m date := date_trunc('month', coalesce(p_month, (now() AT TIME ZONE 'Asia/Jakarta')::date)
                                  ::timestamp)::date;
    first_new date := (m + interval '1 month')::date;
    cur enrolments%ROWTYPE;
    old_code text;
    tgt programs%ROWTYPE;
    village text;
    kind text;
    why text;
    billed date;
    new_id bigint;
BEGIN
    SELECT * INTO cur FROM enrolments e
    WHERE e.nik = p_nik AND e.status = 'active' AND e.start_month <= m
      AND (e.end_month IS NULL OR e.end_month >= m)
    FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found'::text, NULL::bigint, NULL::bigint,
            format('no active enrolment of this NIK covers %s', to_char(m, 'YYYY-MM'));
        RETURN;
    END IF;
    SELECT code INTO old_code FROM programs WHERE id = cur.program_id;
    IF p_program IS NULL THEN
        SELECT * INTO tgt FROM programs WHERE id = cur.program_id;
    ELSE
        SELECT * INTO tgt FROM programs WHERE code = p_program;
    END IF;
    village := coalesce(p_village, cur.village_code);
    IF tgt.id IS NULL THEN
        result := 'unknown_program';
        message := format('no programme %s', p_program);
    ELSIF tgt.id = cur.program_id AND village = cur.village_code THEN
        result := 'same_place';
        message := format('enrolment %s is already in programme %s, village %s', cur.id,
                          old_code, village);
    END IF;
    IF result IS NULL THEN
        SELECT r.village_kind INTO kind FROM regions r
        WHERE r.code = village AND r.level = 'village' AND r.regency_code = tgt.regency_code;
        IF NOT FOUND THEN
            result := 'unknown_village';
            message := format('%s is not a village of programme %s (regency %s)', village,
                              tgt.code, tgt.regency_code);
        ELSIF tgt.funding_source IN ('ADD', 'APBDES') AND kind = 'kelurahan' THEN
            result := 'not_a_desa';
            message := format('%s is a kelurahan: it has no %s to pay programme %s',
                              village, CASE tgt.funding_source WHEN 'ADD' THEN 'ADD'
                                                               ELSE 'APBDes' END, tgt.code);
        ELSIF first_new < tgt.coverage_start OR first_new > tgt.coverage_end THEN
            result := 'outside_coverage';
            message := format('programme %s covers %s to %s; %s is outside it', tgt.code,
                              to_char(tgt.coverage_start, 'YYYY-MM'),
                              coalesce(to_char(tgt.coverage_end, 'YYYY-MM'), 'open end'),
                              to_char(first_new, 'YYYY-MM'));
        END IF;
    END IF;
    IF result IS NULL AND tgt.id <> cur.program_id THEN
        why := enrolment_transfer_ineligible(tgt.id, cur.id, first_new);
        IF why IS NOT NULL THEN
            result := 'not_eligible';
            message := why;
        END IF;
    END IF;
    IF result IS NULL THEN
        SELECT max(a.period) INTO billed FROM accruals a
        WHERE a.enrolment_id = cur.id AND a.period > m;
        IF billed IS NOT NULL THEN
            result := 'already_billed';
            message := format('enrolment %s is billed up to %s; move it from %s or later '
                              '(months billed are corrected by billing, not by a move)',
                              cur.id, to_char(billed, 'YYYY-MM'), to_char(billed, 'YYYY-MM'));
        END IF;
    END IF;
    IF result IS NULL THEN
        why := enrolment_transfer_quota(tgt.id, village, tgt.id <> cur.program_id);
        IF why IS NOT NULL THEN
            result := 'quota_exceeded';
            message := why;
        END IF;
    END IF;
    IF result IS NOT NULL THEN
        RETURN QUERY SELECT result, cur.id, NULL::bigint, message;
        RETURN;
    END IF;
    BEGIN
        UPDATE enrolments SET status = 'ended', end_month = m, end_reason = 'moved',
                              ended_at = now()
        WHERE id = cur.id;
        INSERT INTO enrolments (nik, program_id, village_code, applicant_id,
                                previous_enrolment_id, funding_source, payer_code,
                                declared_income, transport, start_month, end_month)
        VALUES (cur.nik, tgt.id, village, NULL, cur.id, tgt.funding_source,
                program_payer(tgt.id, village), cur.declared_income, cur.transport, first_new,
                tgt.coverage_end)
        RETURNING id INTO new_id;
        INSERT INTO enrolment_transfers (old_enrolment_id, new_enrolment_id, month, source)
        VALUES (cur.id, new_id, m, coalesce(p_source, 'unknown'));
    EXCEPTION WHEN exclusion_violation THEN
        RETURN QUERY SELECT 'conflict'::text, cur.id, NULL::bigint,
            format('the months from %s would overlap another enrolment of this NIK (a '
                   'renewal or a later enrolment): end or move that one first',
                   to_char(first_new, 'YYYY-MM'));
        RETURN;
    END;
    RETURN QUERY SELECT 'ok'::text, cur.id, new_id,
        format('enrolment %s (programme %s, village %s) ends %s (moved); enrolment %s '
               'continues from %s in programme %s, village %s, paid by %s %s',
               cur.id, old_code, cur.village_code, to_char(m, 'YYYY-MM'), new_id,
               to_char(first_new, 'YYYY-MM'), tgt.code, village, tgt.funding_source,
               program_payer(tgt.id, village));
END $$;
