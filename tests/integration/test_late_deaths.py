"""Life events at their edges (issue 14; faults a tenth-session review found
and reproduced, fixed by 036_late_deaths_and_corrections.sql), against a
real PostgreSQL, the real daemons and HTTP:

- a death reported late, after a departure, a move, the programme's end or a
  lapse, ends the cover with the month of death and opens the JKM claim; its
  correction restores exactly the end it overwrote (never someone who left);
- a death needs the key's scope over every enrolment it changes, and a move
  leaves enrolments outside the key's scope alone;
- a JKM claim reopened by a later death takes the benefit of that month;
- a BPJS refusal repeated in a later answer file changes nothing.

Helpers come from test_events.py, test_claims.py and test_bpjs.py.
"""
import json
import os
import tempfile
import unittest

import harness
import test_bpjs as tb
import test_claims as tc
import test_events as te

VILLAGE_A, VILLAGE_B, MURA_VILLAGE = te.VILLAGE_A, te.VILLAGE_B, te.MURA_VILLAGE
ADD, CSR, FULL = te.ADD, te.CSR, te.FULL
THIS_MONTH, month_add, jakarta_today = te.THIS_MONTH, te.month_add, te.jakarta_today
GIANYAR, GIANYAR_A = tc.GIANYAR, tc.GIANYAR_A


class Base(harness.LindungTestCase):
    def setUp(self):
        super().setUp()
        self.stack.migrate()
        self.stack.import_programs()
        self.base = 0

    sql = te.EventsTest.sql
    enrol = te.EventsTest.enrol
    run_month = te.EventsTest.run_month
    net = te.EventsTest.net
    documents = te.EventsTest.documents
    enrolment = te.EventsTest.enrolment
    post_event = te.EventsTest.post_event
    post_batch = te.EventsTest.post_batch
    submit_again = te.EventsTest.submit_again

    def key_id(self, name):
        return self.sql(f"SELECT id FROM api_keys WHERE name = '{name}'")[0][0]

    def store(self, key_id, idem, events, split=2):
        """035's first step alone, as a kill of intake between store and apply
        leaves a batch: stored, pending."""
        stored = [dict(e, idx=i) for i, e in enumerate(events)]
        return self.sql("SELECT outcome, parts FROM participant_events_store(gen_random_uuid(), "
                        f"'{key_id}', '{idem}', 'print', NULL, 'admin', NULL, "
                        f"'{json.dumps(stored)}'::jsonb, {split})")

    def show(self, label, value):
        """What a step left, in the output when a test fails (or LINDUNG_TEST_LOGS=1)."""
        if os.environ.get("LINDUNG_TEST_LOGS") == "1":
            print(f"  [{self._testMethodName}] {label}: {value}", flush=True)


