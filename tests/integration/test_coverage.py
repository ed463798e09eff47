"""Coverage starts at acceptance, one covered month per person (issue 13),
with the real intake and verify daemons against PostgreSQL.

  - a person accepted now is covered from the current Asia/Jakarta month to
    the programme's last month, never from the programme's start;
  - age limits are judged on that first month;
  - an APBDES programme refuses a kelurahan (NOT_A_DESA) as ADD does;
  - a person ended (moved) this month and listed again by another village
    starts next month: no gap, no overlap;
  - a person covered in one programme is DUPLICATE_ACTIVE in another, with
    where and from when;
  - two verify processes racing submissions of the same NIKs (some of them
    ended this month) leave no NIK with two enrolments covering one month,
    and accept each NIK once;
  - a renewal continues the old programme's participants from the month
    after its last, judged on the new programme's rules (age on the new
    first month), without its submission deadline.

Every expected month is worked out here from the clock (UTC+7) and the
programme files, independently of the code under test. CTest name:
integration_coverage."""

from __future__ import annotations

import datetime
import json
import threading
import unittest

import harness
import nikgen

JAKARTA = datetime.timezone(datetime.timedelta(hours=7))
PALI_DESA, PALI_DESA_2, PALI_KELURAHAN = "16.12.01.2001", "16.12.01.2002", "16.12.01.1003"
MURA_DESA = ["16.05.01.2002", "16.05.01.2003", "16.05.01.2004", "16.05.01.2005"]

# No NIK has two enrolments that share a month: the check the issue asks
# for, over every enrolment (not only the ones a test made).
OVERLAPS = ("SELECT count(*) FROM enrolments a JOIN enrolments b "
            "ON a.nik = b.nik AND a.id < b.id "
            "WHERE enrolment_months(a.start_month, a.end_month) "
            "   && enrolment_months(b.start_month, b.end_month)")


def this_month() -> datetime.date:
    """Day 1 of the current month in Asia/Jakarta."""
    return datetime.datetime.now(JAKARTA).date().replace(day=1)


