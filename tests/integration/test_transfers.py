"""Transfers and renewals (issue 13, "Transfers" and "Programme years") against
a real PostgreSQL, lindungctl and the intake HTTP API.

A transfer ends a participant's enrolment in month M and continues it from
M+1 in another village (same programme or another one), in one operation
(enrolment_transfer, db/migrations/014_transfers.sql): no gap, no overlap,
the payer of the new village or programme. Every refusal code is produced
once and changes nothing. `lindungctl enrolment end` ends the enrolment
covering the month and cancels a later one (a renewal). The renewal of a
programme is listed by `lindungctl program renewal` and
GET /v1/programs/{code}/renewal, with the key's scope.

Enrolments are made with SQL (as in test_billing.py): a transfer only reads
enrolments, applicants and participants. Months are counted from the current
month in Asia/Jakarta, so the test holds whatever today is. Run directly:
  LINDUNG_BUILD_DIR=build-xfer LINDUNG_SOURCE_DIR=. python3 tests/integration/test_transfers.py
"""

from __future__ import annotations

import datetime
import json
import subprocess
import time
import unittest

import harness
import nikgen

V1 = "16.12.01.2001"          # Talang Bulang, PALI (desa)
V2 = "16.12.01.2002"          # Benuang, PALI (desa)
V3 = "16.12.01.2004"          # Talang Akar, PALI (desa)
KELURAHAN = "16.12.01.1003"   # Talang Ubi Timur, PALI (kelurahan)
MURA_VILLAGE = "16.05.01.2002"  # Surodadi, Musi Rawas
FARMER, TRADER = "PETANI/PEKEBUN", "PEDAGANG"


def jakarta_month() -> datetime.date:
    now = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=7)
    return now.date().replace(day=1)