class Correction(Base):
    def test_left_then_late_death_corrected(self):
        s = self.stack
        m2, m1 = month_add(THIS_MONTH, -2), month_add(THIS_MONTH, -1)
        (e1, n1), = self.enrol(ADD, VILLAGE_A, 1, start=m2)
        s.start_daemons("intake")
        key = s.create_key("regency:16.12")
        today = jakarta_today().isoformat()
        r = self.post_event(key, n1, {"kind": "left", "date": today, "reason": "PPU now"})
        self.assertEqual(r.body["events"][0]["code"], "ended", r.body)
        before = self.enrolment(e1)
        self.show("after left", before)
        r = self.post_event(key, n1, {"kind": "death", "date": f"{m1}-10"})
        ev = r.body["events"][0]
        self.show("late death", (ev["result"], ev["code"], self.enrolment(e1)))
        out = s.lindungctl("event", "correct", str(ev["event_id"]), "--reason", "namesake",
                           check=False)
        self.show("correct", (out.returncode, out.stdout.strip(), out.stderr.strip()))
        after = self.enrolment(e1)
        self.show("after correction", after)
        self.assertEqual(after, before, "the correction should restore the 'left' end")

    def test_moved_elsewhere_then_late_death_corrected(self):
        s = self.stack
        m2, m1 = month_add(THIS_MONTH, -2), month_add(THIS_MONTH, -1)
        (e1, n1), = self.enrol(ADD, VILLAGE_A, 1, start=m2)
        s.start_daemons("intake")
        key = s.create_key("admin")
        today = jakarta_today().isoformat()
        r = self.post_event(key, n1, {"kind": "moved", "date": today,
                                      "to_village": MURA_VILLAGE})
        self.assertEqual(r.body["events"][0]["code"], "ended", r.body)
        before = self.enrolment(e1)
        self.show("after move to another regency", before)
        r = self.post_event(key, n1, {"kind": "death", "date": f"{m1}-10"})
        ev = r.body["events"][0]
        out = s.lindungctl("event", "correct", str(ev["event_id"]), "--reason", "namesake",
                           check=False)
        self.show("correct", (out.returncode, out.stdout.strip(), out.stderr.strip()))
        after = self.enrolment(e1)
        self.show("after correction", after)
        self.assertEqual(after, before, "the correction should restore the 'moved' end")

    def test_left_then_late_death_corrected_rebills_months_after_departure(self):
        s = self.stack
        m3, m2, m1 = (month_add(THIS_MONTH, k) for k in (-3, -2, -1))
        months = [m3, m2, m1, THIS_MONTH]
        (e1, n1), = self.enrol(ADD, VILLAGE_A, 1, start=m3)
        s.start_daemons("billing", "intake")
        for m in months:
            self.run_month(m)
        key = s.create_key("regency:16.12")
        self.post_event(key, n1, {"kind": "left", "date": f"{m2}-15", "reason": "PPU"})
        for m in months:
            self.run_month(m)
        after_left = [self.net(e1, m) for m in months]
        self.show("net per month after 'left' in " + m2, after_left)
        ev = self.post_event(key, n1, {"kind": "death", "date": f"{m3}-10"}).body["events"][0]
        for m in months:
            self.run_month(m)
        self.show("net after the (erroneous) death in " + m3, [self.net(e1, m) for m in months])
        s.lindungctl("event", "correct", str(ev["event_id"]), "--reason", "namesake")
        for m in months:
            self.run_month(m)
        after = [self.net(e1, m) for m in months]
        self.show("net after the correction", after)
        self.show("enrolment", self.enrolment(e1))
        self.assertEqual(after, after_left)


class Scope(Base):
    def test_village_ends_other_regency_enrolment(self):
        s = self.stack
        m3, m2, m1 = (month_add(THIS_MONTH, k) for k in (-3, -2, -1))
        (old, nik), = self.enrol(ADD, VILLAGE_A, 1, start=m3)
        # the person left village A (ended m2) and is now enrolled in Musi Rawas
        self.sql(f"UPDATE enrolments SET status = 'ended', end_month = '{m2}-01', "
                 f"end_reason = 'left', ended_at = now() WHERE id = {old}")
        mura = self.sql(
            f"INSERT INTO enrolments (nik, program_id, village_code, funding_source, "
            f"payer_code, declared_income, transport, start_month, end_month, "
            f"previous_enrolment_id) "
            f"SELECT '{nik}', p.id, '{MURA_VILLAGE}', p.funding_source, "
            f"program_payer(p.id, '{MURA_VILLAGE}'), 1000000, false, '{THIS_MONTH}-01', "
            f"p.coverage_end, {old} FROM programs p WHERE p.code = 'MURA-2026-CSR' "
            f"RETURNING id")[0][0]
        s.start_daemons("intake")
        village = s.create_key(f"village:{VILLAGE_A}")
        gap = self.post_event(village, nik, {"kind": "death", "date": f"{m1}-10"})
        self.show("death dated in the gap month (033 case)", gap.status)
        r = self.post_event(village, nik, {"kind": "death", "date": f"{m3}-10"})
        self.show("death dated in the old enrolment's month", (r.status, r.body))
        rows = self.sql(f"SELECT id, village_code, status, end_reason, "
                        f"to_char(end_month,'YYYY-MM'), "
                        f"isempty(enrolment_months(start_month, end_month)) "
                        f"FROM enrolments WHERE nik = '{nik}' ORDER BY id")
        self.show("enrolments", rows)
        self.assertEqual(self.sql(f"SELECT status FROM enrolments WHERE id = {mura}"),
                         [("active",)], "village A ended the Musi Rawas enrolment")

    def test_move_report_cancels_the_new_regencys_enrolment(self):
        """The everyday variant: the person moves from PALI (programme ends
        2026-12) to Musi Rawas, which enrols them from 2027-01 (allowed: no
        overlap). Village A then reports the move, as lifecycle.md asks: the
        Musi Rawas enrolment, outside village A's scope, is cancelled."""
        s = self.stack
        (old, nik), = self.enrol("PALI-2026-ADD", VILLAGE_A, 1, start=month_add(THIS_MONTH, -2))
        nxt = month_add(THIS_MONTH, 1)
        mura = self.sql(
            f"INSERT INTO enrolments (nik, program_id, village_code, funding_source, "
            f"payer_code, declared_income, transport, start_month, end_month, "
            f"previous_enrolment_id) "
            f"SELECT '{nik}', p.id, '{MURA_VILLAGE}', p.funding_source, "
            f"program_payer(p.id, '{MURA_VILLAGE}'), 1000000, false, '{nxt}-01', "
            f"p.coverage_end, {old} FROM programs p WHERE p.code = 'MURA-2026-CSR' "
            f"RETURNING id")[0][0]
        s.start_daemons("intake")
        village = s.create_key(f"village:{VILLAGE_A}")
        mura_key = s.create_key("regency:16.05")
        self.show("Musi Rawas reads the person before", s.api("GET", f"/v1/participants/{nik}", mura_key).status)
        r = self.post_event(village, nik, {"kind": "moved", "date": jakarta_today().isoformat(),
                                           "to_village": MURA_VILLAGE})
        self.show("village A reports the move", (r.status, r.body["events"][0]["message"]))
        self.show("enrolments", self.sql(f"SELECT id, village_code, status, end_reason, "
                                         f"to_char(start_month,'YYYY-MM'), to_char(end_month,'YYYY-MM') "
                                         f"FROM enrolments WHERE nik = '{nik}' ORDER BY id"))
        self.assertEqual(self.sql(f"SELECT status FROM enrolments WHERE id = {mura}"),
                         [("active",)], "village A cancelled the Musi Rawas enrolment")


