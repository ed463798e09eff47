"""The demo programmes run end to end (issue 4): each is submitted to, decided
by its own rules, and billed to the payer its funding source names: the village
for ADD and APBDES, the regency for DBH sawit, the company for CSR. Also: DBH
sawit lists come only from the district office, Lahat demands a poverty
reference, ADD refuses a kelurahan, a NIK active anywhere blocks every other
programme, and an ended enrolment lets the NIK be enrolled again, from the
next month.

Most demo programmes are budget years that have ended (issue 13), so their
rules are tried on copies without an end (the same codes, re-imported without
coverage_end, deadline or renewal): the test then holds on any date."""

from __future__ import annotations

import datetime
import json
import unittest

import harness
import nikgen

FARMER, TRADER = "PETANI/PEKEBUN", "PEDAGANG"


def this_month() -> datetime.date:
    now = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=7)
    return now.date().replace(day=1)


def month_after(d: datetime.date) -> datetime.date:
    return (d + datetime.timedelta(days=32)).replace(day=1)


def month_before(d: datetime.date) -> datetime.date:
    return (d - datetime.timedelta(days=1)).replace(day=1)


def without_ends(stack) -> None:
    """Re-import the demo programmes with no end, deadline or renewal."""
    doc = json.loads((harness.SOURCE_DIR / "db/seed/programs.json").read_text())
    for prog in doc["programs"]:
        for k in ("coverage_end", "submission_deadline", "renews"):
            prog.pop(k, None)
    path = stack.dir / "open.json"
    path.write_text(json.dumps(doc))
    stack.import_programs(path)


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
        without_ends(s)
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
        sid = self.submit(admin, "LAHAT-2024-ADD", "16.04.01.2001", lahat)
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

        # Bill this month, everybody's first (coverage starts at acceptance):
        # each payer gets its own invoice, and nothing is billed before.
        month = this_month()
        out = s.lindungctl("billing", "run", month.strftime("%Y-%m")).stdout
        self.assertIn('"ok":true', out)
        invoices = {(r[0], r[1]): int(r[2]) for r in s.cluster.psql(
            "SELECT funding_source, payer_code, sum(line_count) FROM invoices "
            f"WHERE period = '{month}' GROUP BY 1, 2")}
        self.assertEqual(s.cluster.scalar(
            f"SELECT count(*) FROM accruals WHERE period < '{month}'"), "0")
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

        # Ending an enrolment frees the NIK from the next month: the sawit
        # farmer moves to ADD.
        nik = p(6, d="160501")["nik"]
        ym = month.strftime("%Y-%m")
        s.lindungctl("enrolment", "end", nik, "--month", ym, "--reason", "left")
        bad = s.lindungctl("enrolment", "end", nik, "--month", ym, "--reason",
                           "left", check=False)
        self.assertNotEqual(bad.returncode, 0)
        sid = self.submit(mura_village, "MURA-2024-ADD", "16.05.01.2002", [p(6, d="160501")])
        self.assertEqual(self.decisions(admin, sid), [("accepted", [])])
        history = s.cluster.psql(f"SELECT status, end_reason, start_month::text FROM "
                                 f"enrolments WHERE nik = '{nik}' ORDER BY id")
        self.assertEqual(history, [("ended", "left", str(month)),
                                   ("active", None, str(month_after(month)))])
        listed = json.loads(s.lindungctl("enrolment", "history", nik, "--json").stdout)
        self.assertEqual([(e["status"], e["end_reason"], e["end_month"]) for e in listed],
                         [("ended", "left", ym), ("active", None, None)])

        # Villages of a programme: accepted so far and whether they submitted.
        r = s.api("GET", "/v1/programs/PALI-2025-ADD/villages?limit=1000", key=admin)
        self.assertEqual(r.status, 200, r.body)
        talang = [v for v in r.body["items"] if v["village_code"] == "16.12.01.2001"][0]
        self.assertEqual((talang["accepted"], talang["target"], talang["submitted"]),
                         (2, 100, True))
        other = [v for v in r.body["items"] if v["village_code"] == "16.12.01.2002"][0]
        self.assertEqual((other["accepted"], other["submitted"]), (0, False))


class ProgrammeEnd(harness.LindungTestCase):
    """A programme's coverage_end is its last billed month (issue 13): its
    enrolments end there, nothing accrues after it, and lists arriving after
    it are refused (DEADLINE_PASSED)."""

    def programme(self, end: datetime.date | None) -> None:
        path = self.stack.dir / "ended.json"
        prog = {"code": "TEST-ENDED", "name": "test: ends", "regency_code": "16.12",
                "funding_source": "ADD", "coverage_start": "2025-07",
                "max_age": 64, "occupations": ["informal"]}
        if end:
            prog["coverage_end"] = end.strftime("%Y-%m")
        path.write_text(json.dumps({"programs": [prog]}))
        self.stack.import_programs(path)

    def test_billing_stops_after_coverage_end(self) -> None:
        s = self.stack
        s.migrate()
        s.import_programs()
        month = this_month()
        self.programme(None)
        key = s.create_key("admin")
        s.start_daemons("intake", "verify")
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
        self.programme(month)  # the district ends it with this month
        self.assertEqual(c.psql("SELECT start_month::text, end_month::text FROM enrolments"),
                         [(str(month), str(month))])
        s.start_daemons("billing")
        later = [month, month_after(month), month_after(month_after(month))]
        for m in later:
            self.assertIn('"ok":true', s.lindungctl("billing", "run",
                                                    m.strftime("%Y-%m")).stdout)
        months = [row[0] for row in c.psql(
            "SELECT a.period::text FROM accruals a "
            "JOIN enrolments e ON e.id = a.enrolment_id JOIN programs p ON p.id = e.program_id "
            "WHERE p.code = 'TEST-ENDED' ORDER BY 1")]
        self.assertEqual(months, [str(month)])
        self.assertEqual(c.scalar(f"SELECT count(*) FROM invoices WHERE payer_code = '{village}' "
                                  f"AND period > '{month}'"), "0")

        # A list arriving after the programme ended is refused.
        self.programme(month_before(month))
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
