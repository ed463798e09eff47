"""Integration-test harness for lindung (Python 3.11 standard library only).

An integration test gets a real, throw-away PostgreSQL 15 cluster, the real
daemons built by CMake talking over real ZeroMQ sockets, and real HTTP:

    class MyTest(harness.LindungTestCase):
        def test_something(self):
            s = self.stack                  # Stack: cluster + env + daemons
            s.migrate(); s.import_programs()
            key = s.create_key("admin")
            s.start_daemons()               # intake, verify, billing
            r = s.api("POST", "/v1/submissions", key=key, json={...})
            self.assertEqual(r.status, 202, r.body)

Pieces, each usable on its own:
  Cluster      initdb + postgres on a unix socket in a temp dir; conninfo,
               psql(sql) -> rows (as the superuser, or user=...),
               stop()/start() to simulate a database restart.
  Daemon       one daemon process: start (waits for /healthz), kill(sig),
               stop(), restart(), log_text(), with free ports picked up front.
  Stack        a Cluster plus the LINDUNG_* environment (free HTTP and ZeroMQ
               ports, LINDUNG_SWEEP_MS=500), lindungctl(*args), the three daemons.
               As in production (db/migrations/027_roles.sql), no daemon is a
               superuser: each logs in as its own user (DB_LOGINS), a member
               of its role; lindungctl as `lindungctl` (acting as
               lindung_admin, the owner), except migrate(), which runs as the
               superuser `lindung` like an operator's first migration.
  SharedStackTestCase  one Stack for a whole test class (a costly set-up
               shared by its tests); logs printed once if any test failed.
  http()       JSON-aware HTTP request -> Response(status, headers, body, raw).
  wait_until() poll a predicate until it returns something truthy.

Paths come from the environment CTest sets (tests/integration/CMakeLists.txt):
LINDUNG_BUILD_DIR (the CMake build dir) and LINDUNG_SOURCE_DIR (the repo).
Optional: LINDUNG_PG_BIN (default /usr/lib/postgresql/15/bin),
LINDUNG_DAEMON_WRAPPER (e.g. "valgrind --error-exitcode=99 --leak-check=full"),
LINDUNG_TEST_KEEP=1 (keep the temp dir and print where it is),
LINDUNG_TEST_LOGS=1 (print daemon logs even when the test passes).

Everything is cleaned up even when a test fails: daemons are stopped, PostgreSQL
gets an immediate shutdown, the temp dir is removed. Processes are started with
a parent-death signal, so even a SIGKILLed test run (a CTest timeout) leaves no
server behind. Run this file directly for the harness's own self-test.
"""

from __future__ import annotations

import atexit
import ctypes
import json as jsonlib
import os
import re
import pwd
import random
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
SOURCE_DIR = Path(os.environ.get("LINDUNG_SOURCE_DIR") or HERE.parent.parent).resolve()
BUILD_DIR = Path(os.environ.get("LINDUNG_BUILD_DIR") or SOURCE_DIR / "build").resolve()
PG_BIN = Path(os.environ.get("LINDUNG_PG_BIN") or "/usr/lib/postgresql/15/bin")

BINARIES = {
    "intake": BUILD_DIR / "services/intake/lindung-intake",
    "verify": BUILD_DIR / "services/verify/lindung-verify",
    "billing": BUILD_DIR / "services/billing/lindung-billing",
    "lindungctl": BUILD_DIR / "tools/lindungctl/lindungctl",
}

# Which LINDUNG_*_PORT variable carries each daemon's HTTP port.
PORT_VARS = {
    "intake": "LINDUNG_INTAKE_PORT",
    "verify": "LINDUNG_VERIFY_PORT",
    "billing": "LINDUNG_BILLING_PORT",
}

# The database login of each program, a member of its role of 027_roles.sql
# (deploy/db-users.sql makes them); the cluster's superuser is `lindung`.
# A line of a report by ASan, UBSan, LSan or valgrind (run quiet, -q: it
# prints only errors, each line prefixed with ==PID==).
SANITIZER_REPORT = re.compile(
    r"ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error: |^==\d+== ")

