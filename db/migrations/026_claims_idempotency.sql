-- 026_claims_idempotency: a JKK claim posted again with the same
-- Idempotency-Key is the same claim. A district system that lost the answer
-- to POST /v1/claims retries; without this the retry recorded the accident
-- twice, and two claims of the same amount would go to BPJS. The rules are
-- the submissions' (docs/api.md, "Idempotency: retry safely"): the same key
-- (per API key) and the same claim answers the claim recorded first; the
-- same key with another claim is refused and records nothing.
ALTER TABLE claims ADD COLUMN idempotency_key text,
    ADD COLUMN request_hash text;
CREATE UNIQUE INDEX claims_idempotency_idx ON claims (source, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
COMMENT ON COLUMN claims.idempotency_key IS
    'The client''s Idempotency-Key of a JKK claim posted over the API: a retry with the '
    'same key (per API key, in source) and the same claim is the same claim.';
COMMENT ON COLUMN claims.request_hash IS
    'md5 of the claim as posted (NIK, accident date, accident kind, amount claimed): '
    'tells a retry from another claim under the same Idempotency-Key.';

-- claim_open_jkk (018) once per (source, Idempotency-Key). result: 'ok'
-- (opened), 'replay' (the same claim was opened before under this key: its
-- id), 'idempotency_conflict' (another claim used this key: its id), or
-- claim_open_jkk's refusals ('not_covered', 'bad_date', 'bad_amount'), which
-- record nothing, so a retry of a refusal is refused again. The advisory lock
-- makes two concurrent retries one: the second waits, then replays.
CREATE FUNCTION claim_open_jkk_once(p_nik text, p_accident date, p_kind text,
                                    p_amount bigint, p_source text, p_scope text,
                                    p_code text, p_idem text)
RETURNS TABLE (result text, claim_id bigint)
LANGUAGE plpgsql AS $$
DECLARE
    h text := md5(concat_ws(E'\x1f', p_nik, p_accident::text, p_kind, p_amount::text));
    seen claims%ROWTYPE;
    opened record;
BEGIN
    IF p_idem IS NULL THEN
        RETURN QUERY SELECT * FROM claim_open_jkk(p_nik, p_accident, p_kind, p_amount,
                                                  p_source, p_scope, p_code);
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended(p_source || E'\x1f' || p_idem, 26));
    SELECT * INTO seen FROM claims c WHERE c.source = p_source AND c.idempotency_key = p_idem;
    IF FOUND THEN
        RETURN QUERY SELECT CASE WHEN seen.request_hash = h THEN 'replay'
                                 ELSE 'idempotency_conflict' END, seen.id;
        RETURN;
    END IF;
    SELECT * INTO opened FROM claim_open_jkk(p_nik, p_accident, p_kind, p_amount,
                                             p_source, p_scope, p_code);
    IF opened.result = 'ok' THEN
        UPDATE claims SET idempotency_key = p_idem, request_hash = h
        WHERE id = opened.claim_id;
    END IF;
    RETURN QUERY SELECT opened.result, opened.claim_id;
END $$;
COMMENT ON FUNCTION claim_open_jkk_once(text, date, text, bigint, text, text, text, text) IS
    'claim_open_jkk once per Idempotency-Key: ok, replay, idempotency_conflict or its '
    'refusals (POST /v1/claims).';
