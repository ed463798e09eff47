"""Crash proof for lindung-verify (issue 4): SIGKILL it in the middle of a
batch, restart it, and check that every applicant ends with exactly one
decision and that no enrolment was half-written (a submission is decided
wholly or not at all, because it is one transaction)."""

from __future__ import annotations

import signal
import time
import unittest

import harness
import nikgen

SUBMISSIONS = 12
PER_SUBMISSION = 1500


class VerifyCrash(harness.LindungTestCase):

    def test_sigkill_mid_batch(self) -> None:
        s = self.stack
        s.migrate()
        s.import_programs()
        key = s.create_key("admin")
        s.start_daemons("billing", "intake")
        people = [nikgen.person(i) for i in range(SUBMISSIONS * PER_SUBMISSION)]
        for n in range(SUBMISSIONS):
            # Every third submission repeats people of the one before: duplicates
            # must still be decided exactly once after the crash.
            start = (n - 1 if n % 3 == 2 else n) * PER_SUBMISSION
            r = s.api("POST", "/v1/submissions", key=key, json={
                "program_code": "PALI-TEST-ADD", "village_code": "16.12.01.2001",
                "applicants": people[start:start + PER_SUBMISSION]})
            self.assertEqual(r.status, 202, r.body)

        c = s.cluster
        s.verify.start()
        # Wait until verify is inside a decision transaction, then kill it.
        harness.wait_until(lambda: c.scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction' "
            "OR query LIKE 'INSERT INTO enrolments%' OR query LIKE 'UPDATE applicants%'") != "0"
            or c.scalar("SELECT count(*) FROM submissions WHERE status = 'verified'") != "0",
            timeout=30, interval=0.005, message="verify busy")
        s.verify.kill(signal.SIGKILL)
        verified_at_kill = int(c.scalar(
            "SELECT count(*) FROM submissions WHERE status = 'verified'"))
        self.assertLess(verified_at_kill, SUBMISSIONS, "the kill came too late to prove anything")

        # Nothing half-written: each submission is all pending or all decided,
        # and enrolments exist only for decided (accepted) applicants.
        self.assertEqual(c.scalar(
            "SELECT count(*) FROM (SELECT submission_id FROM applicants GROUP BY submission_id "
            "HAVING count(*) FILTER (WHERE decision = 'pending') NOT IN (0, count(*))) m"), "0")
        self.assertEqual(c.scalar(
            "SELECT count(*) FROM enrolments e JOIN applicants a ON a.id = e.applicant_id "
            "WHERE a.decision <> 'accepted'"), "0")

        s.verify.start()
        harness.wait_until(lambda: c.scalar(
            "SELECT count(*) FROM submissions WHERE status <> 'verified'") == "0",
            timeout=120, message="all verified after restart")

        self.assertEqual(c.scalar("SELECT count(*) FROM applicants WHERE decision = 'pending'"),
                         "0")
        self.assertEqual(c.scalar("SELECT count(*) FROM applicants WHERE decision = 'accepted'"),
                         c.scalar("SELECT count(*) FROM enrolments"))
        distinct_people = len({p["nik"] for p in people[:SUBMISSIONS * PER_SUBMISSION]})
        expected_enrolled = len({
            p["nik"]
            for n in range(SUBMISSIONS)
            for p in people[(n - 1 if n % 3 == 2 else n) * PER_SUBMISSION:
                            (n - 1 if n % 3 == 2 else n) * PER_SUBMISSION + PER_SUBMISSION]})
        self.assertLessEqual(expected_enrolled, distinct_people)
        self.assertEqual(c.scalar("SELECT count(*) FROM enrolments"), str(expected_enrolled))
        self.assertEqual(c.scalar("SELECT count(*) FROM (SELECT nik FROM enrolments "
                                  "GROUP BY nik HAVING count(*) > 1) d"), "0")
        # Repeats of people already enrolled were rejected as duplicates, not lost.
        self.assertEqual(c.scalar(
            "SELECT count(*) FROM applicants WHERE decision = 'rejected' AND NOT reasons @> "
            "'[{\"code\": \"DUPLICATE_ACTIVE\"}]'"), "0")


if __name__ == "__main__":
    unittest.main(verbosity=2)
