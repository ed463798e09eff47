"""HTTPS in intake itself (issue 15; docs/operations.md "HTTPS"), against
lindung-intake given LINDUNG_INTAKE_TLS_CERT_FILE and
LINDUNG_INTAKE_TLS_KEY_FILE: a throw-away self-signed certificate for
127.0.0.1, made with the openssl CLI in the test's temp dir.

- with that certificate as the only trusted CA, /healthz answers and a keyed
  submission is answered 202; the limits judged from a request head still
  answer over TLS (401 without a key, 413 from Content-Length);
- a client that allows TLS 1.2 at most is served; one that offers TLS 1.1 at
  most gets no ServerHello (skipped when this Python's OpenSSL will not even
  write such a ClientHello);
- a plain-HTTP request to the TLS port gets no HTTP answer;
- a TCP client that sends nothing, one that sends part of a ClientHello and
  one that finishes the handshake and then sends nothing are each closed by
  the head deadline (LINDUNG_HTTP_HEADER_TIMEOUT_S, 2 s here), counted as
  lindung_http_connections_closed_total{reason="header_timeout"};
- only one of the two variables set, a missing file, a file without a
  certificate, one over 1 MiB, a key others may read, an encrypted key, or
  a key that is not the certificate's: intake exits non-zero at start with
  a message saying so.

No timing assertion but generous deadlines. Only intake runs.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import time
import unittest
import urllib.request
import warnings
from pathlib import Path

import harness

HEADER_TIMEOUT_S = 2
CLOSED_WITHIN_S = 30           # generous: the deadline is 2 s
PROGRAM = "PALI-TEST-ADD"
VILLAGE = "16.12.01.2001"
APPLICANT = {"nik": "1612011205800001", "name": "Budi Santoso",
             "birth_date": "1980-05-12", "sex": "M", "occupation": "PETANI/PEKEBUN"}
CERT_VAR, KEY_VAR = "LINDUNG_INTAKE_TLS_CERT_FILE", "LINDUNG_INTAKE_TLS_KEY_FILE"


def openssl(*args: str) -> None:
    if not shutil.which("openssl"):
        raise RuntimeError("the openssl CLI is missing: run scripts/deps")
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60,
                   stdin=subprocess.DEVNULL)


def make_certificate(d: Path) -> tuple[Path, Path]:
    """A self-signed P-256 certificate for 127.0.0.1 and its key (mode 0600)."""
    cert, key = d / "cert.pem", d / "key.pem"
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout", str(key), "-out", str(cert))
    key.chmod(0o600)
    return cert, key


def client_hello(ctx: ssl.SSLContext) -> bytes | None:
    """The first flight ctx's client writes (its ClientHello), without any
    server; None when OpenSSL refuses to write one at all."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    except ssl.SSLError:
        return None
    return outgoing.read() or None


def highest_offered(hello: bytes) -> int:
    """The highest TLS version a ClientHello record offers (0x0302 is TLS
    1.1): its client_version, or the highest of its supported_versions
    extension when it has one (TLS 1.3 clients put 1.2 in client_version)."""
    assert hello[0] == 0x16 and hello[5] == 0x01, "not a ClientHello record"
    body = hello[9:]
    best = int.from_bytes(body[0:2], "big")
    i = 2 + 32                                       # version, random
    i += 1 + body[i]                                 # session id
    i += 2 + int.from_bytes(body[i:i + 2], "big")    # cipher suites
    i += 1 + body[i]                                 # compression methods
    end = i + 2 + int.from_bytes(body[i:i + 2], "big") if i < len(body) else i
    i += 2
    while i + 4 <= end:
        kind = int.from_bytes(body[i:i + 2], "big")
        size = int.from_bytes(body[i + 2:i + 4], "big")
        if kind == 0x002b:                           # supported_versions
            data = body[i + 5:i + 4 + size]
            best = max(int.from_bytes(data[j:j + 2], "big")
                       for j in range(0, len(data), 2))
        i += 4 + size
    return best


def read_until_closed(s: socket.socket, timeout: float) -> bytes:
    """Everything the server sends until it closes (a reset counts as
    closed); raises TimeoutError when it is still open after `timeout`."""
    s.settimeout(timeout)
    got = b""
    try:
        while chunk := s.recv(4096):
            got += chunk
    except ConnectionResetError:
        pass
    return got


def metric(text: str, name: str, labels: str = "") -> float:
    total = 0.0
    for line in text.splitlines():
        m = re.match(rf"^{re.escape(name)}(\{{[^}}]*\}})? (\S+)$", line)
        if m and labels in (m.group(1) or ""):
            total += float(m.group(2))
    return total