class Claims(Base):
    def enrol_gianyar(self, n=1, base=5104010101800001):
        rows = self.sql(tc.ENROL_SQL.format(program=GIANYAR, village=GIANYAR_A, n=n,
                                            nik_base=base))
        return [(int(i), nik) for i, nik in rows]

    def test_late_death_after_programme_end_opens_no_jkm_claim(self):
        """F4: Gianyar 2024 (ends 2024-12). A participant died 2024-11-10; the
        death is reported in 2026 (a register kept in arrears), after billing
        ended the programme's enrolments (program_ended)."""
        s = self.stack
        (e, nik), (e2, nik2) = self.enrol_gianyar(2)
        # what billing's run does once a programme's last month is past
        # (services/billing/accrual.c SQL_PROGRAMS_ENDED) and a lapse (accrual.c)
        self.sql(f"UPDATE enrolments SET status = 'ended', end_reason = 'program_ended', "
                 f"ended_at = now() WHERE id = {e}")
        self.sql(f"UPDATE enrolments SET status = 'ended', end_reason = 'lapsed', "
                 f"ended_at = now() WHERE id = {e2}")
        s.start_daemons("intake")
        key = s.create_key("regency:51.04")
        for enr, n in ((e, nik), (e2, nik2)):
            r = self.post_event(key, n, {"kind": "death", "date": "2024-11-10",
                                         "reference": "AKTA-5104-2024-0001"})
            ev = r.body["events"][0]
            self.show(f"death event enrolment {enr}", (r.status, ev["result"], ev["code"],
                                                       ev["message"]))
            self.show("enrolment after", self.enrolment(enr))
            self.show("claims", self.sql(f"SELECT kind, status, amount_claimed, event_date "
                                         f"FROM claims WHERE nik = '{n}'"))
            self.show("GET participant deceased_on",
                      s.api("GET", f"/v1/participants/{n}", key).body.get("deceased_on"))
        claims = self.sql(f"SELECT enrolment_id, amount_claimed FROM claims "
                          f"WHERE kind = 'JKM' ORDER BY enrolment_id")
        self.assertEqual(claims, [(str(e), "42000000"), (str(e2), "42000000")])

    def test_reopened_claim_keeps_the_old_benefit(self):
        """F5: the JKM benefit changes from a month on (a row in claim_benefits,
        lifecycle.md "deaths from that month are claimed at the new amount").
        A death recorded in error, corrected, then the real death in the new
        benefit's month reopens the claim at the old amount."""
        s = self.stack
        m3, m2, m1 = (month_add(THIS_MONTH, k) for k in (-3, -2, -1))
        self.sql(f"INSERT INTO claim_benefits (kind, effective_month, amount, note) "
                 f"VALUES ('JKM', '{m1}-01', 50000000, 'test: a new PP')")
        (e, nik), (e2, nik2) = self.enrol(ADD, VILLAGE_A, 2, start=m3)
        s.start_daemons("intake")
        key = s.create_key("regency:16.12")
        r = self.post_event(key, nik, {"kind": "death", "date": f"{m2}-05"})
        ev = r.body["events"][0]
        self.show("claim after 1st death", self.sql(
            f"SELECT status, amount_claimed, event_date FROM claims WHERE nik = '{nik}'"))
        s.lindungctl("event", "correct", str(ev["event_id"]), "--reason", "wrong person")
        self.show("after correction", self.sql(
            f"SELECT status, amount_claimed, event_date FROM claims WHERE nik = '{nik}'"))
        r = self.post_event(key, nik, {"kind": "death", "date": f"{m1}-20"})
        got = self.sql(f"SELECT status, amount_claimed, event_date FROM claims WHERE nik = '{nik}'")
        self.show("claim after the real death", got)
        # the control: a first death in the same month gets the new amount
        self.post_event(key, nik2, {"kind": "death", "date": f"{m1}-20"})
        ctl = self.sql(f"SELECT status, amount_claimed, event_date FROM claims WHERE nik = '{nik2}'")
        self.show("control (first death same month)", ctl)
        self.assertEqual(got, [("reported", "50000000", f"{m1}-20")])


