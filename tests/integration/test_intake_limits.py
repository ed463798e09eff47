"""Input limits of lindung-intake (issue 15, hardening; docs/api.md "Limits").

What one request may cost intake, and values that must never be cut short:

- a 10,000-applicant list with every field wrong is answered 422 in under a
  second (the error list is counted, not re-walked per applicant), and lists
  at most 1,000 problems plus a last entry with `truncated` and `total`;
- an 8 MiB JSON body that is one flat array, or an object holding one, and a
  deeply nested body are refused 400 before any JSON tree is built, so
  intake's peak resident memory (VmHWM in /proc/PID/status) grows by less
  than RSS_BOUND_MB for one such body, and by less than 4 x that for four
  sent at once;
- a NUL in a value, by JSON escape (`\\u0000`), by `%00` in a CSV upload's
  query parameters or as a raw byte in a CSV field, is refused 400
  MALFORMED_BODY, never stored cut at the NUL; `\\\\u0000` (an escaped
  backslash, then the text u0000) is ordinary text;
- a programme that does not exist and a programme of another regency get
  the same answer on submission (403 OUT_OF_SCOPE for a scoped key).

Only intake runs (no verify, no billing): nothing here needs a decision.
"""

from __future__ import annotations

import json
import os
import threading
import time
import unittest
import urllib.parse
from pathlib import Path
from typing import Any

import harness
import nikgen

PROGRAM = "PALI-TEST-ADD"          # regency 16.12
V1 = "16.12.01.2001"               # Talang Bulang, PALI
MURA_VILLAGE = "16.05.01.2002"     # Surodadi, Musi Rawas (16.05)
BODY_MAX = 8 * 1024 * 1024         # LINDUNG_MAX_BODY's default
RSS_BOUND_MB = 40                  # one 8 MiB body: its buffer and little more
FAST_S = 1.0                       # the 10,000-invalid answer, on a busy 2-core box

ALL_WRONG = {"nik": 1, "name": 2, "birth_date": "1990-02-30", "sex": "X",
             "occupation": 2.5, "address": 3, "phone": 4, "monthly_income": -1,
             "poverty_ref": 5}     # nine problems per applicant

_next = [50000]


def fresh(n: int) -> list[dict]:
    start = _next[0]
    _next[0] += n
    return [nikgen.person(i) for i in range(start, start + n)]


def status_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a process, in kB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(rest.split()[0])
    return out


