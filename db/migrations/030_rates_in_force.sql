-- 030_rates_in_force: the premium rates and reliefs in force for a month in
-- one place (issue 17, item 5). Until now they were chosen twice: in SQL by
-- accrual_premiums() (013), for billing, and again in C by `lindungctl
-- rates` (its own queries, and the largest relief per component picked in a
-- loop). Both now read these functions:
--
--   premium_adjustments_in_force(month, transport)  the reliefs in force
--   rates_in_force(month, transport)                the JKK and JKM rates
--                                                   and the relief per
--                                                   component (the largest)
--
-- A month is its first day. transport: the sector of the person (occupations.
-- transport); a relief for the transport sector only applies to it, one for
-- every sector (sector NULL) to everybody. Whether a programme passes relief
-- on (programs.relief_applies) is the caller's question: accrual_premiums()
-- asks it, `lindungctl rates` shows both answers.
--
-- Both are plain SQL functions, STABLE and not STRICT, so that PostgreSQL
-- inlines them into the statement that calls them and plans that as before:
-- accrual_premiums() keeps its shape (the rates as one small relation per
-- sector, joined to programmes, then to enrolments) and its arithmetic.

CREATE OR REPLACE FUNCTION premium_adjustments_in_force(p_period date, p_transport boolean)
RETURNS TABLE (id integer, name text, sector text, off_bp integer, applies_jkk boolean,
               applies_jkm boolean, first_month date, last_month date, note text)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT a.id, a.name, a.sector, a.off_bp, a.applies_jkk, a.applies_jkm, a.first_month,
           a.last_month, a.note
    FROM premium_adjustments a
    WHERE a.first_month <= p_period AND a.last_month >= p_period
      AND (a.sector IS NULL OR (a.sector = 'transport' AND p_transport))
$$;

-- One row when both components have a rate in force for the month, none
-- otherwise (a month before the first rate bills nothing).
CREATE OR REPLACE FUNCTION rates_in_force(p_period date, p_transport boolean)
RETURNS TABLE (jkk_income_bp integer, min_income bigint, jkk_since date,
               jkm_flat_amount bigint, jkm_since date, jkk_off_bp integer,
               jkm_off_bp integer)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT jkk.income_bp, jkk.min_income, jkk.effective_month,
           jkm.flat_amount, jkm.effective_month,
           adj.jkk_off_bp, adj.jkm_off_bp
    FROM (SELECT income_bp, min_income, effective_month FROM premium_rates
          WHERE component = 'JKK' AND effective_month <= p_period
          ORDER BY effective_month DESC LIMIT 1) jkk
    CROSS JOIN (SELECT flat_amount, effective_month FROM premium_rates
                WHERE component = 'JKM' AND effective_month <= p_period
                ORDER BY effective_month DESC LIMIT 1) jkm
    CROSS JOIN (SELECT coalesce(max(a.off_bp) FILTER (WHERE a.applies_jkk), 0) AS jkk_off_bp,
                       coalesce(max(a.off_bp) FILTER (WHERE a.applies_jkm), 0) AS jkm_off_bp
                FROM premium_adjustments_in_force(p_period, p_transport) a) adj
$$;

COMMENT ON FUNCTION premium_adjustments_in_force(date, boolean) IS
    'The premium reliefs (premium_adjustments) in force in a month (its first day) for '
    'a person of the transport sector or not; rates_in_force() takes the largest per '
    'component, `lindungctl rates` lists them.';
COMMENT ON FUNCTION rates_in_force(date, boolean) IS
    'The JKK and JKM rates in force in a month (its first day), each with the month it '
    'took effect, and the relief off each (basis points, the largest in force for the '
    'sector; 0 when none): one row, or none before the first rates. Read by '
    'accrual_premiums() and `lindungctl rates`; whether a programme passes relief on '
    '(programs.relief_applies) is the caller''s question.';

-- billing calls accrual_premiums(), which calls these with billing's rights.
GRANT EXECUTE ON FUNCTION premium_adjustments_in_force(date, boolean),
                          rates_in_force(date, boolean)
    TO lindung_billing;

-- The premium rule of 013, its rates and reliefs now from rates_in_force():
-- the same rows, the same arithmetic (docs/billing.md). One call per sector,
-- neither referring to anything outside it, so that each is planned once
-- (two rows in all, as 013's adj), not again for every enrolment; the rates
-- then join the programmes before the enrolments.
CREATE OR REPLACE FUNCTION accrual_premiums(p_period date)
RETURNS TABLE (enrolment_id bigint, funding_source text, payer_code text,
               jkk bigint, jkm bigint)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH r AS (SELECT false AS transport, f.* FROM rates_in_force(p_period, false) f
               UNION ALL
               SELECT true, f.* FROM rates_in_force(p_period, true) f),
         rel AS (SELECT p.id AS program_id, r.transport, p.insured_income,
                        p.income_ceiling, r.jkk_income_bp, r.min_income,
                        r.jkm_flat_amount,
                        CASE WHEN p.relief_applies THEN r.jkk_off_bp ELSE 0 END AS jkk_off,
                        CASE WHEN p.relief_applies THEN r.jkm_off_bp ELSE 0 END AS jkm_off
                 FROM programs p CROSS JOIN r
                 WHERE (p.coverage_end IS NULL OR p.coverage_end >= p_period)
                   AND p.coverage_start <= p_period)
    SELECT e.id, e.funding_source, e.payer_code, c.jkk, c.jkm
    FROM enrolments e
    JOIN rel ON rel.program_id = e.program_id AND rel.transport = e.transport
    CROSS JOIN LATERAL (SELECT CASE WHEN rel.income_ceiling IS NULL THEN rel.insured_income
                                    ELSE least(e.declared_income, rel.income_ceiling)
                               END AS basis) b
    CROSS JOIN LATERAL (SELECT
        ((greatest(b.basis, rel.min_income) * rel.jkk_income_bp + 5000) / 10000
          * (10000 - rel.jkk_off) + 5000) / 10000 AS jkk,
        (rel.jkm_flat_amount * (10000 - rel.jkm_off) + 5000) / 10000 AS jkm) c
    WHERE e.start_month <= p_period AND (e.end_month IS NULL OR e.end_month >= p_period)
$$;
