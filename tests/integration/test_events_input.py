"""Life events: what a client is told about the events it sends and which
events a key reads back (docs/api.md "Life events", docs/lifecycle.md),
against a real PostgreSQL and intake:

  - a list with mistakes is refused whole with every mistake and its row
    (`index`), so one correction round fixes the file: in CSV a record with
    the wrong number of fields does not hide the other records' mistakes,
    and a NIK sent twice is listed alongside the other mistakes (also when
    the event it repeats has a mistake of its own), in JSON and in CSV;
  - a CSV that starts with a UTF-8 byte-order mark (a spreadsheet's "CSV
    UTF-8") is read as submissions' CSV is; a column named twice is a 422
    that names it, not a silent choice between the two;
  - an event dated before the person's birth date is refused
    (`before_birth`) and changes nothing: a death dated 1925 for 2025 would
    otherwise cancel every enrolment of the person;
  - GET /v1/participants/{nik} shows the events applied to an enrolment in
    the key's scope, and those it sent: a death that only cancelled an
    enrolment not yet started, and a move to another village, are seen by
    the keys of those villages; an admin key sees every event.

Enrolments are made with SQL, as in test_events.py (whose small helpers are
copied here, not imported); events go through the API.
"""

from __future__ import annotations

import datetime
import unittest

import harness

VILLAGE_A = "16.12.01.2001"      # Talang Bulang, PALI (desa)
VILLAGE_B = "16.12.01.2002"      # Benuang, PALI (desa)
MURA_VILLAGE = "16.05.01.2002"   # Surodadi, Musi Rawas
ADD = "PALI-TEST-ADD"            # test fixture, no end

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

REPEATED = "appears more than once in this request"


def jakarta_today() -> datetime.date:
    return (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=7)).date()


def month_add(month: str, n: int) -> str:
    y, m = map(int, month.split("-"))
    k = y * 12 + m - 1 + n
    return f"{k // 12:04d}-{k % 12 + 1:02d}"


THIS_MONTH = jakarta_today().strftime("%Y-%m")


def problems(r: harness.Response) -> list[tuple[int, str]]:
    """A 422's (index, field) pairs, sorted."""
    return sorted((d["index"], d["field"]) for d in r.body["error"]["details"])


def repeated(r: harness.Response) -> list[int]:
    """The indexes a 422 says repeat a NIK of the same request."""
    return sorted(d["index"] for d in r.body["error"]["details"]
                  if d["field"] == "nik" and REPEATED in d["message"])


def event_ids(doc: dict) -> list[int]:
    return [e["event_id"] for e in doc["events"]]