class Pending(Base):
    def test_a_death_not_yet_applied_cannot_be_corrected(self):
        """A correction of a death stored and not yet applied (intake killed
        between the steps) is refused, changing nothing; intake then applies
        the death, which can be corrected as any other."""
        s = self.stack
        (eid, nik), = self.enrol(ADD, VILLAGE_A, 1, start=month_add(THIS_MONTH, -1))
        s.create_key("admin", name="k1")
        today = jakarta_today().isoformat()
        self.assertEqual(self.store(self.key_id("k1"), "idem-1",
                                    [{"kind": "death", "nik": nik, "date": today}], split=1000),
                         [("stored", "1")])
        evid = self.sql(f"SELECT id FROM participant_events WHERE nik = '{nik}'")[0][0]
        r = s.lindungctl("event", "correct", evid, "--reason", "reported in error", check=False)
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertIn("not applied yet", r.stdout + r.stderr)
        self.assertEqual(self.sql(f"SELECT corrected_at IS NULL FROM participant_events "
                                  f"WHERE id = {evid}"), [("t",)])
        s.start_daemons("intake")
        harness.wait_until(lambda: self.sql("SELECT pending_parts FROM event_batches")[0][0]
                           == "0", timeout=30)
        self.assertEqual(self.enrolment(eid)[0], "ended")
        self.assertEqual(self.sql(f"SELECT deceased_on IS NOT NULL FROM participants "
                                  f"WHERE nik = '{nik}'"), [("t",)])
        s.lindungctl("event", "correct", evid, "--reason", "reported in error")
        self.assertEqual(self.enrolment(eid)[0], "active")
        self.assertEqual(self.sql(f"SELECT status FROM claims WHERE nik = '{nik}'"),
                         [("withdrawn",)])


class RestoredEnd(Base):
    def test_putting_an_end_back_never_covers_a_dead_person_again(self):
        """A programme's end imported too early ends P (program_ended); P's
        death is then reported in the month after that end (recorded: no
        enrolment covers it); the end is put back. P stays ended."""
        s = self.stack
        first, early = month_add(THIS_MONTH, -3), month_add(THIS_MONTH, -2)
        prog = {"code": "REV-YEAR-ADD", "name": "a budget year", "regency_code": "16.12",
                "funding_source": "ADD", "coverage_start": first, "coverage_end": THIS_MONTH,
                "occupations": ["informal"]}
        path = s.dir / "year.json"

        def import_end(end):
            prog["coverage_end"] = end
            path.write_text(json.dumps({"programs": [prog]}))
            return s.lindungctl("program", "import", str(path)).stdout

        import_end(THIS_MONTH)
        (eid, nik), = self.enrol("REV-YEAR-ADD", VILLAGE_A, 1, start=first)
        s.start_daemons("billing", "intake")
        import_end(early)
        self.run_month(THIS_MONTH)
        self.assertEqual(self.enrolment(eid)[2], "program_ended")
        key = s.create_key("admin")
        r = s.api("POST", f"/v1/participants/{nik}/events", key,
                  json={"kind": "death", "date": f"{month_add(THIS_MONTH, -1)}-10"})
        self.assertEqual(r.body["events"][0]["code"], "recorded", r.body)
        out = import_end(THIS_MONTH)
        self.assertIn("0 active again, 1 left ended", out)
        self.assertEqual(self.enrolment(eid)[0], "ended")
        self.run_month(THIS_MONTH)
        self.assertEqual(self.net(eid, THIS_MONTH), 0)

