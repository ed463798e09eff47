"""BPJS reconciliation (issue 14), against a real PostgreSQL, the real billing
and intake daemons and lindungctl: the export of newly accepted participants
for registration (CSV and XLSX), the import of BPJS's answer (registered with
a KPJ, refused with a reason, rows it cannot match reported by line), the
KPJ in participant reads and invoice exports, a refusal credited in exact
rupiah by billing's next run, idempotent imports, and the follow-up of
registrations BPJS has not answered (lindungctl and the billing gauge).

Enrolments are made with SQL, as in test_money.py; today is 2026-12.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
import unittest
import zipfile

import harness

VILLAGE = "16.12.01.2001"        # Talang Bulang, a desa of PALI
PROGRAM = "PALI-TEST-ADD"        # PALI's rules with no end (programs_test.json)
FULL = 10000 + 6800              # Rp 16,800 a person-month, ADD: no relief
MONTHS = ("2026-10", "2026-11", "2026-12")
KPJ = "25010012345"

ENROL_SQL = """
WITH s AS (
  INSERT INTO submissions (id, program_id, village_code, applicant_count)
  SELECT gen_random_uuid(), p.id, '{village}', {n} FROM programs p WHERE p.code = '{program}'
  RETURNING id, program_id),
a AS (
  INSERT INTO applicants (submission_id, idx, nik, name, birth_date, sex, occupation,
                          address, phone, decision, monthly_income)
  SELECT s.id, g, ({nik_base}::bigint + g)::text, 'Peserta ' || g, '1980-01-01', 'F',
         'PETANI/PEKEBUN', 'Dusun ' || g || ', RT 01', '+6281200000' || g, 'accepted',
         1000000
  FROM s, generate_series(0, {n} - 1) g
  RETURNING id, nik, name),
pa AS (
  INSERT INTO participants (nik, name, birth_date, sex)
  SELECT nik, name, '1980-01-01', 'F' FROM a RETURNING nik)
INSERT INTO enrolments (nik, program_id, village_code, applicant_id, funding_source,
                        payer_code, declared_income, transport, start_month, end_month)
SELECT a.nik, s.program_id, '{village}', a.id, p.funding_source,
       program_payer(p.id, '{village}'), 1000000, false, '{start}-01', NULL
