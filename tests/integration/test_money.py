"""Money an auditor can sign (issue 13), against a real PostgreSQL and the real
billing daemon: documents that never change once issued (supplementary
invoices for late lines, credit notes for reversals and re-rating), relief as
PP 50/2025 Pasal 3 writes it, the programme's insured income, one covered
month per person (the database refuses a second), programme ends, and lapse
judged per person with payments allocated to lines.

Every expected rupiah figure is computed here from the published rates (JKK
1% of Rp 1,000,000 = 10,000; JKM 6,800; PP 50/2025 halves both), never read
back from the code under test. Enrolments are made with SQL, as in
test_billing.py: billing only reads them.
"""

from __future__ import annotations

import datetime
import itertools
import json
import subprocess
import unittest

import harness

VILLAGE_A = "16.12.01.2001"
VILLAGE_B = "16.12.01.2002"
MURA_VILLAGE = "16.05.01.2002"

FULL = 10000 + 6800          # Rp 16,800 a person-month
HALF = 5000 + 3400           # PP 50/2025: both components halved

ENROL_SQL = """
WITH s AS (
  INSERT INTO submissions (id, program_id, village_code, applicant_count)
  SELECT gen_random_uuid(), p.id, '{village}', {n} FROM programs p WHERE p.code = '{program}'
  RETURNING id, program_id),
a AS (
  INSERT INTO applicants (submission_id, idx, nik, name, birth_date, sex, occupation,
                          decision, monthly_income)
  SELECT s.id, g, ({nik_base}::bigint + g)::text, 'Peserta ' || g, '1980-01-01', 'M',
         'PETANI/PEKEBUN', 'accepted', {income}
  FROM s, generate_series(0, {n} - 1) g
  RETURNING id, nik),
pa AS (
  INSERT INTO participants (nik, name, birth_date, sex)
  SELECT nik, 'Peserta', '1980-01-01', 'M' FROM a RETURNING nik)
INSERT INTO enrolments (nik, program_id, village_code, applicant_id, funding_source,
                        payer_code, declared_income, transport, start_month, end_month)
SELECT a.nik, s.program_id, '{village}', a.id, p.funding_source,
       program_payer(p.id, '{village}'), {income}, false, '{start}-01', {end}
FROM a, s JOIN programs p ON p.id = s.program_id
RETURNING id
"""


def jakarta_today() -> datetime.date:
    return (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=7)).date()


