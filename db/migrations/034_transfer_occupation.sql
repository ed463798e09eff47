-- 034_transfer_occupation: a transfer (or a move) into another programme
-- reads the person's occupation as verify does. 014 compared the text with
-- the code's digits, so "09", which verify accepts as code 9 (PETANI/
-- PEKEBUN), was "not one programme X covers" and the transfer refused (a
-- review found it); white space other than blanks was not ignored either.

CREATE OR REPLACE FUNCTION enrolment_transfer_ineligible(p_program integer, p_enrolment bigint,
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
        -- as verify reads it (services/verify/verifier.c, resolve_occupation):
        -- surrounding white space ignored; 1 to 3 digits are a code ("09" is
        -- 9); otherwise a name, in any case
        occ := btrim(occ, E' \t\n\r\f\v');
        SELECT o.code INTO occ_code FROM occupations o
        WHERE CASE WHEN occ ~ '^[0-9]{1,3}$' THEN o.code = occ::integer
                   ELSE upper(o.name) = upper(occ) END
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
