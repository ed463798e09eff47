"""Documents and payments as payers and auditors read them (issue 13), against
a real PostgreSQL, the real intake HTTP API, lindungctl and (end to end) the
real billing daemon: invoices, supplementary invoices and credit notes with
their kind, issue time and items (accrual lines and adjustments, each with
what was allocated to it); payments that name the lines they pay (`lines`),
leave a disputed one unpaid (`except`) or pay in the documented order
(village code, then enrolment id); every refusal of billing_record_payment()
as its HTTP error and lindungctl message; statements, arrears and exports
with what a payer owes in all (credit notes netted).

Most tests make their documents with SQL (a billing_runs row, invoices with
kind and run_id, accrual lines, line_adjustments, then the run finished), so
the read side is tested whatever the accrual does. One test relies on the
billing daemon: a late enrolment gets a supplementary invoice and the first
invoice does not change; a relief entered later re-rates the months on credit
notes.

Every expected rupiah figure is computed here from the published rates (JKK
1% of Rp 1,000,000 = 10,000; JKM 6,800; PP 50/2025 halves both), never read
back from the code under test. Run directly:
  LINDUNG_BUILD_DIR=build-docs LINDUNG_SOURCE_DIR=. python3 tests/integration/test_documents.py
"""

from __future__ import annotations

import datetime
import json
import os
import re
import tempfile
import unittest
import zipfile

import harness

JKK, JKM = 10000, 6800
FULL = JKK + JKM                       # Rp 16,800 a person-month
HALF_JKK, HALF_JKM = 5000, 3400        # PP 50/2025: both components halved
HALF = HALF_JKK + HALF_JKM             # Rp 8,400

PALI_A = "16.12.01.2001"               # an ADD village: it is its own payer
SAWIT = "MURA-2024-SAWIT"              # DBH sawit: the regency 16.05 pays
REGENCY = "16.05"
VILLAGE_LOW = "16.05.01.2002"          # Surodadi: listed first on a document
VILLAGE_HIGH = "16.05.01.2005"         # Kalibening: listed after it

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
       program_payer(p.id, '{village}'), 1000000, false, '{start}-01', NULL
