"""Crash proof for lindung-intake (issue 3, item 7): several clients post
submissions concurrently (some with an Idempotency-Key), lindung-intake is
SIGKILLed in the middle, restarted, and the clients retry what failed. Then:

- every submission that got a 202 is stored exactly once, with all its
  applicants, and reaches `verified` with a decision for each applicant;
- a keyed submission exists exactly once per Idempotency-Key, and its 202s
  (first answer and retries) all name that one submission;
- an unkeyed submission exists at most once per attempt that either got a
  202 or died without an answer after it was sent (a retry without a key may
  legitimately store a second copy when the first was committed but its 202
  was lost: that is why keys exist); never for an attempt that was refused;
- nothing was stored that no client sent.

Each job is identified by its `reference`, stored with the submission.
"""

# ctest-timeout: 180
from __future__ import annotations

import http.client
import json
import signal
import threading
import time
import unittest
from dataclasses import dataclass, field

import harness
import nikgen

PROGRAM = "PALI-TEST-ADD"
VILLAGE = "16.12.01.2001"
CLIENTS = 6
JOBS_PER_CLIENT = 30
APPLICANTS = 40


@dataclass
class Job:
    ref: str
    idem: str | None
    body: bytes
    acked: list[str] = field(default_factory=list)   # submission_ids from 202s
    refused: int = 0      # never reached the server: cannot have been stored
    ambiguous: int = 0    # sent, then no answer: may have been stored
    other: list[int] = field(default_factory=list)    # other statuses (e.g. 503)

    @property
    def done(self) -> bool:
        return bool(self.acked)


