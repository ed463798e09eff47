"""A Patroni cluster for integration tests: scripts/ha-cluster from Python.

    import hacluster

    c = hacluster.HaCluster(nodes=3, etcd=1)    # a temp dir of its own
    c.start()                                    # returns once a sync standby streams
    c.psql("CREATE TABLE t (x int)")             # on the primary (target_session_attrs=read-write)
    c.psql("SELECT count(*) FROM t", node="node2")   # on one node, primary or standby
    name = c.kill_primary()                      # SIGKILL of the primary's postmaster
    took = c.wait_for_primary(timeout=60)        # seconds until a primary commits a write
    old, new, took = c.switchover()
    c.stop()                                     # every process ended, or AssertionError
    c.cleanup()                                  # stop (if needed) and remove the temp dir

Like harness.Cluster: as root the servers run as the `postgres` user (the
script does that) in a temp dir it can reach; `LINDUNG_TEST_KEEP=1` keeps the
dir. The cluster's processes outlive the script that started them, so
start() passes --die-with with this process's pid: a test killed by a CTest
timeout still leaves nothing running (the watcher stops it within seconds).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import harness

SCRIPT = harness.SOURCE_DIR / "scripts/ha-cluster"


class HaCluster:
    """One cluster made by scripts/ha-cluster in its own temp dir."""

    def __init__(self, nodes: int = 3, etcd: int = 1, strict: bool = False,
                 base: Path | None = None):
        self.nodes, self.etcd, self.strict = nodes, etcd, strict
        self.owns_dir = base is None
        if base is None:
            tmp = tempfile.gettempdir()
            if len(tmp) > 60 or (os.geteuid() == 0 and not harness._others_can_reach(tmp)):
                tmp = "/tmp"
            base = Path(tempfile.mkdtemp(prefix="lindung-ha-", dir=tmp))
        self.base = Path(base)
        self.dir = self.base / "cluster"  # the script wants a new, empty dir
        self.started = False
        self.start_seconds: float | None = None
        self._conninfo: dict[tuple[str, bool], str] = {}

    # -- the script
    def run(self, *args: str, check: bool = True, timeout: float = 240) -> subprocess.CompletedProcess:
        r = subprocess.run([str(SCRIPT), *args], capture_output=True, text=True,
                           stdin=subprocess.DEVNULL, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"scripts/ha-cluster {' '.join(args)} exited {r.returncode}\n"
                                 f"stdout:\n{r.stdout}\nstderr:\n{r.stderr}")
        return r

    def start(self, timeout: float = 180) -> float:
        """Start and wait for a primary with a synchronous standby and every
        node streaming; returns the seconds the script took."""
        if self.owns_dir and self.base.exists() and os.geteuid() == 0:
            os.chmod(self.base, 0o755)  # the postgres user must reach self.dir
        args = ["start", str(self.dir), "--nodes", str(self.nodes), "--etcd", str(self.etcd),
                "--timeout", str(timeout), "--die-with", str(os.getpid())]
        if self.strict:
            args.append("--strict")
        t0 = time.monotonic()
        self.started = True
        r = self.run(*args, timeout=timeout + 60)
        self.start_seconds = time.monotonic() - t0
        m = re.search(r" in ([0-9.]+)s ", r.stdout)
        if m:
            self.start_seconds = float(m.group(1))
        return self.start_seconds

    def stop(self) -> None:
        """Stop everything; AssertionError when a process is left."""
        if not self.started:
            return
        self.run("stop", str(self.dir), timeout=120)
        self.started = False
        left = self.processes()
        if left:
            raise AssertionError(f"processes left after stop: {left}")

    def cleanup(self, keep: bool | None = None) -> None:
        if keep is None:
            keep = os.environ.get("LINDUNG_TEST_KEEP") == "1"
        try:
            if self.started:
                self.run("stop", str(self.dir), check=False, timeout=120)
                self.started = False
        finally:
            if keep:
                harness._log(f"kept {self.dir}")
            elif self.owns_dir:
                shutil.rmtree(self.base, ignore_errors=True)

    def conninfo(self, user: str = "lindung", prefer_standby: bool = False) -> str:
        """`scripts/ha-cluster conninfo`: the multi-host string (ports never
        change, so it is asked once per user and kind)."""
        key = (user, prefer_standby)
        if key not in self._conninfo:
            args = ["conninfo", str(self.dir), "--user", user]
            if prefer_standby:
                args.append("--prefer-standby")
            self._conninfo[key] = self.run(*args).stdout.strip()
        return self._conninfo[key]

    def primary(self) -> str | None:
        """The primary's node name, or None while there is none."""
        r = self.run("primary", str(self.dir), check=False, timeout=30)
        return r.stdout.split()[0] if r.returncode == 0 and r.stdout.strip() else None

    def kill_primary(self) -> str:
        """SIGKILL the primary's postmaster; returns the node's name."""
        out = self.run("kill-primary", str(self.dir)).stdout
        return out.split()[1]

    def switchover(self, candidate: str | None = None, timeout: float = 120) -> tuple[str, str, float]:
        """Planned switchover (patronictl); (old, new, seconds until the new
        primary committed a write)."""
        args = ["switchover", str(self.dir), "--timeout", str(timeout)]
        if candidate:
            args += ["--candidate", candidate]
        out = self.run(*args, timeout=timeout + 60).stdout
        m = re.search(r"from (\S+) to (\S+): .* after ([0-9.]+)s", out)
        if not m:
            raise AssertionError(f"unexpected switchover output: {out!r}")
        return m.group(1), m.group(2), float(m.group(3))

    def status(self) -> str:
        r = self.run("status", str(self.dir), check=False, timeout=60)
        return r.stdout + r.stderr

    # -- the cluster's state, read directly
    def state(self) -> dict:
        import json
        return json.loads((self.dir / "cluster.json").read_text())

    def node_port(self, name: str) -> int:
        return next(n["pg_port"] for n in self.state()["nodes"] if n["name"] == name)

    def node_names(self) -> list[str]:
        return [n["name"] for n in self.state()["nodes"]]

    def processes(self) -> list[str]:
        """Processes still running whose command line names the cluster dir
        (etcd, patroni, postgres -D)."""
        prefix = str(self.dir.resolve())
        out = []
        for p in Path("/proc").iterdir():
            if not p.name.isdigit():
                continue
            try:
                cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if prefix + "/" in cmd and "ha-cluster" not in cmd:
                out.append(f"{p.name}: {cmd.strip()[:120]}")
        return out

    def psql(self, sql: str, node: str | None = None, user: str = "lindung",
             dbname: str = "lindung", timeout: float = 30) -> list[tuple[str | None, ...]]:
        """Rows of the last statement, as harness.Cluster.psql: through the
        multi-host string (the primary) or on `node`. Raises RuntimeError."""
        if node is None:
            conn = self.conninfo(user).replace("dbname=lindung", f"dbname={dbname}")
        else:
            conn = (f"host=127.0.0.1 port={self.node_port(node)} dbname={dbname} "
                    f"user={user}")
        r = subprocess.run([str(harness.PG_BIN / "psql"), "-X", "-q", "-A", "-t",
                            "-v", "ON_ERROR_STOP=1", "-F", "\x1f", "-R", "\x1e",
                            "-P", "null=\\N", "-d", conn + " connect_timeout=3", "-c", sql],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"psql failed ({r.returncode}) for {sql!r}:\n"
                               + r.stderr.decode(errors="replace"))
        out = r.stdout.decode()
        if not out:
            return []
        if out.endswith("\n"):
            out = out[:-1]
        return [tuple(None if c == "\\N" else c for c in rec.split("\x1f"))
                for rec in out.split("\x1e")]

    def scalar(self, sql: str, node: str | None = None, **kw) -> str | None:
        rows = self.psql(sql, node, **kw)
        return rows[0][0] if rows else None

    def wait_for_primary(self, timeout: float = 60, interval: float = 0.1) -> float:
        """Seconds until a write commits through the multi-host string, as a
        client of lindung's would see it (libpq finds the node that takes
        writes; the commit returns once a synchronous standby has it)."""
        conn = self.conninfo()
        t0 = time.monotonic()
        last = ""
        while True:
            # No statement_timeout: a cancelled wait for the synchronous
            # standby reports the commit as done anyway (a WARNING); an
            # attempt that waits too long is abandoned by ending psql.
            try:
                r = subprocess.run([str(harness.PG_BIN / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                                    "-d", conn + " connect_timeout=2",
                                    "-c", "CREATE TEMP TABLE ha_probe (x int)",
                                    "-c", "INSERT INTO ha_probe VALUES (1)"],
                                   stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                   timeout=10)
                if r.returncode == 0 and "canceling wait for synchronous" not in r.stderr:
                    return time.monotonic() - t0
                last = r.stderr.strip()
            except subprocess.TimeoutExpired:
                last = "a write waited 10 s (for a synchronous standby?)"
            if time.monotonic() - t0 > timeout:
                raise AssertionError(f"no primary took a write within {timeout:.0f}s; "
                                     f"last error: {last}\n{self.status()}")
            time.sleep(interval)

    def wait_streaming(self, timeout: float = 90) -> str:
        """Wait until every node is back: a primary, the others streaming,
        a synchronous standby chosen (what start waits for)."""
        def ok():
            s = self.status()
            return "standbys" in s and "replication: primary" in s and \
                s.count("(sync)") == 1 and s.count("(async)") + 1 == self.nodes - 1 and s
        return harness.wait_until(ok, timeout=timeout, interval=0.5,
                                  message="every node streaming again")

    def log_tail(self, lines: int = 40) -> str:
        out = []
        for name in self.node_names():
            f = self.dir / name / "patroni.log"
            try:
                text = "\n".join(f.read_text(errors="replace").splitlines()[-lines:])
            except OSError:
                text = "(no log)"
            out.append(f"===== {name} patroni+postgres log (last {lines} lines) =====\n{text}")
        return "\n".join(out)