FROM a, s JOIN programs p ON p.id = s.program_id
RETURNING id
"""

ITEM_CSV_HEADER = ("enrolment_id,nik,name,program,village_code,jkk,jkm,amount,supplementary,"
                   "item,reason,period,allocated,line_invoice_id")


def jakarta_today() -> datetime.date:
    return (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=7)).date()


def allocate(items: list[tuple[str, int, int]], amount: int) -> list[tuple[int, int]]:
    """The documented order, independently: (village, enrolment, still owed)
    items paid by village code, then enrolment id, each in full while the
    money lasts, the last perhaps in part. -> [(enrolment, amount)]."""
    out = []
    for _village, enrolment, owed in sorted(items):
        if amount == 0:
            break
        take = min(owed, amount)
        if take > 0:
            out.append((enrolment, take))
            amount -= take
    return out


class DocumentsTest(harness.LindungTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.stack.migrate()
        self.stack.import_programs()
        self.nik_base = 1605010101800000
        self.today = jakarta_today().isoformat()

    # ------------------------------------------------------------ helpers

    def sql(self, q: str) -> list[tuple]:
        return self.stack.cluster.psql(q)

    def enrol(self, program: str, village: str, n: int = 1, start: str = "2026-01") -> list[int]:
        sql = ENROL_SQL.format(program=program, village=village, n=n, nik_base=self.nik_base,
                               start=start)
        self.nik_base += n
        return [int(r[0]) for r in self.sql(sql)]

    def run_month(self, month: str) -> dict:
        doc = json.loads(self.stack.lindungctl("billing", "run", month).stdout)
        self.assertTrue(doc["ok"], doc)
        return doc

    def new_run(self, month: str) -> int:
        return int(self.sql(f"INSERT INTO billing_runs (period, trigger) "
                            f"VALUES ('{month}-01', 'manual') RETURNING id")[0][0])

    def finish_run(self, run: int) -> None:
        self.sql(f"UPDATE billing_runs SET finished_at = now() WHERE id = {run}")

    def issue(self, run: int, kind: str, month: str, due: str,
              lines: tuple = (), adjustments: tuple = ()) -> int:
        """A document of the regency 16.05 (DBH sawit) as a run writes it:
        lines (enrolment, jkk, jkm) and adjustments (enrolment, jkk, jkm,
        reason), total and count exactly theirs."""
        total = sum(j + k for _, j, k in lines) + sum(j + k for _, j, k, _ in adjustments)
        count = len(lines) + len(adjustments)
        inv = int(self.sql(
            f"INSERT INTO invoices (period, funding_source, payer_code, payer_name, total, "
            f"line_count, due_date, kind, run_id) VALUES ('{month}-01', 'DBH_SAWIT', "
            f"'{REGENCY}', 'Musi Rawas', {total}, {count}, '{due}', '{kind}', {run}) "
            f"RETURNING id")[0][0])
        self.sql(f"DO $$ BEGIN IF to_regclass(accrual_partition_name('{month}-01')) IS NULL "
                 f"THEN EXECUTE format('CREATE TABLE %I PARTITION OF accruals FOR VALUES "
                 f"IN (%L)', accrual_partition_name('{month}-01'), '{month}-01'); "
                 f"END IF; END $$")
        for e, jkk, jkm in lines:
            self.sql(f"INSERT INTO accruals (enrolment_id, period, jkk, jkm, amount, "
                     f"invoice_id, run_id, supplementary) VALUES ({e}, '{month}-01', {jkk}, "
                     f"{jkm}, {jkk + jkm}, {inv}, {run}, {str(kind != 'invoice').lower()})")
        for e, jkk, jkm, reason in adjustments:
            self.sql(f"INSERT INTO line_adjustments (enrolment_id, period, invoice_id, jkk, "
                     f"jkm, amount, reason, run_id) VALUES ({e}, '{month}-01', {inv}, {jkk}, "
                     f"{jkm}, {jkk + jkm}, '{reason}', {run})")
        return inv

    def make_books(self) -> dict:
        """The regency 16.05's books, made with SQL:
        March: invoice (4 lines), then a second run's credit note (h1 ended:
        -16,800) and supplementary invoice (the late enrolee's line 16,800 and
        l2 re-rated up by 1,000 JKK); April and May: an invoice of 4 lines.
        Enrolment ids: h1 < h2 (VILLAGE_HIGH) < l1 < l2 (VILLAGE_LOW) < late."""
        b: dict = {}
        b["h1"], b["h2"] = self.enrol(SAWIT, VILLAGE_HIGH, 2)
        b["l1"], b["l2"] = self.enrol(SAWIT, VILLAGE_LOW, 2)
        [b["late"]] = self.enrol(SAWIT, VILLAGE_LOW, 1, start="2026-03")
        b["village"] = {b["h1"]: VILLAGE_HIGH, b["h2"]: VILLAGE_HIGH,
                        b["l1"]: VILLAGE_LOW, b["l2"]: VILLAGE_LOW, b["late"]: VILLAGE_LOW}
        four = tuple((b[k], JKK, JKM) for k in ("h1", "h2", "l1", "l2"))
        for month in ("2026-03", "2026-04", "2026-05"):
            run = self.new_run(month)
            b[month] = self.issue(run, "invoice", month, f"{month}-15", lines=four)
            self.finish_run(run)
        run = self.new_run("2026-03")
        b["run2"] = run
        b["credit"] = self.issue(run, "credit_note", "2026-03", "2026-04-15",
                                 adjustments=((b["h1"], -JKK, -JKM, "ended"),))
        b["supp"] = self.issue(run, "supplementary", "2026-03", "2026-04-15",
                               lines=((b["late"], JKK, JKM),),
                               adjustments=((b["l2"], 1000, 0, "rerate"),))
        self.finish_run(run)
        return b

    def pay(self, key: str, invoice: int, **body) -> harness.Response:
        body.setdefault("paid_on", self.today)
        return self.stack.api("POST", f"/v1/invoices/{invoice}/payments", key=key, json=body)

    def get(self, key: str, invoice: int) -> dict:
        r = self.stack.api("GET", f"/v1/invoices/{invoice}", key=key)
        self.assertEqual(r.status, 200, r.body)
        return r.body

    def assert_error(self, r: harness.Response, status: int, code: str) -> dict:
        self.assertEqual((r.status, r.body["error"]["code"] if isinstance(r.body, dict)
                          and "error" in r.body else None), (status, code), r.body)
        return r.body["error"]

    def payments_count(self) -> int:
        return int(self.sql("SELECT count(*) FROM payments")[0][0])

    # ------------------------------------------------------------ end to end

    def test_late_enrolment_supplementary_and_rerating_by_the_daemon(self) -> None:
        """Billing runs issue the documents: a late enrolee's line goes on a
        supplementary invoice and the paid first invoice stays as it was; a
        relief entered afterwards re-rates the months on credit notes. The API
        and the statement show every document and what the village owes."""
        s = self.stack
        first_two = self.enrol("PALI-2026-ADD", PALI_A, 2, start="2026-03")
        s.start_daemons("billing", "intake")
        admin = s.create_key("admin")
        # the start-up catch-up bills every month through this one first, so
        # the late enrolee below is late for each of them
        harness.wait_until(lambda: any(r.get("event") == "billing.caught_up"
                                       for r in s.billing.log_records()),
                           timeout=120, message="start-up catch-up")
        self.run_month("2026-03")
        [(first, total, count)] = self.sql(
            f"SELECT id, total, line_count FROM invoices WHERE period = '2026-03-01' "
            f"AND payer_code = '{PALI_A}' AND kind = 'invoice'")
        self.assertEqual((int(total), int(count)), (2 * FULL, 2))
        r = self.pay(admin, int(first), amount=2 * FULL, reference="SP2D-MAR")
        self.assertEqual((r.status, r.body.get("status")), (201, "paid"), r.body)

        [late] = self.enrol("PALI-2026-ADD", PALI_A, 1, start="2026-03")
        self.run_month("2026-03")  # or the sweep billed it first: one document either way
        docs = self.sql(f"SELECT id, kind, total, line_count FROM invoices WHERE period = "
                        f"'2026-03-01' AND payer_code = '{PALI_A}' ORDER BY id")
        self.assertEqual([(k, int(t), int(n)) for _, k, t, n in docs],
                         [("invoice", 2 * FULL, 2), ("supplementary", FULL, 1)])
        supp = int(docs[1][0])
        inv = self.get(admin, int(first))
        self.assertEqual((inv["kind"], inv["total"], inv["line_count"], inv["status"],
                          inv["outstanding"]), ("invoice", 2 * FULL, 2, "paid", 0), inv)
        self.assertEqual(sorted(l["enrolment_id"] for l in inv["lines"]), sorted(first_two))
        self.assertEqual([l["allocated"] for l in inv["lines"]], [FULL, FULL])
        doc = self.get(admin, supp)
        self.assertEqual((doc["kind"], doc["status"], doc["total"], doc["paid"]),
                         ("supplementary", "open", FULL, 0), doc)
        self.assertRegex(doc["issued_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual([(l["enrolment_id"], l["amount"], l["supplementary"], l["allocated"])
                          for l in doc["lines"]], [(late, FULL, True, 0)])
        self.assertEqual(doc["adjustments"], [])
        r = s.api("GET", f"/v1/invoices?payer={PALI_A}&period=2026-03&kind=supplementary",
                  key=admin)
        self.assertEqual([(i["id"], i["kind"]) for i in r.body["items"]],
                         [(supp, "supplementary")], r.body)

        # every month of the programme billed (March to December), then a
        # relief with a recorded legal basis: April-December re-rated downwards
        for m in range(4, 13):
            self.run_month(f"2026-{m:02d}")
        self.sql("UPDATE programs SET relief_applies = true, relief_basis = 'test: a "
                 "regent''s decree' WHERE code = 'PALI-2026-ADD'")
        for m in range(3, 13):
            self.run_month(f"2026-{m:02d}")
        self.assertEqual(self.sql(f"SELECT count(*) FROM invoices WHERE payer_code = "
                                  f"'{PALI_A}' AND period = '2026-03-01' "
                                  f"AND kind = 'credit_note'"), [("0",)])  # no relief in March
        [(credit,)] = self.sql(f"SELECT id FROM invoices WHERE payer_code = '{PALI_A}' "
                               f"AND period = '2026-04-01' AND kind = 'credit_note'")
        note = self.get(admin, int(credit))
        self.assertEqual((note["kind"], note["status"], note["total"], note["outstanding"],
                          note["line_count"]), ("credit_note", "credit", -3 * (FULL - HALF),
                                                -3 * (FULL - HALF), 3), note)
        april = {int(i): k for i, k in self.sql(
            f"SELECT id, kind FROM invoices WHERE payer_code = '{PALI_A}' "
            f"AND period = '2026-04-01' AND kind <> 'credit_note'")}
        self.assertEqual(note["lines"], [])
        for a in note["adjustments"]:
            self.assertEqual((a["reason"], a["period"], a["jkk"], a["jkm"], a["amount"]),
                             ("rerate", "2026-04", HALF_JKK - JKK, HALF_JKM - JKM,
                              HALF - FULL), a)
            # the line it corrects: on April's invoice, or (the late enrolee)
            # on April's supplementary invoice
            want = "supplementary" if a["enrolment_id"] == late else "invoice"
            self.assertEqual(april[a["line_invoice_id"]], want, a)
        self.assert_error(self.pay(admin, int(credit), amount=100), 422, "NOT_PAYABLE")

        # what the village owes in all: three people, March at the full rate,
        # April-December halved, less the March payment
        owed = 3 * FULL + 9 * 3 * HALF - 2 * FULL
        st = json.loads(s.lindungctl("billing", "statement", "--payer", PALI_A,
                                     "--json").stdout)
        t = st["totals"]
        self.assertEqual((t["billed"], t["credited"], t["paid"], t["owed"]),
                         (10 * 3 * FULL, 9 * 3 * (HALF - FULL), 2 * FULL, owed), t)
        kinds = sorted({d["kind"] for d in st["months"]})
        self.assertEqual(kinds, ["credit_note", "invoice", "supplementary"])
        self.assertIn(f"Rp {owed:,}", s.lindungctl("billing", "statement", "--payer",
                                                     PALI_A).stdout)

    # ------------------------------------------------------------ read side

    def test_documents_show_kind_items_and_scope(self) -> None:
        s = self.stack
        b = self.make_books()
        s.start_daemons("intake")
        admin = s.create_key("admin")
        regency = s.create_key(f"regency:{REGENCY}")
        village = s.create_key(f"village:{VILLAGE_LOW}")

        note = self.get(regency, b["credit"])
        self.assertEqual((note["kind"], note["period"], note["total"], note["paid"],
                          note["outstanding"], note["status"], note["line_count"],
                          note["run_id"], note["lines"], note["payments"]),
                         ("credit_note", "2026-03", -FULL, 0, -FULL, "credit", 1, b["run2"],
                          [], []), note)
        self.assertRegex(note["issued_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        [adj] = note["adjustments"]
        self.assertEqual((adj["enrolment_id"], adj["period"], adj["reason"], adj["jkk"],
                          adj["jkm"], adj["amount"], adj["allocated"], adj["line_invoice_id"],
                          adj["village_code"]),
                         (b["h1"], "2026-03", "ended", -JKK, -JKM, -FULL, 0, b["2026-03"],
                          VILLAGE_HIGH))
        self.assertEqual(len(adj["nik"]), 16)  # the full NIK, as on every line

        supp = self.get(admin, b["supp"])
        self.assertEqual((supp["kind"], supp["total"], supp["status"], supp["line_count"]),
                         ("supplementary", FULL + 1000, "open", 2))
        self.assertEqual([(l["enrolment_id"], l["amount"], l["supplementary"])
                          for l in supp["lines"]], [(b["late"], FULL, True)])
        self.assertEqual([(a["enrolment_id"], a["reason"], a["amount"], a["line_invoice_id"])
                          for a in supp["adjustments"]],
                         [(b["l2"], "rerate", 1000, b["2026-03"])])

        # a document's lines in the order payments use: village, then enrolment
        inv = self.get(admin, b["2026-03"])
        self.assertEqual((inv["kind"], inv["total"], inv["line_count"], inv["adjustments"]),
                         ("invoice", 4 * FULL, 4, []))
        self.assertEqual([l["enrolment_id"] for l in inv["lines"]],
                         [b["l1"], b["l2"], b["h1"], b["h2"]])

        # CSV: one row per item; a negative amount stays a number
        r = s.api("GET", f"/v1/invoices/{b['credit']}", key=admin,
                  headers={"Accept": "text/csv"})
        self.assertEqual(r.status, 200)
        rows = r.body.strip().split("\r\n")
        self.assertEqual(rows[0], ITEM_CSV_HEADER)
        f = rows[1].split(",")
        self.assertEqual((f[0], f[5], f[6], f[7], f[9], f[10], f[11], f[12], f[13]),
                         (str(b["h1"]), str(-JKK), str(-JKM), str(-FULL), "adjustment",
                          "ended", "2026-03", "0", str(b["2026-03"])))
        r = s.api("GET", f"/v1/invoices/{b['supp']}", key=admin,
                  headers={"Accept": "text/csv"})
        self.assertEqual(sum(int(row.split(",")[7]) for row in r.body.strip().split("\r\n")[1:]),
                         FULL + 1000)

        # the list: kind and issue time on every document, ?kind= filters
        r = s.api("GET", f"/v1/invoices?period=2026-03&payer={REGENCY}", key=regency)
        self.assertEqual([(i["id"], i["kind"]) for i in r.body["items"]],
                         [(b["2026-03"], "invoice"), (b["credit"], "credit_note"),
                          (b["supp"], "supplementary")])
        self.assertTrue(all(i["issued_at"] and i["run_id"] for i in r.body["items"]))
        for kind, want in (("credit_note", [b["credit"]]), ("supplementary", [b["supp"]]),
                           ("invoice", [b["2026-03"], b["2026-04"], b["2026-05"]])):
            r = s.api("GET", f"/v1/invoices?kind={kind}", key=admin)
            self.assertEqual([i["id"] for i in r.body["items"]], want, kind)
        r = s.api("GET", "/v1/invoices?kind=refund&period=2026-3", key=admin)
        err = self.assert_error(r, 422, "INVALID_FIELDS")
        self.assertEqual(sorted(d["field"] for d in err["details"]), ["kind", "period"])

        # scope as before: the regency's documents are not a village's (404, as
        # an id that does not exist: issue 15)
        self.assert_error(s.api("GET", f"/v1/invoices/{b['credit']}", key=village), 404,
                          "NOT_FOUND")
        self.assertEqual(s.api("GET", "/v1/invoices", key=village).body["items"], [])

        # an issued document never changes (013's trigger)
        with self.assertRaisesRegex(RuntimeError, "never changes"):
            self.sql(f"UPDATE invoices SET total = 0 WHERE id = {b['2026-03']}")

    # ------------------------------------------------------------ payments (HTTP)

    def test_payments_allocated_to_lines_over_http(self) -> None:
        s = self.stack
        b = self.make_books()
        s.start_daemons("intake")
        admin = s.create_key("admin")
        mar, apr = b["2026-03"], b["2026-04"]

        # -- invalid lists: nothing recorded, every problem named
        for body, field in (({"lines": [b["l1"]], "except": [b["l2"]]}, "except"),
                            ({"lines": []}, "lines"), ({"lines": "1,2"}, "lines"),
                            ({"except": [0]}, "except"), ({"lines": [1.5]}, "lines"),
                            ({"lines": [b["l1"], b["l1"]]}, "lines"),
                            ({"lines": list(range(1, 10002))}, "lines")):
            with self.subTest(body=str(body)[:60]):
                err = self.assert_error(self.pay(admin, mar, amount=FULL, **body), 422,
                                        "INVALID_FIELDS")
                self.assertIn(field, [d["field"] for d in err["details"]], err)
        self.assertEqual(self.payments_count(), 0)

        # -- a disputed line (l2) left unpaid: the amount must be the rest exactly
        rest = 4 * FULL - FULL
        err = self.assert_error(self.pay(admin, mar, amount=40000, **{"except": [b["l2"]]}),
                                422, "AMOUNT_MISMATCH")
        self.assertIn(str(rest), err["details"][0]["message"], err)
        r = self.pay(admin, mar, amount=rest, reference="SP2D-1", **{"except": [b["l2"]]})
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual((r.body["paid"], r.body["outstanding"], r.body["status"],
                          r.body["allocated_lines"]), (rest, FULL, "partially_paid", 3))
        doc = self.get(admin, mar)
        self.assertEqual({l["enrolment_id"]: l["allocated"] for l in doc["lines"]},
                         {b["l1"]: FULL, b["l2"]: 0, b["h1"]: FULL, b["h2"]: FULL})
        [p] = doc["payments"]
        self.assertEqual((p["amount"], p["reference"], p["line_count"]), (rest, "SP2D-1", 3))
        self.assertEqual([(x["enrolment_id"], x["period"], x["amount"]) for x in p["lines"]],
                         [(b["l1"], "2026-03", FULL), (b["h1"], "2026-03", FULL),
                          (b["h2"], "2026-03", FULL)])

        # -- refusals, each with its own code; nothing recorded
        self.assert_error(self.pay(admin, mar, amount=100, lines=[b["l1"]]), 422,
                          "NOTHING_DUE")  # l1 is paid
        err = self.assert_error(self.pay(admin, mar, amount=FULL, lines=[b["l2"], b["late"]]),
                                422, "UNKNOWN_LINE")  # the late line is on the supplementary
        self.assertEqual([(d["field"], d["index"]) for d in err["details"]], [("lines", 1)])
        self.assert_error(self.pay(admin, mar, amount=FULL, lines=[987654321]), 422,
                          "UNKNOWN_LINE")
        self.assert_error(self.pay(admin, b["credit"], amount=100), 422, "NOT_PAYABLE")
        self.assert_error(self.pay(admin, mar, amount=FULL + 1), 409, "OVERPAYMENT")
        self.assert_error(self.pay(admin, mar, amount=FULL, reference="SP2D-1"), 409,
                          "DUPLICATE_PAYMENT")
        self.assertEqual(self.payments_count(), 1)

        # -- then the disputed line, named
        r = self.pay(admin, mar, amount=FULL, lines=[b["l2"]])
        self.assertEqual((r.status, r.body.get("status"), r.body.get("outstanding")),
                         (201, "paid", 0), r.body)
        self.assert_error(self.pay(admin, mar, amount=1), 409, "OVERPAYMENT")

        # -- without lines, in part: village code first, then enrolment id
        items = [(b["village"][e], e, FULL) for e in (b["h1"], b["h2"], b["l1"], b["l2"])]
        want = allocate(items, 40000)
        self.assertEqual(want, [(b["l1"], FULL), (b["l2"], FULL), (b["h1"], 40000 - 2 * FULL)])
        r = self.pay(admin, apr, amount=40000)
        self.assertEqual((r.status, r.body.get("allocated_lines")), (201, 3), r.body)
        doc = self.get(admin, apr)
        self.assertEqual([(x["enrolment_id"], x["amount"]) for x in doc["payments"][0]["lines"]],
                         want)
        owed_now = [(b["village"][l["enrolment_id"]], l["enrolment_id"],
                     l["amount"] - l["allocated"]) for l in doc["lines"]]
        want2 = allocate(owed_now, 4 * FULL - 40000)
        self.assertEqual(want2, [(b["h1"], FULL - (40000 - 2 * FULL)), (b["h2"], FULL)])
        r = self.pay(admin, apr, amount=4 * FULL - 40000)
        self.assertEqual(r.body.get("status"), "paid", r.body)
        doc = self.get(admin, apr)
        self.assertEqual([(x["enrolment_id"], x["amount"]) for x in doc["payments"][1]["lines"]],
                         want2)
        self.assertTrue(all(l["allocated"] == l["amount"] for l in doc["lines"]))

        # -- a supplementary invoice: its line, then its adjustment. l2's March
        # is paid when its allocations reach its net charge, 16,800 + 1,000.
        r = self.pay(admin, b["supp"], amount=FULL, lines=[b["late"]])
        self.assertEqual((r.status, r.body.get("outstanding")), (201, 1000), r.body)
        r = self.pay(admin, b["supp"], amount=1000, **{"except": [b["late"]]})
        self.assertEqual((r.status, r.body.get("status")), (201, "paid"), r.body)
        [adj] = self.get(admin, b["supp"])["adjustments"]
        self.assertEqual((adj["amount"], adj["allocated"]), (1000, 1000))
        self.assertEqual(self.sql(
            f"SELECT sum(amount) FROM payment_lines WHERE enrolment_id = {b['l2']} "
            f"AND period = '2026-03-01'"), [(str(FULL + 1000),)])

    # ------------------------------------------------------------ lindungctl

    def test_lindungctl_pay_statement_arrears_export(self) -> None:
        s = self.stack
        b = self.make_books()
        may = str(b["2026-05"])

        def pay(*args, check=False):
            return s.lindungctl("billing", "pay", *map(str, args), check=check)

        # usage errors: exit 2, nothing recorded
        for args in ((may, FULL, "--lines", f"{b['l1']},,{b['l2']}"),
                     (may, FULL, "--lines", "0"), (may, FULL, "--lines", "x"),
                     (may, FULL, "--lines", f"{b['l1']},{b['l1']}"),
                     (may, FULL, "--lines", b["l1"], "--except", b["l2"]),
                     (may, FULL, "--paid-on", "2026-02-30")):
            with self.subTest(args=args):
                self.assertEqual(pay(*args).returncode, 2)
        # refusals: exit 1, each named, with the numbers behind it
        r = pay(may, 5, "--except", b["h1"])
        self.assertEqual(r.returncode, 1)
        self.assertIn("amount_mismatch", r.stderr)
        self.assertIn(f"Rp {3 * FULL:,}", r.stderr)
        r = pay(may, FULL, "--lines", 987654321)
        self.assertEqual(r.returncode, 1)
        self.assertIn("unknown_line", r.stderr)
        self.assertIn("987654321", r.stderr)
        r = pay(b["credit"], 100)
        self.assertEqual(r.returncode, 1)
        self.assertIn("not_payable", r.stderr)
        self.assertEqual(self.payments_count(), 0)

        out = pay(may, FULL, "--lines", b["h2"], "--paid-on", self.today, check=True).stdout
        self.assertIn("allocated to 1 line", out)
        out = pay(may, 2 * FULL, "--except", f"{b['h1']},{b['h2']}", "--reference", "R-2",
                  check=True).stdout
        self.assertIn("allocated to 2 lines", out)
        r = pay(may, 100, "--lines", b["l1"])
        self.assertEqual(r.returncode, 1)
        self.assertIn("nothing_due", r.stderr)
        allocated = dict((int(e), int(a)) for e, a in self.sql(
            f"SELECT pl.enrolment_id, sum(pl.amount) FROM payment_lines pl JOIN payments p "
            f"ON p.id = pl.payment_id WHERE p.invoice_id = {may} GROUP BY 1"))
        self.assertEqual(allocated, {b["h2"]: FULL, b["l1"]: FULL, b["l2"]: FULL})

        # the statement: every document, the credit note negative, and what
        # the regency owes in all
        billed = 3 * 4 * FULL + (FULL + 1000)
        credited = -FULL
        paid = 3 * FULL
        owed = billed + credited - paid
        st = json.loads(s.lindungctl("billing", "statement", "--payer", REGENCY,
                                     "--json").stdout)
        self.assertEqual([(d["period"], d["kind"], d["invoice_id"]) for d in st["months"]],
                         [("2026-03", "invoice", b["2026-03"]),
                          ("2026-03", "credit_note", b["credit"]),
                          ("2026-03", "supplementary", b["supp"]),
                          ("2026-04", "invoice", b["2026-04"]),
                          ("2026-05", "invoice", b["2026-05"])])
        credit = st["months"][1]
        self.assertEqual((credit["billed"], credit["outstanding"], credit["status"]),
                         (-FULL, -FULL, "credit"))
        self.assertEqual(st["totals"], {"billed": billed, "credited": credited, "paid": paid,
                                        "outstanding": billed - paid, "owed": owed})
        text = s.lindungctl("billing", "statement", "--payer", REGENCY).stdout
        self.assertIn("credit_note", text)
        self.assertIn(f"Rp {owed:,}", text)

        # arrears: payable documents past due only; credit notes netted into owed
        today = jakarta_today()
        dues = {"2026-03": "2026-03-15", "supp": "2026-04-15", "2026-04": "2026-04-15",
                "2026-05": "2026-05-15"}
        unpaid = {"2026-03": 4 * FULL, "supp": FULL + 1000, "2026-04": 4 * FULL,
                  "2026-05": 4 * FULL - paid}
        overdue = {k: v for k, v in unpaid.items()
                   if datetime.date.fromisoformat(dues[k]) < today}
        arrears = json.loads(s.lindungctl("billing", "arrears", "--json").stdout)
        [mine] = [a for a in arrears if a["payer_code"] == REGENCY]
        self.assertEqual((mine["funding_source"], mine["arrears"], mine["outstanding"],
                          mine["credits"], mine["owed"], mine["overdue_invoices"]),
                         ("DBH_SAWIT", sum(overdue.values()), sum(unpaid.values()), credited,
                          sum(unpaid.values()) + credited, len(overdue)))
        self.assertEqual(mine["owed"], owed)
        text = s.lindungctl("billing", "arrears").stdout
        self.assertIn("credit notes", text)
        self.assertIn(f"{owed:,}", text)

        # exports: every item of the month's documents, with its kind
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "march.csv")
            out = s.lindungctl("billing", "export", "--payer", REGENCY, "--period", "2026-03",
                               "--format", "csv", "--out", path).stdout
            self.assertIn("7 items written", out)
            self.assertIn(f"owes Rp {owed:,} in all", out)
            with open(path, newline="") as f:
                rows = [r.split(",") for r in f.read().strip().split("\r\n")]
            header = rows[0]
            self.assertEqual(header[:11], ["invoice_id", "funding_source", "enrolment_id",
                                           "nik", "name", "program", "village_code", "jkk",
                                           "jkm", "amount", "supplementary"])
            col = {name: i for i, name in enumerate(header)}
            self.assertEqual(sum(int(r[col["amount"]]) for r in rows[1:]),
                             4 * FULL - FULL + FULL + 1000)
            kinds = sorted((r[col["kind"]], r[col["item"]]) for r in rows[1:])
            self.assertEqual(kinds, [("credit_note", "adjustment")] + [("invoice", "line")] * 4
                             + [("supplementary", "adjustment"), ("supplementary", "line")])
            [credit_row] = [r for r in rows[1:] if r[col["kind"]] == "credit_note"]
            self.assertEqual((credit_row[col["amount"]], credit_row[col["reason"]],
                              credit_row[col["line_invoice_id"]]),
                             (str(-FULL), "ended", str(b["2026-03"])))
            xl = os.path.join(d, "march.xlsx")
            s.lindungctl("billing", "export", "--payer", REGENCY, "--period", "2026-03",
                         "--format", "xlsx", "--out", xl)
            with zipfile.ZipFile(xl) as z:
                book = z.read("xl/workbook.xml").decode()
                for sheet in ("summary", "lines", "owed"):
                    self.assertIn(f'name="{sheet}"', book)
                strings = z.read("xl/sharedStrings.xml").decode()
                self.assertIn("credit_note", strings)
                self.assertIn("every month", strings)
                owed_sheet = z.read("xl/worksheets/sheet3.xml").decode()
                self.assertIsNotNone(re.search(rf"<v>{owed}</v>", owed_sheet), owed_sheet)


if __name__ == "__main__":
    unittest.main(verbosity=2)