class StaleEnd(Base):
    def test_a_corrected_death_follows_the_programme_end_put_back(self):
        """P and Q end with a programme end imported too early; a death of P is
        reported in error; the end is put back (Q active again, P not: it is
        ended by the death); the death is corrected. P is then as Q."""
        s = self.stack
        first, early = month_add(THIS_MONTH, -3), month_add(THIS_MONTH, -2)
        prog = {"code": "REV-YEAR-ADD", "name": "a budget year", "regency_code": "16.12",
                "funding_source": "ADD", "coverage_start": first, "coverage_end": THIS_MONTH,
                "occupations": ["informal"]}
        path = s.dir / "year.json"

        def import_end(end):
            prog["coverage_end"] = end
            path.write_text(json.dumps({"programs": [prog]}))
            return s.lindungctl("program", "import", str(path)).stdout

        import_end(THIS_MONTH)
        (p, nik), (q, _) = self.enrol("REV-YEAR-ADD", VILLAGE_A, 2, start=first)
        s.start_daemons("billing", "intake")
        import_end(early)
        self.run_month(THIS_MONTH)
        key = s.create_key("admin")
        r = s.api("POST", f"/v1/participants/{nik}/events", key,
                  json={"kind": "death", "date": f"{first}-10"})
        ev = r.body["events"][0]
        import_end(THIS_MONTH)
        s.lindungctl("event", "correct", str(ev["event_id"]), "--reason", "namesake")
        self.run_month(THIS_MONTH)
        self.assertEqual(self.enrolment(p), self.enrolment(q))
        self.assertEqual(self.enrolment(p)[0], "active")


