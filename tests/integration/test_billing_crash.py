"""Crash proof (issue 5, item 7): SIGKILL lindung-billing in the middle of a
large run, restart it, run again; every (enrolment, month) is accrued exactly
once and every invoice total equals the sum of its lines.

200,000 enrolments are made with SQL straight into the tables (billing only
reads enrolments). They start in 2027-01, a month the start-up catch-up does
not reach (it stops at the current month), so the killed run is the only run
in flight. "Mid-run" is observed, not guessed: the test waits until
pg_stat_activity shows the accrual's INSERT INTO accruals executing (the
sessions writing the month's parts, migration 011). The restarted billing
loads in three parts instead of two, so the killed run's parts, whatever it
left of them, are replaced rather than reused. A part left over from a run
that never finished (made by hand here) is dropped by the month's load, and a
part of a loaded month cannot be loaded again. A load given 1 MB of index
memory in all makes each part's index sort spill to disk (migration 012).
Run directly:
  LINDUNG_BUILD_DIR=build-billing LINDUNG_SOURCE_DIR=. python3 tests/integration/test_billing_crash.py
"""

from __future__ import annotations

import json
import signal
import subprocess
import unittest

import harness

N = 200_000
MONTH = "2027-01"

GENERATE = f"""
WITH s AS (INSERT INTO submissions (id, program_id, village_code, applicant_count)
           SELECT gen_random_uuid(), p.id, '16.12.01.2001', {N} FROM programs p
           WHERE p.code = 'PALI-TEST-ADD' RETURNING id, program_id),
     v AS (SELECT array_agg(code ORDER BY code) AS codes FROM regions
           WHERE regency_code = '16.12' AND level = 'village' AND village_kind <> 'kelurahan'),
     a AS (INSERT INTO applicants (submission_id, idx, nik, name, birth_date, sex, occupation,
                                   decision)
           SELECT s.id, g, (1612010101000001 + g)::text, 'Peserta', '1980-01-01', 'M',
                  'PETANI/PEKEBUN', 'accepted' FROM s, generate_series(0, {N} - 1) g
           RETURNING id, idx, nik),
     pa AS (INSERT INTO participants (nik, name, birth_date, sex)
            SELECT nik, 'Peserta', '1980-01-01', 'M' FROM a)
INSERT INTO enrolments (nik, program_id, village_code, applicant_id, funding_source,
                        payer_code, transport, start_month)
SELECT a.nik, s.program_id, v.codes[1 + a.idx % cardinality(v.codes)], a.id, 'ADD',
       v.codes[1 + a.idx % cardinality(v.codes)], a.idx % 7 = 0, '{MONTH}-01'
FROM a, s, v
"""

PARTS_LEFT = ("SELECT count(*) FROM pg_class c WHERE c.relkind = 'r' "
              "AND c.relname ~ '^accruals_[0-9]{4}_[0-9]{2}_p[0-9]+$' "
              "AND NOT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid)")

CORRECTING = ("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
              "AND query LIKE '%reconcile_diff%' AND pid <> pg_backend_pid()")

# one more person in the first village, enrolled after the month was billed
LATE = f"""
WITH s AS (INSERT INTO submissions (id, program_id, village_code, applicant_count)
           SELECT gen_random_uuid(), p.id, '16.12.01.2001', 1 FROM programs p
           WHERE p.code = 'PALI-TEST-ADD' RETURNING id, program_id),
     a AS (INSERT INTO applicants (submission_id, idx, nik, name, birth_date, sex, occupation,
                                   decision)
           SELECT s.id, 0, '1612010101900001', 'Peserta', '1980-01-01', 'M',
                  'PETANI/PEKEBUN', 'accepted' FROM s RETURNING id, nik),
     pa AS (INSERT INTO participants (nik, name, birth_date, sex)
            SELECT nik, 'Peserta', '1980-01-01', 'M' FROM a)
INSERT INTO enrolments (nik, program_id, village_code, applicant_id, funding_source,
                        payer_code, start_month)
SELECT a.nik, s.program_id, '16.12.01.2001', a.id, 'ADD', '16.12.01.2001', '{MONTH}-01'
FROM a, s
"""

