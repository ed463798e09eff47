"""The demo programmes run end to end (issue 4): each is submitted to, decided
by its own rules, and billed to the payer its funding source names: the village
for ADD and APBDES, the regency for DBH sawit, the company for CSR. Also: DBH
sawit lists come only from the district office, Lahat demands a poverty
reference, ADD refuses a kelurahan, a NIK active anywhere blocks every other
programme, and an ended enrolment lets the NIK be enrolled again."""

from __future__ import annotations

import json
import unittest

import harness
import nikgen

FARMER, TRADER = "PETANI/PEKEBUN", "PEDAGANG"


class DemoProgrammes(harness.LindungTestCase):

    def submit(self, key, program, village, applicants, status=202):
        r = self.stack.api("POST", "/v1/submissions", key=key, json={
            "program_code": program, "village_code": village, "applicants": applicants})
        self.assertEqual(r.status, status, r.body)
        return r.body.get("submission_id")

    def decisions(self, key, sid):
        c = self.stack.cluster
        harness.wait_until(lambda: c.scalar(
            f"SELECT status FROM submissions WHERE id = '{sid}'") == "verified",
            timeout=30, message=f"submission {sid} verified")
        body = self.stack.api("GET", f"/v1/submissions/{sid}", key=key).body
        return [(a["decision"], [x["code"] for x in a["reasons"]]) for a in body["applicants"]]

    def test_every_demo_programme(self) -> None:
        s = self.stack
        s.migrate()
        s.import_programs()
        admin = s.create_key("admin")
        mura_office = s.create_key("regency:16.05")
        mura_village = s.create_key("village:16.05.01.2002")
        s.start_daemons()
        p = lambda i, occ=FARMER, d="161201": nikgen.person(i, district=d, occupation=occ)

        # PALI, ADD: one accepted, one trader accepted (informal), kelurahan refused.
        sid = self.submit(admin, "PALI-2025-ADD", "16.12.01.2001", [p(1), p(2, TRADER)])
        self.assertEqual(self.decisions(admin, sid), [("accepted", []), ("accepted", [])])
        sid = self.submit(admin, "PALI-2025-ADD", "16.12.01.1003", [p(3)])
        self.assertEqual(self.decisions(admin, sid), [("rejected", ["NOT_A_DESA"])])

        # Lahat, ADD: poverty reference required.
        lahat = [dict(p(4, d="160401"), poverty_ref="Musdes 3/2025"), p(5, d="160401")]
        sid = self.submit(admin, "LAHAT-2025-ADD", "16.04.01.2001", lahat)
        self.assertEqual(self.decisions(admin, sid),
                         [("accepted", []), ("rejected", ["POVERTY_REF_REQUIRED"])])

        # Musi Rawas DBH sawit: only the district office submits; palm-oil only.
        sawit = [p(6, d="160501"), p(7, TRADER, d="160501")]
        self.submit(mura_village, "MURA-2024-SAWIT", "16.05.01.2002", sawit, status=403)
        sid = self.submit(mura_office, "MURA-2024-SAWIT", "16.05.01.2002", sawit)
        self.assertEqual(self.decisions(admin, sid),
                         [("accepted", []), ("rejected", ["OCCUPATION_NOT_ELIGIBLE"])])

        # Musi Rawas ADD and CSR (village key); the sawit farmer is already covered.
        sid = self.submit(mura_village, "MURA-2024-ADD", "16.05.01.2002",
                          [p(8, d="160501"), p(6, d="160501")])
        decided = self.decisions(mura_village, sid)
        self.assertEqual(decided[0], ("accepted", []))
        self.assertEqual(decided[1], ("rejected", ["DUPLICATE_ACTIVE"]))
        sid = self.submit(mura_village, "MURA-2026-CSR", "16.05.01.2002", [p(9, d="160501")])
        self.assertEqual(self.decisions(admin, sid), [("accepted", [])])

        # Bulukumba APBDES and Gianyar ADD.
        sid = self.submit(admin, "BULUKUMBA-2024-APBDES", "73.02.01.2004", [p(10, d="730201")])
        self.assertEqual(self.decisions(admin, sid), [("accepted", [])])
        sid = self.submit(admin, "GIANYAR-2024-ADD", "51.04.01.2001", [p(11, d="510401")])
        self.assertEqual(self.decisions(admin, sid), [("accepted", [])])

        # Bill January 2026: every programme but PALI (from 2025-07) and CSR (from
        # 2026-01) has been running since 2024; each payer gets its own invoice.
        out = s.lindungctl("billing", "run", "2026-01").stdout
        self.assertIn('"ok":true', out)
        invoices = {(r[0], r[1]): int(r[2]) for r in s.cluster.psql(
            "SELECT funding_source, payer_code, line_count FROM invoices "
            "WHERE period = '2026-01-01'")}
        self.assertEqual(invoices, {
            ("ADD", "16.12.01.2001"): 2,          # PALI village pays
            ("ADD", "16.04.01.2001"): 1,          # Lahat village pays
            ("DBH_SAWIT", "16.05"): 1,            # Musi Rawas regency pays
            ("ADD", "16.05.01.2002"): 1,          # Musi Rawas village pays
            ("CSR", "CSR-MURA-01"): 1,            # the company pays
            ("APBDES", "73.02.01.2004"): 1,       # Bulukumba village pays
            ("ADD", "51.04.01.2001"): 1,          # Gianyar village pays
        })
        payer = s.cluster.scalar("SELECT payer_name FROM invoices WHERE payer_code = "
                                 "'CSR-MURA-01'")
        self.assertIn("PT Contoh", payer)

        # Ending an enrolment frees the NIK: the sawit farmer moves to ADD.
        nik = p(6, d="160501")["nik"]
        s.lindungctl("enrolment", "end", nik, "--month", "2026-01", "--reason", "left")
        bad = s.lindungctl("enrolment", "end", nik, "--month", "2026-01", "--reason",
                           "left", check=False)
        self.assertNotEqual(bad.returncode, 0)
        sid = self.submit(mura_village, "MURA-2024-ADD", "16.05.01.2002", [p(6, d="160501")])
        self.assertEqual(self.decisions(admin, sid), [("accepted", [])])
        history = s.cluster.psql(f"SELECT status, end_reason FROM enrolments "
                                 f"WHERE nik = '{nik}' ORDER BY id")
        self.assertEqual(history, [("ended", "left"), ("active", None)])
        listed = json.loads(s.lindungctl("enrolment", "history", nik, "--json").stdout)
        self.assertEqual([(e["status"], e["end_reason"], e["end_month"]) for e in listed],
                         [("ended", "left", "2026-01"), ("active", None, None)])

        # Villages of a programme: accepted so far and whether they submitted.
        r = s.api("GET", "/v1/programs/PALI-2025-ADD/villages?limit=1000", key=admin)
        self.assertEqual(r.status, 200, r.body)
        talang = [v for v in r.body["items"] if v["village_code"] == "16.12.01.2001"][0]
        self.assertEqual((talang["accepted"], talang["target"], talang["submitted"]),
                         (2, 100, True))
        other = [v for v in r.body["items"] if v["village_code"] == "16.12.01.2002"][0]
        self.assertEqual((other["accepted"], other["submitted"]), (0, False))


