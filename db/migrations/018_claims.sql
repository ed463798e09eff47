-- 018_claims: the claims register (issue 14; docs/lifecycle.md, "Claims").
--   1. Benefit amounts are data with the month they take effect, like
--      premium rates: the JKM death benefit, Rp 42,000,000 (PP 82/2019).
--   2. A claim is a JKM (death) or JKK (work accident) claim on one
--      enrolment. It moves reported -> filed (with BPJS) -> paid | refused;
--      a JKM claim of a death reported in error is withdrawn. Every step is
--      kept with its date and amount (claim_steps).
--   3. The death of a participant opens its JKM claim in the database, so
--      every way a death is recorded (the events API, lindungctl, SQL) opens
--      it, exactly once; undoing the death withdraws the claim if unpaid.
--   4. Reports: claims per programme, regency and month, and the loss ratio
--      (claims paid against premiums billed and paid).
-- Not the death itself (the life events code ends the enrolment).

-- 1. Benefits.
CREATE TABLE claim_benefits (
    kind            text NOT NULL CHECK (kind IN ('JKM')),
    effective_month date NOT NULL CHECK (extract(day FROM effective_month) = 1),
    amount          bigint NOT NULL CHECK (amount > 0),
    note            text,
    PRIMARY KEY (kind, effective_month)
);
COMMENT ON TABLE claim_benefits IS
    'Fixed benefit amounts by kind and the month they take effect; the one in force for a '
    'month is the latest effective_month not after it.';
COMMENT ON COLUMN claim_benefits.kind IS 'JKM: the death benefit (JKK benefits are what was spent, claimed per case).';
COMMENT ON COLUMN claim_benefits.effective_month IS 'First day of the first month the amount applies to.';
COMMENT ON COLUMN claim_benefits.amount IS 'Whole rupiah.';
COMMENT ON COLUMN claim_benefits.note IS 'Legal source.';

-- PP 82/2019 (in force 2 December 2019): JKM Rp 42,000,000 (Rp 20,000,000
-- lump sum, Rp 10,000,000 funeral, Rp 12,000,000 periodic). The scholarship
-- for children is paid on top and is recorded as the amount paid.
INSERT INTO claim_benefits (kind, effective_month, amount, note)
VALUES ('JKM', '2019-12-01', 42000000, 'PP 82/2019: JKM Rp 42,000,000');

CREATE FUNCTION claim_benefit(p_kind text, p_on date) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT amount FROM claim_benefits
    WHERE kind = p_kind AND effective_month <= date_trunc('month', p_on)::date
    ORDER BY effective_month DESC LIMIT 1
$$;

-- 2. Claims.
CREATE TABLE claims (
    id             bigserial PRIMARY KEY,
    kind           text NOT NULL CHECK (kind IN ('JKM', 'JKK')),
    enrolment_id   bigint NOT NULL REFERENCES enrolments (id),
    nik            text NOT NULL,
    program_id     integer NOT NULL,
    village_code   text NOT NULL,
    regency_code   text NOT NULL,
    event_date     date NOT NULL,
    accident_kind  text CHECK ((kind = 'JKK') = (accident_kind IS NOT NULL)),
    amount_claimed bigint NOT NULL CHECK (amount_claimed > 0 AND amount_claimed <= 1000000000000),
    amount_paid    bigint CHECK (amount_paid > 0 AND amount_paid <= 1000000000000),
    status         text NOT NULL DEFAULT 'reported'
                   CHECK (status IN ('reported', 'filed', 'paid', 'refused', 'withdrawn')),
    status_on      date NOT NULL,
    source         text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'paid') = (amount_paid IS NOT NULL))
);
-- One JKM claim per enrolment, whatever happens to the death afterwards: a
-- death undone and recorded again reopens the same claim.
CREATE UNIQUE INDEX claims_one_jkm_idx ON claims (enrolment_id) WHERE kind = 'JKM';
CREATE INDEX claims_regency_idx ON claims (regency_code, id);
CREATE INDEX claims_village_idx ON claims (village_code, id);
CREATE INDEX claims_nik_idx ON claims (nik);
-- Open claims, for the age metric.
CREATE INDEX claims_open_idx ON claims (created_at) WHERE status IN ('reported', 'filed');

