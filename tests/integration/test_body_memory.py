"""Request bodies cost intake memory only once the request head has passed
(issue 15, hardening; docs/security.md "HTTP limits").

- A keyless POST is answered 401 UNAUTHENTICATED from its head alone, before
  a body byte is sent, whatever body would have followed (chunked or with a
  Content-Length); so are a wrong route (404), a wrong method (405), a
  wrong Content-Type (415, keyed) and a Content-Length over the cap (413).
  100 keyless chunked POSTs of 8 MiB + 1 byte sent at once raise intake's
  peak resident memory (VmHWM, reset before each case through
  /proc/PID/clear_refs) by less than KEYLESS_MB over its VmRSS before: they
  used to be buffered, some 900 MB, and kept past the 30 s timeout.
- Bodies that are read (keyed, with the right head) share one budget,
  LINDUNG_HTTP_BODY_BUDGET_MB (BUDGET_MB here): 40 keyed chunked POSTs of
  8 MiB + 1 byte (413 at the cap, or 503 SERVER_BUSY when the budget is
  spent) and 20 keyed malformed 8 MiB bodies (400, or 503) raise the peak by
  less than BUDGET_MB + SLACK_MB, and the buffers are given back: VmRSS ends
  within KEYLESS_MB of where it started.

Only intake runs.
"""

from __future__ import annotations

import json
import os
import threading
import unittest
from pathlib import Path

import socket

import harness

MAX_BODY = 8 * 1024 * 1024          # LINDUNG_MAX_BODY's default
KEYLESS_MB = 16                     # 100 keyless uploads: connections, no bodies
BUDGET_MB = 32                      # LINDUNG_HTTP_BODY_BUDGET_MB for this test
SLACK_MB = 32                       # beyond the budget: pools, parsers, answers
CHUNK = b"x" * 65536