class IntakeCrash(harness.LindungTestCase):

    def post(self, job: Job) -> None:
        """One attempt; records what happened in `job`."""
        s = self.stack
        conn = http.client.HTTPConnection("127.0.0.1", s.intake.http_port, timeout=30)
        headers = {"Authorization": f"Bearer {self.key}",
                   "Content-Type": "application/json"}
        if job.idem:
            headers["Idempotency-Key"] = job.idem
        try:
            try:
                conn.connect()
            except OSError:
                job.refused += 1
                return
            try:
                conn.request("POST", "/v1/submissions", body=job.body, headers=headers)
                r = conn.getresponse()
                raw = r.read()
            except (OSError, http.client.HTTPException):
                job.ambiguous += 1
                return
            if r.status == 202:
                job.acked.append(json.loads(raw)["submission_id"])
            else:
                job.other.append(r.status)
        finally:
            conn.close()

    def test_sigkill_mid_traffic(self) -> None:
        s = self.stack
        s.migrate()
        s.import_programs()
        self.key = s.create_key("admin")
        s.start_daemons()
        c = s.cluster

        jobs: list[list[Job]] = []
        n = 0
        for t in range(CLIENTS):
            mine = []
            for j in range(JOBS_PER_CLIENT):
                ref = f"crash-{t}-{j}"
                people = [nikgen.person(n + i) for i in range(APPLICANTS)]
                n += APPLICANTS
                body = json.dumps({"program_code": PROGRAM, "village_code": VILLAGE,
                                   "reference": ref, "applicants": people}).encode()
                mine.append(Job(ref, f"key-{ref}" if j % 2 == 0 else None, body))
            jobs.append(mine)
        all_jobs = [j for mine in jobs for j in mine]

        restarted = threading.Event()
        errors: list[BaseException] = []

        def client(mine: list[Job]) -> None:
            try:
                for job in mine:              # first pass: one attempt each
                    self.post(job)
                restarted.wait(60)
                for _ in range(50):           # then retry what failed
                    todo = [j for j in mine if not j.done]
                    if not todo:
                        return
                    for job in todo:
                        self.post(job)
                    time.sleep(0.1)
            except BaseException as e:  # noqa: BLE001
                errors.append(e)

        threads = [threading.Thread(target=client, args=(mine,)) for mine in jobs]
        for t in threads:
            t.start()
        # kill intake once about a third of the jobs were acknowledged
        harness.wait_until(lambda: sum(1 for j in all_jobs if j.acked) >= len(all_jobs) // 3,
                           timeout=60, interval=0.002, message="a third acknowledged")
        s.intake.kill(signal.SIGKILL)
        acked_at_kill = sum(1 for j in all_jobs if j.acked)
        time.sleep(0.5)   # clients keep trying meanwhile: refused
        s.intake.start()
        restarted.set()
        for t in threads:
            t.join(120)
        self.assertEqual(errors, [])
        self.assertFalse(any(t.is_alive() for t in threads), "a client hung")
        self.assertLess(acked_at_kill, len(all_jobs), "the kill came after everything")
        self.assertTrue(any(j.refused or j.ambiguous for j in all_jobs),
                        "no request failed: the kill proved nothing")
        self.assertEqual([j.ref for j in all_jobs if not j.done], [],
                         "jobs never acknowledged even after retries")

        harness.wait_until(lambda: c.scalar(
            "SELECT count(*) FROM submissions WHERE status <> 'verified'") == "0",
            timeout=90, interval=0.25, message="every submission verified")

        stored: dict[str, list[tuple[str, ...]]] = {}
        for row in c.psql("SELECT s.reference, s.id, s.idempotency_key, s.applicant_count, "
                          "  (SELECT count(*) FROM applicants a WHERE a.submission_id = s.id), "
                          "  (SELECT count(*) FROM applicants a WHERE a.submission_id = s.id "
                          "     AND a.decision = 'pending') "
                          "FROM submissions s"):
            stored.setdefault(row[0], []).append(row)
        by_ref = {j.ref: j for j in all_jobs}
        self.assertEqual(sorted(set(stored) - set(by_ref)), [], "stored, never sent")

        for job in all_jobs:
            with self.subTest(job=job.ref, keyed=bool(job.idem)):
                rows = stored.get(job.ref, [])
                ids = [r[1] for r in rows]
                self.assertEqual(len(ids), len(set(ids)))
                # every 202 names a stored submission, stored once, whole, decided
                for sid in set(job.acked):
                    self.assertIn(sid, ids, f"acknowledged {sid} is not stored: {job}")
                for r in rows:
                    self.assertEqual(r[3:], (str(APPLICANTS), str(APPLICANTS), "0"), r)
                if job.idem:
                    self.assertEqual(len(rows), 1, f"keyed job stored {len(rows)} times")
                    self.assertEqual(rows[0][2], job.idem)
                    self.assertEqual(set(job.acked), {rows[0][1]}, job.acked)
                else:
                    self.assertEqual(len(job.acked), len(set(job.acked)))
                    self.assertGreaterEqual(len(rows), 1)
                    self.assertLessEqual(len(rows), len(job.acked) + job.ambiguous,
                                         f"more copies than attempts that could store: "
                                         f"acked={job.acked} ambiguous={job.ambiguous} "
                                         f"refused={job.refused}")

        # acknowledged submissions read back verified with every decision
        sample = [j.acked[0] for j in all_jobs[:: max(1, len(all_jobs) // 12)]]
        for sid in sample:
            r = s.api("GET", f"/v1/submissions/{sid}", key=self.key)
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual(r.body["status"], "verified", r.body)
            self.assertEqual(r.body["counts"]["total"], APPLICANTS)
            self.assertEqual(r.body["counts"]["pending"], 0)
            self.assertTrue(all(a["decision"] in ("accepted", "rejected")
                                for a in r.body["applicants"]))
        # nobody enrolled twice, however many copies of an unkeyed list exist
        self.assertEqual(c.scalar("SELECT count(*) FROM (SELECT nik FROM enrolments "
                                  "GROUP BY nik HAVING count(*) > 1) d"), "0")
        self.assertEqual(c.scalar("SELECT count(DISTINCT nik) FROM enrolments"),
                         str(len(all_jobs) * APPLICANTS))


if __name__ == "__main__":
    unittest.main(verbosity=2)
