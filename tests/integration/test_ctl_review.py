"""lindungctl faults found in review (L6, L8, L9, M4), each proven fixed
against a real PostgreSQL, billing and intake, on one shared stack:

  - L6: `claims add/step/list/show` and `event list`, text and --json, print
    NIKs masked and NIK-like digits in free text (what happened, a note, an
    event's reference, a correction's reason) masked, unless --unmasked
    (docs/operations.md, "lindungctl for operators");
  - L8: `bpjs export` writes each person once, with the premium of the
    person's own first month, when the file holds several first months;
  - L9: `bpjs import` numbers the lines of a file with CR line ends as an
    editor does, and reads a file that starts with a UTF-8 byte-order mark;
  - M4: a programme's coverage_end imported too early and put back makes
    the enrolments that ended with it active again, billed again for the
    months given back; one whose person is covered elsewhere in those months
    stays ended, and the import says so instead of failing.

Enrolments are made with SQL, as in test_money.py, each test with NIKs of
its own; months are counted from this month (Asia/Jakarta). Expected rupiah
come from the published rates (JKK 1% of Rp 1,000,000 = 10,000; JKM 6,800;
the CSR relief of PP 50/2025 halves both in 2026-04..12).
"""

from __future__ import annotations

import csv
import datetime
import json
import os
import re
import tempfile
import unittest

import harness

VILLAGE_A = "16.12.01.2001"      # Talang Bulang, PALI (desa)
VILLAGE_B = "16.12.01.2002"      # Benuang, PALI (desa)
MURA_VILLAGE = "16.05.01.2002"   # Surodadi, Musi Rawas
ADD = "PALI-TEST-ADD"            # test fixture, no end
CSR = "MURA-2026-CSR"            # no end, CSR: the relief applies
FULL = 10000 + 6800
HALF = 5000 + 3400

FULL_NIK = re.compile(r"(?<![0-9])[0-9]{16}(?![0-9])")

# n people of village from {start}; NIKs {nik_base} + 0..n-1 (valid: a
# district of the village, born 01-01-80); a person already known is kept
ENROL_SQL = """
WITH s AS (
  INSERT INTO submissions (id, program_id, village_code, applicant_count)
  SELECT gen_random_uuid(), p.id, '{village}', {n} FROM programs p WHERE p.code = '{program}'
  RETURNING id, program_id),
a AS (
  INSERT INTO applicants (submission_id, idx, nik, name, birth_date, sex, occupation,
                          decision, monthly_income)
  SELECT s.id, g, ({nik_base}::bigint + g)::text, 'Peserta ' || g, '1980-01-01', 'M',
         'PETANI/PEKEBUN', 'accepted', 1000000
  FROM s, generate_series(0, {n} - 1) g
  RETURNING id, nik),
pa AS (
  INSERT INTO participants (nik, name, birth_date, sex)
  SELECT nik, 'Peserta', '1980-01-01', 'M' FROM a ON CONFLICT DO NOTHING RETURNING nik)
INSERT INTO enrolments (nik, program_id, village_code, applicant_id, funding_source,
                        payer_code, declared_income, transport, start_month, end_month)
SELECT a.nik, s.program_id, '{village}', a.id, p.funding_source,
       program_payer(p.id, '{village}'), 1000000, false, '{start}-01', p.coverage_end
FROM a, s JOIN programs p ON p.id = s.program_id
RETURNING id, nik
"""


def month_add(month: str, n: int) -> str:
    y, m = map(int, month.split("-"))
    k = y * 12 + m - 1 + n
    return f"{k // 12:04d}-{k % 12 + 1:02d}"


def jakarta_today() -> datetime.date:
    return (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=7)).date()


THIS_MONTH = jakarta_today().strftime("%Y-%m")


def csr_premium(month: str) -> int:
    """A CSR participant's premium for a month: halved by PP 50/2025 in
    2026-04..2026-12."""
    return HALF if "2026-04" <= month <= "2026-12" else FULL


