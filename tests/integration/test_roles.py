"""Least privilege in the database (db/migrations/027_roles.sql; docs/security.md,
"Database roles"): each daemon logs in as its own user, a member of its role,
and can do what its code does and no more; the analyst sees NIKs only masked.

The whole integration suite is the proof that the grants are enough (every
daemon of every test runs under its role, harness.py); this file proves they
are not more than enough, and that nothing in the source asks for more:

  * each daemon's session carries its application_name and no daemon login
    is a superuser;
  * the boundaries: intake cannot end enrolments or touch invoices, verify
    cannot record payments, billing cannot insert submissions, none can
    create tables, ...;
  * every SQL statement in a daemon's C source, EXPLAINed as that daemon's
    login (PostgreSQL checks every table, column and function privilege a
    statement needs when it plans it, without running it), is allowed;
  * the analyst cannot read a full NIK from any relation it can read at all,
    and cannot read any relation with a NIK column;
  * the rules later migrations must keep: everything belongs to
    lindung_admin, no function is PUBLIC's, every SECURITY DEFINER function
    has a fixed search_path;
  * a new database migrated from scratch by lindung_admin (docker-compose.yml's
    way, deploy/db-users.sql first) ends the same.

CTest name: integration_roles.
"""

from __future__ import annotations

import datetime
import json
import re
import subprocess
import unittest
from pathlib import Path

import harness

PROGRAM = "PALI-TEST-ADD"
VILLAGE = "16.12.01.2001"
TODAY = (datetime.datetime.now(datetime.timezone.utc)
         + datetime.timedelta(hours=7)).date()   # Asia/Jakarta
PERIOD = TODAY.strftime("%Y-%m")
PEOPLE = [
    {"nik": "1612011205800001", "name": "Budi Santoso", "birth_date": "1980-05-12",
     "sex": "M", "occupation": "PETANI/PEKEBUN"},
    {"nik": "1612016308850001", "name": "Siti Aminah", "birth_date": "1985-08-23",
     "sex": "F", "occupation": "PERDAGANGAN"},
    {"nik": "1612010101900003", "name": "Joko Widodo", "birth_date": "1990-01-01",
     "sex": "M", "occupation": "PETANI/PEKEBUN"},
]
# refused structurally, so it stays only in applicants (which analysts never see)
ODD = {"nik": "1612019999999999", "name": "Salah", "birth_date": "1990-01-01", "sex": "M",
       "occupation": "PETANI/PEKEBUN"}

# Which C sources run as which login: the daemon's own directory and common/.
# services/billing/export.c is linked into billing but run only by lindungctl
# (`billing export`), whose login owns everything.
SOURCES = {
    "intake": ["services/intake"],
    "verify": ["services/verify"],
    "billing": ["services/billing"],
}
NOT_THE_DAEMONS = {"services/billing/export.c"}

# Only these functions of the schema may the analyst call: the ones its views call.
ANALYST_FUNCTIONS = {"nik_mask", "enrolment_months", "claims_today", "report_share_bp"}

DENIED = "permission denied"


# ---------------------------------------------------------------- SQL in C sources

def _c_tokens(src: str):
    """('str', value, offset), ('id', name, offset) or ('other', char, offset)
    for each token of C source; comments skipped, string escapes decoded."""
    escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "'": "'"}
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("/*", i):
            i = src.index("*/", i + 2) + 2
        elif src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
        elif c == '"':
            j, buf = i + 1, []
            while src[j] != '"':
                if src[j] == "\\":
                    buf.append(escapes.get(src[j + 1], src[j + 1]))
                    j += 2
                else:
                    buf.append(src[j])
                    j += 1
            yield ("str", "".join(buf), i)
            i = j + 1
        elif c == "'":
            j = i + 1
            while src[j] != "'":
                j += 2 if src[j] == "\\" else 1
            i = j + 1
        elif c.isalpha() or c == "_":
            m = re.compile(r"[A-Za-z_]\w*").match(src, i)
            yield ("id", m.group(0), i)
            i = m.end()
        elif c.isspace():
            i += 1
        else:
            yield ("other", c, i)
            i += 1


