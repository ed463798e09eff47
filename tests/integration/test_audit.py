"""The audit trail (issue 15, "Audit trail (UU PDP 27/2022)"; 028_audit.sql,
docs/security.md "Audit trail") against a real PostgreSQL, the three daemons
over HTTP and ZeroMQ, and lindungctl:

  - every read of a person's data over the API (a participant, a submission
    with its applicants, a document's lines as JSON and as a CSV export,
    claims listed and read, a renewal's people) and every change (a
    submission, life events, a payment, a JKK claim and its step, over the
    API; key creation and revocation, a programme import, a transfer, an
    end, a death corrected, a payment and a claim, by lindungctl) leaves one
    row with the right actor, action, object and request id;
  - a 404 (a person outside the key's scope) and an Idempotency-Key replay
    of a submission leave none;
  - no NIK is stored in clear anywhere in audit_log, nor its unkeyed
    sha256: only HMACs with the pepper;
  - UPDATE, DELETE (even matching nothing) and TRUNCATE of audit_log fail,
    as the owner (a superuser) too, through the trigger; a daemon role,
    where 027_roles.sql made one, may INSERT and nothing else;
  - `lindungctl audit --nik` finds every row about a person (a NIK typed
    with separators too), `--key`, `--action`, `--since`, `--json`.

Enrolments are made with SQL, as in test_events.py; everything audited
goes through the API or lindungctl.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import re
import unittest
import uuid

import harness
import nikgen

VILLAGE_A = "16.12.01.2001"      # Talang Bulang, PALI (desa)
VILLAGE_B = "16.12.01.2002"      # Benuang, PALI (desa)
OTHER_REGENCY_VILLAGE = "16.05.01.2002"   # Musi Rawas
ADD = "PALI-TEST-ADD"            # test fixture, no end

ENROL_SQL = """
WITH s AS (
  INSERT INTO submissions (id, program_id, village_code, applicant_count)
  SELECT gen_random_uuid(), p.id, '{village}', {n} FROM programs p WHERE p.code = '{program}'
  RETURNING id, program_id),
a AS (
  INSERT INTO applicants (submission_id, idx, nik, name, birth_date, sex, occupation,
                          decision, monthly_income)
  SELECT s.id, g, '1612010101' || lpad((80 + (g + {base}) / 9000)::text, 2, '0')
                  || lpad(((g + {base}) % 9000 + 1)::text, 4, '0'),
         'Peserta ' || g, '1980-01-01', 'M', 'PETANI/PEKEBUN', 'accepted', 1000000
  FROM s, generate_series(0, {n} - 1) g
  RETURNING id, nik),
pa AS (
  INSERT INTO participants (nik, name, birth_date, sex)
  SELECT nik, 'Peserta', '1980-01-01', 'M' FROM a RETURNING nik)
INSERT INTO enrolments (nik, program_id, village_code, applicant_id, funding_source,
                        payer_code, declared_income, transport, start_month, end_month)
SELECT a.nik, s.program_id, '{village}', a.id, p.funding_source,
       program_payer(p.id, '{village}'), 1000000, false, '{start}-01', p.coverage_end
