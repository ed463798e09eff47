"""API keys and what a key may learn (issue 15, "Keys" and finding 11),
against a real PostgreSQL, intake over HTTP and lindungctl:

- `lindungctl apikey revoke` takes a key's whole id and nothing else: two
  keys sharing a prefix (made to collide with SQL, since real prefixes are
  random) are told apart, a prefix or part of an id revokes nothing;
- `--expires` (a last day or a number of days): an expired key is 401
  exactly as an unknown one;
- last use is recorded, at most once a minute per key (the row is not
  rewritten by every request);
- `apikey list` shows id, name, scope, status, created, expires, last used
  and revoked;
- an invoice or claim outside the key's scope is 404 with exactly the body
  of an id that does not exist (ids are sequential: a 403 would say which
  exist).
"""

from __future__ import annotations

import datetime
import json
import re
import unittest
import uuid

import harness

GIANYAR = "GIANYAR-2024-ADD"
GIANYAR_A = "51.04.01.2001"
GIANYAR_B = "51.04.01.2002"

# One person enrolled in village A for 2024, as test_claims.py makes them.
ENROL_SQL = """
WITH s AS (
  INSERT INTO submissions (id, program_id, village_code, applicant_count)
  SELECT gen_random_uuid(), p.id, '{village}', 1 FROM programs p WHERE p.code = '{program}'
  RETURNING id, program_id),
a AS (
  INSERT INTO applicants (submission_id, idx, nik, name, birth_date, sex, occupation,
                          decision)
  SELECT s.id, 0, '{nik}', 'Peserta', '1980-01-01', 'M', 'PETANI/PEKEBUN', 'accepted'
  FROM s RETURNING id, nik),
pa AS (
  INSERT INTO participants (nik, name, birth_date, sex)
  SELECT nik, 'Peserta', '1980-01-01', 'M' FROM a RETURNING nik)
INSERT INTO enrolments (nik, program_id, village_code, applicant_id, funding_source,
                        payer_code, start_month, end_month)
SELECT a.nik, s.program_id, '{village}', a.id, p.funding_source,
       program_payer(p.id, '{village}'), '2024-01-01', '2024-12-01'
FROM a, s JOIN programs p ON p.id = s.program_id
RETURNING id
"""

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


