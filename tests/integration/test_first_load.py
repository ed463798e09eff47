"""A month's first run writes its lines in part sessions beside its lapse
check (043, services/billing/accrual.c), against a real PostgreSQL and
lindung-billing. April 2026 is made a first load again (as test_billing's
test_lapse_after_three_unpaid_months does): `gone` (village PALI_VILLAGE)
has three unpaid months and lapses in April; `kept` and `leaver`
(PALI_VILLAGE_2) paid. A psql session holds a row lock on `gone`, so April's
lapse check waits on its UPDATE while the parts write; then:

  - another session ends `leaver` and commits while the check waits: the
    parts' snapshot, taken before the check, still has `leaver` active, and
    the run must not bill April for them (a review: it did, and a credit
    note followed);
  - lindung-billing is killed (SIGKILL) while the parts write: nothing of
    April is left committed, and the restarted daemon bills April right;
  - the lapse statement is cancelled while the parts write: the parts are
    rolled back, none is left committed, and the retry bills April right.
    Before the retry, no month after April is billed for the first time
    (a review: May to December were, so the retried April found `gone`'s
    later lines and ended nobody: eight more unpaid months billed).
"""

from __future__ import annotations

import signal
import subprocess
import time
import unittest

import harness
import test_billing
from test_billing import PALI_VILLAGE, PALI_VILLAGE_2

PARTS_LEFT = ("SELECT count(*) FROM pg_class c WHERE c.relkind = 'r' "
              "AND c.relname ~ '^accruals_[0-9]{4}_[0-9]{2}_p[0-9]+$' "
              "AND NOT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid)")
LAPSE = ("FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
         "AND query LIKE 'WITH docs AS MATERIALIZED%' AND pid <> pg_backend_pid()")
PARTS = ("FROM pg_stat_activity WHERE query LIKE '%accrual_part_load%' "
         "AND pid <> pg_backend_pid()")