COMMENT ON TABLE claims IS
    'The claims register: one JKM (death) or JKK (work accident) claim on one enrolment, '
    'with its current status; claim_steps has every step.';
COMMENT ON COLUMN claims.id IS 'Claim number.';
COMMENT ON COLUMN claims.kind IS 'JKM (death) or JKK (work accident).';
COMMENT ON COLUMN claims.enrolment_id IS 'The enrolment that covered the event month.';
COMMENT ON COLUMN claims.nik IS 'The participant (the deceased or the injured worker).';
COMMENT ON COLUMN claims.program_id IS 'The enrolment''s programme, copied for reports.';
COMMENT ON COLUMN claims.village_code IS 'The enrolment''s village, copied for scoping.';
COMMENT ON COLUMN claims.regency_code IS 'PP.RR of the village, for scoping and reports.';
COMMENT ON COLUMN claims.event_date IS 'Date of death (JKM) or of the accident (JKK).';
COMMENT ON COLUMN claims.accident_kind IS 'JKK only: what happened, as reported.';
COMMENT ON COLUMN claims.amount_claimed IS 'Whole rupiah: the JKM benefit in force in the death month, or the JKK amount claimed.';
COMMENT ON COLUMN claims.amount_paid IS 'Whole rupiah BPJS paid; set when and only when status is paid.';
COMMENT ON COLUMN claims.status IS 'reported, filed (with BPJS), paid, refused, or withdrawn (a death reported in error).';
COMMENT ON COLUMN claims.status_on IS 'Date of the step that gave the current status.';
COMMENT ON COLUMN claims.source IS 'Who opened it: api:<key id>, lindungctl, or death (opened by the database on a death).';
COMMENT ON COLUMN claims.created_at IS 'When the claim was recorded.';
COMMENT ON COLUMN claims.updated_at IS 'When its status last changed.';

