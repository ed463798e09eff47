"""End-to-end test: a PALI village submits five applicants over HTTP, verify
decides each one, the accepted two are enrolled, and billing invoices the
village's ADD budget for the current month (coverage starts at acceptance)
exactly once, however often it is run.

Runs the real lindung-intake, lindung-verify and lindung-billing against a
throw-away PostgreSQL (see harness.py). CTest name: integration_e2e.
"""

from __future__ import annotations

import datetime
import json
import signal
import time
import unittest

import harness

PROGRAM = "PALI-TEST-ADD"
VILLAGE = "16.12.01.2001"      # Talang Bulang, a desa of PALI (db/seed/wilayah.csv)
# coverage starts in the month of acceptance (Asia/Jakarta): the month billed
PERIOD = (datetime.datetime.now(datetime.timezone.utc)
          + datetime.timedelta(hours=7)).strftime("%Y-%m")
PREMIUM = 16800                # Rp per enrolment per month (JKK 10,000 + JKM 6,800)

# NIK = PP RR DD (16 12 01) + DDMMYY (women: DD + 40) + serial.
GOOD_MAN = {"nik": "1612011205800001", "name": "Budi Santoso", "birth_date": "1980-05-12",
            "sex": "M", "occupation": "PETANI/PEKEBUN"}
GOOD_WOMAN = {"nik": "1612016308850001", "name": "Siti Aminah", "birth_date": "1985-08-23",
              "sex": "F", "occupation": "PERDAGANGAN"}
# 15 digits: structurally not a NIK.
BAD_NIK = {"nik": "161201150690001", "name": "Andi Salah", "birth_date": "1990-06-15",
           "sex": "M", "occupation": "PETANI/PEKEBUN"}
# A valid NIK, but over 70 in the first covered month (limit: under 65).
TOO_OLD = {"nik": "1612011003550002", "name": "Darmo Tua", "birth_date": "1955-03-10",
           "sex": "M", "occupation": "NELAYAN/PERIKANAN"}

# Submission order, and what verify must decide for each entry.
APPLICANTS = [BAD_NIK, TOO_OLD, GOOD_MAN, GOOD_WOMAN, dict(GOOD_MAN)]
EXPECTED = [("rejected", "NIK_INVALID"),
            ("rejected", "AGE_OVER_LIMIT"),
            ("accepted", None),
            ("accepted", None),
            ("rejected", "DUPLICATE_IN_SUBMISSION")]  # a later repeat of a NIK