TEMP_FILES = "SELECT temp_files FROM pg_stat_database WHERE datname = current_database()"

ACCRUING = ("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
            "AND query LIKE '%INSERT INTO accruals%' AND pid <> pg_backend_pid()")


class BillingCrash(harness.LindungTestCase):

    def test_sigkill_mid_run_then_rerun(self) -> None:
        s = self.stack
        s.migrate()
        s.import_programs()
        s.cluster.psql(GENERATE, timeout=300)  # 200,000 people: slow on a busy machine
        s.cluster.psql("ANALYZE enrolments")
        s.start_daemons("billing")
        harness.wait_until(lambda: "billing.caught_up" in s.billing.log_text(), timeout=120,
                           message="start-up catch-up")

        # -- start the run over the control socket, kill billing mid-INSERT
        ctl = subprocess.Popen([str(harness.BINARIES["lindungctl"]), "billing", "run", MONTH],
                               env=s.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               stdin=subprocess.DEVNULL)
        try:
            harness.wait_until(lambda: s.cluster.scalar(ACCRUING) != "0", timeout=60,
                               interval=0.02, message="the accrual INSERT to be running")
            self.assertEqual(s.billing.kill(signal.SIGKILL), -signal.SIGKILL)
        finally:
            ctl.kill()
            ctl.wait()
        # the orphaned backends stop once they notice their client is gone
        harness.wait_until(lambda: s.cluster.scalar(ACCRUING) == "0", timeout=120,
                           message="the killed run's statement to end")
        self.assertEqual(s.cluster.scalar(
            f"SELECT count(*) FROM accruals WHERE period = '{MONTH}-01'"), "0",
            "a killed run must leave nothing behind")

        # -- restart and run again, twice
        s.env["LINDUNG_BILLING_LOAD_PARTS"] = "3"
        s.billing.start()
        first = json.loads(s.lindungctl("billing", "run", MONTH, timeout=600).stdout)
        self.assertTrue(first["ok"], first)
        self.assertEqual(first["lines_added"], N, first)
        second = json.loads(s.lindungctl("billing", "run", MONTH, timeout=600).stdout)
        self.assertEqual(second["lines_added"], 0, second)

        # -- each (enrolment, month) exactly once; invoices equal their lines
        self.assertEqual(s.cluster.psql(
            f"SELECT count(*), count(DISTINCT enrolment_id) FROM accruals "
            f"WHERE period = '{MONTH}-01'"), [(str(N), str(N))])
        self.assertEqual(s.cluster.psql(
            f"SELECT count(*) FROM enrolments e WHERE NOT EXISTS (SELECT 1 FROM accruals a "
            f"WHERE a.enrolment_id = e.id AND a.period = '{MONTH}-01')"), [("0",)])
        self.assertEqual(s.cluster.psql(
            "SELECT i.id FROM invoices i LEFT JOIN accruals a ON a.invoice_id = i.id "
            "GROUP BY i.id HAVING i.total <> coalesce(sum(a.amount), 0) "
            "OR i.line_count <> count(a.enrolment_id)"), [])
        # no relief: an ADD programme without a recorded basis (PP 50/2025 Pasal 3)
        self.assertEqual(s.cluster.psql(
            f"SELECT sum(amount) FROM accruals WHERE period = '{MONTH}-01'"),
            [(str(16800 * N),)])
        self.assertEqual(s.cluster.scalar(
            f"SELECT count(*) FROM billing_runs WHERE period = '{MONTH}-01' "
            "AND finished_at IS NULL"), "0")
        self.assertEqual(s.cluster.scalar(PARTS_LEFT), "0", "no part left unattached")

        # -- a relief entered after the month was billed: every line is re-rated
        # on credit notes; billing is killed while it writes them
        s.cluster.psql("INSERT INTO premium_adjustments (name, first_month, last_month, off_bp, "
                       "applies_jkk, applies_jkm) VALUES ('late', '2027-01-01', '2027-01-01', "
                       "5000, true, true); UPDATE programs SET relief_applies = true, "
                       "relief_basis = 'test' WHERE code = 'PALI-TEST-ADD'")
        ctl = subprocess.Popen([str(harness.BINARIES["lindungctl"]), "billing", "run", MONTH],
                               env=s.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               stdin=subprocess.DEVNULL)
        try:
            harness.wait_until(lambda: s.cluster.scalar(CORRECTING) != "0", timeout=60,
                               interval=0.01, message="the corrections to be written")
            self.assertEqual(s.billing.kill(signal.SIGKILL), -signal.SIGKILL)
        finally:
            ctl.kill()
            ctl.wait()
        harness.wait_until(lambda: s.cluster.scalar(CORRECTING) == "0", timeout=120,
                           message="the killed run's statement to end")
        self.assertEqual(s.cluster.scalar("SELECT count(*) FROM line_adjustments"), "0")
        s.billing.start()
        # and a late enrolment of the same month, for a supplementary invoice
        s.cluster.psql(LATE)
        for _ in range(2):
            doc = json.loads(s.lindungctl("billing", "run", MONTH, timeout=600).stdout)
            self.assertTrue(doc["ok"], doc)
        self.assertEqual(s.cluster.psql(
            f"SELECT count(*), sum(amount) FROM line_adjustments WHERE period = '{MONTH}-01'"),
            [(str(N), str(-8400 * N))])
        villages = int(s.cluster.scalar("SELECT count(DISTINCT payer_code) FROM enrolments"))
        self.assertEqual(s.cluster.psql(
            f"SELECT kind, count(*), sum(total) FROM invoices WHERE period = '{MONTH}-01' "
            "GROUP BY kind ORDER BY kind"),
            [("credit_note", str(villages), str(-8400 * N)),
             ("invoice", str(villages), str(16800 * N)),
             ("supplementary", "1", "8400")])
        self.assertEqual(s.cluster.psql(
            "SELECT i.id FROM invoices i "
            "LEFT JOIN (SELECT invoice_id, sum(amount) s, count(*) n FROM accruals GROUP BY 1) a "
            "  ON a.invoice_id = i.id "
            "LEFT JOIN (SELECT invoice_id, sum(amount) s, count(*) n FROM line_adjustments "
            "           GROUP BY 1) l ON l.invoice_id = i.id "
            "WHERE i.total <> coalesce(a.s, 0) + coalesce(l.s, 0) "
            "   OR i.line_count <> coalesce(a.n, 0) + coalesce(l.n, 0)"), [])

        # -- stale parts of a month never loaded are replaced, or dropped, by its load;
        # it is loaded with 1 MB of index memory shared by 3 parts, which the parts'
        # index sorts (about 4 MB each) must overflow: proof that the share reaches
        # them (012; with 011's 256 MB per part they wrote no temporary file)
        s.cluster.psql("CREATE TABLE accruals_2027_02_p1 AS SELECT 1 AS stale")
        s.cluster.psql("CREATE TABLE accruals_2027_02_p7 AS SELECT 1 AS stale")  # > parts
        s.env["LINDUNG_BILLING_LOAD_MEMORY_MB"] = "1"
        s.billing.restart()
        temp_files_before = int(s.cluster.scalar(TEMP_FILES))
        later = json.loads(s.lindungctl("billing", "run", "2027-02", timeout=600).stdout)
        self.assertTrue(later["ok"], later)
        self.assertEqual(later["lines_added"], N + 1, later)  # with the late enrolment
        harness.wait_until(lambda: int(s.cluster.scalar(TEMP_FILES)) >= temp_files_before + 3,
                           timeout=30, message="each part's index sort to spill to disk")
        self.assertEqual(s.cluster.scalar(PARTS_LEFT), "0", "the stale parts are gone")
        self.assertEqual(s.cluster.scalar(
            "SELECT count(*) FROM accruals WHERE period = '2027-02-01'"), str(N + 1))

        # -- an attached part is never loaded again
        with self.assertRaises(Exception) as refused:
            s.cluster.psql("SELECT * FROM accrual_part_load('2027-01-01', 0, NULL, NULL, 0, "
                           "false, '{}', '{}', '{}', '{}')")
        self.assertIn("already attached", str(refused.exception))
        self.assertEqual(s.cluster.scalar(
            f"SELECT count(*) FROM accruals WHERE period = '{MONTH}-01'"), str(N + 1))


if __name__ == "__main__":
    unittest.main(verbosity=2)
