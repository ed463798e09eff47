-- 029_comments: the last columns without a comment (issue 17, item 7), so
-- that every table and column of schema public says what it holds (020
-- made that the rule; 028_audit.sql left these out). The monthly partitions
-- of accruals are described by their parent, as in 020.
-- tests/integration/test_comments.py fails on any table or column that has
-- none: a migration that adds one adds its comment too.

COMMENT ON COLUMN audit_log.id IS
    'Row number, in the order rows were written; `lindungctl audit` lists rows in its '
    'order.';
COMMENT ON COLUMN audit_log.at IS
    'When the request was recorded (UTC timestamptz, the database''s clock: now() of '
    'the writing transaction).';
COMMENT ON COLUMN audit_log.actor IS
    'Who acted: for actor_kind ''key'' the API key''s id (api_keys.id, never the key '
    'itself), for ''operator'' the OS login that ran lindungctl, for ''daemon'' a '
    'daemon''s name (allowed by the check; no daemon writes such rows yet).';
COMMENT ON COLUMN audit_log.nik_count IS
    'How many people the request concerned: the number of entries of nik_hashes '
    '(generated, never written).';

COMMENT ON COLUMN audit_pepper.only_row IS
    'Always true, and the primary key: the table holds one row, never two.';
COMMENT ON COLUMN audit_pepper.pepper IS
    'The secret HMAC-SHA256 key (at least 32 random bytes, made by gen_random_bytes at '
    'migration) of audit_nik_hash(); secret: whoever has it can test a guessed NIK '
    'against a copy of audit_log.';