class BpjsReplay(Base):
    def test_old_refusal_repeated_refuses_the_resubmission(self):
        s = self.stack
        d = tempfile.mkdtemp(dir=s.dir)
        (a, nik), = [(int(i), n) for i, n in self.sql(tb.ENROL_SQL.format(
            program=ADD, village=VILLAGE_A, n=1, nik_base=1612014101800001, start="2026-10"))]
        ans1 = os.path.join(d, "jawaban-1.csv")
        open(ans1, "w").write("nik,kpj,status,reason,effective_month\n"
                              f"{nik},,refused,NIK tidak padan dengan Dukcapil,\n")
        out = s.lindungctl("bpjs", "import", ans1, check=False)
        self.show("first import", out.stdout.strip())
        # the village corrects the data and submits again: a new enrolment from 2026-12
        s.start_daemons("verify", "intake")
        key = s.create_key("admin")
        r = s.api("POST", "/v1/submissions", key, json={
            "program_code": ADD, "village_code": VILLAGE_A,
            "applicants": [{"nik": nik, "name": "Peserta Dibetulkan", "birth_date": "1980-01-01",
                            "sex": "F", "occupation": "PETANI/PEKEBUN"}]})
        sid = r.body["submission_id"]
        harness.wait_until(lambda: s.api("GET", f"/v1/submissions/{sid}", key)
                           .body["status"] == "verified", timeout=30)
        self.show("resubmission", s.api("GET", f"/v1/submissions/{sid}", key).body["applicants"][0]["decision"])
        before = self.sql(f"SELECT id, status, bpjs_status, end_reason FROM enrolments "
                          f"WHERE nik = '{nik}' ORDER BY id")
        self.show("before 2nd file", before)
        # BPJS's next, cumulative file repeats the old answer beside a new one
        ans2 = os.path.join(d, "jawaban-2.csv")
        open(ans2, "w").write("nik,kpj,status,reason,effective_month\n"
                              f"{nik},,refused,NIK tidak padan dengan Dukcapil,\n")
        with open(ans2, "a") as f:
            f.write("\n")  # another file (different bytes), same row
        out = s.lindungctl("bpjs", "import", ans2, check=False)
        self.show("second import", out.stdout.strip())
        after = self.sql(f"SELECT id, status, bpjs_status, end_reason FROM enrolments "
                         f"WHERE nik = '{nik}' ORDER BY id")
        self.show("after 2nd file", after)
        self.assertIn("1 already applied", out.stdout)
        self.assertEqual(after, before)

    def test_old_refusal_repeated_after_registration_is_not_matched(self):
        s = self.stack
        d = tempfile.mkdtemp(dir=s.dir)
        (a, nik), = [(int(i), n) for i, n in self.sql(tb.ENROL_SQL.format(
            program=ADD, village=VILLAGE_A, n=1, nik_base=1612014101800001, start="2026-10"))]
        refusal = ("nik,kpj,status,reason,effective_month\n"
                   f"{nik},,refused,NIK tidak padan dengan Dukcapil,\n")
        f1 = os.path.join(d, "j1.csv"); open(f1, "w").write(refusal)
        s.lindungctl("bpjs", "import", f1, check=False)
        s.start_daemons("verify", "intake")
        key = s.create_key("admin")
        r = s.api("POST", "/v1/submissions", key, json={
            "program_code": ADD, "village_code": VILLAGE_A,
            "applicants": [{"nik": nik, "name": "Peserta Dibetulkan", "birth_date": "1980-01-01",
                            "sex": "F", "occupation": "PETANI/PEKEBUN"}]})
        sid = r.body["submission_id"]
        harness.wait_until(lambda: s.api("GET", f"/v1/submissions/{sid}", key)
                           .body["status"] == "verified", timeout=30)
        f2 = os.path.join(d, "j2.csv")
        open(f2, "w").write("nik,kpj,status,reason,effective_month\n"
                            f"{nik},KPJ5551234,registered,,2026-12\n")
        s.lindungctl("bpjs", "import", f2, check=False)
        f3 = os.path.join(d, "j3.csv"); open(f3, "w").write(refusal + "\n")
        out = s.lindungctl("bpjs", "import", f3, check=False)
        self.show("old refusal again", (out.returncode, out.stdout.strip()))
        self.assertEqual(out.returncode, 0)
        self.assertIn("1 already applied", out.stdout)


    def test_a_refusal_of_what_was_exported_again_is_applied(self):
        """Refused once; the village enrols the person again; the new
        enrolment is exported; BPJS refuses it too, with the same reason:
        that refusal is applied (the new enrolment ends bpjs_refused)."""
        s = self.stack
        d = tempfile.mkdtemp(dir=s.dir)
        (a, nik), = [(int(i), n) for i, n in self.sql(tb.ENROL_SQL.format(
            program=ADD, village=VILLAGE_A, n=1, nik_base=1612014101800001, start=THIS_MONTH))]
        s.lindungctl("bpjs", "export", "--format", "csv", "--out", os.path.join(d, "e1.csv"))
        refusal = ("nik,kpj,status,reason,effective_month\n"
                   f"{nik},,refused,NIK tidak padan dengan Dukcapil,\n")
        f1 = os.path.join(d, "j1.csv")
        open(f1, "w").write(refusal)
        s.lindungctl("bpjs", "import", f1)
        s.start_daemons("verify", "intake")
        key = s.create_key("admin")
        r = s.api("POST", "/v1/submissions", key, json={
            "program_code": ADD, "village_code": VILLAGE_A,
            "applicants": [{"nik": nik, "name": "Peserta Dibetulkan", "birth_date": "1980-01-01",
                            "sex": "F", "occupation": "PETANI/PEKEBUN"}]})
        sid = r.body["submission_id"]
        harness.wait_until(lambda: s.api("GET", f"/v1/submissions/{sid}", key)
                           .body["status"] == "verified", timeout=30)
        s.lindungctl("bpjs", "export", "--format", "csv", "--out", os.path.join(d, "e2.csv"))
        f2 = os.path.join(d, "j2.csv")
        open(f2, "w").write(refusal + "\n")  # another file (another hash), the same row
        s.lindungctl("bpjs", "import", f2, check=False)
        after = self.sql(f"SELECT status, bpjs_status, coalesce(end_reason, '') "
                         f"FROM enrolments WHERE nik = '{nik}' ORDER BY id")
        self.assertEqual(after, [("ended", "refused", "bpjs_refused")] * 2)

if __name__ == "__main__":
    unittest.main(verbosity=2)
