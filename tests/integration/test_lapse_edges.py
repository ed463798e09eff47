"""Lapse at its edges (issue 13; faults a tenth-session review found), against a
real PostgreSQL and the real billing daemon, with months counted from today
in Jakarta (M is the current month): the lapse check before M's run looks at
M-3, M-2 and M-1.

- An increase billed late (a re-rating on a supplementary invoice not yet
  due) never lapses a person who paid every line issued on time.
- A line billed in advance, for a month still to come, protects nobody.
- A person who lapses loses the renewal already accepted for next year's
  programme, as a renewal queued after the lapse would never have been made.
- The three months are the person's: a transfer or a renewal paid by the
  same payer does not start the count again.

Expected rupiah come from the published rates (Rp 16,800 a person-month),
never from the code under test.
"""

from __future__ import annotations

import datetime
import json
import unittest

import harness

VILLAGE_A = "16.12.01.2001"
VILLAGE_B = "16.12.01.2002"
SAWIT = "MURA-2024-SAWIT"               # DBH sawit: the regency pays for every village
MURA_1, MURA_2 = "16.05.01.2002", "16.05.01.2003"
FULL = 10000 + 6800

ENROL_SQL = """
WITH s AS (
  INSERT INTO submissions (id, program_id, village_code, applicant_count)
  SELECT gen_random_uuid(), p.id, '{village}', {n} FROM programs p WHERE p.code = '{program}'
  RETURNING id, program_id),
a AS (
  INSERT INTO applicants (submission_id, idx, nik, name, birth_date, sex, occupation,
                          decision, monthly_income)
  SELECT s.id, g, ({nik_base}::bigint + g)::text, 'Peserta ' || g, '1980-01-01', 'M',
         'PETANI/PEKEBUN', 'accepted', 1000000
  FROM s, generate_series(0, {n} - 1) g
  RETURNING id, nik),
pa AS (
  INSERT INTO participants (nik, name, birth_date, sex)
  SELECT nik, 'Peserta', '1980-01-01', 'M' FROM a RETURNING nik)
INSERT INTO enrolments (nik, program_id, village_code, applicant_id, funding_source,
                        payer_code, declared_income, transport, start_month, end_month)
SELECT a.nik, s.program_id, '{village}', a.id, p.funding_source,
       program_payer(p.id, '{village}'), 1000000, false, '{start}-01', {end}
FROM a, s JOIN programs p ON p.id = s.program_id
RETURNING id, nik
"""


def jakarta_today() -> datetime.date:
    return (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=7)).date()


def month_add(month: str, n: int) -> str:
    y, m = map(int, month.split("-"))
    k = y * 12 + m - 1 + n
    return f"{k // 12:04d}-{k % 12 + 1:02d}"


M = jakarta_today().strftime("%Y-%m")