def status_kb(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(rest.split()[0])
    return out


def reset_peak(pid: int) -> None:
    """Set VmHWM back to VmRSS (Linux 4.0+), so a case measures its own peak."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        pass  # then VmHWM is the peak since start: a stricter test


def head(path: str, key: str | None = None, ctype: str | None = "application/json",
         length: int | None = None, method: str = "POST") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: intake"]
    if key:
        lines.append(f"Authorization: Bearer {key}")
    if ctype:
        lines.append(f"Content-Type: {ctype}")
    lines.append(f"Content-Length: {length}" if length is not None
                 else "Transfer-Encoding: chunked")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_answer(s: socket.socket) -> tuple[int, dict | None] | None:
    """(status, JSON body) of the answer on s, or None when none came."""
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            more = s.recv(65536)
            if not more:
                return None
            data += more
        top, _, rest = data.partition(b"\r\n\r\n")
        status = int(top.split(b" ", 2)[1])
        length = 0
        for line in top.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(rest) < length:
            more = s.recv(65536)
            if not more:
                break
            rest += more
        try:
            return status, json.loads(rest[:length])
        except ValueError:
            return status, None
    except OSError:
        return None


def answer_to_head(port: int, request_head: bytes) -> tuple[int, dict | None] | None:
    """The answer to a request head sent alone, without any body byte."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(request_head)
        return read_answer(s)


def upload(port: int, request_head: bytes, size: int, chunked: bool) -> int | None:
    """Send a head and `size` body bytes (as far as the server reads them);
    the answer's status, or None when the connection ended without one."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        try:
            s.sendall(request_head)
            left = size
            while left:
                piece = CHUNK[:min(left, len(CHUNK))]
                left -= len(piece)
                s.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            if chunked:
                s.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered early and closed: read what it said
        answer = read_answer(s)
        return answer[0] if answer else None


def upload_all(port: int, request_head: bytes, size: int, chunked: bool,
               n: int) -> list[int | None]:
    statuses: list[int | None] = [None] * n

    def one(i: int) -> None:
        statuses[i] = upload(port, request_head, size, chunked)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return statuses


class BodyMemory(harness.SharedStackTestCase):
    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        s = cls.stack
        s.env["LINDUNG_HTTP_BODY_BUDGET_MB"] = str(BUDGET_MB)
        s.start_postgres()
        s.migrate()
        s.import_programs()
        cls.admin = s.create_key("admin", name="memory-admin")
        s.start_daemons("intake")
        cls.port = s.intake.http_port


    def measure(self, label: str, fn) -> tuple[float, float, object]:
        """Run fn(); (peak growth, end growth) of intake in MB over its VmRSS
        before, and what fn returned."""
        pid = self.stack.intake.pid
        before = status_kb(pid)
        reset_peak(pid)
        out = fn()
        after = status_kb(pid)
        peak = (max(after["VmHWM"], after["VmRSS"]) - before["VmRSS"]) / 1024
        end = (after["VmRSS"] - before["VmRSS"]) / 1024
        print(f"\n{label}: VmRSS {before['VmRSS'] // 1024} MB before, peak +{peak:.1f} MB,"
              f" after +{end:.1f} MB", flush=True)
        return peak, end, out

    def assert_error(self, answer, status: int, code: str) -> None:
        self.assertIsNotNone(answer, f"no answer; expected {status} {code}")
        self.assertEqual(answer[0], status, answer)
        self.assertEqual((answer[1] or {}).get("error", {}).get("code"), code, answer)

    # ------------------------------------------------------------ from the head

    def test_a_heads_answered_before_any_body_byte(self) -> None:
        p, key = self.port, self.admin
        for length in (None, 100, MAX_BODY):   # chunked or not, whatever would follow
            for path in ("/v1/submissions", "/v1/events", "/v1/claims",
                         "/v1/invoices/1/payments"):
                with self.subTest(path=path, length=length):
                    self.assert_error(answer_to_head(p, head(path, length=length)),
                                      401, "UNAUTHENTICATED")
        self.assert_error(answer_to_head(p, head("/v1/submissions", length=MAX_BODY + 1)),
                          413, "BODY_TOO_LARGE")
        self.assert_error(answer_to_head(p, head("/v1/nothing-here", key)), 404, "NOT_FOUND")
        self.assert_error(answer_to_head(p, head("/v1/programs", key)),
                          405, "METHOD_NOT_ALLOWED")
        self.assert_error(answer_to_head(p, head("/v1/submissions", key, "text/plain")),
                          415, "UNSUPPORTED_MEDIA_TYPE")
        self.assert_error(answer_to_head(p, head("/v1/events", key, None, length=10)),
                          415, "UNSUPPORTED_MEDIA_TYPE")

    def test_b_keyed_bodies_share_a_budget_and_are_given_back(self) -> None:
        p, key = self.port, self.admin
        peak, end, statuses = self.measure(
            "40 keyed wrong Content-Type 8 MiB", lambda: upload_all(
                p, head("/v1/submissions", key, "text/plain", MAX_BODY), MAX_BODY,
                False, 40))
        self.assertLess(peak, KEYLESS_MB)
        self.assertTrue(set(statuses) <= {415, None}, statuses)

        peak, end, statuses = self.measure(
            "40 keyed chunked 8 MiB + 1", lambda: upload_all(
                p, head("/v1/submissions", key), MAX_BODY + 1, True, 40))
        self.assertTrue(set(statuses) <= {413, 503, None}, statuses)
        self.assertIn(413, statuses)
        self.assertLess(peak, BUDGET_MB + SLACK_MB)
        self.assertLess(end, KEYLESS_MB)

        def malformed() -> list[int | None]:
            return upload_all(p, head("/v1/submissions", key, length=MAX_BODY), MAX_BODY,
                              False, 20)

        peak, end, statuses = self.measure("20 keyed malformed 8 MiB", malformed)
        self.assertTrue(set(statuses) <= {400, 503, None}, statuses)
        self.assertIn(400, statuses)
        self.assertLess(peak, BUDGET_MB + SLACK_MB)
        self.assertLess(end, KEYLESS_MB)
        # and intake still takes a submission afterwards
        r = self.stack.api("POST", "/v1/submissions", key=key, json={
            "program_code": "PALI-TEST-ADD", "village_code": "16.12.01.2001",
            "applicants": [{"nik": "1612011205800001", "name": "Budi Santoso",
                            "birth_date": "1980-05-12", "sex": "M",
                            "occupation": "PETANI/PEKEBUN"}]})
        self.assertEqual(r.status, 202, r.body)

    def test_c_keyless_bodies_are_never_buffered(self) -> None:
        p = self.port
        peak, end, statuses = self.measure(
            "100 keyless chunked 8 MiB + 1", lambda: upload_all(
                p, head("/v1/submissions"), MAX_BODY + 1, True, 100))
        self.assertLess(peak, KEYLESS_MB)
        self.assertTrue(set(statuses) <= {401, None}, statuses)
        self.assertIn(401, statuses)
        peak, end, statuses = self.measure(
            "100 keyless 8 MiB with Content-Length", lambda: upload_all(
                p, head("/v1/submissions", length=MAX_BODY), MAX_BODY, False, 100))
        self.assertTrue(set(statuses) <= {401, None}, statuses)
        self.assertLess(peak, KEYLESS_MB)
        self.assertLess(end, KEYLESS_MB)


if __name__ == "__main__":
    unittest.main(verbosity=2)
