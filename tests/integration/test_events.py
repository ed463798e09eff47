"""Life events (issue 14, "Life events API" and "Death"; docs/lifecycle.md)
against a real PostgreSQL, intake, verify and billing:

  - each kind: death (coverage ends with the month of death, later months
    already billed are credited in exact rupiah, the NIK is rejected
    DECEASED afterwards), moved (a transfer within the programme's regency,
    an end elsewhere), left (an end), and a refusal (no enrolment covers it);
  - a death reported in error, corrected with lindungctl: the coverage comes
    back and billing bills it again;
  - the batch form, JSON and CSV, with Idempotency-Key (a retry answers the
    same, another body 409), 422 listing every problem with its index, 404
    for a NIK outside the key's scope exactly as for an unknown NIK;
  - kill -9 of intake while it applies 10,000 events, then a retry with the
    same key: every event applied exactly once.

Expected rupiah are computed here from the published rates (JKK 1% of
Rp 1,000,000 = 10,000; JKM 6,800; CSR relief halves both in 2026-04..12),
never read back from the code under test. Enrolments are made with SQL, as
in test_money.py; events go through the API.
"""

from __future__ import annotations

import concurrent.futures
import datetime
import json
import signal
import subprocess
import threading
import time
import unittest

import harness

VILLAGE_A = "16.12.01.2001"      # Talang Bulang, PALI (desa)
VILLAGE_B = "16.12.01.2002"      # Benuang, PALI (desa)
MURA_VILLAGE = "16.05.01.2002"   # Surodadi, Musi Rawas
ADD = "PALI-TEST-ADD"            # test fixture, no end
CSR = "MURA-2026-CSR"

FULL = 10000 + 6800              # Rp 16,800 a person-month
HALF = 5000 + 3400               # PP 50/2025 relief: both halved (CSR, 2026-04..12)