class EndToEnd(harness.LindungTestCase):

    def test_submit_verify_enrol_bill(self) -> None:
        s = self.stack
        s.migrate()
        s.migrate()  # idempotent: a second run changes nothing and succeeds
        s.import_programs()
        key = s.create_key("admin", name="e2e-admin")
        s.start_daemons()

        # -- submit
        r = s.api("POST", "/v1/submissions", key=key, json={
            "program_code": PROGRAM, "village_code": VILLAGE,
            "reference": "Musdes 12/2025", "applicants": APPLICANTS})
        self.assertEqual(r.status, 202, f"POST /v1/submissions: {r.body}")
        self.assertEqual(r.body.get("status"), "received", r.body)
        self.assertEqual(r.body.get("applicants"), len(APPLICANTS), r.body)
        sid = r.body["submission_id"]
        self.assertTrue(sid, r.body)

        # -- verify decides every applicant
        def verified():
            g = s.api("GET", f"/v1/submissions/{sid}", key=key)
            assert g.status == 200, (g.status, g.body)
            return g.body if g.body.get("status") == "verified" else None

        sub = harness.wait_until(verified, timeout=30, interval=0.2,
                                 message=f"submission {sid} to be verified")
        self.assertEqual(sub["program_code"], PROGRAM)
        self.assertEqual(sub["village_code"], VILLAGE)
        self.assertEqual(sub["counts"], {"total": 5, "pending": 0,
                                         "accepted": 2, "rejected": 3}, sub)
        applicants = sorted(sub["applicants"], key=lambda a: a["index"])
        self.assertEqual(len(applicants), len(APPLICANTS), sub)
        for i, (a, sent, (decision, code)) in enumerate(zip(applicants, APPLICANTS, EXPECTED)):
            with self.subTest(entry=i, nik=sent["nik"]):
                self.assertEqual(a["decision"], decision, a)
                codes = [x["code"] for x in a.get("reasons", [])]
                if code is None:
                    self.assertEqual(codes, [], a)
                    # Region digits match (no NIK_REGION_MISMATCH); PALI's data
                    # deadline 2025-05-30 has passed and its policy is to warn.
                    self.assertEqual([w["code"] for w in a.get("warnings", [])],
                                     ["SUBMITTED_AFTER_DEADLINE"], a)
                    self.assertEqual(a["nik"], sent["nik"], a)
                else:
                    self.assertIn(code, codes, a)
                    for x in a["reasons"]:
                        self.assertTrue(x.get("message"), a)

        # -- bill this month: one ADD invoice for the village, 2 x Rp 16,800
        out = s.lindungctl("billing", "run", PERIOD).stdout
        json.loads(out)  # a JSON summary
        invoice_sql = (f"SELECT total, line_count FROM invoices WHERE period = '{PERIOD}-01' "
                       f"AND funding_source = 'ADD' AND payer_code = '{VILLAGE}'")
        self.assertEqual(s.cluster.psql(invoice_sql), [(str(2 * PREMIUM), "2")],
                         f"invoice after first billing run; summary: {out}")
        self.assertEqual(s.cluster.psql(
            f"SELECT count(*), sum(amount) FROM accruals WHERE period = '{PERIOD}-01'"),
            [("2", str(2 * PREMIUM))])
        # nothing before the month of acceptance: insurance never covers the past
        self.assertEqual(s.cluster.psql(
            f"SELECT count(*) FROM accruals WHERE period < '{PERIOD}-01'"), [("0",)])
        # billing also accrues on its own (start-up catch-up, enrolment prompts,
        # sweeps): let that settle, so that what follows sees only the re-run
        before = self.settled_billing_rows()

        # -- a second run for the same month changes nothing
        out2 = s.lindungctl("billing", "run", PERIOD).stdout
        json.loads(out2)
        self.assertEqual(self.billing_rows(), before,
                         f"second billing run changed rows; summary: {out2}")
        self.assertEqual(s.cluster.psql(invoice_sql), [(str(2 * PREMIUM), "2")])

        # -- logs never carry a whole NIK (design: masked like 1612******0001)
        for name, d in s.daemons.items():
            for nik in (GOOD_MAN["nik"], GOOD_WOMAN["nik"], TOO_OLD["nik"]):
                self.assertNotIn(nik, d.log_text(), f"{name} logged an unmasked NIK")

        # -- every daemon exits cleanly on SIGTERM
        for name, d in s.daemons.items():
            with self.subTest(daemon=name):
                self.assertEqual(d.kill(signal.SIGTERM), 0,
                                 f"{name} exit code on SIGTERM; log:\n{d.log_tail(30)}")

    def settled_billing_rows(self, quiet_s: float = 1.5, timeout: float = 30.0) -> dict[str, list]:
        """billing_rows() once it has stayed the same for `quiet_s` seconds
        (three sweeps at LINDUNG_SWEEP_MS=500)."""
        last = {"rows": self.billing_rows(), "since": time.monotonic()}

        def quiet():
            rows = self.billing_rows()
            if rows != last["rows"]:
                last.update(rows=rows, since=time.monotonic())
                return None
            return rows if time.monotonic() - last["since"] >= quiet_s else None

        return harness.wait_until(quiet, timeout=timeout, interval=0.25,
                                  message="billing tables to stop changing")

    def billing_rows(self) -> dict[str, list]:
        """Every row of invoices and accruals, as text, in a stable order."""
        return {t: self.stack.cluster.psql(f"SELECT x::text FROM {t} x ORDER BY 1")
                for t in ("invoices", "accruals")}


if __name__ == "__main__":
    unittest.main(verbosity=2)
