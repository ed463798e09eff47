"""Failover proof (issue 16): lindung on a Patroni cluster (scripts/ha-cluster,
synchronous replication) under a steady load of keyed submissions, while the
primary's postmaster is SIGKILLed, and then through a planned switchover.

The daemons are given the multi-host LINDUNG_DB
(`host=...,... port=...,... target_session_attrs=read-write`) and nothing
else: no restart, no operator. It proves that

- a new primary serves writes within a time the test measures and prints;
- the daemons follow it: their /readyz names the new primary's port;
- clients saw only 202, 503 and connection errors, never a 500, and every
  submission answered 202 (before or after, its retries included) is stored
  exactly once per Idempotency-Key, whole, and decided;
- no NIK is enrolled twice and no person-month billed twice;
- a billing run started just before the kill completes exactly once after
  the failover: every active enrolment has its month's line once, and every
  (month, funding source, payer) one invoice;
- the same after `patronictl switchover`.

Labelled `ha` (CTest: `ctest -L ha`); it needs Debian's patroni and
etcd-server (scripts/deps).
"""

from __future__ import annotations

import datetime
import http.client
import json
import re
import shutil
import subprocess
import threading
import time
import unittest
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import harness
import hacluster
import nikgen
from test_events import ENROL_SQL  # people enrolled as verify would have

PROGRAM = "PALI-TEST-ADD"
VILLAGE = "16.12.01.2001"
CLIENTS = 4
APPLICANTS = 5
SEEDED = 50000  # enrolments made with SQL, so that a billing run takes a while
SEED_VILLAGE = "16.12.01.2002"  # NIKs born in '50-'55: nikgen's are '70-'99


@dataclass
class Job:
    ref: str
    idem: str
    body: bytes
    acked: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)  # every answer, or "conn"


class HaPg:
    """What harness.Stack asks of its cluster, over an HaCluster: every
    session through the multi-host string, so it reaches the primary."""

    def __init__(self, ha: hacluster.HaCluster, directory: Path):
        self.ha, self.dir = ha, directory
        self.conninfo = self.conninfo_as("lindung")

    def conninfo_as(self, user: str, dbname: str = "lindung") -> str:
        return self.ha.conninfo(user).replace("dbname=lindung", f"dbname={dbname}")

    def psql(self, sql: str, dbname: str = "lindung", timeout: float = 120.0,
             user: str = "lindung") -> list[tuple[str | None, ...]]:
        return self.ha.psql(sql, user=user, dbname=dbname, timeout=timeout)

    def scalar(self, sql: str, dbname: str = "lindung", user: str = "lindung") -> str | None:
        rows = self.psql(sql, dbname, user=user)
        return rows[0][0] if rows else None

    def log_tail(self, lines: int = 40) -> str:
        return self.ha.log_tail(lines)

    def cleanup(self, keep: bool = False) -> None:
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)


def this_month() -> str:
    now = datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=7)))
    return now.strftime("%Y-%m")