def _string_macros(paths: list[Path]) -> dict[str, str]:
    """Every `#define NAME "..." "..."` (continued lines too) of the files."""
    macros = {}
    for path in paths:
        src = path.read_text()
        for m in re.finditer(r"^#define\s+([A-Z_][A-Z0-9_]*)[ \t]+((?:.*\\\n)*.*)$", src, re.M):
            toks = list(_c_tokens(m.group(2).replace("\\\n", "\n")))
            if toks and all(t[0] == "str" for t in toks):
                macros[m.group(1)] = "".join(t[1] for t in toks)
    return macros


def sql_statements(path: Path, macros: dict[str, str]) -> list[tuple[int, str]]:
    """(line, text) of each SQL statement written in a C file: a run of adjacent
    string literals and string macros that reads as a statement."""
    src = path.read_text()
    src = re.sub(r"^#.*(?:\\\n.*)*$", lambda m: "\n" * m.group(0).count("\n"), src, flags=re.M)
    found, run = [], []

    def flush() -> None:
        if any(t[0] == "str" for t in run):
            text = "".join(t[1] if t[0] == "str" else macros[t[1]] for t in run)
            bare = re.sub(r"^\s*(/\*.*?\*/\s*)*", "", text, flags=re.S)
            if re.match(r"(SELECT|WITH|INSERT|UPDATE|DELETE|LOCK|CREATE TEMP)\b", bare):
                found.append((src.count("\n", 0, run[0][2]) + 1, text))
        run.clear()

    for t in _c_tokens(src):
        if t[0] == "str" or (t[0] == "id" and t[1] in macros):
            run.append(t)
        else:
            flush()
    flush()
    return found


def daemon_statements(name: str) -> list[tuple[str, str]]:
    """(where, SQL) of every statement daemon `name` may run."""
    files = sorted(p for d in SOURCES[name] for p in (harness.SOURCE_DIR / d).glob("*.c"))
    files += sorted((harness.SOURCE_DIR / "common").glob("*.c"))
    headers = [p for d in SOURCES[name] + ["common"]
               for p in (harness.SOURCE_DIR / d).glob("*.h")]
    macros = _string_macros(files + headers)
    out = []
    for f in files:
        rel = str(f.relative_to(harness.SOURCE_DIR))
        if rel in NOT_THE_DAEMONS:
            continue
        out += [(f"{rel}:{line}", sql) for line, sql in sql_statements(f, macros)]
    return out