class CtlReview(harness.SharedStackTestCase):

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        s = cls.stack
        s.start_postgres()
        s.migrate()
        s.import_programs()
        s.start_daemons("billing", "intake")
        cls.key = s.create_key("regency:16.12")
        cls.dir = tempfile.mkdtemp(prefix="ctl-", dir=s.dir)

    # -- helpers
    def sql(self, q: str) -> list[tuple]:
        return self.stack.cluster.psql(q)

    def enrol(self, program: str, village: str, nik_base: int, n: int = 1,
              start: str = THIS_MONTH) -> list[tuple[int, str]]:
        rows = self.sql(ENROL_SQL.format(program=program, village=village, n=n,
                                         nik_base=nik_base, start=start))
        return [(int(i), nik) for i, nik in rows]

    def ctl(self, *args: str, rc: int = 0) -> str:
        r = self.stack.lindungctl(*args, check=False)
        self.assertEqual(r.returncode, rc, f"lindungctl {args}:\n{r.stdout}{r.stderr}")
        return r.stdout

    def run_month(self, month: str) -> None:
        doc = json.loads(self.ctl("billing", "run", month))
        self.assertTrue(doc["ok"], doc)

    def net(self, enrolment: int, month: str) -> int:
        return int(self.sql(
            f"SELECT coalesce((SELECT amount FROM accruals WHERE enrolment_id = {enrolment} "
            f"AND period = '{month}-01'), 0) + coalesce((SELECT sum(amount) FROM "
            f"line_adjustments WHERE enrolment_id = {enrolment} AND period = '{month}-01'), 0)"
        )[0][0])

    def enrolment(self, eid: int) -> tuple:
        return self.sql(f"SELECT status, coalesce(to_char(end_month, 'YYYY-MM'), ''), "
                        f"coalesce(end_reason, ''), ended_at IS NULL "
                        f"FROM enrolments WHERE id = {eid}")[0]

    def write(self, name: str, data: bytes) -> str:
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def assertMasked(self, out: str, nik: str, what: str) -> None:
        self.assertEqual(FULL_NIK.findall(out), [], f"{what} prints a full NIK:\n{out}")
        self.assertIn(nik[:4] + "******" + nik[-4:], out, what)

    # -- L6: claims and events print NIKs masked
    def test_claims_mask_niks_unless_unmasked(self) -> None:
        m2, m1 = month_add(THIS_MONTH, -2), month_add(THIS_MONTH, -1)
        (_, nik), (_, witness) = self.enrol(ADD, VILLAGE_A, 1612014101804001, n=2, start=m2)
        kind = f"jatuh dari pohon, saksi {witness}"
        out = self.ctl("claims", "add", "--nik", nik, "--date", f"{m1}-02", "--kind", kind,
                       "--amount", "1000000", "--json")
        self.assertMasked(out, nik, "claims add --json")
        doc = json.loads(out)
        self.assertEqual(doc["nik"], nik[:4] + "******" + nik[-4:])
        self.assertEqual(doc["accident_kind"],
                         "jatuh dari pohon, saksi " + witness[:4] + "******" + witness[-4:])
        cid = str(doc["id"])
        out = self.ctl("claims", "step", cid, "--status", "filed", "--date", f"{m1}-03",
                       "--note", f"berkas BPJS atas NIK {nik}")
        self.assertMasked(out, nik, "claims step")
        for args in (("claims", "list"), ("claims", "list", "--json"),
                     ("claims", "show", cid), ("claims", "show", cid, "--json")):
            self.assertMasked(self.ctl(*args), nik, " ".join(args))

        # --unmasked shows what is stored
        doc = json.loads(self.ctl("claims", "show", cid, "--json", "--unmasked"))
        self.assertEqual((doc["nik"], doc["accident_kind"], doc["steps"][-1]["note"]),
                         (nik, kind, f"berkas BPJS atas NIK {nik}"))
        out = self.ctl("claims", "list", "--unmasked")
        self.assertIn(nik, out)
        self.assertIn(witness, out)

    def test_event_list_masks_free_text_unless_unmasked(self) -> None:
        s = self.stack
        m2, m1 = month_add(THIS_MONTH, -2), month_add(THIS_MONTH, -1)
        (_, nik), (_, other) = self.enrol(ADD, VILLAGE_A, 1612014101805001, n=2, start=m2)
        r = s.api("POST", f"/v1/participants/{nik}/events", self.key, json={
            "kind": "death", "date": f"{m1}-09", "reference": f"AKTA {other} salah"})
        self.assertIn(r.status, (200, 201), r.body)
        event = str(r.body["events"][0]["event_id"])
        self.ctl("event", "correct", event, "--reason", f"akta milik {other}")

        out = self.ctl("event", "list", nik)
        self.assertMasked(out, other, "event list")
        self.assertIn(nik[:4] + "******" + nik[-4:], out)
        out = self.ctl("event", "list", nik, "--json")
        self.assertMasked(out, other, "event list --json")
        ev = json.loads(out)["events"][0]
        masked = other[:4] + "******" + other[-4:]
        self.assertEqual((ev["reference"], ev["correction_reason"]),
                         (f"AKTA {masked} salah", f"akta milik {masked}"))

        ev = json.loads(self.ctl("event", "list", nik, "--json", "--unmasked"))["events"][0]
        self.assertEqual((ev["reference"], ev["correction_reason"]),
                         (f"AKTA {other} salah", f"akta milik {other}"))
        out = self.ctl("event", "list", nik, "--unmasked")
        self.assertIn(nik, out)
        self.assertIn(f"akta milik {other}", out)

    # -- L8: bpjs export, one row per person
    def test_bpjs_export_one_row_per_person_with_own_premium(self) -> None:
        nxt = month_add(THIS_MONTH, 1)
        [(now_id, _)] = self.enrol(CSR, MURA_VILLAGE, 1605014101806001, start=THIS_MONTH)
        [(next_id, _)] = self.enrol(CSR, MURA_VILLAGE, 1605014101806101, start=nxt)
        path = os.path.join(self.dir, "registrasi.csv")
        out = self.ctl("bpjs", "export", "--program", CSR, "--format", "csv", "--out", path)
        self.assertIn("2 participants written", out)
        with open(path, newline="") as f:
            rows = [(r["enrolment_id"], r["first_month"], int(r["jkk"]) + int(r["jkm"]),
                     int(r["premium"])) for r in csv.DictReader(f)]
        self.assertEqual(sorted(rows), sorted([
            (str(now_id), THIS_MONTH, csr_premium(THIS_MONTH), csr_premium(THIS_MONTH)),
            (str(next_id), nxt, csr_premium(nxt), csr_premium(nxt))]))

    # -- L9: bpjs import, line numbers of CR files, a byte-order mark
    def test_bpjs_import_cr_line_numbers(self) -> None:
        [(eid, nik)] = self.enrol(ADD, VILLAGE_B, 1612014101807001)
        unknown = "1612014101807999"
        text = ("nik,kpj,status,reason,effective_month\r"
                f"{nik},KPJ22222,registered,,{THIS_MONTH}\r"
                f"{unknown},KPJ77777,registered,,{THIS_MONTH}\r"
                f"{nik},,maybe,,{THIS_MONTH}\r")
        out = self.ctl("bpjs", "import", self.write("jawaban-mac.csv", text.encode()), rc=1)
        self.assertIn(f"line 2: {nik[:4]}******{nik[-4:]}: enrolment {eid} registered", out)
        self.assertIn(f"line 3: {unknown[:4]}******{unknown[-4:]}: not matched", out)
        self.assertIn("line 4: bad field status", out)

    def test_bpjs_import_reads_a_byte_order_mark(self) -> None:
        [(eid, nik)] = self.enrol(ADD, VILLAGE_B, 1612014101808001)
        text = ("nik,kpj,status,reason,effective_month\r\n"
                f"{nik},KPJ33333,registered,,{THIS_MONTH}\r\n")
        out = self.ctl("bpjs", "import",
                       self.write("jawaban-bom.csv", b"\xef\xbb\xbf" + text.encode()))
        self.assertIn(f"line 2: {nik[:4]}******{nik[-4:]}: enrolment {eid} registered", out)
        self.assertEqual(self.sql(f"SELECT bpjs_status, kpj FROM enrolments WHERE id = {eid}"),
                         [("registered", "KPJ33333")])

    # -- M4: coverage_end put back restores who ended with it
    def test_coverage_end_put_back_restores_program_ended(self) -> None:
        first, last = month_add(THIS_MONTH, -3), THIS_MONTH
        early = month_add(THIS_MONTH, -2)
        months = [month_add(first, k) for k in range(4)]
        prog = {"code": "CTL-YEAR-ADD", "name": "a budget year", "regency_code": "16.12",
                "funding_source": "ADD", "coverage_start": first, "coverage_end": last,
                "occupations": ["informal"]}
        path = os.path.join(self.dir, "year.json")

        def import_end(end: str) -> str:
            prog["coverage_end"] = end
            with open(path, "w") as f:
                json.dump({"programs": [prog]}, f)
            return self.ctl("program", "import", path)

        import_end(last)
        (kept, _), (moved_on, moved_nik) = self.enrol("CTL-YEAR-ADD", VILLAGE_A,
                                                      1612014101809001, n=2, start=first)
        for m in months:
            self.run_month(m)
        billed = {m: self.net(kept, m) for m in months}
        self.assertEqual(billed, {m: FULL for m in months})

        # the end imported too early: billing ends both, credits the months after
        import_end(early)
        self.run_month(THIS_MONTH)
        for eid in (kept, moved_on):
            self.assertEqual(self.enrolment(eid), ("ended", early, "program_ended", "f"))
        # one of them is enrolled elsewhere from the month after
        [(elsewhere, _)] = self.enrol(ADD, VILLAGE_B, int(moved_nik),
                                      start=month_add(early, 1))

        # put back: the first is active again to the end, the second stays
        # ended (its months are the other enrolment's), and the import says so
        out = import_end(last)
        self.assertIn("enrolments ended with the old coverage_end: 1 active again, "
                      "1 left ended", out)
        self.assertEqual(self.enrolment(kept), ("active", last, "", "t"))
        self.assertEqual(self.enrolment(moved_on), ("ended", early, "program_ended", "f"))
        self.assertEqual(self.enrolment(elsewhere)[:2], ("active", ""))
        for m in months:
            self.run_month(m)
        self.assertEqual({m: self.net(kept, m) for m in months}, billed)
        self.assertEqual([self.net(moved_on, m) for m in months], [FULL, FULL, 0, 0])


if __name__ == "__main__":
    unittest.main()