# n people enrolled from {start}; NIK g: 161201 010180+k serial, all valid
ENROL_SQL = """
WITH s AS (
  INSERT INTO submissions (id, program_id, village_code, applicant_count)
  SELECT gen_random_uuid(), p.id, '{village}', {n} FROM programs p WHERE p.code = '{program}'
  RETURNING id, program_id),
a AS (
  INSERT INTO applicants (submission_id, idx, nik, name, birth_date, sex, occupation,
                          decision, monthly_income)
  SELECT s.id, g, '{district}0101' || lpad(({year} + (g + {base}) / 9000)::text, 2, '0')
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


def month_add(month: str, n: int) -> str:
    y, m = map(int, month.split("-"))
    k = y * 12 + m - 1 + n
    return f"{k // 12:04d}-{k % 12 + 1:02d}"


THIS_MONTH = jakarta_today().strftime("%Y-%m")


class EventsTest(harness.LindungTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.stack.migrate()
        self.stack.import_programs()
        # every batch of two events or more in two parts, applied at once
        # on two sessions (035), so that each test here goes through them
        self.stack.env["LINDUNG_EVENTS_SPLIT_FROM"] = "2"
        self.base = 0

    # -- helpers
    def sql(self, q: str) -> list[tuple]:
        return self.stack.cluster.psql(q)

    def enrol(self, program: str, village: str, n: int = 1,
              start: str = THIS_MONTH) -> list[tuple[int, str]]:
        district = village.replace(".", "")[:6]
        rows = self.sql(ENROL_SQL.format(program=program, village=village, n=n,
                                         base=self.base, start=start, district=district,
                                         year=80))
        self.base += n
        return [(int(i), nik) for i, nik in rows]

    def run_month(self, month: str) -> None:
        doc = json.loads(self.stack.lindungctl("billing", "run", month).stdout)
        self.assertTrue(doc["ok"], doc)

    def net(self, enrolment: int, month: str) -> int:
        return int(self.sql(
            f"SELECT coalesce((SELECT amount FROM accruals WHERE enrolment_id = {enrolment} "
            f"AND period = '{month}-01'), 0) + coalesce((SELECT sum(amount) FROM "
            f"line_adjustments WHERE enrolment_id = {enrolment} AND period = '{month}-01'), 0)"
        )[0][0])

    def documents(self, month: str, payer: str) -> list[tuple[str, int]]:
        return [(k, int(t)) for k, t in self.sql(
            f"SELECT kind, total FROM invoices WHERE period = '{month}-01' "
            f"AND payer_code = '{payer}' ORDER BY id")]

    def enrolment(self, eid: int) -> tuple:
        return self.sql(f"SELECT status, to_char(end_month, 'YYYY-MM'), end_reason "
                        f"FROM enrolments WHERE id = {eid}")[0]

    def post_event(self, key: str, nik: str, event: dict, **kw) -> harness.Response:
        return self.stack.api("POST", f"/v1/participants/{nik}/events", key, json=event, **kw)

    def post_batch(self, key: str, events: list[dict], idem: str | None = None,
                   timeout: float = 10.0) -> harness.Response:
        headers = {"Idempotency-Key": idem} if idem else None
        return self.stack.api("POST", "/v1/events", key, headers=headers,
                              json={"events": events}, timeout=timeout)

    def submit_again(self, key: str, nik: str) -> list[dict]:
        """A new submission of the NIK in PALI-TEST-ADD; its decided reasons."""
        r = self.stack.api("POST", "/v1/submissions", key, json={
            "program_code": ADD, "village_code": VILLAGE_A,
            "applicants": [{"nik": nik, "name": "Peserta", "birth_date": "1980-01-01",
                            "sex": "M", "occupation": "PETANI/PEKEBUN"}]})
        self.assertEqual(r.status, 202, r)
        sid = r.body["submission_id"]
        harness.wait_until(lambda: self.stack.api("GET", f"/v1/submissions/{sid}", key)
                           .body["status"] == "verified", timeout=30)
        return self.stack.api("GET", f"/v1/submissions/{sid}", key).body["applicants"]

    # -- tests
    def test_death_credit_note_deceased_and_correction(self) -> None:
        s = self.stack
        start = month_add(THIS_MONTH, -3)
        death_month = month_add(THIS_MONTH, -2)
        (dead, dead_nik), (alive, _) = self.enrol(ADD, VILLAGE_A, 2, start=start)
        (csr_dead, csr_nik), = self.enrol(CSR, MURA_VILLAGE, 1, start=start)
        csr_payer = self.sql(f"SELECT payer_code FROM enrolments WHERE id = {csr_dead}")[0][0]
        s.start_daemons("billing", "verify", "intake")
        months = [month_add(start, i) for i in range(4)]
        for m in months:
            self.run_month(m)
        for m in months:
            self.assertEqual(self.net(dead, m), FULL, m)
            self.assertEqual(self.net(csr_dead, m), HALF, m)
        key = s.create_key("regency:16.12")
        r = self.post_event(key, dead_nik, {"kind": "death", "date": f"{death_month}-17",
                                            "reference": "AKTA-KEMATIAN-0001"})
        self.assertEqual(r.status, 201, r)
        ev = r.body["events"][0]
        self.assertEqual((ev["result"], ev["code"], ev["enrolment_id"]),
                         ("applied", "ended", dead), ev)
        self.assertEqual(self.enrolment(dead), ("ended", death_month, "death"))
        admin = s.create_key("admin")
        r = self.post_event(admin, csr_nik, {"kind": "death", "date": f"{death_month}-01"})
        self.assertEqual(r.status, 201, r)
        # billing credits the months after the death, by itself (its sweep) or
        # when the months are run again: exact rupiah, person-month by month
        later = [m for m in months if m > death_month]
        for m in later:
            self.run_month(m)
        for m in months:
            want = FULL if m <= death_month else 0
            self.assertEqual(self.net(dead, m), want, m)
            self.assertEqual(self.net(alive, m), FULL, m)
            self.assertEqual(self.net(csr_dead, m), HALF if m <= death_month else 0, m)
        for m in later:
            self.assertEqual(self.documents(m, VILLAGE_A),
                             [("invoice", 2 * FULL), ("credit_note", -FULL)], m)
            self.assertEqual(self.documents(m, csr_payer),
                             [("invoice", HALF), ("credit_note", -HALF)], m)
        # the person reads as deceased, with the event
        doc = s.api("GET", f"/v1/participants/{dead_nik}", key).body
        self.assertEqual(doc["deceased_on"], f"{death_month}-17")
        # its JKM claim (018, set-based in 021) carries the date of death,
        # written after the enrolment ended in the same transaction
        claim = f"SELECT status, event_date FROM claims WHERE enrolment_id = {dead}"
        self.assertEqual(s.cluster.psql(claim), [("reported", f"{death_month}-17")])
        self.assertEqual([(e["kind"], e["reference"], e["result"]) for e in doc["events"]],
                         [("death", "AKTA-KEMATIAN-0001", "applied")])
        # DECEASED: a later submission of the NIK is rejected, with the date
        got = self.submit_again(key, dead_nik)
        self.assertEqual(got[0]["decision"], "rejected", got)
        self.assertEqual([x["code"] for x in got[0]["reasons"]], ["DECEASED"], got)
        self.assertIn(f"{death_month}-17", got[0]["reasons"][0]["message"])
        # a second death report is refused, not applied twice
        r = self.post_event(key, dead_nik, {"kind": "death", "date": f"{death_month}-17"})
        self.assertEqual((r.status, r.body["events"][0]["code"]), (201, "already_deceased"))
        # a death reported in error: corrected, the coverage back, billed again
        out = s.lindungctl("event", "list", dead_nik).stdout
        self.assertIn("deceased on", out)
        self.assertNotIn(dead_nik, out)   # masked
        out = s.lindungctl("event", "correct", str(ev["event_id"]), "--reason",
                           "wrong NIK on the death certificate").stdout
        self.assertIn("as before the death", out)
        self.assertEqual(self.enrolment(dead), ("active", None, None))
        self.assertEqual(s.cluster.psql(claim), [("withdrawn", f"{death_month}-17")])
        self.assertIsNone(s.api("GET", f"/v1/participants/{dead_nik}", key)
                          .body["deceased_on"])
        again = s.lindungctl("event", "correct", str(ev["event_id"]), "--reason", "x",
                             check=False)
        self.assertEqual(again.returncode, 1)
        self.assertIn("corrected", again.stderr)
        for m in later:
            self.run_month(m)
        for m in months:
            self.assertEqual(self.net(dead, m), FULL, m)
        for m in later:
            self.assertEqual(self.documents(m, VILLAGE_A),
                             [("invoice", 2 * FULL), ("credit_note", -FULL),
                              ("supplementary", FULL)], m)
        self.assertEqual(self.sql(f"SELECT DISTINCT reason FROM line_adjustments "
                                  f"WHERE enrolment_id = {dead} AND amount > 0"),
                         [("reinstated",)])

    def test_death_ended_by_lindungctl_is_deceased(self) -> None:
        """An operator's `lindungctl enrolment end --reason death` records the
        death on the person as the API does: the NIK is refused as DECEASED
        from then on (a review found it accepted and enrolled again)."""
        s = self.stack
        start, died = month_add(THIS_MONTH, -2), month_add(THIS_MONTH, -1)
        (_, nik), = self.enrol(ADD, VILLAGE_A, 1, start=start)
        s.start_daemons("verify", "intake")
        # a month before the person's birth is refused and changes nothing,
        # as a death event dated so is (037; a review found lindungctl took it)
        r = s.lindungctl("enrolment", "end", nik, "--month", "1925-10", "--reason", "death",
                         check=False)
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("was born after 1925-10", r.stderr)
        self.assertNotIn("1980", r.stderr)  # no birth date beside the masked NIK
        self.assertEqual(self.sql(f"SELECT status, deceased_on FROM enrolments e JOIN "
                                  f"participants p USING (nik) WHERE nik = '{nik}'"),
                         [("active", None)])
        s.lindungctl("enrolment", "end", nik, "--month", died, "--reason", "death")
        self.assertEqual(self.sql(f"SELECT deceased_on FROM participants WHERE nik = '{nik}'"),
                         [(f"{died}-01",)])
        self.assertEqual(self.sql(f"SELECT status, event_date FROM claims WHERE nik = '{nik}'"),
                         [("reported", f"{died}-01")])
        # born in the month of death: the death is dated no earlier than the
        # birth, on the person and on the claim (a review found the 1st)
        (_, baby), = self.enrol(ADD, VILLAGE_A, 1, start=start)
        self.sql(f"UPDATE participants SET birth_date = '{died}-20' WHERE nik = '{baby}'")
        s.lindungctl("enrolment", "end", baby, "--month", died, "--reason", "death")
        self.assertEqual(self.sql(f"SELECT deceased_on FROM participants WHERE nik = '{baby}'"),
                         [(f"{died}-20",)])
        self.assertEqual(self.sql(f"SELECT event_date FROM claims WHERE nik = '{baby}'"),
                         [(f"{died}-20",)])
        got = self.submit_again(s.create_key("regency:16.12"), nik)
        self.assertEqual([x["code"] for x in got[0]["reasons"]], ["DECEASED"], got)
        self.assertEqual(self.sql(f"SELECT count(*) FROM enrolments WHERE nik = '{nik}' "
                                  "AND status = 'active'"), [("0",)])

    def test_late_death_after_a_move_or_departure(self) -> None:
        """A death reported after the enrolment covering its month was ended
        by a transfer or a departure still ends it with the death month
        (033): the months after the death are not covered, the transfer's
        continuation is cancelled, and the JKM claim opens on the enrolment
        that covered the death (a review found all three missing)."""
        s = self.stack
        m2, m1 = month_add(THIS_MONTH, -2), month_add(THIS_MONTH, -1)
        (e1, n1), (e2, n2), (e3, n3) = self.enrol(ADD, VILLAGE_A, 3, start=m2)
        s.start_daemons("intake")
        key = s.create_key("regency:16.12")
        today = jakarta_today().isoformat()
        r = self.post_batch(key, [
            {"kind": "moved", "nik": n1, "date": today, "to_village": VILLAGE_B},
            {"kind": "moved", "nik": n2, "date": today, "to_village": VILLAGE_B},
            {"kind": "left", "nik": n3, "date": today, "reason": "pindah kerja"}])
        self.assertEqual([e["code"] for e in r.body["events"]],
                         ["transferred", "transferred", "ended"], r.body)
        deaths = ((e1, n1, f"{m1}-10", m1), (e2, n2, today, THIS_MONTH),
                  (e3, n3, f"{m1}-10", m1))
        for enrolment, nik, date, month in deaths:
            with self.subTest(nik=nik, died=date):
                ev = self.post_event(key, nik, {"kind": "death", "date": date}).body["events"][0]
                self.assertEqual((ev["result"], ev["code"], ev["enrolment_id"]),
                                 ("applied", "ended", enrolment), ev)
                rows = self.sql(f"SELECT id, status, end_reason, to_char(end_month, 'YYYY-MM'), "
                                f"isempty(enrolment_months(start_month, end_month)) "
                                f"FROM enrolments WHERE nik = '{nik}' ORDER BY id")
                self.assertEqual(rows[0], (str(enrolment), "ended", "death", month, "f"))
                for later in rows[1:]:  # the transfer's continuation covers nothing
                    self.assertEqual((later[1], later[2], later[4]), ("ended", "death", "t"))
                self.assertEqual(self.sql(f"SELECT enrolment_id, status, event_date, "
                                          f"amount_claimed FROM claims WHERE nik = '{nik}'"),
                                 [(str(enrolment), "reported", date, "42000000")])

    def test_a_death_in_an_uncovered_month_needs_the_scope_of_what_it_ends(self) -> None:
        """No enrolment covers the death's month: the person left village A
        and is now enrolled in Musi Rawas. A key of village A may not end the
        Musi Rawas enrolment by reporting that death (033): 404, as for an
        unknown NIK, and nothing changes; the regency of Musi Rawas may."""
        s = self.stack
        m3, m2, m1 = (month_add(THIS_MONTH, k) for k in (-3, -2, -1))
        (old, nik), = self.enrol(ADD, VILLAGE_A, 1, start=m3)
        self.sql(f"UPDATE enrolments SET status = 'ended', end_month = '{m2}-01', "
                 f"end_reason = 'left', ended_at = now() WHERE id = {old}")
        self.sql(f"INSERT INTO enrolments (nik, program_id, village_code, funding_source, "
                 f"payer_code, declared_income, transport, start_month, end_month, "
                 f"previous_enrolment_id) "
                 f"SELECT '{nik}', p.id, '{MURA_VILLAGE}', p.funding_source, "
                 f"program_payer(p.id, '{MURA_VILLAGE}'), 1000000, false, '{THIS_MONTH}-01', "
                 f"p.coverage_end, {old} FROM programs p WHERE p.code = 'MURA-2026-CSR'")
        s.start_daemons("intake")
        before = self.sql(f"SELECT id, status, end_month FROM enrolments WHERE nik = '{nik}' "
                          "ORDER BY id")
        village = s.create_key(f"village:{VILLAGE_A}")
        r = self.post_event(village, nik, {"kind": "death", "date": f"{m1}-10"})
        self.assertEqual(r.status, 404, r.body)
        self.assertEqual(self.sql(f"SELECT id, status, end_month FROM enrolments "
                                  f"WHERE nik = '{nik}' ORDER BY id"), before)
        self.assertEqual(self.sql(f"SELECT count(*) FROM participants WHERE nik = '{nik}' "
                                  "AND deceased_on IS NULL"), [("1",)])
        r = self.post_event(s.create_key("regency:16.05"), nik,
                            {"kind": "death", "date": f"{m1}-10"})
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual(self.sql(f"SELECT status FROM enrolments WHERE nik = '{nik}' "
                                  "ORDER BY id"), [("ended",), ("ended",)])

    def test_moved_and_left(self) -> None:
        s = self.stack
        people = self.enrol(ADD, VILLAGE_A, 5, start=month_add(THIS_MONTH, -1))
        s.start_daemons("intake")
        key = s.create_key("regency:16.12")
        today = jakarta_today().isoformat()
        events = [
            {"kind": "moved", "nik": people[0][1], "date": today, "to_village": VILLAGE_B},
            {"kind": "moved", "nik": people[1][1], "date": today,
             "to_village": MURA_VILLAGE},
            {"kind": "left", "nik": people[2][1], "date": today,
             "reason": "now a salaried worker (PPU)"},
            {"kind": "left", "nik": people[3][1], "date": f"{month_add(THIS_MONTH, -3)}-05",
             "reason": "before the enrolment began"},
            {"kind": "moved", "nik": people[4][1], "date": today, "to_village": VILLAGE_A},
        ]
        r = self.post_batch(key, events)
        self.assertEqual(r.status, 201, r)
        got = [(e["index"], e["result"], e["code"]) for e in r.body["events"]]
        self.assertEqual(got, [(0, "applied", "transferred"), (1, "applied", "ended"),
                               (2, "applied", "ended"), (3, "refused", "not_covered"),
                               (4, "refused", "same_place")])
        self.assertEqual(r.body["counts"], {"total": 5, "applied": 3, "refused": 2})
        # moved within the regency: ends this month, continues next month in B
        self.assertEqual(self.enrolment(people[0][0]), ("ended", THIS_MONTH, "moved"))
        new = r.body["events"][0]["new_enrolment_id"]
        self.assertEqual(self.sql(f"SELECT village_code, to_char(start_month, 'YYYY-MM'), "
                                  f"status, previous_enrolment_id FROM enrolments "
                                  f"WHERE id = {new}"),
                         [(VILLAGE_B, month_add(THIS_MONTH, 1), "active",
                           str(people[0][0]))])
        self.assertEqual(self.sql(f"SELECT source FROM enrolment_transfers "
                                  f"WHERE new_enrolment_id = {new}")[0][0][:4], "api:")
        # moved out of the regency: an end, saying why there is no transfer
        self.assertEqual(self.enrolment(people[1][0]), ("ended", THIS_MONTH, "moved"))
        self.assertIn("no transfer", r.body["events"][1]["message"])
        self.assertEqual(self.enrolment(people[2][0]), ("ended", THIS_MONTH, "left"))
        self.assertEqual(self.enrolment(people[3][0]), ("active", None, None))
        self.assertEqual(self.enrolment(people[4][0]), ("active", None, None))
        # stored as received, with the key that sent them
        self.assertEqual(self.sql("SELECT count(*), count(DISTINCT api_key_id), "
                                  "max(reason) FILTER (WHERE idx = 2) "
                                  "FROM participant_events"),
                         [("5", "1", "now a salaried worker (PPU)")])

    def test_batch_idempotency_errors_and_scope(self) -> None:
        s = self.stack
        people = self.enrol(ADD, VILLAGE_A, 3, start=THIS_MONTH)
        other, = self.enrol(ADD, VILLAGE_B, 1, start=THIS_MONTH)
        s.start_daemons("intake")
        # the events counter is there at 0 from the start, every kind and result
        for kind in ("death", "moved", "left"):
            for result in ("applied", "refused"):
                self.assertIn(f'lindung_events_total{{kind="{kind}",result="{result}"}} 0',
                              s.intake.metrics())
        key = s.create_key(f"village:{VILLAGE_A}")
        today = jakarta_today().isoformat()
        batch = [{"kind": "left", "nik": people[0][1], "date": today, "reason": "moved abroad"},
                 {"kind": "death", "nik": people[1][1], "date": today}]
        first = self.post_batch(key, batch, idem="ev-batch-1")
        self.assertEqual(first.status, 201, first)
        replay = self.post_batch(key, batch, idem="ev-batch-1")
        self.assertEqual(replay.status, 200, replay)
        self.assertEqual(replay.body, first.body)
        other_body = self.post_batch(key, batch[:1], idem="ev-batch-1")
        self.assertEqual((other_body.status, other_body.body["error"]["code"]),
                         (409, "IDEMPOTENCY_CONFLICT"))
        self.assertEqual(self.sql("SELECT count(*) FROM participant_events"), [("2",)])
        # counted once, when applied: the replay is not counted again
        metrics = s.intake.metrics()
        self.assertIn('lindung_events_total{kind="left",result="applied"} 1', metrics)
        self.assertIn('lindung_events_total{kind="death",result="applied"} 1', metrics)
        self.assertIn('lindung_events_total{kind="moved",result="applied"} 0', metrics)
        # 422: every problem, each with its index
        tomorrow = (jakarta_today() + datetime.timedelta(days=1)).isoformat()
        bad = [{"kind": "born", "nik": people[2][1], "date": today},
               {"kind": "death", "nik": "123", "date": today},
               {"kind": "death", "nik": people[2][1], "date": tomorrow},
               {"kind": "moved", "nik": other[1], "date": today},
               {"kind": "left", "nik": people[0][1], "date": "2026-02-30", "reason": "x"}]
        r = self.post_batch(key, bad)
        self.assertEqual((r.status, r.body["error"]["code"]), (422, "INVALID_FIELDS"), r)
        problems = sorted((d["index"], d["field"]) for d in r.body["error"]["details"])
        # index 2 repeats index 0's NIK: listed with the other problems
        self.assertEqual(problems, [(0, "kind"), (1, "nik"), (2, "date"), (2, "nik"),
                                    (3, "to_village"), (4, "date")])
        dup = self.post_batch(key, [batch[0], dict(batch[0])])
        self.assertEqual([(d["index"], d["field"]) for d in dup.body["error"]["details"]],
                         [(1, "nik")])
        # 404: outside the key's scope is exactly an unknown NIK
        unknown = "1612010101990001"
        a = self.post_event(key, other[1], {"kind": "death", "date": today})
        b = self.post_event(key, unknown, {"kind": "death", "date": today})
        self.assertEqual((a.status, b.status), (404, 404))
        self.assertEqual(a.body, b.body)
        self.assertEqual(s.api("GET", f"/v1/participants/{other[1]}", key).body, a.body)
        c = self.post_batch(key, [{"kind": "death", "nik": other[1], "date": today}])
        self.assertEqual((c.status, c.body["error"]["details"][0]["index"]), (404, 0))
        self.assertEqual(self.enrolment(other[0]), ("active", None, None))
        # CSV, with a header row
        csv = f"kind,nik,date,reason\r\nleft,{people[2][1]},{today},\"no longer poor, DTKS\"\r\n"
        r = s.api("POST", "/v1/events", key, headers={"Content-Type": "text/csv"}, data=csv)
        self.assertEqual((r.status, r.body["events"][0]["code"]), (201, "ended"), r)
        self.assertEqual(self.enrolment(people[2][0]), ("ended", THIS_MONTH, "left"))
        r = s.api("POST", "/v1/events", key, headers={"Content-Type": "text/csv"},
                  data="kind,nik,\"date\nleft")
        self.assertEqual((r.status, r.body["error"]["code"]), (400, "MALFORMED_BODY"))
        r = s.api("GET", "/v1/events", key)
        self.assertEqual(r.status, 405)

    def test_kill_intake_mid_batch_applies_each_event_once(self) -> None:
        s = self.stack
        # Big enough to be killed while its parts are being applied, small
        # enough that on a busy 2-core machine the orphaned statements (which
        # PostgreSQL finishes and then rolls back) and what waits for them
        # fit the retry's 120 s.
        n = 4000
        people = self.enrol(ADD, VILLAGE_A, n, start=month_add(THIS_MONTH, -1))
        s.start_daemons("intake")
        key = s.create_key("admin")
        events = self.deaths_and_departures(people)
        answers: list = []

        def send() -> None:
            try:
                answers.append(self.post_batch(key, events, idem="big-1", timeout=120))
            except Exception as exc:  # the connection dies with intake
                answers.append(exc)

        t = threading.Thread(target=send)
        t.start()
        # kill while PostgreSQL is applying the stored batch's parts for intake
        harness.wait_until(lambda: self.sql(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
            "AND pid <> pg_backend_pid() "
            "AND query LIKE '%participant_events_apply(%'")[0][0] != "0", timeout=60)
        s.intake.kill(signal.SIGKILL)
        t.join(130)
        self.assertEqual(len(answers), 1)
        self.assertNotIsInstance(answers[0], harness.Response,
                                 "intake answered before it was killed")
        # stored, in two parts, and not applied: the kill came first
        self.assertEqual(self.sql("SELECT parts, event_count FROM event_batches"),
                         [("2", str(n))])
        s.intake.start()
        # intake's start applies what is pending (or the retry does, whichever
        # locks the parts first); the retry answers once all is applied
        r = harness.wait_until(lambda: (lambda x: x if x.status in (200, 201) else None)(
            self.post_batch(key, events, idem="big-1", timeout=120)), timeout=120)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body["counts"], {"total": n, "applied": n, "refused": 0})
        self.assert_applied_once(n)
        again = self.post_batch(key, events, idem="big-1", timeout=120)
        self.assertEqual(again.status, 200)
        # the batch's record was written when it was stored, before the kill
        self.assertEqual(self.sql(
            "SELECT action, count(*) FROM audit_log WHERE action LIKE 'event.%' "
            "GROUP BY 1 ORDER BY 1"), [("event.create", "1"), ("event.replay", "2")])

    def test_events_applied_after_the_answer_timed_out_are_counted_once(self) -> None:
        """A batch whose apply outlives intake's answer timeout (503; the
        server finishes the apply anyway) is counted in lindung_events_total
        by intake's sweep, once; its retry counts nothing again (before 039
        it was never counted: a review found it)."""
        s = self.stack
        s.env["LINDUNG_DB_ANSWER_TIMEOUT_S"] = "1"
        people = self.enrol(ADD, VILLAGE_A, 4, start=month_add(THIS_MONTH, -1))
        s.start_daemons("intake")
        key = s.create_key("admin")
        today = jakarta_today().isoformat()
        events = [{"kind": "left", "nik": nik, "date": today, "reason": "pindah kerja"}
                  for _, nik in people]
        niks = ",".join(f"'{nik}'" for _, nik in people)
        locker = subprocess.Popen(
            [str(harness.PG_BIN / "psql"), "-X", "-q", "-d", s.cluster.conninfo_as("lindung"),
             "-c", f"BEGIN; SELECT 1 FROM participants WHERE nik IN ({niks}) FOR UPDATE; "
                   "SELECT pg_sleep(4); COMMIT;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        harness.wait_until(lambda: self.sql(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(4)%' "
            "AND pid <> pg_backend_pid()") == [("1",)], timeout=10)
        r = self.post_batch(key, events, idem="slow-1", timeout=20)
        self.assertEqual(r.status, 503, r.body)
        locker.wait(timeout=30)
        applied = 'lindung_events_total{kind="left",result="applied"} 4'
        harness.wait_until(lambda: applied in s.intake.metrics(), timeout=30,
                           message="the sweep counted the batch applied after the timeout")
        r = self.post_batch(key, events, idem="slow-1")
        self.assertEqual(r.status, 200, r.body)
        self.assertIn(applied, s.intake.metrics())

    def test_second_sessions_are_few_and_shared(self) -> None:
        """Eight big batches at once on four worker threads: every event
        applied once, and intake never holds more than its threads, its
        sweep and the two shared second sessions (a first version kept one
        per thread, for good: a review found those idle sessions could use
        up the connections the threads' own sessions needed)."""
        s = self.stack
        s.env["LINDUNG_INTAKE_THREADS"] = "4"
        people = self.enrol(ADD, VILLAGE_A, 32, start=month_add(THIS_MONTH, -1))
        s.start_daemons("intake")
        key = s.create_key("admin")
        batches = [self.deaths_and_departures(people[i:i + 4]) for i in range(0, 32, 4)]
        seen = []

        def sessions() -> int:
            return int(self.sql("SELECT count(*) FROM pg_stat_activity "
                                "WHERE application_name = 'lindung-intake'")[0][0])

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            answers = [pool.submit(self.post_batch, key, b, None, 30.0) for b in batches]
            while not all(a.done() for a in answers):
                seen.append(sessions())
            self.assertEqual([a.result().status for a in answers], [201] * 8)
        seen.append(sessions())
        self.assertEqual(self.sql(
            "SELECT count(*), count(DISTINCT nik), count(DISTINCT batch_id), "
            "count(*) FILTER (WHERE result = 'applied') FROM participant_events"),
            [("32", "32", "8", "32")])
        self.assertEqual(self.sql("SELECT max(pending_parts), min(parts) FROM event_batches"),
                         [("0", "2")])
        self.assertEqual(self.sql("SELECT count(*), count(DISTINCT nik) FROM claims "
                                  "WHERE kind = 'JKM'"), [("16", "16")])
        self.assertLessEqual(max(seen), 4 + 1 + 2, seen)

    def test_a_stored_batch_is_applied_on_start(self) -> None:
        """A batch stored and never applied (intake killed between the two
        steps of 035) is applied by intake's start, without any retry."""
        s = self.stack
        n = 50
        people = self.enrol(ADD, VILLAGE_A, n, start=month_add(THIS_MONTH, -1))
        key = s.create_key("admin", name="lost-batch")
        key_id = self.sql("SELECT id FROM api_keys WHERE name = 'lost-batch'")[0][0]
        events = self.deaths_and_departures(people)
        stored = [dict(e, idx=i) for i, e in enumerate(events)]
        # the first step alone, as intake runs it, the way a kill leaves it
        self.assertEqual(self.sql(
            "SELECT outcome, parts FROM participant_events_store(gen_random_uuid(), "
            f"'{key_id}', 'lost-1', 'print', NULL, 'admin', NULL, "
            f"'{json.dumps(stored)}'::jsonb, 2)"), [("stored", "2")])
        self.assertEqual(self.sql(
            "SELECT pending_parts, (SELECT count(*) FROM participant_events "
            "WHERE result IS NULL) FROM event_batches"), [("2", str(n))])
        self.assertEqual(self.sql("SELECT count(*) FROM enrolments WHERE status = 'ended'"),
                         [("0",)])
        s.start_daemons("intake")
        harness.wait_until(lambda: self.sql(
            "SELECT pending_parts FROM event_batches")[0][0] == "0", timeout=30)
        self.assert_applied_once(n)
        self.assertIn("events.recovered", s.intake.log_text())
        # counted by whoever applied them (here intake's start), once
        half = n // 2
        metrics = s.intake.metrics()
        self.assertIn(f'lindung_events_total{{kind="death",result="applied"}} {half}', metrics)
        self.assertIn(f'lindung_events_total{{kind="left",result="applied"}} {n - half}',
                      metrics)
        # the same key with other events is a conflict, as for any stored batch
        r = self.post_batch(key, events[:1], idem="lost-1")
        self.assertEqual(r.status, 409, r.body)
        harness.wait_until(lambda: "lindung_events_pending_batches 0" in s.intake.metrics(),
                           timeout=10)
        # while intake runs: a stored batch waits (the gauges show it) until
        # it is a minute old, then the sweep applies it
        more = self.enrol(ADD, VILLAGE_A, 2, start=month_add(THIS_MONTH, -1))
        stored = [dict(e, idx=i) for i, e in enumerate(self.deaths_and_departures(more))]
        self.sql("SELECT participant_events_store(gen_random_uuid(), "
                 f"'{key_id}', 'lost-2', 'print', NULL, 'admin', NULL, "
                 f"'{json.dumps(stored)}'::jsonb, 2)")
        harness.wait_until(lambda: "lindung_events_pending_batches 1" in s.intake.metrics(),
                           timeout=10)
        self.sql("UPDATE event_batches SET received_at = now() - interval '2 minutes' "
                 "WHERE idempotency_key = 'lost-2'")
        harness.wait_until(lambda: self.sql(
            "SELECT pending_parts FROM event_batches WHERE idempotency_key = 'lost-2'")
            == [("0",)], timeout=30)
        self.assertEqual(self.sql("SELECT count(*) FROM participant_events "
                                  "WHERE result IS NULL"), [("0",)])
        harness.wait_until(lambda: "lindung_events_pending_oldest_seconds 0" in
                           s.intake.metrics(), timeout=10)
        # the sweep's events counted too; then a batch through the API, and
        # its retry, which only reads the stored results, counts nothing again
        fresh = self.deaths_and_departures(
            self.enrol(ADD, VILLAGE_A, 2, start=month_add(THIS_MONTH, -1)))
        for status in (201, 200):
            r = self.post_batch(key, fresh, idem="fresh-1")
            self.assertEqual(r.status, status, r.body)
            metrics = s.intake.metrics()
            self.assertIn(f'lindung_events_total{{kind="death",result="applied"}} {half + 2}',
                          metrics)
            self.assertIn(
                f'lindung_events_total{{kind="left",result="applied"}} {n - half + 2}',
                metrics)

    # -- helpers of the two tests above

    @staticmethod
    def deaths_and_departures(people: list) -> list[dict]:
        today = jakarta_today().isoformat()
        return [{"kind": "death", "nik": nik, "date": today} if i % 2 else
                {"kind": "left", "nik": nik, "date": today, "reason": "pindah kerja"}
                for i, (_, nik) in enumerate(people)]

    def assert_applied_once(self, n: int) -> None:
        self.assertEqual(self.sql(
            "SELECT count(*), count(DISTINCT nik), count(DISTINCT batch_id), "
            "count(*) FILTER (WHERE result = 'applied') FROM participant_events"),
            [(str(n), str(n), "1", str(n))])
        self.assertEqual(self.sql(
            "SELECT end_reason, count(*) FROM enrolments GROUP BY 1 ORDER BY 1"),
            [("death", str(n // 2)), ("left", str(n // 2))])
        self.assertEqual(self.sql("SELECT count(*) FROM participants "
                                  "WHERE deceased_on IS NOT NULL"), [(str(n // 2),)])
        self.assertEqual(self.sql("SELECT count(*), count(DISTINCT nik) FROM claims "
                                  "WHERE kind = 'JKM'"), [(str(n // 2), str(n // 2))])
        self.assertEqual(self.sql("SELECT pending_parts FROM event_batches"), [("0",)])


if __name__ == "__main__":
    unittest.main(verbosity=2)
