"""lindungctl's one command convention (issue 17, item 3; docs/development.md,
"lindungctl commands"), without any database or daemon: every command checks
its arguments before it connects to PostgreSQL, and exits 0 when done, 1 when
it failed, 2 on a usage mistake.

- A bad subcommand, option or value of every command group exits 2, says so
  on stderr, and never tries PostgreSQL (LINDUNG_DB points at a socket
  directory that does not exist, so a connection attempt would say "cannot
  connect to PostgreSQL" and exit 1).
- The same commands with good arguments do try, and exit 1.
- `--help` exits 0 with a usage on stdout.
- `billing run` with nobody listening exits 1 after LINDUNG_CTL_TIMEOUT_S.

The masked NIK of every command is common/nik.c's (1612******0001): checked
where people are listed, in test_billing (lapses), test_ops (trace,
participants) and test_bpjs.

CTest name: integration_lindungctl.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import unittest

import harness

NO_DB = "cannot connect to PostgreSQL"
NIK = "1612015507900001"  # valid structure; never stored anywhere

# (arguments, what stderr must mention): each a usage mistake, exit 2.
USAGE_MISTAKES = [
    (["frob"], "usage: lindungctl"),
    (["migrate", "--frob"], "usage: lindungctl migrate"),
    (["migrate", "--dir"], "usage: lindungctl migrate"),
    (["program", "frob"], "usage: lindungctl program"),
    (["program", "import"], "usage: lindungctl program"),
    (["program", "renewal"], "usage: lindungctl program"),
    (["enrolment", "frob"], "usage: lindungctl enrolment"),
    (["enrolment", "end", "123", "--month", "2026-01", "--reason", "death"], "NIK"),
    (["enrolment", "end", NIK, "--month", "2026-13", "--reason", "death"], "--month"),
    (["enrolment", "end", NIK, "--month", "2026-01", "--reason", "frob"], "--reason"),
    (["enrolment", "end", NIK, "--month", "2999-01", "--reason", "death"], "after this month"),
    (["enrolment", "transfer", NIK], "--village"),
    (["enrolment", "history", "12"], "NIK"),
    (["event", "frob"], "usage"),
    (["event", "list", "12"], "NIK"),
    (["event", "correct", "x", "--reason", "y"], "EVENT_ID"),
    (["apikey", "frob"], "usage: lindungctl apikey"),
    (["apikey", "create"], "--name"),
    (["apikey", "revoke"], "usage: lindungctl apikey"),
    (["billing", "frob"], "usage: lindungctl billing"),
    (["billing"], "usage: lindungctl billing"),
    (["billing", "run"], "YYYY-MM"),
    (["billing", "run", "2026-01", "--forse"], "unknown option --forse"),
    (["billing", "pay", "1", "abc"], "usage: lindungctl billing pay"),
    (["billing", "pay", "1", "100", "--lines", "1,1"], "--lines"),
    (["billing", "statement"], "usage: lindungctl billing statement"),
    (["billing", "export", "--payer", "X"], "usage: lindungctl billing export"),
    (["rates", "2026-13"], "usage: lindungctl rates"),
    (["rates", "--income", "12.5"], "--income"),
    (["claims"], "claims"),
    (["claims", "frob"], "claims"),
    (["claims", "add"], "claims add"),
    (["claims", "step", "x"], "claims step"),
    (["claims", "show"], "claims show"),
    (["claims", "report", "--from", "2026-13"], "--from"),
    (["bpjs", "frob"], "usage: lindungctl bpjs"),
    (["bpjs", "export"], "usage: lindungctl bpjs export"),
    (["bpjs", "import"], "usage: lindungctl bpjs import"),
    (["bpjs", "unconfirmed", "--days", "x"], "usage: lindungctl bpjs unconfirmed"),
    (["report", "frob"], "usage: lindungctl report"),
    (["report", "participants", "--level", "x"], "usage: lindungctl report"),
    (["audit", "--frob"], "unknown argument --frob"),
    (["audit", "--limit", "0"], "--limit"),
    (["audit", "--nik", "12"], "--nik"),
    (["zmq", "frob"], "usage: lindungctl zmq"),
    (["status", "--frob"], "--frob"),
    (["submissions", "--limit", "x"], "--limit"),
    (["participants", "123"], "NIK"),
    (["trace"], "usage: lindungctl trace"),
    (["trace", "not-a-uuid"], "usage: lindungctl trace"),
]

# Good arguments: each needs the database, which is not there: exit 1.
NEEDS_DB = [
    ["migrate"],
    ["migrate", "--dir", "/nonexistent"],
    ["program", "renewal", "PALI-2026"],
    ["enrolment", "history", NIK],
    ["event", "list", NIK],
    ["apikey", "list"],
    ["billing", "arrears"],
    ["billing", "lapses", "--json"],
    ["billing", "statement", "--payer", "16.12.01.2001"],
    ["billing", "pay", "1", "100"],
    ["rates", "2026-01"],
    ["claims", "list"],
    ["claims", "show", "12"],
    ["bpjs", "unconfirmed"],
    ["report", "participants"],
    ["audit", "--limit", "5"],
    ["submissions"],
    ["participants", NIK],
]

# Each command group's --help: 0, a usage naming it on stdout.
HELP = ["apikey", "billing", "rates", "claims", "bpjs", "report", "audit", "zmq",
        "status", "submissions", "participants", "trace", "migrate", "program",
        "enrolment", "event"]


class ExitCodes(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="lindungctl-")
        self.addCleanup(self.tmp.cleanup)
        self.env = {**os.environ,
                    "LINDUNG_DB": f"host={self.tmp.name}/no-such-dir dbname=lindung "
                                  "connect_timeout=2",
                    "LINDUNG_BILLING_CONTROL": "tcp://127.0.0.1:9",
                    "LINDUNG_CTL_TIMEOUT_S": "1"}
        for var in ("LINDUNG_ZMQ_SERVER_PUBLIC_FILE", "LINDUNG_ZMQ_CLIENT_SECRET_FILE"):
            self.env.pop(var, None)

    def run_ctl(self, args: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run([str(harness.BINARIES["lindungctl"]), *args], env=self.env,
                              capture_output=True, text=True, timeout=30,
                              stdin=subprocess.DEVNULL)

    def test_usage_mistakes_exit_2_before_connecting(self) -> None:
        for args, said in USAGE_MISTAKES:
            with self.subTest(args=args):
                r = self.run_ctl(args)
                self.assertEqual(r.returncode, 2, f"{args}: {r.stderr}")
                self.assertNotIn(NO_DB, r.stderr, f"{args} connected before checking")
                self.assertIn(said, r.stderr)
                self.assertEqual(r.stdout, "")

    def test_good_arguments_without_database_exit_1(self) -> None:
        for args in NEEDS_DB:
            with self.subTest(args=args):
                r = self.run_ctl(args)
                self.assertEqual(r.returncode, 1, f"{args}: {r.stderr}")
                self.assertIn(NO_DB, r.stderr)
                self.assertEqual(r.stderr.count(NO_DB), 1, "said once")

    def test_help_exits_0(self) -> None:
        for cmd in HELP:
            with self.subTest(cmd=cmd):
                r = self.run_ctl([cmd, "--help"])
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn(cmd, r.stdout)
                self.assertNotIn(NO_DB, r.stderr)

    def test_billing_run_without_billing_exits_1(self) -> None:
        r = self.run_ctl(["billing", "run", "2026-01"])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("no answer from lindung-billing at tcp://127.0.0.1:9 within 1s",
                      r.stderr)
        self.assertEqual(r.stdout, "")


if __name__ == "__main__":
    unittest.main(verbosity=2)
