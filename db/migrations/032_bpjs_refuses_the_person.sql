-- 032_bpjs_refuses_the_person: a refusal in BPJS's answer applies to every
-- enrolment of the NIK still pending at BPJS, and a second import of the
-- same answer changes nothing (a review found both wrong; docs/lifecycle.md,
-- "BPJS's answer").
--
-- 019 matched a row to the latest enrolment not refused. When a person had
-- two pending enrolments (moved before BPJS answered, or a renewal waiting
-- for next year), a refusal ended only the latest: the earlier one, which
-- covered the months already billed, stayed billed although BPJS covers
-- nobody it refused; and importing the same file again (or the same row in
-- another file) found the earlier one "latest not refused" and refused it
-- then, so a replay was not a no-op.
--
-- Now a refusal ends every pending enrolment of the NIK (each covering no
-- month, so billing credits all their billed months), and a row whose NIK's
-- newest answered enrolment is already refused is 'already' before anything
-- else is looked at. Registrations are unchanged: the latest enrolment not
-- refused gets the KPJ (a transfer's continuation inherits it, 019).
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
