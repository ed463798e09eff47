"""Participants against target (issue 14, "Reports an operator can query";
docs/lifecycle.md, "Reports"), against a real PostgreSQL, intake over HTTP
and lindungctl:

- the views of 022_reports.sql per village, district (kecamatan) and regency:
  enrolled (every status), active, covered now (an enrolment starting next
  month is active but not covered), the village target and its share in
  basis points, rounded half up; every village of the regency is listed,
  those with nobody too; registrations unconfirmed at BPJS per regency;
- GET /v1/reports/participants scoped like /v1/programs/{code}/villages:
  a village key sees its own village (and only at level=village, else 403),
  a regency key its regency (another regency's programme is 404, as an
  unknown one), admin all; 422 for a bad level, 405 for another method;
- `lindungctl report participants` gives the API's figures;
- every report view and column has a comment.

Enrolments are made with SQL as in test_events.py; every expected figure is
counted here from what the test made, never read back from the views.
"""

from __future__ import annotations

import json
import unittest

import harness
from test_events import ENROL_SQL, THIS_MONTH, VILLAGE_A, VILLAGE_B, month_add

ADD = "PALI-TEST-ADD"        # village_target 100, no quota (programs_test.json)
REGENCY = "16.12"
DISTRICT = "16.12.01"
TARGET = 100


def share_bp(count: int, target: int) -> int:
    """count / target in basis points, rounded half up (integers only)."""
    return (count * 20000 + target) // (2 * target)