DB_LOGINS = {
    "intake": "intake",
    "verify": "verify",
    "billing": "billing",
    "lindungctl": "lindungctl",
    "analyst": "analyst",
}
DB_ROLES = {
    "intake": "lindung_intake",
    "verify": "lindung_verify",
    "billing": "lindung_billing",
    "lindungctl": "lindung_admin",
    "analyst": "lindung_analyst",
}

PR_SET_PDEATHSIG = 1


def _log(msg: str) -> None:
    print(f"[harness] {msg}", file=sys.stderr, flush=True)


def _set_pdeathsig(sig: int) -> None:
    """Ask the kernel to send `sig` to this process when its parent dies."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    except Exception:  # pragma: no cover - best effort only
        pass


def _preexec(sig: int, user: pwd.struct_passwd | None = None) -> Callable[[], None]:
    """A preexec_fn: drop to `user` (when given), then set the parent-death
    signal (after the uid change, which would clear it)."""

    def fn() -> None:
        if user is not None:
            os.setgroups([])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
        _set_pdeathsig(sig)

    return fn


def _others_can_reach(path: str) -> bool:
    """Whether every directory from / down to `path` is searchable by others."""
    p = Path(path).resolve()
    for d in [p, *p.parents]:
        try:
            if not os.stat(d).st_mode & 0o001:
                return False
        except OSError:
            return False
    return True


_given_ports: set[int] = set()
PORT_LOCKS = Path(tempfile.gettempdir()) / "lindung-test-ports"


def _reserve(port: int) -> bool:
    """Claim `port` for this process across every test process on the machine
    (ctest -j runs several): an exclusive lock file naming our pid. A file
    left by a process that has died is taken over."""
    PORT_LOCKS.mkdir(exist_ok=True)
    path = PORT_LOCKS / str(port)
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                owner = int(path.read_text() or "0")
                os.kill(owner, 0)
                return False  # a live process holds it
            except (ValueError, ProcessLookupError, FileNotFoundError):
                path.unlink(missing_ok=True)  # stale: its owner is gone
                continue
            except PermissionError:
                return False
        with os.fdopen(fd, "w") as f:
            f.write(str(os.getpid()))
        return True
    return False


def _release_ports() -> None:
    for port in _given_ports:
        (PORT_LOCKS / str(port)).unlink(missing_ok=True)


atexit.register(_release_ports)


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago and that no other
    test process on this machine will hand out. Below the kernel's ephemeral
    range (32768-60999 here): ports from that range are also given to outgoing
    client sockets, which could take one between our check and the daemon's
    bind."""
    rng = random.Random(os.getpid() ^ time.monotonic_ns())
    for _ in range(2000):
        port = rng.randrange(20000, 32700)
        if port in _given_ports:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        if not _reserve(port):
            continue
        _given_ports.add(port)
        return port
    raise RuntimeError("no free TCP port found between 20000 and 32700")


