-- 023_cover_key_bigint: the one-covered-month constraint (013) keyed on the
-- NIK as a number. A GiST index compares a text key through btree_gist's
-- text support, which made every enrolment insert and every update of an
-- enrolment's months several times dearer (bench/billing, bench/verify:
-- ending 107,692 enrolments 27-29 s with the text key, 3.9-4.4 s with the
-- number; 1M inserts 270 s against 51 s). A NIK is 16 digits with no leading
-- zero (participants' CHECK), so the number is the same key. Lookups by NIK
-- (verify, events, BPJS) get a plain btree index again.
ALTER TABLE enrolments DROP CONSTRAINT enrolments_one_cover_per_month,
    ADD CONSTRAINT enrolments_one_cover_per_month
        EXCLUDE USING gist ((nik::bigint) WITH =,
                            enrolment_months(start_month, end_month) WITH &&);
CREATE INDEX enrolments_nik_idx ON enrolments (nik);
COMMENT ON INDEX enrolments_nik_idx IS 'Look-ups of a person''s enrolments by NIK.';
COMMENT ON CONSTRAINT enrolments_one_cover_per_month ON enrolments IS
    'One person, one covered month: no two enrolments of a NIK share a month (013, 023).';