class FirstLoadTest(test_billing.BillingTest):

    def april_again(self, fail_april: bool = False) -> None:
        """Billed through today, then rewound to 1 April 2026 with the lapse
        check of April's first run waiting for a row lock on `gone` (or,
        with fail_april, every run of April failing at once)."""
        s = self.stack
        [self.gone] = self.enrol("PALI-2026-ADD", PALI_VILLAGE, 1, start="2026-01")
        [self.kept] = self.enrol("PALI-2026-ADD", PALI_VILLAGE_2, 1, start="2026-01")
        [self.leaver] = self.enrol("PALI-2026-ADD", PALI_VILLAGE_2, 1, start="2026-01")
        s.start_daemons("billing")
        self.wait_idle()
        s.billing.stop()
        self.rewind_to_april_2026()
        for inv, total in self.sql(f"SELECT id, total FROM invoices WHERE payer_code = "
                                   f"'{PALI_VILLAGE_2}' AND total > 0"):
            s.lindungctl("billing", "pay", inv, total, "--date", "2026-03-10")
        self.ups = s.billing.log_text().count("billing.caught_up")
        if fail_april:
            self.sql("CREATE FUNCTION test_fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                     "IF NEW.period = '2026-04-01' THEN RAISE EXCEPTION 'test: fails'; "
                     "END IF; RETURN NEW; END $$; CREATE TRIGGER test_fail BEFORE INSERT ON "
                     "billing_runs FOR EACH ROW EXECUTE FUNCTION test_fail()")
            s.billing.start()
            return
        self.holder = subprocess.Popen(
            [str(harness.PG_BIN / "psql"), "-X", "-q", "-o", "/dev/null", "-v", "ON_ERROR_STOP=1",
             "-d", s.cluster.conninfo_as("lindung")], stdin=subprocess.PIPE, text=True)
        self.holder.stdin.write(f"BEGIN;\nSELECT 1 FROM enrolments WHERE id = {self.gone} "
                                "FOR UPDATE;\n")
        self.holder.stdin.flush()
        harness.wait_until(lambda: self.sql(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction'")
            == [("1",)], timeout=10, message="the row lock")
        s.billing.start()
        harness.wait_until(lambda: self.sql("SELECT count(*) " + LAPSE) == [("1",)], timeout=60,
                           interval=0.05, message="April's lapse check waiting on the row lock")
        harness.wait_until(lambda: self.sql("SELECT count(*) " + PARTS) != [("0",)], timeout=10,
                           message="April's parts beside the lapse check")

    def release(self) -> None:
        self.holder.stdin.write("COMMIT;\n")
        self.holder.stdin.close()
        self.holder.wait(timeout=30)

    def caught_up(self) -> None:
        harness.wait_until(
            lambda: self.stack.billing.log_text().count("billing.caught_up") > self.ups,
            timeout=180, message="the catch-up after April's")

    def april_lines(self, enrolment: int) -> int:
        return int(self.sql(f"SELECT count(*) FROM accruals WHERE enrolment_id = {enrolment} "
                            "AND period >= '2026-04-01'")[0][0])

    def test_an_end_committed_beside_the_load_is_not_billed(self) -> None:
        self.april_again()
        self.sql(f"UPDATE enrolments SET status = 'ended', end_reason = 'left', "
                 f"ended_at = now(), end_month = '2026-03-01' WHERE id = {self.leaver}")
        time.sleep(1)
        self.release()
        self.caught_up()
        self.assertEqual(self.april_lines(self.leaver), 0)
        self.assertEqual(self.sql(f"SELECT count(*) FROM line_adjustments "
                                  f"WHERE enrolment_id = {self.leaver}"), [("0",)])
        self.assertEqual(self.april_lines(self.gone), 0)
        self.assertGreater(self.april_lines(self.kept), 0)
        self.assertEqual(self.sql(PARTS_LEFT), [("0",)])
        self.assert_invoices_consistent()

    def assert_april_right(self) -> None:
        self.assertEqual(self.sql(f"SELECT status, end_reason, end_month FROM enrolments "
                                  f"WHERE id = {self.gone}"), [("ended", "lapsed", "2026-03-01")])
        self.assertEqual(self.april_lines(self.gone), 0)
        self.assertEqual(self.sql(f"SELECT count(*) FROM invoices WHERE payer_code = "
                                  f"'{PALI_VILLAGE}' AND period >= '2026-04-01'"), [("0",)])
        self.assertGreater(self.april_lines(self.kept), 0)
        self.assertEqual(self.sql(PARTS_LEFT), [("0",)])
        self.assert_invoices_consistent()

    def test_a_kill_beside_the_load_leaves_nothing(self) -> None:
        s = self.stack
        self.april_again()
        self.assertEqual(s.billing.kill(signal.SIGKILL), -signal.SIGKILL)
        harness.wait_until(lambda: self.sql("SELECT count(*) " + PARTS) == [("0",)],
                           timeout=60, message="the killed run's part sessions to end")
        self.assertEqual(self.sql(PARTS_LEFT), [("0",)], "a part committed by a killed run")
        # a session waiting for a lock does not notice its client is gone
        self.release()
        harness.wait_until(lambda: self.sql("SELECT count(*) FROM pg_stat_activity WHERE "
                                            "backend_type = 'client backend' AND pid <> "
                                            "pg_backend_pid()") == [("0",)],
                           timeout=60, message="the killed run's session to end")
        self.assertEqual(self.sql(PARTS_LEFT), [("0",)], "a part committed by a killed run")
        self.assertEqual(self.sql("SELECT count(*) FROM billing_runs "
                                  "WHERE period >= '2026-04-01'"), [("0",)])
        s.billing.start()
        self.caught_up()
        self.assert_april_right()

    def test_a_lapse_check_that_fails_beside_the_load_leaves_nothing(self) -> None:
        s = self.stack
        self.april_again()
        pid = self.sql("SELECT pid " + LAPSE)[0][0]
        self.sql(f"SELECT pg_cancel_backend({pid})")
        harness.wait_until(lambda: self.sql("SELECT count(*) " + PARTS) == [("0",)],
                           timeout=60, message="the abandoned parts' sessions to end")
        harness.wait_until(lambda: "billing.failed" in s.billing.log_text(), timeout=10)
        self.assertEqual(self.sql(PARTS_LEFT), [("0",)], "a part of a failed run left committed")
        # nothing after the failed month billed for the first time
        self.assertEqual(self.sql("SELECT count(*) FROM billing_runs "
                                  "WHERE period > '2026-04-01'"), [("0",)])
        self.release()
        self.caught_up()
        self.assert_april_right()

    def test_a_manual_run_past_a_month_not_billed_is_refused(self) -> None:
        """April's first run keeps failing; an operator asks for November,
        never billed either. Billed first, its line would have kept `gone`
        from lapsing once April ran (a review): it is refused, unforced,
        with the month to bill first."""
        s = self.stack
        self.april_again(fail_april=True)
        harness.wait_until(lambda: "billing.failed" in s.billing.log_text(), timeout=30)
        r = s.lindungctl("billing", "run", "2026-11", check=False)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn('"error":"EARLIER_MONTH_NOT_BILLED"', r.stdout.replace(" ", ""))
        self.assertIn('"unbilled":"2026-04"', r.stdout.replace(" ", ""))
        self.assertEqual(self.sql("SELECT count(*) FROM billing_runs "
                                  "WHERE period > '2026-04-01'"), [("0",)])
        self.sql("DROP TRIGGER test_fail ON billing_runs")
        self.caught_up()
        self.assertEqual(self.sql(f"SELECT status, end_reason, end_month FROM enrolments "
                                  f"WHERE id = {self.gone}"), [("ended", "lapsed", "2026-03-01")])
        self.assertEqual(self.april_lines(self.gone), 0)
        self.assert_invoices_consistent()


# BillingTest's own tests are test_billing's to run, not this file's
for _name in dir(test_billing.BillingTest):
    if _name.startswith("test_") and _name not in vars(FirstLoadTest):
        setattr(FirstLoadTest, _name, None)

if __name__ == "__main__":
    unittest.main()