def wait_until(predicate: Callable[[], Any], timeout: float = 30.0,
               interval: float = 0.1, message: str = "condition") -> Any:
    """Call predicate() until it returns something truthy; return that value.
    Exceptions from predicate count as 'not yet'. On timeout raise
    AssertionError naming `message` and the last value or exception."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = predicate()
            if last:
                return last
        except Exception as e:  # noqa: BLE001 - any failure means "not yet"
            last = e
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.1f}s waiting for {message};"
                                 f" last: {last!r}")
        time.sleep(interval)


# ---------------------------------------------------------------- HTTP

@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: Any          # parsed JSON when the answer is JSON, else text
    raw: bytes = field(repr=False, default=b"")

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def http(method: str, url: str, json: Any = None, data: bytes | str | None = None,
         headers: dict[str, str] | None = None, timeout: float = 10.0) -> Response:
    """One HTTP request. `json` is sent as application/json; `data` as is (set
    Content-Type yourself). Never raises for an HTTP error status."""
    hdrs = dict(headers or {})
    body: bytes | None = None
    if json is not None:
        body = jsonlib.dumps(json).encode()
        hdrs.setdefault("Content-Type", "application/json")
    elif data is not None:
        body = data.encode() if isinstance(data, str) else data
    req = urllib.request.Request(url, data=body, headers=hdrs, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            status, rh, raw = r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        status, rh, raw = e.code, e.headers, e.read()
    headers_out = {k.lower(): v for k, v in rh.items()}
    parsed: Any = raw.decode("utf-8", "replace")
    ctype = headers_out.get("content-type", "")
    if "json" in ctype or (raw[:1] in (b"{", b"[") and not ctype.startswith("text/csv")):
        try:
            parsed = jsonlib.loads(raw)
        except ValueError:
            pass
    return Response(status, headers_out, parsed, raw)


# ---------------------------------------------------------------- PostgreSQL

class Cluster:
    """A throw-away PostgreSQL cluster on a unix socket in its own temp dir.

    As root, initdb and postgres run as the `postgres` user (initdb refuses
    root) and the temp dir is handed to that user. Superuser `lindung`, trust
    auth, no TCP listener, fsync off (safe against a server crash or an
    immediate stop; only an OS crash could lose data, and it's thrown away)."""

    PORT = 5432  # only names the socket file; the socket dir is private

    def __init__(self, base: Path | None = None):
        self.owns_dir = base is None
        if base is None:
            tmp = tempfile.gettempdir()
            # a unix socket path must stay under ~107 bytes, and as root the
            # `postgres` user must be able to reach the dir
            if len(tmp) > 60 or (os.geteuid() == 0 and not _others_can_reach(tmp)):
                tmp = "/tmp"
            base = Path(tempfile.mkdtemp(prefix="lindung-it-", dir=tmp))
        self.dir = Path(base)
        self.datadir = self.dir / "pgdata"
        self.sockdir = self.dir
        self.logfile = self.dir / "postgres.log"
        self.proc: subprocess.Popen | None = None
        self._pguser = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
        self.conninfo = self.conninfo_as("lindung")

    def conninfo_as(self, user: str, dbname: str = "lindung") -> str:
        """The connection string for `user` (trust auth: no password)."""
        return f"host={self.sockdir} port={self.PORT} dbname={dbname} user={user}"

    # -- life cycle
    def _run_as_pg(self, argv: list[str], **kw) -> subprocess.CompletedProcess:
        return subprocess.run(argv, cwd=self.dir, stdin=subprocess.DEVNULL,
                              preexec_fn=_preexec(signal.SIGKILL, self._pguser),
                              capture_output=True, text=True, **kw)

    def init(self) -> "Cluster":
        if self._pguser is not None:
            os.chown(self.dir, self._pguser.pw_uid, self._pguser.pw_gid)
            os.chmod(self.dir, 0o700)
        r = self._run_as_pg([str(PG_BIN / "initdb"), "-D", str(self.datadir),
                             "-U", "lindung", "--auth=trust", "-E", "UTF8",
                             "--no-locale", "--no-sync"], timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"initdb failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
        return self

    def start(self, timeout: float = 60.0) -> "Cluster":
        """Start the server (postmaster as our child) and wait until it answers."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        log = open(self.logfile, "ab")
        if self._pguser is not None:
            os.chown(self.logfile, self._pguser.pw_uid, self._pguser.pw_gid)
        self.proc = subprocess.Popen(
            [str(PG_BIN / "postgres"), "-D", str(self.datadir),
             "-p", str(self.PORT), "-k", str(self.sockdir),
             "-c", "listen_addresses=", "-c", "fsync=off",
             # no synchronous_commit=off: an immediate stop would lose commits
             # that tests of "restart loses nothing" rely on
             "-c", "full_page_writes=off",
             "-c", "max_connections=200", "-c", "shared_buffers=64MB"],
            cwd=self.dir, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            # SIGQUIT = immediate shutdown, if this test process dies
            preexec_fn=_preexec(signal.SIGQUIT, self._pguser))
        log.close()

        def ready() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited with {self.proc.returncode}:\n"
                                   + self.log_tail())
            r = subprocess.run([str(PG_BIN / "pg_isready"), "-q", "-h", str(self.sockdir),
                                "-p", str(self.PORT), "-U", "lindung", "-d", "postgres"],
                               stdin=subprocess.DEVNULL, capture_output=True)
            return r.returncode == 0

        deadline = time.monotonic() + timeout
        while not ready():
            if time.monotonic() > deadline:
                raise RuntimeError("postgres did not become ready:\n" + self.log_tail())
            time.sleep(0.05)
        return self

    def create_database(self, name: str = "lindung") -> None:
        self.psql(f'CREATE DATABASE "{name}"', dbname="postgres")

    def stop(self, mode: str = "immediate", timeout: float = 30.0) -> None:
        """Stop the server: 'immediate' (SIGQUIT, like pg_ctl -m immediate),
        'fast' (SIGINT) or 'smart' (SIGTERM)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        sig = {"immediate": signal.SIGQUIT, "fast": signal.SIGINT,
               "smart": signal.SIGTERM}[mode]
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def restart(self, mode: str = "immediate") -> None:
        self.stop(mode)
        self.start()

    def cleanup(self, keep: bool = False) -> None:
        self.stop("immediate")
        if self.owns_dir and not keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no postgres log)"

    # -- queries
    def psql(self, sql: str, dbname: str = "lindung", timeout: float = 60.0,
             user: str = "lindung") -> list[tuple[str | None, ...]]:
        """Run SQL with psql (as the superuser `lindung` unless `user` says
        another login); return the rows of the last statement as tuples of
        strings (None for NULL). Raises RuntimeError on any SQL error."""
        conn = self.conninfo_as(user, dbname)
        r = subprocess.run([str(PG_BIN / "psql"), "-X", "-q", "-A", "-t",
                            "-v", "ON_ERROR_STOP=1", "-F", "\x1f", "-R", "\x1e",
                            "-P", "null=\\N", "-d", conn, "-c", sql],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"psql failed ({r.returncode}) for {sql!r}:\n"
                               + r.stderr.decode(errors="replace"))
        out = r.stdout.decode()
        if not out:  # no rows (one row of one empty string prints "\n")
            return []
        if out.endswith("\n"):
            out = out[:-1]
        return [tuple(None if c == "\\N" else c for c in rec.split("\x1f"))
                for rec in out.split("\x1e")]

    def scalar(self, sql: str, dbname: str = "lindung", user: str = "lindung") -> str | None:
        rows = self.psql(sql, dbname, user=user)
        return rows[0][0] if rows else None


# ---------------------------------------------------------------- daemons

class Daemon:
    """One daemon process with its log in `logfile`. start() waits for
    GET /healthz to answer 200. `env` is read at each start (a test may change
    it between restarts). The daemon logs in as its own user (DB_LOGINS, by
    its binary): LINDUNG_DB is `db` when given, else env's LINDUNG_DB with
    its user= made that login, so that a daemon a test makes from a copy of
    the stack's environment is no more privileged than the stack's."""

    def __init__(self, name: str, binary: Path, env: dict[str, str], http_port: int,
                 logfile: Path, wrapper: list[str] | None = None, db: str | None = None):
        self.name, self.binary, self.env, self.db = name, Path(binary), env, db
        self.login = next((DB_LOGINS[p] for p, b in BINARIES.items()
                           if b == self.binary and p in DB_LOGINS), None)
        self.http_port, self.logfile = http_port, logfile
        self.wrapper = wrapper if wrapper is not None else shlex.split(
            os.environ.get("LINDUNG_DAEMON_WRAPPER", ""))
        self.proc: subprocess.Popen | None = None
        self.exit_codes: list[int] = []
        self.reports: list[str] = []  # sanitizer or valgrind reports, by run
        self._log_from = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 30.0) -> "Daemon":
        if not self.binary.exists():
            raise RuntimeError(f"{self.name}: binary {self.binary} not built")
        log = open(self.logfile, "ab")
        self._log_from = log.tell()
        log.write(f"--- harness: starting {self.name} at {time.strftime('%H:%M:%S')}\n".encode())
        log.flush()
        env = dict(self.env)
        if self.db:
            env["LINDUNG_DB"] = self.db
        elif self.login and "LINDUNG_DB" in env:
            env["LINDUNG_DB"] = " ".join([p for p in env["LINDUNG_DB"].split()
                                          if not p.startswith("user=")]
                                         + [f"user={self.login}"])
        self.proc = subprocess.Popen(self.wrapper + [str(self.binary)], env=env,
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                     preexec_fn=_preexec(signal.SIGKILL))
        log.close()
        if self.wrapper:  # valgrind and friends are slow to start
            timeout *= 4

        def healthy() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}"
                                   f" during start-up; log:\n{self.log_tail()}")
            r = http("GET", self.url + "/healthz", timeout=2)
            return r.status == 200

        deadline = time.monotonic() + timeout
        while True:
            try:
                if healthy():
                    return self
            except RuntimeError:
                raise
            except Exception:
                pass
            if time.monotonic() > deadline:
                self.kill(signal.SIGKILL)
                raise RuntimeError(f"{self.name} did not answer /healthz on port "
                                   f"{self.http_port} within {timeout:.0f}s; log:\n"
                                   + self.log_tail())
            time.sleep(0.05)

    def kill(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int | None:
        """Send `sig` and wait for the process to end; return its exit code
        (negative: killed by that signal). SIGKILL after `timeout`."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout * (4 if self.wrapper else 1))
            except subprocess.TimeoutExpired:
                _log(f"{self.name} ignored signal {sig} for {timeout:.0f}s; SIGKILL")
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode
        self.exit_codes.append(rc)
        self.proc = None
        self._find_reports(rc)
        return rc

    def _find_reports(self, rc: int) -> None:
        """Keep what ASan, UBSan, LSan or valgrind (LINDUNG_DAEMON_WRAPPER)
        wrote to this run's log, or its error exit code (99: valgrind's
        --error-exitcode in docs/development.md), so that Stack.cleanup can
        fail the test: a report nobody reads proves nothing."""
        try:
            with open(self.logfile, "rb") as f:
                f.seek(self._log_from)
                text = f.read().decode(errors="replace")
        except OSError:
            return
        lines = [ln for ln in text.splitlines() if SANITIZER_REPORT.search(ln)]
        if lines or rc == 99:
            self.reports.append(f"{self.name} (exit {rc}):\n" + "\n".join(lines[:20]))

    def stop(self) -> int | None:
        """Graceful stop (SIGTERM); returns the exit code (0 = clean)."""
        return self.kill(signal.SIGTERM)

    def restart(self, sig: int = signal.SIGTERM) -> "Daemon":
        self.kill(sig)
        return self.start()

    def metrics(self) -> str:
        return http("GET", self.url + "/metrics").body

    def log_text(self) -> str:
        try:
            return self.logfile.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 80) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def log_records(self) -> list[dict]:
        """The JSON log lines as dicts (other lines skipped)."""
        out = []
        for line in self.log_text().splitlines():
            line = line.strip()
            if line.startswith("{"):
                try:
                    out.append(jsonlib.loads(line))
                except ValueError:
                    pass
        return out


# ---------------------------------------------------------------- the whole system

# See Stack.migrate(). In a schema of its own, out of the way of tests that
# look at what public holds; an event trigger's function is called without
# any EXECUTE check, so nobody else needs to reach it.
FIXTURE_OWNER_SQL = r"""
CREATE SCHEMA IF NOT EXISTS harness;
REVOKE ALL ON SCHEMA harness FROM PUBLIC;
CREATE OR REPLACE FUNCTION harness.fixture_owner() RETURNS event_trigger
LANGUAGE plpgsql AS $$
DECLARE
    t regclass;
