-- 020_comments: a comment on every table, view and column, so an operator
-- or an auditor reading the schema with \d+ (or a report tool listing
-- pg_description) learns what each holds without the source (issue 14,
-- "Reports an operator can query"). Conventions of the whole schema: a month
-- is stored as the date of its first day; money is whole rupiah in bigint; a
-- NIK is its 16 digits. The monthly partitions of accruals (accruals_YYYY_MM,
-- made by billing at run time) inherit nothing from these comments: the
-- parent's describe them.
--
-- Tables of the life-events and claims migrations (017, 018) carry their
-- authors' comments; this one only fills in what they left without one and
-- skips what does not exist, so it never overrides them nor fails on them.

-- comment on a column of those migrations when it exists and has none yet
CREATE FUNCTION pg_temp.fill(p_table text, p_column text, p_comment text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    rel oid := to_regclass('public.' || p_table);
    num smallint;
BEGIN
    IF rel IS NULL THEN
        RETURN;
    END IF;
    IF p_column IS NULL THEN
        IF obj_description(rel, 'pg_class') IS NULL THEN
            EXECUTE format('COMMENT ON %s %I IS %L',
                           CASE WHEN (SELECT relkind FROM pg_class WHERE oid = rel) = 'v'
                                THEN 'VIEW' ELSE 'TABLE' END, p_table, p_comment);
        END IF;
        RETURN;
    END IF;
    SELECT attnum INTO num FROM pg_attribute
    WHERE attrelid = rel AND attname = p_column AND NOT attisdropped AND attnum > 0;
    IF num IS NOT NULL AND col_description(rel, num) IS NULL THEN
        EXECUTE format('COMMENT ON COLUMN %I.%I IS %L', p_table, p_column, p_comment);
    END IF;
END $$;

-- ---------------------------------------------------------------- reference data

COMMENT ON TABLE regions IS 'Kemendagri region codes (db/seed/wilayah.csv): provinces, regencies, districts and villages.';
COMMENT ON COLUMN regions.code IS 'Kemendagri code with dots: PP (province), PP.RR (regency), PP.RR.DD (district), PP.RR.DD.VVVV (village).';
COMMENT ON COLUMN regions.name IS 'Official name.';
COMMENT ON COLUMN regions.level IS 'province, regency, district or village.';
COMMENT ON COLUMN regions.village_kind IS 'Villages only: desa, kelurahan or desa_adat; NULL for other levels.';
COMMENT ON COLUMN regions.regency_code IS 'PP.RR of the regency the region lies in (computed from code); NULL for provinces.';

COMMENT ON TABLE occupations IS 'Dukcapil occupation codes (db/seed/pekerjaan.csv), as written on the KTP.';
COMMENT ON COLUMN occupations.code IS 'Dukcapil occupation code.';
COMMENT ON COLUMN occupations.name IS 'Occupation name as Dukcapil spells it (e.g. PETANI/PEKEBUN).';
COMMENT ON COLUMN occupations.informal IS 'True for informal work: eligible as pekerja rentan (BPU).';
COMMENT ON COLUMN occupations.transport IS 'True for the transport sector: sector-only premium reliefs apply.';

COMMENT ON TABLE premium_rates IS 'JKK and JKM premium rates, each with the month it takes effect; the one in force for a month is the latest effective_month not after it (docs/billing.md).';
COMMENT ON COLUMN premium_rates.component IS 'JKK (work accident) or JKM (death).';
COMMENT ON COLUMN premium_rates.effective_month IS 'First month the rate applies to.';
COMMENT ON COLUMN premium_rates.income_bp IS 'JKK: basis points of the insured income (100 = 1%); NULL for a flat rate.';
COMMENT ON COLUMN premium_rates.flat_amount IS 'JKM: whole rupiah a month; NULL for a rate on income.';
COMMENT ON COLUMN premium_rates.min_income IS 'Smallest income the JKK rate is applied to, whole rupiah.';
COMMENT ON COLUMN premium_rates.note IS 'Legal source.';

COMMENT ON TABLE premium_adjustments IS 'Reliefs (PP 50/2025): a share off JKK and/or JKM for a range of months, optionally one sector; honoured only for programmes whose relief_applies is true; the largest in force wins.';
COMMENT ON COLUMN premium_adjustments.id IS 'Adjustment id.';
COMMENT ON COLUMN premium_adjustments.name IS 'Name of the rule, e.g. PP 50/2025.';
COMMENT ON COLUMN premium_adjustments.first_month IS 'First month it applies to.';
COMMENT ON COLUMN premium_adjustments.last_month IS 'Last month it applies to.';
COMMENT ON COLUMN premium_adjustments.sector IS 'transport: that sector only; NULL: every sector.';
COMMENT ON COLUMN premium_adjustments.off_bp IS 'Share taken off, in basis points (5000 = 50% off).';
COMMENT ON COLUMN premium_adjustments.applies_jkk IS 'True when JKK is reduced.';
COMMENT ON COLUMN premium_adjustments.applies_jkm IS 'True when JKM is reduced.';
COMMENT ON COLUMN premium_adjustments.note IS 'Legal source and wording.';

-- ---------------------------------------------------------------- programmes and keys

COMMENT ON TABLE programs IS 'Programmes: who pays for whose premiums, where, from when to when, and the rules applicants are decided by (docs/programs.md).';
COMMENT ON COLUMN programs.id IS 'Programme id.';
COMMENT ON COLUMN programs.code IS 'Programme code, unique (e.g. PALI-2026-ADD).';
COMMENT ON COLUMN programs.name IS 'Programme name.';
COMMENT ON COLUMN programs.regency_code IS 'PP.RR of the regency the programme runs in.';
COMMENT ON COLUMN programs.funding_source IS 'Budget that pays: ADD, DBH_SAWIT, CSR, APBD or APBDES.';
COMMENT ON COLUMN programs.payer_code IS 'CSR: the company invoiced; NULL: derived (the village for ADD and APBDES, the regency otherwise).';
COMMENT ON COLUMN programs.payer_name IS 'Name of the payer given by payer_code.';
COMMENT ON COLUMN programs.submitter IS 'Who submits lists: village or regency.';
COMMENT ON COLUMN programs.coverage_start IS 'First month the programme covers.';
COMMENT ON COLUMN programs.coverage_end IS 'Last month the programme covers; NULL: no end.';
COMMENT ON COLUMN programs.submission_deadline IS 'Last day a list may be submitted; NULL: none.';
COMMENT ON COLUMN programs.min_age IS 'Youngest age accepted, inclusive, at the first covered month; NULL: none.';
COMMENT ON COLUMN programs.max_age IS 'Oldest age accepted, inclusive ("under 65" is 64); NULL: none.';
COMMENT ON COLUMN programs.occupations IS 'Eligible Dukcapil occupation codes; empty: any.';
COMMENT ON COLUMN programs.poverty_ref_required IS 'True when an applicant needs a poverty reference (Musdes, DTKS, P3KE).';
COMMENT ON COLUMN programs.village_quota IS 'Most enrolments per village (a hard cap); NULL: none.';
COMMENT ON COLUMN programs.village_target IS 'Goal per village, reported only.';
COMMENT ON COLUMN programs.total_quota IS 'Most enrolments in the whole programme; NULL: none.';
COMMENT ON COLUMN programs.relief_applies IS 'True when premium reliefs (premium_adjustments) are passed on: CSR always, APBD and DBH_SAWIT never (PP 50/2025 Pasal 3).';
COMMENT ON COLUMN programs.version IS 'Rules version, raised by every import that changes them (program_versions).';
COMMENT ON COLUMN programs.updated_at IS 'When the programme last changed.';
COMMENT ON COLUMN programs.deadline_policy IS 'A list after the deadline: reject (DEADLINE_PASSED) or warn (decided, with SUBMITTED_AFTER_DEADLINE).';
COMMENT ON COLUMN programs.renews IS 'The programme this one continues (its participants are queued for renewal); NULL: none.';
COMMENT ON COLUMN programs.insured_income IS 'Premium basis in whole rupiah, Rp 1,000,000 unless decided otherwise.';
COMMENT ON COLUMN programs.income_ceiling IS 'Set: each applicant''s declared income is the premium basis, up to this; NULL: insured_income is.';
COMMENT ON COLUMN programs.relief_basis IS 'Legal basis of a relief not given by the funding source (ADD, APBDES).';
COMMENT ON COLUMN programs.total_target IS 'Programme-wide goal, reported only.';

COMMENT ON TABLE program_versions IS 'Each version of a programme''s rules as imported, so a decision names the rules it was made under.';
COMMENT ON COLUMN program_versions.program_id IS 'The programme.';
COMMENT ON COLUMN program_versions.version IS 'Version number (programs.version when imported).';
COMMENT ON COLUMN program_versions.rules IS 'The rules as imported (JSON).';
COMMENT ON COLUMN program_versions.created_at IS 'When the version was imported.';

COMMENT ON TABLE api_keys IS 'API keys of villages, district offices and administrators; the key itself is never stored.';
COMMENT ON COLUMN api_keys.id IS 'Key id, named in logs and audit columns (api:<id>).';
COMMENT ON COLUMN api_keys.name IS 'Who the key was made for.';
COMMENT ON COLUMN api_keys.prefix IS 'First characters of the key, shown in listings.';
COMMENT ON COLUMN api_keys.key_hash IS 'SHA-256 of the whole key.';
COMMENT ON COLUMN api_keys.scope IS 'admin, regency:PP.RR or village:PP.RR.DD.VVVV: what the key may see and submit.';
COMMENT ON COLUMN api_keys.created_at IS 'When the key was made.';
COMMENT ON COLUMN api_keys.revoked_at IS 'When the key was revoked; NULL while valid.';

COMMENT ON TABLE schema_migrations IS 'Migrations applied (lindungctl migrate); the highest version is the schema version daemons check in /readyz.';
COMMENT ON COLUMN schema_migrations.version IS 'Number of the migration file.';
COMMENT ON COLUMN schema_migrations.name IS 'File name.';
COMMENT ON COLUMN schema_migrations.applied_at IS 'When it was applied.';

-- ---------------------------------------------------------------- submissions and decisions

COMMENT ON TABLE submissions IS 'Lists of applicants as received (API, CSV, or a renewal), one village each; verify decides them.';
COMMENT ON COLUMN submissions.id IS 'Submission id, returned by POST /v1/submissions.';
COMMENT ON COLUMN submissions.program_id IS 'The programme applied to.';
COMMENT ON COLUMN submissions.village_code IS 'The village the applicants live in.';
COMMENT ON COLUMN submissions.reference IS 'The submitter''s own reference, free text.';
COMMENT ON COLUMN submissions.status IS 'received, verifying or verified.';
COMMENT ON COLUMN submissions.applicant_count IS 'Applicants in the list.';
COMMENT ON COLUMN submissions.api_key_id IS 'The key that submitted it; NULL for renewals and SQL.';
COMMENT ON COLUMN submissions.idempotency_key IS 'The client''s Idempotency-Key: a retry with the same key is the same submission.';
COMMENT ON COLUMN submissions.body_hash IS 'SHA-256 of the request body, to tell a retry from a different request under the same key.';
COMMENT ON COLUMN submissions.request_id IS 'Request id of the HTTP request, for tracing.';
COMMENT ON COLUMN submissions.received_at IS 'When it was received.';
COMMENT ON COLUMN submissions.verifying_at IS 'When verify started on it.';
COMMENT ON COLUMN submissions.verified_at IS 'When every applicant in it was decided.';
COMMENT ON COLUMN submissions.origin IS 'api (sent by a key) or renewal (queued by a renewing programme).';

COMMENT ON TABLE applicants IS 'Each person of a submission as sent, with verify''s decision and reason codes.';
COMMENT ON COLUMN applicants.id IS 'Applicant id.';
COMMENT ON COLUMN applicants.submission_id IS 'The submission.';
COMMENT ON COLUMN applicants.idx IS 'Position in the submission, from 0.';
COMMENT ON COLUMN applicants.nik IS 'NIK as sent, separators removed when it parsed.';
COMMENT ON COLUMN applicants.name IS 'Name as sent.';
COMMENT ON COLUMN applicants.birth_date IS 'Date of birth as sent.';
COMMENT ON COLUMN applicants.sex IS 'M or F.';
COMMENT ON COLUMN applicants.occupation IS 'Occupation as sent (a Dukcapil code or name).';
COMMENT ON COLUMN applicants.address IS 'Address as sent; used for BPJS registration.';
COMMENT ON COLUMN applicants.phone IS 'Telephone number as sent; used for BPJS registration.';
COMMENT ON COLUMN applicants.monthly_income IS 'Declared monthly income, whole rupiah; the premium basis when the programme has an income_ceiling.';
COMMENT ON COLUMN applicants.poverty_ref IS 'Poverty reference (Musdes, DTKS, P3KE), when given.';
COMMENT ON COLUMN applicants.decision IS 'pending, accepted or rejected.';
COMMENT ON COLUMN applicants.reasons IS 'Reason codes of a rejection (JSON array; docs/api.md).';
COMMENT ON COLUMN applicants.warnings IS 'Warning codes of an accepted applicant (JSON array).';
COMMENT ON COLUMN applicants.program_version IS 'The programme rules version the decision was made under.';
COMMENT ON COLUMN applicants.decided_at IS 'When verify decided.';
COMMENT ON COLUMN applicants.renews_enrolment_id IS 'Renewals: the enrolment this applicant continues; NULL otherwise.';

-- ---------------------------------------------------------------- people and coverage

COMMENT ON TABLE participants IS 'People ever accepted, one row per NIK: the identity their enrolments share.';
COMMENT ON COLUMN participants.nik IS 'NIK, 16 digits.';
COMMENT ON COLUMN participants.name IS 'Name, from the first accepted application.';
COMMENT ON COLUMN participants.birth_date IS 'Date of birth.';
COMMENT ON COLUMN participants.sex IS 'M or F.';
COMMENT ON COLUMN participants.created_at IS 'When first accepted.';
COMMENT ON COLUMN participants.updated_at IS 'When the record last changed.';

COMMENT ON TABLE enrolments IS 'Coverage of one person by one programme in one village for a range of months, and who pays; never two covering the same NIK in the same month. Billing accrues each (enrolment, month) once.';
COMMENT ON COLUMN enrolments.id IS 'Enrolment id.';
COMMENT ON COLUMN enrolments.nik IS 'The participant.';
COMMENT ON COLUMN enrolments.program_id IS 'The programme (copied from the applicant''s submission).';
COMMENT ON COLUMN enrolments.village_code IS 'The village (copied from the applicant''s submission, or a transfer''s destination).';
COMMENT ON COLUMN enrolments.applicant_id IS 'The accepted applicant; NULL for a transfer, whose details are its previous enrolment''s (enrolment_applicant()).';
COMMENT ON COLUMN enrolments.funding_source IS 'The programme''s funding source, copied for billing.';
COMMENT ON COLUMN enrolments.payer_code IS 'Who is invoiced: the village, regency or company code (program_payer()).';
COMMENT ON COLUMN enrolments.declared_income IS 'Declared monthly income, whole rupiah.';
COMMENT ON COLUMN enrolments.transport IS 'True for the transport sector, for sector-only reliefs.';
COMMENT ON COLUMN enrolments.start_month IS 'First covered month.';
COMMENT ON COLUMN enrolments.end_month IS 'Last covered month; NULL: open-ended. Before start_month: covers nothing (a cancellation, a BPJS refusal).';
COMMENT ON COLUMN enrolments.end_reason IS 'Why it ended: death, moved, left, lapsed, program_ended or bpjs_refused; NULL while active.';
COMMENT ON COLUMN enrolments.status IS 'active or ended.';
COMMENT ON COLUMN enrolments.created_at IS 'When the enrolment was made (the applicant''s acceptance).';
COMMENT ON COLUMN enrolments.ended_at IS 'When it was ended; NULL while active.';
COMMENT ON COLUMN enrolments.previous_enrolment_id IS 'The enrolment this one continues (a transfer or a renewal); NULL otherwise.';
COMMENT ON COLUMN enrolments.coverage_changed_at IS 'When start_month, end_month or status last changed (set by a trigger); billing corrects months already billed by it.';
COMMENT ON COLUMN enrolments.kpj IS 'BPJS membership number (KPJ) once BPJS registered the person; kept by transfers and renewals.';
COMMENT ON COLUMN enrolments.bpjs_status IS 'Registration at BPJS: pending (not answered), registered or refused.';
COMMENT ON COLUMN enrolments.bpjs_effective_month IS 'Month BPJS''s answer takes effect, as BPJS sent it.';
COMMENT ON COLUMN enrolments.bpjs_refusal IS 'BPJS''s reason for a refusal.';
COMMENT ON COLUMN enrolments.bpjs_exported_at IS 'When it was last exported for BPJS registration (lindungctl bpjs export); NULL: never.';
COMMENT ON COLUMN enrolments.bpjs_answered_at IS 'When BPJS''s answer was imported (lindungctl bpjs import).';

COMMENT ON TABLE enrolment_transfers IS 'Transfers (moves) and who asked for them; the enrolments themselves say what continues what.';
COMMENT ON COLUMN enrolment_transfers.old_enrolment_id IS 'The enrolment ended by the move.';
COMMENT ON COLUMN enrolment_transfers.new_enrolment_id IS 'The enrolment that continues it from the next month.';
COMMENT ON COLUMN enrolment_transfers.month IS 'Last month of the old enrolment.';
COMMENT ON COLUMN enrolment_transfers.source IS 'Who asked: lindungctl or api:<key id>.';
COMMENT ON COLUMN enrolment_transfers.created_at IS 'When the transfer was made.';

-- ---------------------------------------------------------------- billing

COMMENT ON TABLE billing_runs IS 'Each billing run of one month (scheduled, manual, start-up or prompted by enrolment changes).';
COMMENT ON COLUMN billing_runs.id IS 'Run id.';
COMMENT ON COLUMN billing_runs.period IS 'The month billed.';
COMMENT ON COLUMN billing_runs.trigger IS 'schedule, manual, enrolments or startup.';
COMMENT ON COLUMN billing_runs.started_at IS 'When the run started.';
COMMENT ON COLUMN billing_runs.finished_at IS 'When it finished; NULL while it is open.';
COMMENT ON COLUMN billing_runs.lines_added IS 'Accrual lines the run added.';
COMMENT ON COLUMN billing_runs.amount_added IS 'Whole rupiah the run added.';
COMMENT ON COLUMN billing_runs.enrolment_watermark IS 'Highest enrolment id visible to the run, so a re-run reads only newer ones.';
COMMENT ON COLUMN billing_runs.programs_mark IS 'Fingerprint of the programmes'' coverage ends the run saw.';
COMMENT ON COLUMN billing_runs.rates_mark IS 'Fingerprint of the rates, reliefs and premium data the run billed under; another mark makes the next run re-rate.';

COMMENT ON TABLE invoices IS 'Documents per month, funding source and payer: the month''s invoice, supplementary invoices and credit notes (negative). Never changed once issued.';
COMMENT ON COLUMN invoices.id IS 'Document number.';
COMMENT ON COLUMN invoices.period IS 'The month billed.';
COMMENT ON COLUMN invoices.funding_source IS 'ADD, DBH_SAWIT, CSR, APBD or APBDES.';
COMMENT ON COLUMN invoices.payer_code IS 'The village, regency or company invoiced.';
COMMENT ON COLUMN invoices.payer_name IS 'The payer''s name.';
COMMENT ON COLUMN invoices.total IS 'Whole rupiah: the sum of its lines and adjustments (negative for a credit note).';
COMMENT ON COLUMN invoices.line_count IS 'Lines and adjustments on it.';
COMMENT ON COLUMN invoices.due_date IS 'Date payment is due.';
COMMENT ON COLUMN invoices.created_at IS 'When it was issued.';
COMMENT ON COLUMN invoices.updated_at IS 'When it last changed while its run was open.';
COMMENT ON COLUMN invoices.kind IS 'invoice (a month''s first), supplementary (later lines, re-rating up) or credit_note (reversals).';
COMMENT ON COLUMN invoices.run_id IS 'The run that issued it.';

COMMENT ON TABLE accruals IS 'One line per (enrolment, month), ever: the premium billed for a person-month. Partitioned by month (accruals_YYYY_MM).';
COMMENT ON COLUMN accruals.enrolment_id IS 'The enrolment.';
COMMENT ON COLUMN accruals.period IS 'The month.';
COMMENT ON COLUMN accruals.jkk IS 'JKK premium, whole rupiah.';
COMMENT ON COLUMN accruals.jkm IS 'JKM premium, whole rupiah.';
COMMENT ON COLUMN accruals.amount IS 'jkk + jkm.';
COMMENT ON COLUMN accruals.invoice_id IS 'The document that carries the line.';
COMMENT ON COLUMN accruals.run_id IS 'The run that added it.';
COMMENT ON COLUMN accruals.supplementary IS 'True when added after the month''s invoice (on a supplementary invoice).';
COMMENT ON COLUMN accruals.created_at IS 'When it was added.';

COMMENT ON TABLE line_adjustments IS 'Corrections of one person-month on a later document: re-rating, an end (credited) or an end undone (billed again).';
COMMENT ON COLUMN line_adjustments.id IS 'Adjustment id.';
COMMENT ON COLUMN line_adjustments.enrolment_id IS 'The enrolment of the line corrected.';
COMMENT ON COLUMN line_adjustments.period IS 'The month of the line corrected.';
COMMENT ON COLUMN line_adjustments.invoice_id IS 'The supplementary invoice (amount > 0) or credit note (amount < 0) that carries it.';
COMMENT ON COLUMN line_adjustments.jkk IS 'JKK change, whole rupiah.';
COMMENT ON COLUMN line_adjustments.jkm IS 'JKM change, whole rupiah.';
COMMENT ON COLUMN line_adjustments.amount IS 'jkk + jkm, never 0.';
COMMENT ON COLUMN line_adjustments.reason IS 'rerate, ended (the month is no longer covered) or reinstated.';
COMMENT ON COLUMN line_adjustments.run_id IS 'The run that made it.';
COMMENT ON COLUMN line_adjustments.created_at IS 'When it was made.';

COMMENT ON TABLE payments IS 'Money received against an invoice or supplementary invoice; never more than it owes.';
COMMENT ON COLUMN payments.id IS 'Payment id.';
COMMENT ON COLUMN payments.invoice_id IS 'The document paid.';
COMMENT ON COLUMN payments.amount IS 'Whole rupiah, positive.';
COMMENT ON COLUMN payments.paid_on IS 'Date paid.';
COMMENT ON COLUMN payments.reference IS 'Bank or treasury reference; the same reference twice on one document is refused.';
COMMENT ON COLUMN payments.source IS 'Who recorded it: lindungctl or api:<key id>.';
COMMENT ON COLUMN payments.created_at IS 'When it was recorded.';

COMMENT ON TABLE payment_lines IS 'Which person-months a payment paid, and how much of each.';
COMMENT ON COLUMN payment_lines.payment_id IS 'The payment.';
COMMENT ON COLUMN payment_lines.enrolment_id IS 'The enrolment of the line paid.';
COMMENT ON COLUMN payment_lines.period IS 'The month of the line paid.';
COMMENT ON COLUMN payment_lines.amount IS 'Whole rupiah allocated to the line.';

COMMENT ON VIEW invoice_balances IS 'Each document with what was paid and what is outstanding.';
COMMENT ON COLUMN invoice_balances.id IS 'Document number.';
COMMENT ON COLUMN invoice_balances.period IS 'The month billed.';
COMMENT ON COLUMN invoice_balances.funding_source IS 'ADD, DBH_SAWIT, CSR, APBD or APBDES.';
COMMENT ON COLUMN invoice_balances.payer_code IS 'The payer.';
COMMENT ON COLUMN invoice_balances.payer_name IS 'The payer''s name.';
COMMENT ON COLUMN invoice_balances.total IS 'Whole rupiah (negative for a credit note).';
COMMENT ON COLUMN invoice_balances.line_count IS 'Lines and adjustments on it.';
COMMENT ON COLUMN invoice_balances.due_date IS 'Date payment is due.';
COMMENT ON COLUMN invoice_balances.paid IS 'Whole rupiah paid against it.';
COMMENT ON COLUMN invoice_balances.outstanding IS 'total - paid.';
COMMENT ON COLUMN invoice_balances.status IS 'open, partially_paid, paid, or credit (a credit note).';
COMMENT ON COLUMN invoice_balances.kind IS 'invoice, supplementary or credit_note.';
COMMENT ON COLUMN invoice_balances.issued_at IS 'When it was issued.';

-- ---------------------------------------------------------------- BPJS (019)

COMMENT ON TABLE bpjs_imports IS 'Each BPJS answer file imported (lindungctl bpjs import), once: the same file again is recognised by its SHA-256.';
COMMENT ON COLUMN bpjs_imports.id IS 'Import number.';
COMMENT ON COLUMN bpjs_imports.file_name IS 'File name as given to lindungctl.';
COMMENT ON COLUMN bpjs_imports.sha256 IS 'SHA-256 of the file''s bytes.';
COMMENT ON COLUMN bpjs_imports.imported_at IS 'When it was imported.';
COMMENT ON COLUMN bpjs_imports.rows IS 'Data rows read.';
COMMENT ON COLUMN bpjs_imports.matched IS 'Rows applied by this import.';
COMMENT ON COLUMN bpjs_imports.skipped IS 'Rows whose answer an earlier import had applied.';
COMMENT ON COLUMN bpjs_imports.unmatched IS 'Rows not applied: unknown NIK, no enrolment pending, a KPJ of another NIK, a bad field.';

COMMENT ON VIEW bpjs_unconfirmed IS 'Enrolments BPJS has neither registered nor refused, that cover at least one month, with how long they have waited.';
COMMENT ON COLUMN bpjs_unconfirmed.enrolment_id IS 'The enrolment.';
COMMENT ON COLUMN bpjs_unconfirmed.nik IS 'The participant.';
COMMENT ON COLUMN bpjs_unconfirmed.program_code IS 'Programme code.';
COMMENT ON COLUMN bpjs_unconfirmed.village_code IS 'The village.';
COMMENT ON COLUMN bpjs_unconfirmed.regency_code IS 'PP.RR of the village.';
COMMENT ON COLUMN bpjs_unconfirmed.start_month IS 'First covered month.';
COMMENT ON COLUMN bpjs_unconfirmed.accepted_at IS 'When the enrolment was made.';
COMMENT ON COLUMN bpjs_unconfirmed.exported_at IS 'When it was last exported for registration; NULL: never.';
COMMENT ON COLUMN bpjs_unconfirmed.days_waiting IS 'Whole days since acceptance.';

-- ---------------------------------------------------------------- life events (017), where left without

SELECT pg_temp.fill('participants', 'deceased_on', 'Date of death reported; NULL: none.');
SELECT pg_temp.fill('event_batches', NULL, 'One request of life events: the unit of idempotency.');
SELECT pg_temp.fill('event_batches', 'id', 'Batch id.');
SELECT pg_temp.fill('event_batches', 'api_key_id', 'The key that sent it.');
SELECT pg_temp.fill('event_batches', 'idempotency_key', 'The client''s Idempotency-Key: a retry with the same key is the same batch.');
SELECT pg_temp.fill('event_batches', 'body_hash', 'SHA-256 of the normalised events, to tell a retry from a different request under the same key.');
SELECT pg_temp.fill('event_batches', 'event_count', 'Events in the batch.');
SELECT pg_temp.fill('event_batches', 'request_id', 'Request id of the HTTP request, for tracing.');
SELECT pg_temp.fill('event_batches', 'received_at', 'When it was received.');
SELECT pg_temp.fill('participant_events', NULL, 'Life events (death, moved, left) as received, and what applying them did.');
SELECT pg_temp.fill('participant_events', 'id', 'Event id.');
SELECT pg_temp.fill('participant_events', 'batch_id', 'The batch it came in.');
SELECT pg_temp.fill('participant_events', 'idx', 'Position in the batch, from 0.');
SELECT pg_temp.fill('participant_events', 'kind', 'death, moved or left.');
SELECT pg_temp.fill('participant_events', 'nik', 'The participant.');
SELECT pg_temp.fill('participant_events', 'event_date', 'Date of the death, move or departure.');
SELECT pg_temp.fill('participant_events', 'month', 'First day of event_date''s month.');
SELECT pg_temp.fill('participant_events', 'reference', 'A reference such as the death certificate number.');
SELECT pg_temp.fill('participant_events', 'to_village', 'moved: the village moved to.');
SELECT pg_temp.fill('participant_events', 'reason', 'left: why the person is no longer eligible.');
SELECT pg_temp.fill('participant_events', 'api_key_id', 'The key that sent it.');
SELECT pg_temp.fill('participant_events', 'received_at', 'When it was received.');
SELECT pg_temp.fill('participant_events', 'result', 'applied or refused.');
SELECT pg_temp.fill('participant_events', 'message', 'What applying it did or why it was refused, in words.');
SELECT pg_temp.fill('participant_events', 'enrolment_id', 'The enrolment ended or moved.');
SELECT pg_temp.fill('participant_events', 'new_enrolment_id', 'A transfer''s continuation.');
SELECT pg_temp.fill('participant_events', 'cancelled_ids', 'Later enrolments (e.g. a renewal) cancelled by it.');
SELECT pg_temp.fill('participant_events', 'corrected_at', 'When a death reported in error was corrected; NULL: not corrected.');
SELECT pg_temp.fill('participant_events', 'correction_reason', 'Why it was corrected.');
SELECT pg_temp.fill('participant_events', 'corrected_by', 'Who corrected it.');
SELECT pg_temp.fill('claim_steps', 'id', 'Step id.');

-- Whatever is still without a comment (a later migration's) is named, so
-- whoever adds a table or a column knows to describe it.
DO $$
DECLARE
    missing text;
BEGIN
    SELECT string_agg(c.relname || coalesce('.' || a.attname, ''), ', ' ORDER BY c.relname, a.attnum)
    INTO missing
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                            AND col_description(c.oid, a.attnum) IS NULL
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'p', 'm') AND NOT c.relispartition
      AND (a.attname IS NOT NULL OR obj_description(c.oid, 'pg_class') IS NULL);
    IF missing IS NOT NULL THEN
        RAISE WARNING 'without a comment: %', missing;
    END IF;
END $$;
