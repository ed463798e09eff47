-- 025_keys: API keys that expire, and when each key was last used (issue 15,
-- "Keys"; docs/operations.md, "API keys"). An operator gives a key an end
-- with `lindungctl apikey create --expires YYYY-MM-DD|DAYS`; intake's auth
-- (services/intake/auth.c) then answers 401 for it exactly as for an unknown
-- key. `lindungctl apikey list` shows both columns, so a key nobody uses any
-- more can be found and revoked.
--
-- last_used_at is written by intake at most once a minute per key (the
-- lookup says whether the stored time is a minute old; only then does it
-- update, and the update's own condition keeps racing workers to one
-- write): a write per request would make every read a write. It is a
-- non-key column, so the update never waits for (nor blocks) a submission
-- referencing the key.
--
-- Revocation is by the key's id alone (lindungctl): the prefix is 11
-- characters of the key and may be shared by two keys, so nothing changes
-- here for it.

-- NULL on both for every key made before this migration: no end, never seen.
ALTER TABLE api_keys
    ADD COLUMN expires_at timestamptz,
    ADD COLUMN last_used_at timestamptz;

COMMENT ON COLUMN api_keys.expires_at IS
    'When the key stops working (401 from then on, as an unknown key); NULL: no end. '
    '--expires YYYY-MM-DD gives the start of the next day, Asia/Jakarta.';
COMMENT ON COLUMN api_keys.last_used_at IS
    'When intake last accepted the key, to within a minute (written at most once a '
    'minute per key); NULL: never used since 025.';
