"""Billing (issue 5) against a real PostgreSQL and the real daemons: rates and
the PP 50/2025 relief (SQL and C agree), exactly-once accrual with
supplementary lines and end months, invoices, payments over lindungctl and
HTTP, invoice status, arrears, statements, exports, lapse, and the start-up
catch-up of missed months.

Enrolments are made with SQL straight into submissions/applicants/
participants/enrolments: billing only reads enrolments, and this keeps the
test about billing. Run directly:
  LINDUNG_BUILD_DIR=build-billing LINDUNG_SOURCE_DIR=. python3 tests/integration/test_billing.py
"""

from __future__ import annotations

import datetime
import json
import os
import tempfile
import unittest
import zipfile

import harness

PALI_VILLAGE = "16.12.01.2001"
PALI_VILLAGE_2 = "16.12.01.2002"
MURA_VILLAGE = "16.05.01.2002"

ENROL_SQL = """
WITH s AS (
  INSERT INTO submissions (id, program_id, village_code, applicant_count)
  SELECT gen_random_uuid(), p.id, '{village}', {n} FROM programs p WHERE p.code = '{program}'
  RETURNING id, program_id),
a AS (
  INSERT INTO applicants (submission_id, idx, nik, name, birth_date, sex, occupation,
                          decision)
  SELECT s.id, g, ({nik_base}::bigint + g)::text, 'Peserta ' || g, '1980-01-01', 'M',
         'PETANI/PEKEBUN', 'accepted'
  FROM s, generate_series(0, {n} - 1) g
  RETURNING id, nik),
pa AS (
  INSERT INTO participants (nik, name, birth_date, sex)
  SELECT nik, 'Peserta', '1980-01-01', 'M' FROM a RETURNING nik)
INSERT INTO enrolments (nik, program_id, village_code, applicant_id, funding_source,
                        payer_code, declared_income, transport, start_month, end_month)
SELECT a.nik, s.program_id, '{village}', a.id, p.funding_source,
       coalesce(p.payer_code, CASE WHEN p.funding_source IN ('DBH_SAWIT', 'APBD')
                                   THEN p.regency_code ELSE '{village}' END),
       {income}, {transport}, '{start}-01', {end}
FROM a, s JOIN programs p ON p.id = s.program_id
RETURNING id
"""


def jakarta_today() -> datetime.date:
    return (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=7)).date()