class Roles(harness.LindungTestCase):
    """One stack with a little of everything: people enrolled, billed and
    paid for, a death (and its JKM claim), a JKK claim with a step."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.stack = s = harness.Stack()
        try:
            s.start_postgres()
            s.migrate()
            s.import_programs()
            cls.key = s.create_key("admin", name="roles-admin")
            s.start_daemons()
            cls.fill()
        except BaseException:
            s.dump_logs()
            s.cleanup()
            raise

    @classmethod
    def tearDownClass(cls) -> None:
        cls.stack.cleanup()

    def setUp(self) -> None:  # the class's stack, not one per test
        self._problems_before = harness.problem_count(self)
        self.addCleanup(self._dump_logs_if_failed)

    @classmethod
    def fill(cls) -> None:
        """Every daemon's main writes, through the API and billing: each one
        is a grant proved enough."""
        s, key = cls.stack, cls.key
        r = s.api("POST", "/v1/submissions", key=key, json={
            "program_code": PROGRAM, "village_code": VILLAGE, "reference": "roles",
            "applicants": PEOPLE + [ODD]})
        assert r.status == 202, r.body
        sid = r.body["submission_id"]
        sub = harness.wait_until(
            lambda: (lambda g: g.body if g.body.get("status") == "verified" else None)(
                s.api("GET", f"/v1/submissions/{sid}", key=key)),
            timeout=60, message="the submission verified")
        assert sub["counts"]["accepted"] == len(PEOPLE), sub
        assert json.loads(s.lindungctl("billing", "run", PERIOD).stdout)["ok"]
        invoice = int(s.cluster.scalar(
            f"SELECT id FROM invoices WHERE period = '{PERIOD}-01' AND payer_code = "
            f"'{VILLAGE}' AND kind = 'invoice'"))
        r = s.api("POST", f"/v1/invoices/{invoice}/payments", key=key,
                  json={"amount": 16800, "paid_on": TODAY.isoformat(), "reference": "TRF-1"})
        assert r.status == 201, r.body
        r = s.api("POST", "/v1/events", key=key, json={"events": [
            {"kind": "death", "nik": PEOPLE[0]["nik"], "date": TODAY.isoformat(),
             "reference": "AKTA-1"}]})
        assert r.status == 201, r.body
        r = s.api("POST", "/v1/claims", key=key, json={
            "nik": PEOPLE[1]["nik"], "accident_date": TODAY.isoformat(),
            "accident_kind": "jatuh", "amount_claimed": 1_500_000})
        assert r.status == 201, r.body
        r = s.api("POST", f"/v1/claims/{r.body['id']}/steps", key=key,
                  json={"status": "filed", "date": TODAY.isoformat()})
        assert r.status == 201, r.body
        for path in (f"/v1/participants/{PEOPLE[1]['nik']}", f"/v1/invoices/{invoice}",
                     "/v1/reports/participants", "/v1/reports/loss-ratio", "/v1/claims",
                     "/v1/programs", f"/v1/programs/{PROGRAM}/villages"):
            r = s.api("GET", path, key=key)
            assert r.status == 200, (path, r.status, r.body)
        # the death's JKM claim, opened by the database (claims_on_deaths)
        assert s.cluster.scalar("SELECT count(*) FROM claims WHERE kind = 'JKM'") == "1"

    # -- helpers
    def as_login(self, login: str, sql: str) -> list[tuple]:
        return self.stack.cluster.psql(sql, user=login)

    def assert_denied(self, login: str, sql: str) -> None:
        with self.assertRaises(RuntimeError, msg=f"{login} may: {sql}") as ctx:
            self.as_login(login, f"BEGIN; {sql}; ROLLBACK")
        self.assertIn(DENIED, str(ctx.exception), f"{login}: {sql}")

    def assert_allowed(self, login: str, sql: str) -> None:
        self.as_login(login, f"BEGIN; {sql}; ROLLBACK")

    def sql(self, sql: str) -> list[tuple]:
        return self.stack.cluster.psql(sql)

    # -- tests
    def test_daemons_log_in_as_their_roles_and_say_who_they_are(self) -> None:
        rows = harness.wait_until(lambda: (lambda r: r if len({u for u, _, _ in r}) == 3
                                           else None)(self.sql(
            "SELECT DISTINCT a.usename, a.application_name, r.rolsuper "
            "FROM pg_stat_activity a JOIN pg_roles r ON r.rolname = a.usename "
            "WHERE a.backend_type = 'client backend' AND a.datname = 'lindung' "
            "AND a.usename IN ('intake', 'verify', 'billing') ORDER BY 1, 2")),
            timeout=20, message="a session of each daemon")
        self.assertEqual(rows, [("billing", "lindung-billing", "f"),
                                ("intake", "lindung-intake", "f"),
                                ("verify", "lindung-verify", "f")])
        # each login is a member of its role and of nothing else; none has powers
        for program, login in harness.DB_LOGINS.items():
            with self.subTest(login=login):
                self.assertEqual(self.sql(
                    f"SELECT string_agg(m.roleid::regrole::text, ',') FROM pg_auth_members m "
                    f"WHERE m.member = '{login}'::regrole"), [(harness.DB_ROLES[program],)])
                self.assertEqual(self.sql(
                    "SELECT rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication "
                    f"OR rolbypassrls FROM pg_roles WHERE rolname IN ('{login}', "
                    f"'{harness.DB_ROLES[program]}')"), [("f",), ("f",)])
        # lindungctl acts as the owner role (ALTER ROLE ... SET role)
        self.assertEqual(self.as_login("lindungctl", "SELECT current_user, session_user"),
                         [("lindung_admin", "lindungctl")])

    def test_intake_boundaries(self) -> None:
        for sql in ("UPDATE enrolments SET status = status",
                    "UPDATE invoices SET payer_name = payer_name",
                    "DELETE FROM invoices",
                    "INSERT INTO payments (invoice_id, amount, paid_on) "
                    "SELECT id, 1, current_date FROM invoices LIMIT 1",
                    "UPDATE api_keys SET scope = 'admin'",
                    "UPDATE api_keys SET revoked_at = NULL",
                    "UPDATE submissions SET status = 'verified'",
                    "DELETE FROM submissions",
                    "UPDATE participants SET deceased_on = NULL",
                    "INSERT INTO claims (kind, enrolment_id, nik, program_id, village_code, "
                    "regency_code, event_date, amount_claimed, status_on, source) SELECT "
                    "'JKK', id, nik, program_id, village_code, '16.12', current_date, 1, "
                    "current_date, 'x' FROM enrolments LIMIT 1",
                    "SELECT enrolment_transfer('1612016308850001', NULL, '16.12.01.2002', "
                    "NULL, 'x')",
                    "SELECT program_renewal_queue(1)",
                    "SELECT accrual_parts_attach(current_date, '{}')",
                    "SELECT bpjs_apply('1612016308850001', 'K1234567', 'registered', NULL, "
                    "current_date)",
                    "CREATE TABLE intake_was_here (x int)",
                    "TRUNCATE applicants"):
            with self.subTest(sql=sql):
                self.assert_denied("intake", sql)
        # what it does do
        self.assert_allowed("intake", "UPDATE api_keys SET last_used_at = now()")
        self.assert_allowed("intake", "SELECT count(*) FROM participants")

    def test_a_temporary_table_cannot_borrow_the_payment_functions_rights(self) -> None:
        """billing_record_payment runs as its owner and keeps its working rows
        in temporary tables. intake made one of the same name first, with a
        trigger that adds a relief: the function must refuse rather than
        fill it (a review added a 100% relief for five years this way)."""
        attack = (
            "CREATE TEMP TABLE pay_pms (enrolment_id bigint, period date, need bigint NOT NULL, "
            "got bigint NOT NULL DEFAULT 0, PRIMARY KEY (enrolment_id, period)); "
            "GRANT ALL ON pay_pms TO PUBLIC; "
            "CREATE FUNCTION pg_temp.t() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN "
            "INSERT INTO premium_adjustments (name, first_month, last_month, off_bp, "
            "applies_jkk, applies_jkm, note) VALUES ('free for all', '2026-01-01', "
            "'2030-12-01', 10000, true, true, 'as ' || current_user); RETURN NEW; END $f$; "
            "CREATE TRIGGER t BEFORE INSERT ON pay_pms FOR EACH ROW EXECUTE FUNCTION pg_temp.t(); "
            "SELECT result FROM billing_record_payment((SELECT min(id) FROM invoices "
            "WHERE kind = 'invoice'), 1, current_date, 'x', 'intake')")
        with self.assertRaises(RuntimeError) as ctx:
            self.as_login("intake", f"BEGIN; {attack}; COMMIT")
        self.assertIn("made by another role", str(ctx.exception))
        self.assertEqual(self.sql("SELECT count(*) FROM premium_adjustments "
                                  "WHERE name = 'free for all'"), [("0",)])
        # nor may it take the name of the allocation's index (the payment then
        # ran without it, slowly, holding the month's documents: a review)
        with self.assertRaises(RuntimeError) as ctx:
            self.as_login("intake", "BEGIN; CREATE TEMP TABLE pay_cells_pm (x int); "
                          "SELECT result FROM billing_record_payment((SELECT min(id) FROM "
                          "invoices WHERE kind = 'invoice'), 1, current_date, 'y', 'intake'); "
                          "ROLLBACK")
        self.assertIn("made by another role", str(ctx.exception))

    def test_verify_boundaries(self) -> None:
        for sql in ("SELECT * FROM billing_record_payment((SELECT min(id) FROM invoices), 1, "
                    "current_date, 'x', 'x')",
                    "INSERT INTO payments (invoice_id, amount, paid_on) "
                    "VALUES (1, 1, current_date)",
                    "UPDATE enrolments SET end_reason = 'death'",
                    "UPDATE invoices SET total = 0",
                    "SELECT count(*) FROM api_keys",
                    "SELECT count(*) FROM invoices",
                    "INSERT INTO submissions (id, program_id, village_code, applicant_count) "
                    "VALUES (gen_random_uuid(), 1, '16.12.01.2001', 0)",
                    "UPDATE applicants SET nik = nik",
                    "UPDATE participants SET deceased_on = NULL",
                    "SELECT * FROM participant_events_store(gen_random_uuid(), NULL, NULL, "
                    "'', NULL, 'admin', '', '[]', 2)",
                    "SELECT participant_events_apply(gen_random_uuid(), 0::smallint)",
                    "CREATE TABLE verify_was_here (x int)"):
            with self.subTest(sql=sql):
                self.assert_denied("verify", sql)
        self.assert_allowed("verify", "UPDATE applicants SET decided_at = decided_at")

    def test_billing_boundaries(self) -> None:
        for sql in ("INSERT INTO submissions (id, program_id, village_code, applicant_count) "
                    "VALUES (gen_random_uuid(), 1, '16.12.01.2001', 0)",
                    "INSERT INTO applicants (submission_id, idx, nik, name, birth_date, sex, "
                    "occupation) SELECT id, 99, '1612010101900009', 'x', '1990-01-01', 'M', "
                    "'x' FROM submissions LIMIT 1",
                    "SELECT count(*) FROM participants",
                    "SELECT count(*) FROM applicants",
                    "SELECT count(*) FROM api_keys",
                    "INSERT INTO payments (invoice_id, amount, paid_on) "
                    "VALUES (1, 1, current_date)",
                    "SELECT * FROM billing_record_payment(1, 1, current_date, 'x', 'x')",
                    "UPDATE invoices SET payer_name = 'x'",
                    "DELETE FROM accruals",
                    "UPDATE claims SET status = 'paid'",
                    "SELECT * FROM claim_step(1, 'filed', current_date, NULL, NULL, 'x')",
                    "CREATE TABLE accruals_1999_01 (x int)"):
            with self.subTest(sql=sql):
                self.assert_denied("billing", sql)

    def test_every_statement_in_the_daemons_code_is_allowed(self) -> None:
        """EXPLAIN checks a statement's privileges (tables, columns, functions,
        a FOR UPDATE's UPDATE) without running it; parameters become NULL.
        LOCK runs (in a transaction rolled back); the statements that read
        billing's temporary table get it made first by billing's own statement."""
        temp_tables = {"reconcile_diff"}
        checked = 0
        for name in SOURCES:
            statements = daemon_statements(name)
            self.assertGreater(len(statements), 5, f"no SQL found for {name}")
            setup = {}
            for where, sql in statements:
                m = re.match(r"\s*CREATE TEMP TABLE (\w+)", sql)
                if m:
                    setup[m.group(1)] = sql
            for where, sql in statements:
                nulls = re.sub(r"\$\d+", "NULL", sql)
                script = ["BEGIN;"]
                for t in temp_tables & setup.keys():
                    if re.search(rf"\b{t}\b", sql) and not sql.lstrip().startswith("CREATE"):
                        script.append(re.sub(r"\$\d+", "NULL", setup[t]) + ";")
                lock = re.match(r"\s*LOCK\b", sql)
                create = re.match(r"\s*CREATE TEMP", sql)
                script.append((nulls if lock or create else "EXPLAIN " + nulls) + ";")
                script.append("ROLLBACK;")
                r = subprocess.run(
                    [str(harness.PG_BIN / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                     "-d", self.stack.cluster.conninfo_as(harness.DB_LOGINS[name])],
                    input="\n".join(script), capture_output=True, text=True, timeout=60)
                with self.subTest(daemon=name, where=where):
                    self.assertEqual(r.returncode, 0,
                                     f"{name} may not run {where}:\n{r.stderr}\n{sql}")
                    checked += 1
        self.assertGreater(checked, 60)

    def test_analyst_never_reads_a_full_nik(self) -> None:
        niks = {n for (n,) in self.sql(
            "SELECT nik FROM participants UNION SELECT nik FROM applicants "
            "UNION SELECT nik FROM claims UNION SELECT nik FROM participant_events")}
        self.assertGreaterEqual(len(niks), len(PEOPLE))
        # every relation it may read, whole or some columns of, in any schema of ours
        readable = self.sql(
            "SELECT c.oid::regclass::text FROM pg_class c "
            "WHERE c.relnamespace NOT IN ('pg_catalog'::regnamespace, "
            "  'information_schema'::regnamespace) AND c.relkind IN ('r', 'p', 'v', 'm', 'f') "
            "  AND c.relnamespace::regnamespace::text !~ '^pg_toast' "
            "  AND (has_table_privilege('lindung_analyst', c.oid, 'SELECT') "
            "       OR has_any_column_privilege('lindung_analyst', c.oid, 'SELECT')) "
            "ORDER BY 1")
        readable = [r for (r,) in readable]
        for must in ("participants_masked", "enrolments_masked", "claims_masked",
                     "report_participants_village", "loss_ratio"):
            self.assertIn(must, readable)
        sixteen = re.compile(r"(?<!\d)\d{16}(?!\d)")
        for rel in readable:
            with self.subTest(relation=rel):
                rows = self.as_login("analyst", f"SELECT row_to_json(t)::text FROM {rel} t")
                for (row,) in rows:
                    self.assertFalse(any(n in row for n in niks), f"{rel}: {row}")
                    self.assertIsNone(sixteen.search(row), f"{rel}: {row}")
        # and the masked views do show the people, masked
        self.assertEqual(
            sorted(n for (n,) in self.as_login("analyst",
                                               "SELECT nik_masked FROM participants_masked")),
            sorted(p["nik"][:4] + "******" + p["nik"][-4:] for p in PEOPLE))
        self.assertEqual(self.as_login(
            "analyst", "SELECT count(*) FROM enrolments_masked WHERE status = 'ended' "
                       "AND end_reason = 'death'"), [("1",)])
        # no table or view with a NIK column is readable, nor any column of it
        for (rel,) in self.sql(
                "SELECT DISTINCT a.attrelid::regclass::text FROM pg_attribute a "
                "JOIN pg_class c ON c.oid = a.attrelid "
                "WHERE c.relnamespace = 'public'::regnamespace AND a.attname = 'nik' "
                "AND c.relkind IN ('r', 'p', 'v', 'm', 'f') "
                "AND NOT a.attisdropped"):
            with self.subTest(base=rel):
                self.assertNotIn(rel, readable)
                self.assert_denied("analyst", f"SELECT nik FROM {rel}")
        # it writes nothing, and calls only what its views call
        self.assertEqual(self.sql(
            "SELECT c.oid::regclass::text, p FROM pg_class c, "
            "unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) p "
            "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v') "
            "AND has_table_privilege('lindung_analyst', c.oid, p)"), [])
        self.assertEqual({f for (f,) in self.sql(
            "SELECT p.proname FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace "
            "AND has_function_privilege('lindung_analyst', p.oid, 'EXECUTE') "
            "AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass "
            "AND d.objid = p.oid AND d.deptype = 'e')")}, ANALYST_FUNCTIONS)

    def test_schema_rules_for_every_migration(self) -> None:
        not_extension = ("NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = {cat}::regclass "
                         "AND d.objid = {oid} AND d.deptype = 'e')")
        # everything of the schema is lindung_admin's
        self.assertEqual(self.sql(
            "SELECT c.oid::regclass::text FROM pg_class c "
            "WHERE c.relnamespace = 'public'::regnamespace "
            "AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') "
            "AND c.relowner <> 'lindung_admin'::regrole AND "
            + not_extension.format(cat="'pg_class'", oid="c.oid")), [])
        self.assertEqual(self.sql(
            "SELECT p.oid::regprocedure::text FROM pg_proc p "
            "WHERE p.pronamespace = 'public'::regnamespace "
            "AND p.proowner <> 'lindung_admin'::regrole AND "
            + not_extension.format(cat="'pg_proc'", oid="p.oid")), [])
        # no function of ours is PUBLIC's to call (a NULL ACL is the default: PUBLIC may)
        self.assertEqual(self.sql(
            "SELECT p.oid::regprocedure::text FROM pg_proc p "
            "WHERE p.pronamespace = 'public'::regnamespace AND "
            + not_extension.format(cat="'pg_proc'", oid="p.oid") +
            " AND (p.proacl IS NULL OR EXISTS (SELECT FROM aclexplode(p.proacl) x "
            "WHERE x.grantee = 0))"), [])
        # nor any table, view or sequence
        self.assertEqual(self.sql(
            "SELECT c.oid::regclass::text FROM pg_class c, aclexplode(c.relacl) x "
            "WHERE c.relnamespace = 'public'::regnamespace AND x.grantee = 0"), [])
        # SECURITY DEFINER: lindung_admin's, with the search_path fixed
        definers = self.sql(
            "SELECT p.proname, pg_get_userbyid(p.proowner), "
            "coalesce(array_to_string(p.proconfig, ';'), '') FROM pg_proc p "
            "WHERE p.prosecdef AND p.pronamespace = 'public'::regnamespace ORDER BY 1")
        self.assertGreaterEqual(len(definers), 8)
        for proname, owner, config in definers:
            with self.subTest(function=proname):
                self.assertEqual(owner, "lindung_admin")
                self.assertIn("search_path=public, pg_temp", config)
        # the writes the daemons may make at all (INSERT aside): verify takes
        # back an enrolment of its own batch, billing removes its empty
        # documents; billing's UPDATE of the whole of enrolments is for LOCK
        grants = self.sql(
            "SELECT r, c.relname, p FROM pg_class c, "
            "unnest(ARRAY['lindung_intake', 'lindung_verify', 'lindung_billing']) r, "
            "unnest(ARRAY['UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p "
            "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') "
            "AND has_table_privilege(r, c.oid, p) ORDER BY 1, 2, 3")
        self.assertEqual(grants, [("lindung_billing", "enrolments", "UPDATE"),
                                  ("lindung_billing", "invoices", "DELETE"),
                                  ("lindung_verify", "enrolments", "DELETE")])
        # nobody but the owner creates in public
        for role in ("lindung_intake", "lindung_verify", "lindung_billing",
                     "lindung_analyst"):
            self.assertEqual(self.sql(
                f"SELECT has_schema_privilege('{role}', 'public', 'CREATE')"), [("f",)])

    def test_a_new_database_migrated_by_the_owner_role(self) -> None:
        """docker-compose.yml's way: deploy/db-users.sql on a new database (the
        roles exist already: they are the cluster's), then every migration as
        lindungctl, acting as lindung_admin, without a superuser."""
        c = self.stack.cluster
        c.psql("CREATE DATABASE lindung_new", dbname="postgres")
        r = subprocess.run([str(harness.PG_BIN / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                            "-d", c.conninfo_as("lindung", "lindung_new"),
                            "-f", str(harness.SOURCE_DIR / "deploy/db-users.sql")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = self.stack.lindungctl(
            "migrate", env={"LINDUNG_DB": c.conninfo_as("lindungctl", "lindung_new")},
            timeout=120)
        self.assertIn("027_roles.sql", out.stdout)
        self.assertEqual(c.psql(
            "SELECT count(*) FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace "
            "AND c.relkind IN ('r', 'p', 'v', 'S') AND c.relowner <> 'lindung_admin'::regrole "
            "AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass "
            "AND d.objid = c.oid AND d.deptype = 'e')", dbname="lindung_new"), [("0",)])
        self.assertEqual(c.psql(
            "SELECT has_table_privilege('lindung_intake', 'submissions', 'INSERT'), "
            "has_table_privilege('lindung_intake', 'enrolments', 'UPDATE'), "
            "has_function_privilege('lindung_intake', 'participant_events_apply(uuid, "
            "smallint)', 'EXECUTE'), "
            "(SELECT pg_get_userbyid(proowner) FROM pg_proc "
            "WHERE proname = 'accrual_part_load')", dbname="lindung_new"),
            [("t", "f", "t", "lindung_admin")])
        c.psql("DROP DATABASE lindung_new", dbname="postgres")


if __name__ == "__main__":
    unittest.main(verbosity=2)