class Failover(unittest.TestCase):

    @classmethod
    def setUpClass(cls) -> None:
        cls.ha = hacluster.HaCluster(nodes=2, etcd=1)
        try:
            took = cls.ha.start()
            harness._log(f"cluster of 2 nodes up in {took:.1f}s")
            cls.stack = harness.Stack(sweep_ms=500, log_level="info")
            cls.stack.cluster = HaPg(cls.ha, cls.stack.dir)
            cls.stack.env["LINDUNG_DB"] = cls.stack.cluster.conninfo_as("lindungctl")
            cls.ha.psql("; ".join(f'CREATE ROLE "{u}" LOGIN'
                                  for u in harness.DB_LOGINS.values()), dbname="postgres")
            cls.stack.migrate()
            cls.stack.import_programs()
            cls.key = cls.stack.create_key("admin")
            cls.stack.start_daemons()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls) -> None:
        stack = getattr(cls, "stack", None)
        if stack is not None:
            stack.cleanup()
        cls.ha.cleanup()

    # -- load
    def post(self, job: Job) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.stack.intake.http_port,
                                          timeout=30)
        headers = {"Authorization": f"Bearer {self.key}",
                   "Content-Type": "application/json", "Idempotency-Key": job.idem}
        try:
            conn.request("POST", "/v1/submissions", body=job.body, headers=headers)
            r = conn.getresponse()
            raw = r.read()
        except (OSError, http.client.HTTPException):
            job.statuses.append("conn")
            return
        finally:
            conn.close()
        job.statuses.append(str(r.status))
        if r.status not in (200, 202, 503):
            job.statuses.append(raw.decode(errors="replace")[:300])
        if r.status in (200, 202):
            job.acked.append(json.loads(raw)["submission_id"])

    def run_load(self, tag: str, disrupt) -> list[Job]:
        """Clients post keyed submissions one after another, retrying each
        until it is answered 202, from before `disrupt()` until 20 more were
        acknowledged after it returned."""
        jobs: list[Job] = []
        lock = threading.Lock()
        stop = threading.Event()
        errors: list[BaseException] = []
        base = {"kill": 0, "switch": 1}[tag] * 500_000

        def next_job() -> Job:
            with lock:
                i = len(jobs)
                ref = f"{tag}-{i}"
                people = [nikgen.person(base + i * APPLICANTS + k) for k in range(APPLICANTS)]
                body = json.dumps({"program_code": PROGRAM, "village_code": VILLAGE,
                                   "reference": ref, "applicants": people}).encode()
                job = Job(ref, f"{tag}-{uuid.uuid4()}", body)
                jobs.append(job)
                return job

        def client() -> None:
            try:
                while not stop.is_set():
                    job = next_job()
                    deadline = time.monotonic() + 180
                    while not job.acked and time.monotonic() < deadline:
                        self.post(job)
                        if not job.acked:
                            time.sleep(0.2)
                    time.sleep(0.02)
            except BaseException as e:  # noqa: BLE001
                errors.append(e)

        threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
        for t in threads:
            t.start()
        try:
            harness.wait_until(lambda: sum(1 for j in jobs if j.acked) >= 30, timeout=60,
                               interval=0.01, message="load under way")
            disrupt()
            after = sum(1 for j in jobs if j.acked)
            harness.wait_until(lambda: sum(1 for j in jobs if j.acked) >= after + 20,
                               timeout=120, interval=0.05, message="load after the change")
        finally:
            stop.set()
            for t in threads:
                t.join(200)
        self.assertEqual(errors, [])
        self.assertFalse(any(t.is_alive() for t in threads), "a client hung")
        return jobs

    # -- checks
    def assert_exactly_once(self, jobs: list[Job]) -> None:
        statuses = {s for j in jobs for s in j.statuses if not s.startswith("{")}
        bodies = [s for j in jobs for s in j.statuses if s.startswith("{")]
        self.assertEqual(bodies, [], "answers other than 202, 503")
        self.assertLessEqual(statuses, {"200", "202", "503", "conn"}, statuses)
        self.assertEqual([j.ref for j in jobs if not j.acked], [], "never acknowledged")
        c = self.stack.cluster
        harness.wait_until(lambda: c.scalar(
            "SELECT count(*) FROM submissions WHERE status <> 'verified'") == "0",
            timeout=180, interval=0.5, message="every submission verified")
        # every submission, filtered here: the references in an IN list
        # outgrew psql's argument limit (128 KiB) on a fast machine
        refs = {j.ref for j in jobs}
        rows = [r for r in c.psql("SELECT s.reference, s.id, s.idempotency_key, "
                                  "  (SELECT count(*) FROM applicants a "
                                  "   WHERE a.submission_id = s.id "
                                  "     AND a.decision <> 'pending') "
                                  "FROM submissions s") if r[0] in refs]
        stored: dict[str, list[tuple]] = {}
        for r in rows:
            stored.setdefault(r[0], []).append(r)
        for j in jobs:
            got = stored.get(j.ref, [])
            self.assertEqual(len(got), 1, f"{j.ref} stored {len(got)} times")
            self.assertEqual(got[0][2], j.idem)
            self.assertEqual(set(j.acked), {got[0][1]}, j)
            self.assertEqual(got[0][3], str(APPLICANTS), "not every applicant decided")
        # nobody enrolled twice, no person-month covered or billed twice
        self.assertEqual(c.scalar("SELECT count(*) FROM (SELECT nik FROM enrolments "
                                  "GROUP BY nik HAVING count(*) > 1) d"), "0")
        self.assertEqual(c.scalar("SELECT count(*) FROM (SELECT enrolment_id, period "
                                  "FROM accruals GROUP BY 1, 2 HAVING count(*) > 1) d"), "0")

    def assert_billed_once(self) -> None:
        """This month: every active enrolment's line once, one invoice a payer."""
        c = self.stack.cluster
        month = this_month() + "-01"
        harness.wait_until(lambda: c.scalar(
            "SELECT count(*) FROM enrolments e WHERE e.status = 'active' "
            f"AND e.start_month <= '{month}' AND NOT EXISTS (SELECT 1 FROM accruals a "
            f"WHERE a.enrolment_id = e.id AND a.period = '{month}')") == "0",
            timeout=180, interval=1, message="every enrolment billed for this month")
        self.assertEqual(c.scalar(
            "SELECT count(*) FROM (SELECT period, funding_source, payer_code FROM invoices "
            f"WHERE kind = 'invoice' AND period = '{month}' GROUP BY 1, 2, 3 "
            "HAVING count(*) > 1) d"), "0")
        self.assertEqual(c.scalar("SELECT count(*) FROM (SELECT enrolment_id, period "
                                  "FROM accruals GROUP BY 1, 2 HAVING count(*) > 1) d"), "0")

    def readyz_port(self, name: str) -> str:
        body = harness.http("GET", self.stack.daemon(name).url + "/readyz", timeout=5).body
        return body.get("database", "") if isinstance(body, dict) else ""

    def wait_daemons_on(self, port: int) -> None:
        harness.wait_until(
            lambda: all(self.readyz_port(n).endswith(f":{port}")
                        for n in ("intake", "verify", "billing")),
            timeout=60, interval=0.5, message=f"every daemon ready on port {port}")

    # -- the tests
    def test_a_kill_the_primary_under_load(self) -> None:
        old = self.ha.primary()
        self.wait_daemons_on(self.ha.node_port(old))
        timing: dict[str, float] = {}
        billing_run: list[subprocess.CompletedProcess] = []

        def kill() -> None:
            # a billing run of this month with 50,000 new lines in progress:
            # the one asked for, or the one billing's sweep starts by itself
            self.ha.psql(ENROL_SQL.format(program=PROGRAM, village=SEED_VILLAGE, n=SEEDED,
                                          base=0, start=this_month(), district="161201",
                                          year=50), timeout=300)
            t = threading.Thread(target=lambda: billing_run.append(self.stack.lindungctl(
                "billing", "run", this_month(), check=False, timeout=300)))
            t.start()
            # kill while billing's statement runs
            harness.wait_until(lambda: self.ha.scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                "AND application_name = 'lindung-billing' AND query ILIKE '%accru%'") != "0",
                timeout=30, interval=0.005, message="a billing run in progress")
            t0 = time.monotonic()
            self.ha.kill_primary()
            timing["new primary"] = self.ha.wait_for_primary(timeout=120)
            timing["since kill"] = time.monotonic() - t0
            t.join(300)

        jobs = self.run_load("kill", kill)
        self.assertTrue(any(st != "202" for j in jobs for st in j.statuses),
                        "every request succeeded: the kill came when none was made")
        new = self.ha.primary()
        self.assertNotEqual(new, old)
        self.wait_daemons_on(self.ha.node_port(new))
        harness._log(f"failover: a new primary took a write {timing['new primary']:.1f}s "
                     f"after the kill of {old}'s postmaster (now {new}); "
                     f"answers seen: {sorted(set(s for j in jobs for s in j.statuses))}")
        print(f"FAILOVER_SECONDS={timing['new primary']:.2f}", flush=True)
        self.assert_exactly_once(jobs)
        self.assertEqual(len(billing_run), 1)
        harness._log(f"lindungctl billing run during the kill: exit {billing_run[0].returncode}: "
                     f"{billing_run[0].stdout.strip()[:300]} {billing_run[0].stderr.strip()[:300]}")
        self.assert_billed_once()
        # the metrics tell an operator what happened
        m = self.stack.intake.metrics()
        self.assertRegex(m, rf'lindung_db_server\{{server="[^"]*:{self.ha.node_port(new)}"\}} 1')
        total = re.search(r"^lindung_db_connect_failures_total (\S+)$", m, re.M)
        self.assertIsNotNone(total)

    def test_b_switchover_under_load(self) -> None:
        self.ha.wait_streaming(timeout=120)  # the killed node is back as a standby
        old = self.ha.primary()
        self.wait_daemons_on(self.ha.node_port(old))
        timing: dict[str, float] = {}

        def switch() -> None:
            _, _, timing["switchover"] = self.ha.switchover()

        jobs = self.run_load("switch", switch)
        new = self.ha.primary()
        self.assertNotEqual(new, old)
        self.wait_daemons_on(self.ha.node_port(new))
        harness._log(f"switchover: {old} -> {new}, a write after {timing['switchover']:.1f}s; "
                     f"answers seen: {sorted(set(s for j in jobs for s in j.statuses))}")
        print(f"SWITCHOVER_SECONDS={timing['switchover']:.2f}", flush=True)
        self.assert_exactly_once(jobs)
        self.assert_billed_once()


if __name__ == "__main__":
    unittest.main(verbosity=2)