class LapseEdgesTest(harness.LindungTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.stack.migrate()
        self.stack.import_programs()
        self.nik_base = 1612010101800001

    def sql(self, q: str) -> list[tuple]:
        return self.stack.cluster.psql(q)

    def enrol(self, program: str, village: str, n: int, start: str,
              end: str | None = "open") -> list[tuple[int, str]]:
        end_sql = "NULL" if end == "open" else ("p.coverage_end" if end is None
                                               else f"'{end}-01'")
        rows = self.sql(ENROL_SQL.format(program=program, village=village, n=n,
                                         nik_base=self.nik_base, start=start, end=end_sql))
        self.nik_base += n
        return [(int(i), nik) for i, nik in rows]

    def run_month(self, month: str) -> None:
        doc = json.loads(self.stack.lindungctl("billing", "run", month).stdout)
        self.assertTrue(doc["ok"], doc)

    def net(self, enrolment: int, month: str) -> int:
        return int(self.sql(
            f"SELECT coalesce((SELECT amount FROM accruals WHERE enrolment_id = {enrolment} "
            f"AND period = '{month}-01'), 0) + coalesce((SELECT sum(amount) FROM "
            f"line_adjustments WHERE enrolment_id = {enrolment} "
            f"AND period = '{month}-01'), 0)")[0][0])

    def status(self, enrolment: int) -> tuple[str, str, str]:
        return self.sql(
            f"SELECT status, coalesce(end_reason, ''), coalesce(to_char(end_month, "
            f"'YYYY-MM'), '') FROM enrolments WHERE id = {enrolment}")[0]

    def bill_from(self, first: str) -> None:
        """billing started: its catch-up bills every month from `first` to M."""
        s = self.stack
        s.env["LINDUNG_BILLING_CATCHUP_MONTHS"] = str(
            (int(M[:4]) - int(first[:4])) * 12 + int(M[5:]) - int(first[5:]) + 1)
        s.start_daemons("billing")
        harness.wait_until(lambda: "billing.caught_up" in s.billing.log_text(), timeout=120)

    def rewind_to_m(self) -> None:
        """Billing stopped, and the database as on the 1st of M: M and later
        never billed (advance runs stay), each earlier invoice issued on its
        1st and due on the 15th. Tests may do what lindung never does:
        triggers are off for this session."""
        self.stack.billing.stop()
        part = M.replace("-", "_")
        self.sql("SET session_replication_role = replica; "
                 f"DROP TABLE IF EXISTS accruals_{part}; "
                 f"DELETE FROM line_adjustments WHERE period = '{M}-01'; "
                 f"DELETE FROM invoices WHERE period = '{M}-01'; "
                 f"DELETE FROM billing_runs WHERE period = '{M}-01'; "
                 "UPDATE invoices SET created_at = period + interval '1 hour', "
                 f"  due_date = period + 14 WHERE kind = 'invoice' AND period < '{M}-01'")

    def run_m_again(self, catch_up_from: str | None = None) -> None:
        """billing restarted; its catch-up bills M (with the lapse check),
        from `catch_up_from` when earlier months are to be run again too."""
        s = self.stack
        first = catch_up_from or M
        s.env["LINDUNG_BILLING_CATCHUP_MONTHS"] = str(
            (int(M[:4]) - int(first[:4])) * 12 + int(M[5:]) - int(first[5:]) + 1)
        n = s.billing.log_text().count("billing.caught_up")
        s.billing.start()
        harness.wait_until(lambda: s.billing.log_text().count("billing.caught_up") > n,
                           timeout=120, message="catch-up")

    def transfer(self, nik: str, village: str, first_day: str) -> int:
        """enrolment_transfer (014) as lindungctl runs it: the move takes effect
        with first_day's month; the new enrolment's id."""
        r = self.sql(f"SELECT result, new_enrolment_id FROM enrolment_transfer('{nik}', NULL, "
                     f"'{village}', '{first_day}', 'test')")
        self.assertEqual(r[0][0], "ok", r)
        return int(r[0][1])

    def pay(self, month: str, payer: str, amount: int, except_ids: list[int]) -> None:
        inv = self.sql(f"SELECT id FROM invoices WHERE period = '{month}-01' "
                       f"AND payer_code = '{payer}' AND kind = 'invoice'")[0][0]
        arr = "ARRAY[" + ",".join(map(str, except_ids)) + "]::bigint[]"
        self.assertEqual(self.sql(
            f"SELECT result FROM billing_record_payment({inv}, {amount}, '{month}-10', "
            f"'TRX-{month}-{payer}', 'test', NULL, {arr})"), [("ok",)])

    # -- tests
    def test_an_increase_billed_late_lapses_nobody(self) -> None:
        """A and B are billed on time for M-3..M-1; the village pays B each
        month and disputes A. The programme's insured income is then raised:
        +Rp 10,000 a person-month on supplementary invoices issued now, not
        due yet. A lapses; B, who paid every line issued on time, does not."""
        s = self.stack
        first = month_add(M, -3)
        (a, _), (b, _) = self.enrol("PALI-TEST-ADD", VILLAGE_A, 2, start=first)
        self.bill_from(first)
        self.rewind_to_m()
        for k in (-3, -2, -1):
            self.pay(month_add(M, k), VILLAGE_A, FULL, [a])
        prog = json.loads((harness.SOURCE_DIR / "tests/integration/programs_test.json").read_text())
        prog["programs"][0]["insured_income"] = 2000000
        (s.dir / "raised.json").write_text(json.dumps(prog))
        s.lindungctl("program", "import", str(s.dir / "raised.json"))
        self.run_m_again(catch_up_from=first)
        # the increase: JKK 1% of 2,000,000 = 20,000 instead of 10,000
        self.assertEqual(self.sql(
            f"SELECT count(*), sum(amount) FROM line_adjustments WHERE enrolment_id = {b} "
            f"AND reason = 'rerate'"), [("3", "30000")])
        self.assertEqual(self.status(a), ("ended", "lapsed", month_add(M, -1)))
        self.assertEqual(self.status(b), ("active", "", ""))
        self.assertEqual(self.net(b, M), FULL + 10000)
        self.assertEqual(self.net(a, M), 0)

    def test_a_line_billed_in_advance_protects_nobody(self) -> None:
        """P (open-ended) and R (ending with M) are billed M-3..M and left
        unpaid; M+1 is billed in advance, which gives P a line there. At M's
        run both lapse with M-1: P's advance line does not keep them."""
        first = month_add(M, -3)
        (p, _), = self.enrol("PALI-TEST-ADD", VILLAGE_A, 1, start=first)
        (r, _), = self.enrol("PALI-TEST-ADD", VILLAGE_B, 1, start=first, end=M)
        self.bill_from(first)
        self.run_month(month_add(M, 1))
        self.assertEqual(self.net(p, month_add(M, 1)), FULL)
        self.rewind_to_m()
        self.run_m_again()
        self.assertEqual(self.status(r), ("ended", "lapsed", month_add(M, -1)))
        self.assertEqual(self.status(p), ("ended", "lapsed", month_add(M, -1)))
        self.assertEqual(self.net(p, M), 0)
        # the advance line is credited by the month's next run
        self.run_month(month_add(M, 1))
        self.assertEqual(self.net(p, month_add(M, 1)), 0)

    def test_a_lapse_cancels_the_renewal_already_accepted(self) -> None:
        """P in OLD (ending with M+1) is renewed into NEW (from M+2) by
        verify; then P lapses at M's run (M-3..M-1 unpaid). The renewal is
        cancelled (lapsed, covering nothing) and never billed."""
        s = self.stack
        old = {"code": "OLD-ADD", "name": "old year", "regency_code": "16.12",
               "funding_source": "ADD", "coverage_start": month_add(M, -6),
               "coverage_end": month_add(M, 1), "occupations": ["informal"]}
        new = {"code": "NEW-ADD", "name": "next year", "regency_code": "16.12",
               "funding_source": "ADD", "coverage_start": month_add(M, 2),
               "coverage_end": month_add(M, 13), "occupations": ["informal"],
               "renews": "OLD-ADD"}
        (s.dir / "old.json").write_text(json.dumps({"programs": [old]}))
        s.lindungctl("program", "import", str(s.dir / "old.json"))
        first = month_add(M, -3)
        (p, nik), = self.enrol("OLD-ADD", VILLAGE_A, 1, start=first, end=None)
        self.bill_from(first)
        s.start_daemons("verify")
        (s.dir / "new.json").write_text(json.dumps({"programs": [new]}))
        s.lindungctl("program", "import", str(s.dir / "new.json"))
        harness.wait_until(lambda: self.sql(
            f"SELECT count(*) FROM enrolments WHERE nik = '{nik}'")[0][0] == "2", timeout=60)
        renewal = int(self.sql(f"SELECT max(id) FROM enrolments WHERE nik = '{nik}'")[0][0])
        self.rewind_to_m()
        self.run_m_again()
        self.assertEqual(self.status(p), ("ended", "lapsed", month_add(M, -1)))
        self.assertEqual(self.status(renewal), ("ended", "lapsed", month_add(M, 1)))
        self.run_month(month_add(M, 2))
        self.assertEqual(self.net(renewal, month_add(M, 2)), 0)
        # one cover per person per month still holds, and nothing covers M onwards
        self.assertEqual(self.sql(
            f"SELECT count(*) FROM enrolments WHERE nik = '{nik}' "
            f"AND coalesce(end_month, '9999-12-01') >= '{M}-01' "
            f"AND coalesce(end_month, '9999-12-01') >= start_month"), [("0",)])


    def test_a_transfer_with_the_same_payer_keeps_the_count(self) -> None:
        """P and Q in the regency-paid DBH sawit programme, billed from M-4 and
        never paid. P moves village after M-3 (a transfer: same programme,
        same payer). At M's run both lapse with M-1: P's three unpaid months
        are one on the old enrolment and two on the continuation."""
        first = month_add(M, -4)
        (p, nik), (q, _) = self.enrol(SAWIT, MURA_1, 2, start=first)
        p2 = self.transfer(nik, MURA_2, f"{month_add(M, -3)}-01")
        self.bill_from(first)
        self.rewind_to_m()
        self.run_m_again()
        self.assertEqual(self.status(q), ("ended", "lapsed", month_add(M, -1)))
        self.assertEqual(self.status(p2), ("ended", "lapsed", month_add(M, -1)))
        self.assertEqual(self.status(p)[:2], ("ended", "moved"))
        self.assertEqual((self.net(p2, M), self.net(q, M)), (0, 0))

    def test_a_renewal_with_the_same_payer_keeps_the_count(self) -> None:
        """P in OLD (ending with M-1) is renewed into NEW (from M) by verify;
        P's lines of M-3..M-1, all in OLD, are unpaid. At M's run OLD ends
        and the renewal lapses before it is billed: nothing for M."""
        s = self.stack
        old = {"code": "OLD-ADD", "name": "old year", "regency_code": "16.12",
               "funding_source": "ADD", "coverage_start": month_add(M, -6),
               "coverage_end": month_add(M, -1), "occupations": ["informal"]}
        new = {"code": "NEW-ADD", "name": "next year", "regency_code": "16.12",
               "funding_source": "ADD", "coverage_start": M,
               "coverage_end": month_add(M, 11), "occupations": ["informal"],
               "renews": "OLD-ADD"}
        (s.dir / "old.json").write_text(json.dumps({"programs": [old]}))
        s.lindungctl("program", "import", str(s.dir / "old.json"))
        first = month_add(M, -3)
        (p, nik), = self.enrol("OLD-ADD", VILLAGE_A, 1, start=first, end=None)
        self.bill_from(first)
        s.start_daemons("verify")
        (s.dir / "new.json").write_text(json.dumps({"programs": [new]}))
        s.lindungctl("program", "import", str(s.dir / "new.json"))
        harness.wait_until(lambda: self.sql(
            f"SELECT count(*) FROM enrolments WHERE nik = '{nik}'")[0][0] == "2", timeout=60)
        renewal = int(self.sql(f"SELECT max(id) FROM enrolments WHERE nik = '{nik}'")[0][0])
        self.rewind_to_m()
        self.run_m_again()
        self.assertEqual(self.status(p), ("ended", "program_ended", month_add(M, -1)))
        self.assertEqual(self.status(renewal), ("ended", "lapsed", month_add(M, -1)))
        self.assertEqual(self.net(renewal, M), 0)

    def test_a_lapse_leaves_another_payers_enrolment_alone(self) -> None:
        """P lapses in village A (M-3..M-1 unpaid); the same person is enrolled
        by a company's CSR programme in Musi Rawas from M+1. That enrolment,
        another budget's, stays active."""
        first = month_add(M, -3)
        (p, nik), = self.enrol("PALI-TEST-ADD", VILLAGE_A, 1, start=first, end=M)
        self.nik_base -= 1  # the same NIK again
        rows = self.sql(ENROL_SQL.replace("FROM a RETURNING nik)",
                                          "FROM a ON CONFLICT DO NOTHING RETURNING nik)")
                        .format(program="MURA-2026-CSR", village="16.05.01.2002", n=1,
                                nik_base=self.nik_base, start=month_add(M, 1), end="NULL"))
        q = int(rows[0][0])
        self.bill_from(first)
        self.rewind_to_m()
        self.run_m_again()
        self.assertEqual(self.status(p), ("ended", "lapsed", month_add(M, -1)))
        self.assertEqual(self.status(q), ("active", "", ""))

    def test_two_moves_in_three_months_keep_the_count(self) -> None:
        """P moves twice within M-3..M-1 (DBH sawit, one payer): its three unpaid
        months are on three enrolments, and it lapses as Q, who never moved."""
        first = month_add(M, -4)
        (p, nik), (q, _) = self.enrol(SAWIT, MURA_1, 2, start=first)
        p2 = self.transfer(nik, MURA_2, f"{month_add(M, -3)}-01")
        p3 = self.transfer(nik, MURA_1, f"{month_add(M, -2)}-01")
        self.bill_from(first)
        self.rewind_to_m()
        self.run_m_again()
        self.assertEqual(self.status(q), ("ended", "lapsed", month_add(M, -1)))
        self.assertEqual(self.status(p3), ("ended", "lapsed", month_add(M, -1)))
        self.assertEqual(self.net(p3, M), 0)

    def test_a_catch_up_never_bills_a_fourth_unpaid_month_at_a_programme_end(self) -> None:
        """Billing down from the 1st of M-1; its catch-up runs M-1 and M. P, in a
        programme ending with M-1, lapses with Q before the programme end is
        recorded: neither is billed for M-1."""
        s = self.stack
        m1 = month_add(M, -1)
        old = {"code": "OLD-ADD", "name": "old year", "regency_code": "16.12",
               "funding_source": "ADD", "coverage_start": month_add(M, -6),
               "coverage_end": m1, "occupations": ["informal"]}
        (s.dir / "old.json").write_text(json.dumps({"programs": [old]}))
        s.lindungctl("program", "import", str(s.dir / "old.json"))
        first = month_add(M, -4)
        (p, _), = self.enrol("OLD-ADD", VILLAGE_A, 1, start=first, end=None)
        (q, _), = self.enrol("PALI-TEST-ADD", VILLAGE_A, 1, start=first)
        self.bill_from(first)
        s.billing.stop()
        # as on the 1st of M-1: M-1 and M never billed, OLD not yet ended
        self.sql("SET session_replication_role = replica; "
                 f"DROP TABLE IF EXISTS accruals_{M.replace('-', '_')}; "
                 f"DROP TABLE IF EXISTS accruals_{m1.replace('-', '_')}; "
                 f"DELETE FROM line_adjustments WHERE period >= '{m1}-01'; "
                 f"DELETE FROM invoices WHERE period >= '{m1}-01'; "
                 f"DELETE FROM billing_runs WHERE period >= '{m1}-01'; "
                 f"UPDATE enrolments SET status = 'active', end_reason = NULL, ended_at = NULL "
                 f"  WHERE id = {p}; "
                 "UPDATE invoices SET created_at = period + interval '1 hour', "
                 f"  due_date = period + 14 WHERE kind = 'invoice' AND period < '{m1}-01'")
        self.run_m_again(catch_up_from=m1)
        self.assertEqual(self.status(q), ("ended", "lapsed", month_add(M, -2)))
        self.assertEqual(self.net(q, m1), 0)
        self.assertEqual(self.net(p, m1), 0)

    def test_a_renewal_after_a_gap_is_cancelled_with_the_lapse(self) -> None:
        """OLD ends with M-1, NEW renews it from M+1 (a month's gap). P lapses
        at M's run, before OLD's end is recorded, and the renewal goes with it."""
        s = self.stack
        old = {"code": "OLD-ADD", "name": "old year", "regency_code": "16.12",
               "funding_source": "ADD", "coverage_start": month_add(M, -6),
               "coverage_end": month_add(M, -1), "occupations": ["informal"]}
        new = {"code": "NEW-ADD", "name": "next year", "regency_code": "16.12",
               "funding_source": "ADD", "coverage_start": month_add(M, 1),
               "coverage_end": month_add(M, 12), "occupations": ["informal"],
               "renews": "OLD-ADD"}
        (s.dir / "old.json").write_text(json.dumps({"programs": [old]}))
        s.lindungctl("program", "import", str(s.dir / "old.json"))
        first = month_add(M, -3)
        (p, nik), = self.enrol("OLD-ADD", VILLAGE_A, 1, start=first, end=None)
        self.bill_from(first)
        s.start_daemons("verify")
        (s.dir / "new.json").write_text(json.dumps({"programs": [new]}))
        s.lindungctl("program", "import", str(s.dir / "new.json"))
        harness.wait_until(lambda: self.sql(
            f"SELECT count(*) FROM enrolments WHERE nik = '{nik}'")[0][0] == "2", timeout=60)
        renewal = int(self.sql(f"SELECT max(id) FROM enrolments WHERE nik = '{nik}'")[0][0])
        self.rewind_to_m()
        # as on the 1st of M: OLD not yet ended by the programme-end step
        self.sql(f"UPDATE enrolments SET status = 'active', end_reason = NULL, ended_at = NULL "
                 f"WHERE id = {p}")
        self.run_m_again()
        self.run_month(month_add(M, 1))
        self.assertEqual(self.status(renewal)[:2], ("ended", "lapsed"))
        self.assertEqual(self.net(renewal, month_add(M, 1)), 0)

    def test_a_move_recorded_for_this_month_does_not_stop_the_lapse(self) -> None:
        """P's move takes effect with M (recorded before M's run: the old
        enrolment ends with M, the continuation starts M+1, the same payer).
        P's M-3..M-1 are unpaid: P lapses with M-1 as Q does, M is not
        billed, and the continuation is cancelled."""
        first = month_add(M, -3)
        (p, nik), (q, _) = self.enrol(SAWIT, MURA_1, 2, start=first)
        p2 = self.transfer(nik, MURA_2, f"{M}-01")
        self.bill_from(first)
        self.rewind_to_m()
        self.run_m_again()
        self.assertEqual(self.status(q), ("ended", "lapsed", month_add(M, -1)))
        self.assertEqual(self.status(p), ("ended", "lapsed", month_add(M, -1)))
        self.assertEqual(self.net(p, M), 0)
        self.assertEqual(self.status(p2)[:2], ("ended", "lapsed"))

    def test_a_lapse_cancels_a_continuation_with_its_own_move_recorded(self) -> None:
        """Moves recorded before M's run, for M (P to P2 from M+1) and for M+1
        (P2 to P3 from M+2), one payer; P's M-3..M-1 unpaid. P lapses with
        M-1, and neither P2 nor P3 covers or is billed anything (fourth review)."""
        first = month_add(M, -3)
        (p, nik), (q, _) = self.enrol(SAWIT, MURA_1, 2, start=first)
        p2 = self.transfer(nik, MURA_2, f"{M}-01")
        self.transfer(nik, MURA_1, f"{month_add(M, 1)}-01")
        self.bill_from(first)
        self.rewind_to_m()
        self.run_m_again()
        self.run_month(month_add(M, 1))
        self.assertEqual(self.status(p), ("ended", "lapsed", month_add(M, -1)))
        self.assertEqual(self.net(p2, month_add(M, 1)), 0)
        self.assertEqual(self.sql(
            f"SELECT count(*) FROM enrolments WHERE nik = '{nik}' "
            f"AND coalesce(end_month, '9999-12-01') >= '{M}-01' "
            f"AND coalesce(end_month, '9999-12-01') >= start_month"), [("0",)])

if __name__ == "__main__":
    unittest.main(verbosity=2)