BEGIN
    FOR t IN SELECT c.oid FROM pg_event_trigger_ddl_commands() x
             JOIN pg_class c ON c.oid = x.objid
             WHERE x.object_type = 'table' AND c.relnamespace = 'public'::regnamespace
               AND c.relname LIKE 'accruals\_%'
               AND c.relowner <> 'lindung_admin'::regrole LOOP
        EXECUTE format('ALTER TABLE %s OWNER TO lindung_admin', t);
    END LOOP;
END $$;
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_event_trigger WHERE evtname = 'harness_fixture_owner') THEN
        CREATE EVENT TRIGGER harness_fixture_owner ON ddl_command_end
            WHEN TAG IN ('CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO')
            EXECUTE FUNCTION harness.fixture_owner();
    END IF;
END $$;
"""

class Stack:
    """A Cluster (with database `lindung`) plus the environment and daemons of
    one lindung installation, all on free local ports."""

    def __init__(self, sweep_ms: int = 500, log_level: str = "debug"):
        self.cluster = Cluster()
        self.dir = self.cluster.dir
        self.daemons: dict[str, Daemon] = {}
        self.ports = {name: free_port() for name in PORT_VARS}
        bus = {v: free_port() for v in ("submissions", "enrolments", "control")}
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith("LINDUNG_") and not k.startswith("PG")}
        self.env.update({
            # lindungctl's; each daemon logs in as its own user (Daemon)
            "LINDUNG_DB": self.cluster.conninfo_as(DB_LOGINS["lindungctl"]),
            "LINDUNG_MIGRATIONS": str(SOURCE_DIR / "db/migrations"),
            "LINDUNG_BUS_SUBMISSIONS": f"tcp://127.0.0.1:{bus['submissions']}",
            "LINDUNG_BUS_ENROLMENTS": f"tcp://127.0.0.1:{bus['enrolments']}",
            "LINDUNG_BILLING_CONTROL": f"tcp://127.0.0.1:{bus['control']}",
            "LINDUNG_SWEEP_MS": str(sweep_ms),
            "LINDUNG_LOG_LEVEL": log_level,
        })
        for name, var in PORT_VARS.items():
            self.env[var] = str(self.ports[name])
        # sanitizer builds: fail loudly, keep going on leaks only at exit
        self.env.setdefault("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1")
        self.env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")

    def start_postgres(self) -> "Stack":
        self.cluster.init().start()
        self.cluster.create_database("lindung")
        # The logins exist from the start, with no privilege yet (migrate()
        # makes them members of their roles): a daemon or lindungctl started
        # before the schema is there fails as it would with any user.
        self.cluster.psql("; ".join(f'CREATE ROLE "{u}" LOGIN' for u in DB_LOGINS.values()),
                          dbname="postgres")
        return self

    # -- lindungctl
    def lindungctl(self, *args: str, check: bool = True, input: str | None = None,
                   timeout: float = 60.0,
                   env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """Run lindungctl with this stack's environment (`env` overrides some
        of it); text output captured. With check=True a non-zero exit raises
        AssertionError with the output."""
        argv = [str(BINARIES["lindungctl"]), *map(str, args)]
        r = subprocess.run(argv, env={**self.env, **(env or {})}, input=input,
                           capture_output=True,
                           text=True, timeout=timeout,
                           stdin=None if input is not None else subprocess.DEVNULL)
        if check and r.returncode != 0:
            raise AssertionError(f"lindungctl {' '.join(map(str, args))} exited "
                                 f"{r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}")
        return r

    def migrate(self) -> None:
        """`lindungctl migrate` as the superuser (027_roles.sql makes the roles
        and gives lindung_admin every object), then deploy/db-users.sql: the
        logins become members of their roles, lindungctl acts as
        lindung_admin."""
        self.lindungctl("migrate", env={"LINDUNG_DB": self.cluster.conninfo})
        r = subprocess.run([str(PG_BIN / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                            "-d", self.cluster.conninfo,
                            "-f", str(SOURCE_DIR / "deploy/db-users.sql")],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"deploy/db-users.sql failed ({r.returncode}):\n{r.stderr}")
        # Tests fake what billing leaves behind (a stale part of a month, a
        # month's partition) as the superuser; billing drops and replaces such
        # tables through lindung_admin's functions (027), which may drop only
        # what lindung_admin owns, as every table billing makes is. So here a
        # table of accruals' family a superuser makes goes to lindung_admin,
        # as if billing had made it.
        self.cluster.psql(FIXTURE_OWNER_SQL)

    def import_programs(self, path: Path | str | None = None) -> None:
        """The demo programmes (or `path`); with the demo programmes also the
        test fixture PALI-TEST-ADD (programs_test.json): PALI's rules with no
        end, so that tests of the flow do not depend on today's date."""
        self.lindungctl("program", "import",
                        str(path or SOURCE_DIR / "db/seed/programs.json"))
        if path is None:
            self.lindungctl("program", "import",
                            str(SOURCE_DIR / "tests/integration/programs_test.json"))

    def create_key(self, scope: str = "admin", name: str | None = None) -> str:
        name = name or f"test-{scope}-{time.monotonic_ns()}"
        out = self.lindungctl("apikey", "create", "--name", name, "--scope", scope).stdout
        lines = [ln.strip() for ln in out.splitlines() if ln.strip()]
        if len(lines) != 1:
            raise AssertionError(f"apikey create printed {len(lines)} lines, expected "
                                 f"the key alone: {out!r}")
        return lines[0]

    # -- daemons
    def daemon(self, name: str) -> Daemon:
        if name not in self.daemons:
            self.daemons[name] = Daemon(name, BINARIES[name], self.env, self.ports[name],
                                        self.dir / f"{name}.log")
        return self.daemons[name]

    def start_daemons(self, *names: str) -> None:
        """Start the named daemons (default: billing, intake, verify — the
        binding side of each socket first, though ZeroMQ does not need it)."""
        for name in names or ("billing", "intake", "verify"):
            self.daemon(name).start()

    @property
    def intake(self) -> Daemon:
        return self.daemon("intake")

    @property
    def verify(self) -> Daemon:
        return self.daemon("verify")

    @property
    def billing(self) -> Daemon:
        return self.daemon("billing")

    def api(self, method: str, path: str, key: str | None = None,
            headers: dict[str, str] | None = None, **kw) -> Response:
        """HTTP against intake; `key` becomes `Authorization: Bearer key`."""
        hdrs = dict(headers or {})
        if key is not None:
            hdrs["Authorization"] = f"Bearer {key}"
        return http(method, self.intake.url + path, headers=hdrs, **kw)

    # -- diagnostics and clean-up
    def dump_logs(self, stream=None, lines: int = 200) -> None:
        stream = stream or sys.stderr
        for name, d in self.daemons.items():
            print(f"\n===== {name} log (last {lines} lines, {d.logfile}) =====",
                  file=stream)
            print(d.log_tail(lines), file=stream)
        print(f"\n===== postgres log (last 40 lines) =====", file=stream)
        print(self.cluster.log_tail(40), file=stream, flush=True)

    def cleanup(self, keep: bool = False) -> None:
        """Stop the daemons and the cluster; then fail (AssertionError) when
        a daemon's log holds a sanitizer or valgrind report."""
        for d in list(self.daemons.values()):
            try:
                d.kill(signal.SIGTERM, timeout=10)
            except Exception as e:  # keep cleaning
                _log(f"stopping {d.name}: {e}")
        reports = [r for d in self.daemons.values() for r in d.reports]
        self.cluster.cleanup(keep=keep or bool(reports))
        if keep or reports:
            _log(f"kept {self.dir}")
        if reports:
            raise AssertionError("sanitizer or valgrind reports in daemon logs:\n"
                                 + "\n\n".join(reports))