class ProgrammeEnd(harness.LindungTestCase):
    """A programme's coverage_end is its last billed month; after it, nothing
    accrues and new lists are refused (DEADLINE_PASSED)."""

    def test_billing_stops_after_coverage_end(self) -> None:
        s = self.stack
        s.migrate()
        s.import_programs()
        ended = s.dir / "ended.json"
        ended.write_text(json.dumps({"programs": [{
            "code": "TEST-ENDED", "name": "test: two months only", "regency_code": "16.12",
            "funding_source": "ADD", "coverage_start": "2025-07", "coverage_end": "2025-08",
            "max_age": 64, "occupations": ["informal"]}]}))
        s.import_programs(ended)
        # The same programme, still running until this month: accepts lists now.
        running = s.dir / "running.json"
        running.write_text(json.dumps({"programs": [{
            "code": "TEST-ENDED", "name": "test: two months only", "regency_code": "16.12",
            "funding_source": "ADD", "coverage_start": "2025-07", "coverage_end": "2099-12",
            "max_age": 64, "occupations": ["informal"]}]}))
        key = s.create_key("admin")
        s.import_programs(running)
        s.start_daemons("intake", "verify")  # billing only once the programme has ended
        village = "16.12.01.2004"
        r = s.api("POST", "/v1/submissions", key=key, json={
            "program_code": "TEST-ENDED", "village_code": village,
            "applicants": [nikgen.person(1)]})
        self.assertEqual(r.status, 202, r.body)
        sid = r.body["submission_id"]
        c = s.cluster
        harness.wait_until(lambda: c.scalar(
            f"SELECT decision FROM applicants WHERE submission_id = '{sid}'") == "accepted",
            timeout=30, message="accepted")
        s.import_programs(ended)  # the district ends it after two months
        s.start_daemons("billing")  # its start-up catch-up must stop at 2025-08 too

        for month in ("2025-07", "2025-08", "2025-09", "2025-10"):
            self.assertIn('"ok":true', s.lindungctl("billing", "run", month).stdout)
        months = [row[0] for row in c.psql(
            "SELECT to_char(a.period, 'YYYY-MM') FROM accruals a "
            "JOIN enrolments e ON e.id = a.enrolment_id JOIN programs p ON p.id = e.program_id "
            "WHERE p.code = 'TEST-ENDED' ORDER BY 1")]
        self.assertEqual(months, ["2025-07", "2025-08"])
        self.assertEqual(c.scalar(f"SELECT count(*) FROM invoices WHERE payer_code = '{village}' "
                                  "AND period > '2025-08-01'"), "0")

        # A list arriving after the programme ended is refused.
        r = s.api("POST", "/v1/submissions", key=key, json={
            "program_code": "TEST-ENDED", "village_code": village,
            "applicants": [nikgen.person(2)]})
        sid = r.body["submission_id"]
        harness.wait_until(lambda: c.scalar(
            f"SELECT decision FROM applicants WHERE submission_id = '{sid}'") == "rejected",
            timeout=30, message="rejected")
        self.assertIn("DEADLINE_PASSED", c.scalar(
            f"SELECT reasons::text FROM applicants WHERE submission_id = '{sid}'"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
