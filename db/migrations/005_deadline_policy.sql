-- 005_deadline_policy: what a late submission gets. 'reject': DEADLINE_PASSED
-- (the default); 'warn': decided normally with the warning
-- SUBMITTED_AFTER_DEADLINE, for programmes such as PALI whose data deadline
-- passed while villages were still being brought in.
ALTER TABLE programs ADD COLUMN deadline_policy text NOT NULL DEFAULT 'reject'
    CHECK (deadline_policy IN ('reject', 'warn'));
