"""scripts/ha-cluster (issue 16): three PostgreSQL 15 nodes under Patroni with
one etcd, synchronous_mode and synchronous_mode_strict on (as deploy/ha/).
The cluster starts with a synchronous standby chosen and every node
streaming, and lindung's migrations run against it through the multi-host
string; a row committed on the primary is on the standbys; after SIGKILL of
the primary's postmaster (twice, under a steady stream of single-row
commits) a new primary takes writes within a time the test prints, and
every commit that was acknowledged, before or after, is there; a planned
switchover (patronictl) hands over; stop leaves no process behind.

The tests run in order on one cluster (test_1 ... test_5). CTest label `ha`
(tests/integration/CMakeLists.txt): `ctest -L ha` runs it alone,
`ctest -LE ha` leaves it out.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import unittest

import harness
import hacluster

NODES = 3


def note(msg: str) -> None:
    print(f"[ha] {msg}", file=sys.stderr, flush=True)


class Writer(threading.Thread):
    """Commits one row at a time (id = 1, 2, ...) through the multi-host
    string, a new session each time, as a client that reconnects would;
    remembers which commits were acknowledged."""

    def __init__(self, cluster: hacluster.HaCluster, start_id: int):
        super().__init__(daemon=True)
        self.conn = cluster.conninfo() + " connect_timeout=2"
        self.next_id = start_id
        self.acked: list[int] = []
        self.failed = 0
        self.stop_flag = threading.Event()

    def run(self) -> None:
        deadline = time.monotonic() + 300  # bounded, whatever happens
        while not self.stop_flag.is_set() and time.monotonic() < deadline:
            i = self.next_id
            self.next_id += 1
            r = subprocess.run([str(harness.PG_BIN / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                                "-d", self.conn, "-c",
                                f"INSERT INTO ha_rows (id, note) VALUES ({i}, 'writer')"],
                               stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
            if r.returncode == 0:
                self.acked.append(i)
            else:
                self.failed += 1
                time.sleep(0.05)

    def finish(self) -> None:
        self.stop_flag.set()
        self.join(90)


class HaClusterTest(unittest.TestCase):
    cluster: hacluster.HaCluster
    failed = False

    @classmethod
    def setUpClass(cls) -> None:
        cls.cluster = hacluster.HaCluster(nodes=NODES, etcd=1, strict=True)
        cls.addClassCleanup(cls._cleanup)

    @classmethod
    def _cleanup(cls) -> None:
        if cls.failed or os.environ.get("LINDUNG_TEST_LOGS") == "1":
            print(cls.cluster.log_tail(), file=sys.stderr, flush=True)
        cls.cluster.cleanup()

    def setUp(self) -> None:
        self._before = harness.problem_count(self)
        self.addCleanup(self._note_failure)

    def _note_failure(self) -> None:
        now = harness.problem_count(self)
        if now is None or self._before is None or now > self._before:
            type(self).failed = True

    def rest(self, node: str, path: str) -> harness.Response:
        port = next(n["rest_port"] for n in self.cluster.state()["nodes"] if n["name"] == node)
        return harness.http("GET", f"http://127.0.0.1:{port}{path}")

    def standbys(self) -> dict[str, str]:
        """{name: sync_state} of the standbys streaming from the primary."""
        rows = self.cluster.psql("SELECT application_name, sync_state FROM pg_stat_replication"
                                 " WHERE state = 'streaming'")
        return {name: state for name, state in rows}

    # ------------------------------------------------------------------
    def test_1_starts_with_a_sync_standby(self) -> None:
        c = self.cluster
        took = c.start()
        note(f"scripts/ha-cluster start ({NODES} nodes, 1 etcd): {took:.1f}s")
        primary = c.primary()
        self.assertIsNotNone(primary)
        sb = self.standbys()
        self.assertEqual(len(sb), NODES - 1, sb)
        self.assertEqual(sorted(sb.values()).count("sync"), 1, sb)
        self.assertNotIn(primary, sb)
        self.assertNotEqual(c.scalar("SHOW synchronous_standby_names"), "")
        self.assertEqual(c.scalar("SHOW synchronous_commit"), "on")
        # Patroni's cluster-wide settings, as stored in etcd
        cfg = self.rest(primary, "/config").body
        self.assertIs(cfg["synchronous_mode"], True, cfg)
        self.assertIs(cfg["synchronous_mode_strict"], True, cfg)
        self.assertEqual(cfg["primary_start_timeout"], 0, cfg)
        # Patroni agrees on who the sync standby is
        roles = {m["name"]: m["role"] for m in self.rest(primary, "/cluster").body["members"]}
        self.assertEqual(roles[primary], "leader")
        self.assertEqual([n for n, r in roles.items() if r == "sync_standby"],
                         [n for n, s in sb.items() if s == "sync"])
        # the superuser and database lindung are there: the project's
        # migrations and logins go in through the multi-host string
        self.assertEqual(c.scalar("SELECT current_user || '@' || current_database()"),
                         "lindung@lindung")
        ctl = harness.BINARIES["lindungctl"]
        if ctl.exists():
            r = subprocess.run([str(ctl), "migrate"], capture_output=True, text=True,
                               stdin=subprocess.DEVNULL, timeout=120,
                               env={**{k: v for k, v in os.environ.items()
                                       if not k.startswith(("LINDUNG_", "PG"))},
                                    "LINDUNG_DB": c.conninfo(),
                                    "LINDUNG_MIGRATIONS": str(harness.SOURCE_DIR / "db/migrations")})
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            r = subprocess.run([str(harness.PG_BIN / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                                "-d", c.conninfo(), "-f", str(harness.SOURCE_DIR / "deploy/db-users.sql")],
                               capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(c.scalar("SELECT count(*) > 0 FROM schema_migrations"), "t")
        else:
            note(f"{ctl} not built: migrations not tried")

    def test_2_commit_is_on_the_standbys(self) -> None:
        c = self.cluster
        c.psql("CREATE TABLE ha_rows (id int PRIMARY KEY, note text NOT NULL)")
        # remote_apply: the commit returns once the synchronous standby has
        # applied it, so the row must be readable there at once
        c.psql("SET synchronous_commit = remote_apply;"
               " INSERT INTO ha_rows SELECT g, 'before' FROM generate_series(-1000, -1) g")
        sb = self.standbys()
        sync = next(n for n, s in sb.items() if s == "sync")
        self.assertEqual(c.scalar("SELECT count(*) FROM ha_rows", node=sync), "1000")
        self.assertEqual(c.scalar("SELECT pg_is_in_recovery()", node=sync), "t")
        for name in sb:  # the asynchronous one catches up
            harness.wait_until(lambda: c.scalar("SELECT count(*) FROM ha_rows", node=name) == "1000",
                               timeout=20, message=f"rows on {name}")
        # a read-only client with prefer-standby lands on a standby
        r = subprocess.run([str(harness.PG_BIN / "psql"), "-X", "-A", "-t", "-d",
                            c.conninfo(prefer_standby=True),
                            "-c", "SELECT pg_is_in_recovery()"],
                           capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=30)
        self.assertEqual(r.stdout.strip(), "t", r.stderr)

    def test_3_failover_after_sigkill_of_the_primary(self) -> None:
        c = self.cluster
        writer = Writer(c, start_id=1)
        writer.start()
        times = []
        try:
            for kill in (1, 2):
                harness.wait_until(lambda: len(writer.acked) >= 20 * kill, timeout=60,
                                   message="writer commits before the kill")
                old = c.kill_primary()  # returns once the signal is sent
                took = c.wait_for_primary(timeout=120)
                new = c.primary()
                times.append(took)
                note(f"kill {kill}: SIGKILL of {old}'s postmaster; {new} took writes "
                     f"{took:.1f}s after it")
                self.assertNotEqual(new, old, "the crashed primary should fail over, "
                                    "not restart in place (primary_start_timeout 0)")
                acked = len(writer.acked)
                harness.wait_until(lambda: len(writer.acked) >= acked + 20, timeout=60,
                                   message="writer commits after the failover")
                # the old primary comes back as a standby (pg_rewind if needed)
                c.wait_streaming(timeout=120)
        finally:
            writer.finish()
        note(f"failover times: {', '.join(f'{t:.1f}s' for t in times)}; writer: "
             f"{len(writer.acked)} commits acknowledged, {writer.failed} failed and not retried")
        present = {int(r[0]) for r in c.psql("SELECT id FROM ha_rows WHERE id > 0")}
        lost = sorted(set(writer.acked) - present)
        self.assertEqual(lost, [], "acknowledged commits lost by the failover")
        self.assertEqual(c.scalar("SELECT count(*) FROM ha_rows WHERE id < 0"), "1000")

    def test_4_switchover(self) -> None:
        c = self.cluster
        before = c.primary()
        old, new, took = c.switchover()
        note(f"switchover {old} -> {new}: writes after {took:.1f}s")
        self.assertEqual(old, before)
        self.assertNotEqual(new, old)
        self.assertEqual(c.primary(), new)
        c.psql("INSERT INTO ha_rows VALUES (0, 'after switchover')")
        self.assertEqual(c.scalar("SELECT count(*) FROM ha_rows WHERE id <= 0"), "1001")
        c.wait_streaming(timeout=120)
        self.assertIn(old, self.standbys())

    def test_5_stop_leaves_no_process(self) -> None:
        c = self.cluster
        t0 = time.monotonic()
        c.stop()  # raises when a process is left
        note(f"stop: {time.monotonic() - t0:.1f}s")
        self.assertEqual(c.processes(), [])
        self.assertTrue((c.dir / "node1" / "data" / "PG_VERSION").exists())


if __name__ == "__main__":
    unittest.main(verbosity=2)
