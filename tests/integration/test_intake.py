"""Integration tests of lindung-intake's HTTP API (issue 3, design.md §4).

Real HTTP against the real lindung-intake (plus verify and billing, so that
submissions get decided and invoices exist) on a throw-away PostgreSQL. One
stack serves the whole class (setUpClass): each test uses its own people
(fresh NIKs) so the tests do not disturb each other, and the tests whose names
start with test_zz run last (test_zzz_ last of all) and check the OpenAPI document against what the
other tests saw:

- every route in docs/openapi.yaml is served (no "no such endpoint"), with a
  status the document lists for it, and wrong methods get 405;
- every error code the document lists was produced by some test here, and
  every error code the server produced is in the document with its status.

docs/openapi.yaml is read by a small parser of our own (stdlib only; PyYAML
is used to cross-check it when installed).
"""

# ctest-timeout: 180
from __future__ import annotations

import datetime
import http.client
import json
import os
import re
import select
import signal
import socket
import threading
import time
import unittest
import uuid
from pathlib import Path
from typing import Any

import harness
import nikgen

PROGRAM = "PALI-TEST-ADD"          # regency 16.12, ADD, target 100, no quota
V1 = "16.12.01.2001"               # Talang Bulang (desa)
V2 = "16.12.01.2002"               # Benuang (desa)
V3 = "16.12.01.2004"               # Talang Akar (desa): only the villages test submits here
V4 = "16.12.01.2005"               # Sungai Ibul (desa): only the invoices test submits here
KELURAHAN = "16.12.01.1003"        # Talang Ubi Timur (kelurahan)
MURA_VILLAGE = "16.05.01.2002"     # Surodadi, Musi Rawas (16.05)
COVERAGE_START = "2025-07"     # PALI-TEST-ADD's first month
# coverage starts in the month of acceptance (Asia/Jakarta): the month enrolled and billed
PERIOD = (datetime.datetime.now(datetime.timezone.utc)
          + datetime.timedelta(hours=7)).strftime("%Y-%m")

BAD_NIK = "161201150690001"        # 15 digits: NIK_INVALID

OPENAPI = harness.SOURCE_DIR / "docs/openapi.yaml"

# error code -> set of HTTP statuses seen with it, over the whole class
OBSERVED: dict[str, set[int]] = {}
TESTS_RUN: set[str] = set()


# ---------------------------------------------------------------- OpenAPI (stdlib)

def parse_openapi(text: str) -> dict[str, Any]:
    """The parts of docs/openapi.yaml the tests need, without a YAML library:
    {"paths": {path: {method: [status, ...]}}, "error_codes": [...],
     "error_status": {code: status}}. Handles the block style the document
    uses (two-space indentation, `key:` lines, `- item` lists)."""
    lines = []
    for raw in text.splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        lines.append((len(raw) - len(raw.lstrip(" ")), raw.strip()))

    def key_of(s: str) -> str | None:
        m = re.match(r"""^(['"]?)([^'":]+)\1:(\s|$)""", s)
        return m.group(2) if m else None

    paths: dict[str, dict[str, list[str]]] = {}
    error_codes: list[str] = []
    error_status: dict[str, int] = {}
    stack: list[tuple[int, str]] = []   # (indent, key) of enclosing mappings
    for indent, s in lines:
        while stack and stack[-1][0] >= indent:
            stack.pop()
        trail = [k for _, k in stack]
        if s.startswith("- "):
            if trail[-3:] == ["schemas", "ErrorCode", "enum"] and trail[0] == "components":
                error_codes.append(s[2:].strip().strip("'\""))
            continue
        k = key_of(s)
        if k is None:
            continue
        if trail == ["paths"]:
            paths[k] = {}
        elif len(trail) == 2 and trail[0] == "paths" and k in (
                "get", "post", "put", "patch", "delete", "head", "options"):
            paths[trail[1]][k] = []
        elif len(trail) == 4 and trail[0] == "paths" and trail[3] == "responses":
            paths[trail[1]][trail[2]].append(k)
        elif trail == ["components", "schemas", "ErrorCode", "x-status"]:
            error_status[k] = int(s.split(":", 1)[1].strip())
        # a flow value ("key: {...}" or "key: [a, b]") opens nothing
        rest = s.split(":", 1)[1].strip() if ":" in s else ""
        if rest in ("", "|", ">") or rest.startswith("|") or rest.startswith(">"):
            stack.append((indent, k))
        elif trail == ["components", "schemas", "ErrorCode"] and k == "enum" \
                and rest.startswith("["):
            error_codes.extend(x.strip() for x in rest.strip("[]").split(","))
    return {"paths": paths, "error_codes": error_codes, "error_status": error_status}


def openapi_doc() -> dict[str, Any]:
    return parse_openapi(OPENAPI.read_text(encoding="utf-8"))


# ---------------------------------------------------------------- people

_next_person = [0]
_person_lock = threading.Lock()


def fresh(n: int, **kw) -> list[dict]:
    """n people never used before in this run (valid NIKs, aged 26-56)."""
    with _person_lock:
        start = _next_person[0]
        _next_person[0] += n
    return [nikgen.person(i, **kw) for i in range(start, start + n)]


_old_serial = [0]


def too_old() -> dict:
    """A valid NIK of a man born 1955: over 70 in his first month, over PALI's limit."""
    _old_serial[0] += 1
    birth = datetime.date(1955, 3, 10)
    return {"nik": nikgen.make("161201", birth, False, _old_serial[0]),
            "name": "Darmo Tua", "birth_date": birth.isoformat(), "sex": "M",
            "occupation": "PETANI/PEKEBUN"}


def bad_nik() -> dict:
    return {"nik": BAD_NIK, "name": "Andi Salah", "birth_date": "1990-06-15",
            "sex": "M", "occupation": "PETANI/PEKEBUN"}


TRICKY_NAME = 'Siti "Ani", binti\r\nAhmad; DROP TABLE applicants;--'


def mixed_list() -> tuple[list[dict], list[tuple[str, str | None]]]:
    """A list verify decides in a known way, and what it must decide."""
    good = fresh(3)
    good[2]["name"] = TRICKY_NAME
    good[2]["address"] = "Dusun II, RT 03"
    good[2]["monthly_income"] = 1500000
    people = [bad_nik(), too_old(), good[0], good[1], good[2]]
    expected = [("rejected", "NIK_INVALID"), ("rejected", "AGE_OVER_LIMIT"),
                ("accepted", None), ("accepted", None), ("accepted", None)]
    return people, expected


CSV_COLUMNS = ["name", "sex", "nik", "occupation", "birth_date", "monthly_income",
               "address"]   # not the documented order, on purpose


def csv_cell(v: Any) -> str:
    s = "" if v is None else str(v)
    if any(c in s for c in ',"\r\n'):
        s = '"' + s.replace('"', '""') + '"'
    return s


def to_csv(people: list[dict], columns: list[str] = CSV_COLUMNS, bom: bool = True,
           eol: str = "\r\n") -> bytes:
    rows = [",".join(columns)]
    rows += [",".join(csv_cell(p.get(c)) for c in columns) for p in people]
    text = eol.join(rows) + eol
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")


# ---------------------------------------------------------------- the tests

class Resp:
    def __init__(self, status: int, headers: dict[str, str], raw: bytes):
        self.status, self.headers, self.raw = status, headers, raw
        self.body: Any = raw.decode("utf-8", "replace")
        if headers.get("content-type", "").startswith("application/json"):
            try:
                self.body = json.loads(raw)
            except ValueError:
                pass

    @property
    def code(self) -> str | None:
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            return self.body["error"].get("code")
        return None

    def __repr__(self) -> str:
        return f"<{self.status} {self.body!r}>"


