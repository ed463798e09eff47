"""A village quota is a cap, also when more people are active than it allows.

That happens without anyone breaking a rule: an operator lowers a
programme's `village_quota` below the village's active count, or a death is
corrected after its place was given to someone else. verify then counted the
places left as negative, and a negative count passed as room: the village
got unlimited places (a review found it). Now such a village is full until
enough people end.
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


if __name__ == "__main__":
    unittest.main(verbosity=2)