class HttpsDaemon(harness.Daemon):
    """An intake reached over HTTPS: harness.http goes through the opener
    TLS.setUpClass installs, which trusts the test's certificate only."""

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.http_port}"


class TLS(harness.SharedStackTestCase):
    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        s = cls.stack
        cls.cert, cls.key = make_certificate(s.dir)
        cls.trusting = ssl.create_default_context(cafile=str(cls.cert))
        urllib.request.install_opener(urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=cls.trusting)))
        cls.addClassCleanup(urllib.request.install_opener, None)
        s.start_postgres()
        s.migrate()
        s.import_programs()
        cls.admin = s.create_key("admin", name="tls-admin")
        s.env.update({CERT_VAR: str(cls.cert), KEY_VAR: str(cls.key),
                      "LINDUNG_HTTP_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S)})
        cls.intake = HttpsDaemon("intake", harness.BINARIES["intake"], s.env,
                                 s.ports["intake"], s.dir / "intake.log")
        s.daemons["intake"] = cls.intake
        cls.intake.start()


    # -- helpers
    def api(self, method: str, path: str, **kw) -> harness.Response:
        headers = {"Authorization": f"Bearer {self.admin}"}
        return harness.http(method, self.intake.url + path, headers=headers, **kw)

    def tcp(self) -> socket.socket:
        s = socket.create_connection(("127.0.0.1", self.intake.http_port), timeout=10)
        self.addCleanup(s.close)
        return s

    def run_intake(self, **env: str) -> subprocess.CompletedProcess:
        """intake started with the stack's environment changed by env (a
        value None: unset); it is expected to stop at once."""
        e = dict(self.stack.env)
        e["LINDUNG_INTAKE_PORT"] = str(harness.free_port())
        e["LINDUNG_BUS_SUBMISSIONS"] = f"tcp://127.0.0.1:{harness.free_port()}"
        for k, v in env.items():
            if v is None:
                e.pop(k, None)
            else:
                e[k] = v
        return subprocess.run([str(harness.BINARIES["intake"])], env=e,
                              capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)

    # ------------------------------------------------------------ tests

    def test_a_keyed_submission_over_https(self) -> None:
        self.assertEqual(harness.http("GET", self.intake.url + "/healthz").status, 200)
        r = self.api("POST", "/v1/submissions", json={
            "program_code": PROGRAM, "village_code": VILLAGE,
            "reference": "over HTTPS", "applicants": [APPLICANT]})
        self.assertEqual(r.status, 202, r.body)
        self.assertEqual(r.body.get("status"), "received", r.body)
        started = [x for x in self.intake.log_records() if x.get("event") == "started"]
        self.assertEqual(started[-1].get("scheme"), "https", started)

    def test_b_head_limits_over_https(self) -> None:
        r = harness.http("POST", self.intake.url + "/v1/submissions", json={})
        self.assertEqual(r.status, 401, r.body)
        conn = http.client.HTTPSConnection("127.0.0.1", self.intake.http_port,
                                           context=self.trusting, timeout=10)
        try:
            conn.putrequest("POST", "/v1/submissions")
            conn.putheader("Authorization", f"Bearer {self.admin}")
            conn.putheader("Content-Type", "application/json")
            conn.putheader("Content-Length", str(1 << 30))
            conn.endheaders()
            r = conn.getresponse()
            self.assertEqual(r.status, 413, r.read())
        finally:
            conn.close()

    def test_c_tls_1_2_is_served(self) -> None:
        ctx = ssl.create_default_context(cafile=str(self.cert))
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        with ctx.wrap_socket(self.tcp(), server_hostname="127.0.0.1") as t:
            self.assertEqual(t.version(), "TLSv1.2")
            t.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            self.assertTrue(read_until_closed(t, 10).startswith(b"HTTP/1.1 200"))

    def test_d_tls_1_1_is_refused(self) -> None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                ctx.minimum_version = ssl.TLSVersion.TLSv1
                ctx.maximum_version = ssl.TLSVersion.TLSv1_1
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # OpenSSL 3 needs it below 1.2
        except (ValueError, ssl.SSLError) as e:
            self.skipTest(f"this Python's ssl cannot make a TLS 1.1 client: {e}")
        hello = client_hello(ctx)
        if hello is None:
            self.skipTest("this Python's OpenSSL will not write a TLS 1.1 ClientHello")
        self.assertLessEqual(highest_offered(hello), 0x0302, "not a TLS 1.1 client")
        s = self.tcp()
        s.sendall(hello)
        reply = read_until_closed(s, CLOSED_WITHIN_S)
        # an alert (0x15) or nothing; a handshake record (0x16) would be a ServerHello
        self.assertFalse(reply.startswith(b"\x16"), f"the server answered {reply[:16]!r}")

    def test_e_plain_http_gets_no_http_answer(self) -> None:
        s = self.tcp()
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        reply = read_until_closed(s, CLOSED_WITHIN_S)
        self.assertNotIn(b"HTTP/", reply)
        self.assertNotIn(b"status", reply)

    def test_f_silent_and_half_handshakes_closed_by_the_head_deadline(self) -> None:
        before = metric(self.intake.metrics(), "lindung_http_connections_closed_total",
                        'reason="header_timeout"')
        silent = self.tcp()
        partial = self.tcp()
        partial.sendall(client_hello(ssl.create_default_context())[:40])
        idle = self.trusting.wrap_socket(self.tcp(), server_hostname="127.0.0.1")
        self.addCleanup(idle.close)
        for name, s in (("silent", silent), ("partial ClientHello", partial),
                        ("handshake done, no request", idle)):
            with self.subTest(name):
                try:
                    read_until_closed(s, CLOSED_WITHIN_S)
                except ssl.SSLError:
                    pass  # the TLS connection ended without close_notify: closed
        harness.wait_until(
            lambda: metric(self.intake.metrics(), "lindung_http_connections_closed_total",
                           'reason="header_timeout"') >= before + 3,
            timeout=10, message="three header_timeout closes counted")

    def test_h_lindungctl_status_asks_over_https(self) -> None:
        # trusting the certificate intake serves (the same environment)
        r = self.stack.lindungctl("status", "--json", check=False)
        doc = json.loads(r.stdout)
        intake = next(d for d in doc["daemons"] if d["name"] == "intake")
        self.assertEqual((intake["status"], intake["http_status"]), ("ready", 200), intake)
        self.assertTrue(intake["url"].startswith("https://"), intake)
        # trusting another certificate: refused, and the reason says why
        other_dir = self.stack.dir / "other-ca"
        other_dir.mkdir(exist_ok=True)
        other, _ = make_certificate(other_dir)
        r = self.stack.lindungctl("status", "--json", check=False,
                                  env={"LINDUNG_INTAKE_CA_FILE": str(other)})
        intake = next(d for d in json.loads(r.stdout)["daemons"] if d["name"] == "intake")
        self.assertEqual(intake["status"], "down", intake)
        self.assertIn("TLS", intake["reason"], intake)

    def test_g_bad_tls_settings_stop_the_start(self) -> None:
        d = self.stack.dir
        no_cert = d / "no-cert.pem"
        no_cert.write_text("hello\n")
        open_key = d / "open-key.pem"
        shutil.copy(self.key, open_key)
        open_key.chmod(0o644)
        other_key = d / "other-key.pem"
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-out", str(other_key))
        other_key.chmod(0o600)
        encrypted_key = d / "encrypted-key.pem"
        openssl("pkey", "-in", str(self.key), "-aes256", "-passout", "pass:secret",
                "-out", str(encrypted_key))
        encrypted_key.chmod(0o600)
        huge = d / "huge.pem"
        huge.write_bytes(self.cert.read_bytes() + b"#" * (2 << 20))
        cert, key = str(self.cert), str(self.key)
        cases = [
            ("certificate only", {KEY_VAR: None}, 2, f"{CERT_VAR} is set but {KEY_VAR}"),
            ("key only", {CERT_VAR: None}, 2, f"{KEY_VAR} is set but {CERT_VAR}"),
            ("missing file", {CERT_VAR: str(d / "absent.pem")}, 2, "absent.pem"),
            ("no certificate in it", {CERT_VAR: str(no_cert)}, 2, "no PEM certificate"),
            ("over 1 MiB", {CERT_VAR: str(huge)}, 2, "larger than"),
            ("key open to others", {KEY_VAR: str(open_key)}, 2, "must not be open"),
            ("encrypted key", {KEY_VAR: str(encrypted_key)}, 2, "no unencrypted PEM"),
            ("key of another certificate", {KEY_VAR: str(other_key)}, 1, "do not match"),
        ]
        for name, env, code, says in cases:
            with self.subTest(name):
                r = self.run_intake(**{CERT_VAR: cert, KEY_VAR: key, **env})
                self.assertEqual(r.returncode, code, r.stderr)
                self.assertIn(says, r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
