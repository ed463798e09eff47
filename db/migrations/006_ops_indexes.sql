-- 006_ops_indexes: for operators' look-ups (lindungctl participants, status):
-- a NIK's applications, and decisions in the last hour.
CREATE INDEX applicants_nik_idx ON applicants (nik);
CREATE INDEX applicants_decided_at_idx ON applicants (decided_at) WHERE decided_at IS NOT NULL;