class IntakeLimits(harness.SharedStackTestCase):
    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        s = cls.stack
        s.start_postgres()
        s.migrate()
        s.import_programs()
        cls.admin = s.create_key("admin", name="limits-admin")
        cls.k_mura = s.create_key("regency:16.05", name="limits-mura")
        cls.k_mura_village = s.create_key(f"village:{MURA_VILLAGE}", name="limits-mura-v")
        s.start_daemons("intake")


    # -- helpers
    def post(self, path: str, body: bytes | dict, key: str | None = None,
             ctype: str = "application/json", headers: dict | None = None,
             timeout: float = 60.0) -> harness.Response:
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        h = {"Content-Type": ctype, **(headers or {})}
        return self.stack.api("POST", path, key=key or self.admin, data=data, headers=h,
                              timeout=timeout)

    def assert_error(self, r: harness.Response, status: int, code: str) -> dict:
        self.assertEqual(r.status, status, r)
        self.assertIsInstance(r.body, dict, r)
        self.assertEqual(r.body["error"]["code"], code, r)
        return r.body["error"]

    def submission(self, applicants: list, village: str = V1, **extra) -> dict:
        return {"program_code": PROGRAM, "village_code": village,
                "applicants": applicants, **extra}

    def rows_stored(self) -> int:
        return int(self.stack.cluster.scalar("SELECT count(*) FROM submissions"))

    # ------------------------------------------------------------ finding 3

    def test_ten_thousand_invalid_applicants_answered_fast(self) -> None:
        body = json.dumps(self.submission([ALL_WRONG] * 10000)).encode()
        t0 = time.monotonic()
        r = self.post("/v1/submissions", body)
        elapsed = time.monotonic() - t0
        err = self.assert_error(r, 422, "INVALID_FIELDS")
        print(f"\n10,000 invalid applicants (JSON): {elapsed * 1000:.0f} ms, "
              f"{len(r.raw)} bytes answered", flush=True)
        self.assertLess(elapsed, FAST_S)
        details = err["details"]
        listed, last = details[:-1], details[-1]
        self.assertEqual(len(listed), 1000, details[:3])
        self.assertEqual((last["field"], last["truncated"], last["total"]),
                         ("details", True, 90000), last)
        self.assertTrue(last["message"], last)
        # the first problems are listed, in order, with their index
        self.assertEqual([(d["field"], d["index"]) for d in listed[:9]],
                         [(f, 0) for f in ("nik", "name", "birth_date", "sex",
                                           "occupation", "address", "phone",
                                           "poverty_ref", "monthly_income")], listed[:9])

    def test_ten_thousand_invalid_csv_rows_answered_fast(self) -> None:
        row = "1,2,1990-02-30,X,,x,,-1,y"   # birth date, sex, occupation, income
        csv = ("nik,name,birth_date,sex,occupation,address,phone,monthly_income,"
               "poverty_ref\r\n" + (row + "\r\n") * 10000).encode()
        t0 = time.monotonic()
        r = self.post(f"/v1/submissions?program_code={PROGRAM}&village_code={V1}", csv,
                      ctype="text/csv")
        elapsed = time.monotonic() - t0
        err = self.assert_error(r, 422, "INVALID_FIELDS")
        print(f"\n10,000 invalid applicants (CSV): {elapsed * 1000:.0f} ms", flush=True)
        self.assertLess(elapsed, FAST_S)
        last = err["details"][-1]
        self.assertEqual(len(err["details"]), 1001)
        self.assertEqual((last["truncated"], last["total"]), (True, 40000), last)
        self.assertEqual(err["details"][0]["line"], 2, err["details"][0])
        self.assertNotIn("line", last)

    def test_ten_thousand_invalid_events_answered_fast(self) -> None:
        events = [{"kind": "x", "nik": "1", "date": "2020-02-30"}] * 10000
        t0 = time.monotonic()
        r = self.post("/v1/events", {"events": events})
        elapsed = time.monotonic() - t0
        err = self.assert_error(r, 422, "INVALID_FIELDS")
        self.assertLess(elapsed, FAST_S)
        self.assertEqual(err["details"][-1]["total"], 30000, err["details"][-1])

    # ------------------------------------------------------------ finding 4

    def refused_without_growth(self, bodies: list[bytes], path: str = "/v1/submissions",
                               bound_mb: float = RSS_BOUND_MB) -> list[harness.Response]:
        """Send the bodies at once to a fresh intake; each must be 400
        MALFORMED_BODY, and intake's peak memory must grow by less than
        bound_mb per body."""
        s = self.stack
        s.intake.restart()
        pid = s.intake.pid
        before = status_kb(pid)
        answers: list[Any] = [None] * len(bodies)

        def send(i: int) -> None:
            answers[i] = self.post(path, bodies[i], timeout=120)

        threads = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        after = status_kb(pid)
        grew = (after["VmHWM"] - before["VmHWM"]) / 1024
        print(f"\n{len(bodies)} x {len(bodies[0]) / 2**20:.1f} MiB to {path}: VmHWM "
              f"{before['VmHWM'] // 1024} -> {after['VmHWM'] // 1024} MB, VmRSS "
              f"{before['VmRSS'] // 1024} -> {after['VmRSS'] // 1024} MB", flush=True)
        for r in answers:
            self.assert_error(r, 400, "MALFORMED_BODY")
            self.assertEqual(r.body["error"]["details"][0]["field"], "body", r)
        self.assertLess(grew, bound_mb * len(bodies))
        self.assertLess((after["VmRSS"] - before["VmRSS"]) / 1024, bound_mb * len(bodies))
        return answers

    def test_flat_array_body_refused_before_parsing(self) -> None:
        zeros = b"[" + b"0," * ((BODY_MAX - 3) // 2) + b"0]"
        self.assertLessEqual(len(zeros), BODY_MAX)
        r, = self.refused_without_growth([zeros])
        self.assertEqual(r.body["error"]["details"][0]["message"], "must be a JSON object")

    def test_object_holding_a_huge_array_refused_before_parsing(self) -> None:
        head = b'{"program_code":"PALI-TEST-ADD","village_code":"16.12.01.2001",' \
               b'"applicants":['
        zeros = head + b"0," * ((BODY_MAX - len(head) - 4) // 2) + b"0]}"
        self.assertLessEqual(len(zeros), BODY_MAX)
        r, = self.refused_without_growth([zeros])
        self.assertEqual(r.body["error"]["details"][0]["message"],
                         "has more than 200000 JSON values", r)
        # four at once: each costs its buffer, not a tree
        self.refused_without_growth([zeros] * 4)
        # the events batch is guarded the same way
        events = b'{"events":[' + b"0," * ((BODY_MAX - 16) // 2) + b"0]}"
        self.refused_without_growth([events], path="/v1/events")

    def test_deep_nesting_refused(self) -> None:
        depth = (BODY_MAX - 16) // 2
        deep = b'{"a":' + b"[" * depth + b"]" * depth + b"}"
        r, = self.refused_without_growth([deep[:BODY_MAX]])
        self.assertEqual(r.body["error"]["details"][0]["message"],
                         "nests deeper than 16 levels", r)
        # 16 levels is fine (unknown fields are ignored), 17 is not
        nest: Any = 1
        for _ in range(15):
            nest = [nest]
        r = self.post("/v1/submissions", self.submission(fresh(1), extra=nest))
        self.assertEqual(r.status, 202, r)
        r = self.post("/v1/submissions", self.submission(fresh(1), extra=[nest]))
        self.assert_error(r, 400, "MALFORMED_BODY")

    # ------------------------------------------------------------ finding 5

    def test_escaped_nul_in_json_refused(self) -> None:
        before = self.rows_stored()
        good = fresh(1)[0]
        for name, raw in {
                "village code": json.dumps(self.submission([good])).replace(
                    V1, V1 + "\\u0000x"),
                "name": json.dumps(self.submission([good])).replace(
                    good["name"], good["name"] + "\\u0000A"),
                "reference": json.dumps(self.submission([good], reference="ab")).replace(
                    '"ab"', '"a\\u0000b"'),
                "member name": json.dumps(self.submission([good])).replace(
                    '"nik"', '"ni\\u0000k"'),
                "after an escaped quote": json.dumps(self.submission([good])).replace(
                    good["name"], good["name"] + '\\"\\u0000'),
                "after three backslashes": json.dumps(self.submission([good])).replace(
                    good["name"], good["name"] + "\\\\\\u0000")}.items():
            with self.subTest(case=name):
                r = self.post("/v1/submissions", raw.encode())
                err = self.assert_error(r, 400, "MALFORMED_BODY")
                self.assertEqual(err["details"][0]["field"], "body", err)
                self.assertIn("\\u0000", err["details"][0]["message"], err)
        # two names that differ only after the NUL are no longer "the same list"
        key = {"Idempotency-Key": "nul-names"}
        for suffix in ("A", "B"):
            raw = json.dumps(self.submission([good])).replace(
                good["name"], good["name"] + "\\u0000" + suffix)
            self.assert_error(self.post("/v1/submissions", raw.encode(), headers=key),
                              400, "MALFORMED_BODY")
        self.assertEqual(self.rows_stored(), before)
        # an escaped backslash then "u0000" is text, kept as sent
        text = good["name"] + " \\u0000"
        raw = json.dumps(self.submission([dict(good, name=text)]))
        self.assertIn("\\\\u0000", raw)
        r = self.post("/v1/submissions", raw.encode())
        self.assertEqual(r.status, 202, r)
        sid = r.body["submission_id"]
        self.assertEqual(self.stack.cluster.scalar(
            f"SELECT name FROM applicants WHERE submission_id = '{sid}'"), text)

    def test_escaped_nul_in_events_refused(self) -> None:
        raw = b'{"events":[{"kind":"death","nik":"1612010101800001\\u0000",' \
              b'"date":"2024-01-01"}]}'
        self.assert_error(self.post("/v1/events", raw), 400, "MALFORMED_BODY")
        raw = b'{"kind":"death","date":"2024-01-01","reference":"A\\u0000B"}'
        self.assert_error(self.post("/v1/participants/1612010101800001/events", raw),
                          400, "MALFORMED_BODY")

    def test_nul_in_csv_query_parameters_refused(self) -> None:
        before = self.rows_stored()
        csv = ("nik,name,birth_date,sex,occupation\r\n"
               + ",".join(fresh(1)[0][c] for c in ("nik", "name", "birth_date", "sex",
                                                   "occupation")) + "\r\n").encode()
        for param, query in {
                "village_code": f"program_code={PROGRAM}&village_code={V1}%00x",
                "program_code": f"program_code={PROGRAM}%00&village_code={V1}",
                "reference": f"program_code={PROGRAM}&village_code={V1}"
                             f"&reference=Musdes%2004%00rahasia"}.items():
            with self.subTest(param=param):
                r = self.post(f"/v1/submissions?{query}", csv, ctype="text/csv")
                err = self.assert_error(r, 400, "MALFORMED_BODY")
                self.assertEqual(err["details"][0]["field"], param, err)
        self.assertEqual(self.rows_stored(), before)
        # %2500 is the text "%00", not a NUL
        r = self.post(f"/v1/submissions?program_code={PROGRAM}&village_code={V1}"
                      f"&reference={urllib.parse.quote('rapat %00')}", csv,
                      ctype="text/csv")
        self.assertEqual(r.status, 202, r)

    def test_nul_in_csv_field_refused(self) -> None:
        before = self.rows_stored()
        p = fresh(1)[0]
        csv = ("nik,name,birth_date,sex,occupation\r\n"
               f"{p['nik']},\"{p['name']}\x00x\",{p['birth_date']},{p['sex']},"
               f"{p['occupation']}\r\n").encode()
        r = self.post(f"/v1/submissions?program_code={PROGRAM}&village_code={V1}", csv,
                      ctype="text/csv")
        err = self.assert_error(r, 400, "MALFORMED_BODY")
        self.assertEqual((err["details"][0]["field"], err["details"][0]["line"]),
                         ("body", 2), err)
        r = self.post("/v1/events", b"kind,nik,date\r\ndeath,1612010101800001\x00,"
                      b"2024-01-01\r\n", ctype="text/csv")
        self.assert_error(r, 400, "MALFORMED_BODY")
        self.assertEqual(self.rows_stored(), before)

    # ------------------------------------------------------------ finding 11

    def test_unknown_and_other_regency_programme_answer_alike(self) -> None:
        """A scoped key cannot tell a programme that does not exist from one
        of another regency: both are 403 OUT_OF_SCOPE, word for word."""
        for key_name, key, village in (("regency", self.k_mura, MURA_VILLAGE),
                                       ("village", self.k_mura_village, MURA_VILLAGE)):
            answers = {}
            for case, (program, vil) in {
                    "unknown": ("NO-SUCH-PROGRAM", village),
                    "other regency, own village": (PROGRAM, village),
                    "other regency, its village": (PROGRAM, V1)}.items():
                body = {"program_code": program, "village_code": vil,
                        "applicants": fresh(1)}
                r = self.post("/v1/submissions", body, key=key)
                answers[case] = (r.status, r.body)
                csv = f"/v1/submissions?program_code={program}&village_code={vil}"
                c = self.post(csv, b"nik,name,birth_date,sex,occupation\r\n"
                              b"1605014501900001,Siti,1990-01-05,F,1\r\n", key=key,
                              ctype="text/csv")
                answers[case + " (CSV)"] = (c.status, c.body)
            with self.subTest(key=key_name):
                self.assertEqual(len({json.dumps(a) for a in answers.values()}), 1,
                                 answers)
                status, body = answers["unknown"]
                self.assertEqual((status, body["error"]["code"]), (403, "OUT_OF_SCOPE"))
        # an admin key sees every programme: an unknown one is still named
        r = self.post("/v1/submissions", {"program_code": "NO-SUCH-PROGRAM",
                                          "village_code": V1, "applicants": fresh(1)})
        err = self.assert_error(r, 422, "INVALID_FIELDS")
        self.assertEqual(err["details"][0]["field"], "program_code", err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
