-- 001_schema: every table the submission -> decision -> enrolment -> accrual flow
-- needs. Regions and occupations are loaded by 002 from db/seed.
-- Conventions: months are stored as the date of their first day; money is whole
-- rupiah in bigint; NIKs are the 16 digits only.

CREATE TABLE regions (
    code         text PRIMARY KEY,
    name         text NOT NULL,
    level        text NOT NULL CHECK (level IN ('province', 'regency', 'district', 'village')),
    village_kind text CHECK (village_kind IN ('desa', 'kelurahan', 'desa_adat')),
    regency_code text GENERATED ALWAYS AS (CASE WHEN length(code) >= 5 THEN left(code, 5) END) STORED
);
CREATE INDEX regions_regency_idx ON regions (regency_code) WHERE level = 'village';

CREATE TABLE occupations (
    code      integer PRIMARY KEY,
    name      text NOT NULL UNIQUE,
    informal  boolean NOT NULL,
    transport boolean NOT NULL
);

CREATE TABLE programs (
    id                   serial PRIMARY KEY,
    code                 text NOT NULL UNIQUE,
    name                 text NOT NULL,
    regency_code         text NOT NULL REFERENCES regions (code),
    funding_source       text NOT NULL CHECK (funding_source IN ('ADD', 'DBH_SAWIT', 'CSR', 'APBD', 'APBDES')),
    payer_code           text,          -- the company for CSR; NULL: derived (village or regency)
    payer_name           text,
    submitter            text NOT NULL DEFAULT 'village' CHECK (submitter IN ('village', 'regency')),
    coverage_start       date NOT NULL CHECK (extract(day FROM coverage_start) = 1),
    coverage_end         date CHECK (extract(day FROM coverage_end) = 1),
    submission_deadline  date,
    min_age              integer,       -- inclusive, at coverage start
    max_age              integer,       -- inclusive: "under 65" is 64
    occupations          integer[] NOT NULL DEFAULT '{}',  -- eligible Dukcapil codes; empty: any
    poverty_ref_required boolean NOT NULL DEFAULT false,
    village_quota        integer,       -- hard cap per village
    village_target       integer,       -- goal per village, reported only
    total_quota          integer,
    relief_applies       boolean NOT NULL DEFAULT true,  -- PP 50/2025 relief switch
    version              integer NOT NULL DEFAULT 1,
    updated_at           timestamptz NOT NULL DEFAULT now()
);

-- Each programme version as imported, so a decision can name the rules it was made under.
CREATE TABLE program_versions (
    program_id  integer NOT NULL REFERENCES programs (id),
    version     integer NOT NULL,
    rules       jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (program_id, version)
);

CREATE TABLE api_keys (
    id         uuid PRIMARY KEY,
    name       text NOT NULL,
    prefix     text NOT NULL,            -- first characters, shown in listings
    key_hash   bytea NOT NULL UNIQUE,    -- sha256 of the whole key; the key itself is never stored
    scope      text NOT NULL,            -- 'admin', 'regency:PP.RR', 'village:PP.RR.DD.VVVV'
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);

