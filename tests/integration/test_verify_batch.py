"""Batches of submissions (LINDUNG_VERIFY_BATCH) must not let one bad
submission hold back the others: a submission whose transaction always fails
(here a trigger refuses one NIK) makes its batch roll back, the batch is redone
one submission per transaction, every other submission is verified, and the bad
one waits, unverified and logged, for someone to look."""

from __future__ import annotations

import time
import unittest

import harness
import nikgen

POISON = nikgen.person(99)


class VerifyBatchIsolation(harness.LindungTestCase):

    def test_one_failing_submission_does_not_block_its_batch(self) -> None:
        s = self.stack
        s.migrate()
        s.import_programs()
        key = s.create_key("admin")
        c = s.cluster
        c.psql(f"""
            CREATE FUNCTION test_refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF NEW.nik = '{POISON["nik"]}' THEN RAISE EXCEPTION 'poison NIK'; END IF;
              RETURN NEW;
            END $$;
            CREATE TRIGGER test_refuse_poison BEFORE INSERT ON enrolments
              FOR EACH ROW EXECUTE FUNCTION test_refuse_poison();""")
        s.start_daemons("billing", "intake")
        ids = []
        for n in range(6):
            people = [nikgen.person(10 * n + i) for i in range(3)]
            if n == 3:
                people.append(POISON)
            r = s.api("POST", "/v1/submissions", key=key, json={
                "program_code": "PALI-TEST-ADD", "village_code": "16.12.01.2001",
                "applicants": people})
            self.assertEqual(r.status, 202, r.body)
            ids.append(r.body["submission_id"])
        # All six wait before verify starts, so they are claimed as one batch.
        s.start_daemons("verify")
        good = [i for n, i in enumerate(ids) if n != 3]
        in_list = ",".join(f"'{i}'" for i in good)
        harness.wait_until(lambda: c.scalar(
            f"SELECT count(*) FROM submissions WHERE status = 'verified' AND id IN ({in_list})")
            == "5", timeout=30, message="the five good submissions verified")
        self.assertEqual(c.scalar(f"SELECT status FROM submissions WHERE id = '{ids[3]}'"),
                         "verifying")
        self.assertEqual(c.scalar(f"SELECT count(*) FROM applicants WHERE submission_id = "
                                  f"'{ids[3]}' AND decision <> 'pending'"), "0")
        self.assertEqual(c.scalar("SELECT count(*) FROM enrolments"), "15")
        harness.wait_until(lambda: any(
            r.get("event") == "submission.retry_later" and r.get("submission_id") == ids[3]
            for r in s.verify.log_records()), timeout=10, message="the failure logged")
        self.assertTrue(s.verify.running())

        # The failing one does not stall what comes after it: it is left out of
        # claims for a while, so new submissions are verified at once.
        r = s.api("POST", "/v1/submissions", key=key, json={
            "program_code": "PALI-TEST-ADD", "village_code": "16.12.01.2001",
            "applicants": [nikgen.person(200)]})
        later = r.body["submission_id"]
        harness.wait_until(lambda: c.scalar(
            f"SELECT status FROM submissions WHERE id = '{later}'") == "verified",
            timeout=5, message="a later submission verified promptly")
        # Over several sweeps (LINDUNG_SWEEP_MS=500 here) the failing one was
        # tried once, not on every sweep.
        time.sleep(3)
        tries = sum(1 for r in s.verify.log_records()
                    if r.get("event") == "submission.retry_later"
                    and r.get("submission_id") == ids[3])
        self.assertEqual(tries, 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