def add_months(month: datetime.date, n: int) -> datetime.date:
    i = month.year * 12 + month.month - 1 + n
    return datetime.date(i // 12, i % 12 + 1, 1)


def ym(month: datetime.date | None) -> str | None:
    return month.strftime("%Y-%m") if month else None


def age_on(birth: datetime.date, day: datetime.date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def person(serial: int, birth: datetime.date, district: str = "161201",
           female: bool = False, occupation: str = "PETANI/PEKEBUN") -> dict:
    return {"nik": nikgen.make(district, birth, female, serial),
            "name": f"Peserta {serial}", "birth_date": birth.isoformat(),
            "sex": "F" if female else "M", "occupation": occupation}


def years_before(day: datetime.date, years: int) -> datetime.date:
    return day.replace(year=day.year - years)  # never 29 February: day is 1 or 2


class Coverage(harness.LindungTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.month = this_month()
        self.seed = {p["code"]: p for p in json.loads(
            (harness.SOURCE_DIR / "db/seed/programs.json").read_text())["programs"]}

    # -- helpers

    def start(self, programmes: list[dict] | None = None) -> str:
        """Migrate, load the demo programmes (and `programmes`), start intake and
        verify; return an admin key."""
        s = self.stack
        s.migrate()
        s.import_programs()
        if programmes:
            self.import_file(programmes)
        key = s.create_key("admin")
        s.start_daemons("intake", "verify")
        return key

    def import_file(self, programmes: list[dict]) -> str:
        path = self.stack.dir / "coverage-programs.json"
        path.write_text(json.dumps({"programs": programmes}))
        return self.stack.lindungctl("program", "import", str(path)).stdout

    def submit(self, key: str, program: str, village: str, applicants: list[dict]) -> str:
        r = self.stack.api("POST", "/v1/submissions", key=key, json={
            "program_code": program, "village_code": village, "applicants": applicants})
        self.assertEqual(r.status, 202, r.body)
        return r.body["submission_id"]

    def wait_verified(self, where: str = "true") -> None:
        c = self.stack.cluster
        harness.wait_until(lambda: c.scalar(
            f"SELECT count(*) FROM submissions WHERE status <> 'verified' AND ({where})")
            == "0", timeout=60, interval=0.1, message=f"submissions verified ({where})")

    def decided(self, sid: str) -> list[dict]:
        """Each applicant of a submission, in list order: decision, reason codes
        and messages, warning codes."""
        self.wait_verified(f"id = '{sid}'")
        rows = self.stack.cluster.psql(
            "SELECT nik, decision, reasons::text, warnings::text FROM applicants "
            f"WHERE submission_id = '{sid}' ORDER BY idx")
        return [{"nik": r[0], "decision": r[1],
                 "codes": [x["code"] for x in json.loads(r[2])],
                 "messages": [x["message"] for x in json.loads(r[2])],
                 "warnings": [x["code"] for x in json.loads(r[3])]} for r in rows]

    def enrolments(self, nik: str) -> list[tuple]:
        """(programme, village, first month, last month, status) of a NIK."""
        return self.stack.cluster.psql(
            "SELECT p.code, e.village_code, to_char(e.start_month, 'YYYY-MM'), "
            "to_char(e.end_month, 'YYYY-MM'), e.status FROM enrolments e "
            f"JOIN programs p ON p.id = e.program_id WHERE e.nik = '{nik}' ORDER BY e.id")

    def current_add(self) -> tuple[str, datetime.date | None, list[dict]]:
        """The demo PALI ADD programme covering this month and begun before it
        (PALI-2026-ADD in 2026). In a year the demo data does not cover, a
        copy of it for this year, so the test keeps testing the rule."""
        for p in self.seed.values():
            start = datetime.date.fromisoformat(p["coverage_start"] + "-01")
            end = (datetime.date.fromisoformat(p["coverage_end"] + "-01")
                   if p.get("coverage_end") else None)
            if (p["regency_code"] == "16.12" and p["funding_source"] == "ADD"
                    and start < self.month and (end is None or self.month <= end)):
                return p["code"], end, []
        end = add_months(self.month, 6)
        copy = dict(self.seed["PALI-2026-ADD"], code="TEST-PALI-ADD",
                    coverage_start=ym(add_months(self.month, -6)), coverage_end=ym(end))
        copy.pop("renews", None)
        return copy["code"], end, [copy]

    # -- (a), (b), (c), (e)

    def test_first_month_age_kelurahan_and_duplicates(self) -> None:
        m = self.month
        add_code, add_end, extra = self.current_add()
        apbdes = {"code": "TEST-APBDES", "name": "test: APBDes in PALI",
                  "regency_code": "16.12", "funding_source": "APBDES",
                  "coverage_start": ym(m), "coverage_end": ym(add_months(m, 3)),
                  "max_age": 64, "occupations": ["informal"]}
        key = self.start(extra + [apbdes])
        c = self.stack.cluster

        # (a) accepted now: covered from this month to the programme's last.
        # (b) 65 on day 1 of this month, though 64 on the programme's start:
        #     over the limit; 65 on day 2 of this month: still 64 on day 1.
        ok = person(1, datetime.date(1980, 5, 12))
        turned_65 = person(2, years_before(m, 65))
        turns_65_soon = person(3, years_before(m.replace(day=2), 65))
        start = datetime.date.fromisoformat(
            c.scalar(f"SELECT coverage_start FROM programs WHERE code = '{add_code}'"))
        self.assertEqual(age_on(datetime.date.fromisoformat(turned_65["birth_date"]), start),
                         64, "the case needs someone 64 when the programme began")
        self.assertEqual(age_on(datetime.date.fromisoformat(turned_65["birth_date"]), m), 65)
        self.assertEqual(age_on(datetime.date.fromisoformat(turns_65_soon["birth_date"]), m),
                         64)
        got = self.decided(self.submit(key, add_code, PALI_DESA,
                                       [ok, turned_65, turns_65_soon]))
        self.assertEqual([(g["decision"], g["codes"]) for g in got],
                         [("accepted", []), ("rejected", ["AGE_OVER_LIMIT"]),
                          ("accepted", [])], got)
        self.assertEqual(got[1]["messages"],
                         [f"aged 65 in its first covered month {ym(m)}; the limit is 64"])
        for p in (ok, turns_65_soon):
            self.assertEqual(self.enrolments(p["nik"]),
                             [(add_code, PALI_DESA, ym(m), ym(add_end), "active")])
        self.assertEqual(self.enrolments(turned_65["nik"]), [])

        # (c) APBDES and a kelurahan: NOT_A_DESA naming the source; a desa is fine.
        got = self.decided(self.submit(key, "TEST-APBDES", PALI_KELURAHAN,
                                       [person(4, datetime.date(1985, 1, 1))]))
        self.assertEqual(got[0]["codes"], ["NOT_A_DESA"], got)
        self.assertIn("APBDes", got[0]["messages"][0])
        got = self.decided(self.submit(key, "TEST-APBDES", PALI_DESA_2,
                                       [person(5, datetime.date(1985, 1, 1))]))
        self.assertEqual(got[0]["decision"], "accepted", got)

        # (e) covered in PALI's ADD programme, listed for the CSR programme of
        # Musi Rawas: DUPLICATE_ACTIVE, saying where and from when.
        got = self.decided(self.submit(key, "MURA-2026-CSR", MURA_DESA[0], [ok]))
        self.assertEqual(got[0]["codes"], ["DUPLICATE_ACTIVE"], got)
        months = ym(m) + (f" to {ym(add_end)}" if add_end else "")
        self.assertEqual(got[0]["messages"], [f"already covered from {months} in programme "
                                              f"{add_code}, village {PALI_DESA}"])
        self.assertEqual(len(self.enrolments(ok["nik"])), 1)
        self.assertEqual(c.scalar(OVERLAPS), "0")

    # -- (d)

    def test_moved_and_listed_again_starts_next_month(self) -> None:
        m, nxt = self.month, add_months(self.month, 1)
        ends_now = {"code": "TEST-ENDS-NOW", "name": "test: ADD ending this month",
                    "regency_code": "16.05", "funding_source": "ADD",
                    "coverage_start": ym(add_months(m, -2)), "coverage_end": ym(m),
                    "max_age": 64, "occupations": ["informal"]}
        key = self.start([ends_now])
        c = self.stack.cluster
        mover = person(11, datetime.date(1979, 3, 4), district="160501")
        got = self.decided(self.submit(key, "MURA-2026-CSR", MURA_DESA[0], [mover]))
        self.assertEqual(got[0]["decision"], "accepted", got)
        self.stack.lindungctl("enrolment", "end", mover["nik"], "--month", ym(m),
                              "--reason", "moved")

        # Another village lists the person this month: covered from next month,
        # open-ended like the programme; the old enrolment keeps this month.
        got = self.decided(self.submit(key, "MURA-2026-CSR", MURA_DESA[1], [mover]))
        self.assertEqual((got[0]["decision"], got[0]["codes"]), ("accepted", []), got)
        self.assertEqual(self.enrolments(mover["nik"]), [
            ("MURA-2026-CSR", MURA_DESA[0], ym(m), ym(m), "ended"),
            ("MURA-2026-CSR", MURA_DESA[1], ym(nxt), None, "active")])

        # A third village now: every month from this one on is covered.
        got = self.decided(self.submit(key, "MURA-2026-CSR", MURA_DESA[2], [mover]))
        self.assertEqual(got[0]["codes"], ["DUPLICATE_ACTIVE"], got)
        self.assertEqual(got[0]["messages"], [f"already covered from {ym(nxt)} in programme "
                                              f"MURA-2026-CSR, village {MURA_DESA[1]}"])

        # 64 on day 1 of this month, 65 on day 1 of the next: accepted now,
        # moved, and listed again, they are judged on next month, their new
        # first month, and nothing of the refused enrolment is kept.
        older = person(13, years_before(nxt, 65), district="160501")
        got = self.decided(self.submit(key, "MURA-2026-CSR", MURA_DESA[0], [older]))
        self.assertEqual(got[0]["decision"], "accepted", got)
        self.stack.lindungctl("enrolment", "end", older["nik"], "--month", ym(m),
                              "--reason", "moved")
        got = self.decided(self.submit(key, "MURA-2026-CSR", MURA_DESA[1], [older]))
        self.assertEqual(got[0]["codes"], ["AGE_OVER_LIMIT"], got)
        self.assertEqual(got[0]["messages"],
                         [f"aged 65 in its first covered month {ym(nxt)}; the limit is 64"])
        self.assertEqual(self.enrolments(older["nik"]),
                         [("MURA-2026-CSR", MURA_DESA[0], ym(m), ym(m), "ended")])

        # Ended this month and listed for a programme whose last month is this
        # one: no month is left to cover, so not accepted (and nothing stored).
        other = person(12, datetime.date(1981, 6, 7), district="160501")
        self.decided(self.submit(key, "MURA-2026-CSR", MURA_DESA[0], [other]))
        self.stack.lindungctl("enrolment", "end", other["nik"], "--month", ym(m),
                              "--reason", "moved")
        got = self.decided(self.submit(key, "TEST-ENDS-NOW", MURA_DESA[3], [other]))
        self.assertEqual(got[0]["codes"], ["DUPLICATE_ACTIVE"], got)
        self.assertEqual(got[0]["messages"], [f"already covered from {ym(m)} to {ym(m)} in "
                                              f"programme MURA-2026-CSR, village "
                                              f"{MURA_DESA[0]}"])
        self.assertEqual(len(self.enrolments(other["nik"])), 1)
        self.assertEqual(c.scalar(OVERLAPS), "0")

    # -- (f)

    def test_two_verifiers_race_for_the_same_people(self) -> None:
        m, nxt = self.month, add_months(self.month, 1)
        add_code, add_end, extra = self.current_add()
        s = self.stack
        # One submission per transaction, so the two verifiers' transactions
        # interleave and wait for each other's uncommitted enrolments.
        s.env["LINDUNG_VERIFY_BATCH"] = "1"
        key = self.start(extra)
        env2 = dict(s.env, LINDUNG_VERIFY_PORT=str(harness.free_port()))
        second = harness.Daemon("verify2", harness.BINARIES["verify"], env2,
                                int(env2["LINDUNG_VERIFY_PORT"]), s.dir / "verify2.log")
        s.daemons["verify2"] = second
        c = s.cluster
        people = [person(100 + i, datetime.date(1970 + i % 25, 1 + i % 12, 1 + i % 28),
                         female=i % 2 == 1) for i in range(30)]
        # A third of them were covered in Musi Rawas's CSR programme and
        # moved away this month: they can be covered again from next month.
        movers = people[:10]
        got = self.decided(self.submit(key, "MURA-2026-CSR", MURA_DESA[0], movers))
        self.assertEqual({g["decision"] for g in got}, {"accepted"}, got)
        for p in movers:
            self.stack.lindungctl("enrolment", "end", p["nik"], "--month", ym(m),
                                  "--reason", "moved")

        # Eight more are covered in the CSR programme now and are transferred
        # to another village (from next month) by an operator while the lists
        # below, which name them too, are decided.
        movers_now = [person(200 + i, datetime.date(1975 + i, 2 + i, 3 + i))
                      for i in range(8)]
        got = self.decided(self.submit(key, "MURA-2026-CSR", MURA_DESA[0], movers_now))
        self.assertEqual({g["decision"] for g in got}, {"accepted"}, got)

        # Twelve lists at once, from different villages and programmes, each
        # naming all thirty people in its own order, while both verifiers run.
        second.start()
        targets = [(add_code, PALI_DESA), (add_code, PALI_DESA_2),
                   ("MURA-2026-CSR", MURA_DESA[1]), ("MURA-2026-CSR", MURA_DESA[2])]
        bodies = []
        for n in range(12):
            program, village = targets[n % len(targets)]
            order = people[n % 30:] + people[:n % 30]
            bodies.append({"program_code": program, "village_code": village,
                           "applicants": order if n % 2 else order[::-1]})
        ids, errors = [], []

        def post(body):
            r = self.stack.api("POST", "/v1/submissions", key=key, json=body)
            (ids if r.status == 202 else errors).append(
                r.body["submission_id"] if r.status == 202 else r)

        for n, b in enumerate(bodies):
            b["applicants"] = b["applicants"] + (movers_now if n % 3 == 0 else [])
        transfers = []

        def transfer_all():
            for p in movers_now:
                r = self.stack.lindungctl("enrolment", "transfer", p["nik"], "--village",
                                          MURA_DESA[3], "--month", ym(m), check=False)
                transfers.append((r.returncode, r.stdout + r.stderr))

        threads = [threading.Thread(target=post, args=(b,)) for b in bodies]
        threads.append(threading.Thread(target=transfer_all))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual([rc for rc, _ in transfers], [0] * len(movers_now), transfers)
        self.wait_verified()
        racing = ",".join(f"'{i}'" for i in ids)

        # One query over every enrolment: no NIK covered twice in any month.
        self.assertEqual(c.scalar(OVERLAPS), "0")
        # The transferred people: covered by the transfer alone, from next
        # month in the new village, never by a racing list.
        for p in movers_now:
            self.assertEqual([e[1:] for e in self.enrolments(p["nik"])],
                             [(MURA_DESA[0], ym(m), ym(m), "ended"),
                              (MURA_DESA[3], ym(nxt), None, "active")])
        moved_niks = ",".join(f"'{p['nik']}'" for p in movers_now)
        self.assertEqual(c.scalar(
            f"SELECT count(*) FROM applicants WHERE submission_id IN ({racing}) "
            f"AND nik IN ({moved_niks}) AND decision <> 'rejected'"), "0")
        # Each person accepted exactly once among the racing lists (all are
        # eligible), every other listing rejected as a duplicate only.
        accepted = dict(c.psql(
            "SELECT nik, count(*) FROM applicants WHERE decision = 'accepted' "
            f"AND submission_id IN ({racing}) AND nik NOT IN ({moved_niks}) GROUP BY nik"))
        self.assertEqual(accepted, {p["nik"]: "1" for p in people})
        self.assertEqual(c.psql(
            "SELECT DISTINCT r->>'code' FROM applicants, jsonb_array_elements(reasons) r "
            f"WHERE submission_id IN ({racing})"), [("DUPLICATE_ACTIVE",)])
        self.assertEqual(c.scalar(f"SELECT count(*) FROM applicants WHERE submission_id "
                                  f"IN ({racing}) AND decision = 'pending'"), "0")
        # The movers start next month, the others this month.
        starts = dict(c.psql(
            "SELECT e.nik, to_char(e.start_month, 'YYYY-MM') FROM enrolments e "
            f"JOIN applicants a ON a.id = e.applicant_id WHERE a.submission_id IN ({racing})"))
        self.assertEqual(starts, {p["nik"]: ym(nxt) if p in movers else ym(m)
                                  for p in people})
        shares = [sum(1 for r in d.log_records() if r.get("event") == "submission.verified")
                  for d in (s.verify, second)]
        print(f"racing lists verified by each process: {shares}")
        for d in (s.verify, second):
            self.assertTrue(d.running(), d.name)
            self.assertEqual([r for r in d.log_records()
                              if r.get("level") == "error"
                              or r.get("event") == "submission.retry_later"], [], d.name)

    # -- (g)

    def test_renewal_continues_from_the_month_after(self) -> None:
        m, nxt = self.month, add_months(self.month, 1)
        new_end = add_months(m, 12)
        old = {"code": "TEST-OLD-ADD", "name": "test: ADD ending this month",
               "regency_code": "16.12", "funding_source": "ADD",
               "coverage_start": ym(add_months(m, -3)), "coverage_end": ym(m),
               "max_age": 64, "occupations": ["informal"]}
        # The successor's submission deadline has passed and its policy is to
        # reject: villages are late, renewals are not a village's list.
        new = {"code": "TEST-NEW-ADD", "name": "test: its successor",
               "regency_code": "16.12", "funding_source": "ADD", "renews": "TEST-OLD-ADD",
               "coverage_start": ym(nxt), "coverage_end": ym(new_end),
               "submission_deadline": (m - datetime.timedelta(days=1)).isoformat(),
               "deadline_policy": "reject", "max_age": 64, "occupations": ["informal"]}
        key = self.start([old, new])
        c = self.stack.cluster
        stays = person(21, datetime.date(1975, 2, 3))
        # 64 on day 1 of this month, 65 on day 1 of the next: in the old
        # programme, too old for the new one.
        ages_out = person(22, years_before(nxt, 65))
        elsewhere = person(23, datetime.date(1990, 10, 11), female=True)
        born = datetime.date.fromisoformat(ages_out["birth_date"])
        self.assertEqual((age_on(born, m), age_on(born, nxt)), (64, 65))
        got = self.decided(self.submit(key, "TEST-OLD-ADD", PALI_DESA, [stays, ages_out]))
        got += self.decided(self.submit(key, "TEST-OLD-ADD", PALI_DESA_2, [elsewhere]))
        self.assertEqual([g["decision"] for g in got], ["accepted"] * 3, got)
        old_ids = dict(c.psql("SELECT nik, id FROM enrolments"))

        # Importing the file again queues the old programme's participants.
        out = self.import_file([old, new])
        self.assertIn("3 participants of TEST-OLD-ADD queued for renewal", out)
        self.assertEqual(c.scalar("SELECT count(*) FROM submissions "
                                  "WHERE origin = 'renewal'"), "2")
        self.wait_verified("origin = 'renewal'")
        rows = c.psql("SELECT a.nik, a.decision, a.reasons::text, a.warnings::text "
                      "FROM applicants a JOIN submissions s ON s.id = a.submission_id "
                      "WHERE s.origin = 'renewal' ORDER BY a.nik")
        decided = {r[0]: (r[1], json.loads(r[2]), json.loads(r[3])) for r in rows}
        self.assertEqual(set(decided), {stays["nik"], ages_out["nik"], elsewhere["nik"]})
        for p in (stays, elsewhere):
            self.assertEqual(decided[p["nik"]], ("accepted", [], []), p)
        decision, reasons, _ = decided[ages_out["nik"]]
        self.assertEqual((decision, [r["code"] for r in reasons]),
                         ("rejected", ["AGE_OVER_LIMIT"]))
        self.assertEqual(reasons[0]["message"],
                         f"aged 65 in its first covered month {ym(nxt)}; the limit is 64")

        # Continuity: the old enrolment keeps this month, the new one starts
        # the month after and names the one it continues.
        for p, village in ((stays, PALI_DESA), (elsewhere, PALI_DESA_2)):
            self.assertEqual(self.enrolments(p["nik"]), [
                ("TEST-OLD-ADD", village, ym(m), ym(m), "active"),
                ("TEST-NEW-ADD", village, ym(nxt), ym(new_end), "active")])
            self.assertEqual(c.scalar(
                f"SELECT previous_enrolment_id FROM enrolments WHERE nik = '{p['nik']}' "
                f"AND start_month = '{nxt.isoformat()}'"), old_ids[p["nik"]])
        self.assertEqual(self.enrolments(ages_out["nik"]),
                         [("TEST-OLD-ADD", PALI_DESA, ym(m), ym(m), "active")])
        self.assertEqual(c.scalar(OVERLAPS), "0")

        # A village's own list for the successor is held to its deadline.
        got = self.decided(self.submit(key, "TEST-NEW-ADD", PALI_DESA,
                                       [person(24, datetime.date(1988, 8, 8))]))
        self.assertEqual(got[0]["codes"], ["DEADLINE_PASSED"], got)


if __name__ == "__main__":
    unittest.main(verbosity=2)
