"""ZeroMQ security (issue 15, finding 9): with CURVE keys configured, a process
without keys, or with keys the servers do not know, can neither make billing
run a month nor slip messages into verify or billing, nor listen to intake's
prompts, while the daemons and a keyed lindungctl work as before; key files
are checked (loose secrets and half configurations refuse to start); junk
message types do not grow the metrics; and a run for a month far from now
(2099-12) is refused unless forced.

The stranger is this file's own ZeroMQ peer, written against the wire
protocol (ZMTP 3.0, NULL mechanism) with the standard library only: what any
local process can do without libzmq or keys. CTest name: integration_zmq_auth.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import socket
import struct
import subprocess
import threading
import time
import unittest
from pathlib import Path

import harness
import nikgen

PROGRAM = "PALI-TEST-ADD"
VILLAGE = "16.12.01.2001"
THIS_MONTH = (datetime.datetime.now(datetime.timezone.utc)
              + datetime.timedelta(hours=7)).strftime("%Y-%m")
FAR_MONTH = "2099-12"


# ---------------------------------------------------------------- a keyless peer

class Refused(Exception):
    """The other end would not talk to a keyless peer."""


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise Refused(f"connection closed after {len(data)} of {n} bytes")
        data += chunk
    return data


def _greeting() -> bytes:
    """ZMTP 3.0 greeting: signature, version 3.0, mechanism NULL, not a server."""
    return (b"\xff" + b"\x00" * 8 + b"\x7f" + bytes([3, 0])
            + b"NULL".ljust(20, b"\x00") + b"\x00" + b"\x00" * 31)


def _frame(body: bytes, more: bool = False, command: bool = False) -> bytes:
    flags = (0x01 if more else 0) | (0x04 if command else 0)
    if len(body) > 255:
        return bytes([flags | 0x02]) + struct.pack(">Q", len(body)) + body
    return bytes([flags, len(body)]) + body


class Peer:
    """One ZMTP 3.0 connection with the NULL mechanism (no keys)."""

    def __init__(self, sock: socket.socket, socket_type: str):
        self.sock = sock
        try:
            self._handshake(socket_type)
        except BaseException:
            sock.close()
            raise

    def _handshake(self, socket_type: str) -> None:
        sock = self.sock
        sock.settimeout(3)
        sock.sendall(_greeting())
        theirs = _recv_exact(sock, 64)
        mechanism = theirs[12:32].rstrip(b"\x00")
        if mechanism != b"NULL":
            raise Refused(f"the peer wants {mechanism.decode(errors='replace')}")
        prop = lambda k, v: bytes([len(k)]) + k + struct.pack(">I", len(v)) + v
        ready = b"\x05READY" + prop(b"Socket-Type", socket_type.encode())
        sock.sendall(_frame(ready, command=True))
        flags, body = self._read_frame()
        if not flags & 0x04 or not body.startswith(b"\x05READY"):
            raise Refused(f"no READY from the peer: {body[:40]!r}")

    @classmethod
    def connect(cls, endpoint: str, socket_type: str) -> "Peer":
        host, port = re.match(r"tcp://([^:]+):(\d+)$", endpoint).groups()
        return cls(socket.create_connection((host, int(port)), timeout=3), socket_type)

    def _read_frame(self) -> tuple[int, bytes]:
        flags = _recv_exact(self.sock, 1)[0]
        size = (struct.unpack(">Q", _recv_exact(self.sock, 8))[0] if flags & 0x02
                else _recv_exact(self.sock, 1)[0])
        return flags, _recv_exact(self.sock, size)

    def send(self, *parts: bytes) -> None:
        self.sock.sendall(b"".join(_frame(p, more=i < len(parts) - 1)
                                   for i, p in enumerate(parts)))

    def recv(self) -> list[bytes]:
        """One message (commands such as subscriptions skipped)."""
        parts: list[bytes] = []
        while True:
            flags, body = self._read_frame()
            if flags & 0x04:
                continue
            parts.append(body)
            if not flags & 0x01:
                return parts

    def close(self) -> None:
        self.sock.close()


def envelope(type_: str, id_: str) -> bytes:
    return json.dumps({"type": type_, "id": id_, "request_id": "stranger",
                       "sent_at": "2099-12-01T00:00:00Z"}).encode()


def port_of(endpoint: str) -> int:
    return int(endpoint.rsplit(":", 1)[1])


# ---------------------------------------------------------------- tests

class ZmqAuthTest(harness.LindungTestCase):

    def keygen(self, dir_: Path, *clients: str) -> str:
        args = ["zmq", "keygen", str(dir_)]
        for c in clients:
            args += ["--client", c]
        return self.stack.lindungctl(*args).stdout

    def use_keys(self, keys: Path) -> None:
        """Servers (intake, billing) and verify get their keys; lindungctl's
        are given per call (ctl)."""
        self.stack.env.update({
            "LINDUNG_ZMQ_SERVER_SECRET_FILE": str(keys / "server.secret"),
            "LINDUNG_ZMQ_AUTHORIZED_KEYS_DIR": str(keys / "authorized"),
            "LINDUNG_ZMQ_SERVER_PUBLIC_FILE": str(keys / "server.pub"),
            "LINDUNG_ZMQ_CLIENT_SECRET_FILE": str(keys / "verify.secret"),
        })

    def ctl(self, *args: str, env: dict[str, str | None] | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess:
        """lindungctl with the stack's environment changed by `env` (None
        removes a variable); not checked."""
        e = dict(self.stack.env)
        for k, v in (env or {}).items():
            if v is None:
                e.pop(k, None)
            else:
                e[k] = v
        return subprocess.run([str(harness.BINARIES["lindungctl"]), *args], env=e,
                              capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)

    def runs_of(self, month: str) -> int:
        return int(self.stack.cluster.scalar(
            f"SELECT count(*) FROM billing_runs WHERE period = '{month}-01'"))

    def received(self, daemon: harness.Daemon, type_: str | None = None) -> float:
        total = 0.0
        for line in daemon.metrics().splitlines():
            m = re.match(r'lindung_bus_messages_received_total\{type="([^"]*)"\} (\S+)', line)
            if m and (type_ is None or m.group(1) == type_):
                total += float(m.group(2))
        return total

    # -- CURVE on: strangers out, keyed clients in
    def test_strangers_are_refused_and_keyed_clients_work(self) -> None:
        s = self.stack
        s.migrate()
        s.import_programs()
        key = s.create_key("admin")
        keys = s.dir / "keys"
        out = self.keygen(keys)
        self.assertIn("LINDUNG_ZMQ_AUTHORIZED_KEYS_DIR", out)
        self.assertEqual((keys / "server.secret").stat().st_mode & 0o777, 0o600)
        self.assertEqual((keys / "verify.secret").stat().st_mode & 0o777, 0o600)
        self.assertTrue((keys / "authorized" / "lindungctl.pub").exists())
        self.assertFalse((keys / "authorized" / "server.pub").exists())
        server_pub = (keys / "server.pub").read_text()
        self.keygen(keys)  # again: everything kept
        self.assertEqual((keys / "server.pub").read_text(), server_pub)
        self.use_keys(keys)
        ctl_keys = {"LINDUNG_ZMQ_CLIENT_SECRET_FILE": str(keys / "lindungctl.secret")}
        s.start_daemons()
        for d in (s.billing, s.intake, s.verify):
            self.assertIn("zmq.curve", d.log_text(), d.name)
            self.assertNotIn("zmq.unauthenticated", d.log_text(), d.name)

        # the daemons talk over CURVE: verify is ready (both handshakes done),
        # a submission is decided and billing is prompted
        harness.wait_until(lambda: harness.http("GET", s.verify.url + "/readyz").status == 200,
                           timeout=30, message="verify ready over CURVE")
        # (a prompt published before the subscription reached intake is
        # dropped, as designed: submit again rather than wait for a sweep)
        for i in range(5):
            r = s.api("POST", "/v1/submissions", key=key, json={
                "program_code": PROGRAM, "village_code": VILLAGE,
                "applicants": [nikgen.person(2 * i), nikgen.person(2 * i + 1)]})
            self.assertEqual(r.status, 202, r.body)
            sid = r.body["submission_id"]
            harness.wait_until(lambda: s.api("GET", f"/v1/submissions/{sid}", key=key)
                               .body.get("status") == "verified", timeout=30,
                               message="submission verified")
            if self.received(s.verify, "submission.received") >= 1:
                break
        self.assertGreaterEqual(self.received(s.verify, "submission.received"), 1,
                                "verify never prompted by intake over CURVE")
        harness.wait_until(lambda: self.received(s.billing, "enrolments.changed") >= 1,
                           timeout=30, message="billing prompted by verify over CURVE")
        self.assertIn('"client":"verify"', s.billing.log_text())

        # a keyed lindungctl runs a month
        r = self.ctl("billing", "run", THIS_MONTH, env=ctl_keys)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertTrue(json.loads(r.stdout)["ok"], r.stdout)
        self.assertRegex(s.billing.log_text(), r'"billing.run_requested".*"by":"lindungctl"')

        # a stranger on the control socket: no answer, no run, even forced
        with self.assertRaises(Refused):
            p = Peer.connect(s.env["LINDUNG_BILLING_CONTROL"], "REQ")
            p.send(b"", json.dumps({"command": "run", "period": FAR_MONTH,
                                    "force": True}).encode())
            p.recv()
        # lindungctl without keys, with an unknown key, with the wrong server key
        self.keygen(keys / "other", "stranger")
        other = keys / "other"
        for case, env in (
                ("no keys", {"LINDUNG_ZMQ_SERVER_PUBLIC_FILE": None,
                             "LINDUNG_ZMQ_CLIENT_SECRET_FILE": None,
                             "LINDUNG_ZMQ_SERVER_SECRET_FILE": None,
                             "LINDUNG_ZMQ_AUTHORIZED_KEYS_DIR": None}),
                ("unknown client key",
                 {"LINDUNG_ZMQ_CLIENT_SECRET_FILE": str(other / "stranger.secret")}),
                ("wrong server key",
                 {**ctl_keys, "LINDUNG_ZMQ_SERVER_PUBLIC_FILE": str(other / "server.pub")})):
            with self.subTest(case=case):
                t0 = time.monotonic()
                r = self.ctl("billing", "run", FAR_MONTH, "--force",
                             env={**env, "LINDUNG_CTL_TIMEOUT_S": "30"})
                self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                self.assertIn("refused the ZeroMQ handshake", r.stderr)
                self.assertLess(time.monotonic() - t0, 20, "a refusal is not a timeout")
        self.assertEqual(self.runs_of(FAR_MONTH), 0)
        self.assertIn("zmq.client_refused", s.billing.log_text())

        # a stranger publishing into billing: refused, nothing received
        before = self.received(s.billing)
        with self.assertRaises(Refused):
            p = Peer.connect(s.env["LINDUNG_BUS_ENROLMENTS"], "PUB")
            for i in range(50):
                p.send(b"enrolments.changed", envelope("enrolments.changed", f"stranger-{i}"))
            p.recv()
        time.sleep(1)
        self.assertEqual(self.received(s.billing), before)
        self.assertNotIn("stranger-", s.billing.log_text())

        # a stranger subscribing to intake's prompts: refused
        with self.assertRaises(Refused):
            Peer.connect(s.env["LINDUNG_BUS_SUBMISSIONS"], "SUB").recv()

        # a stranger in intake's place: verify will not take its prompts
        s.intake.stop()
        got = self.impersonate_intake(s.env["LINDUNG_BUS_SUBMISSIONS"])
        self.assertEqual(got, 0, "a keyless publisher completed a handshake with verify")
        self.assertNotIn("stranger-submission", s.verify.log_text())
        ready = harness.http("GET", s.verify.url + "/readyz")
        self.assertEqual(ready.status, 503, ready.body)
        self.assertIn("handshake", ready.body.get("reason", ""), ready.body)

        # a new client key counts from the next connection, without a restart;
        # removing it revokes the client
        self.keygen(keys, "ops2")
        ops2 = {"LINDUNG_ZMQ_CLIENT_SECRET_FILE": str(keys / "ops2.secret")}
        r = self.ctl("billing", "run", THIS_MONTH, env=ops2)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        (keys / "authorized" / "ops2.pub").unlink()
        r = self.ctl("billing", "run", THIS_MONTH, env={**ops2, "LINDUNG_CTL_TIMEOUT_S": "30"})
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("refused the ZeroMQ handshake", r.stderr)

    def impersonate_intake(self, endpoint: str) -> int:
        """Listen on intake's endpoint for 4 s, as a keyless publisher; return
        how many of verify's connections completed a handshake (each is then
        sent a submission.received)."""
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", port_of(endpoint)))
        srv.listen(8)
        srv.settimeout(0.5)
        done = 0
        deadline = time.monotonic() + 4
        try:
            while time.monotonic() < deadline:
                try:
                    conn, _ = srv.accept()
                except socket.timeout:
                    continue
                try:
                    p = Peer(conn, "PUB")
                    time.sleep(0.3)  # let the subscription arrive
                    p.send(b"submission.received",
                           envelope("submission.received", "stranger-submission"))
                    done += 1
                    time.sleep(0.5)
                except (Refused, OSError):
                    pass
                finally:
                    conn.close()
        finally:
            srv.close()
        return done

    # -- key files and settings that must stop a start
    def test_unsafe_or_incomplete_keys_refuse_to_start(self) -> None:
        s = self.stack
        s.migrate()
        keys = s.dir / "keys"
        self.keygen(keys)
        self.use_keys(keys)

        def start(name: str, env: dict[str, str | None]) -> subprocess.CompletedProcess:
            e = dict(s.env)
            for k, v in env.items():
                if v is None:
                    e.pop(k, None)
                else:
                    e[k] = v
            return subprocess.run([str(harness.BINARIES[name])], env=e, timeout=30,
                                  capture_output=True, text=True, stdin=subprocess.DEVNULL)

        secret = keys / "server.secret"
        os.chmod(secret, 0o640)
        for name in ("billing", "intake"):
            r = start(name, {})
            self.assertEqual(r.returncode, 2, (name, r.stderr))
            self.assertIn("readable by its owner only", r.stderr)
            self.assertIn(str(secret), r.stderr)
        os.chmod(secret, 0o600)

        client = keys / "verify.secret"
        os.chmod(client, 0o604)
        r = start("verify", {})
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("readable by its owner only", r.stderr)
        r = self.ctl("billing", "run", THIS_MONTH)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("readable by its owner only", r.stderr)
        os.chmod(client, 0o600)

        os.chmod(keys / "authorized", 0o777)
        r = start("billing", {})
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("chmod go-w", r.stderr)
        os.chmod(keys / "authorized", 0o755)

        # half configured: a server without its authorized keys, a client
        # without the server's public key
        r = start("billing", {"LINDUNG_ZMQ_AUTHORIZED_KEYS_DIR": None})
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("LINDUNG_ZMQ_AUTHORIZED_KEYS_DIR", r.stderr)
        r = start("verify", {"LINDUNG_ZMQ_SERVER_PUBLIC_FILE": None})
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("LINDUNG_ZMQ_SERVER_PUBLIC_FILE", r.stderr)

        # a file that is not a key
        (keys / "broken.secret").write_text("not a key\n")
        os.chmod(keys / "broken.secret", 0o600)
        r = start("billing", {"LINDUNG_ZMQ_SERVER_SECRET_FILE": str(keys / "broken.secret")})
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("not a CURVE key", r.stderr)

    # -- no keys: as before, with a warning; junk does not grow the metrics
    def test_without_keys_junk_types_do_not_grow_metrics(self) -> None:
        s = self.stack
        s.migrate()
        s.start_daemons("billing")
        self.assertIn("zmq.unauthenticated", s.billing.log_text())
        p = Peer.connect(s.env["LINDUNG_BUS_ENROLMENTS"], "PUB")
        time.sleep(0.3)
        for i in range(1000):
            p.send(f"junk.{i}".encode(), envelope(f"junk.{i}", f"junk-{i}"))
        p.send(b"x", b"not json")
        p.send(b"only one part")
        p.send(b"enrolments.changed", envelope("enrolments.changed", "real-one"))

        # messages arrive in order: the real one last
        harness.wait_until(lambda: self.received(s.billing, "enrolments.changed") >= 1,
                           timeout=30, message="billing to read the stranger's messages")
        p.close()
        text = s.billing.metrics()
        series = [ln for ln in text.splitlines()
                  if ln.startswith("lindung_bus_messages_received_total{")]
        self.assertEqual(sorted(re.search(r'type="([^"]*)"', ln).group(1) for ln in series),
                         ["enrolments.changed", "unknown"], series)
        self.assertEqual(self.received(s.billing, "unknown"), 1002)
        self.assertEqual(self.received(s.billing, "enrolments.changed"), 1)
        self.assertNotIn("junk.", text)
        # one warning, not a thousand
        self.assertLessEqual(s.billing.log_text().count('"bus.junk"'), 2)

    # -- months far from now need force
    def test_far_months_need_force(self) -> None:
        s = self.stack
        s.migrate()
        s.import_programs()
        s.start_daemons("billing")
        r = self.ctl("billing", "run", FAR_MONTH)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual(doc["ok"], False, doc)
        self.assertEqual(doc["error"], "PERIOD_OUT_OF_WINDOW", doc)
        self.assertEqual(doc["period"], FAR_MONTH, doc)
        now = datetime.date.fromisoformat(THIS_MONTH + "-01")
        self.assertEqual(doc["latest"], f"{now.year + 1}-{now.month:02d}", doc)
        self.assertEqual(doc["earliest"], f"{now.year - 5}-{now.month:02d}", doc)
        self.assertIn("--force", r.stderr)
        self.assertEqual(self.runs_of(FAR_MONTH), 0)
        r = self.ctl("billing", "run", "1990-01")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertEqual(json.loads(r.stdout)["error"], "PERIOD_OUT_OF_WINDOW")
        r = self.ctl("billing", "run", FAR_MONTH, "--froce")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)

        r = self.ctl("billing", "run", FAR_MONTH, "--force")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        doc = json.loads(r.stdout)
        self.assertTrue(doc["ok"], doc)
        self.assertTrue(doc["forced"], doc)
        self.assertEqual(self.runs_of(FAR_MONTH), 1)
        self.assertRegex(s.billing.log_text(), r'"billing.run_forced".*"period":"2099-12"')

        r = self.ctl("billing", "run", THIS_MONTH)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertFalse(json.loads(r.stdout)["forced"])

        # a narrower window: next month needs force
        s.billing.stop()
        s.env["LINDUNG_BILLING_MAX_FUTURE_MONTHS"] = "0"
        s.billing.start()
        nxt = (now.replace(day=28) + datetime.timedelta(days=5)).strftime("%Y-%m")
        r = self.ctl("billing", "run", nxt)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertEqual(json.loads(r.stdout)["latest"], THIS_MONTH)


if __name__ == "__main__":
    unittest.main(verbosity=2)