def problem_count(case: unittest.TestCase) -> int | None:
    """Failures + errors recorded so far (subtests included), or None when
    the result object cannot tell."""
    result = getattr(getattr(case, "_outcome", None), "result", None)
    try:
        return len(result.failures) + len(result.errors)
    except AttributeError:
        return None


class SharedStackTestCase(unittest.TestCase):
    """One `cls.stack` for the whole class, for tests that share a costly
    set-up (a migrated database, running daemons). setUpClass makes the
    Stack and its clean-up; the subclass's setUpClass calls it first, then
    starts PostgreSQL and what it needs. When any test of the class failed
    (or LINDUNG_TEST_LOGS=1) the logs are printed once, at the end."""

    stack: Stack
    failed = False

    @classmethod
    def setUpClass(cls) -> None:
        keep = os.environ.get("LINDUNG_TEST_KEEP") == "1"
        cls.stack = Stack()
        cls.addClassCleanup(cls._cleanup_stack, keep)

    @classmethod
    def _cleanup_stack(cls, keep: bool) -> None:
        if cls.failed or os.environ.get("LINDUNG_TEST_LOGS") == "1":
            cls.stack.dump_logs()
        cls.stack.cleanup(keep=keep)

    def setUp(self) -> None:
        self._problems_before = problem_count(self)
        self.addCleanup(self._note_failure)

    def _note_failure(self) -> None:
        now = problem_count(self)
        if now is None or self._problems_before is None or now > self._problems_before:
            type(self).failed = True