FROM a, s JOIN programs p ON p.id = s.program_id
RETURNING id, nik
"""


class BpjsTest(harness.LindungTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.stack.migrate()
        self.stack.import_programs()
        self.dir = tempfile.mkdtemp(prefix="bpjs-", dir=self.stack.dir)

    # -- helpers
    def sql(self, q: str) -> list[tuple]:
        return self.stack.cluster.psql(q)

    def enrol(self, n: int, nik_base: int = 1612014101800001,
              start: str = "2026-10") -> list[tuple[int, str]]:
        rows = self.sql(ENROL_SQL.format(program=PROGRAM, village=VILLAGE, n=n,
                                         nik_base=nik_base, start=start))
        return [(int(i), nik) for i, nik in rows]

    def run_month(self, month: str) -> None:
        doc = json.loads(self.stack.lindungctl("billing", "run", month).stdout)
        self.assertTrue(doc["ok"], doc)

    def ctl(self, *args: str, rc: int = 0) -> str:
        r = self.stack.lindungctl(*args, check=False)
        self.assertEqual(r.returncode, rc, f"lindungctl {args}:\n{r.stdout}{r.stderr}")
        return r.stdout

    def write(self, name: str, text: str) -> str:
        path = os.path.join(self.dir, name)
        with open(path, "w", newline="") as f:
            f.write(text)
        return path

    def read_csv(self, path: str) -> list[dict[str, str]]:
        with open(path, newline="") as f:
            return list(csv.DictReader(f))

    def export(self, *extra: str, fmt: str = "csv", name: str = "out.csv") -> tuple[str, str]:
        path = os.path.join(self.dir, name)
        out = self.ctl("bpjs", "export", "--format", fmt, "--out", path, *extra)
        return path, out

    def credits(self, enrolment: int) -> list[tuple[str, int, str]]:
        return [(p, int(a), r) for p, a, r in self.sql(
            f"SELECT to_char(period, 'YYYY-MM'), amount, reason FROM line_adjustments "
            f"WHERE enrolment_id = {enrolment} ORDER BY period")]

    # -- tests
    def test_reconciliation_round_trip(self) -> None:
        s = self.stack
        [(reg, reg_nik), (ref, ref_nik), (wait, wait_nik)] = self.enrol(3)
        s.start_daemons("billing", "intake")
        for m in MONTHS:
            self.run_month(m)

        # export: every field a registration needs, full NIKs, the premium
        path, out = self.export()
        self.assertIn("3 participants written", out)
        rows = self.read_csv(path)
        self.assertEqual([r["nik"] for r in rows], [reg_nik, ref_nik, wait_nik])
        first = rows[0]
        self.assertEqual({k: first[k] for k in (
            "enrolment_id", "name", "birth_date", "sex", "address", "phone", "occupation",
            "village_code", "village_name", "district_code", "regency_code", "program",
            "funding_source", "first_month", "jkk", "jkm", "premium")},
            {"enrolment_id": str(reg), "name": "Peserta 0", "birth_date": "1980-01-01",
             "sex": "F", "address": "Dusun 0, RT 01", "phone": "+62812000000",
             "occupation": "PETANI/PEKEBUN", "village_code": VILLAGE,
             "village_name": "Talang Bulang", "district_code": "16.12.01",
             "regency_code": "16.12", "program": PROGRAM, "funding_source": "ADD",
             "first_month": "2026-10", "jkk": "10000", "jkm": "6800", "premium": str(FULL)})
        self.assertTrue(first["district_name"] and first["regency_name"], first)
        self.assertNotIn(reg_nik, out)  # printed output never carries a full NIK
        # exported once: the next export has nobody new; --all sends them again
        path2, out = self.export(name="again.csv")
        self.assertIn("0 participants written", out)
        self.assertEqual(self.read_csv(path2), [])
        xl, _ = self.export("--all", "--program", PROGRAM, fmt="xlsx", name="all.xlsx")
        with zipfile.ZipFile(xl) as z:
            self.assertIn('name="registrations"', z.read("xl/workbook.xml").decode())
            strings = z.read("xl/sharedStrings.xml").decode()
            self.assertIn(ref_nik, strings)  # text, never a rounded number
            self.assertIn("Talang Bulang", strings)
        self.export("--since", "2099-01-01", name="none.csv")
        self.ctl("bpjs", "export", "--format", "pdf", "--out", path, rc=2)

        # BPJS's answer: one registered, one refused, one unknown, one malformed
        answer = ("nik,kpj,status,reason,effective_month\r\n"
                  f"{reg_nik},{KPJ},registered,,2026-10\r\n"
                  f"{ref_nik},,refused,\"NIK tidak padan dengan Dukcapil\",\r\n"
                  "1612014101800099,25010099999,registered,,2026-10\r\n"
                  f"{wait_nik},,maybe,,2026-10\r\n")
        file = self.write("answer.csv", answer)
        out = self.ctl("bpjs", "import", file, rc=1)
        self.assertIn("line 4: 1612******0099: not matched: no enrolment of this NIK", out)
        self.assertIn("line 5: bad field status", out)
        self.assertIn("4 rows: 1 registered, 1 refused, 0 already applied, 2 not matched", out)
        self.assertNotIn(reg_nik, out)
        self.assertEqual(self.sql(
            f"SELECT id, kpj, bpjs_status, to_char(bpjs_effective_month, 'YYYY-MM'), status, "
            f"end_reason, to_char(end_month, 'YYYY-MM'), bpjs_refusal FROM enrolments "
            f"ORDER BY id"),
            [(str(reg), KPJ, "registered", "2026-10", "active", None, None, None),
             (str(ref), None, "refused", None, "ended", "bpjs_refused", "2026-09",
              "NIK tidak padan dengan Dukcapil"),
             (str(wait), None, "pending", None, "active", None, None, None)])

        # the KPJ in the participant read
        key = s.create_key()
        r = s.api("GET", f"/v1/participants/{reg_nik}", key=key)
        self.assertEqual(r.status, 200, r.body)
        [e] = r.body["enrolments"]
        self.assertEqual((e["kpj"], e["bpjs_status"], e["bpjs_effective_month"]),
                         (KPJ, "registered", "2026-10"))
        e = s.api("GET", f"/v1/participants/{ref_nik}", key=key).body["enrolments"][0]
        self.assertEqual((e["kpj"], e["bpjs_status"], e["end_reason"]),
                         (None, "refused", "bpjs_refused"))

        # the refusal credited exactly by billing's next runs: every month billed
        for m in MONTHS:
            self.run_month(m)
        self.assertEqual(self.credits(ref), [(m, -FULL, "ended") for m in MONTHS])
        self.assertEqual(self.credits(reg) + self.credits(wait), [])
        self.assertEqual(self.sql(
            f"SELECT to_char(period, 'YYYY-MM'), total FROM invoices "
            f"WHERE kind = 'credit_note' AND payer_code = '{VILLAGE}' ORDER BY period"),
            [(m, str(-FULL)) for m in MONTHS])

        # the KPJ in the invoice export
        inv = os.path.join(self.dir, "invoice.csv")
        self.ctl("billing", "export", "--payer", VILLAGE, "--period", "2026-10",
                 "--format", "csv", "--out", inv)
        lines = self.read_csv(inv)
        kpj_of = {(r["nik"], r["item"]): r["kpj"] for r in lines}
        self.assertEqual(kpj_of[(reg_nik, "line")], KPJ)
        self.assertEqual(kpj_of[(wait_nik, "line")], "")

        # the same file again changes nothing and says so
        before = self.sql("SELECT id, kpj, bpjs_status, status, end_month, bpjs_answered_at "
                          "FROM enrolments ORDER BY id")
        out = self.ctl("bpjs", "import", file)
        self.assertIn("was imported already", out)
        self.assertIn("nothing changed", out)
        # another file repeating answers already applied: skipped, not errors
        again = self.write("again.csv", "status,nik,kpj,reason,effective_month,extra\n"
                                        f"registered,{reg_nik},{KPJ},,2026-10,x\n"
                                        f"refused,{ref_nik},,again,,y\n")
        out = self.ctl("bpjs", "import", again)
        self.assertIn("2 rows: 0 registered, 0 refused, 2 already applied, 0 not matched",
                      out)
        self.assertEqual(self.sql("SELECT id, kpj, bpjs_status, status, end_month, "
                                  "bpjs_answered_at FROM enrolments ORDER BY id"), before)
        self.assertEqual(self.sql("SELECT rows, matched, skipped, unmatched FROM bpjs_imports "
                                  "ORDER BY id"),
                         [("4", "2", "0", "2"), ("2", "0", "2", "0")])
        # a KPJ already another person's is refused for this one
        other = self.write("other.csv", "nik,kpj,status,reason,effective_month\n"
                                        f"{wait_nik},{KPJ},registered,,2026-10\n")
        out = self.ctl("bpjs", "import", other, rc=1)
        self.assertIn("line 2: ", out)
        self.assertIn("the KPJ is another NIK's", out)

    def test_unconfirmed_listing_and_gauge(self) -> None:
        s = self.stack
        [(old, _), (new, _)] = self.enrol(2)
        self.sql(f"UPDATE enrolments SET created_at = now() - interval '20 days' "
                 f"WHERE id = {old}")
        out = self.ctl("bpjs", "unconfirmed")
        self.assertIn("1612******0001", out)
        self.assertIn("1 enrolment accepted more than 14 days ago", out)
        [row] = json.loads(self.ctl("bpjs", "unconfirmed", "--json"))
        self.assertEqual((row["enrolment_id"], row["nik"], row["program_code"],
                          row["days_waiting"], row["exported_on"]),
                         (old, "1612******0001", PROGRAM, 20, None))
        self.assertEqual(len(json.loads(self.ctl("bpjs", "unconfirmed", "--days", "0",
                                                 "--json"))), 2)
        self.assertEqual(json.loads(self.ctl("bpjs", "unconfirmed", "--days", "30",
                                             "--json")), [])
        self.ctl("bpjs", "unconfirmed", "--days", "x", rc=2)

        s.start_daemons("billing")

        def gauge() -> float | None:
            for line in s.billing.metrics().splitlines():
                if line.startswith("lindung_bpjs_unconfirmed_enrolments "):
                    return float(line.split()[1])
            return None
        harness.wait_until(lambda: gauge() == 1.0, timeout=15,
                           message="lindung_bpjs_unconfirmed_enrolments to be 1")
        # registered: no longer unconfirmed
        nik = self.sql(f"SELECT nik FROM enrolments WHERE id = {old}")[0][0]
        self.ctl("bpjs", "import", self.write("a.csv", "nik,kpj,status,reason,effective_month\n"
                                                       f"{nik},{KPJ},registered,,2026-10\n"))
        harness.wait_until(lambda: gauge() == 0.0, timeout=15,
                           message="lindung_bpjs_unconfirmed_enrolments to be 0")
        self.assertIn("0 enrolments", self.ctl("bpjs", "unconfirmed"))

    def test_a_transfer_keeps_the_kpj(self) -> None:
        [(first, nik)] = self.enrol(1)
        self.ctl("bpjs", "import", self.write("a.csv", "nik,kpj,status,reason,effective_month\n"
                                                       f"{nik},{KPJ},registered,,2026-10\n"))
        self.ctl("enrolment", "transfer", nik, "--village", "16.12.01.2002",
                 "--month", "2026-11")
        self.assertEqual(self.sql(
            f"SELECT kpj, bpjs_status, previous_enrolment_id FROM enrolments "
            f"WHERE id <> {first}"), [(KPJ, "registered", str(first))])
        path, out = self.export()
        self.assertIn("0 participants written", out)

    def test_a_refusal_ends_every_pending_enrolment_once(self) -> None:
        """A person who moved before BPJS answered has two pending enrolments
        (032). BPJS's refusal ends both, so every month billed for the person
        is credited; the same row imported again is 'already applied' and
        changes nothing (a review found the second import refusing the
        earlier enrolment then, and the first leaving it billed)."""
        [(first, nik)] = self.enrol(1)
        self.ctl("enrolment", "transfer", nik, "--village", "16.12.01.2002",
                 "--month", "2026-11")
        self.stack.start_daemons("billing")
        months = ("2026-10", "2026-11", "2026-12")
        for m in months:
            self.run_month(m)
        rows = "nik,kpj,status,reason,effective_month\n" f"{nik},,refused,NIK tidak padan,\n"
        out = self.ctl("bpjs", "import", self.write("r1.csv", rows))
        self.assertIn("1 rows: 0 registered, 1 refused, 0 already applied, 0 not matched", out)
        after = self.sql("SELECT id, status, end_reason, bpjs_status, "
                         "isempty(enrolment_months(start_month, end_month)) "
                         "FROM enrolments ORDER BY id")
        self.assertEqual([r[1:] for r in after],
                         [("ended", "bpjs_refused", "refused", "t")] * 2, after)
        out = self.ctl("bpjs", "import", self.write("r2.csv", rows + "\n"))
        self.assertIn("1 rows: 0 registered, 0 refused, 1 already applied, 0 not matched", out)
        self.assertEqual(self.sql("SELECT id, status, end_reason, bpjs_status, "
                                  "isempty(enrolment_months(start_month, end_month)) "
                                  "FROM enrolments ORDER BY id"), after)
        # every month billed for the person is credited: October on the
        # first enrolment, November and December on the second
        for m in months:
            self.run_month(m)
        second = int(after[1][0])
        self.assertEqual(self.credits(first) + self.credits(second),
                         [("2026-10", -16800, "ended"), ("2026-11", -16800, "ended"),
                          ("2026-12", -16800, "ended")])

    def test_a_file_without_the_columns_applies_nothing(self) -> None:
        [(_, nik)] = self.enrol(1)
        r = self.stack.lindungctl("bpjs", "import", self.write("bad.csv", f"nik,kpj\n{nik},1\n"),
                                  check=False)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("no column status", r.stderr)
        self.assertEqual(self.sql("SELECT bpjs_status FROM enrolments"), [("pending",)])
        self.assertEqual(self.sql("SELECT count(*) FROM bpjs_imports"), [("0",)])
        r = self.stack.lindungctl("bpjs", "import", os.path.join(self.dir, "none.csv"),
                                  check=False)
        self.assertEqual(r.returncode, 1)

    def test_every_table_view_and_column_has_a_comment(self) -> None:
        """020_comments.sql; the partitions of accruals are described by their
        parent. Tables of later migrations are named by 020's warning."""
        missing = self.sql(
            "SELECT c.relname || coalesce('.' || a.attname, '') "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 "
            "  AND NOT a.attisdropped AND col_description(c.oid, a.attnum) IS NULL "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'p', 'm') "
            "  AND NOT c.relispartition "
            "  AND (a.attname IS NOT NULL OR obj_description(c.oid, 'pg_class') IS NULL) "
            "  AND c.relname IN (SELECT unnest(ARRAY['regions', 'occupations', 'programs', "
            "    'program_versions', 'api_keys', 'submissions', 'applicants', 'participants', "
            "    'enrolments', 'premium_rates', 'premium_adjustments', 'billing_runs', "
            "    'invoices', 'accruals', 'payments', 'invoice_balances', 'line_adjustments', "
            "    'payment_lines', 'enrolment_transfers', 'schema_migrations', 'bpjs_imports', "
            "    'bpjs_unconfirmed'])) ORDER BY 1")
        self.assertEqual(missing, [])


if __name__ == "__main__":
    unittest.main()