class MoneyTest(harness.LindungTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.stack.migrate()
        self.stack.import_programs()
        self.nik_base = 1612010101800000

    # -- helpers
    def sql(self, q: str) -> list[tuple]:
        return self.stack.cluster.psql(q)

    def enrol(self, program: str, village: str, n: int = 1, start: str = "2026-10",
              end: str | None = None, income: int = 1000000) -> list[int]:
        sql = ENROL_SQL.format(program=program, village=village, n=n, nik_base=self.nik_base,
                               income=income, start=start,
                               end=f"'{end}-01'" if end else "NULL")
        self.nik_base += n
        return [int(r[0]) for r in self.sql(sql)]

    def run_month(self, month: str) -> dict:
        doc = json.loads(self.stack.lindungctl("billing", "run", month).stdout)
        self.assertTrue(doc["ok"], doc)
        return doc

    def documents(self, month: str, payer: str) -> list[tuple[str, int, int]]:
        """(kind, total, line_count) of a payer's documents of a month, in issue order."""
        return [(k, int(t), int(n)) for k, t, n in self.sql(
            f"SELECT kind, total, line_count FROM invoices WHERE period = '{month}-01' "
            f"AND payer_code = '{payer}' ORDER BY id")]

    def net(self, enrolment: int, month: str) -> int:
        """A person-month's net charge: its line plus its corrections."""
        return int(self.sql(
            f"SELECT coalesce((SELECT amount FROM accruals WHERE enrolment_id = {enrolment} "
            f"AND period = '{month}-01'), 0) + coalesce((SELECT sum(amount) FROM "
            f"line_adjustments WHERE enrolment_id = {enrolment} AND period = '{month}-01'), 0)"
        )[0][0])

    def rewind_to_august(self) -> None:
        """Billing stopped, and the database as on 1 August 2026: the
        start-up's month (and any later) never happened, and each month's
        invoice was issued on its 1st, due on the 15th. Tests may do what
        lindung never does: triggers are off for this session."""
        self.stack.billing.stop()
        self.sql("SET session_replication_role = replica; "
                 "DO $$ DECLARE t text; BEGIN "
                 "  FOR t IN SELECT c.relname FROM pg_inherits i JOIN pg_class c "
                 "           ON c.oid = i.inhrelid WHERE i.inhparent = 'accruals'::regclass "
                 "           AND c.relname >= 'accruals_2026_08' LOOP "
                 "    EXECUTE format('DROP TABLE %I', t); "
                 "  END LOOP; END $$; "
                 "DELETE FROM line_adjustments WHERE period >= '2026-08-01'; "
                 "DELETE FROM invoices WHERE period >= '2026-08-01'; "
                 "DELETE FROM billing_runs WHERE period >= '2026-08-01'; "
                 "UPDATE invoices SET created_at = period + interval '1 hour', "
                 "  due_date = period + 14 "
                 "WHERE kind = 'invoice'")

    def catch_up_from_august(self) -> None:
        """billing restarted: its catch-up bills August first (with the lapse
        check), then every month to now."""
        s = self.stack
        today = jakarta_today()
        s.env["LINDUNG_BILLING_CATCHUP_MONTHS"] = str((today.year - 2026) * 12 + today.month - 7)
        s.billing.start()
        harness.wait_until(lambda: s.billing.log_text().count("billing.caught_up") == 2,
                           timeout=120, message="second catch-up")

    def assert_documents_consistent(self) -> None:
        """Every document's total and count are exactly its lines and adjustments."""
        bad = self.sql(
            "SELECT i.id FROM invoices i "
            "LEFT JOIN (SELECT invoice_id, sum(amount) s, count(*) n FROM accruals "
            "           GROUP BY 1) a ON a.invoice_id = i.id "
            "LEFT JOIN (SELECT invoice_id, sum(amount) s, count(*) n FROM line_adjustments "
            "           GROUP BY 1) l ON l.invoice_id = i.id "
            "WHERE i.total <> coalesce(a.s, 0) + coalesce(l.s, 0) "
            "   OR i.line_count <> coalesce(a.n, 0) + coalesce(l.n, 0)")
        self.assertEqual(bad, [], "documents whose totals differ from their items")
        neg = self.sql("SELECT a.enrolment_id, a.period FROM accruals a "
                       "JOIN line_adjustments l USING (enrolment_id, period) "
                       "GROUP BY a.enrolment_id, a.period, a.amount "
                       "HAVING a.amount + sum(l.amount) < 0")
        self.assertEqual(neg, [], "a person-month credited below zero")

    # -- tests
    def test_late_lines_go_on_a_supplementary_invoice(self) -> None:
        s = self.stack
        self.enrol("PALI-2026-ADD", VILLAGE_A, 2, start="2026-10")
        s.start_daemons("billing")
        self.run_month("2026-10")
        self.assertEqual(self.documents("2026-10", VILLAGE_A), [("invoice", 2 * FULL, 2)])
        first = self.sql(f"SELECT id FROM invoices WHERE period = '2026-10-01' "
                         f"AND payer_code = '{VILLAGE_A}'")[0][0]
        paid = self.sql(f"SELECT result FROM billing_record_payment({first}, {2 * FULL}, "
                        "'2026-10-10', 'TRX-OCT', 'test')")
        self.assertEqual(paid, [("ok",)])
        late = self.enrol("PALI-2026-ADD", VILLAGE_A, 1, start="2026-10")
        self.run_month("2026-10")  # or the sweep did it first
        self.assertEqual(self.documents("2026-10", VILLAGE_A),
                         [("invoice", 2 * FULL, 2), ("supplementary", FULL, 1)])
        # the paid invoice is still paid: a late line never reopens it
        self.assertEqual(self.sql(f"SELECT status, outstanding FROM invoice_balances "
                                  f"WHERE id = {first}"), [("paid", "0")])
        self.assertEqual(self.sql(f"SELECT count(*) FROM accruals WHERE enrolment_id = "
                                  f"{late[0]} AND period = '2026-10-01' AND supplementary"),
                         [("1",)])
        # the database itself refuses to edit an issued document
        with self.assertRaises(Exception) as cm:
            self.sql(f"UPDATE invoices SET total = total + 1 WHERE id = {first}")
        self.assertIn("never changes", str(cm.exception))
        with self.assertRaises(Exception):
            self.sql(f"DELETE FROM invoices WHERE id = {first}")
        # a third run adds nothing and issues nothing
        self.assertEqual(self.run_month("2026-10")["lines_added"], 0)
        self.assertEqual(len(self.documents("2026-10", VILLAGE_A)), 2)
        self.assert_documents_consistent()

    def test_relief_follows_the_funding_source(self) -> None:
        """PP 50/2025 Pasal 3: no relief where the regency's budget pays (ADD,
        DBH sawit), relief for CSR; an ADD programme gets it only with a
        recorded legal basis."""
        s = self.stack
        add = self.enrol("PALI-2026-ADD", VILLAGE_A, 1, start="2026-06")
        sawit = self.enrol("MURA-2024-SAWIT", MURA_VILLAGE, 1, start="2026-06")
        csr = self.enrol("MURA-2026-CSR", MURA_VILLAGE, 1, start="2026-06")
        s.start_daemons("billing")
        self.run_month("2026-06")
        self.assertEqual(self.net(add[0], "2026-06"), FULL)
        self.assertEqual(self.net(sawit[0], "2026-06"), FULL)
        self.assertEqual(self.net(csr[0], "2026-06"), HALF)
        self.assertEqual(self.sql("SELECT code, relief_applies FROM programs WHERE code IN "
                                  "('PALI-2026-ADD', 'MURA-2024-SAWIT', 'MURA-2026-CSR') "
                                  "ORDER BY code"),
                         [("MURA-2024-SAWIT", "f"), ("MURA-2026-CSR", "t"),
                          ("PALI-2026-ADD", "f")])
        # refused without a basis, for SAWIT at all, for CSR switched off
        base = {"code": "X", "name": "x", "regency_code": "16.12", "coverage_start": "2026-01",
                "occupations": ["informal"]}
        for extra, field in (({"funding_source": "ADD", "relief_applies": True}, "relief_basis"),
                             ({"funding_source": "DBH_SAWIT", "relief_applies": True},
                              "relief_applies"),
                             ({"funding_source": "CSR", "payer_code": "C", "payer_name": "C",
                               "relief_applies": False}, "relief_applies")):
            path = s.dir / "bad.json"
            path.write_text(json.dumps({"programs": [dict(base, **extra)]}))
            r = s.lindungctl("program", "import", str(path), check=False)
            self.assertNotEqual(r.returncode, 0, extra)
            self.assertIn(field, r.stderr)
        self.assertEqual(self.sql("SELECT count(*) FROM programs WHERE code = 'X'"), [("0",)])

    def test_relief_entered_late_rerates_on_a_credit_note(self) -> None:
        """A relief entered after its month was billed (as PP 50/2025 was)
        re-rates that month on a credit note; withdrawn, on a supplementary
        invoice. The issued invoice never changes."""
        s = self.stack
        ids = self.enrol("MURA-2026-CSR", MURA_VILLAGE, 3, start="2027-01")
        s.start_daemons("billing")
        self.run_month("2027-01")
        self.assertEqual(self.documents("2027-01", "CSR-MURA-01"), [("invoice", 3 * FULL, 3)])
        self.sql("INSERT INTO premium_adjustments (name, first_month, last_month, off_bp, "
                 "applies_jkk, applies_jkm, note) VALUES ('late relief', '2027-01-01', "
                 "'2027-01-01', 5000, true, true, 'test: entered after the month was billed')")
        self.run_month("2027-01")  # or the sweep did it first
        self.assertEqual(self.documents("2027-01", "CSR-MURA-01"),
                         [("invoice", 3 * FULL, 3), ("credit_note", -3 * (FULL - HALF), 3)])
        for e in ids:
            self.assertEqual(self.net(e, "2027-01"), HALF)
        # idempotent
        self.assertEqual(self.run_month("2027-01")["corrections"], 0)
        # withdrawn: billed again in full, on a supplementary invoice
        self.sql("DELETE FROM premium_adjustments WHERE name = 'late relief'")
        self.run_month("2027-01")
        kinds = [k for k, _, _ in self.documents("2027-01", "CSR-MURA-01")]
        self.assertEqual(kinds, ["invoice", "credit_note", "supplementary"])
        for e in ids:
            self.assertEqual(self.net(e, "2027-01"), FULL)
        owed = int(self.sql("SELECT sum(total) FROM invoices WHERE payer_code = 'CSR-MURA-01' "
                            "AND period = '2027-01-01'")[0][0])
        self.assertEqual(owed, 3 * FULL)
        self.assert_documents_consistent()

    # -- a person-month billed on two payable documents (038)
    def allocated(self, enrolment: int, month: str) -> int:
        return int(self.sql(f"SELECT coalesce(sum(amount), 0) FROM payment_lines "
                            f"WHERE enrolment_id = {enrolment} AND period = '{month}-01'")[0][0])

    def pay(self, month: str, payer: str, kind: str, amount: int) -> None:
        doc = self.sql(f"SELECT id FROM invoices WHERE period = '{month}-01' "
                       f"AND payer_code = '{payer}' AND kind = '{kind}'")[0][0]
        self.assertEqual(self.sql(f"SELECT result FROM billing_record_payment({doc}, {amount}, "
                                  f"current_date, NULL, 'test')"), [("ok",)])

    def test_a_person_billed_on_two_documents_is_paid_once_whichever_is_paid_first(self):
        """X's month is on the invoice, then cancelled on a credit note and
        billed again on a supplementary invoice (an end undone). The payer
        pays, without a list, what each document asks for its live people:
        16,800 on the invoice (for Y) and 16,800 on the supplementary (for
        X). In either order each person-month is paid exactly once; before
        038, paying the invoice first paid X twice and left Y unpaid (and
        lapsed three months later) although the payer owed nothing."""
        s = self.stack
        orders = {"2027-03": ("invoice", "supplementary"),
                  "2027-04": ("supplementary", "invoice")}
        s.start_daemons("billing")
        for month, order in orders.items():
            x, y = self.enrol("MURA-2026-CSR", MURA_VILLAGE, 2, start=month, end=month)
            self.run_month(month)
            self.sql(f"UPDATE enrolments SET status = 'ended', end_reason = 'left', "
                     f"ended_at = now(), end_month = '{month}-01'::date - 1 WHERE id = {x}")
            self.run_month(month)
            self.sql(f"UPDATE enrolments SET status = 'active', end_reason = NULL, "
                     f"ended_at = NULL, end_month = '{month}-01' WHERE id = {x}")
            self.run_month(month)
            docs = [(k, t) for k, t, _ in self.documents(month, "CSR-MURA-01")]
            self.assertEqual(docs, [("invoice", 2 * FULL), ("credit_note", -FULL),
                                    ("supplementary", FULL)])
            for kind in order:
                self.pay(month, "CSR-MURA-01", kind, FULL)
            self.assertEqual([(self.net(e, month), self.allocated(e, month)) for e in (x, y)],
                             [(FULL, FULL), (FULL, FULL)], order)

    def test_a_relief_withdrawn_is_paid_once_whichever_document_is_paid_first(self):
        """A relief entered late and withdrawn: the invoice bills 16,800 each,
        a credit note -8,400 each, a supplementary invoice +8,400 each. The
        company pays the invoice less the credit note (25,200) and the
        supplementary invoice (16,800), no lists, in either order: each
        person-month is paid its 16,800 (before 038: 25,200 and 8,400 when
        the invoice was paid first)."""
        s = self.stack
        orders = {"2027-05": ("invoice", "supplementary"),
                  "2027-06": ("supplementary", "invoice")}
        s.start_daemons("billing")
        for month, order in orders.items():
            x, y = self.enrol("MURA-2026-CSR", MURA_VILLAGE, 2, start=month, end=month)
            self.run_month(month)
            self.sql("INSERT INTO premium_adjustments (name, first_month, last_month, off_bp, "
                     f"applies_jkk, applies_jkm, note) VALUES ('late {month}', '{month}-01', "
                     f"'{month}-01', 5000, true, true, 'test: entered late, withdrawn')")
            self.run_month(month)
            self.sql(f"DELETE FROM premium_adjustments WHERE name = 'late {month}'")
            self.run_month(month)
            docs = [(k, t) for k, t, _ in self.documents(month, "CSR-MURA-01")]
            self.assertEqual(docs, [("invoice", 2 * FULL), ("credit_note", -2 * HALF),
                                    ("supplementary", 2 * HALF)])
            paid = {"invoice": 2 * FULL - 2 * HALF, "supplementary": 2 * HALF}
            for kind in order:
                self.pay(month, "CSR-MURA-01", kind, paid[kind])
            self.assertEqual([(self.net(e, month), self.allocated(e, month)) for e in (x, y)],
                             [(FULL, FULL), (FULL, FULL)], order)

    def test_payments_without_lists_pay_each_person_once_in_any_order(self):
        """Two months with several corrections each (a review's cases): the
        payer pays each payable document, without lists, what it bills for
        the people it alone still bills, so that the payments add up to what
        is owed in all. In all six orders each person-month ends paid exactly
        its net charge (038 allocates a month's payments without a list
        again at every payment; before, 2 orders of 6 were wrong in the
        first month and the invoice-first orders in the second)."""
        s = self.stack
        self.quiet_sweep()
        s.start_daemons("billing")
        ended = "status = 'ended', end_reason = 'left', ended_at = now(), end_month"
        back = "status = 'active', end_reason = NULL, ended_at = NULL, end_month"

        month_a = self.month_with_corrections

        def month_b(m: str) -> list[int]:
            # invoice P Q R, credit note P Q, supplementary P, supplementary Q
            p, q, r = self.enrol("MURA-2026-CSR", MURA_VILLAGE, 3, start=m, end=m)
            self.run_month(m)
            self.sql(f"UPDATE enrolments SET {ended} = '{m}-01'::date - 1 WHERE id IN ({p}, {q})")
            self.run_month(m)
            for x in (p, q):
                self.sql(f"UPDATE enrolments SET {back} = '{m}-01' WHERE id = {x}")
                self.run_month(m)
            return [p, q, r]

        # what the payer pays on each payable document (invoice, first and
        # second supplementary invoice): amounts an exact allocation exists
        # for, as the review enumerated them
        splits = {"2027-07": [(16800, 16800, 33600)],
                  "2027-08": [(33600, 16800, 0), (16800, 16800, 16800)]}
        for m, build in (("2027-07", month_a), ("2027-08", month_b)):
            people = build(m)
            docs = [(int(i), k) for i, k in self.sql(
                f"SELECT id, kind FROM invoices WHERE period = '{m}-01' "
                f"AND payer_code = 'CSR-MURA-01' AND kind <> 'credit_note' ORDER BY id")]
            self.assertEqual([k for _, k in docs], ["invoice", "supplementary", "supplementary"])
            owed = sum(self.net(e, m) for e in people)
            for split in splits[m]:
                amount = {doc: a for (doc, _), a in zip(docs, split)}
                self.assertEqual(sum(split), owed)
                for order in itertools.permutations(docs):
                    # each order in a transaction rolled back, so all start alike
                    calls = " ".join(
                        f"INSERT INTO r SELECT result FROM billing_record_payment({doc}, "
                        f"{amount[doc]}, current_date, NULL, 'test');"
                        for doc, _ in order if amount[doc] > 0)
                    got = self.sql(
                        "BEGIN; CREATE TEMP TABLE r (result text); " + calls +
                        " SELECT (SELECT string_agg(result, ',') FROM r), string_agg(e::text || ':' "
                        "|| (SELECT coalesce(sum(amount), 0) FROM payment_lines WHERE enrolment_id = e "
                        f"AND period = '{m}-01'), ',' ORDER BY e) FROM unnest(ARRAY{people}) e; "
                        "ROLLBACK;")
                    self.assertEqual(set(got[0][0].split(",")), {"ok"}, got)
                    paid = dict(x.split(":") for x in got[0][1].split(","))
                    self.assertEqual({int(e): int(v) for e, v in paid.items()},
                                     {e: self.net(e, m) for e in people},
                                     (m, [k for _, k in order]))

    def two_billed(self, m: str) -> tuple[int, int, int]:
        """Two people of one CSR village billed for month m by the daemon's
        run: their enrolment ids and the invoice's."""
        a, b = self.enrol("MURA-2026-CSR", MURA_VILLAGE, 2, start=m, end=m)
        self.stack.start_daemons("billing")
        self.run_month(m)
        inv = int(self.sql(f"SELECT id FROM invoices WHERE period = '{m}-01' "
                           "AND kind = 'invoice'")[0][0])
        return a, b, inv

    def leave_before(self, enrolment: int, m: str) -> None:
        """The enrolment ends (left) in the month before m."""
        self.sql(f"UPDATE enrolments SET status = 'ended', end_reason = 'left', "
                 f"ended_at = now(), end_month = '{m}-01'::date - 1 WHERE id = {enrolment}")

    def quiet_sweep(self) -> None:
        """The documents of month_with_corrections (and month_b) are each one
        manual run's: billing's own sweep, every 500 ms in tests, re-ran the
        month between two of a step's changes under load (a late enrolment
        billed alone, the reinstatement on one more supplementary invoice).
        Here it sweeps once an hour; runs by hand go through its control
        socket as before."""
        self.stack.env["LINDUNG_SWEEP_MS"] = "3600000"

    def month_with_corrections(self, m: str) -> list[int]:
        """Invoice A B C D (relief), credit note C D, supplementary E (late)
        and C reinstated, supplementary relief withdrawn and D reinstated,
        credit note B (death): a review's month."""
        ended = "status = 'ended', end_reason = 'left', ended_at = now(), end_month"
        back = "status = 'active', end_reason = NULL, ended_at = NULL, end_month"
        a, b, c, d = self.enrol("MURA-2026-CSR", MURA_VILLAGE, 4, start=m, end=m)
        self.sql("INSERT INTO premium_adjustments (name, first_month, last_month, off_bp, "
                 f"applies_jkk, applies_jkm, note) VALUES ('r {m}', '{m}-01', '{m}-01', "
                 "5000, true, true, 'test')")
        self.run_month(m)
        self.sql(f"UPDATE enrolments SET {ended} = '{m}-01'::date - 1 WHERE id IN ({c}, {d})")
        self.run_month(m)
        (e,) = self.enrol("MURA-2026-CSR", MURA_VILLAGE, 1, start=m, end=m)
        self.sql(f"UPDATE enrolments SET {back} = '{m}-01' WHERE id = {c}")
        self.run_month(m)
        self.sql(f"UPDATE enrolments SET {back} = '{m}-01' WHERE id = {d}")
        self.sql(f"DELETE FROM premium_adjustments WHERE name = 'r {m}'")
        self.run_month(m)
        self.sql(f"UPDATE enrolments SET {ended} = '{m}-01'::date - 1 WHERE id = {b}")
        self.run_month(m)
        return [a, b, c, d, e]

    def test_lists_mixed_with_payments_without_lists_pay_each_person_once(self) -> None:
        """A review's sequences (eleventh session) that mix payments with a
        list, or leaving lines out, and payments without one, in a month where
        two documents bill the same people: the payer pays what it owes in
        all, and each person-month ends paid exactly its net charge. 038's
        greedy re-allocation paid C Rp 25,200 and D Rp 8,400 in each of
        them; 041 allocates a maximum flow. A list pays what its people owe
        on the document apart from payments without a list
        (document_list_owed)."""
        self.quiet_sweep()
        self.stack.start_daemons("billing")
        m = "2027-07"
        people = self.month_with_corrections(m)
        a, b, c, d, e = people
        inv, sup1, sup2 = [int(r[0]) for r in self.sql(
            f"SELECT id FROM invoices WHERE period = '{m}-01' AND kind <> 'credit_note' "
            "ORDER BY id")]
        owed = sum(self.net(x, m) for x in people)
        self.assertEqual(owed, 67200)
        sequences = [
            [(inv, "except", [b, d]), (sup1, 16800), (sup2, 16800), (sup2, 16800)],
            [(sup2, 16800), (inv, "lines", [c]), (sup2, 8400), (sup1, "lines", [e]),
             (inv, 8400), (sup1, 8400), (sup2, 8400)],
            [(sup2, 16800), (inv, "lines", [c]), (inv, 8400), (sup1, 16800), (sup2, 16800)],
            [(inv, 8400), (sup1, 8400), (sup2, 33600), (inv, "lines", [c]), (sup1, 8400)],
        ]
        for seq in sequences:
            calls = []
            for step in seq:
                if len(step) == 2:
                    calls.append(f"INSERT INTO r SELECT result FROM billing_record_payment("
                                 f"{step[0]}, {step[1]}, current_date, NULL, 'test');")
                    continue
                doc, kind, ids = step
                arr = f"ARRAY{ids}::bigint[]"
                ls, ex = (arr, "NULL") if kind == "lines" else ("NULL", arr)
                calls.append(f"INSERT INTO r SELECT result FROM billing_record_payment({doc}, "
                             f"document_list_owed({doc}, {ls}, {ex}), current_date, NULL, "
                             f"'test', {ls}, {ex});")
            got = self.sql(
                "BEGIN; CREATE TEMP TABLE r (result text); " + " ".join(calls) +
                " SELECT (SELECT string_agg(result, ',') FROM r), "
                "(SELECT sum(amount) FROM payments), string_agg(e::text || ':' "
                "|| (SELECT coalesce(sum(amount), 0) FROM payment_lines WHERE enrolment_id = e "
                f"AND period = '{m}-01'), ',' ORDER BY e) FROM unnest(ARRAY{people}) e; "
                "ROLLBACK;")
            self.assertEqual(set(got[0][0].split(",")), {"ok"}, (seq, got))
            self.assertEqual(int(got[0][1]), owed, seq)
            paid = dict(x.split(":") for x in got[0][2].split(","))
            self.assertEqual({int(x): int(v) for x, v in paid.items()},
                             {x: self.net(x, m) for x in people}, seq)

    def test_people_billed_on_three_documents_are_paid_once_in_any_order(self) -> None:
        """A's on the invoice, cancelled and reinstated on a supplementary
        invoice with the B's (accepted late), the B's cancelled and
        reinstated on a second one: everyone is billed on two documents. The
        payer pays 1 person on the second supplementary invoice, 3 on the
        first and 4 on the invoice, without lists: in every order each
        person-month ends paid once (phase 3 of 041 moves people between
        documents; the pour's order makes that rare)."""
        self.stack.start_daemons("billing")
        m = "2027-07"
        ended = "status = 'ended', end_reason = 'left', ended_at = now(), end_month"
        back = "status = 'active', end_reason = NULL, ended_at = NULL, end_month"
        a = self.enrol("MURA-2026-CSR", MURA_VILLAGE, 4, start=m, end=m)
        self.run_month(m)
        self.sql(f"UPDATE enrolments SET {ended} = '{m}-01'::date - 1 WHERE id = ANY(ARRAY{a})")
        self.run_month(m)
        b = self.enrol("MURA-2026-CSR", MURA_VILLAGE, 4, start=m, end=m)
        self.sql(f"UPDATE enrolments SET {back} = '{m}-01' WHERE id = ANY(ARRAY{a})")
        self.run_month(m)
        self.sql(f"UPDATE enrolments SET {ended} = '{m}-01'::date - 1 WHERE id = ANY(ARRAY{b})")
        self.run_month(m)
        self.sql(f"UPDATE enrolments SET {back} = '{m}-01' WHERE id = ANY(ARRAY{b})")
        self.run_month(m)
        docs = self.sql(f"SELECT id FROM invoices WHERE period = '{m}-01' "
                        "AND kind <> 'credit_note' ORDER BY id")
        amount = dict(zip((int(d) for (d,) in docs), (4 * FULL, 3 * FULL, FULL)))
        people = a + b
        for order in itertools.permutations(amount):
            calls = " ".join(f"INSERT INTO r SELECT result FROM billing_record_payment({d}, "
                             f"{amount[d]}, current_date, NULL, 'test');" for d in order)
            got = self.sql(
                "BEGIN; CREATE TEMP TABLE r (result text); " + calls +
                " SELECT (SELECT string_agg(result, ',') FROM r), string_agg("
                "(SELECT coalesce(sum(amount), 0) FROM payment_lines WHERE enrolment_id = e "
                f"AND period = '{m}-01')::text, ',' ORDER BY e) FROM unnest(ARRAY{people}) e; "
                "ROLLBACK;")
            self.assertEqual(set(got[0][0].split(",")), {"ok"}, (order, got))
            self.assertEqual([int(x) for x in got[0][1].split(",")], [FULL] * 8, order)

    def test_a_list_after_a_payment_without_one_moves_that_payment(self) -> None:
        """A payment without a list went to A, the first line; the payer then
        pays A with a list. The list is taken (before 041 it was refused
        nothing_due, A's line looking paid), and the first payment moves to
        B: both people paid once, the invoice paid."""
        m = "2027-10"
        a, b, inv = self.two_billed(m)
        first = self.sql(f"SELECT result FROM billing_record_payment({inv}, {FULL}, "
                         "current_date, 'r1', 'test')")
        self.assertEqual(first[0][0], "ok")
        self.assertEqual(self.sql("SELECT enrolment_id FROM payment_lines")[0][0], str(a))
        listed = self.sql(f"SELECT result, status FROM billing_record_payment({inv}, {FULL}, "
                          f"current_date, 'r2', 'test', ARRAY[{a}]::bigint[])")
        self.assertEqual(listed[0], ("ok", "paid"))
        rows = self.sql("SELECT p.allocation, pl.enrolment_id, pl.amount FROM payment_lines pl "
                        "JOIN payments p ON p.id = pl.payment_id ORDER BY p.id")
        self.assertEqual(rows, [("order", str(b), str(FULL)), ("lines", str(a), str(FULL))])

    def test_a_credit_note_after_a_payment_moves_the_payment(self) -> None:
        """A village pays without a list what it will owe once a leaver's line
        is credited, before the credit note is issued: the payment first
        goes to the leaver's line (the document's order); the run that
        issues the credit note allocates it again, to the person still owed
        (040; before, it stayed on the leaver, and the other person could
        lapse although the village owed nothing: a review found it)."""
        m = "2027-09"
        a, b, _ = self.two_billed(m)
        self.pay(m, "CSR-MURA-01", "invoice", FULL)
        self.assertEqual([self.allocated(e, m) for e in (a, b)], [FULL, 0])
        self.leave_before(a, m)
        self.run_month(m)
        self.assertEqual([k for k, _, _ in self.documents(m, "CSR-MURA-01")],
                         ["invoice", "credit_note"])
        self.assertEqual([(self.net(e, m), self.allocated(e, m)) for e in (a, b)],
                         [(0, 0), (FULL, FULL)])

    def test_a_payment_committing_while_a_run_credits_is_followed(self) -> None:
        """As above, but the payment is still committing while the daemon's
        sweep issues the credit note (a commit made slow by a test-only
        trigger, as a slow disk or a synchronous standby makes it): the run
        waits for the month's documents and then allocates the payment to
        the person still owed. 040 asked whether the month had payments
        before it locked anything, missed this one, and left the money on
        the leaver for good (a review reproduced it in 8 of 10 overlapping
        tries with no trigger at all)."""
        s = self.stack
        m = "2027-09"
        a, b, inv = self.two_billed(m)
        self.sql("CREATE FUNCTION test_slow_commit() RETURNS trigger LANGUAGE plpgsql "
                 "SECURITY DEFINER AS $$ BEGIN PERFORM pg_advisory_xact_lock_shared(4711); "
                 "RETURN NULL; END $$; CREATE CONSTRAINT TRIGGER test_slow_commit AFTER "
                 "INSERT ON payments DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE "
                 "FUNCTION test_slow_commit()")
        holder = subprocess.Popen([str(harness.PG_BIN / "psql"), "-X", "-q", "-d",
                                   s.cluster.conninfo, "-c",
                                   "SELECT pg_advisory_lock(4711), pg_sleep(4)"],
                                  stdout=subprocess.DEVNULL)
        try:
            harness.wait_until(lambda: self.sql(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                "AND granted")[0][0] == "1", timeout=10, message="advisory lock held")
            pay = subprocess.Popen([str(harness.BINARIES["lindungctl"]), "billing", "pay",
                                    str(inv), str(FULL), "--reference", "r1"], env=s.env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            harness.wait_until(lambda: self.sql(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND wait_event = 'advisory'")[0][0] == "1", timeout=10,
                message="the payment allocated, its commit waiting")
            # A left before the month: the daemon's sweep credits her line
            self.sql(f"UPDATE enrolments SET status = 'ended', end_reason = 'left', "
                     f"ended_at = now(), end_month = '{m}-01'::date - 1 WHERE id = {a}")
            out, err = pay.communicate(timeout=30)
            self.assertEqual(pay.returncode, 0, (out, err))
        finally:
            holder.wait(timeout=30)
        harness.wait_until(lambda: [k for k, _, _ in self.documents(m, "CSR-MURA-01")]
                           == ["invoice", "credit_note"], timeout=30,
                           message="credit note issued")
        harness.wait_until(lambda: self.sql(
            "SELECT count(*) FROM billing_runs WHERE finished_at IS NULL")[0][0] == "0",
            timeout=30, message="runs finished")
        self.assertEqual([(self.net(e, m), self.allocated(e, m)) for e in (a, b)],
                         [(0, 0), (FULL, FULL)])

    def test_migration_041_puts_allocations_made_before_it_right(self) -> None:
        """A month whose credit note came after a payment without a list,
        before 040, kept the payment on the leaver; 040 only followed runs
        made after it (a review: an upgrade kept the wrong allocation). 041's
        one-time block, run here again on such a month, moves it."""
        m = "2027-09"
        a, b, _ = self.two_billed(m)
        self.pay(m, "CSR-MURA-01", "invoice", FULL)
        self.leave_before(a, m)
        self.run_month(m)
        # as 031-039 left it: the payment still on the leaver
        self.sql(f"UPDATE payment_lines SET enrolment_id = {a}")
        self.assertEqual([self.allocated(e, m) for e in (a, b)], [FULL, 0])
        text = (harness.SOURCE_DIR / "db/migrations/041_payments_exact_allocation.sql"
                ).read_text(encoding="utf-8")
        block = text[text.index("DO $$"):]
        self.sql(block[:block.index("END $$;") + len("END $$;")])
        self.assertEqual([(self.net(e, m), self.allocated(e, m)) for e in (a, b)],
                         [(0, 0), (FULL, FULL)])

    # a payer-month's order allocations, as (payment, person, rupiah)
    ORDER_LINES = ("SELECT pl.payment_id, pl.enrolment_id, pl.amount FROM payment_lines pl "
                   "JOIN payments p ON p.id = pl.payment_id WHERE p.allocation = 'order'")

    def assert_follow_is_the_flow(self, what: str) -> None:
        """What the run's follow step left (042's one pass, for payer-months
        with money without a list on one document) is what 041's flow gives
        each payer-month, to the rupiah: checked by allocating every
        payer-month again through the flow, in a transaction rolled back."""
        differ = self.sql(
            f"BEGIN; CREATE TEMP TABLE left_by_run AS {self.ORDER_LINES}; "
            "CREATE TEMP TABLE flow AS SELECT count(payments_reallocate(x.period, "
            "x.funding_source, x.payer_code)::text) FROM (SELECT DISTINCT i.period, i.funding_source, i.payer_code "
            "FROM invoices i JOIN payments p ON p.invoice_id = i.id "
            "AND p.allocation = 'order') x; "
            f"SELECT count(*) FROM (({self.ORDER_LINES} EXCEPT TABLE left_by_run) UNION ALL "
            f"(TABLE left_by_run EXCEPT {self.ORDER_LINES})) d")
        self.assertEqual(differ, [("0",)], what)

    def test_the_follow_step_in_one_pass_allocates_as_the_flow_does(self) -> None:
        """042: a run that corrects many payer-months at once (a late rate,
        leavers, reinstatements) allocates the payments without a list of
        those with one such document in one pass, no longer one payer-month
        at a time (10.5 s for 1,000 villages: bench/payments/follow). Twelve
        villages, each with its own mix (payments without a list short, in
        full, in two parts; a list of lines or all but one before them;
        leavers credited, one reinstated on a supplementary invoice that its
        village pays with a list), checked against the flow after each run,
        and one village's rupiah by hand."""
        import random
        rnd = random.Random(42)
        m = "2027-05"
        villages = [r[0] for r in self.sql(
            "SELECT code FROM regions WHERE code LIKE '16.12.%' AND length(code) = 13 "
            "AND substr(code, 10, 1) = '2' ORDER BY code LIMIT 12")]
        people = {v: self.enrol("PALI-TEST-ADD", v, rnd.randint(3, 6), start=m, end=m)
                  for v in villages}
        self.stack.start_daemons("billing")
        self.run_month(m)
        for k, v in enumerate(villages):
            inv, total = map(int, self.sql(
                f"SELECT id, total FROM invoices WHERE period = '{m}-01' "
                f"AND payer_code = '{v}' AND kind = 'invoice'")[0])
            if k % 3 == 1:   # a list first: one person, or all but one
                one = people[v][rnd.randrange(len(people[v]))]
                lines, ex = ((f"ARRAY[{one}]::bigint[]", "NULL") if rnd.random() < 0.5
                             else ("NULL", f"ARRAY[{one}]::bigint[]"))
                owed = int(self.sql(f"SELECT document_list_owed({inv}, {lines}, {ex})")[0][0])
                self.assertEqual(self.sql(
                    f"SELECT result FROM billing_record_payment({inv}, {owed}, current_date, "
                    f"NULL, 'test', {lines}, {ex})"), [("ok",)])
                total -= owed
            for amount in ([total] if k % 2 == 0 else
                           [rnd.randint(1, total // 4), rnd.randint(1, total // 4)]):
                if amount > 0:
                    self.assertEqual(self.sql(
                        f"SELECT result FROM billing_record_payment({inv}, {amount}, "
                        "current_date, NULL, 'test')"), [("ok",)])
        ended = "status = 'ended', end_reason = 'left', ended_at = now(), end_month"
        back = "status = 'active', end_reason = NULL, ended_at = NULL, end_month"
        leavers = [p for v in villages for p in people[v][:1 + len(people[v]) % 2]]
        self.sql(f"UPDATE enrolments SET {ended} = '{m}-01'::date - 1 "
                 f"WHERE id IN ({','.join(map(str, leavers))})")
        self.sql("INSERT INTO premium_rates (component, effective_month, flat_amount, note) "
                 f"VALUES ('JKM', '{m}-01', 6000, 'test: a lower JKM, entered late')")
        self.run_month(m)   # (or billing's sweep, which saw the change first)
        self.assertEqual(self.sql(f"SELECT count(DISTINCT payer_code) FROM invoices "
                                  f"WHERE period = '{m}-01' AND kind = 'credit_note'"),
                         [(str(len(villages)),)])
        self.assert_follow_is_the_flow("after leavers and a lower rate")
        # village 0 (paid in full, no list): its money beyond every need goes
        # to its items in order, up to what each line bills
        v0 = villages[0]
        nets = [self.net(e, m) for e in people[v0]]
        paid = sum(int(a) for (a,) in self.sql(
            f"SELECT p.amount FROM payments p JOIN invoices i ON i.id = p.invoice_id "
            f"WHERE i.payer_code = '{v0}' AND i.period = '{m}-01'"))
        self.assertEqual(paid, FULL * len(people[v0]))
        expect, left = [], paid - sum(nets)
        for net in nets:
            extra = min(FULL - net, left)
            expect.append(net + extra)
            left -= extra
        self.assertEqual([self.allocated(e, m) for e in people[v0]], expect)
        # one leaver back (a supplementary invoice), paid by its village
        back_one = leavers[-1]   # of the last village, which paid short
        self.sql(f"UPDATE enrolments SET {back} = '{m}-01' WHERE id = {back_one}")
        self.run_month(m)
        self.assert_follow_is_the_flow("after a reinstatement")
        # its supplementary invoice paid with a list: the person's need on
        # the invoice's side is what the list left (a list on another
        # document than the money's)
        sup, owed = self.sql(f"SELECT b.id, b.outstanding FROM invoice_balances b "
                             f"WHERE b.period = '{m}-01' AND b.kind = 'supplementary'")[0]
        self.assertEqual(self.sql(f"SELECT result FROM billing_record_payment({sup}, {owed}, "
                                  f"current_date, NULL, 'test', ARRAY[{back_one}]::bigint[])"),
                         [("ok",)])
        self.assert_follow_is_the_flow("after the supplementary invoice was paid")
        # then someone else of that village leaves: the run follows the
        # month, where the reinstated person's need is what the list left
        other = next(p for v in villages if back_one in people[v] for p in people[v]
                     if p not in leavers)
        self.sql(f"UPDATE enrolments SET {ended} = '{m}-01'::date - 1 WHERE id = {other}")
        self.run_month(m)
        self.assert_follow_is_the_flow("after another leaver in that village")

    def test_sweep_rerates_without_being_asked(self) -> None:
        """The daemon notices a new rate and corrects every month it billed."""
        s = self.stack
        ids = self.enrol("MURA-2026-CSR", MURA_VILLAGE, 1, start="2027-02")
        s.start_daemons("billing")
        self.run_month("2027-02")
        self.sql("INSERT INTO premium_rates (component, effective_month, flat_amount, note) "
                 "VALUES ('JKM', '2027-02-01', 7000, 'test: a JKM rise entered late')")
        harness.wait_until(lambda: self.net(ids[0], "2027-02") == 10000 + 7000, timeout=30,
                           message="the sweep re-rated February")
        self.assertEqual([k for k, _, _ in self.documents("2027-02", "CSR-MURA-01")],
                         ["invoice", "supplementary"])
        self.assert_documents_consistent()

    def test_insured_income_caps_what_a_payer_owes(self) -> None:
        s = self.stack
        huge = self.enrol("PALI-2026-ADD", VILLAGE_A, 1, start="2026-11",
                          income=1_000_000_000_000)
        path = s.dir / "ceiling.json"
        path.write_text(json.dumps({"programs": [{
            "code": "CEIL", "name": "declared income up to a ceiling", "regency_code": "16.12",
            "funding_source": "ADD", "coverage_start": "2026-01", "coverage_end": "2026-12",
            "occupations": ["informal"], "income_ceiling": 2000000}]}))
        s.lindungctl("program", "import", str(path))
        capped = self.enrol("CEIL", VILLAGE_B, 1, start="2026-11", income=5000000)
        mid = self.enrol("CEIL", VILLAGE_B, 1, start="2026-11", income=1500000)
        low = self.enrol("CEIL", VILLAGE_B, 1, start="2026-11", income=0)
        s.start_daemons("billing")
        self.run_month("2026-11")
        self.assertEqual(self.net(huge[0], "2026-11"), FULL)
        self.assertEqual(self.net(capped[0], "2026-11"), 20000 + 6800)
        self.assertEqual(self.net(mid[0], "2026-11"), 15000 + 6800)
        self.assertEqual(self.net(low[0], "2026-11"), FULL)  # never below the minimum

    def test_one_covered_month_per_person(self) -> None:
        first = self.enrol("PALI-2026-ADD", VILLAGE_A, 1, start="2026-10")
        nik = self.sql(f"SELECT nik FROM enrolments WHERE id = {first[0]}")[0][0]
        insert = ("INSERT INTO enrolments (nik, program_id, village_code, previous_enrolment_id,"
                  " funding_source, payer_code, start_month, end_month) SELECT '{nik}', p.id, "
                  "'16.05.01.2002', {prev}, p.funding_source, 'CSR-MURA-01', '{start}', {end} "
                  "FROM programs p WHERE p.code = 'MURA-2026-CSR'")
        with self.assertRaises(Exception) as cm:
            self.sql(insert.format(nik=nik, prev=first[0], start="2027-03-01", end="NULL"))
        self.assertIn("enrolments_one_cover_per_month", str(cm.exception))
        self.sql(f"UPDATE enrolments SET status = 'ended', end_reason = 'moved', "
                 f"end_month = '2026-11-01', ended_at = now() WHERE id = {first[0]}")
        with self.assertRaises(Exception):
            self.sql(insert.format(nik=nik, prev=first[0], start="2026-11-01", end="NULL"))
        self.sql(insert.format(nik=nik, prev=first[0], start="2026-12-01", end="NULL"))
        overlaps = self.sql("SELECT count(*) FROM enrolments a JOIN enrolments b "
                            "ON a.nik = b.nik AND a.id < b.id "
                            "WHERE enrolment_months(a.start_month, a.end_month) "
                            "&& enrolment_months(b.start_month, b.end_month)")
        self.assertEqual(overlaps, [("0",)])

    def test_ended_enrolment_is_credited_and_programme_ends(self) -> None:
        s = self.stack
        moved = self.enrol("PALI-2026-ADD", VILLAGE_A, 1, start="2026-09")
        stays = self.enrol("PALI-2026-ADD", VILLAGE_A, 1, start="2026-09")
        path = s.dir / "short.json"
        path.write_text(json.dumps({"programs": [{
            "code": "SHORT", "name": "ended last month", "regency_code": "16.12",
            "funding_source": "ADD", "coverage_start": "2026-01", "coverage_end": "2026-11",
            "occupations": ["informal"]}]}))
        s.lindungctl("program", "import", str(path))
        short = self.enrol("SHORT", VILLAGE_B, 1, start="2026-09", end="2026-11")
        s.start_daemons("billing")
        for m in ("2026-09", "2026-10", "2026-11"):
            self.run_month(m)
        # ended after October and November were billed: both credited
        self.sql(f"UPDATE enrolments SET status = 'ended', end_reason = 'moved', "
                 f"end_month = '2026-09-01', ended_at = now() WHERE id = {moved[0]}")
        for m in ("2026-10", "2026-11"):
            self.run_month(m)  # or the sweep did it first
            self.assertEqual(self.documents(m, VILLAGE_A),
                             [("invoice", 2 * FULL, 2), ("credit_note", -FULL, 1)])
            self.assertEqual(self.net(moved[0], m), 0)
            self.assertEqual(self.net(stays[0], m), FULL)
            self.assertEqual(self.sql(f"SELECT reason FROM line_adjustments WHERE "
                                      f"enrolment_id = {moved[0]} AND period = '{m}-01'"),
                             [("ended",)])
        self.assertEqual(self.net(moved[0], "2026-09"), FULL)
        # SHORT ended with November: its enrolment ends, December bills nothing
        self.run_month("2026-12")
        self.assertEqual(self.sql(f"SELECT status, end_reason, to_char(end_month, 'YYYY-MM') "
                                  f"FROM enrolments WHERE id = {short[0]}"),
                         [("ended", "program_ended", "2026-11")])
        self.assertEqual(self.net(short[0], "2026-12"), 0)
        self.assert_documents_consistent()

    def test_an_end_undone_is_billed_again(self) -> None:
        """An end recorded in error and undone (issue 14's death corrected):
        months credited are billed again on a supplementary invoice, and months
        skipped while it was ended are billed, although the enrolment is older
        than every run's watermark."""
        s = self.stack
        gone, stays = self.enrol("MURA-2026-CSR", MURA_VILLAGE, 2, start="2027-03")
        s.start_daemons("billing")
        self.run_month("2027-03")
        self.run_month("2027-04")
        self.sql(f"UPDATE enrolments SET status = 'ended', end_reason = 'left', "
                 f"end_month = '2027-03-01', ended_at = now() WHERE id = {gone}")
        self.run_month("2027-04")
        self.run_month("2027-05")
        self.assertEqual([self.net(gone, m) for m in ("2027-03", "2027-04", "2027-05")],
                         [FULL, 0, 0])
        self.sql(f"UPDATE enrolments SET status = 'active', end_reason = NULL, "
                 f"end_month = NULL, ended_at = NULL WHERE id = {gone}")
        self.run_month("2027-04")
        self.run_month("2027-05")
        self.assertEqual([self.net(gone, m) for m in ("2027-03", "2027-04", "2027-05")],
                         [FULL, FULL, FULL])
        self.assertEqual(self.sql(f"SELECT reason, amount FROM line_adjustments "
                                  f"WHERE enrolment_id = {gone} ORDER BY id"),
                         [("ended", str(-FULL)), ("reinstated", str(FULL))])
        self.assertEqual(self.net(stays, "2027-05"), FULL)
        self.assert_documents_consistent()

    def test_lapse_is_judged_per_person(self) -> None:
        """Three people on one village invoice. The village disputes A's line
        for three months and pays the rest; D is billed late each month on a
        supplementary invoice issued after the due date and left unpaid. Only A
        lapses: not B and C (paid), not D (lines not issued on time)."""
        s = self.stack
        s.env["LINDUNG_BILLING_CATCHUP_MONTHS"] = "1"  # the start-up bills this month only
        a, b, c = self.enrol("PALI-2026-ADD", VILLAGE_A, 3, start="2026-05")
        s.start_daemons("billing")
        months = ("2026-05", "2026-06", "2026-07")
        for m in months:
            self.run_month(m)
        d = self.enrol("PALI-2026-ADD", VILLAGE_A, 1, start="2026-05")[0]
        for m in months:
            self.run_month(m)  # D's lines: supplementary invoices, issued today (late)
        self.rewind_to_august()
        for m in months:
            inv = self.sql(f"SELECT id FROM invoices WHERE period = '{m}-01' AND "
                           f"payer_code = '{VILLAGE_A}' AND kind = 'invoice'")[0][0]
            r = self.sql(f"SELECT result FROM billing_record_payment({inv}, {2 * FULL}, "
                         f"'{m}-10', 'TRX-{m}', 'test', NULL, ARRAY[{a}]::bigint[])")
            self.assertEqual(r, [("ok",)])
            self.assertEqual(self.sql(f"SELECT status FROM invoice_balances WHERE id = {inv}"),
                             [("partially_paid",)])
        self.catch_up_from_august()
        rows = dict((int(i), (st, r, em)) for i, st, r, em in self.sql(
            "SELECT id, status, coalesce(end_reason, ''), coalesce(to_char(end_month, "
            "'YYYY-MM'), '') FROM enrolments"))
        self.assertEqual(rows[a], ("ended", "lapsed", "2026-07"))
        for other in (b, c, d):
            self.assertEqual(rows[other][0], "active", other)
        self.assertEqual(self.net(a, "2026-08"), 0)
        self.assertEqual(self.net(b, "2026-08"), FULL)
        self.assertEqual(self.net(d, "2026-08"), FULL)
        self.assert_documents_consistent()

    def test_payments_count_per_person_month(self) -> None:
        """Two faults a review found (031). X, alone in village B, is ended
        in error and the end undone: each month has X's line, a credit note
        and a supplementary invoice, and the village pays the supplementary
        invoices. In village A, C's lines are credited (C left) and the
        village pays each month exactly what it owes, without a list of
        lines. Nobody may lapse: X's months are paid in full (on another
        document than their line's), and A's money belongs to B, whose
        person-months are the only ones owed."""
        s = self.stack
        s.env["LINDUNG_BILLING_CATCHUP_MONTHS"] = "1"
        x = self.enrol("PALI-2026-ADD", VILLAGE_B, 1, start="2026-05")[0]
        c, b = self.enrol("PALI-2026-ADD", VILLAGE_A, 2, start="2026-05")
        s.start_daemons("billing")
        months = ("2026-05", "2026-06", "2026-07")
        for m in months:
            self.run_month(m)
        self.sql(f"UPDATE enrolments SET status = 'ended', end_reason = 'left', "
                 f"end_month = '2026-04-01', ended_at = now() WHERE id IN ({x}, {c})")
        for m in months:
            self.run_month(m)  # credit notes for X and C
        self.sql(f"UPDATE enrolments SET status = 'active', end_reason = NULL, "
                 f"end_month = NULL, ended_at = NULL WHERE id = {x}")
        for m in months:
            self.run_month(m)  # X reinstated: supplementary invoices
            self.assertEqual(self.documents(m, VILLAGE_B),
                             [("invoice", FULL, 1), ("credit_note", -FULL, 1),
                              ("supplementary", FULL, 1)])
        self.rewind_to_august()
        for m in months:
            sup = self.sql(f"SELECT id FROM invoices WHERE period = '{m}-01' AND "
                           f"payer_code = '{VILLAGE_B}' AND kind = 'supplementary'")[0][0]
            self.assertEqual(self.sql(f"SELECT result FROM billing_record_payment({sup}, "
                                      f"{FULL}, '{m}-20', 'SUP-{m}', 'test')"), [("ok",)])
            inv = self.sql(f"SELECT id FROM invoices WHERE period = '{m}-01' AND "
                           f"payer_code = '{VILLAGE_A}' AND kind = 'invoice'")[0][0]
            self.assertEqual(self.sql(f"SELECT result FROM billing_record_payment({inv}, "
                                      f"{FULL}, '{m}-10', 'A-{m}', 'test')"), [("ok",)])
            paid = dict((int(e), int(a)) for e, a in self.sql(
                f"SELECT enrolment_id, sum(amount) FROM payment_lines "
                f"WHERE period = '{m}-01' GROUP BY 1"))
            self.assertEqual(paid, {x: FULL, b: FULL}, m)
            self.assertEqual((self.net(x, m), self.net(b, m), self.net(c, m)), (FULL, FULL, 0))
        self.catch_up_from_august()
        rows = dict((int(i), st) for i, st in self.sql("SELECT id, status FROM enrolments"))
        self.assertEqual((rows[x], rows[b], rows[c]), ("active", "active", "ended"))
        self.assertEqual((self.net(x, "2026-08"), self.net(b, "2026-08")), (FULL, FULL))
        self.assert_documents_consistent()

    def test_payment_without_lines_pays_what_is_due_first(self) -> None:
        """X's October: a line, a credit note, a supplementary invoice (an end
        undone). The village pays Rp 10,000 of the supplementary invoice,
        then the whole original invoice without a list of lines: Rp 6,800
        of it is what X's month still owes, the rest goes to the same line
        after it, in the payment's one allocation row of X's month."""
        s = self.stack
        x = self.enrol("PALI-2026-ADD", VILLAGE_B, 1, start="2026-10")[0]
        s.start_daemons("billing")
        self.run_month("2026-10")
        self.sql(f"UPDATE enrolments SET status = 'ended', end_reason = 'left', "
                 f"end_month = '2026-09-01', ended_at = now() WHERE id = {x}")
        self.run_month("2026-10")
        self.sql(f"UPDATE enrolments SET status = 'active', end_reason = NULL, "
                 f"end_month = NULL, ended_at = NULL WHERE id = {x}")
        self.run_month("2026-10")
        docs = dict(self.sql("SELECT kind, id FROM invoices WHERE period = '2026-10-01' "
                             f"AND payer_code = '{VILLAGE_B}'"))
        self.assertEqual(self.sql(f"SELECT result FROM billing_record_payment("
                                  f"{docs['supplementary']}, 10000, '2026-10-20', 'S', "
                                  f"'test')"), [("ok",)])
        self.assertEqual(self.sql(f"SELECT result, status FROM billing_record_payment("
                                  f"{docs['invoice']}, {FULL}, '2026-10-21', 'I', 'test')"),
                         [("ok", "paid")])
        self.assertEqual(self.sql(
            "SELECT p.reference, pl.enrolment_id, pl.amount FROM payment_lines pl "
            "JOIN payments p ON p.id = pl.payment_id ORDER BY p.id"),
            [("S", str(x), "10000"), ("I", str(x), str(FULL))])
        self.assert_documents_consistent()

    def test_coverage_start_moved_later_is_credited(self) -> None:
        """Two people billed for October and November 2026; the programme's
        coverage_start is then moved to November (031: it is part of the
        rates mark). October's next run credits both October lines, and a
        person accepted afterwards is not billed for October either."""
        s = self.stack
        ids = self.enrol("PALI-2026-ADD", VILLAGE_A, 2, start="2026-10", end="2026-12")
        s.start_daemons("billing")
        self.run_month("2026-10")
        self.run_month("2026-11")
        self.assertEqual(self.documents("2026-10", VILLAGE_A), [("invoice", 2 * FULL, 2)])
        seed = json.loads((harness.SOURCE_DIR / "db/seed/programs.json").read_text())
        prog = next(p for p in seed["programs"] if p["code"] == "PALI-2026-ADD")
        path = s.dir / "moved.json"
        path.write_text(json.dumps({"programs": [dict(prog, coverage_start="2026-11")]}))
        s.lindungctl("program", "import", str(path))
        late = self.enrol("PALI-2026-ADD", VILLAGE_A, 1, start="2026-10", end="2026-12")
        self.run_month("2026-10")
        self.assertEqual(self.documents("2026-10", VILLAGE_A),
                         [("invoice", 2 * FULL, 2), ("credit_note", -2 * FULL, 2)])
        self.assertEqual([self.net(e, "2026-10") for e in ids + late], [0, 0, 0])
        self.assertEqual([self.net(e, "2026-11") for e in ids], [FULL, FULL])
        self.assert_documents_consistent()


if __name__ == "__main__":
    unittest.main(verbosity=2)