class LindungTestCase(unittest.TestCase):
    """Gives each test a fresh `self.stack` with PostgreSQL started and the
    database created (not yet migrated). On failure the daemon and postgres
    logs are printed; then everything is torn down."""

    stack: Stack

    def setUp(self) -> None:
        keep = os.environ.get("LINDUNG_TEST_KEEP") == "1"
        self._problems_before = problem_count(self)
        self.stack = Stack()
        self.addCleanup(self.stack.cleanup, keep)
        self.addCleanup(self._dump_logs_if_failed)  # runs before the clean-up
        self.stack.start_postgres()

    def _dump_logs_if_failed(self) -> None:
        now = problem_count(self)
        failed = now is None or self._problems_before is None or now > self._problems_before
        if failed or os.environ.get("LINDUNG_TEST_LOGS") == "1":
            self.stack.dump_logs()


# ---------------------------------------------------------------- self-test

class HarnessSelfTest(unittest.TestCase):
    """The PostgreSQL part of the harness and its helpers; needs no daemon."""

    def test_cluster_life_cycle(self) -> None:
        c = Cluster()
        try:
            c.init().start()
            c.create_database()
            self.assertEqual(c.scalar("SELECT current_user"), "lindung")
            self.assertTrue(c.scalar("SHOW server_version").startswith("15"))
            c.psql("CREATE TABLE t (a int, b text)")
            c.psql("INSERT INTO t VALUES (1, 'x|y'), (2, NULL), (3, 'line\nbreak')")
            self.assertEqual(c.psql("SELECT a, b FROM t ORDER BY a"),
                             [("1", "x|y"), ("2", None), ("3", "line\nbreak")])
            self.assertEqual(c.psql("SELECT 1 WHERE false"), [])
            with self.assertRaises(RuntimeError):
                c.psql("SELECT * FROM no_such_table")
            # a restart keeps the data (immediate stop = crash recovery)
            c.restart("immediate")
            self.assertEqual(c.scalar("SELECT count(*) FROM t"), "3")
            # nothing listens on TCP
            self.assertEqual(c.scalar("SHOW listen_addresses"), "")
        finally:
            c.cleanup()
        self.assertFalse(c.dir.exists())
        self.assertIsNotNone(c.proc.returncode)

    def test_two_clusters_side_by_side(self) -> None:
        a, b = Cluster(), Cluster()
        try:
            for c in (a, b):
                c.init().start()
                c.create_database()
            a.psql("CREATE TABLE only_in_a (x int)")
            self.assertEqual(b.psql("SELECT to_regclass('only_in_a') IS NULL"), [("t",)])
        finally:
            a.cleanup()
            b.cleanup()

    def test_wait_until(self) -> None:
        n = iter(range(100))
        self.assertEqual(wait_until(lambda: next(n) >= 3 and "done", 5, 0.01), "done")
        with self.assertRaises(AssertionError):
            wait_until(lambda: False, 0.2, 0.05, "never")

    def test_free_port_and_http_errors(self) -> None:
        p = free_port()
        self.assertGreater(p, 0)
        with self.assertRaises(OSError):
            http("GET", f"http://127.0.0.1:{p}/healthz", timeout=2)

    def test_stack_env(self) -> None:
        s = Stack()
        try:
            ports = [s.env[v] for v in PORT_VARS.values()]
            self.assertEqual(len(set(ports)), 3)
            self.assertTrue(s.env["LINDUNG_DB"].startswith(f"host={s.dir} "))
            self.assertEqual(s.env["LINDUNG_SWEEP_MS"], "500")
        finally:
            s.cleanup()
        self.assertFalse(s.dir.exists())


if __name__ == "__main__":
    unittest.main(verbosity=2)