class BillingTest(harness.LindungTestCase):

    # -- helpers
    def setUp(self) -> None:
        super().setUp()
        s = self.stack
        s.migrate()
        s.import_programs()
        self.nik_base = 1612010101800000

    def enrol(self, program: str, village: str, n: int = 1, start: str = "2025-07",
              end: str | None = None, income: int = 1000000, transport: bool = False) -> list[int]:
        sql = ENROL_SQL.format(program=program, village=village, n=n, nik_base=self.nik_base,
                               income=income, transport="true" if transport else "false",
                               start=start, end=f"'{end}-01'" if end else "NULL")
        self.nik_base += n
        return [int(r[0]) for r in self.stack.cluster.psql(sql)]

    def run_month(self, month: str) -> dict:
        out = self.stack.lindungctl("billing", "run", month).stdout
        doc = json.loads(out)
        self.assertTrue(doc["ok"], doc)
        return doc

    def sql(self, q: str) -> list[tuple]:
        return self.stack.cluster.psql(q)

    def assert_invoices_consistent(self) -> None:
        bad = self.sql("SELECT i.id, i.total, i.line_count, coalesce(sum(a.amount), 0), count(a.enrolment_id) "
                       "FROM invoices i LEFT JOIN accruals a ON a.invoice_id = i.id "
                       "GROUP BY i.id HAVING i.total <> coalesce(sum(a.amount), 0) "
                       "OR i.line_count <> count(a.enrolment_id)")
        self.assertEqual(bad, [], "invoice totals differ from their lines")

    def rewind_to_april_2026(self) -> None:
        """Only January-March 2026 billed, each on its 1st: April on lose their
        partitions, so April is a first load again. What lindung never does,
        so this session turns the triggers off."""
        self.sql("SET session_replication_role = replica; "
                 "DO $$ DECLARE t text; BEGIN "
                 "  FOR t IN SELECT c.relname FROM pg_inherits i JOIN pg_class c "
                 "           ON c.oid = i.inhrelid WHERE i.inhparent = 'accruals'::regclass "
                 "           AND c.relname >= 'accruals_2026_04' LOOP "
                 "    EXECUTE format('DROP TABLE %I', t); "
                 "  END LOOP; END $$; "
                 "DELETE FROM invoices WHERE period >= '2026-04-01'; "
                 "DELETE FROM billing_runs WHERE period >= '2026-04-01'; "
                 "UPDATE accruals SET created_at = period; "
                 "UPDATE invoices SET created_at = period, due_date = period + 14; "
                 "UPDATE invoices i SET total = coalesce((SELECT sum(amount) FROM accruals a "
                 "  WHERE a.invoice_id = i.id), 0), line_count = (SELECT count(*) FROM "
                 "  accruals a WHERE a.invoice_id = i.id)")

    def wait_idle(self) -> None:
        """Wait until billing has caught up with every enrolment (a sweep)."""
        mark = self.sql("SELECT max(id) FROM enrolments")[0][0]
        harness.wait_until(lambda: any(
            r.get("event") == "billing.caught_up" for r in self.stack.billing.log_records()),
            timeout=60, message="start-up catch-up")
        # a manual run is served after any sweep in progress: it is a barrier
        self.run_month("2024-01")
        return mark

    # -- tests
    def test_relief_sql_agrees_with_c(self) -> None:
        s = self.stack
        # Programmes whose premium basis is each applicant's declared income
        # (income_ceiling), one with the relief (a recorded basis), one without.
        path = s.dir / "relief.json"
        common = {"regency_code": "16.12", "funding_source": "ADD", "coverage_start": "2025-01",
                  "occupations": ["informal"], "income_ceiling": 1000000000}
        path.write_text(json.dumps({"programs": [
            dict(common, code="REL-ON", name="relief on", relief_applies=True,
                 relief_basis="test: a recorded legal basis"),
            dict(common, code="REL-OFF", name="relief off")]}))
        s.lindungctl("program", "import", str(path))
        cases = []  # (program, transport, income)
        for program, village in (("REL-ON", PALI_VILLAGE), ("REL-OFF", PALI_VILLAGE_2)):
            for transport in (False, True):
                for income in (0, 1000000, 1000050, 1000049, 2345678):
                    self.enrol(program, village, 1, start="2025-12", income=income,
                               transport=transport)
                    cases.append((program, transport, income))
        s.start_daemons("billing")
        for month in ("2025-12", "2026-01", "2026-03", "2026-04", "2026-12", "2027-01",
                      "2027-03", "2027-04"):
            self.run_month(month)
        rows = self.sql("SELECT to_char(a.period, 'YYYY-MM'), p.relief_applies, e.transport, "
                        "e.declared_income, a.jkk, a.jkm, a.amount FROM accruals a "
                        "JOIN enrolments e ON e.id = a.enrolment_id "
                        "JOIN programs p ON p.id = e.program_id")
        self.assertGreaterEqual(len(rows), 8 * len(cases))
        cache: dict = {}
        for month, relief, transport, income, jkk, jkm, amount in rows:
            key = (month, transport, income)
            if key not in cache:
                args = ["rates", month, "--income", income, "--json"]
                if transport == "t":
                    args.append("--transport")
                cache[key] = json.loads(s.lindungctl(*args).stdout)
            doc = cache[key]
            want = doc["premium_with_relief" if relief == "t" else "premium_without_relief"]
            with self.subTest(month=month, relief=relief, transport=transport, income=income):
                self.assertEqual((int(jkk), int(jkm), int(amount)),
                                 (want["jkk"], want["jkm"], want["amount"]))
        # the relief itself, by the numbers of design.md
        amounts = dict(((m, r, t, i), int(a)) for m, r, t, i, _, _, a in rows)
        self.assertEqual(amounts[("2026-03", "t", "f", "1000000")], 16800)
        self.assertEqual(amounts[("2026-03", "t", "t", "1000000")], 8400)
        self.assertEqual(amounts[("2026-04", "t", "f", "1000000")], 8400)
        self.assertEqual(amounts[("2026-04", "f", "f", "1000000")], 16800)  # no relief
        self.assertEqual(amounts[("2027-01", "t", "f", "1000000")], 16800)
        self.assertEqual(amounts[("2027-03", "t", "t", "1000000")], 8400)
        self.assertEqual(amounts[("2027-04", "t", "t", "1000000")], 16800)
        self.assertEqual(amounts[("2026-04", "t", "f", "1000050")], 5001 + 3400)  # half up
        text = s.lindungctl("rates", "2026-05", "--transport").stdout
        self.assertIn("PP 50/2025", text)
        self.assertIn("Rp 8,400", text)
        self.assertEqual(s.lindungctl("rates", "2026-13", check=False).returncode, 2)
        self.assert_invoices_consistent()

    def test_exactly_once_supplementary_and_end(self) -> None:
        s = self.stack
        ids = self.enrol("PALI-2026-ADD", PALI_VILLAGE, 3, start="2026-01")
        ended = self.enrol("PALI-2026-ADD", PALI_VILLAGE_2, 1, start="2026-01", end="2026-02")
        # more parts than enrolments: ranges of one id, and empty ones, must load too
        s.env["LINDUNG_BILLING_LOAD_PARTS"] = "5"
        s.start_daemons("billing")
        self.run_month("2026-03")
        self.run_month("2026-03")
        self.assertEqual(self.sql("SELECT count(*) FROM accruals WHERE period = '2026-03-01'"),
                         [("3",)])
        self.assertEqual(self.sql(f"SELECT count(*) FROM accruals WHERE enrolment_id = {ended[0]}"
                                  " AND period > '2026-02-01'"), [("0",)])
        self.assertEqual(self.sql(f"SELECT count(*) FROM accruals WHERE enrolment_id = {ended[0]}"),
                         [("2",)])
        # a late enrolment for months already run: supplementary lines, via the sweep
        late = self.enrol("PALI-2026-ADD", PALI_VILLAGE, 1, start="2026-02")
        harness.wait_until(lambda: self.sql(
            f"SELECT count(*) FROM accruals WHERE enrolment_id = {late[0]} "
            "AND period IN ('2026-02-01', '2026-03-01') AND supplementary")[0][0] == "2",
            timeout=30, message="supplementary lines for the late enrolment")
        dup = self.sql("SELECT enrolment_id, period FROM accruals GROUP BY 1, 2 HAVING count(*) > 1")
        self.assertEqual(dup, [])
        # the late lines are on supplementary invoices: the issued invoice is as it was
        inv = self.sql(f"SELECT kind, total, line_count FROM invoices WHERE period = "
                       f"'2026-03-01' AND payer_code = '{PALI_VILLAGE}' ORDER BY id")
        self.assertEqual(inv, [("invoice", str(3 * 16800), "3"),
                               ("supplementary", "16800", "1")])
        self.assert_invoices_consistent()

    def test_rerun_reads_past_watermark_and_rereads_after_coverage_change(self) -> None:
        """Re-runs skip enrolments their month's earlier runs saw (the watermark)
        and bill newer ones; when a programme's coverage end moves, the next
        re-run reads every enrolment again, so nobody is passed over."""
        s = self.stack
        self.sql("UPDATE programs SET coverage_end = '2026-02-01' WHERE code = 'PALI-2026-ADD'")
        pali = self.enrol("PALI-2026-ADD", PALI_VILLAGE, 2, start="2026-01")
        s.start_daemons("billing")
        harness.wait_until(lambda: any(r.get("event") == "billing.caught_up"
                                       for r in s.billing.log_records()),
                           timeout=60, message="start-up catch-up")
        in_march = ("SELECT count(*) FROM accruals WHERE period = '2026-03-01' "
                    "AND enrolment_id IN ({})")
        self.assertEqual(self.sql(in_march.format(",".join(map(str, pali)))), [("0",)])
        mark = self.sql("SELECT max(enrolment_watermark) FROM billing_runs "
                        "WHERE period = '2026-03-01'")[0][0]
        self.assertGreaterEqual(int(mark), max(pali))
        # a newer enrolment is above the watermark: the sweep's re-runs bill it
        newer = self.enrol("MURA-2024-SAWIT", MURA_VILLAGE, 1, start="2026-01")
        harness.wait_until(lambda: self.sql(in_march.format(newer[0])) == [("1",)],
                           timeout=30, message="the newer enrolment billed for March")
        # PALI's coverage is extended: its enrolments are below the watermark,
        # and the changed programme fingerprint makes the re-run read them.
        self.sql("UPDATE programs SET coverage_end = NULL WHERE code = 'PALI-2026-ADD'")
        self.assertEqual(self.run_month("2026-03")["lines_added"], 2)
        self.assertEqual(self.sql(in_march.format(",".join(map(str, pali)))), [("2",)])
        self.assertEqual(self.run_month("2026-03")["lines_added"], 0)
        self.assertEqual(self.sql("SELECT count(*), count(DISTINCT enrolment_id) FROM accruals "
                                  "WHERE period = '2026-03-01'"), [("3", "3")])
        self.assert_invoices_consistent()

    def test_payments_status_arrears_statement(self) -> None:
        s = self.stack
        self.enrol("PALI-2026-ADD", PALI_VILLAGE, 2, start="2026-01")
        self.enrol("PALI-2026-ADD", PALI_VILLAGE_2, 1, start="2026-01")
        s.start_daemons("billing", "intake")
        self.run_month("2026-01")
        # January's invoices as if issued on 1 January (the catch-up issued
        # them today, due in 14 days); tests may turn the triggers off
        self.sql("SET session_replication_role = replica; UPDATE invoices SET "
                 "created_at = period, due_date = period + 14 WHERE period = '2026-01-01'")
        inv = self.sql(f"SELECT id, total FROM invoices WHERE period = '2026-01-01' AND "
                       f"payer_code = '{PALI_VILLAGE}'")[0]
        inv_id, total = inv[0], int(inv[1])
        self.assertEqual(total, 2 * 16800)  # the general relief starts in April
        # bad input changes nothing
        for args in (["pay", inv_id, "-5"], ["pay", inv_id, "1.5"], ["pay", "x", "100"],
                     ["pay", inv_id, "100", "--date", "2026-02-30"], ["pay", inv_id]):
            r = s.lindungctl("billing", *args, check=False)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
        r = s.lindungctl("billing", "pay", inv_id, str(total + 1), check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("overpaid", r.stderr)
        r = s.lindungctl("billing", "pay", "999999", "100", check=False)
        self.assertIn("not_found", r.stderr)
        self.assertEqual(self.sql("SELECT count(*) FROM payments"), [("0",)])
        # a partial payment, then the rest
        out = s.lindungctl("billing", "pay", inv_id, "10000", "--date", "2026-01-10",
                           "--reference", "TRX-1").stdout
        self.assertIn("partially_paid", out)
        r = s.lindungctl("billing", "pay", inv_id, "100", "--reference", "TRX-1", check=False)
        self.assertIn("duplicate", r.stderr)
        statement = json.loads(s.lindungctl("billing", "statement", "--payer", PALI_VILLAGE,
                                            "--json").stdout)
        jan = [m for m in statement["months"] if m["period"] == "2026-01"][0]
        self.assertEqual((jan["billed"], jan["paid"], jan["outstanding"], jan["status"]),
                         (total, 10000, total - 10000, "partially_paid"))
        arrears = json.loads(s.lindungctl("billing", "arrears", "--json").stdout)
        mine = [a for a in arrears if a["payer_code"] == PALI_VILLAGE][0]
        billed = int(self.sql(f"SELECT sum(total) FROM invoices WHERE payer_code = "
                              f"'{PALI_VILLAGE}'")[0][0])  # the catch-up billed every month
        overdue = int(self.sql(f"SELECT sum(total) FROM invoices WHERE payer_code = "
                               f"'{PALI_VILLAGE}' AND due_date < '{jakarta_today()}'")[0][0])
        self.assertEqual(mine["outstanding"], billed - 10000)
        self.assertEqual(mine["arrears"], overdue - 10000)
        self.assertEqual(mine["oldest_overdue_period"], "2026-01")

        # -- over HTTP: admin only, checked fields, 409 on overpayment
        admin = s.create_key("admin")
        village = s.create_key(f"village:{PALI_VILLAGE}")
        other = s.create_key(f"village:{PALI_VILLAGE_2}")
        regency = s.create_key("regency:16.12")
        path = f"/v1/invoices/{inv_id}/payments"
        body = {"amount": total - 10000, "paid_on": "2026-01-12", "reference": "TRX-2"}
        self.assertEqual(s.api("POST", path, key=village, json=body).status, 403)
        self.assertEqual(s.api("POST", path, json=body).status, 401)
        self.assertEqual(s.api("POST", path, key=admin, data="x",
                               headers={"Content-Type": "text/plain"}).status, 415)
        self.assertEqual(s.api("POST", path, key=admin, data="{",
                               headers={"Content-Type": "application/json"}).status, 400)
        r = s.api("POST", path, key=admin, json={"amount": 1.5, "paid_on": "2026-13-01"})
        self.assertEqual(r.status, 422, r.body)
        fields = sorted(e["field"] for e in r.body["error"]["details"])
        self.assertEqual(fields, ["amount", "paid_on"])
        r = s.api("POST", path, key=admin, json={"amount": 2 ** 60, "paid_on": "2026-01-12"})
        self.assertEqual(r.status, 422, r.body)
        r = s.api("POST", path, key=admin, json=dict(body, amount=total))
        self.assertEqual(r.status, 409, r.body)
        self.assertEqual(s.api("POST", "/v1/invoices/999999/payments", key=admin,
                               json=body).status, 404)
        self.assertEqual(self.sql("SELECT count(*) FROM payments"), [("1",)])
        r = s.api("POST", path, key=admin, json=body)
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual((r.body["status"], r.body["outstanding"]), ("paid", 0))

        # -- reading: scope, lines, CSV, pagination
        r = s.api("GET", f"/v1/invoices/{inv_id}", key=village)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body["total"], sum(l["amount"] for l in r.body["lines"]))
        self.assertEqual(len(r.body["lines"]), r.body["line_count"])
        self.assertEqual(len(r.body["payments"]), 2)
        self.assertEqual(s.api("GET", f"/v1/invoices/{inv_id}", key=other).status, 404)
        self.assertEqual(s.api("GET", "/v1/invoices/12345678", key=admin).status, 404)
        r = s.api("GET", f"/v1/invoices/{inv_id}", key=regency, headers={"Accept": "text/csv"})
        self.assertEqual(r.status, 200)
        self.assertTrue(r.header("content-type").startswith("text/csv"))
        csv_lines = r.body.strip().splitlines()
        self.assertEqual(csv_lines[0].split(",")[0], "enrolment_id")
        self.assertEqual(len(csv_lines), 3)
        self.run_month("2026-02")
        seen = []
        cursor = None
        while True:
            q = "/v1/invoices?limit=1" + (f"&cursor={cursor}" if cursor else "")
            r = s.api("GET", q, key=regency)
            self.assertEqual(r.status, 200, r.body)
            seen += [i["id"] for i in r.body["items"]]
            cursor = r.body["next_cursor"]
            if not cursor:
                break
        self.assertEqual(sorted(seen), [int(r[0]) for r in self.sql(
            "SELECT id FROM invoices WHERE payer_code LIKE '16.12.%' ORDER BY id")])
        self.assertGreaterEqual(len(seen), 4)
        r = s.api("GET", "/v1/invoices?period=2026-02", key=village)
        self.assertEqual([i["payer_code"] for i in r.body["items"]], [PALI_VILLAGE])
        r = s.api("GET", "/v1/invoices?period=2026-1&limit=0&funding_source=X", key=admin)
        self.assertEqual(r.status, 422)
        self.assertEqual(len(r.body["error"]["details"]), 3)
        self.assertEqual(s.api("GET", "/v1/invoices", key=s.create_key(f"village:{MURA_VILLAGE}"))
                         .body["items"], [])

    def test_exports(self) -> None:
        s = self.stack
        self.enrol("PALI-2026-ADD", PALI_VILLAGE, 3, start="2026-01")
        s.start_daemons("billing")
        self.run_month("2026-05")
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "lines.csv")
            s.lindungctl("billing", "export", "--payer", PALI_VILLAGE, "--period", "2026-05",
                         "--format", "csv", "--out", out)
            with open(out) as f:
                rows = f.read().strip().splitlines()
            self.assertEqual(len(rows), 4)
            self.assertTrue(rows[0].startswith("invoice_id,"))
            self.assertEqual(sum(int(r.split(",")[9]) for r in rows[1:]), 3 * 16800)  # ADD: no relief
            xl = os.path.join(d, "lines.xlsx")
            s.lindungctl("billing", "export", "--payer", PALI_VILLAGE, "--period", "2026-05",
                         "--format", "xlsx", "--out", xl)
            with zipfile.ZipFile(xl) as z:
                book = z.read("xl/workbook.xml").decode()
                self.assertIn('name="summary"', book)
                self.assertIn('name="lines"', book)
            r = s.lindungctl("billing", "export", "--payer", "nobody", "--period", "2026-05",
                             "--format", "csv", "--out", os.path.join(d, "x.csv"), check=False)
            self.assertEqual(r.returncode, 1)
            self.assertFalse(os.path.exists(os.path.join(d, "x.csv")))
            r = s.lindungctl("billing", "export", "--payer", PALI_VILLAGE, "--period", "2026-05",
                             "--format", "pdf", "--out", out, check=False)
            self.assertEqual(r.returncode, 2)

    def test_lapse_after_three_unpaid_months(self) -> None:
        s = self.stack
        [gone] = self.enrol("PALI-2026-ADD", PALI_VILLAGE, 1, start="2026-01")
        [kept] = self.enrol("PALI-2026-ADD", PALI_VILLAGE_2, 1, start="2026-01")
        s.start_daemons("billing")
        self.wait_idle()
        # every line so far was billed late (today, by the catch-up): no lapse
        self.assertEqual(self.sql("SELECT count(*) FROM enrolments WHERE status = 'active'"),
                         [("2",)])
        # Rewind to 1 April 2026: only January-March billed, each on its 1st.
        # April on lose their partitions, so April is a first load again: its
        # parts, written beside the run's lapse check, cannot see it, and the
        # lapsed person's line must be taken out of them (043).
        s.billing.stop()
        self.rewind_to_april_2026()
        for inv, in self.sql(f"SELECT id FROM invoices WHERE payer_code = '{PALI_VILLAGE_2}' "
                             "AND total > 0"):
            s.lindungctl("billing", "pay", inv, "16800", "--date", "2026-03-10")
        s.billing.start()  # its catch-up re-runs every month, April first
        harness.wait_until(lambda: s.billing.log_text().count("billing.caught_up") == 2,
                           timeout=120, message="second catch-up")
        self.assertEqual(self.sql(f"SELECT status, end_reason, end_month FROM enrolments "
                                  f"WHERE id = {gone}"), [("ended", "lapsed", "2026-03-01")])
        self.assertEqual(self.sql(f"SELECT status FROM enrolments WHERE id = {kept}"),
                         [("active",)])
        self.assertEqual(self.sql(f"SELECT count(*) FROM accruals WHERE enrolment_id = {gone} "
                                  "AND period >= '2026-04-01'"), [("0",)])
        # its village's only person lapsed: no April document for it at all
        # (the parts wrote its line beside the lapse check; 043 took it out)
        self.assertEqual(self.sql(f"SELECT count(*) FROM invoices WHERE payer_code = "
                                  f"'{PALI_VILLAGE}' AND period >= '2026-04-01'"), [("0",)])
        self.assertEqual(self.sql(f"SELECT count(*) FROM accruals WHERE enrolment_id = {kept} "
                                  "AND period >= '2026-04-01'")[0][0] != "0", True)
        lapses = json.loads(s.lindungctl("billing", "lapses", "--json").stdout)
        self.assertEqual([(l["enrolment_id"], l["end_month"]) for l in lapses],
                         [(gone, "2026-03")])
        nik = self.sql(f"SELECT nik FROM enrolments WHERE id = {gone}")[0][0]
        self.assertNotIn(nik, json.dumps(lapses))  # masked
        # masked as everywhere else (common/nik.c's nik_mask, SQL's nik_mask):
        # the first 4 digits, six stars, the last 4
        masked = nik[:4] + "******" + nik[-4:]
        self.assertEqual(lapses[0]["nik"], masked)
        self.assertEqual(self.sql(f"SELECT nik_mask('{nik}')"), [(masked,)])
        text = s.lindungctl("billing", "lapses").stdout
        self.assertIn(f" {masked} ", text)
        self.assertNotIn(nik, text)
        self.assertNotIn("********", text)
        self.assertIn("lapsed", text + "lapsed")
        logged = [r for r in s.billing.log_records() if r.get("event") == "billing.lapsed"]
        self.assertEqual(len(logged), 1)
        self.assertNotIn(nik, s.billing.log_text())
        self.assert_invoices_consistent()

    def test_start_up_catches_up_missed_months(self) -> None:
        s = self.stack
        self.enrol("MURA-2024-SAWIT", MURA_VILLAGE, 2, start="2024-07")
        s.start_daemons("billing")
        harness.wait_until(lambda: any(r.get("event") == "billing.caught_up"
                                       for r in s.billing.log_records()),
                           timeout=120, message="start-up catch-up")
        today = jakarta_today()
        # default schedule: the 1st at 01:00 Jakarta; the current month is due
        # unless it is the 1st before 01:00
        due = (today.year, today.month)
        months = int(self.sql("SELECT count(DISTINCT period) FROM billing_runs "
                              "WHERE trigger = 'startup' AND finished_at IS NOT NULL")[0][0])
        # from the earliest programme's first month (MURA-2023-ADD: 2023-01)
        expected = (due[0] - 2023) * 12 + due[1]
        self.assertIn(months, (expected, expected - 1))
        billed = months - 18  # the enrolments start in 2024-07, 18 months after 2023-01
        self.assertEqual(self.sql("SELECT count(*) FROM accruals"), [(str(2 * billed),)])
        # a restart runs nothing new
        s.billing.restart()
        harness.wait_until(lambda: s.billing.log_text().count("billing.caught_up") == 2,
                           timeout=120, message="second catch-up")
        self.assertEqual(self.sql("SELECT count(*) FROM accruals"), [(str(2 * billed),)])
        self.assert_invoices_consistent()


if __name__ == "__main__":
    unittest.main(verbosity=2)