CREATE TABLE submissions (
    id              uuid PRIMARY KEY,
    program_id      integer NOT NULL REFERENCES programs (id),
    village_code    text NOT NULL REFERENCES regions (code),
    reference       text,
    status          text NOT NULL DEFAULT 'received' CHECK (status IN ('received', 'verifying', 'verified')),
    applicant_count integer NOT NULL,
    api_key_id      uuid REFERENCES api_keys (id),
    idempotency_key text,
    body_hash       bytea,
    request_id      text,
    received_at     timestamptz NOT NULL DEFAULT now(),
    verifying_at    timestamptz,
    verified_at     timestamptz
);
-- The verification queue: what is not yet verified, oldest first.
CREATE INDEX submissions_pending_idx ON submissions (received_at) WHERE status <> 'verified';
CREATE UNIQUE INDEX submissions_idempotency_idx ON submissions (api_key_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

CREATE TABLE applicants (
    id              bigserial PRIMARY KEY,
    submission_id   uuid NOT NULL REFERENCES submissions (id),
    idx             integer NOT NULL,    -- position in the submission, from 0
    nik             text NOT NULL,       -- as sent, separators removed when it parsed
    name            text NOT NULL,
    birth_date      date NOT NULL,
    sex             char(1) NOT NULL CHECK (sex IN ('M', 'F')),
    occupation      text NOT NULL,
    address         text,
    phone           text,
    monthly_income  bigint,
    poverty_ref     text,
    decision        text NOT NULL DEFAULT 'pending' CHECK (decision IN ('pending', 'accepted', 'rejected')),
    reasons         jsonb NOT NULL DEFAULT '[]',
    warnings        jsonb NOT NULL DEFAULT '[]',
    program_version integer,
    decided_at      timestamptz,
    UNIQUE (submission_id, idx)
) WITH (fillfactor = 70); -- room for the decision update to stay on its page (HOT)

CREATE TABLE participants (
    nik        text PRIMARY KEY CHECK (nik ~ '^[1-9][0-9]{15}$'),
    name       text NOT NULL,
    birth_date date NOT NULL,
    sex        char(1) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- program_id and village_code carry no foreign keys of their own: they are
-- copied from the applicant's submission, which has them (applicant_id ->
-- applicants -> submissions), and each check costs verify a lookup per row.
CREATE TABLE enrolments (
    id              bigserial PRIMARY KEY,
    nik             text NOT NULL REFERENCES participants (nik),
    program_id      integer NOT NULL,
    village_code    text NOT NULL,
    applicant_id    bigint NOT NULL UNIQUE REFERENCES applicants (id),
    funding_source  text NOT NULL,
    payer_code      text NOT NULL,       -- who is invoiced: village, regency or company code
    declared_income bigint NOT NULL DEFAULT 1000000,
    transport       boolean NOT NULL DEFAULT false,  -- sector, for sector-only rate adjustments
    start_month     date NOT NULL,
    end_month       date,                -- last covered month
    end_reason      text CHECK (end_reason IN ('death', 'moved', 'left', 'lapsed', 'program_ended')),
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'ended')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    ended_at        timestamptz
);
-- The nation-wide duplicate-NIK rule: one active enrolment per NIK, whoever pays.
CREATE UNIQUE INDEX enrolments_one_active_idx ON enrolments (nik) WHERE status = 'active';
CREATE INDEX enrolments_village_idx ON enrolments (program_id, village_code) WHERE status = 'active';

-- Rates: each component with the month it takes effect. See docs/billing.md.
CREATE TABLE premium_rates (
    component       text NOT NULL CHECK (component IN ('JKK', 'JKM')),
    effective_month date NOT NULL CHECK (extract(day FROM effective_month) = 1),
    income_bp       integer,             -- basis points of declared income (JKK: 100 = 1%)
    flat_amount     bigint,              -- rupiah (JKM)
    min_income      bigint NOT NULL DEFAULT 1000000,
    note            text,
    PRIMARY KEY (component, effective_month),
    CHECK ((income_bp IS NULL) <> (flat_amount IS NULL))
);

CREATE TABLE billing_runs (
    id           bigserial PRIMARY KEY,
    period       date NOT NULL,
    trigger      text NOT NULL,          -- 'schedule', 'manual', 'enrolments', 'startup'
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    lines_added  integer NOT NULL DEFAULT 0,
    amount_added bigint NOT NULL DEFAULT 0
);

CREATE TABLE invoices (
    id             bigserial PRIMARY KEY,
    period         date NOT NULL,
    funding_source text NOT NULL,
    payer_code     text NOT NULL,
    payer_name     text NOT NULL,
    total          bigint NOT NULL DEFAULT 0,
    line_count     integer NOT NULL DEFAULT 0,
    due_date       date NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (period, funding_source, payer_code)
);

-- One line per (enrolment, month), ever: the exactly-once rule of billing.
CREATE TABLE accruals (
    id            bigserial PRIMARY KEY,
    enrolment_id  bigint NOT NULL REFERENCES enrolments (id),
    period        date NOT NULL,
    jkk           bigint NOT NULL,
    jkm           bigint NOT NULL,
    amount        bigint NOT NULL CHECK (amount = jkk + jkm),
    invoice_id    bigint NOT NULL REFERENCES invoices (id),
    run_id        bigint NOT NULL REFERENCES billing_runs (id),
    supplementary boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (enrolment_id, period)
);
CREATE INDEX accruals_invoice_idx ON accruals (invoice_id);

-- Default rates (design.md §2): JKK 1% of declared income (at least Rp 1,000,000),
-- JKM Rp 6,800 flat. In force since long before any programme here.
INSERT INTO premium_rates (component, effective_month, income_bp, flat_amount, min_income, note)
VALUES ('JKK', '2015-07-01', 100, NULL, 1000000, 'PP 44/2015: 1% of declared income'),
       ('JKM', '2015-07-01', NULL, 6800, 1000000, 'PP 44/2015: flat Rp 6,800');