class ReportsTest(harness.LindungTestCase):

    def setUp(self) -> None:
        super().setUp()
        s = self.stack
        s.migrate()
        s.import_programs()
        # village A: three enrolled, one of them dead (ended): 2 active
        a = self.enrol(VILLAGE_A, 3, THIS_MONTH, base=0)
        s.cluster.psql(f"UPDATE enrolments SET status = 'ended', end_reason = 'death', "
                       f"end_month = '{THIS_MONTH}-01', ended_at = now() "
                       f"WHERE id = {a[0][0]}")
        # village B: one starting next month (active, not covered now)
        self.enrol(VILLAGE_B, 1, month_add(THIS_MONTH, 1), base=100)
        # one of A registered at BPJS: 3 of the 4 still unconfirmed
        s.cluster.psql(f"UPDATE enrolments SET bpjs_status = 'registered', kpj = 'KPJ000001', "
                       f"bpjs_effective_month = start_month, bpjs_answered_at = now() "
                       f"WHERE id = {a[1][0]}")
        self.villages = {r[0] for r in s.cluster.psql(
            f"SELECT code FROM regions WHERE level = 'village' AND regency_code = '{REGENCY}'")}
        self.district_villages = {v for v in self.villages if v.startswith(DISTRICT + ".")}
        s.start_daemons("intake")
        self.admin = s.create_key("admin")

    def enrol(self, village: str, n: int, start: str, base: int) -> list[tuple[int, str]]:
        rows = self.stack.cluster.psql(ENROL_SQL.format(
            program=ADD, village=village, n=n, base=base, start=start,
            district=village.replace(".", "")[:6], year=70))
        return [(int(i), nik) for i, nik in rows]

    def report(self, key: str | None, **query: str) -> harness.Response:
        q = "&".join(f"{k}={v}" for k, v in query.items())
        return self.stack.api("GET", "/v1/reports/participants" + (f"?{q}" if q else ""), key)

    def assert_error(self, r: harness.Response, status: int, code: str) -> None:
        self.assertEqual(r.status, status, r.body)
        self.assertEqual(r.body["error"]["code"], code, r.body)

    def test_village_district_and_regency_figures(self) -> None:
        r = self.report(self.admin, program=ADD, level="village")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["level"], "village")
        rows = {x["village_code"]: x for x in r.body["items"]}
        self.assertEqual(set(rows), self.villages)     # every village, empty ones too
        a, b = rows[VILLAGE_A], rows[VILLAGE_B]
        self.assertEqual((a["enrolled"], a["active"], a["covered_now"]), (3, 2, 2))
        self.assertEqual((b["enrolled"], b["active"], b["covered_now"]), (1, 1, 0))
        self.assertEqual((a["village_target"], a["village_quota"]), (TARGET, None))
        self.assertEqual(a["target_share_bp"], share_bp(2, TARGET))
        self.assertEqual(a["district_code"], DISTRICT)
        empty = rows[sorted(self.villages - {VILLAGE_A, VILLAGE_B})[0]]
        self.assertEqual((empty["active"], empty["target_share_bp"]), (0, 0))

        r = self.report(self.admin, program=ADD, level="district")
        self.assertEqual(r.status, 200, r)
        d = {x["district_code"]: x for x in r.body["items"]}[DISTRICT]
        self.assertEqual((d["villages"], d["enrolled"], d["active"], d["covered_now"]),
                         (len(self.district_villages), 4, 3, 2))
        self.assertEqual(d["target"], TARGET * len(self.district_villages))
        self.assertEqual(d["target_share_bp"],
                         share_bp(3, TARGET * len(self.district_villages)))
        self.assertEqual(d["villages_at_target"], 0)
        self.assertTrue(d["district_name"])

        r = self.report(self.admin, program=ADD, level="regency")
        self.assertEqual(r.status, 200, r)
        [g] = r.body["items"]
        self.assertEqual((g["regency_code"], g["villages"], g["enrolled"], g["active"],
                          g["covered_now"]), (REGENCY, len(self.villages), 4, 3, 2))
        self.assertEqual(g["target"], TARGET * len(self.villages))
        self.assertIsNone(g["total_target"])
        self.assertEqual(g["target_share_bp"], share_bp(3, TARGET * len(self.villages)))
        self.assertEqual(g["bpjs_unconfirmed"], 3)

        # lindungctl reads the same views
        ctl = json.loads(self.stack.lindungctl("report", "participants", "--program", ADD,
                                               "--level", "regency", "--json").stdout)
        self.assertEqual(ctl, r.body["items"])
        out = self.stack.lindungctl("report", "participants", "--program", ADD).stdout
        self.assertIn("target_share_bp", out.splitlines()[0])
        self.assertIn(VILLAGE_A, out)
        bad = self.stack.lindungctl("report", "participants", "--program", "NO-SUCH",
                                    check=False)
        self.assertEqual(bad.returncode, 1, bad)
        bad = self.stack.lindungctl("report", "participants", "--level", "province",
                                    check=False)
        self.assertEqual(bad.returncode, 2, bad)

    def test_scope_and_errors(self) -> None:
        s = self.stack
        village = s.create_key(f"village:{VILLAGE_A}")
        r = self.report(village, program=ADD)
        self.assertEqual(r.status, 200, r)
        self.assertEqual([x["village_code"] for x in r.body["items"]], [VILLAGE_A])
        r = self.report(village)          # every programme of its regency, its village only
        self.assertEqual({x["village_code"] for x in r.body["items"]}, {VILLAGE_A})
        self.assert_error(self.report(village, level="district"), 403, "OUT_OF_SCOPE")
        self.assert_error(self.report(village, level="regency"), 403, "OUT_OF_SCOPE")

        regency = s.create_key(f"regency:{REGENCY}")
        r = self.report(regency, program=ADD, level="district")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(all(x["regency_code"] == REGENCY for x in r.body["items"]))
        r = self.report(regency, level="regency")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.body["items"])
        self.assertTrue(all(x["regency_code"] == REGENCY for x in r.body["items"]))

        other = s.create_key("regency:16.05")
        self.assert_error(self.report(other, program=ADD), 404, "NOT_FOUND")
        items = self.report(other, level="regency").body["items"]
        self.assertEqual({x["regency_code"] for x in items}, {"16.05"})
        self.assert_error(self.report(self.admin, program="NO-SUCH"), 404, "NOT_FOUND")
        r = self.report(self.admin, level="province")
        self.assert_error(r, 422, "INVALID_FIELDS")
        self.assertEqual([e["field"] for e in r.body["error"]["details"]], ["level"])
        self.assert_error(self.report(None), 401, "UNAUTHENTICATED")
        r = s.api("POST", "/v1/reports/participants", self.admin, json={})
        self.assert_error(r, 405, "METHOD_NOT_ALLOWED")

    def test_every_report_view_and_column_has_a_comment(self) -> None:
        missing = self.stack.cluster.psql(
            "SELECT c.relname, coalesce(a.attname, '(view)') FROM pg_class c "
            "LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 "
            "  AND col_description(c.oid, a.attnum) IS NULL "
            "WHERE c.relkind = 'v' AND c.relname LIKE 'report\\_%' "
            "  AND (obj_description(c.oid, 'pg_class') IS NULL OR a.attname IS NOT NULL)")
        self.assertEqual(missing, [])
        views = self.stack.cluster.psql(
            "SELECT relname FROM pg_class WHERE relkind = 'v' AND relname LIKE 'report\\_%' "
            "ORDER BY 1")
        self.assertEqual([v[0] for v in views],
                         ["report_bpjs_unconfirmed", "report_participants_district",
                          "report_participants_regency", "report_participants_village"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
