-- 022_reports: participants against target, per village, district and
-- regency, and BPJS registrations still unconfirmed per regency (issue 14,
-- "Reports an operator can query"; docs/lifecycle.md, "Reports"). Read by
-- GET /v1/reports/participants and `lindungctl report participants`.
-- Counts, per programme and village of its regency (every village, those
-- with nobody too: a village short of its target is what the report is for):
--   enrolled     enrolments ever made there (every status: what verify accepted)
--   active       enrolments active now (status 'active'; the figure of
--                GET /v1/programs/{code}/villages, what the quota counts)
--   covered_now  of those, the ones whose months include the current month
--                (Asia/Jakarta); an enrolment accepted for next month is not
-- Shares are basis points of the target (10000 = the target met), rounded
-- half up in integers, as the loss ratio; NULL where the programme has none.

CREATE FUNCTION report_share_bp(p_count bigint, p_target bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN p_target > 0 THEN (p_count * 20000 + p_target) / (2 * p_target) END
$$;
COMMENT ON FUNCTION report_share_bp(bigint, bigint) IS
    'p_count / p_target in basis points, rounded half up; NULL without a target.';

CREATE VIEW report_participants_village AS
SELECT p.code AS program_code, p.id AS program_id, r.regency_code,
       left(r.code, 8) AS district_code, r.code AS village_code, r.name AS village_name,
       r.village_kind, c.enrolled, c.active, c.covered_now,
       p.village_target, p.village_quota,
       report_share_bp(c.active, p.village_target) AS target_share_bp
FROM programs p
JOIN regions r ON r.level = 'village' AND r.regency_code = p.regency_code
-- per village, so a report of one programme reads only its villages' rows
CROSS JOIN LATERAL (
    SELECT count(*) AS enrolled,
           count(*) FILTER (WHERE e.status = 'active') AS active,
           count(*) FILTER (WHERE e.status = 'active'
               AND enrolment_months(e.start_month, e.end_month)
                   @> date_trunc('month', claims_today())::date) AS covered_now
    FROM enrolments e WHERE e.program_id = p.id AND e.village_code = r.code) c;

COMMENT ON VIEW report_participants_village IS
    'Participants per programme and village of its regency (every village), against the '
    'programme''s per-village target and quota.';
COMMENT ON COLUMN report_participants_village.program_code IS 'Programme code.';
COMMENT ON COLUMN report_participants_village.program_id IS 'Programme id.';
COMMENT ON COLUMN report_participants_village.regency_code IS 'PP.RR of the village (the programme''s regency).';
COMMENT ON COLUMN report_participants_village.district_code IS 'PP.RR.DD: the village''s district (kecamatan).';
COMMENT ON COLUMN report_participants_village.village_code IS 'PP.RR.DD.VVVV.';
COMMENT ON COLUMN report_participants_village.village_name IS 'Name of the village.';
COMMENT ON COLUMN report_participants_village.village_kind IS 'desa, kelurahan or desa_adat.';
COMMENT ON COLUMN report_participants_village.enrolled IS 'Enrolments ever made in the village for the programme (every status).';
COMMENT ON COLUMN report_participants_village.active IS 'Enrolments active now (status active; what the quota counts).';
COMMENT ON COLUMN report_participants_village.covered_now IS 'Active enrolments whose months include the current month (Asia/Jakarta).';
COMMENT ON COLUMN report_participants_village.village_target IS 'The programme''s goal per village; NULL: none.';
COMMENT ON COLUMN report_participants_village.village_quota IS 'The programme''s cap per village; NULL: none.';
COMMENT ON COLUMN report_participants_village.target_share_bp IS 'active / village_target in basis points, rounded half up; NULL without a target.';

CREATE VIEW report_participants_district AS
SELECT v.program_code, v.program_id, v.regency_code, v.district_code,
       d.name AS district_name, count(*) AS villages,
       sum(v.enrolled)::bigint AS enrolled, sum(v.active)::bigint AS active,
       sum(v.covered_now)::bigint AS covered_now,
       (max(v.village_target) * count(*))::bigint AS target,
       (max(v.village_quota) * count(*))::bigint AS quota,
       count(*) FILTER (WHERE v.active >= v.village_target) AS villages_at_target,
       report_share_bp(sum(v.active)::bigint, max(v.village_target) * count(*))
           AS target_share_bp
FROM report_participants_village v
LEFT JOIN regions d ON d.code = v.district_code AND d.level = 'district'
GROUP BY v.program_code, v.program_id, v.regency_code, v.district_code, d.name;

COMMENT ON VIEW report_participants_district IS
    'report_participants_village summed per programme and district (kecamatan).';
COMMENT ON COLUMN report_participants_district.program_code IS 'Programme code.';
COMMENT ON COLUMN report_participants_district.program_id IS 'Programme id.';
COMMENT ON COLUMN report_participants_district.regency_code IS 'PP.RR.';
COMMENT ON COLUMN report_participants_district.district_code IS 'PP.RR.DD.';
COMMENT ON COLUMN report_participants_district.district_name IS 'Name of the district; NULL if the region list lacks it.';
COMMENT ON COLUMN report_participants_district.villages IS 'Villages of the district.';
COMMENT ON COLUMN report_participants_district.enrolled IS 'Enrolments ever made in its villages (every status).';
COMMENT ON COLUMN report_participants_district.active IS 'Enrolments active now.';
COMMENT ON COLUMN report_participants_district.covered_now IS 'Active enrolments covering the current month.';
COMMENT ON COLUMN report_participants_district.target IS 'village_target times villages; NULL without a target.';
COMMENT ON COLUMN report_participants_district.quota IS 'village_quota times villages; NULL without a quota.';
COMMENT ON COLUMN report_participants_district.villages_at_target IS 'Villages whose active count reaches village_target (0 without a target).';
COMMENT ON COLUMN report_participants_district.target_share_bp IS 'active / target in basis points, rounded half up; NULL without a target.';

-- Unconfirmed registrations per programme and regency, from 019's
-- bpjs_unconfirmed (pending enrolments that cover a month).
CREATE VIEW report_bpjs_unconfirmed AS
SELECT u.program_code, u.regency_code, count(*) AS unconfirmed,
       count(*) FILTER (WHERE u.exported_at IS NULL) AS not_exported,
       count(*) FILTER (WHERE u.exported_at IS NOT NULL) AS awaiting_answer,
       max(u.days_waiting) AS oldest_days
FROM bpjs_unconfirmed u
GROUP BY u.program_code, u.regency_code;

COMMENT ON VIEW report_bpjs_unconfirmed IS
    'BPJS registrations not yet confirmed (bpjs_unconfirmed), per programme and regency.';
COMMENT ON COLUMN report_bpjs_unconfirmed.program_code IS 'Programme code.';
COMMENT ON COLUMN report_bpjs_unconfirmed.regency_code IS 'PP.RR of the villages.';
COMMENT ON COLUMN report_bpjs_unconfirmed.unconfirmed IS 'Enrolments pending at BPJS (neither registered nor refused).';
COMMENT ON COLUMN report_bpjs_unconfirmed.not_exported IS 'Of those, not yet in a registration export.';
COMMENT ON COLUMN report_bpjs_unconfirmed.awaiting_answer IS 'Of those, exported and waiting for BPJS''s answer.';
COMMENT ON COLUMN report_bpjs_unconfirmed.oldest_days IS 'Days the oldest of them has waited since acceptance.';

CREATE VIEW report_participants_regency AS
SELECT v.program_code, v.program_id, v.regency_code, g.name AS regency_name,
       count(*) AS villages, sum(v.enrolled)::bigint AS enrolled,
       sum(v.active)::bigint AS active, sum(v.covered_now)::bigint AS covered_now,
       (max(v.village_target) * count(*))::bigint AS target,
       max(p.total_target) AS total_target, max(p.total_quota) AS total_quota,
       count(*) FILTER (WHERE v.active >= v.village_target) AS villages_at_target,
       report_share_bp(sum(v.active)::bigint,
                       coalesce(max(p.total_target), max(v.village_target) * count(*)))
           AS target_share_bp,
       coalesce(max(u.unconfirmed), 0) AS bpjs_unconfirmed
FROM report_participants_village v
JOIN programs p ON p.id = v.program_id
LEFT JOIN regions g ON g.code = v.regency_code AND g.level = 'regency'
LEFT JOIN report_bpjs_unconfirmed u
       ON u.program_code = v.program_code AND u.regency_code = v.regency_code
GROUP BY v.program_code, v.program_id, v.regency_code, g.name;

COMMENT ON VIEW report_participants_regency IS
    'report_participants_village summed per programme (one regency each), with the '
    'programme-wide target and quota and the registrations unconfirmed at BPJS.';
COMMENT ON COLUMN report_participants_regency.program_code IS 'Programme code.';
COMMENT ON COLUMN report_participants_regency.program_id IS 'Programme id.';
COMMENT ON COLUMN report_participants_regency.regency_code IS 'PP.RR.';
COMMENT ON COLUMN report_participants_regency.regency_name IS 'Name of the regency; NULL if the region list lacks it.';
COMMENT ON COLUMN report_participants_regency.villages IS 'Villages of the regency.';
COMMENT ON COLUMN report_participants_regency.enrolled IS 'Enrolments ever made in its villages (every status).';
COMMENT ON COLUMN report_participants_regency.active IS 'Enrolments active now.';
COMMENT ON COLUMN report_participants_regency.covered_now IS 'Active enrolments covering the current month.';
COMMENT ON COLUMN report_participants_regency.target IS 'village_target times villages; NULL without a per-village target.';
COMMENT ON COLUMN report_participants_regency.total_target IS 'The programme-wide goal; NULL: none.';
COMMENT ON COLUMN report_participants_regency.total_quota IS 'The programme-wide cap; NULL: none.';
COMMENT ON COLUMN report_participants_regency.villages_at_target IS 'Villages whose active count reaches village_target (0 without a target).';
COMMENT ON COLUMN report_participants_regency.target_share_bp IS 'active / (total_target, else target) in basis points, rounded half up; NULL without either.';
COMMENT ON COLUMN report_participants_regency.bpjs_unconfirmed IS 'Enrolments still unconfirmed at BPJS (report_bpjs_unconfirmed.unconfirmed).';
