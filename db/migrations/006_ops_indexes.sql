-- 006_ops_indexes: for operators' look-ups (lindungctl participants, status):
-- a NIK's applications, and what was verified in the last hour. Decisions are
-- found through submissions.verified_at (written in the same transaction as
-- every decision of the submission) and not through an index on
-- applicants.decided_at: that index would stop the decision update from being
-- a HOT update and rewrite every index of applicants, halving verify's speed.
CREATE INDEX applicants_nik_idx ON applicants (nik);
CREATE INDEX submissions_verified_at_idx ON submissions (verified_at) WHERE verified_at IS NOT NULL;
