"""The headers two errors owe their clients (issue 17, item 7), on every
route docs/openapi.yaml lists, against the real lindung-intake:

- every 401 carries `WWW-Authenticate` with a Bearer challenge (RFC 6750):
  `Bearer realm="lindung"` without a key, with `error="invalid_token"` for a
  key that is no good; asked with and without a body (a request with a body
  is answered from its head, by another path through the server);
- every 405 carries `Allow` naming exactly the methods the document lists
  for the path (RFC 9110), asked with an admin key.

Routes the document marks `security: []` (/healthz, /readyz, /metrics) need
no key and answer any method, so neither check applies to them.
docs/openapi.yaml is read with the standard library only: the few lines of
its block style these checks need (paths, their operations, `security`).
"""

from __future__ import annotations

import re
import unittest

import harness

OPENAPI = harness.SOURCE_DIR / "docs/openapi.yaml"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# a value for each path parameter: any will do, the answer comes first
PARAMETERS = {"{id}": "1", "{nik}": "1612011205800001", "{code}": "PALI-TEST-ADD"}


def openapi_operations() -> dict[str, dict[str, bool]]:
    """{path: {METHOD: needs a key}} from docs/openapi.yaml: paths are the
    two-space-indented keys under `paths:`, operations the four-space ones
    under a path, and an operation needs no key when it says `security: []`
    (six spaces in)."""
    out: dict[str, dict[str, bool]] = {}
    path = method = None
    in_paths = False
    for line in OPENAPI.read_text(encoding="utf-8").splitlines():
        if re.match(r"^\S", line):
            in_paths = line.startswith("paths:")
            continue
        if not in_paths:
            continue
        m = re.match(r"^  (/\S*):\s*$", line)
        if m:
            path, method = m.group(1), None
            out[path] = {}
            continue
        m = re.match(r"^    (get|post|put|patch|delete):\s*$", line)
        if m and path:
            method = m.group(1).upper()
            out[path][method] = True
            continue
        if path and method and re.match(r"^      security:\s*\[\]\s*$", line):
            out[path][method] = False
    return out


def concrete(path: str) -> str:
    for name, value in PARAMETERS.items():
        path = path.replace(name, value)
    assert "{" not in path, f"no value for a parameter of {path}"
    return path


class HeadersTest(harness.LindungTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.stack.migrate()
        self.stack.import_programs()
        self.stack.start_daemons("intake")
        self.admin = self.stack.create_key("admin")
        self.operations = openapi_operations()
        self.assertGreaterEqual(len(self.operations), 15, self.operations)

    def request(self, method: str, path: str, key: str | None) -> harness.Response:
        body = {} if method != "GET" else None
        return self.stack.api(method, concrete(path), key=key, json=body)

    def test_every_401_challenges_for_a_bearer_key(self) -> None:
        checked = 0
        for path, ops in self.operations.items():
            for method, keyed in ops.items():
                if not keyed:
                    continue
                for key, challenge in ((None, 'Bearer realm="lindung"'),
                                       ("lk_nosuchkey",
                                        'Bearer realm="lindung", error="invalid_token"')):
                    with self.subTest(method=method, path=path, key=key):
                        r = self.request(method, path, key)
                        self.assertEqual(r.status, 401, r)
                        self.assertEqual(r.body["error"]["code"], "UNAUTHENTICATED", r)
                        header = r.header("WWW-Authenticate")
                        self.assertIsNotNone(header, f"{method} {path}: {r.headers}")
                        self.assertTrue(header.startswith("Bearer"), header)
                        self.assertEqual(header, challenge)
                        checked += 1
        self.assertGreaterEqual(checked, 30)

    def test_every_405_names_the_methods_allowed(self) -> None:
        checked = 0
        for path, ops in self.operations.items():
            if not all(ops.values()):
                continue  # /healthz and the like answer any method
            for method in METHODS:
                if method in ops:
                    continue
                with self.subTest(method=method, path=path):
                    r = self.request(method, path, self.admin)
                    self.assertEqual(r.status, 405, r)
                    self.assertEqual(r.body["error"]["code"], "METHOD_NOT_ALLOWED", r)
                    allow = r.header("Allow")
                    self.assertIsNotNone(allow, f"{method} {path}: {r.headers}")
                    named = [m.strip() for m in allow.split(",")]
                    self.assertEqual(sorted(named), sorted(ops), f"Allow: {allow}")
                    checked += 1
        self.assertGreaterEqual(checked, 60)

    def test_other_answers_carry_neither(self) -> None:
        """The headers belong to their errors: a 200, a 404 and a 403 carry
        neither."""
        village = self.stack.create_key("village:16.12.01.2001")
        for method, path, key, status in (
                ("GET", "/v1/programs", self.admin, 200),
                ("GET", "/v1/nothing-here", self.admin, 404),
                ("GET", "/v1/reports/loss-ratio?regency=16.05", village, 403)):
            with self.subTest(path=path):
                r = self.stack.api(method, path, key=key)
                self.assertEqual(r.status, status, r)
                self.assertIsNone(r.header("WWW-Authenticate"), r.headers)
                self.assertIsNone(r.header("Allow"), r.headers)


if __name__ == "__main__":
    unittest.main(verbosity=2)
