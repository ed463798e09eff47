-- 003_reads: indexes for the read endpoints (a programme's villages and
-- whether each has submitted; a participant's enrolments).
CREATE INDEX submissions_program_village_idx ON submissions (program_id, village_code);
CREATE INDEX enrolments_nik_idx ON enrolments (nik);