FROM a, s JOIN programs p ON p.id = s.program_id
RETURNING id, nik
"""


def jakarta_today() -> datetime.date:
    return (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=7)).date()


THIS_MONTH = jakarta_today().strftime("%Y-%m")


class AuditTest(harness.LindungTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.stack.migrate()
        self.stack.import_programs()
        self.base = 0

    # -- helpers
    def sql(self, q: str) -> list[tuple]:
        return self.stack.cluster.psql(q)

    def enrol(self, village: str, n: int) -> list[tuple[int, str]]:
        rows = self.sql(ENROL_SQL.format(program=ADD, village=village, n=n, base=self.base,
                                         start=THIS_MONTH))
        self.base += n
        return [(int(i), nik) for i, nik in rows]

    def api(self, method: str, path: str, key: str, rid: str | None = None,
            **kw) -> tuple[harness.Response, str]:
        """A request with its own X-Request-Id; the response and that id."""
        rid = rid or f"audit-{uuid.uuid4()}"
        headers = dict(kw.pop("headers", None) or {})
        headers["X-Request-Id"] = rid
        r = self.stack.api(method, path, key, headers=headers, **kw)
        self.assertEqual(r.header("X-Request-Id"), rid, r.headers)
        return r, rid

    def key_id(self, key: str) -> str:
        return self.sql(f"SELECT id FROM api_keys WHERE key_hash = sha256('{key}')")[0][0]

    def rows(self, where: str) -> list[dict]:
        """audit_log rows matching `where`, oldest first, as dicts."""
        out = self.sql(
            "SELECT coalesce(json_agg(json_build_object('id', id, 'actor_kind', actor_kind, "
            "'actor', actor, 'db_user', db_user, 'action', action, 'object', object, "
            "'nik_count', nik_count, 'request_id', request_id, 'detail', detail) ORDER BY id), "
            f"'[]') FROM audit_log WHERE {where}")
        return json.loads(out[0][0])

    def by_request(self, rid: str) -> list[dict]:
        return self.rows(f"request_id = '{rid}'")

    def assert_one(self, rid: str, actor: str, action: str, object_: str | None,
                   niks: list[str], actor_kind: str = "key") -> dict:
        """Exactly one row for the request, as described, whose hashes are
        those of `niks` (and only those)."""
        got = self.by_request(rid)
        self.assertEqual(len(got), 1, got)
        row = got[0]
        self.assertEqual((row["actor_kind"], row["actor"], row["action"], row["object"]),
                         (actor_kind, actor, action, object_), row)
        self.assertEqual(row["nik_count"], len(set(niks)), row)
        for nik in niks:
            self.assertEqual(self.sql(
                f"SELECT nik_hashes @> ARRAY[audit_nik_hash('{nik}')] FROM audit_log "
                f"WHERE id = {row['id']}")[0][0], "t", (nik, row))
        return row

    def ctl_rows(self, action: str) -> list[dict]:
        return self.rows(f"action = '{action}' AND actor_kind = 'operator'")

    # -- tests
    def test_reads_and_changes_leave_one_row_each(self) -> None:
        s = self.stack
        people = self.enrol(VILLAGE_A, 6)
        (e_read, nik_read), (e_dead, nik_dead), (e_moved, nik_moved), \
            (e_ctl_move, nik_ctl_move), (e_ctl_end, nik_ctl_end), (e_claim, nik_claim) = people
        s.start_daemons("billing", "intake", "verify")
        admin = s.create_key("admin")
        admin_id = self.key_id(admin)
        village = s.create_key(f"village:{VILLAGE_A}")
        village_id = self.key_id(village)
        other = s.create_key("regency:16.05")

        # -- a submission, its replay, its read
        applicants = [nikgen.person(900 + i) for i in range(3)]
        body = {"program_code": ADD, "village_code": VILLAGE_A, "applicants": applicants}
        r, rid = self.api("POST", "/v1/submissions", village, json=body,
                          headers={"Idempotency-Key": "audit-1"})
        self.assertEqual(r.status, 202, r.body)
        sid = r.body["submission_id"]
        self.assert_one(rid, village_id, "submission.create", sid,
                        [a["nik"] for a in applicants])
        r, rid = self.api("POST", "/v1/submissions", village, json=body,
                          headers={"Idempotency-Key": "audit-1"})
        self.assertEqual((r.status, r.body["submission_id"]), (202, sid), r.body)
        self.assertEqual(self.by_request(rid), [], "a replay stores and records nothing")
        r, rid = self.api("GET", f"/v1/submissions/{sid}", village)
        self.assertEqual(r.status, 200, r.body)
        row = self.assert_one(rid, village_id, "submission.read", sid,
                              [a["nik"] for a in applicants])
        self.assertEqual(row["detail"], {"applicants": 3})

        # -- a participant: read in scope; out of scope is a 404 and no row
        r, rid = self.api("GET", f"/v1/participants/{nik_read}", village)
        self.assertEqual(r.status, 200, r.body)
        self.assert_one(rid, village_id, "participant.read", None, [nik_read])
        r, rid = self.api("GET", f"/v1/participants/{nik_read}", other)
        self.assertEqual(r.status, 404, r.body)
        self.assertEqual(self.by_request(rid), [])

        # -- life events: one, and a batch
        r, rid = self.api("POST", f"/v1/participants/{nik_dead}/events", admin,
                          json={"kind": "death", "date": jakarta_today().isoformat()})
        self.assertEqual(r.status, 201, r.body)
        death_event = r.body["events"][0]["event_id"]
        self.assert_one(rid, admin_id, "event.create", r.body["batch_id"], [nik_dead])
        r, rid = self.api("POST", "/v1/events", village, json={"events": [
            {"kind": "moved", "nik": nik_moved, "date": jakarta_today().isoformat(),
             "to_village": VILLAGE_B}]})
        self.assertEqual(r.status, 201, r.body)
        row = self.assert_one(rid, village_id, "event.create", r.body["batch_id"], [nik_moved])
        self.assertEqual(row["detail"], {"events": 1})  # recorded when stored

        # -- a JKK claim, its step, the list and one claim
        claim_body = {"nik": nik_claim, "accident_date": jakarta_today().isoformat(),
                      "accident_kind": "jatuh dari pohon", "amount_claimed": 2500000}
        r, rid = self.api("POST", "/v1/claims", admin, json=claim_body)
        self.assertEqual(r.status, 201, r.body)
        claim = r.body["id"]
        self.assert_one(rid, admin_id, "claim.create", str(claim), [nik_claim])
        r, rid = self.api("POST", f"/v1/claims/{claim}/steps", admin,
                          json={"status": "filed", "date": jakarta_today().isoformat()})
        self.assertEqual(r.status, 201, r.body)
        self.assert_one(rid, admin_id, "claim.step", str(claim), [nik_claim])
        r, rid = self.api("GET", f"/v1/claims/{claim}", admin)
        self.assertEqual(r.status, 200, r.body)
        self.assert_one(rid, admin_id, "claim.read", str(claim), [nik_claim])
        r, rid = self.api("GET", "/v1/claims", village)
        self.assertEqual(r.status, 200, r.body)
        listed = [c["nik"] for c in r.body["items"]]
        self.assertIn(nik_claim, listed)
        self.assert_one(rid, village_id, "claim.list", None, listed)
        r, rid = self.api("GET", "/v1/claims", other)
        self.assertEqual((r.status, r.body["items"]), (200, []), r.body)
        self.assertEqual(self.by_request(rid), [], "an empty page shows nobody")

        # -- lindungctl's changes: transfer, end, a death corrected, a claim
        s.lindungctl("enrolment", "transfer", nik_ctl_move, "--village", VILLAGE_B)
        [row] = self.ctl_rows("enrolment.transfer")
        self.assertEqual(row["object"], str(e_ctl_move))
        s.lindungctl("enrolment", "end", nik_ctl_end, "--month", THIS_MONTH, "--reason", "left")
        [row] = self.ctl_rows("enrolment.end")
        self.assertEqual((row["object"], row["detail"]["reason"], row["detail"]["ended"]),
                         (str(e_ctl_end), "left", [e_ctl_end]), row)
        s.lindungctl("event", "correct", str(death_event), "--reason", "salah orang")
        [row] = self.ctl_rows("event.correct")
        self.assertEqual(row["object"], str(death_event))
        s.lindungctl("claims", "add", "--nik", nik_claim, "--date",
                     jakarta_today().isoformat(), "--kind", "tertimpa", "--amount", "100000")
        [row] = self.ctl_rows("claim.create")
        for action, nik in (("enrolment.transfer", nik_ctl_move),
                            ("enrolment.end", nik_ctl_end), ("event.correct", nik_dead),
                            ("claim.create", nik_claim)):
            [row] = self.ctl_rows(action)
            self.assert_one(row["request_id"], row["actor"], action, row["object"], [nik],
                            actor_kind="operator")

        # -- a document's lines (JSON) and export (CSV), then payments
        doc = json.loads(s.lindungctl("billing", "run", THIS_MONTH).stdout)
        self.assertTrue(doc["ok"], doc)
        invoice = self.sql(f"SELECT id FROM invoices WHERE payer_code = '{VILLAGE_A}' "
                           f"AND period = '{THIS_MONTH}-01' AND kind = 'invoice'")[0][0]
        r, rid = self.api("GET", f"/v1/invoices/{invoice}", village)
        self.assertEqual(r.status, 200, r.body)
        on_it = sorted({x["nik"] for x in r.body["lines"] + r.body["adjustments"]})
        self.assertIn(nik_read, on_it)
        row = self.assert_one(rid, village_id, "invoice.lines.read", invoice, on_it)
        r, rid = self.api("GET", f"/v1/invoices/{invoice}", village,
                          headers={"Accept": "text/csv"})
        self.assertEqual(r.status, 200, r.body)
        self.assert_one(rid, village_id, "invoice.export", invoice, on_it)
        r, rid = self.api("POST", f"/v1/invoices/{invoice}/payments", admin,
                          json={"amount": 16800, "paid_on": jakarta_today().isoformat(),
                                "lines": [e_read]})
        self.assertEqual(r.status, 201, r.body)
        row = self.assert_one(rid, admin_id, "payment.record", str(r.body["payment_id"]), [])
        self.assertEqual(row["detail"], {"invoice_id": int(invoice), "amount": 16800})
        s.lindungctl("billing", "pay", invoice, "16800", "--lines", str(e_moved))
        [row] = self.ctl_rows("payment.record")
        self.assertEqual(row["detail"]["invoice_id"], int(invoice))

        # -- keys and programmes, by lindungctl
        self.assertGreaterEqual(len(self.ctl_rows("program.import")), 2)
        created = self.rows(f"action = 'apikey.create' AND object = '{village_id}'")
        self.assertEqual([(x["actor_kind"], x["detail"]) for x in created],
                         [("operator", {"scope": f"village:{VILLAGE_A}"})])
        s.lindungctl("apikey", "revoke", self.key_id(other))
        [row] = self.ctl_rows("apikey.revoke")
        self.assertEqual(row["object"], self.key_id(other))
        # an operator is the OS login, and the database login is kept too
        # (lindungctl's and intake's own, where the harness gives them one)
        ctl_login = re.search(r"user=(\S+)", s.env["LINDUNG_DB"]).group(1)
        intake_login = getattr(s.intake, "login", None) or ctl_login
        for row in self.rows("actor_kind = 'operator'"):
            self.assertTrue(row["actor"], row)
            self.assertEqual(row["db_user"], ctl_login, row)
            self.assertTrue(row["request_id"], row)
        for row in self.rows("actor_kind = 'key'"):
            self.assertEqual(row["db_user"], intake_login, row)

        # -- lindungctl audit --nik finds every row about the person, typed
        # with separators too, and only those
        spaced = f"{nik_claim[:6]} {nik_claim[6:12]}.{nik_claim[12:]}"
        found = json.loads(s.lindungctl("audit", "--nik", spaced, "--json").stdout)
        self.assertEqual([x["action"] for x in found],
                         ["claim.create", "claim.step", "claim.read", "claim.list",
                          "claim.create", "invoice.lines.read", "invoice.export"], found)
        self.assertEqual({x["actor_kind"] for x in found}, {"key", "operator"})
        by_key = json.loads(s.lindungctl("audit", "--key", village_id, "--json").stdout)
        self.assertEqual(by_key[0]["action"], "apikey.create")
        self.assertEqual({x["actor"] for x in by_key[1:]}, {village_id})
        self.assertIn("participant.read", [x["action"] for x in by_key])
        invoices = json.loads(s.lindungctl("audit", "--action", "invoice", "--json").stdout)
        self.assertEqual([x["action"] for x in invoices], ["invoice.lines.read", "invoice.export"])
        future = json.loads(s.lindungctl("audit", "--since", "2999-01-01", "--json").stdout)
        self.assertEqual(future, [])
        text = s.lindungctl("audit", "--nik", nik_read).stdout
        self.assertIn("participant.read", text)
        self.assertNotIn(nik_read, text)
        self.assertEqual(s.lindungctl("audit", "--nik", "12345", check=False).returncode, 2)
        self.assertEqual(s.lindungctl("audit", "--since", "yesterday-ish",
                                      check=False).returncode, 2)

        # -- nowhere in clear: no NIK's digits, nor its unkeyed sha256; the
        # values are the first 64 bits of HMAC-SHA256 with the pepper
        everyone = [nik for _, nik in people] + [a["nik"] for a in applicants]
        dump = "\n".join(r[0] for r in self.sql("SELECT t::text FROM audit_log t"))
        stored = {int(h) for (h,) in self.sql(
            "SELECT DISTINCT unnest(nik_hashes) FROM audit_log")}
        pepper = bytes.fromhex(self.sql("SELECT encode(pepper, 'hex') FROM audit_pepper")[0][0])
        self.assertEqual(len(pepper), 32)

        def first64(digest: bytes) -> int:
            return int.from_bytes(digest[:8], "big", signed=True)
        for nik in everyone:
            self.assertNotIn(nik, dump)
            plain = hashlib.sha256(nik.encode()).digest()
            self.assertNotIn(plain.hex(), dump)
            self.assertNotIn(first64(plain), stored)
        for nik in (nik_read, nik_claim, applicants[0]["nik"]):
            keyed = first64(hmac.new(pepper, nik.encode(), hashlib.sha256).digest())
            self.assertIn(keyed, stored)
            self.assertEqual(self.sql(f"SELECT audit_nik_hash('{nik}')")[0][0], str(keyed))

    def test_renewal_read_is_recorded(self) -> None:
        s = self.stack
        s.start_daemons("intake")
        admin = s.create_key("admin")
        r, rid = self.api("GET", f"/v1/programs/{ADD}/renewal", admin)
        self.assertEqual((r.status, r.body["items"]), (200, []), r.body)
        self.assertEqual(self.by_request(rid), [], "an empty page shows nobody")
        # a queued renewal: an applicant of origin 'renewal' renewing an enrolment
        [(enrolment, nik)] = self.enrol(VILLAGE_A, 1)
        self.sql(f"""
            WITH s AS (INSERT INTO submissions (id, program_id, village_code,
                         applicant_count, origin)
                       SELECT gen_random_uuid(), id, '{VILLAGE_A}', 1, 'renewal'
                       FROM programs WHERE code = '{ADD}' RETURNING id)
            INSERT INTO applicants (submission_id, idx, nik, name, birth_date, sex,
                                    occupation, renews_enrolment_id)
            SELECT s.id, 0, '{nik}', 'Peserta', '1980-01-01', 'M', 'PETANI/PEKEBUN',
                   {enrolment} FROM s""")
        r, rid = self.api("GET", f"/v1/programs/{ADD}/renewal", admin)
        self.assertEqual([x["nik"] for x in r.body["items"]], [nik], r.body)
        self.assert_one(rid, self.key_id(admin), "program.renewal.read", ADD, [nik])

    def test_append_only_even_for_the_owner(self) -> None:
        s = self.stack
        s.create_key("admin")  # one row at least
        self.assertGreater(int(self.sql("SELECT count(*) FROM audit_log")[0][0]), 0)
        self.assertEqual(self.sql("SELECT rolsuper FROM pg_roles "
                                  "WHERE rolname = session_user")[0][0], "t")
        for statement in ("UPDATE audit_log SET actor = 'someone else'",
                          "UPDATE audit_log SET detail = '{}' WHERE false",
                          "DELETE FROM audit_log",
                          "DELETE FROM audit_log WHERE id < 0",
                          "TRUNCATE audit_log",
                          "TRUNCATE audit_log CASCADE"):
            with self.assertRaises(RuntimeError, msg=statement) as cm:
                self.sql(statement)
            self.assertIn("audit_log is append-only", str(cm.exception))
        before = self.sql("SELECT count(*), max(id) FROM audit_log")
        self.assertEqual(self.sql("SELECT count(*), max(id) FROM audit_log"), before)
        # the pepper is readable by its owner alone, never by PUBLIC
        self.assertEqual(self.sql(
            "SELECT has_table_privilege('public', 'audit_pepper', 'SELECT')")[0][0], "f")
        for role, may_insert in (("lindung_intake", True), ("lindung_verify", True),
                                 ("lindung_billing", True), ("lindung_analyst", False)):
            if not self.sql(f"SELECT 1 FROM pg_roles WHERE rolname = '{role}'"):
                continue  # 027_roles.sql not there yet
            with self.subTest(role=role):
                def may(privilege: str, table: str = "audit_log") -> str:
                    return self.sql(f"SELECT has_table_privilege('{role}', '{table}', "
                                    f"'{privilege}')")[0][0]
                self.assertEqual(may("INSERT"), "t" if may_insert else "f")
                for p in ("SELECT", "UPDATE", "DELETE", "TRUNCATE"):
                    self.assertEqual(may(p), "f", p)
                self.assertEqual(may("SELECT", "audit_pepper"), "f")
                if may_insert:
                    self.sql(f"SET ROLE {role}; INSERT INTO audit_log (actor_kind, actor, "
                             "action, nik_hashes) VALUES ('daemon', 'test', 'test.insert', "
                             "ARRAY[audit_nik_hash('1612010101800001')])")
                    for statement in ("DELETE FROM audit_log", "SELECT * FROM audit_log",
                                      "SELECT * FROM audit_pepper"):
                        with self.assertRaises(RuntimeError):
                            self.sql(f"SET ROLE {role}; {statement}")


if __name__ == "__main__":
    unittest.main(verbosity=2)