class KeysTest(harness.LindungTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.stack.migrate()

    # -- helpers
    def sql(self, q: str) -> list[tuple]:
        return self.stack.cluster.psql(q)

    def ctl(self, *args: str, check: bool = True):
        return self.stack.lindungctl(*args, check=check)

    def keys(self) -> dict[str, dict]:
        """`apikey list --json`, by name."""
        return {k["name"]: k for k in json.loads(self.ctl("apikey", "list", "--json").stdout)}

    def status(self, key: str) -> int:
        return self.stack.api("GET", "/v1/programs", key=key).status

    def assert_revoked_nothing(self, *keys: str) -> None:
        self.assertEqual(self.sql("SELECT count(*) FROM api_keys WHERE revoked_at IS NOT NULL"),
                         [("0",)])
        for k in keys:
            self.assertEqual(self.status(k), 200)

    # -- revocation by id
    def test_revoke_takes_the_whole_id_only(self) -> None:
        s = self.stack
        s.start_daemons("intake")
        first = s.create_key("admin", name="dinas-a")
        second = s.create_key("admin", name="dinas-b")
        listed = self.keys()
        id1, id2 = listed["dinas-a"]["id"], listed["dinas-b"]["id"]
        # real prefixes are random: make them collide, as they one day will
        self.sql(f"UPDATE api_keys SET prefix = '{first[:11]}' WHERE id = '{id2}'")
        self.assertEqual(self.sql("SELECT count(DISTINCT prefix) FROM api_keys"), [("1",)])

        # the shared prefix names two keys: refused, both still work
        r = self.ctl("apikey", "revoke", first[:11], check=False)
        self.assertEqual(r.returncode, 2, r)
        self.assertIn(id1, r.stderr)
        self.assertIn(id2, r.stderr)
        self.assert_revoked_nothing(first, second)
        # neither does part of an id, nor the key itself, nor nothing at all
        for partial in (id1[:8], id1[:-1], first, ""):
            with self.subTest(partial=partial):
                r = self.ctl("apikey", "revoke", partial, check=False)
                self.assertEqual(r.returncode, 2, r)
                self.assert_revoked_nothing(first, second)
        self.assertEqual(self.ctl("apikey", "revoke", check=False).returncode, 2)

        # the whole id revokes that key and no other
        r = self.ctl("apikey", "revoke", id1)
        self.assertIn(id1, r.stdout)
        self.assertEqual(self.status(first), 401)
        self.assertEqual(self.status(second), 200)
        listed = self.keys()
        self.assertEqual(listed["dinas-a"]["status"], "revoked")
        self.assertRegex(listed["dinas-a"]["revoked_at"], ISO_MS)
        self.assertEqual(listed["dinas-b"]["status"], "active")
        self.assertIsNone(listed["dinas-b"]["revoked_at"])
        # upper case is the same id; twice, or an id nobody has, is exit 1
        r = self.ctl("apikey", "revoke", id1.upper(), check=False)
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("already revoked", r.stderr)
        r = self.ctl("apikey", "revoke", str(uuid.uuid4()), check=False)
        self.assertEqual(r.returncode, 1, r)
        self.assertEqual(self.status(second), 200)

    def test_create_shows_the_id(self) -> None:
        # text: the key alone on stdout (scripts read it), the id on stderr
        r = self.ctl("apikey", "create", "--name", "desa", "--scope", f"village:{GIANYAR_A}")
        key = r.stdout.strip()
        self.assertRegex(key, r"^lk_[0-9a-f]{48}$")
        kid = self.keys()["desa"]["id"]
        self.assertIn(kid, r.stderr)
        # --json: everything at once
        made = json.loads(self.ctl("apikey", "create", "--name", "kab", "--scope",
                                   "regency:51.04", "--json").stdout)
        self.assertEqual(set(made), {"id", "key", "name", "scope", "expires_at"})
        self.assertEqual(made["id"], self.keys()["kab"]["id"])
        self.assertEqual((made["name"], made["scope"], made["expires_at"]),
                         ("kab", "regency:51.04", None))
        listed = self.keys()["kab"]
        self.assertEqual(set(listed), {"id", "name", "prefix", "scope", "status",
                                       "created_at", "expires_at", "last_used_at",
                                       "revoked_at"})
        self.assertEqual(listed["prefix"], made["key"][:11])
        self.assertRegex(listed["created_at"], ISO_MS)
        # the table shows the same
        table = self.ctl("apikey", "list").stdout
        header = table.splitlines()[0].split()
        for col in ("ID", "PREFIX", "SCOPE", "STATUS", "CREATED", "EXPIRES", "LAST",
                    "USED", "REVOKED", "NAME"):
            self.assertIn(col, header)
        row = [ln for ln in table.splitlines() if made["id"] in ln][0]
        self.assertIn("regency:51.04", row)
        self.assertIn("active", row)

    # -- expiry
    def test_expired_key_is_unknown(self) -> None:
        s = self.stack
        s.start_daemons("intake")
        made = json.loads(self.ctl("apikey", "create", "--name", "sebulan", "--expires", "30",
                                   "--json").stdout)
        key = made["key"]
        expires = datetime.datetime.strptime(made["expires_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
        in_30_days = datetime.datetime.utcnow() + datetime.timedelta(days=30)
        self.assertLess(abs((expires - in_30_days).total_seconds()), 120, made)
        self.assertEqual(self.status(key), 200)

        # a last day: the key works through it, Asia/Jakarta (UTC+7)
        made = json.loads(self.ctl("apikey", "create", "--name", "tahun", "--expires",
                                   "2099-12-31", "--json").stdout)
        self.assertEqual(made["expires_at"], "2099-12-31T17:00:00.000Z")
        jakarta_today = (datetime.datetime.utcnow() + datetime.timedelta(hours=7)).date()
        made = json.loads(self.ctl("apikey", "create", "--name", "hari-ini", "--expires",
                                   jakarta_today.isoformat(), "--json").stdout)
        self.assertEqual(self.status(made["key"]), 200)

        # refused: a day already past, no days, not a date
        for bad in ("2020-01-01", "0", "-3", "abc", "2025-02-30", "36501"):
            with self.subTest(expires=bad):
                r = self.ctl("apikey", "create", "--name", f"bad-{bad}", "--expires", bad,
                             check=False)
                self.assertEqual(r.returncode, 2, r)
                self.assertEqual(r.stdout, "")
        self.assertEqual(self.sql("SELECT count(*) FROM api_keys WHERE name LIKE 'bad-%'"),
                         [("0",)])

        # expired: 401 with exactly an unknown key's answer
        self.sql("UPDATE api_keys SET expires_at = now() - interval '1 second' "
                 "WHERE name = 'sebulan'")
        expired = s.api("GET", "/v1/programs", key=key)
        unknown = s.api("GET", "/v1/programs", key="lk_" + "0" * 48)
        self.assertEqual(expired.status, 401)
        self.assertEqual(expired.body, unknown.body)
        r = s.api("POST", "/v1/submissions", key=key, json={
            "program_code": GIANYAR, "village_code": GIANYAR_A, "applicants": []})
        self.assertEqual(r.status, 401)
        self.assertEqual(self.keys()["sebulan"]["status"], "expired")

    # -- last use
    def test_last_use_recorded_at_most_once_a_minute(self) -> None:
        s = self.stack
        s.start_daemons("intake")
        key = s.create_key("admin", name="dipakai")
        self.assertIsNone(self.keys()["dipakai"]["last_used_at"])
        self.assertEqual(self.status(key), 200)
        first = self.keys()["dipakai"]["last_used_at"]
        self.assertRegex(first, ISO_MS)
        self.assertIn(first[:16], self.ctl("apikey", "list").stdout)

        # within the minute the row is not written again (its xmin stays)
        xmin = self.sql("SELECT xmin FROM api_keys WHERE name = 'dipakai'")
        for _ in range(20):
            self.assertEqual(self.status(key), 200)
        self.assertEqual(self.sql("SELECT xmin FROM api_keys WHERE name = 'dipakai'"), xmin)
        self.assertEqual(self.keys()["dipakai"]["last_used_at"], first)

        # a minute later it is
        self.sql("UPDATE api_keys SET last_used_at = last_used_at - interval '61 seconds' "
                 "WHERE name = 'dipakai'")
        aged = self.keys()["dipakai"]["last_used_at"]
        self.assertEqual(self.status(key), 200)
        self.assertGreater(self.keys()["dipakai"]["last_used_at"], aged)
        # a refused request is no use of the key
        other = s.create_key("admin", name="dicabut")
        self.ctl("apikey", "revoke", self.keys()["dicabut"]["id"])
        self.assertEqual(self.status(other), 401)
        self.assertIsNone(self.keys()["dicabut"]["last_used_at"])

    # -- 404 outside the scope
    def test_out_of_scope_ids_are_not_found(self) -> None:
        s = self.stack
        s.import_programs()
        (enrolment,), = self.sql(ENROL_SQL.format(program=GIANYAR, village=GIANYAR_A,
                                                  nik="5104010101800001"))
        s.start_daemons("billing", "intake")
        doc = json.loads(self.ctl("billing", "run", "2024-03").stdout)
        self.assertTrue(doc["ok"], doc)
        (invoice,), = self.sql(f"SELECT id FROM invoices WHERE payer_code = '{GIANYAR_A}' "
                               "ORDER BY id LIMIT 1")
        # a death opens the JKM claim (018)
        self.sql("UPDATE enrolments SET status = 'ended', end_reason = 'death', "
                 f"end_month = '2024-04-01', ended_at = now() WHERE id = {enrolment}")
        (claim,), = self.sql(f"SELECT id FROM claims WHERE enrolment_id = {enrolment}")
        top_invoice = int(self.sql("SELECT max(id) FROM invoices")[0][0])
        top_claim = int(self.sql("SELECT max(id) FROM claims")[0][0])

        own = s.create_key(f"village:{GIANYAR_A}")
        regency = s.create_key("regency:51.04")
        neighbour = s.create_key(f"village:{GIANYAR_B}")
        elsewhere = s.create_key("regency:73.02")
        self.assertEqual(s.api("GET", f"/v1/invoices/{invoice}", key=own).status, 200)
        self.assertEqual(s.api("GET", f"/v1/claims/{claim}", key=regency).status, 200)

        def same_as_unknown(method: str, path: str, unknown_path: str, key: str,
                            **kw) -> None:
            r = s.api(method, path, key=key, **kw)
            u = s.api(method, unknown_path, key=key, **kw)
            self.assertEqual((r.status, r.raw), (404, u.raw), (path, r.body))
            self.assertEqual(r.body["error"]["code"], "NOT_FOUND")
            self.assertEqual(r.header("content-type"), u.header("content-type"))

        for key in (neighbour, elsewhere):
            with self.subTest(key=key[:11]):
                same_as_unknown("GET", f"/v1/invoices/{invoice}",
                                f"/v1/invoices/{top_invoice + 1}", key)
                same_as_unknown("GET", f"/v1/invoices/{invoice}",
                                f"/v1/invoices/{top_invoice + 1}", key,
                                headers={"Accept": "text/csv"})
                same_as_unknown("GET", f"/v1/claims/{claim}", f"/v1/claims/{top_claim + 1}",
                                key)
        step = {"status": "filed", "date": "2024-04-20"}
        same_as_unknown("POST", f"/v1/claims/{claim}/steps",
                        f"/v1/claims/{top_claim + 1}/steps", elsewhere, json=step)
        self.assertEqual(self.sql(f"SELECT status FROM claims WHERE id = {claim}"),
                         [("reported",)])


if __name__ == "__main__":
    unittest.main()