class Intake(harness.SharedStackTestCase):
    port: int

    # -- one stack for the class
    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        s = cls.stack
        s.start_postgres()
        s.migrate()
        s.import_programs()
        cls.admin = s.create_key("admin", name="it-admin")
        cls.k_v1 = s.create_key(f"village:{V1}", name="it-v1")
        cls.k_v2 = s.create_key(f"village:{V2}", name="it-v2")
        cls.k_v3 = s.create_key(f"village:{V3}", name="it-v3")
        cls.k_pali = s.create_key("regency:16.12", name="it-pali")
        cls.k_mura = s.create_key("regency:16.05", name="it-mura")
        s.start_daemons()
        cls.port = s.intake.http_port

    def setUp(self) -> None:
        TESTS_RUN.add(self._testMethodName)
        super().setUp()

    # -- HTTP
    def req(self, method: str, path: str, key: str | None = None, body: Any = None,
            ctype: str | None = None, headers: dict[str, str] | None = None,
            port: int | None = None, timeout: float = 20.0) -> Resp:
        h: dict[str, str] = {}
        if key is not None:
            h["Authorization"] = f"Bearer {key}"
        data: bytes | None
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = body
        if ctype is not None:
            h["Content-Type"] = ctype
        h.update(headers or {})
        conn = http.client.HTTPConnection("127.0.0.1", port or self.port, timeout=timeout)
        try:
            conn.request(method, path, body=data, headers=h)
            r = conn.getresponse()
            resp = Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            conn.close()
        if resp.code:
            OBSERVED.setdefault(resp.code, set()).add(resp.status)
        return resp

    def submit(self, people: list[dict], village: str = V1, key: str | None = None,
               program: str = PROGRAM, idem: str | None = None, **extra) -> Resp:
        body = {"program_code": program, "village_code": village, "applicants": people,
                **extra}
        h = {"Idempotency-Key": idem} if idem is not None else None
        return self.req("POST", "/v1/submissions", key or self.admin, body, headers=h)

    def accepted(self, r: Resp, n: int | None = None) -> str:
        self.assertEqual(r.status, 202, r)
        self.assertEqual(r.body.get("status"), "received", r)
        if n is not None:
            self.assertEqual(r.body.get("applicants"), n, r)
        sid = r.body["submission_id"]
        uuid.UUID(sid)
        self.assertEqual(r.headers.get("location"), f"/v1/submissions/{sid}", r.headers)
        self.assertTrue(r.headers.get("x-request-id"), r.headers)
        return sid

    def wait_verified(self, sid: str, key: str | None = None, timeout: float = 30) -> dict:
        def done():
            g = self.req("GET", f"/v1/submissions/{sid}", key or self.admin)
            assert g.status == 200, g
            return g.body if g.body.get("status") == "verified" else None
        return harness.wait_until(done, timeout=timeout, interval=0.2,
                                  message=f"submission {sid} verified")

    def counts(self) -> tuple[str, ...]:
        return self.stack.cluster.psql(
            "SELECT (SELECT count(*) FROM submissions), (SELECT count(*) FROM applicants)")[0]

    def assert_error(self, r: Resp, status: int, code: str) -> dict:
        self.assertEqual((r.status, r.code), (status, code), r)
        err = r.body["error"]
        self.assertIsInstance(err.get("message"), str, r)
        self.assertTrue(err["message"], r)
        self.assertTrue(r.headers.get("content-type", "").startswith("application/json"))
        return err

    def rejected(self, status: int, code: str, method: str, path: str, **kw) -> dict:
        """Send a request that must fail with (status, code) and write nothing."""
        before = self.counts()
        r = self.req(method, path, **kw)
        err = self.assert_error(r, status, code)
        self.assertEqual(self.counts(), before, f"a rejected request wrote rows: {r}")
        return err

    def decisions(self, sub: dict) -> list[tuple[str, str | None]]:
        out = []
        for a in sorted(sub["applicants"], key=lambda a: a["index"]):
            codes = [x["code"] for x in a.get("reasons", [])]
            out.append((a["decision"], codes[0] if codes else None))
        return out

    # ------------------------------------------------------------ submissions

    def test_json_submission_is_stored_and_decided(self) -> None:
        people, expected = mixed_list()
        r = self.submit(people, reference="Musdes 12/2025")
        sid = self.accepted(r, len(people))
        sub = self.wait_verified(sid)
        self.assertEqual(sub["submission_id"], sid)
        self.assertEqual((sub["program_code"], sub["village_code"], sub["reference"]),
                         (PROGRAM, V1, "Musdes 12/2025"))
        self.assertEqual(sub["counts"], {"total": 5, "pending": 0, "accepted": 3,
                                         "rejected": 2}, sub)
        self.assertEqual(self.decisions(sub), expected, sub)
        self.assertRegex(sub["received_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertRegex(sub["verified_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual(sub["applicants"][4]["name"], TRICKY_NAME)

    def test_csv_submission_like_json(self) -> None:
        """BOM, CRLF, columns in another order, a name with commas, quotes and a
        line break; programme and village as query parameters: 202 and the same
        decisions as the same list sent as JSON."""
        people, expected = mixed_list()
        body = to_csv(people)
        self.assertIn(b'"Siti ""Ani"", binti\r\nAhmad; DROP TABLE applicants;--"', body)
        r = self.req("POST", f"/v1/submissions?program_code={PROGRAM}&village_code={V1}"
                     "&reference=Musdes%2004%2F2025", self.admin, body,
                     ctype="text/csv; charset=utf-8")
        sid = self.accepted(r, len(people))
        sub = self.wait_verified(sid)
        self.assertEqual(sub["reference"], "Musdes 04/2025")
        self.assertEqual(self.decisions(sub), expected, sub)
        self.assertEqual([a["name"] for a in sorted(sub["applicants"],
                                                    key=lambda a: a["index"])],
                         [p["name"] for p in people])
        rows = self.stack.cluster.psql(
            f"SELECT name, address, monthly_income, occupation FROM applicants "
            f"WHERE submission_id = '{sid}' ORDER BY idx")
        self.assertEqual(rows[4], (TRICKY_NAME, "Dusun II, RT 03", "1500000",
                                   "PETANI/PEKEBUN"))
        self.assertEqual(rows[0][1:3], (None, None))  # empty cells are absent

        # the same list as JSON is decided the same way
        people2, expected2 = mixed_list()
        sid2 = self.accepted(self.submit(people2))
        self.assertEqual(self.decisions(self.wait_verified(sid2)), expected2)

        # LF line ends and no BOM are fine too
        more = fresh(2)
        r = self.req("POST", f"/v1/submissions?program_code={PROGRAM}&village_code={V1}",
                     self.admin, to_csv(more, bom=False, eol="\n"), ctype="text/csv")
        self.accepted(r, 2)

    def test_csv_and_json_same_key_same_submission(self) -> None:
        """api.c: an Idempotency-Key promises the same submission whether it came
        as JSON or CSV."""
        people = fresh(2)
        key = f"csv-json-{uuid.uuid4()}"
        r = self.req("POST", f"/v1/submissions?program_code={PROGRAM}&village_code={V1}",
                     self.admin, to_csv(people, columns=["nik", "name", "birth_date",
                                                         "sex", "occupation"]),
                     ctype="text/csv", headers={"Idempotency-Key": key})
        sid = self.accepted(r, 2)
        again = self.req("POST", f"/v1/submissions?program_code={PROGRAM}&village_code={V1}",
                         self.admin, to_csv(people, columns=["nik", "name", "birth_date",
                                                             "sex", "occupation"]),
                         ctype="text/csv", headers={"Idempotency-Key": key})
        self.assertEqual(self.accepted(again), sid)
        as_json = self.submit(people, idem=key)
        self.assertEqual(self.accepted(as_json), sid)

    def test_csv_errors_name_line_and_index(self) -> None:
        q = f"/v1/submissions?program_code={PROGRAM}&village_code={V1}"
        good = fresh(3)
        good[0]["name"] = "Dua\r\nBaris"       # a record spanning lines 2-3
        good[1]["sex"] = "X"                   # applicant 1, record on line 4
        good[2]["birth_date"] = "2001-02-29"   # applicant 2, line 5
        body = to_csv(good, columns=["nik", "name", "birth_date", "sex", "occupation"])
        err = self.rejected(422, "INVALID_FIELDS", "POST", q, key=self.admin, body=body,
                            ctype="text/csv")
        got = sorted((d["field"], d.get("index"), d.get("line")) for d in err["details"])
        self.assertEqual(got, [("birth_date", 2, 5), ("sex", 1, 4)], err)

        # unknown column, missing required column
        body = b"nik,nama,birth_date,sex,occupation\r\n1612011205800001,Budi,1980-05-12,M,3\r\n"
        err = self.rejected(422, "INVALID_FIELDS", "POST", q, key=self.admin, body=body,
                            ctype="text/csv")
        fields = {d["field"] for d in err["details"]}
        self.assertIn("name", fields, err)              # required column missing
        self.assertTrue(any("nama" in d["message"] for d in err["details"]), err)
        self.assertTrue(all(d.get("line") == 1 for d in err["details"]), err)

        # a row with too many fields
        body = b"nik,name,birth_date,sex,occupation\n1612011205800001,Budi,1980-05-12,M,3,x\n"
        err = self.rejected(422, "INVALID_FIELDS", "POST", q, key=self.admin, body=body,
                            ctype="text/csv")
        self.assertEqual([(d["field"], d.get("index"), d.get("line"))
                          for d in err["details"]], [("applicants", 0, 2)], err)

        # programme and village missing from the query
        body = to_csv(fresh(1))
        err = self.rejected(422, "INVALID_FIELDS", "POST", "/v1/submissions",
                            key=self.admin, body=body, ctype="text/csv")
        self.assertEqual({d["field"] for d in err["details"]},
                         {"program_code", "village_code"}, err)

        # stray quote: malformed, with the line
        body = b'nik,name,birth_date,sex,occupation\n1612011205800001,Bu"di,1980-05-12,M,3\n'
        err = self.rejected(400, "MALFORMED_BODY", "POST", q, key=self.admin, body=body,
                            ctype="text/csv")
        self.assertEqual([(d["field"], d.get("line")) for d in err["details"]],
                         [("body", 2)], err)
        # invalid UTF-8 and NUL in CSV
        for bad in (b"nik,name,birth_date,sex,occupation\n1612011205800001,B\xc3(di,1980-05-12,M,3\n",
                    b"nik,name,birth_date,sex,occupation\n1612011205800001,B\x00di,1980-05-12,M,3\n"):
            with self.subTest(body=bad):
                err = self.rejected(400, "MALFORMED_BODY", "POST", q, key=self.admin,
                                    body=bad, ctype="text/csv")
                self.assertEqual(err["details"][0].get("line"), 2, err)

    # ------------------------------------------------------------ 400

    def test_malformed_bodies(self) -> None:
        valid = json.dumps({"program_code": PROGRAM, "village_code": V1,
                            "applicants": fresh(1)}).encode()
        cases = {
            "not json": b"{program_code: PALI",
            "invalid utf-8": valid.replace(b"Peserta", b"Pes\xff\xfeerta"),
            "overlong utf-8": valid.replace(b"Peserta", b"Pe\xc0\xafserta"),
            "surrogate": valid.replace(b"Peserta", b"Pe\xed\xa0\x80serta"),
            "nul byte": valid.replace(b"Peserta", b"Pe\x00serta"),
            "nul after body": valid + b"\x00",
            "trailing garbage": valid + b" x",
            "two objects": valid + valid,
            "array": b"[" + valid + b"]",
            "string": b'"hello"',
            "empty": b"",
            "whitespace": b"  \r\n",
        }
        for name, body in cases.items():
            with self.subTest(case=name):
                err = self.rejected(400, "MALFORMED_BODY", "POST", "/v1/submissions",
                                    key=self.admin, body=body, ctype="application/json")
                self.assertEqual(len(err.get("details", [])), 1, err)
                self.assertEqual(err["details"][0]["field"], "body", err)
        # trailing whitespace is not garbage
        r = self.req("POST", "/v1/submissions", self.admin, valid + b"\r\n \t",
                     ctype="application/json")
        self.accepted(r, 1)

    def test_bad_idempotency_key(self) -> None:
        body = {"program_code": PROGRAM, "village_code": V1, "applicants": fresh(1)}
        for key in ("", "k" * 201):
            with self.subTest(length=len(key)):
                self.rejected(400, "BAD_IDEMPOTENCY_KEY", "POST", "/v1/submissions",
                              key=self.admin, body=body, headers={"Idempotency-Key": key})
        r = self.submit(body["applicants"], idem="k" * 200)
        self.accepted(r)

    def test_bad_query(self) -> None:
        for q in ("limit=0", "limit=1001", "limit=abc", "limit=", "limit=5x",
                  "cursor=" + "z" * 65):
            for path in ("/v1/programs", f"/v1/programs/{PROGRAM}/villages"):
                with self.subTest(path=path, query=q):
                    r = self.req("GET", f"{path}?{q}", self.admin)
                    # As on /v1/invoices: a bad query parameter is an invalid field.
                    self.assert_error(r, 422, "INVALID_FIELDS")
                    self.assertIn(q.split("=")[0],
                                  [d["field"] for d in r.body["error"]["details"]])

    # ------------------------------------------------------------ 401, 403

    def test_unauthenticated(self) -> None:
        s = self.stack
        body = {"program_code": PROGRAM, "village_code": V1, "applicants": fresh(1)}
        unknown = "lk_" + "0" * 48
        for name, hdr in {"missing": None, "basic": "Basic dXNlcjpwYXNz",
                          "empty bearer": "Bearer ", "unknown": f"Bearer {unknown}",
                          "odd characters": "Bearer lk_'; DROP TABLE api_keys;--",
                          "lower-case scheme": f"bearer {self.admin}x"}.items():
            with self.subTest(auth=name):
                h = {"Authorization": hdr} if hdr is not None else {}
                self.rejected(401, "UNAUTHENTICATED", "POST", "/v1/submissions",
                              body=body, headers=h)
                r = self.req("GET", "/v1/programs", headers=h)
                self.assert_error(r, 401, "UNAUTHENTICATED")

        # a revoked key stops working at once, without a restart
        k = s.create_key(f"village:{V1}", name="it-to-revoke")
        self.accepted(self.submit(fresh(1), key=k))
        keys = json.loads(s.lindungctl("apikey", "list", "--json").stdout)
        kid = [x["id"] for x in keys if x["name"] == "it-to-revoke"]
        self.assertEqual(len(kid), 1, keys)
        s.lindungctl("apikey", "revoke", kid[0])
        self.rejected(401, "UNAUTHENTICATED", "POST", "/v1/submissions", key=k, body={
            "program_code": PROGRAM, "village_code": V1, "applicants": fresh(1)})
        self.assert_error(self.req("GET", "/v1/programs", k), 401, "UNAUTHENTICATED")
        listed = json.loads(s.lindungctl("apikey", "list", "--json").stdout)
        self.assertTrue([x for x in listed if x["id"] == kid[0]][0]["revoked_at"])
        # the key itself is not stored
        self.assertEqual(s.cluster.scalar(
            f"SELECT count(*) FROM api_keys WHERE key_hash::text LIKE '%{k[3:]}%' "
            f"OR prefix = '{k}' OR name = '{k}'"), "0")

    def test_out_of_scope(self) -> None:
        body = lambda village: {"program_code": PROGRAM, "village_code": village,
                                "applicants": fresh(1)}
        # village key, another village of the same regency
        self.rejected(403, "OUT_OF_SCOPE", "POST", "/v1/submissions", key=self.k_v1,
                      body=body(V2))
        # regency key, a village outside its regency
        self.rejected(403, "OUT_OF_SCOPE", "POST", "/v1/submissions", key=self.k_mura,
                      body=body(V1))
        # a regency key may submit for its villages, a village key for its own
        self.accepted(self.submit(fresh(1), village=V2, key=self.k_pali))
        sid = self.accepted(self.submit(fresh(1), village=V1, key=self.k_v1))

        # reading: own village and own regency yes, others no
        for key, status in ((self.k_v1, 200), (self.k_pali, 200), (self.admin, 200),
                            (self.k_v2, 403), (self.k_mura, 403)):
            with self.subTest(key=key[:8], status=status):
                r = self.req("GET", f"/v1/submissions/{sid}", key)
                if status == 200:
                    self.assertEqual(r.status, 200, r)
                else:
                    self.assert_error(r, 403, "OUT_OF_SCOPE")
                    self.assertNotIn("applicants", r.raw.decode())
                    self.assertNotIn("1612", r.raw.decode())  # no NIK leaks

    def test_scoped_key_reads_only_its_own(self) -> None:
        mine = self.accepted(self.submit(fresh(2), village=V2, key=self.k_v2))
        theirs = self.accepted(self.submit(fresh(2), village=V1, key=self.k_v1))
        r = self.req("GET", f"/v1/submissions/{mine}", self.k_v2)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["village_code"], V2)
        self.assert_error(self.req("GET", f"/v1/submissions/{theirs}", self.k_v2), 403,
                          "OUT_OF_SCOPE")
        # programmes: a village key sees its regency's only
        r = self.req("GET", "/v1/programs?limit=1000", self.k_v2)
        self.assertEqual(r.status, 200, r)
        self.assertEqual({p["regency_code"] for p in r.body["items"]}, {"16.12"}, r)

    # ------------------------------------------------------------ 404, 405, 415

    def test_not_found(self) -> None:
        for path in (f"/v1/submissions/{uuid.uuid4()}", "/v1/submissions/not-a-uuid",
                     "/v1/submissions/'%20OR%201=1--", "/v1/invoices/999999999",
                     "/v1/programs/NO-SUCH/villages", "/v1/participants/1612011205809999",
                     "/v1/participants/abc"):
            with self.subTest(path=path):
                self.assert_error(self.req("GET", path, self.admin), 404, "NOT_FOUND")
        for path in ("/v1/nope", "/v2/submissions", "/", "/v1"):
            with self.subTest(path=path):
                err = self.assert_error(self.req("GET", path, self.admin), 404,
                                        "NOT_FOUND")
                self.assertEqual(err["message"], "no such endpoint")

    def test_method_not_allowed(self) -> None:
        sid = self.accepted(self.submit(fresh(1)))
        for method, path in (("GET", "/v1/submissions"), ("DELETE", "/v1/submissions"),
                             ("PUT", "/v1/submissions"),
                             ("PUT", f"/v1/submissions/{sid}"),
                             ("DELETE", f"/v1/submissions/{sid}"),
                             ("POST", f"/v1/submissions/{sid}"),
                             ("PATCH", "/v1/invoices"), ("DELETE", "/v1/invoices/1"),
                             ("PUT", "/v1/invoices/1/payments"), ("DELETE", "/v1/claims"),
                             ("POST", "/v1/claims/1"), ("GET", "/v1/claims/1/steps"),
                             ("POST", "/v1/reports/loss-ratio")):
            with self.subTest(method=method, path=path):
                self.rejected(405, "METHOD_NOT_ALLOWED", method, path, key=self.admin,
                              body={"program_code": PROGRAM, "village_code": V1,
                                    "applicants": fresh(1)})
        self.assertEqual(self.stack.cluster.scalar(
            f"SELECT count(*) FROM submissions WHERE id = '{sid}'"), "1")
        # each 405 is counted under its route's pattern, as every other answer
        metrics = self.stack.intake.metrics()
        for route in ("/v1/submissions", "/v1/submissions/{id}", "/v1/invoices",
                      "/v1/invoices/{id}", "/v1/invoices/{id}/payments", "/v1/claims",
                      "/v1/claims/{id}", "/v1/claims/{id}/steps", "/v1/reports/loss-ratio"):
            with self.subTest(route=route):
                self.assertRegex(metrics, r'lindung_http_requests_total\{[^}]*route="'
                                 + re.escape(route) + r'"[^}]*status="405"')
        self.assertNotIn('route="method_not_allowed"', metrics)

    def test_text_that_is_not_utf8_is_a_400(self) -> None:
        """A path, a query parameter or an Idempotency-Key that is not UTF-8
        text is the client's error, never a 500 from PostgreSQL refusing it
        (a review found 500s for each of these)."""
        for path in ("/v1/reports/participants?program=%FF",
                     "/v1/reports/loss-ratio?program=%FF", "/v1/invoices?payer=%FF",
                     "/v1/invoices?%FF=x", "/v1/programs/%FF/villages",
                     "/v1/programs/%C0%AF/renewal", "/healthz?x=%ED%A0%80"):
            with self.subTest(path=path):
                err = self.assert_error(self.req("GET", path, self.admin), 400,
                                        "MALFORMED_REQUEST")
                self.assertIn("UTF-8", err["message"])
        r = self.stack.api("POST", "/v1/submissions", self.admin,
                           headers={"Idempotency-Key": "\xff"},
                           json={"program_code": PROGRAM, "village_code": V1,
                                 "applicants": fresh(1)})
        self.assertEqual((r.status, r.body["error"]["code"]), (400, "BAD_IDEMPOTENCY_KEY"),
                         r.body)
        r = self.stack.api("POST", "/v1/submissions?x=%FF", self.admin,
                           json={"program_code": PROGRAM, "village_code": V1,
                                 "applicants": fresh(1)})
        self.assertEqual((r.status, r.body["error"]["code"]), (400, "MALFORMED_REQUEST"))
        self.assertIn('route="malformed",status="400"', self.stack.intake.metrics())

    def test_unsupported_media_type(self) -> None:
        body = json.dumps({"program_code": PROGRAM, "village_code": V1,
                           "applicants": fresh(1)})
        for ctype in (None, "text/plain", "application/xml",
                      "application/x-www-form-urlencoded", "multipart/form-data; b=x",
                      "application/jsonx"):
            with self.subTest(ctype=ctype):
                self.rejected(415, "UNSUPPORTED_MEDIA_TYPE", "POST", "/v1/submissions",
                              key=self.admin, body=body.encode(), ctype=ctype)
        r = self.req("POST", "/v1/submissions", self.admin, body.encode(),
                     ctype="application/json; charset=utf-8")
        self.accepted(r, 1)

    # ------------------------------------------------------------ 409, idempotency

    def test_idempotency(self) -> None:
        people = fresh(3)
        key = f"idem-{uuid.uuid4()}"
        first = self.accepted(self.submit(people, idem=key))
        # the same body, spaced differently, is the same submission
        spaced = json.dumps({"applicants": people, "village_code": V1,
                             "program_code": PROGRAM}, indent=3)
        r = self.req("POST", "/v1/submissions", self.admin, spaced,
                     ctype="application/json", headers={"Idempotency-Key": key})
        self.assertEqual(self.accepted(r, 3), first)
        # another body with the same key: 409, nothing stored
        changed = [dict(p) for p in people]
        changed[1]["name"] += " Jr"
        self.rejected(409, "IDEMPOTENCY_CONFLICT", "POST", "/v1/submissions",
                      key=self.admin, body={"program_code": PROGRAM, "village_code": V1,
                                            "applicants": changed},
                      headers={"Idempotency-Key": key})
        self.rejected(409, "IDEMPOTENCY_CONFLICT", "POST", "/v1/submissions",
                      key=self.admin, body={"program_code": PROGRAM, "village_code": V1,
                                            "reference": "x", "applicants": people},
                      headers={"Idempotency-Key": key})
        self.assertEqual(self.stack.cluster.scalar(
            f"SELECT count(*) FROM submissions WHERE idempotency_key = '{key}'"), "1")
        # keys belong to the API key: the same key string from another API key
        other = self.accepted(self.submit(people, key=self.k_pali, idem=key))
        self.assertNotEqual(other, first)
        # no header: two submissions
        a = self.accepted(self.submit(people))
        b = self.accepted(self.submit(people))
        self.assertNotEqual(a, b)

    def test_idempotency_concurrent_retries(self) -> None:
        people = fresh(50)
        key = f"race-{uuid.uuid4()}"
        before = self.counts()
        barrier = threading.Barrier(10)
        answers: list[Any] = [None] * 10

        def client(i: int) -> None:
            barrier.wait()
            try:
                answers[i] = self.submit(people, idem=key)
            except Exception as e:  # noqa: BLE001
                answers[i] = e

        threads = [threading.Thread(target=client, args=(i,)) for i in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertTrue(all(isinstance(a, Resp) and a.status == 202 for a in answers),
                        answers)
        ids = {a.body["submission_id"] for a in answers}
        self.assertEqual(len(ids), 1, answers)
        after = self.counts()
        self.assertEqual((int(after[0]) - int(before[0]), int(after[1]) - int(before[1])),
                         (1, 50))

    # ------------------------------------------------------------ 413

    def test_body_too_large(self) -> None:
        s = self.stack
        env = dict(s.env)
        port = harness.free_port()
        env.update({"LINDUNG_INTAKE_PORT": str(port), "LINDUNG_MAX_BODY": "2048",
                    "LINDUNG_BUS_SUBMISSIONS": f"tcp://127.0.0.1:{harness.free_port()}",
                    "LINDUNG_INTAKE_THREADS": "2"})
        d = harness.Daemon("intake-small", harness.BINARIES["intake"], env, port,
                           s.dir / "intake-small.log")
        s.daemons["intake-small"] = d
        d.start()
        try:
            big = {"program_code": PROGRAM, "village_code": V1, "applicants": fresh(30)}
            self.assertGreater(len(json.dumps(big)), 2048)
            err = self.rejected(413, "BODY_TOO_LARGE", "POST", "/v1/submissions",
                                key=self.admin, body=big, port=port)
            self.assertIn("2048", err["message"])
            csv = to_csv(fresh(40))
            self.assertGreater(len(csv), 2048)
            self.rejected(413, "BODY_TOO_LARGE", "POST",
                          f"/v1/submissions?program_code={PROGRAM}&village_code={V1}",
                          key=self.admin, body=csv, ctype="text/csv", port=port)
            # just under the limit is fine, on the same daemon
            small = {"program_code": PROGRAM, "village_code": V1, "applicants": fresh(5)}
            self.assertLess(len(json.dumps(small)), 2048)
            self.accepted(self.req("POST", "/v1/submissions", self.admin, small,
                                   port=port), 5)
        finally:
            d.stop()

    # ------------------------------------------------------------ 503 busy

    def test_server_busy_when_bodies_fill_the_budget(self) -> None:
        """Keyed heads announcing 8 MiB bodies hold the default budget (64
        MiB: seven bodies of the cap, each a page more than 8 MiB); the head
        of one more is answered 503 SERVER_BUSY with Retry-After, before any
        body byte, and nothing is stored. Once they go, bodies are taken
        again."""
        max_body = 8 * 1024 * 1024
        head = ("POST /v1/submissions HTTP/1.1\r\nHost: x\r\n"
                f"Authorization: Bearer {self.admin}\r\n"
                "Content-Type: application/json\r\n"
                f"Content-Length: {max_body}\r\n\r\n").encode()

        def probe() -> Resp | None:
            """The answer to a head alone; None while the server waits for
            the body (it took the body's room)."""
            with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
                s.sendall(head)
                s.settimeout(1.0)
                raw = b""
                try:
                    while True:
                        piece = s.recv(65536)
                        if not piece:
                            break
                        raw += piece
                        top, sep, body = raw.partition(b"\r\n\r\n")
                        m = re.search(rb"(?im)^content-length: *(\d+)", top)
                        if sep and m and len(body) >= int(m.group(1)):
                            break
                except socket.timeout:
                    if not raw:
                        return None
            top, _, body = raw.partition(b"\r\n\r\n")
            lines = top.decode("latin-1").split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, _, v in
                       (line.partition(":") for line in lines[1:])}
            r = Resp(int(lines[0].split()[1]), headers, body)
            if r.code:
                OBSERVED.setdefault(r.code, set()).add(r.status)
            return r

        def holder() -> socket.socket:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            s.sendall(head + b"{")
            return s

        holders: list[socket.socket] = []
        try:
            holders = [holder() for _ in range(8)]
            r = None
            # Each holder's key check is a database round trip: on a loaded
            # machine a probe may take its room first, and a holder answered
            # 503 holds nothing. Such holders are replaced until the probe
            # finds the budget spent.
            deadline = time.monotonic() + 60
            while r is None and time.monotonic() < deadline:
                for i, h in enumerate(holders):
                    if select.select([h], [], [], 0)[0]:
                        h.close()
                        holders[i] = holder()
                r = probe()
            self.assertIsNotNone(r, "the budget was never spent")
            assert r is not None
            self.assertEqual((r.status, r.code), (503, "SERVER_BUSY"), r)
            self.assertEqual(r.headers.get("retry-after"), "1", r.headers)
        finally:
            for s in holders:
                s.close()
        deadline = time.monotonic() + 60
        while probe() is not None and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertIsNone(probe(), "bodies are not taken again once the holders went")

    # ------------------------------------------------------------ 422

    def test_invalid_fields_lists_every_problem(self) -> None:
        good = fresh(6)
        a = [dict(p) for p in good]
        del a[0]["name"]                              # 0: name required
        a[0]["birth_date"] = "1980-02-30"             # 0: impossible date
        a[1]["sex"] = "L"                             # 1: sex
        a[1]["monthly_income"] = -5                   # 1: income
        a[2] = "not an object"                        # 2
        a[3]["nik"] = 1612011205800001                # 3: must be a string
        a[3]["occupation"] = 2.5                      # 3: whole code
        a[3]["phone"] = "0" * 33                      # 3: too long
        a[4]["name"] = "é" * 101                      # 4: 202 bytes > 200
        a[4]["monthly_income"] = "1500000"            # 4: not a number
        # a[5] is fine
        body = {"program_code": PROGRAM, "village_code": "16.12.01.2001X",
                "reference": "r" * 201, "applicants": a}
        err = self.rejected(422, "INVALID_FIELDS", "POST", "/v1/submissions",
                            key=self.admin, body=body)
        got = sorted((d["field"], d.get("index", -1)) for d in err["details"])
        want = sorted([("village_code", -1), ("reference", -1),
                       ("name", 0), ("birth_date", 0), ("sex", 1), ("monthly_income", 1),
                       ("applicants", 2), ("nik", 3), ("occupation", 3), ("phone", 3),
                       ("name", 4), ("monthly_income", 4)])
        self.assertEqual(got, want, err)
        for d in err["details"]:
            self.assertTrue(d.get("message"), d)

        # top-level shape problems
        for name, body in {
                "no applicants": {"program_code": PROGRAM, "village_code": V1},
                "empty applicants": {"program_code": PROGRAM, "village_code": V1,
                                     "applicants": []},
                "applicants not a list": {"program_code": PROGRAM, "village_code": V1,
                                          "applicants": {"nik": "1"}},
                "too many": {"program_code": PROGRAM, "village_code": V1,
                             "applicants": [good[5]] * 10001},
                "program missing": {"village_code": V1, "applicants": [good[5]]},
                "program empty": {"program_code": "", "village_code": V1,
                                  "applicants": [good[5]]},
                "program a number": {"program_code": 7, "village_code": V1,
                                     "applicants": [good[5]]}}.items():
            with self.subTest(case=name):
                err = self.rejected(422, "INVALID_FIELDS", "POST", "/v1/submissions",
                                    key=self.admin, body=body)
                self.assertTrue(err["details"], err)

    def test_unknown_programme_or_village(self) -> None:
        p = fresh(1)
        for name, (program, village, field) in {
                "unknown programme": ("NO-SUCH-PROGRAM", V1, "program_code"),
                "unknown village": (PROGRAM, "16.12.01.2999", "village_code"),
                "a district, not a village": (PROGRAM, "16.12.01", "village_code"),
                "village of another regency": (PROGRAM, MURA_VILLAGE, "village_code"),
                "injection": ("x' OR '1'='1", V1, "program_code")}.items():
            with self.subTest(case=name):
                err = self.rejected(422, "INVALID_FIELDS", "POST", "/v1/submissions",
                                    key=self.admin, body={"program_code": program,
                                                          "village_code": village,
                                                          "applicants": p})
                self.assertEqual([d["field"] for d in err["details"]], [field], err)

    # ------------------------------------------------------------ 500, 503

    def test_internal_error_writes_nothing(self) -> None:
        """A database error that is not a lost connection (here a trigger that
        refuses one name) is 500 INTERNAL and the submission row is rolled back."""
        c = self.stack.cluster
        c.psql("CREATE FUNCTION it_boom() RETURNS trigger LANGUAGE plpgsql AS "
               "$$BEGIN RAISE EXCEPTION 'boom'; END$$")
        c.psql("CREATE TRIGGER it_boom BEFORE INSERT ON applicants FOR EACH ROW "
               "WHEN (NEW.name = 'BOOM-500') EXECUTE FUNCTION it_boom()")
        try:
            people = fresh(3)
            people[2]["name"] = "BOOM-500"
            key = f"boom-{uuid.uuid4()}"
            self.rejected(500, "INTERNAL", "POST", "/v1/submissions", key=self.admin,
                          body={"program_code": PROGRAM, "village_code": V1,
                                "applicants": people}, headers={"Idempotency-Key": key})
        finally:
            c.psql("DROP TRIGGER it_boom ON applicants; DROP FUNCTION it_boom()")
        # the same key works afterwards: the failed attempt left no key behind
        self.accepted(self.submit(people, idem=key), 3)

    def test_y_database_unavailable_then_recovers(self) -> None:
        s = self.stack
        sid = self.accepted(self.submit(fresh(1)))
        before = self.counts()
        key = f"down-{uuid.uuid4()}"
        people = fresh(2)
        down: list[tuple[str, Resp]] = []
        s.cluster.stop("immediate")
        try:
            for i in range(6):   # every worker thread, each with its own connection
                down.append((f"POST #{i}", self.submit(people, idem=key)))
            down.append(("GET submission", self.req("GET", f"/v1/submissions/{sid}",
                                                    self.admin)))
            down.append(("GET programs", self.req("GET", "/v1/programs", self.admin)))
            ready = self.req("GET", "/readyz")
            health = self.req("GET", "/healthz")
        finally:
            s.cluster.start()
        self.assertEqual(self.counts(), before, "a request while the database was down "
                         "stored something")
        # no restart of intake: it reconnects by itself
        statuses: list[int] = []

        def back():
            r = self.submit(people, idem=key)
            statuses.append(r.status)
            return r if r.status == 202 else None
        r = harness.wait_until(back, timeout=15, interval=0.2, message="intake recovers")
        sid2 = self.accepted(r)
        later = [self.submit(people, idem=key) for _ in range(12)]
        self.assertTrue(s.intake.running())
        self.warm_up()   # whatever the verdict, leave every worker connected


        for what, resp in down:
            with self.subTest(while_down=what):
                self.assert_error(resp, 503, "DATABASE_UNAVAILABLE")
        self.assertEqual(ready.status, 503, ready)
        self.assertEqual(health.status, 200, health)
        self.assertTrue(set(statuses) <= {202, 503},
                        f"answers while reconnecting: {statuses}")
        self.assertEqual([(x.status, x.body.get("submission_id")) for x in later],
                         [(202, sid2)] * 12, "after the first success every thread works")
        self.wait_verified(sid2)

    def warm_up(self) -> None:
        """Until every intake worker thread answers from the database again:
        rounds of concurrent requests (they spread over the thread pool)."""
        good_rounds = 0
        for _ in range(60):
            out: list[int] = []
            threads = [threading.Thread(target=lambda: out.append(
                self.req("GET", "/v1/programs?limit=1", self.admin).status))
                for _ in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(20)
            good_rounds = good_rounds + 1 if out == [200] * 8 else 0
            if good_rounds == 3:
                return
            time.sleep(0.1)

    # ------------------------------------------------------------ stored exactly

    def test_names_stored_exactly(self) -> None:
        names = ["O'Brien \"Bob\"", "Robert'); DROP TABLE applicants;--",
                 "a; DELETE FROM submissions; SELECT 1", "x\\y\\\\z %s %d $1 $$",
                 "Ni Made Sri Ayu Kusumawati", "Nguyễn 阿明 🙂", "  spaces  kept ",
                 "tab\there", "null", "NULL", "' OR '1'='1", "--", "/* c */", "`rm -rf`",
                 "<script>alert(1)</script>", "line\nbreak"]
        people = fresh(len(names))
        for p, n in zip(people, names):
            p["name"] = n
        people[0]["address"] = "Jl. \"Merdeka\"; No. 1 -- RT 03'"
        people[0]["poverty_ref"] = "DTKS'; DROP TABLE programs;--"
        ref = "Musdes 1'; TRUNCATE submissions;--"
        sid = self.accepted(self.submit(people, reference=ref), len(names))
        r = self.req("GET", f"/v1/submissions/{sid}", self.admin)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["reference"], ref)
        got = [a["name"] for a in sorted(r.body["applicants"], key=lambda a: a["index"])]
        self.assertEqual(got, names)
        rows = self.stack.cluster.psql(
            f"SELECT name FROM applicants WHERE submission_id = '{sid}' ORDER BY idx")
        self.assertEqual([x[0] for x in rows], names)
        self.assertEqual(self.stack.cluster.psql(
            f"SELECT address, poverty_ref FROM applicants WHERE submission_id = '{sid}' "
            "AND idx = 0"), [(people[0]["address"], people[0]["poverty_ref"])])
        self.assertEqual(self.stack.cluster.scalar(
            f"SELECT reference FROM submissions WHERE id = '{sid}'"), ref)
        # the nine demo programmes and the test fixture PALI-TEST-ADD
        self.assertEqual(self.stack.cluster.scalar("SELECT count(*) FROM programs"), "10")

    # ------------------------------------------------------------ reads

    def test_participants(self) -> None:
        person = fresh(1)[0]
        sid = self.accepted(self.submit([person], village=V2, key=self.k_v2))
        sub = self.wait_verified(sid)
        self.assertEqual(self.decisions(sub), [("accepted", None)], sub)
        nik = person["nik"]
        for key in (self.admin, self.k_v2, self.k_pali):
            with self.subTest(key=key[:8]):
                r = self.req("GET", f"/v1/participants/{nik}", key)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.body["nik"], nik)          # full NIK within scope
                self.assertEqual((r.body["name"], r.body["birth_date"], r.body["sex"]),
                                 (person["name"], person["birth_date"], person["sex"]))
                self.assertEqual([(e["program_code"], e["village_code"], e["status"],
                                   e["funding_source"], e["start_month"])
                                  for e in r.body["enrolments"]],
                                 [(PROGRAM, V2, "active", "ADD", PERIOD)], r)
        # outside the scope: 404 exactly like an unknown NIK, nothing leaks
        unknown = self.req("GET", "/v1/participants/1612011205809998", self.k_v1)
        for key in (self.k_v1, self.k_mura):
            with self.subTest(key=key[:8]):
                r = self.req("GET", f"/v1/participants/{nik}", key)
                self.assert_error(r, 404, "NOT_FOUND")
                self.assertEqual(r.body, unknown.body)
                self.assertNotIn(nik, r.raw.decode())
                self.assertNotIn(person["name"], r.raw.decode())

    def test_claims_refusals(self) -> None:
        """The claims register's own error codes (test_claims.py tests the rest)."""
        person = fresh(1)[0]
        self.wait_verified(self.accepted(self.submit([person])))
        today = (datetime.datetime.now(datetime.timezone.utc)
                 + datetime.timedelta(hours=7)).strftime("%Y-%m-%d")
        claim = {"nik": person["nik"], "accident_date": today, "accident_kind": "jatuh",
                 "amount_claimed": 1000000}
        r = self.req("POST", "/v1/claims", self.admin, claim)
        self.assertEqual(r.status, 201, r)
        self.assert_error(self.req("POST", f"/v1/claims/{r.body['id']}/steps", self.admin,
                                   {"status": "paid", "date": today, "amount": 1}),
                          409, "INVALID_TRANSITION")
        self.assert_error(self.req("POST", "/v1/claims", self.admin,
                                   dict(claim, nik="1612011205809998")), 422, "NOT_COVERED")

    def test_programs_pagination(self) -> None:
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            q = "/v1/programs?limit=2" + (f"&cursor={cursor}" if cursor else "")
            r = self.req("GET", q, self.admin)
            self.assertEqual(r.status, 200, r)
            self.assertIn("next_cursor", r.body)
            self.assertLessEqual(len(r.body["items"]), 2)
            seen += [p["code"] for p in r.body["items"]]
            pages += 1
            cursor = r.body["next_cursor"]
            if cursor is None:
                break
            self.assertLess(pages, 10, "pagination does not end")
        all_codes = [x[0] for x in self.stack.cluster.psql(
            "SELECT code FROM programs ORDER BY code")]
        self.assertEqual(seen, all_codes)
        # 2 a page; a full last page is followed by an empty one (no look-ahead)
        self.assertEqual(pages, len(all_codes) // 2 + 1)
        r = self.req("GET", "/v1/programs", self.admin)
        pali = [p for p in r.body["items"] if p["code"] == PROGRAM][0]
        self.assertEqual((pali["regency_code"], pali["funding_source"],
                          pali["coverage_start"], pali["village_target"],
                          pali["village_quota"], pali["max_age"]),
                         ("16.12", "ADD", COVERAGE_START, 100, None, 64), pali)
        r = self.req("GET", "/v1/programs", self.k_mura)
        self.assertEqual(sorted(p["code"] for p in r.body["items"]),
                         ["MURA-2023-ADD", "MURA-2024-ADD", "MURA-2024-SAWIT",
                          "MURA-2026-CSR"])

    def test_program_villages(self) -> None:
        def row(key: str) -> dict:
            r = self.req("GET", f"/v1/programs/{PROGRAM}/villages?limit=1000", key)
            self.assertEqual(r.status, 200, r)
            return {v["village_code"]: v for v in r.body["items"]}

        before = row(self.admin)[V3]
        self.assertEqual((before["quota"], before["target"], before["accepted"],
                          before["submitted"]), (None, 100, 0, False), before)
        people = fresh(2) + [bad_nik()]
        sid = self.accepted(self.submit(people, village=V3, key=self.k_v3))
        r3 = row(self.k_v3)
        self.assertEqual(list(r3), [V3], "a village key sees its own row only")
        self.assertTrue(r3[V3]["submitted"], r3)
        self.wait_verified(sid)
        after = row(self.admin)[V3]
        self.assertEqual((after["quota"], after["target"], after["accepted"],
                          after["submitted"]), (None, 100, 2, True), after)

        # pages of the regency's villages, with a cursor
        codes, cursor = [], None
        for _ in range(20):
            q = f"/v1/programs/{PROGRAM}/villages?limit=25" + (
                f"&cursor={cursor}" if cursor else "")
            r = self.req("GET", q, self.k_pali)
            self.assertEqual(r.status, 200, r)
            codes += [v["village_code"] for v in r.body["items"]]
            cursor = r.body["next_cursor"]
            if cursor is None:
                break
        want = [x[0] for x in self.stack.cluster.psql(
            "SELECT code FROM regions WHERE level = 'village' AND regency_code = '16.12' "
            "ORDER BY code")]
        self.assertEqual(codes, want)
        # a programme of another regency is not this key's to read
        r = self.req("GET", "/v1/programs/MURA-2024-ADD/villages", self.k_v3)
        self.assertIn(r.code, ("OUT_OF_SCOPE", "NOT_FOUND"), r)
        self.assertIn(r.status, (403, 404), r)

    def test_invoices_and_payments(self) -> None:
        s = self.stack
        sid = self.accepted(self.submit(fresh(2), village=V4))
        self.wait_verified(sid)
        s.lindungctl("billing", "run", PERIOD)

        pages: list[dict] = []

        def invoice():
            r = self.req("GET", f"/v1/invoices?period={PERIOD}&funding_source=ADD"
                         f"&payer={V4}", self.admin)
            assert r.status == 200, r
            pages.append(r.body)
            # the contract's Page is {"items", "next_cursor"}; read what is there
            # and check the name at the end
            items = r.body.get("items", r.body.get("invoices"))
            return items[0] if items else None
        inv = harness.wait_until(invoice, timeout=20, message="invoice for V4")
        self.assertEqual((inv["payer_code"], inv["total"], inv["status"]),
                         (V4, 2 * 16800, "open"), inv)
        iid = inv["id"]
        r = self.req("GET", f"/v1/invoices/{iid}", self.admin,
                     headers={"Accept": "text/csv"})
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.raw.startswith(b"enrolment_id,nik,name,program,village_code"), r)
        self.assert_error(self.req("GET", f"/v1/invoices/{iid}", self.k_v1), 404,
                          "NOT_FOUND")
        pay = f"/v1/invoices/{iid}/payments"
        today = datetime.date.today().isoformat()
        self.assert_error(self.req("POST", pay, self.k_pali, {"amount": 1, "paid_on": today}),
                          403, "OUT_OF_SCOPE")
        self.assert_error(self.req("POST", pay, self.admin,
                                   {"amount": inv["total"] + 1, "paid_on": today,
                                    "reference": "SP2D-over"}), 409, "OVERPAYMENT")
        c = self.stack.cluster
        first, second = sorted(int(x[0]) for x in c.psql(
            f"SELECT enrolment_id FROM document_items({iid})"))
        r = self.req("POST", pay, self.admin, {"amount": 16800, "paid_on": today,
                                                "reference": "SP2D-0001", "lines": [first]})
        self.assertEqual(r.status, 201, r)
        self.assertEqual((r.body["paid"], r.body["status"]), (16800, "partially_paid"), r)
        self.assert_error(self.req("POST", pay, self.admin,
                                   {"amount": 16800, "paid_on": today,
                                    "reference": "SP2D-0001"}), 409, "DUPLICATE_PAYMENT")
        # payments name their lines (issue 13): each refusal of the allocation
        # (the first line is paid by a list: a payment without one would be
        # allocated again after a list, and not count against it)
        for lines, code in (([first], "NOTHING_DUE"), ([second], "AMOUNT_MISMATCH"),
                            ([987654321], "UNKNOWN_LINE")):
            self.assert_error(self.req("POST", pay, self.admin,
                                       {"amount": 1, "paid_on": today, "lines": lines}), 422, code)
        credit = c.scalar(
            "WITH r AS (INSERT INTO billing_runs (period, trigger, finished_at) "
            f"SELECT period, 'manual', now() FROM invoices WHERE id = {iid} RETURNING id) "
            "INSERT INTO invoices (period, funding_source, payer_code, payer_name, due_date, "
            "kind, run_id) SELECT i.period, i.funding_source, i.payer_code, i.payer_name, "
            f"i.due_date, 'credit_note', r.id FROM invoices i, r WHERE i.id = {iid} RETURNING id")
        self.assert_error(self.req("POST", f"/v1/invoices/{credit}/payments", self.admin,
                                   {"amount": 1, "paid_on": today}), 422, "NOT_PAYABLE")
        self.assert_error(self.req("GET", "/v1/invoices?period=2025-13", self.admin), 422,
                          "INVALID_FIELDS")
        # like every list (docs/openapi.yaml, schema Page): items + next_cursor
        self.assertEqual(sorted(pages[-1]), ["items", "next_cursor"], pages[-1])

    # ------------------------------------------------------------ OpenAPI

    def test_zz_openapi_parser(self) -> None:
        doc = openapi_doc()
        self.assertIn("/v1/submissions", doc["paths"])
        self.assertIn("202", doc["paths"]["/v1/submissions"]["post"])
        self.assertIn("INVALID_FIELDS", doc["error_codes"])
        try:
            import yaml  # noqa: PLC0415 - optional cross-check
        except ImportError:
            return
        full = yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))
        want = {p: {m: sorted(str(c) for c in op.get("responses", {}))
                    for m, op in ops.items() if isinstance(op, dict) and "responses" in op}
                for p, ops in full["paths"].items()}
        got = {p: {m: sorted(c) for m, c in ops.items()} for p, ops in doc["paths"].items()}
        self.assertEqual(got, want)
        self.assertEqual(doc["error_codes"], full["components"]["schemas"]["ErrorCode"]["enum"])
        self.assertEqual(doc["error_status"],
                         full["components"]["schemas"]["ErrorCode"].get("x-status", {}))

    def concrete(self, path: str) -> str:
        sid = self.accepted(self.submit(fresh(1)))
        inv = self.stack.cluster.scalar("SELECT min(id) FROM invoices") or "1"
        nik = self.stack.cluster.scalar(
            "SELECT nik FROM enrolments ORDER BY id LIMIT 1") or "1612011205800001"
        values = {"/v1/submissions/{id}": sid, "/v1/invoices/{id}": inv,
                  "/v1/invoices/{id}/payments": inv}
        out = path
        for name, value in (("{nik}", nik), ("{code}", PROGRAM)):
            out = out.replace(name, value)
        if "{id}" in out:
            out = out.replace("{id}", values.get(path, "1"))
        self.assertNotIn("{", out, f"unknown path parameter in {path}")
        return out

    def test_zz_openapi_routes_served(self) -> None:
        """Every documented route answers with a status documented for it, and
        never the router's 'no such endpoint'."""
        doc = openapi_doc()
        self.assertGreaterEqual(len(doc["paths"]), 8, doc["paths"])
        for path, ops in doc["paths"].items():
            url = self.concrete(path)
            for method, statuses in ops.items():
                with self.subTest(method=method.upper(), path=path):
                    body = None
                    if method == "post" and path == "/v1/submissions":
                        body = {"program_code": PROGRAM, "village_code": V1,
                                "applicants": fresh(1)}
                    elif method == "post":
                        body = {}
                    r = self.req(method.upper(), url, self.admin, body)
                    self.assertFalse(r.code == "NOT_FOUND" and
                                     r.body["error"].get("message") == "no such endpoint",
                                     f"{method.upper()} {url}: {r}")
                    self.assertIn(str(r.status), statuses,
                                  f"{method.upper()} {url} answered {r}, not documented")

    def test_zz_openapi_wrong_methods_are_405(self) -> None:
        """Where the document promises 405 for a path, the methods it does not
        list get 405 METHOD_NOT_ALLOWED (not 404)."""
        doc = openapi_doc()
        for path, ops in doc["paths"].items():
            if not any("405" in st for st in ops.values()):
                continue
            url = self.concrete(path)
            for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
                if method.lower() in ops:
                    continue
                with self.subTest(method=method, path=path):
                    r = self.req(method, url, self.admin, {} if method != "GET" else None)
                    self.assert_error(r, 405, "METHOD_NOT_ALLOWED")

    def _need_full_run(self) -> None:
        tests = {n for n in dir(type(self)) if n.startswith("test_") and
                 not n.startswith("test_zzz_")}
        if not tests <= TESTS_RUN:
            self.skipTest("needs the whole class to run first")

    def test_zzz_openapi_error_codes_covered(self) -> None:
        """Every error code docs/openapi.yaml lists was produced by a test here,
        with the status the document gives it."""
        self._need_full_run()
        doc = openapi_doc()
        self.assertTrue(doc["error_codes"])
        missing = [c for c in doc["error_codes"] if c not in OBSERVED]
        self.assertEqual(missing, [], f"documented but never produced; observed: {OBSERVED}")
        for code, status in doc["error_status"].items():
            with self.subTest(code=code):
                self.assertEqual(OBSERVED.get(code), {status}, OBSERVED)

    def test_zzz_observed_error_codes_documented(self) -> None:
        """Every error code the server produced is in docs/openapi.yaml."""
        self._need_full_run()
        doc = openapi_doc()
        undocumented = sorted(set(OBSERVED) - set(doc["error_codes"]))
        self.assertEqual(undocumented, [],
                         f"the server answers error codes docs/openapi.yaml does not "
                         f"list: { {c: OBSERVED[c] for c in undocumented} }")


if __name__ == "__main__":
    unittest.main(verbosity=2)
