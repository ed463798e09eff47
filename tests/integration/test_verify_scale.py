"""Scale-out proof for lindung-verify (issue 4): two verify processes share one
database while overlapping submissions from different villages and programmes
race for the same NIKs and press one village's quota. Afterwards every NIK is
enrolled at most once, no quota is exceeded, and every applicant is decided
exactly once, with the proper reason for the losers."""

from __future__ import annotations

import json
import random
import threading
import unittest

import harness
import nikgen

QUOTA_PROGRAM = {
    "code": "TEST-QUOTA", "name": "test: quota 5 per village", "regency_code": "16.12",
    "funding_source": "ADD", "coverage_start": "2025-07", "max_age": 64,
    "occupations": ["informal"], "village_quota": 5,
}
VILLAGES = ["16.12.01.2001", "16.12.01.2002", "16.12.01.2004"]


class VerifyScaleOut(harness.LindungTestCase):

    def test_two_verifiers_overlapping_submissions(self) -> None:
        s = self.stack
        s.migrate()
        s.import_programs()
        extra = s.dir / "quota.json"
        extra.write_text(json.dumps({"programs": [QUOTA_PROGRAM]}))
        s.import_programs(extra)
        key = s.create_key("admin")
        s.start_daemons("billing", "intake")
        env2 = dict(s.env, LINDUNG_VERIFY_PORT=str(harness.free_port()))
        second = harness.Daemon("verify2", harness.BINARIES["verify"], env2,
                                int(env2["LINDUNG_VERIFY_PORT"]), s.dir / "verify2.log")
        s.daemons["verify2"] = second

        # 40 people; every submission draws 15 of them, so NIKs collide a lot.
        # The quota village also draws on 20 people nobody else submits, so its
        # quota is always under pressure whatever order the races take.
        people = [nikgen.person(i) for i in range(40)]
        own = [nikgen.person(i) for i in range(40, 60)]
        rng = random.Random(4)
        bodies = []
        for n in range(24):
            quota = n % 3 == 0
            bodies.append({"program_code": "TEST-QUOTA" if quota else "PALI-TEST-ADD",
                           "village_code": VILLAGES[0] if quota else VILLAGES[n % 3],
                           "applicants": rng.sample(people, 10) + rng.sample(own, 5)
                           if quota else rng.sample(people, 15)})

        # Both verifiers run while submissions pour in from 24 clients at once.
        s.verify.start()
        second.start()
        ids, errors = [], []

        def post(body):
            r = s.api("POST", "/v1/submissions", key=key, json=body)
            (ids if r.status == 202 else errors).append(
                r.body["submission_id"] if r.status == 202 else r)

        threads = [threading.Thread(target=post, args=(b,)) for b in bodies]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])

        harness.wait_until(lambda: s.cluster.scalar(
            "SELECT count(*) FROM submissions WHERE status <> 'verified'") == "0",
            timeout=60, message="every submission verified")

        c = s.cluster
        # Every applicant decided exactly once: none pending, one decision time each.
        self.assertEqual(c.scalar("SELECT count(*) FROM applicants WHERE decision = 'pending' "
                                  "OR decided_at IS NULL"), "0")
        self.assertEqual(c.scalar("SELECT count(*) FROM applicants"), str(24 * 15))
        # Each NIK enrolled at most once, and only through an accepted applicant.
        self.assertEqual(c.scalar("SELECT count(*) FROM (SELECT nik FROM enrolments "
                                  "GROUP BY nik HAVING count(*) > 1) d"), "0")
        self.assertEqual(c.scalar("SELECT count(*) FROM applicants WHERE decision = 'accepted'"),
                         c.scalar("SELECT count(*) FROM enrolments"))
        self.assertEqual(c.scalar(
            "SELECT count(*) FROM enrolments e JOIN applicants a ON a.id = e.applicant_id "
            "WHERE a.decision <> 'accepted' OR a.nik <> e.nik"), "0")
        # No NIK accepted twice across submissions.
        self.assertEqual(c.scalar("SELECT count(*) FROM (SELECT nik FROM applicants "
                                  "WHERE decision = 'accepted' GROUP BY nik "
                                  "HAVING count(*) > 1) d"), "0")
        # Every shared person ends up enrolled somewhere (they are all eligible) ...
        self.assertEqual(c.scalar("SELECT count(DISTINCT e.nik) FROM enrolments e "
                                  "JOIN programs p ON p.id = e.program_id "
                                  "WHERE p.code = 'PALI-TEST-ADD' OR e.nik IN (" +
                                  ",".join(f"'{p['nik']}'" for p in people) + ")"),
                         str(len(people)))
        # ... but the quota village holds exactly its quota, never more.
        self.assertEqual(c.scalar(
            "SELECT count(*) FROM enrolments e JOIN programs p ON p.id = e.program_id "
            f"WHERE p.code = 'TEST-QUOTA' AND e.village_code = '{VILLAGES[0]}'"), "5")
        # Losers got reasons, not errors.
        reasons = {row[0] for row in c.psql(
            "SELECT DISTINCT r->>'code' FROM applicants, jsonb_array_elements(reasons) r")}
        self.assertIn("DUPLICATE_ACTIVE", reasons)
        self.assertIn("QUOTA_EXCEEDED", reasons)
        self.assertEqual(reasons, {"DUPLICATE_ACTIVE", "QUOTA_EXCEEDED"})
        shares = [sum(1 for r in d.log_records() if r.get("event") == "submission.verified")
                  for d in (s.verify, second)]
        print(f"submissions verified by each process: {shares}")
        self.assertEqual(sum(shares), 24)
        # Both processes were alive to the end and neither logged an error.
        for d in (s.verify, second):
            self.assertTrue(d.running(), d.name)
            self.assertFalse([r for r in d.log_records() if r.get("level") == "error"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
