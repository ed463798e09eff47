"""Operations (issue 6): metrics, health, tracing, lindungctl's read commands,
and the Prometheus configuration and alert rules under deploy/.

Runs the real daemons against a throw-away PostgreSQL (harness.py), the
Debian `prometheus` package's promtool and a real Prometheus server. Not for
the metrics text format itself (tests/unit/test_metrics.c) or for what the
daemons decide (test_e2e.py).

    LINDUNG_BUILD_DIR=build LINDUNG_SOURCE_DIR=. python3 tests/integration/test_ops.py
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import uuid
from pathlib import Path

import harness

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
DEPLOY = harness.SOURCE_DIR / "deploy"

PROGRAM = "PALI-TEST-ADD"
VILLAGE = "16.12.01.2001"        # Talang Bulang, a desa of PALI
OTHER_VILLAGE = "16.12.01.2002"  # Benuang, a desa of PALI
# coverage starts in the month of acceptance (Asia/Jakarta): the month enrolled and billed
PERIOD = (datetime.datetime.now(datetime.timezone.utc)
          + datetime.timedelta(hours=7)).strftime("%Y-%m")
PREMIUM = 16800

GOOD_MAN = {"nik": "1612011205800001", "name": "Budi Santoso", "birth_date": "1980-05-12",
            "sex": "M", "occupation": "PETANI/PEKEBUN"}
GOOD_WOMAN = {"nik": "1612016308850001", "name": "Siti Aminah", "birth_date": "1985-08-23",
              "sex": "F", "occupation": "PERDAGANGAN"}
TOO_OLD = {"nik": "1612011003550002", "name": "Darmo Tua", "birth_date": "1955-03-10",
           "sex": "M", "occupation": "NELAYAN/PERIKANAN"}
BAD_NIK = {"nik": "161201150690001", "name": "Andi Salah", "birth_date": "1990-06-15",
           "sex": "M", "occupation": "PETANI/PEKEBUN"}
FULL_NIKS = [GOOD_MAN["nik"], GOOD_WOMAN["nik"], TOO_OLD["nik"]]

# Families each daemon must expose after some traffic (issue 6, item 1).
COMMON_FAMILIES = ["lindung_http_requests_total", "lindung_http_request_duration_seconds",
                   "process_resident_memory_bytes", "process_cpu_seconds_total",
                   "process_start_time_seconds", "process_open_fds"]
FAMILIES = {
    "intake": ["lindung_bus_messages_sent_total"],
    "verify": ["lindung_verify_queue_depth", "lindung_verify_queue_oldest_age_seconds",
               "lindung_decisions_total", "lindung_decision_latency_seconds",
               "lindung_bus_messages_received_total", "lindung_bus_messages_sent_total"],
    "billing": ["lindung_billing_runs_total", "lindung_billing_run_duration_seconds",
                "lindung_billing_last_success_timestamp_seconds",
                "lindung_billing_accrued_rupiah", "lindung_bus_messages_received_total"],
}


def run(argv: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60,
                          stdin=kw.pop("stdin", subprocess.DEVNULL), **kw)


def safe_suffix() -> str:
    """A random request-id suffix that can never be 12 digits in a row: logs
    mask any such run as a possible NIK (docs/nik.md), which once in about 300
    runs turned a random hex suffix into a masked one."""
    return "-".join(uuid.uuid4().hex[:6] for _ in range(2))


def boot(stack: harness.Stack) -> str:
    """Schema, programmes, an admin key, the three daemons; returns the key."""
    stack.migrate()
    stack.import_programs()
    key = stack.create_key("admin", name="ops-admin")
    stack.start_daemons()
    return key


def submit(stack: harness.Stack, key: str, applicants: list[dict], village: str = VILLAGE,
           request_id: str | None = None) -> str:
    headers = {"X-Request-Id": request_id} if request_id else {}
    r = stack.api("POST", "/v1/submissions", key=key, headers=headers, json={
        "program_code": PROGRAM, "village_code": village, "applicants": applicants})
    assert r.status == 202, (r.status, r.body)
    if request_id:
        assert r.header("X-Request-Id") == request_id, r.headers
    return r.body["submission_id"]


def wait_verified(stack: harness.Stack, sid: str) -> None:
    harness.wait_until(
        lambda: stack.cluster.scalar(f"SELECT status FROM submissions WHERE id = '{sid}'")
        == "verified", timeout=30, interval=0.1, message=f"submission {sid} verified")


def bill(stack: harness.Stack) -> dict:
    return json.loads(stack.lindungctl("billing", "run", PERIOD).stdout)


class CtlMixin:
    """Run lindungctl on self.stack and check what it printed."""

    stack: harness.Stack

    def ctl(self, *args: str, rc: int = 0, masked: bool = True) -> str:
        """stdout, after checking the exit code and that no full NIK of ours
        leaked into stdout or stderr (unless masked=False)."""
        r = self.stack.lindungctl(*args, check=False)
        self.assertEqual(r.returncode, rc, f"lindungctl {' '.join(args)}:\n{r.stdout}\n{r.stderr}")
        if masked:
            for nik in FULL_NIKS:
                self.assertNotIn(nik, r.stdout + r.stderr, f"lindungctl {' '.join(args)} leaked a NIK")
        return r.stdout

    def ctl_json(self, *args: str, rc: int = 0, masked: bool = True):
        return json.loads(self.ctl(*args, "--json", rc=rc, masked=masked))


class OpsCase(CtlMixin, harness.LindungTestCase):
    """A fresh stack per test (harness.LindungTestCase)."""

    def boot(self) -> str:
        return boot(self.stack)

    def submit(self, key: str, applicants: list[dict], **kw) -> str:
        return submit(self.stack, key, applicants, **kw)

    def wait_verified(self, sid: str) -> None:
        wait_verified(self.stack, sid)

    def bill(self) -> dict:
        return bill(self.stack)


# ---------------------------------------------------------------- metrics, Prometheus

class Metrics(OpsCase):

    def traffic(self) -> None:
        key = self.boot()
        sid = self.submit(key, [GOOD_MAN, TOO_OLD, BAD_NIK])
        self.wait_verified(sid)
        self.stack.api("GET", "/v1/submissions/" + sid, key=key)
        self.stack.api("GET", "/v1/submissions/" + sid)            # 401
        self.stack.api("GET", "/no/such/route", key=key)           # 404
        self.assertTrue(self.bill()["ok"])
        harness.wait_until(lambda: "lindung_billing_accrued_rupiah" in self.stack.billing.metrics(),
                           timeout=15, message="billing to publish its accrued gauge")

    def test_promtool_checks_every_daemon_and_prometheus_scrapes_them(self) -> None:
        self.traffic()
        for name in ("intake", "verify", "billing"):
            with self.subTest(daemon=name):
                text = self.stack.daemon(name).metrics()
                r = run([PROMTOOL, "check", "metrics"], input=text, stdin=None)
                self.assertEqual(r.returncode, 0, f"{name}:\n{r.stdout}{r.stderr}")
                self.assertEqual(r.stdout + r.stderr, "", f"{name}: lint findings")
                types = set(re.findall(r"^# TYPE (\S+) ", text, re.M))
                for family in COMMON_FAMILIES + FAMILIES[name]:
                    self.assertIn(family, types, f"{name} lacks {family}")
        prom = self.start_prometheus()

        def up_everywhere():
            res = self.prom_query(prom, 'up{job="lindung"}')
            return len(res) == 3 and all(x["value"][1] == "1" for x in res) and res

        up = harness.wait_until(up_everywhere, timeout=30, interval=0.5,
                                message="Prometheus to scrape all three daemons")
        self.assertEqual(sorted(x["metric"]["service"] for x in up),
                         ["billing", "intake", "verify"])
        accepted = harness.wait_until(
            lambda: self.prom_query(prom, 'lindung_decisions_total{result="accepted"}'),
            timeout=15, interval=0.5, message="a decision counter in Prometheus")
        self.assertEqual(accepted[0]["metric"]["service"], "verify")
        self.assertEqual(float(accepted[0]["value"][1]), 1.0)
        rules = harness.http("GET", prom + "/api/v1/rules").body
        names = {r["name"] for g in rules["data"]["groups"] for r in g["rules"]}
        self.assertLessEqual({"LindungDaemonDown", "LindungVerificationBacklog",
                              "LindungMonthlyBillingNotDone"}, names)
        self.check_dashboard_queries(prom)

    # -- Prometheus
    def prometheus_config(self, workdir: Path) -> Path:
        """deploy/prometheus.yml rewritten to this stack's ports and a 1s interval."""
        text = (DEPLOY / "prometheus.yml").read_text()
        for name in ("intake", "verify", "billing"):
            text, n = re.subn(rf"\b{name}:\d+\b", f"127.0.0.1:{self.stack.ports[name]}", text)
            self.assertEqual(n, 1, f"prometheus.yml: one {name} target expected")
        text = re.sub(r"(scrape_interval|evaluation_interval): \S+", r"\1: 1s", text)
        text = re.sub(r"scrape_timeout: \S+", "scrape_timeout: 1s", text)
        shutil.copy(DEPLOY / "alerts.yml", workdir / "alerts.yml")
        config = workdir / "prometheus.yml"
        config.write_text(text)
        r = run([PROMTOOL, "check", "config", str(config)])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return config

    def start_prometheus(self) -> str:
        workdir = Path(tempfile.mkdtemp(prefix="prom-", dir=self.stack.dir))
        config = self.prometheus_config(workdir)
        port = harness.free_port()
        log = open(workdir / "prometheus.log", "wb")
        proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            preexec_fn=harness._preexec(signal.SIGKILL))
        log.close()

        def stop():
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.addCleanup(stop)
        url = f"http://127.0.0.1:{port}"

        def ready():
            if proc.poll() is not None:
                raise AssertionError("prometheus exited:\n"
                                     + (workdir / "prometheus.log").read_text())
            return harness.http("GET", url + "/-/ready", timeout=2).status == 200
        harness.wait_until(ready, timeout=30, interval=0.2, message="Prometheus ready")
        return url

    def prom_query(self, url: str, expr: str) -> list:
        r = harness.http("GET", url + "/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
        self.assertEqual(r.status, 200, f"{expr}: {r.body}")
        self.assertEqual(r.body["status"], "success", r.body)
        return r.body["data"]["result"]

    def check_dashboard_queries(self, prom: str) -> None:
        """Every query of the Grafana dashboard parses and runs."""
        dash = json.loads((DEPLOY / "grafana/dashboards/lindung.json").read_text())
        exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
        self.assertGreater(len(exprs), 10)
        for expr in exprs:
            with self.subTest(expr=expr):
                self.prom_query(prom, expr.replace("$__rate_interval", "1m")
                                .replace("$__range", "5m"))


class AlertRules(unittest.TestCase):
    """deploy/alerts.yml is valid and its alerts fire when they should."""

    def test_promtool_check_and_unit_test_rules(self) -> None:
        r = run([PROMTOOL, "check", "rules", str(DEPLOY / "alerts.yml")])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = run([PROMTOOL, "test", "rules", str(DEPLOY / "alerts.test.yml")])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_grafana_provisioning_matches_dashboard(self) -> None:
        dash = json.loads((DEPLOY / "grafana/dashboards/lindung.json").read_text())
        ds = (DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text()
        uid = re.search(r"uid: (\S+)", ds).group(1)
        for panel in dash["panels"]:
            if panel["type"] != "row":
                self.assertEqual(panel["datasource"]["uid"], uid, panel["title"])


# ---------------------------------------------------------------- health

class Health(OpsCase):

    def readyz(self) -> dict[str, int]:
        return {n: harness.http("GET", self.stack.daemon(n).url + "/readyz", timeout=5).status
                for n in ("intake", "verify", "billing")}

    def test_readyz_follows_postgres_without_a_restart(self) -> None:
        key = self.boot()
        s = self.stack
        # verify is ready once its ZeroMQ peers are connected, which follows
        # the start of intake and billing by a reconnect interval or two
        harness.wait_until(
            lambda: self.readyz() == {"intake": 200, "verify": 200, "billing": 200},
            timeout=20, message="every /readyz to answer 200 after start")
        pids = {n: s.daemon(n).pid for n in ("intake", "verify", "billing")}
        # the server each daemon is on, in /readyz and /metrics (docs/ha.md)
        server = f"{s.cluster.sockdir}:{s.cluster.PORT}"
        for n in pids:
            self.assertEqual(harness.http("GET", s.daemon(n).url + "/readyz").body,
                             {"status": "ready", "database": server}, n)
        db_metric = lambda name, labels="": db_metric_value(s.intake, name, labels)  # noqa: E731
        self.assertEqual(db_metric("lindung_db_server", f'server="{server}"'), 1)
        self.assertEqual(db_metric("lindung_db_unavailable_since_seconds"), 0)
        sessions = db_metric("lindung_db_connections_total")
        self.assertGreaterEqual(sessions, 1)

        s.cluster.stop("immediate")
        harness.wait_until(lambda: set(self.readyz().values()) == {503}, timeout=20,
                           message="every /readyz to answer 503 while PostgreSQL is down")
        body = harness.http("GET", s.verify.url + "/readyz").body
        self.assertEqual(body["status"], "unready")
        self.assertTrue(body["reason"].startswith("database"), body)
        self.assertEqual(harness.http("GET", s.intake.url + "/healthz").status, 200)
        status = self.ctl_json("status", rc=1)
        self.assertFalse(status["ok"])
        self.assertFalse(status["database"]["reachable"])
        self.assertEqual({d["status"] for d in status["daemons"]}, {"unready"})
        self.assertIsNone(status["queue"])
        down_since = db_metric("lindung_db_unavailable_since_seconds")
        self.assertGreater(down_since, time.time() - 60)
        self.assertGreaterEqual(db_metric("lindung_db_connect_failures_total"), 1)
        time.sleep(1.1)  # so that the outage lasts a whole second at least

        s.cluster.start()
        harness.wait_until(lambda: set(self.readyz().values()) == {200}, timeout=30,
                           message="every /readyz to answer 200 after PostgreSQL returned")
        self.assertEqual({n: s.daemon(n).pid for n in pids}, pids, "a daemon restarted")
        self.assertEqual(db_metric("lindung_db_unavailable_since_seconds"), 0)
        self.assertGreaterEqual(db_metric("lindung_db_unavailable_seconds_total"), 1)
        self.assertGreater(db_metric("lindung_db_connections_total"), sessions)
        self.assertTrue(self.ctl_json("status")["ok"])
        self.wait_verified(self.submit(key, [GOOD_MAN]))

        # a daemon that does not answer at all is "down", and status says so
        s.billing.stop()
        doc = self.ctl_json("status", rc=1)
        billing = [d for d in doc["daemons"] if d["name"] == "billing"][0]
        self.assertEqual((billing["status"], billing["http_status"]), ("down", None))
        self.assertTrue(billing["reason"])
        self.assertIn("billing  down", self.ctl("status", rc=1))


# ---------------------------------------------------------------- tracing

def db_metric_value(daemon: harness.Daemon, name: str, labels: str = "") -> float:
    """The value of one sample of `name` in the daemon's /metrics, whose
    labels contain `labels`; fails when there is none."""
    for line in daemon.metrics().splitlines():
        m = re.match(rf"^{re.escape(name)}(\{{[^}}]*\}})? (\S+)$", line)
        if m and labels in (m.group(1) or ""):
            return float(m.group(2))
    raise AssertionError(f"no {name}{{{labels}}} in /metrics")


class Tracing(OpsCase):

    def test_request_id_in_logs_and_trace(self) -> None:
        key = self.boot()
        rid = "ops-trace-" + safe_suffix()
        sid = self.submit(key, [GOOD_MAN, BAD_NIK], request_id=rid)
        self.wait_verified(sid)
        self.bill()

        def lines(daemon: str) -> list[dict]:
            return [x for x in self.stack.daemon(daemon).log_records()
                    if x.get("submission_id") == sid]
        intake = lines("intake")
        self.assertIn("submission.received", [x["event"] for x in intake])
        verify = harness.wait_until(
            lambda: [x for x in lines("verify") if x["event"] == "submission.verified"]
            and lines("verify"), timeout=10, message="verify's log lines")
        for record in intake + verify:
            self.assertEqual(record.get("request_id"), rid, record)

        text = self.ctl("trace", sid)
        self.assertIn(rid, text)
        for step in ("received", "verifying", "verified", "enrolled", "accrued"):
            self.assertRegex(text, rf"\d{{4}}-\d\d-\d\dT[\d:.]+Z\s+{step}\b")
        doc = self.ctl_json("trace", sid)
        self.assertEqual(doc["submission"]["request_id"], rid)

    def test_request_id_in_billing_log(self) -> None:
        key = self.boot()
        rid = "ops-bill-" + safe_suffix()
        self.wait_verified(self.submit(key, [GOOD_MAN], request_id=rid))
        harness.wait_until(
            lambda: any(x.get("request_id") == rid for x in self.stack.billing.log_records()),
            timeout=5, message="billing to log the request id of the enrolments it saw")


# ---------------------------------------------------------------- lindungctl

class Lindungctl(CtlMixin, unittest.TestCase):
    """The read commands against one stack, booted once: the commands change
    nothing, so the tests can share it (and the run stays well inside CTest's
    time limit)."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.stack = harness.Stack()
        try:
            cls.stack.start_postgres()
            key = boot(cls.stack)
            cls.sid = submit(cls.stack, key, [BAD_NIK, TOO_OLD, GOOD_MAN],
                             request_id="ops-ctl-1")
            wait_verified(cls.stack, cls.sid)
            cls.other = submit(cls.stack, key, [GOOD_WOMAN], village=OTHER_VILLAGE)
            wait_verified(cls.stack, cls.other)
            assert bill(cls.stack)["ok"]
        except BaseException:
            cls.stack.dump_logs()
            cls.stack.cleanup()
            raise

    @classmethod
    def tearDownClass(cls) -> None:
        if os.environ.get("LINDUNG_TEST_LOGS") == "1":
            cls.stack.dump_logs()
        cls.stack.cleanup(keep=os.environ.get("LINDUNG_TEST_KEEP") == "1")

    def test_status(self) -> None:
        # billing re-runs its months after each prompt: wait until it is idle,
        # so that the last run status shows is the last run in the database
        last_run = "SELECT max(id) FROM billing_runs WHERE finished_at IS NOT NULL"
        settled = {"mark": None}

        def idle() -> bool:
            mark = self.stack.cluster.scalar(last_run)
            quiet, settled["mark"] = mark == settled["mark"], mark
            return quiet
        harness.wait_until(idle, timeout=60, interval=1.0, message="billing to be idle")
        doc = self.ctl_json("status")
        self.assertTrue(doc["ok"])
        self.assertEqual([d["name"] for d in doc["daemons"]], ["intake", "verify", "billing"])
        for d in doc["daemons"]:
            self.assertEqual((d["status"], d["http_status"], d["reason"]), ("ready", 200, None))
            self.assertEqual(d["url"], f"http://127.0.0.1:{self.stack.ports[d['name']]}/readyz")
        self.assertEqual(doc["database"], {"reachable": True, "error": None})
        self.assertEqual(doc["queue"]["depth"], 0)
        self.assertIsInstance(doc["queue"]["oldest_age_seconds"], (int, float))
        hour = doc["decisions_last_hour"]
        self.assertEqual((hour["accepted"], hour["rejected"]), (2, 2))
        self.assertEqual(hour["reasons"], {"NIK_INVALID": 1, "AGE_OVER_LIMIT": 1})
        # billing may also run on its own schedule: compare with the database
        last = self.stack.cluster.psql(
            "SELECT id, to_char(period, 'YYYY-MM'), trigger, lines_added, amount_added "
            "FROM billing_runs WHERE finished_at IS NOT NULL "
            "ORDER BY finished_at DESC, id DESC LIMIT 1")[0]
        run_ = doc["last_billing_run"]
        self.assertEqual((run_["run_id"], run_["period"], run_["trigger"], run_["lines_added"],
                          run_["amount_added"]),
                         (int(last[0]), last[1], last[2], int(last[3]), int(last[4])))
        for k in ("started_at", "finished_at", "duration_seconds", "age_seconds"):
            self.assertIn(k, run_)
        text = self.ctl("status")
        self.assertEqual(len(re.findall(r"^  (intake|verify|billing)\s+ready\b", text, re.M)), 3)
        self.assertRegex(text, rf"(?m)^last billing\s+{last[1]} run {last[0]} \({last[2]}\)")

    def test_submissions(self) -> None:
        rows = self.ctl_json("submissions")
        self.assertEqual([r["submission_id"] for r in rows], [self.other, self.sid])
        first = rows[1]
        self.assertEqual(first, {
            "submission_id": self.sid, "program_code": PROGRAM, "village_code": VILLAGE,
            "status": "verified", "applicants": 3,
            "counts": {"accepted": 1, "rejected": 2, "pending": 0},
            "received_at": first["received_at"], "verified_at": first["verified_at"],
            "request_id": "ops-ctl-1", "reference": None})
        self.assertRegex(first["received_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        by_village = self.ctl_json("submissions", "--village", OTHER_VILLAGE)
        self.assertEqual([r["submission_id"] for r in by_village], [self.other])
        self.assertEqual(len(self.ctl_json("submissions", "--program", PROGRAM,
                                           "--status", "verified")), 2)
        self.assertEqual(self.ctl_json("submissions", "--status", "received"), [])
        self.assertEqual(self.ctl_json("submissions", "--program", "NO-SUCH"), [])
        self.assertEqual(len(self.ctl_json("submissions", "--limit", "1")), 1)
        self.ctl("submissions", "--status", "lost", rc=2)
        self.ctl("submissions", "--limit", "0", rc=2)
        self.ctl("submissions", "--bogus", rc=2)
        self.assertIn(self.sid, self.ctl("submissions", "--village", VILLAGE))

    def test_participants_masked_unless_asked(self) -> None:
        doc = self.ctl_json("participants", GOOD_MAN["nik"])
        self.assertEqual((doc["nik"], doc["masked"], doc["found"]),
                         ("1612******0001", True, True))
        self.assertEqual(doc["participant"]["name"], GOOD_MAN["name"])
        self.assertEqual(doc["participant"]["birth_date"], GOOD_MAN["birth_date"])
        [e] = doc["enrolments"]
        self.assertEqual((e["program_code"], e["village_code"], e["funding_source"],
                          e["status"], e["start_month"], e["submission_id"]),
                         (PROGRAM, VILLAGE, "ADD", "active", PERIOD, self.sid))
        months, amount = self.stack.cluster.psql(
            f"SELECT count(*), sum(amount) FROM accruals WHERE enrolment_id = {e['enrolment_id']}")[0]
        self.assertGreaterEqual(int(months), 1)  # at least the month billed by hand
        self.assertEqual((e["accrued_months"], e["accrued_amount"]), (int(months), int(amount)))
        [a] = doc["applications"]
        self.assertEqual((a["decision"], a["reasons"]), ("accepted", []))

        text = self.ctl("participants", "1612-0112-0580-0001")  # separators allowed
        self.assertIn("1612******0001", text)
        self.assertIn(f"accrued {months} month(s)", text)

        full = self.ctl("participants", GOOD_MAN["nik"], "--unmasked", masked=False)
        self.assertIn(GOOD_MAN["nik"], full)
        doc = self.ctl_json("participants", GOOD_MAN["nik"], "--unmasked", masked=False)
        self.assertEqual((doc["nik"], doc["masked"]), (GOOD_MAN["nik"], False))

        # rejected: no participant, one application with its reason
        doc = self.ctl_json("participants", TOO_OLD["nik"])
        self.assertEqual((doc["found"], doc["participant"], doc["enrolments"]), (True, None, []))
        self.assertEqual(doc["applications"][0]["reasons"], ["AGE_OVER_LIMIT"])
        doc = self.ctl_json("participants", "1612019999990009", rc=1)
        self.assertFalse(doc["found"])
        self.ctl("participants", "12345", rc=2)
        self.ctl("participants", rc=2)

    def test_trace(self) -> None:
        doc = self.ctl_json("trace", self.sid)
        self.assertEqual(set(doc), {"submission", "events", "decisions", "enrolments",
                                    "accruals"})
        sub = doc["submission"]
        self.assertEqual((sub["submission_id"], sub["status"], sub["applicants"],
                          sub["request_id"], sub["village_name"]),
                         (self.sid, "verified", 3, "ops-ctl-1", "Talang Bulang"))
        periods = self.stack.cluster.psql(
            "SELECT to_char(x.period, 'YYYY-MM') FROM accruals x "
            "JOIN enrolments e ON e.id = x.enrolment_id JOIN applicants a ON a.id = e.applicant_id "
            f"WHERE a.submission_id = '{self.sid}' ORDER BY 1")
        self.assertIn((PERIOD,), periods)
        self.assertEqual([e["event"] for e in doc["events"]],
                         ["received", "verifying", "accepted", "rejected", "verified",
                          "enrolled"] + ["accrued"] * len(periods))
        times = [e["at"] for e in doc["events"]]
        self.assertEqual(times, sorted(times))
        warnings = dict(self.stack.cluster.psql(
            "SELECT w->>'code', count(*) FROM applicants a, jsonb_array_elements(a.warnings) w "
            f"WHERE a.submission_id = '{self.sid}' GROUP BY 1"))
        self.assertEqual(doc["decisions"], {
            "accepted": 1, "rejected": 2, "pending": 0,
            "reasons": {"NIK_INVALID": 1, "AGE_OVER_LIMIT": 1},
            "warnings": {k: int(v) for k, v in warnings.items()}})
        [e] = doc["enrolments"]
        self.assertEqual((e["nik"], e["applicant_index"], e["funding_source"]),
                         ("1612******0001", 2, "ADD"))
        self.assertEqual([line["period"] for line in doc["accruals"]], [p[0] for p in periods])
        line = doc["accruals"][[p[0] for p in periods].index(PERIOD)]
        self.assertEqual((line["jkk"], line["jkm"], line["amount"], line["enrolment_id"]),
                         (10000, 6800, PREMIUM, e["enrolment_id"]))
        self.assertIsInstance(line["supplementary"], bool)
        unmasked = self.ctl_json("trace", self.sid, "--unmasked", masked=False)
        self.assertEqual(unmasked["enrolments"][0]["nik"], GOOD_MAN["nik"])
        self.ctl("trace", str(uuid.uuid4()), rc=1)
        self.ctl("trace", "not-a-uuid", rc=2)
        self.ctl("trace", rc=2)

    def test_help_everywhere(self) -> None:
        for cmd in ("status", "submissions", "participants", "trace"):
            with self.subTest(cmd=cmd):
                self.assertTrue(self.ctl(cmd, "-h").startswith(f"usage: lindungctl {cmd}"))
                self.assertTrue(self.ctl(cmd, "--help").startswith("usage: lindungctl"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