def add_months(d: datetime.date, n: int) -> datetime.date:
    m = d.year * 12 + d.month - 1 + n
    return datetime.date(m // 12, m % 12 + 1, 1)


def ym(d: datetime.date) -> str:
    return d.strftime("%Y-%m")


CUR = jakarta_month()

# Test programmes, open-ended so every month around today is covered.
PROGRAMMES = [
    {"code": "TEST-XFER-ADD", "name": "test: ADD, no quota", "regency_code": "16.12",
     "funding_source": "ADD", "coverage_start": "2024-01", "occupations": []},
    {"code": "TEST-XFER-APBDES", "name": "test: APBDes", "regency_code": "16.12",
     "funding_source": "APBDES", "coverage_start": "2024-01", "occupations": []},
    {"code": "TEST-XFER-QUOTA", "name": "test: one place a village", "regency_code": "16.12",
     "funding_source": "ADD", "coverage_start": "2024-01", "occupations": [],
     "village_quota": 1},
    {"code": "TEST-XFER-TOTAL", "name": "test: one place in all", "regency_code": "16.12",
     "funding_source": "ADD", "coverage_start": "2024-01", "occupations": [],
     "total_quota": 1},
]

ENROL_SQL = """
WITH s AS (
  INSERT INTO submissions (id, program_id, village_code, applicant_count)
  SELECT gen_random_uuid(), p.id, '{village}', 1 FROM programs p WHERE p.code = '{program}'
  RETURNING id, program_id),
a AS (
  INSERT INTO applicants (submission_id, idx, nik, name, birth_date, sex, occupation,
                          decision, monthly_income)
  SELECT s.id, 0, '{nik}', '{name}', '{birth}', '{sex}', '{occupation}', 'accepted', 1500000
  FROM s RETURNING id, nik),
pa AS (
  INSERT INTO participants (nik, name, birth_date, sex)
  VALUES ('{nik}', '{name}', '{birth}', '{sex}') ON CONFLICT (nik) DO NOTHING)
INSERT INTO enrolments (nik, program_id, village_code, applicant_id, funding_source,
                        payer_code, declared_income, transport, start_month, end_month)
SELECT a.nik, s.program_id, '{village}', a.id, p.funding_source,
       program_payer(p.id, '{village}'), 1500000, false, '{start}', {end}
FROM a, s JOIN programs p ON p.id = s.program_id
RETURNING id
"""

# No two enrolments of a NIK share a month (the exclusion constraint's rule,
# checked independently of it).
OVERLAPS_SQL = """
SELECT count(*) FROM enrolments a JOIN enrolments b ON a.nik = b.nik AND a.id < b.id
WHERE enrolment_months(a.start_month, a.end_month)
      && enrolment_months(b.start_month, b.end_month)
"""


class TransferCase(harness.LindungTestCase):

    def setUp(self) -> None:
        super().setUp()
        s = self.stack
        s.migrate()
        s.import_programs()
        path = s.dir / "test-programs.json"
        path.write_text(json.dumps({"programs": PROGRAMMES}))
        s.import_programs(path)
        self.serial = 1

    # -- helpers
    def sql(self, q: str) -> list[tuple]:
        return self.stack.cluster.psql(q)

    def person(self, occupation: str = FARMER, birth: datetime.date | None = None) -> dict:
        """A new person with a well-formed NIK (district 16.12.01)."""
        self.serial += 1
        birth = birth or datetime.date(1980, 1 + self.serial % 12, 1 + self.serial % 28)
        female = self.serial % 2 == 1
        return {"nik": nikgen.make("161201", birth, female, self.serial),
                "name": f"Peserta {self.serial}", "birth": birth.isoformat(),
                "sex": "F" if female else "M", "occupation": occupation}

    def enrol(self, who: dict, program: str, village: str, start: datetime.date,
              end: datetime.date | None = None) -> int:
        sql = ENROL_SQL.format(program=program, village=village, start=start.isoformat(),
                               end=f"'{end.isoformat()}'" if end else "NULL", **who)
        return int(self.sql(sql)[0][0])

    def transfer(self, nik: str, *args: str, rc: int = 0) -> dict:
        r = self.stack.lindungctl("enrolment", "transfer", nik, *args, "--json", check=False)
        self.assertEqual(r.returncode, rc, f"stdout:\n{r.stdout}\nstderr:\n{r.stderr}")
        self.assertNotIn(nik, r.stdout + r.stderr, "the NIK must be masked")
        return json.loads(r.stdout)

    def refused(self, code: str, nik: str, *args: str) -> dict:
        """A refusal: exit 1, the code, and nothing changed."""
        before = self.sql("SELECT id, status, end_month, end_reason FROM enrolments "
                          "ORDER BY id")
        doc = self.transfer(nik, *args, rc=1)
        self.assertEqual(doc["result"], code, doc)
        self.assertTrue(doc["message"], doc)
        self.assertIsNone(doc["new_enrolment_id"], doc)
        self.assertEqual(self.sql("SELECT id, status, end_month, end_reason FROM enrolments "
                                  "ORDER BY id"), before, f"{code} changed enrolments")
        return doc

    def row(self, enrolment: int) -> dict:
        cols = ("nik", "program", "village_code", "funding_source", "payer_code", "start",
                "end", "status", "end_reason", "previous", "applicant_id", "income")
        vals = self.sql(
            "SELECT e.nik, p.code, e.village_code, e.funding_source, e.payer_code, "
            "to_char(e.start_month, 'YYYY-MM'), to_char(e.end_month, 'YYYY-MM'), e.status, "
            "e.end_reason, e.previous_enrolment_id, e.applicant_id, e.declared_income "
            f"FROM enrolments e JOIN programs p ON p.id = e.program_id WHERE e.id = {enrolment}")[0]
        return dict(zip(cols, vals))

    def assert_no_overlap(self) -> None:
        self.assertEqual(self.sql(OVERLAPS_SQL), [("0",)])


class TransferWithinProgramme(TransferCase):

    def test_move_to_another_village(self) -> None:
        s = self.stack
        who = self.person()
        old = self.enrol(who, "TEST-XFER-ADD", V1, add_months(CUR, -3))
        self.assertEqual(self.row(old)["payer_code"], V1)

        # --month left out: the current month in Asia/Jakarta
        doc = self.transfer(who["nik"], "--village", V2)
        self.assertEqual((doc["result"], doc["old_enrolment_id"], doc["month"]),
                         ("ok", old, ym(CUR)), doc)
        self.assertEqual(doc["nik"], who["nik"][:4] + "******" + who["nik"][-4:])
        new = doc["new_enrolment_id"]
        o, n = self.row(old), self.row(new)
        self.assertEqual((o["status"], o["end"], o["end_reason"]), ("ended", ym(CUR), "moved"))
        self.assertEqual((n["nik"], n["program"], n["village_code"], n["payer_code"],
                          n["funding_source"], n["start"], n["end"], n["status"]),
                         (who["nik"], "TEST-XFER-ADD", V2, V2, "ADD",
                          ym(add_months(CUR, 1)), None, "active"))
        self.assertEqual((n["previous"], n["applicant_id"], n["income"]),
                         (str(old), None, "1500000"))
        self.assert_no_overlap()
        # no gap: the new first month is the month after the old last one
        self.assertEqual(self.sql(
            f"SELECT (o.end_month + interval '1 month')::date = n.start_month "
            f"FROM enrolments o, enrolments n WHERE o.id = {old} AND n.id = {new}"), [("t",)])
        source = self.sql(f"SELECT source, to_char(month, 'YYYY-MM') FROM enrolment_transfers "
                          f"WHERE old_enrolment_id = {old} AND new_enrolment_id = {new}")
        self.assertEqual(len(source), 1)
        self.assertTrue(source[0][0].startswith("lindungctl"), source)
        self.assertEqual(source[0][1], ym(CUR))

        # the text form says the same, masked
        hist = json.loads(s.lindungctl("enrolment", "history", who["nik"], "--json").stdout)
        self.assertEqual([(e["enrolment_id"], e["previous_enrolment_id"]) for e in hist],
                         [(old, None), (new, old)])

        # the API: an admin sees both, the new village only the new one
        s.start_daemons("intake")
        admin = s.create_key("admin")
        r = s.api("GET", f"/v1/participants/{who['nik']}", key=admin)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual([(e["enrolment_id"], e["village_code"], e["end_month"],
                           e["end_reason"], e["previous_enrolment_id"])
                          for e in r.body["enrolments"]],
                         [(old, V1, ym(CUR), "moved", None),
                          (new, V2, None, None, old)])
        v2 = s.create_key(f"village:{V2}")
        r = s.api("GET", f"/v1/participants/{who['nik']}", key=v2)
        self.assertEqual([e["enrolment_id"] for e in r.body["enrolments"]], [new])

        # same place: the new enrolment already is in V2
        self.refused("same_place", who["nik"], "--village", V2, "--month",
                     ym(add_months(CUR, 1)))
        # not found: nothing of this NIK covers a month before it was enrolled
        self.refused("not_found", who["nik"], "--village", V3, "--month",
                     ym(add_months(CUR, -12)))
        self.refused("not_found", self.person()["nik"], "--village", V3)

    def test_usage_errors_exit_2(self) -> None:
        s = self.stack
        nik = self.person()["nik"]
        for args in (["enrolment", "transfer", nik],                     # no --village
                     ["enrolment", "transfer", "123", "--village", V2],   # not a NIK
                     ["enrolment", "transfer", nik, "--village", "16.12"],
                     ["enrolment", "transfer", nik, "--village", V2, "--month", "2026-13"]):
            with self.subTest(args=args):
                self.assertEqual(s.lindungctl(*args, check=False).returncode, 2)

    def test_refusals(self) -> None:
        who = self.person()
        self.enrol(who, "TEST-XFER-ADD", V1, add_months(CUR, -3))
        nik = who["nik"]
        self.refused("unknown_program", nik, "--village", V2, "--program", "NO-SUCH")
        # a village of another regency than the target programme's
        doc = self.refused("unknown_village", nik, "--village", MURA_VILLAGE)
        self.assertIn("16.12", doc["message"])
        # APBDes: a kelurahan has none (as ADD)
        doc = self.refused("not_a_desa", nik, "--village", KELURAHAN,
                           "--program", "TEST-XFER-APBDES")
        self.assertIn("kelurahan", doc["message"])
        self.refused("not_a_desa", nik, "--village", KELURAHAN)
        # a programme whose coverage ended before the month after M
        self.refused("outside_coverage", nik, "--village", V2, "--program", "PALI-2025-ADD")

    def test_quota_and_verify_lock(self) -> None:
        s = self.stack
        c = s.cluster
        first, second = self.person(), self.person()
        self.enrol(first, "TEST-XFER-QUOTA", V3, add_months(CUR, -2))
        self.enrol(second, "TEST-XFER-QUOTA", V1, add_months(CUR, -2))
        doc = self.refused("quota_exceeded", second["nik"], "--village", V3)
        self.assertIn("1 of 1", doc["message"])
        # the programme's total quota, for a move into it
        third, fourth = self.person(), self.person()
        self.enrol(third, "TEST-XFER-TOTAL", V1, add_months(CUR, -2))
        self.enrol(fourth, "TEST-XFER-ADD", V1, add_months(CUR, -2))
        self.refused("quota_exceeded", fourth["nik"], "--village", V2,
                     "--program", "TEST-XFER-TOTAL")

        # The transfer waits for verify's lock of the target (programme,
        # village), the key services/verify/verifier.c takes (SQL_LOCK_VILLAGE):
        # hold it for two seconds in another session.
        pid = c.scalar("SELECT id FROM programs WHERE code = 'TEST-XFER-ADD'")
        holder = subprocess.Popen(
            [str(harness.PG_BIN / "psql"), "-X", "-q", "-d", c.conninfo, "-c",
             "BEGIN; SELECT pg_advisory_xact_lock(" + pid + "::bigint << 32 | "
             f"(hashtext('{V3}')::bigint & 4294967295)); SELECT pg_sleep(2); COMMIT;"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            harness.wait_until(lambda: c.scalar(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted") == "1",
                timeout=10, message="the lock held")
            began = time.monotonic()
            doc = self.transfer(fourth["nik"], "--village", V3)
            waited = time.monotonic() - began
        finally:
            self.assertEqual(holder.wait(30), 0, "the lock holder failed")
        self.assertEqual(doc["result"], "ok", doc)
        self.assertGreater(waited, 1.0, "the transfer did not wait for verify's quota lock")


class TransferToAnotherProgramme(TransferCase):

    def test_to_dbh_sawit(self) -> None:
        farmer = self.person(FARMER)
        old = self.enrol(farmer, "TEST-XFER-ADD", V1, add_months(CUR, -3))
        month = ym(CUR)
        doc = self.transfer(farmer["nik"], "--village", MURA_VILLAGE,
                            "--program", "MURA-2024-SAWIT", "--month", month)
        self.assertEqual(doc["result"], "ok", doc)
        n = self.row(doc["new_enrolment_id"])
        # DBH sawit is paid by the regency, whoever the village
        self.assertEqual((n["program"], n["village_code"], n["funding_source"],
                          n["payer_code"], n["start"], n["previous"]),
                         ("MURA-2024-SAWIT", MURA_VILLAGE, "DBH_SAWIT", "16.05",
                          ym(add_months(CUR, 1)), str(old)))
        self.assertEqual(self.row(old)["end"], month)
        self.assert_no_overlap()

    def test_not_eligible(self) -> None:
        # MURA-2024-SAWIT: palm-oil farmers and plantation labourers only
        trader = self.person(TRADER)
        self.enrol(trader, "TEST-XFER-ADD", V1, add_months(CUR, -3))
        doc = self.refused("not_eligible", trader["nik"], "--village", MURA_VILLAGE,
                           "--program", "MURA-2024-SAWIT")
        self.assertIn(TRADER, doc["message"])
        # MURA-2026-CSR: under 65 on the first new month (65 that very day)
        first_new = add_months(CUR, 1)
        old = self.person(TRADER, birth=first_new.replace(year=first_new.year - 65))
        self.enrol(old, "TEST-XFER-ADD", V1, add_months(CUR, -3))
        doc = self.refused("not_eligible", old["nik"], "--village", MURA_VILLAGE,
                           "--program", "MURA-2026-CSR")
        self.assertIn("aged 65", doc["message"])
        # a day younger: 64 on the first new month, and the company pays
        young = self.person(TRADER, birth=first_new.replace(year=first_new.year - 65)
                            + datetime.timedelta(days=1))
        self.enrol(young, "TEST-XFER-ADD", V1, add_months(CUR, -3))
        doc = self.transfer(young["nik"], "--village", MURA_VILLAGE, "--program",
                            "MURA-2026-CSR")
        self.assertEqual(self.row(doc["new_enrolment_id"])["payer_code"], "CSR-MURA-01")


class TransferAndLaterEnrolments(TransferCase):

    def test_conflict_with_a_later_enrolment(self) -> None:
        who = self.person()
        # this year's enrolment ends next month; next year's starts after it
        old = self.enrol(who, "TEST-XFER-ADD", V1, add_months(CUR, -3), add_months(CUR, 1))
        later = self.enrol(who, "TEST-XFER-ADD", V1, add_months(CUR, 2))
        doc = self.refused("conflict", who["nik"], "--village", V2)
        self.assertEqual(doc["old_enrolment_id"], old)
        self.assert_no_overlap()

        # ending the current one (death) cancels the later one too
        r = self.stack.lindungctl("enrolment", "end", who["nik"], "--month", ym(CUR),
                                  "--reason", "death")
        self.assertIn(f"ended enrolment {old}", r.stdout)
        self.assertIn(f"cancelled enrolment {later}", r.stdout)
        self.assertNotIn(who["nik"], r.stdout)
        self.assertEqual((self.row(old)["status"], self.row(old)["end"]), ("ended", ym(CUR)))
        cancelled = self.row(later)
        self.assertEqual((cancelled["status"], cancelled["end"], cancelled["end_reason"]),
                         ("ended", ym(add_months(CUR, 1)), "death"))
        self.assertEqual(self.sql(f"SELECT isempty(enrolment_months(start_month, end_month)) "
                                  f"FROM enrolments WHERE id = {later}"), [("t",)])
        # nothing left to end
        r = self.stack.lindungctl("enrolment", "end", who["nik"], "--month", ym(CUR),
                                  "--reason", "death", check=False)
        self.assertEqual(r.returncode, 1)

    def test_end_does_not_stretch_an_enrolment(self) -> None:
        """An enrolment that ended (planned) before the month is not the one
        that covers it: ending it there would add months."""
        who = self.person()
        old = self.enrol(who, "TEST-XFER-ADD", V1, add_months(CUR, -6), add_months(CUR, -2))
        r = self.stack.lindungctl("enrolment", "end", who["nik"], "--month", ym(CUR),
                                  "--reason", "left", check=False)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertEqual(self.row(old)["end"], ym(add_months(CUR, -2)))

    def test_already_billed(self) -> None:
        s = self.stack
        who = self.person()
        old = self.enrol(who, "TEST-XFER-ADD", V1, add_months(CUR, -2))
        s.start_daemons("billing")
        doc = json.loads(s.lindungctl("billing", "run", ym(CUR)).stdout)
        self.assertTrue(doc["ok"], doc)
        self.assertEqual(self.sql(f"SELECT count(*) FROM accruals WHERE enrolment_id = {old} "
                                  f"AND period = '{CUR.isoformat()}'"), [("1",)])
        doc = self.refused("already_billed", who["nik"], "--village", V2, "--month",
                           ym(add_months(CUR, -1)))
        self.assertIn(ym(CUR), doc["message"])
        # from the last billed month on, the move is free
        doc = self.transfer(who["nik"], "--village", V2, "--month", ym(CUR))
        self.assertEqual(doc["result"], "ok", doc)


class RenewalListing(TransferCase):

    def test_renewal_over_lindungctl_and_http(self) -> None:
        s = self.stack
        c = s.cluster
        old_start, old_end = add_months(CUR, -11), CUR
        new_start, new_end = add_months(CUR, 1), add_months(CUR, 12)
        base = {"regency_code": "16.12", "funding_source": "ADD", "max_age": 64,
                "occupations": ["informal"]}
        old_file = s.dir / "renew-old.json"
        old_file.write_text(json.dumps({"programs": [dict(
            base, code="TEST-RENEW-OLD", name="test: this year",
            coverage_start=ym(old_start), coverage_end=ym(old_end))]}))
        s.import_programs(old_file)
        young1, young2 = self.person(FARMER), self.person(TRADER)
        too_old = self.person(FARMER, birth=new_start.replace(year=new_start.year - 65))
        self.enrol(young1, "TEST-RENEW-OLD", V1, old_start, old_end)
        self.enrol(too_old, "TEST-RENEW-OLD", V1, old_start, old_end)
        self.enrol(young2, "TEST-RENEW-OLD", V2, old_start, old_end)

        new_file = s.dir / "renew-new.json"
        new_file.write_text(json.dumps({"programs": [dict(
            base, code="TEST-RENEW-NEW", name="test: next year", renews="TEST-RENEW-OLD",
            coverage_start=ym(new_start), coverage_end=ym(new_end))]}))
        out = s.lindungctl("program", "import", str(new_file)).stdout
        self.assertIn("3 participants of TEST-RENEW-OLD queued", out)
        s.start_daemons()
        harness.wait_until(lambda: c.scalar(
            "SELECT count(*) FROM applicants WHERE renews_enrolment_id IS NOT NULL "
            "AND decision <> 'pending'") == "3", timeout=60, message="renewal decided")

        # lindungctl
        doc = json.loads(s.lindungctl("program", "renewal", "TEST-RENEW-NEW", "--json").stdout)
        self.assertEqual((doc["program_code"], doc["renews"]),
                         ("TEST-RENEW-NEW", "TEST-RENEW-OLD"))
        self.assertEqual(doc["counts"],
                         {"queued": 3, "pending": 0, "accepted": 2, "rejected": 1})
        by_nik = {i["nik"]: i for i in doc["items"]}
        mask = lambda p: p["nik"][:4] + "******" + p["nik"][-4:]
        self.assertEqual(set(by_nik), {mask(young1), mask(young2), mask(too_old)})
        for p, village in ((young1, V1), (young2, V2)):
            item = by_nik[mask(p)]
            self.assertEqual((item["village_code"], item["decision"], item["start_month"],
                              item["reasons"]), (village, "accepted", ym(new_start), []))
            self.assertIsNotNone(item["enrolment_id"])
        rejected = by_nik[mask(too_old)]
        self.assertEqual((rejected["decision"], rejected["start_month"],
                          [r["code"] for r in rejected["reasons"]]),
                         ("rejected", None, ["AGE_OVER_LIMIT"]))
        text = s.lindungctl("program", "renewal", "TEST-RENEW-NEW").stdout
        self.assertIn("renews TEST-RENEW-OLD", text)
        self.assertIn("AGE_OVER_LIMIT", text)
        self.assertIn("3 queued: 0 pending, 2 accepted, 1 rejected", text)
        for p in (young1, young2, too_old):
            self.assertNotIn(p["nik"], text)
        self.assertEqual(s.lindungctl("program", "renewal", "NO-SUCH",
                                      check=False).returncode, 1)
        self.assert_no_overlap()

        # HTTP: admin, pages of one
        admin = s.create_key("admin")
        r = s.api("GET", "/v1/programs/TEST-RENEW-NEW/renewal", key=admin)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual((r.body["renews"], r.body["counts"]),
                         ("TEST-RENEW-OLD", doc["counts"]))
        self.assertEqual({i["nik"] for i in r.body["items"]},
                         {young1["nik"], young2["nik"], too_old["nik"]})
        seen, cursor = [], ""
        for _ in range(5):
            page = s.api("GET", f"/v1/programs/TEST-RENEW-NEW/renewal?limit=1{cursor}",
                         key=admin).body
            seen += [i["nik"] for i in page["items"]]
            if page["next_cursor"] is None:
                break
            cursor = f"&cursor={page['next_cursor']}"
        self.assertEqual(sorted(seen), sorted(i["nik"] for i in r.body["items"]))
        # a village key: its village's rows and counts only
        v1 = s.create_key(f"village:{V1}")
        r = s.api("GET", "/v1/programs/TEST-RENEW-NEW/renewal", key=v1)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual({i["village_code"] for i in r.body["items"]}, {V1})
        self.assertEqual(r.body["counts"],
                         {"queued": 2, "pending": 0, "accepted": 1, "rejected": 1})
        # a regency key of the programme's regency sees all; another regency: 404
        r = s.api("GET", "/v1/programs/TEST-RENEW-NEW/renewal",
                  key=s.create_key("regency:16.12"))
        self.assertEqual(r.body["counts"]["queued"], 3)
        r = s.api("GET", "/v1/programs/TEST-RENEW-NEW/renewal",
                  key=s.create_key(f"village:{MURA_VILLAGE}"))
        self.assertEqual((r.status, r.body["error"]["code"]), (404, "NOT_FOUND"))
        r = s.api("GET", "/v1/programs/NO-SUCH/renewal", key=admin)
        self.assertEqual(r.status, 404)
        r = s.api("GET", "/v1/programs/TEST-RENEW-NEW/renewal?cursor=abc", key=admin)
        self.assertEqual((r.status, r.body["error"]["details"][0]["field"]), (422, "cursor"))
        r = s.api("POST", "/v1/programs/TEST-RENEW-NEW/renewal", key=admin, json={})
        self.assertEqual(r.status, 405)
        # a programme that renews none: an empty renewal
        r = s.api("GET", "/v1/programs/TEST-XFER-ADD/renewal", key=admin)
        self.assertEqual((r.status, r.body["renews"], r.body["items"], r.body["counts"]),
                         (200, None, [], {"queued": 0, "pending": 0, "accepted": 0,
                                          "rejected": 0}))

        # the programme list shows the new fields
        r = s.api("GET", "/v1/programs?limit=1000", key=admin)
        progs = {p["code"]: p for p in r.body["items"]}
        new = progs["TEST-RENEW-NEW"]
        self.assertEqual((new["renews"], new["insured_income"], new["income_ceiling"],
                          new["relief_basis"], new["total_target"], new["coverage_end"]),
                         ("TEST-RENEW-OLD", 1000000, None, None, None, ym(new_end)))
        self.assertEqual(progs["PALI-2026-ADD"]["renews"], "PALI-2025-ADD")
        self.assertEqual(progs["MURA-2024-ADD"]["total_target"], 9300)
        self.assertEqual(progs["MURA-2026-CSR"]["relief_applies"], True)
        self.assertEqual(progs["MURA-2024-SAWIT"]["relief_applies"], False)


if __name__ == "__main__":
    unittest.main(verbosity=2)
