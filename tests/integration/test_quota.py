"""Rules verify and transfers must apply alike (found by a review).

A village quota is a cap, also when more people are active than it allows.

That happens without anyone breaking a rule: an operator lowers a
programme's `village_quota` below the village's active count, or a death is
corrected after its place was given to someone else. verify then counted the
places left as negative, and a negative count passed as room: the village
got unlimited places (a review found it). Now such a village is full until
enough people end.

A transfer into a programme limited to some occupations reads the person's
occupation as verify does: "09" is code 9 (PETANI/PEKEBUN), 034.
"""

from __future__ import annotations

import json
import unittest

import harness
import nikgen

VILLAGE = "16.12.01.2001"


def programme(quota: int) -> dict:
    return {"programs": [{"code": "TEST-LOWQ", "name": "test: a village quota lowered",
                          "regency_code": "16.12", "funding_source": "ADD",
                          "coverage_start": "2024-01", "occupations": [],
                          "village_quota": quota}]}


class QuotaTest(harness.LindungTestCase):

    def submit(self, key: str, people: list[dict]) -> list[str]:
        s = self.stack
        r = s.api("POST", "/v1/submissions", key=key, json={
            "program_code": "TEST-LOWQ", "village_code": VILLAGE, "applicants": people})
        self.assertEqual(r.status, 202, r.body)
        sid = r.body["submission_id"]
        harness.wait_until(lambda: s.cluster.scalar(
            f"SELECT status FROM submissions WHERE id = '{sid}'") == "verified",
            timeout=30, message="verified")
        return [d for (d,) in s.cluster.psql(
            f"SELECT decision FROM applicants WHERE submission_id = '{sid}' ORDER BY idx")]

    def test_a_quota_lowered_below_the_active_count_still_caps(self) -> None:
        s = self.stack
        s.migrate()
        s.import_programs()
        path = s.dir / "lowq.json"
        path.write_text(json.dumps(programme(3)))
        s.import_programs(path)
        key = s.create_key("admin")
        s.start_daemons("intake", "verify")
        self.assertEqual(self.submit(key, [nikgen.person(i) for i in range(3)]),
                         ["accepted"] * 3)
        path.write_text(json.dumps(programme(2)))  # 3 active, the cap now 2
        s.import_programs(path)
        self.assertEqual(self.submit(key, [nikgen.person(100 + i) for i in range(4)]),
                         ["rejected"] * 4)
        self.assertEqual(s.cluster.scalar(
            "SELECT count(*) FROM enrolments WHERE status = 'active' "
            f"AND village_code = '{VILLAGE}'"), "3")


    def test_a_transfer_reads_the_occupation_as_verify_does(self) -> None:
        s = self.stack
        s.migrate()
        s.import_programs()
        path = s.dir / "farm.json"
        path.write_text(json.dumps({"programs": [
            {"code": "TEST-ANY", "name": "test: any occupation", "regency_code": "16.12",
             "funding_source": "ADD", "coverage_start": "2024-01", "occupations": []},
            {"code": "TEST-FARM", "name": "test: farmers", "regency_code": "16.12",
             "funding_source": "ADD", "coverage_start": "2024-01",
             "occupations": ["PETANI/PEKEBUN"]}]}))
        s.import_programs(path)
        key = s.create_key("admin")
        s.start_daemons("intake", "verify")
        direct = nikgen.person(1, occupation="09")
        r = s.api("POST", "/v1/submissions", key=key, json={
            "program_code": "TEST-FARM", "village_code": "16.12.01.2002", "applicants": [direct]})
        self.assertEqual(r.status, 202, r.body)
        mover = nikgen.person(2, occupation="09")
        r = s.api("POST", "/v1/submissions", key=key, json={
            "program_code": "TEST-ANY", "village_code": VILLAGE, "applicants": [mover]})
        self.assertEqual(r.status, 202, r.body)
        harness.wait_until(lambda: s.cluster.scalar(
            "SELECT count(*) FROM applicants WHERE decision = 'accepted'") == "2",
            timeout=30, message="both accepted")
        out = s.lindungctl("enrolment", "transfer", mover["nik"], "--village", "16.12.01.2002",
                           "--program", "TEST-FARM", check=False)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertEqual(s.cluster.scalar(
            "SELECT p.code FROM enrolments e JOIN programs p ON p.id = e.program_id "
            f"WHERE e.nik = '{mover['nik']}' AND e.status = 'active'"), "TEST-FARM")

if __name__ == "__main__":
    unittest.main(verbosity=2)