CREATE TABLE claim_steps (
    id         bigserial PRIMARY KEY,
    claim_id   bigint NOT NULL REFERENCES claims (id),
    status     text NOT NULL
               CHECK (status IN ('reported', 'filed', 'paid', 'refused', 'withdrawn')),
    on_date    date NOT NULL,
    amount     bigint CHECK (amount > 0),
    note       text,
    source     text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX claim_steps_claim_idx ON claim_steps (claim_id, id);
COMMENT ON TABLE claim_steps IS 'Every step of every claim, in order: the claim''s history.';
COMMENT ON COLUMN claim_steps.id IS 'Step number, in the order recorded.';
COMMENT ON COLUMN claim_steps.claim_id IS 'The claim.';
COMMENT ON COLUMN claim_steps.status IS 'The status the step gave the claim.';
COMMENT ON COLUMN claim_steps.on_date IS 'When it happened (not when it was recorded).';
COMMENT ON COLUMN claim_steps.amount IS 'Whole rupiah: claimed (reported, filed) or paid (paid); NULL otherwise.';
COMMENT ON COLUMN claim_steps.note IS 'Free text: BPJS reference, reason of a refusal.';
COMMENT ON COLUMN claim_steps.source IS 'api:<key id>, lindungctl, or death (the database, on a death or its undoing).';
COMMENT ON COLUMN claim_steps.created_at IS 'When the step was recorded.';

-- Today where the programmes are run (the dates are Indonesian dates).
CREATE FUNCTION claims_today() RETURNS date LANGUAGE sql STABLE AS $$
    SELECT (now() AT TIME ZONE 'Asia/Jakarta')::date
$$;

-- 3. Deaths. Run for an enrolment whose end_reason became or stopped being
-- 'death': it reconciles the JKM claim with the enrolment as it is now, so
-- it is idempotent and order-free. The date of death is the participant's
-- deceased_on when the life-events code records one (read by name through
-- to_jsonb, so this works with or without that column), else the first day
-- of the month of death. A "death" that covers no month (a later enrolment,
-- such as a renewal, cancelled by the death) opens nothing: the claim is on
-- the enrolment that covered the death.
CREATE FUNCTION claims_sync_death(p_enrolment bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    e enrolments%ROWTYPE;
    c claims%ROWTYPE;
    died date;
    benefit bigint;
BEGIN
    SELECT * INTO e FROM enrolments WHERE id = p_enrolment;
    SELECT * INTO c FROM claims WHERE enrolment_id = p_enrolment AND kind = 'JKM' FOR UPDATE;
    IF e.end_reason IS DISTINCT FROM 'death' OR e.status = 'active' THEN
        IF c.status IN ('reported', 'filed') THEN
            UPDATE claims SET status = 'withdrawn', status_on = claims_today(),
                              updated_at = now() WHERE id = c.id;
            INSERT INTO claim_steps (claim_id, status, on_date, note, source)
            VALUES (c.id, 'withdrawn', claims_today(), 'death undone', 'death');
        END IF;
        RETURN;
    END IF;
    IF e.end_month IS NULL OR e.end_month < e.start_month THEN
        RETURN;
    END IF;
    SELECT (to_jsonb(p) ->> 'deceased_on')::date INTO died FROM participants p
    WHERE p.nik = e.nik;
    IF died IS NULL OR date_trunc('month', died)::date <> e.end_month THEN
        died := e.end_month;
    END IF;
    IF c.id IS NOT NULL THEN
        IF c.status = 'withdrawn' THEN
            UPDATE claims SET status = 'reported', status_on = claims_today(),
                              event_date = died, updated_at = now() WHERE id = c.id;
            INSERT INTO claim_steps (claim_id, status, on_date, amount, note, source)
            VALUES (c.id, 'reported', claims_today(), c.amount_claimed, 'death recorded again',
                    'death');
        END IF;
        RETURN;
    END IF;
    -- A person dies once: another enrolment's live claim is the claim.
    IF EXISTS (SELECT 1 FROM claims x WHERE x.nik = e.nik AND x.kind = 'JKM'
               AND x.status <> 'withdrawn') THEN
        RETURN;
    END IF;
    benefit := claim_benefit('JKM', died);
    IF benefit IS NULL THEN
        RAISE WARNING 'no JKM benefit in force for %: no claim opened for enrolment %',
            died, p_enrolment;
        RETURN;
    END IF;
    WITH n AS (
        INSERT INTO claims (kind, enrolment_id, nik, program_id, village_code, regency_code,
                            event_date, amount_claimed, status_on, source)
        VALUES ('JKM', e.id, e.nik, e.program_id, e.village_code, left(e.village_code, 5),
                died, benefit, claims_today(), 'death')
        ON CONFLICT DO NOTHING
        RETURNING id)
    INSERT INTO claim_steps (claim_id, status, on_date, amount, note, source)
    SELECT n.id, 'reported', claims_today(), benefit, 'opened on the death', 'death' FROM n;
END $$;

CREATE FUNCTION claims_on_death() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM claims_sync_death(NEW.id);
    RETURN NULL;
END $$;

-- Deferred to the end of the transaction, so that whatever else the writer
-- of the death does in it (the date of death on the participant) is seen,
-- and a death undone in the same transaction opens nothing.
CREATE CONSTRAINT TRIGGER claims_on_death AFTER UPDATE OF end_reason, status ON enrolments
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN ((NEW.end_reason = 'death' AND OLD.end_reason IS DISTINCT FROM 'death')
          OR (OLD.end_reason = 'death'
              AND (NEW.end_reason IS DISTINCT FROM 'death' OR NEW.status = 'active')))
    EXECUTE FUNCTION claims_on_death();

-- JKK claims, recorded by a regency or admin key or by lindungctl. The
-- enrolment is the one of the NIK that covered the accident month, within
-- the scope (p_scope 'admin', 'regency' with p_code PP.RR, or 'village').
-- result: 'ok', 'not_covered' (no such enrolment in scope), 'bad_date' (in
-- the future), 'bad_amount'.
CREATE FUNCTION claim_open_jkk(p_nik text, p_accident date, p_kind text, p_amount bigint,
                               p_source text, p_scope text, p_code text)
RETURNS TABLE (result text, claim_id bigint)
LANGUAGE plpgsql AS $$
DECLARE
    e enrolments%ROWTYPE;
    new_id bigint;
BEGIN
    IF p_amount IS NULL OR p_amount < 1 OR p_amount > 1000000000000 THEN
        RETURN QUERY SELECT 'bad_amount'::text, NULL::bigint;
        RETURN;
    END IF;
    IF p_accident > claims_today() THEN
        RETURN QUERY SELECT 'bad_date'::text, NULL::bigint;
        RETURN;
    END IF;
    SELECT * INTO e FROM enrolments x
    WHERE x.nik = p_nik
      AND enrolment_months(x.start_month, x.end_month) @> date_trunc('month', p_accident)::date
      AND (p_scope = 'admin'
           OR (p_scope = 'regency' AND left(x.village_code, 5) = p_code)
           OR (p_scope = 'village' AND x.village_code = p_code))
    ORDER BY x.id DESC LIMIT 1;
    IF e.id IS NULL THEN
        RETURN QUERY SELECT 'not_covered'::text, NULL::bigint;
        RETURN;
    END IF;
    INSERT INTO claims (kind, enrolment_id, nik, program_id, village_code, regency_code,
                        event_date, accident_kind, amount_claimed, status_on, source)
    VALUES ('JKK', e.id, e.nik, e.program_id, e.village_code, left(e.village_code, 5),
            p_accident, p_kind, p_amount, claims_today(), p_source)
    RETURNING id INTO new_id;
    INSERT INTO claim_steps (claim_id, status, on_date, amount, source)
    VALUES (new_id, 'reported', claims_today(), p_amount, p_source);
    RETURN QUERY SELECT 'ok'::text, new_id;
END $$;

-- A step: reported -> filed; filed -> paid | refused. The date is not in
-- the future, not before the event and not before the previous step but
-- the first. paid needs the
-- amount paid (which may differ from the amount claimed: a JKM scholarship
-- is paid on top, a JKK claim may be paid in part); filed takes an optional
-- amount (what was filed; default the amount claimed); refused none.
-- result: 'ok', 'not_found', 'invalid_transition', 'bad_date', 'bad_amount'.
CREATE FUNCTION claim_step(p_claim bigint, p_status text, p_on date, p_amount bigint,
                           p_note text, p_source text)
RETURNS TABLE (result text, status text)
LANGUAGE plpgsql AS $$
DECLARE
    c claims%ROWTYPE;
    last_on date;
BEGIN
    SELECT * INTO c FROM claims WHERE id = p_claim FOR UPDATE;
    IF c.id IS NULL THEN
        RETURN QUERY SELECT 'not_found'::text, NULL::text;
        RETURN;
    END IF;
    IF NOT ((c.status = 'reported' AND p_status = 'filed')
            OR (c.status = 'filed' AND p_status IN ('paid', 'refused'))) THEN
        RETURN QUERY SELECT 'invalid_transition'::text, c.status;
        RETURN;
    END IF;
    -- The reported step is dated when lindung learned of the claim, which
    -- may be after it was filed with BPJS (a register kept in arrears); the
    -- later steps follow one another.
    SELECT max(s.on_date) INTO last_on FROM claim_steps s
    WHERE s.claim_id = c.id AND s.status <> 'reported';
    IF p_on IS NULL OR p_on > claims_today() OR p_on < c.event_date
       OR p_on < coalesce(last_on, c.event_date) THEN
        RETURN QUERY SELECT 'bad_date'::text, c.status;
        RETURN;
    END IF;
    IF (p_status = 'paid' AND p_amount IS NULL)
       OR (p_status = 'refused' AND p_amount IS NOT NULL)
       OR p_amount < 1 OR p_amount > 1000000000000 THEN
        RETURN QUERY SELECT 'bad_amount'::text, c.status;
        RETURN;
    END IF;
    UPDATE claims SET status = p_status, status_on = p_on, updated_at = now(),
                      amount_paid = CASE WHEN p_status = 'paid' THEN p_amount END
    WHERE id = c.id;
    INSERT INTO claim_steps (claim_id, status, on_date, amount, note, source)
    VALUES (c.id, p_status, p_on,
            CASE WHEN p_status = 'filed' THEN coalesce(p_amount, c.amount_claimed)
                 ELSE p_amount END,
            p_note, p_source);
    RETURN QUERY SELECT 'ok'::text, p_status;
END $$;

-- 4. Reports. Months are first days; a claim counts as reported in the
-- month of its event, and as paid in the month of its paid step.
CREATE VIEW claims_by_month AS
WITH ev AS (
    SELECT c.program_id, c.regency_code, date_trunc('month', c.event_date)::date AS month,
           c.kind, 1 AS reported, c.amount_claimed AS claimed, 0 AS paid, 0::bigint AS paid_amount
    FROM claims c WHERE c.status <> 'withdrawn'
  UNION ALL
    SELECT c.program_id, c.regency_code, date_trunc('month', c.status_on)::date, c.kind,
           0, 0, 1, c.amount_paid
    FROM claims c WHERE c.status = 'paid')
SELECT p.code AS program_code, ev.program_id, ev.regency_code, ev.month,
       sum(ev.reported)::bigint AS claims_reported,
       (sum(ev.reported) FILTER (WHERE ev.kind = 'JKM'))::bigint AS jkm_reported,
       sum(ev.claimed)::bigint AS amount_claimed,
       sum(ev.paid)::bigint AS claims_paid,
       (sum(ev.paid) FILTER (WHERE ev.kind = 'JKM'))::bigint AS jkm_paid,
       sum(ev.paid_amount)::bigint AS amount_paid
FROM ev JOIN programs p ON p.id = ev.program_id
GROUP BY p.code, ev.program_id, ev.regency_code, ev.month;

COMMENT ON VIEW claims_by_month IS
    'Claims per programme, regency and month: reported (by month of the death or accident; '
    'withdrawn claims left out) and paid (by month of payment).';
COMMENT ON COLUMN claims_by_month.program_code IS 'Programme code.';
COMMENT ON COLUMN claims_by_month.program_id IS 'Programme id.';
COMMENT ON COLUMN claims_by_month.regency_code IS 'PP.RR of the participants'' villages.';
COMMENT ON COLUMN claims_by_month.month IS 'First day of the month.';
COMMENT ON COLUMN claims_by_month.claims_reported IS 'Claims whose death or accident fell in the month.';
COMMENT ON COLUMN claims_by_month.jkm_reported IS 'Of those, death (JKM) claims; NULL when none.';
COMMENT ON COLUMN claims_by_month.amount_claimed IS 'Whole rupiah claimed by them.';
COMMENT ON COLUMN claims_by_month.claims_paid IS 'Claims paid in the month.';
COMMENT ON COLUMN claims_by_month.jkm_paid IS 'Of those, death (JKM) claims; NULL when none.';
COMMENT ON COLUMN claims_by_month.amount_paid IS 'Whole rupiah paid on them.';

-- Premiums by the month they are for: billed is each line plus its
-- corrections (supplementary and credit-note adjustments); paid is what
-- payments allocated to those lines (payment_lines). Claims paid by month of
-- payment. Cumulative figures run from the programme's first month. The
-- ratio is in basis points (10000 = claims paid equal premiums), rounded
-- half up in integer arithmetic; NULL while nothing is paid.
CREATE VIEW loss_ratio AS
WITH m AS (
    SELECT e.program_id, left(e.village_code, 5) AS regency_code, a.period AS month,
           a.amount AS billed, 0::bigint AS paid, 0::bigint AS claims_paid
    FROM accruals a JOIN enrolments e ON e.id = a.enrolment_id
  UNION ALL
    SELECT e.program_id, left(e.village_code, 5), l.period, l.amount, 0, 0
    FROM line_adjustments l JOIN enrolments e ON e.id = l.enrolment_id
  UNION ALL
    SELECT e.program_id, left(e.village_code, 5), pl.period, 0, pl.amount, 0
    FROM payment_lines pl JOIN enrolments e ON e.id = pl.enrolment_id
  UNION ALL
    SELECT c.program_id, c.regency_code, date_trunc('month', c.status_on)::date, 0, 0,
           c.amount_paid
    FROM claims c WHERE c.status = 'paid'),
g AS (
    SELECT program_id, regency_code, month, sum(billed)::bigint AS premiums_billed,
           sum(paid)::bigint AS premiums_paid, sum(claims_paid)::bigint AS claims_paid
    FROM m GROUP BY program_id, regency_code, month),
c AS (
    SELECT g.*,
           (sum(premiums_billed) OVER w)::bigint AS cum_premiums_billed,
           (sum(premiums_paid) OVER w)::bigint AS cum_premiums_paid,
           (sum(claims_paid) OVER w)::bigint AS cum_claims_paid
    FROM g
    WINDOW w AS (PARTITION BY program_id, regency_code ORDER BY month))
SELECT p.code AS program_code, c.program_id, c.regency_code, c.month,
       c.premiums_billed, c.premiums_paid, c.claims_paid,
       c.cum_premiums_billed, c.cum_premiums_paid, c.cum_claims_paid,
       CASE WHEN c.cum_premiums_paid > 0
            THEN div(c.cum_claims_paid::numeric * 20000 + c.cum_premiums_paid,
                     2 * c.cum_premiums_paid::numeric)::bigint END AS cum_loss_ratio_bp
FROM c JOIN programs p ON p.id = c.program_id;

COMMENT ON VIEW loss_ratio IS
    'Claims paid against premiums, per programme, regency and month, and cumulative from the '
    'first month: premiums billed (lines plus corrections) and paid (allocated to lines), by '
    'the month they are for; claims by month paid.';
COMMENT ON COLUMN loss_ratio.program_code IS 'Programme code.';
COMMENT ON COLUMN loss_ratio.program_id IS 'Programme id.';
COMMENT ON COLUMN loss_ratio.regency_code IS 'PP.RR of the participants'' villages.';
COMMENT ON COLUMN loss_ratio.month IS 'First day of the month.';
COMMENT ON COLUMN loss_ratio.premiums_billed IS 'Whole rupiah billed for the month: lines plus adjustments (credit notes negative).';
COMMENT ON COLUMN loss_ratio.premiums_paid IS 'Whole rupiah of payments allocated to the month''s lines.';
COMMENT ON COLUMN loss_ratio.claims_paid IS 'Whole rupiah of claims paid in the month.';
COMMENT ON COLUMN loss_ratio.cum_premiums_billed IS 'premiums_billed from the first month to this one.';
COMMENT ON COLUMN loss_ratio.cum_premiums_paid IS 'premiums_paid from the first month to this one.';
COMMENT ON COLUMN loss_ratio.cum_claims_paid IS 'claims_paid from the first month to this one.';
COMMENT ON COLUMN loss_ratio.cum_loss_ratio_bp IS 'cum_claims_paid / cum_premiums_paid in basis points, rounded half up; NULL while nothing is paid.';