class EventsInputTest(harness.LindungTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.stack.migrate()
        self.stack.import_programs()
        self.base = 0

    # -- helpers (as in test_events.py)
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

    def enrolment(self, eid: int) -> tuple:
        return self.sql(f"SELECT status, to_char(end_month, 'YYYY-MM'), end_reason "
                        f"FROM enrolments WHERE id = {eid}")[0]

    def post_event(self, key: str, nik: str, event: dict, **kw) -> harness.Response:
        return self.stack.api("POST", f"/v1/participants/{nik}/events", key, json=event, **kw)

    def post_batch(self, key: str, events: list[dict]) -> harness.Response:
        return self.stack.api("POST", "/v1/events", key, json={"events": events})

    def post_csv(self, key: str, csv: str) -> harness.Response:
        return self.stack.api("POST", "/v1/events", key,
                              headers={"Content-Type": "text/csv"}, data=csv)

    def read(self, key: str, nik: str) -> dict:
        r = self.stack.api("GET", f"/v1/participants/{nik}", key)
        self.assertEqual(r.status, 200, r)
        return r.body

    # -- tests
    def test_422_lists_every_mistake_in_one_round(self) -> None:
        s = self.stack
        people = [nik for _, nik in self.enrol(ADD, VILLAGE_A, 4)]
        s.start_daemons("intake")
        key = s.create_key(f"village:{VILLAGE_A}")
        today = jakarta_today().isoformat()
        tomorrow = (jakarta_today() + datetime.timedelta(days=1)).isoformat()
        # CSV: a record of the wrong width hides none of the others' mistakes,
        # and a NIK repeated (here by a record that has another mistake too,
        # written with separators) is listed in the same answer
        spaced = f"{people[1][:4]} {people[1][4:12]} {people[1][12:]}"
        csv = ("kind,nik,date,reason\r\n"
               f"left,{people[0]},{today}\r\n"                 # 0: 3 fields, not 4
               f"born,{people[1]},{today},x\r\n"               # 1: kind
               f"left,{people[2]},2026-02-30,x\r\n"            # 2: date
               f"death,{spaced},{tomorrow},\r\n"               # 3: date; repeats 1
               f"left,{people[3]},{today},x,extra\r\n"         # 4: 5 fields
               f"death,123,{today},\r\n"                      # 5: nik
               f"death,123,{today},\r\n")                     # 6: nik (not a repeat)
        r = self.post_csv(key, csv)
        self.assertEqual((r.status, r.body["error"]["code"]), (422, "INVALID_FIELDS"), r)
        self.assertEqual(problems(r), [(0, "events"), (1, "kind"), (2, "date"), (3, "date"),
                                       (3, "nik"), (4, "events"), (5, "nik"), (6, "nik")])
        self.assertEqual(repeated(r), [3])
        # JSON: the repeat is listed with the other mistakes, whichever of
        # the two events has one
        bad = [{"kind": "left", "nik": people[0], "date": "2026-02-30", "reason": "x"},
               {"kind": "death", "nik": people[0], "date": today},
               {"kind": "death", "nik": people[1], "date": today},
               {"kind": "born", "nik": people[1], "date": today},
               {"kind": "moved", "nik": people[2], "date": today}]
        r = self.post_batch(key, bad)
        self.assertEqual((r.status, r.body["error"]["code"]), (422, "INVALID_FIELDS"), r)
        self.assertEqual(problems(r), [(0, "date"), (1, "nik"), (3, "kind"), (3, "nik"),
                                       (4, "to_village")])
        self.assertEqual(repeated(r), [1, 3])
        self.assertEqual(self.sql("SELECT count(*) FROM participant_events"), [("0",)])
        # one round: every mistake corrected as told (repeats sent later)
        fixed = [dict(bad[0], date=today), bad[2], dict(bad[4], to_village=VILLAGE_B)]
        r = self.post_batch(key, fixed)
        self.assertEqual(r.status, 201, r)
        self.assertEqual([e["result"] for e in r.body["events"]], ["applied"] * 3)

    def test_csv_byte_order_mark_and_a_column_named_twice(self) -> None:
        s = self.stack
        (eid, nik), = self.enrol(ADD, VILLAGE_A, 1)
        s.start_daemons("intake")
        key = s.create_key(f"village:{VILLAGE_A}")
        today = jakarta_today().isoformat()
        twice = f"kind,nik,date,date\r\nleft,{nik},{today},{today}\r\n"
        r = self.post_csv(key, twice)
        self.assertEqual((r.status, r.body["error"]["code"]), (422, "INVALID_FIELDS"), r)
        self.assertEqual([(d["field"], d["message"]) for d in r.body["error"]["details"]],
                         [("date", "column appears more than once")])
        self.assertEqual(self.sql("SELECT count(*) FROM participant_events"), [("0",)])
        bom = "\ufeff" + f"kind,nik,date,reason\r\nleft,{nik},{today},pindah kerja\r\n"
        r = s.api("POST", "/v1/events", key, headers={"Content-Type": "text/csv"},
                  data=bom.encode("utf-8"))
        self.assertEqual(r.status, 201, r)
        self.assertEqual([(e["result"], e["code"]) for e in r.body["events"]],
                         [("applied", "ended")])
        self.assertEqual(self.enrolment(eid), ("ended", THIS_MONTH, "left"))

    def test_an_event_before_birth_is_refused(self) -> None:
        s = self.stack
        (eid, nik), = self.enrol(ADD, VILLAGE_A, 1)
        born = self.sql(f"SELECT birth_date FROM participants WHERE nik = '{nik}'")[0][0]
        s.start_daemons("intake")
        key = s.create_key(f"village:{VILLAGE_A}")
        before = (datetime.date.fromisoformat(born) - datetime.timedelta(days=1)).isoformat()
        r = self.post_event(key, nik, {"kind": "death", "date": before})
        self.assertEqual(r.status, 201, r)
        self.assertEqual([(e["result"], e["code"]) for e in r.body["events"]],
                         [("refused", "before_birth")])
        self.assertIn(born, r.body["events"][0]["message"])
        self.assertEqual(self.enrolment(eid), ("active", None, None))
        self.assertEqual(self.sql(f"SELECT deceased_on FROM participants WHERE nik = '{nik}'"),
                         [(None,)])
        self.assertEqual(self.sql("SELECT count(*) FROM claims"), [("0",)])
        # the day of birth itself is a possible date
        r = self.post_event(key, nik, {"kind": "death", "date": born})
        self.assertEqual([(e["result"], e["code"]) for e in r.body["events"]],
                         [("applied", "ended")], r)

    def test_participant_read_shows_events_of_the_scope(self) -> None:
        s = self.stack
        nxt = month_add(THIS_MONTH, 1)
        (later, dead), = self.enrol(ADD, VILLAGE_A, 1, start=nxt)
        (_, mover), = self.enrol(ADD, VILLAGE_A, 1)
        s.start_daemons("intake")
        regency = s.create_key("regency:16.12")
        village_a = s.create_key(f"village:{VILLAGE_A}")
        village_b = s.create_key(f"village:{VILLAGE_B}")
        admin = s.create_key("admin")
        today = jakarta_today().isoformat()
        # a death that only cancels the enrolment accepted from next month:
        # the event applied to no enrolment that covers it
        r = self.post_event(regency, dead, {"kind": "death", "date": today,
                                            "reference": "AKTA-1"})
        self.assertEqual(r.status, 201, r)
        death = r.body["events"][0]
        self.assertEqual((death["result"], death["enrolment_id"]), ("applied", None), r)
        self.assertEqual(self.sql(f"SELECT cancelled_ids::text FROM participant_events "
                                  f"WHERE id = {death['event_id']}"), [(f"{{{later}}}",)])
        # a refused event (the person is dead already), sent by the village
        r = self.post_event(village_a, dead, {"kind": "left", "date": today, "reason": "x"})
        self.assertEqual((r.status, r.body["events"][0]["result"]), (201, "refused"), r)
        refused = r.body["events"][0]
        self.assertEqual(event_ids(self.read(village_a, dead)),
                         [death["event_id"], refused["event_id"]])
        self.assertEqual(event_ids(self.read(regency, dead)), [death["event_id"]])
        self.assertEqual(event_ids(self.read(admin, dead)),
                         [death["event_id"], refused["event_id"]])
        # a move to village B: B's key sees it with the enrolment it continues in
        r = self.post_event(regency, mover, {"kind": "moved", "date": today,
                                             "to_village": VILLAGE_B})
        self.assertEqual(r.status, 201, r)
        moved = r.body["events"][0]
        self.assertIsNotNone(moved["new_enrolment_id"], r)
        for key in (village_a, village_b, regency, admin):
            self.assertEqual(event_ids(self.read(key, mover)), [moved["event_id"]])
        # a key of neither village: the person is unknown to it
        other = s.create_key(f"village:{MURA_VILLAGE}")
        self.assertEqual(s.api("GET", f"/v1/participants/{dead}", other).status, 404)


if __name__ == "__main__":
    unittest.main(verbosity=2)
