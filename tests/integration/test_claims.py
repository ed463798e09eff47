"""The claims register and the loss ratio (issue 14), against a real
PostgreSQL, intake over HTTP, billing over ZeroMQ and lindungctl:

- a death opens its JKM claim in the database (the benefit in force in the
  death month), once; a death undone withdraws it, recorded again reopens it;
- JKK claims recorded by regency and admin keys and by lindungctl, through
  reported -> filed -> paid | refused, invalid steps refused (409 over HTTP,
  exit 1 from lindungctl);
- scoping like invoices (village, regency, another regency, admin);
- the published figures: Gianyar's Rp 3.65 billion of claims paid from
  1 January to 28 November 2024, four of them deaths, and Bulukumba's
  Rp 1,077,000,000 of death benefits paid against Rp 890,000,000 of
  contributions in 2024, a loss ratio of 12101 basis points (claims paid *
  10000 / premiums paid, rounded half up, in integers).

Deaths are simulated with SQL, as the life-events code records them (the
enrolment ends with end_reason 'death' in the month of death); enrolments
are made with SQL as in test_money.py. Every expected rupiah figure is
computed here, never read back from the code under test.
"""

from __future__ import annotations

import datetime
import json
import unittest

import harness

GIANYAR = "GIANYAR-2024-ADD"
BULUKUMBA = "BULUKUMBA-2024-APBDES"
GIANYAR_A = "51.04.01.2001"
GIANYAR_B = "51.04.01.2002"
BULUKUMBA_V = "73.02.01.1001"

JKM_BENEFIT = 42_000_000     # PP 82/2019
FULL = 10000 + 6800          # Rp 16,800 a person-month (2024: no relief)

ENROL_SQL = """
WITH s AS (
  INSERT INTO submissions (id, program_id, village_code, applicant_count)
  SELECT gen_random_uuid(), p.id, '{village}', {n} FROM programs p WHERE p.code = '{program}'
  RETURNING id, program_id),
a AS (
  INSERT INTO applicants (submission_id, idx, nik, name, birth_date, sex, occupation,
                          decision)
  SELECT s.id, g, ({nik_base}::bigint + g)::text, 'Peserta ' || g, '1980-01-01', 'M',
         'PETANI/PEKEBUN', 'accepted'
  FROM s, generate_series(0, {n} - 1) g
  RETURNING id, nik),
pa AS (
  INSERT INTO participants (nik, name, birth_date, sex)
  SELECT nik, 'Peserta', '1980-01-01', 'M' FROM a RETURNING nik)
INSERT INTO enrolments (nik, program_id, village_code, applicant_id, funding_source,
                        payer_code, start_month, end_month)
SELECT a.nik, s.program_id, '{village}', a.id, p.funding_source,
       program_payer(p.id, '{village}'), '2024-01-01', '2024-12-01'
FROM a, s JOIN programs p ON p.id = s.program_id
RETURNING id, nik
"""


def jakarta_today() -> datetime.date:
    return (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=7)).date()


def ratio_bp(claims: int, premiums: int) -> int:
    """claims / premiums in basis points, rounded half up (integers only)."""
    return (claims * 20000 + premiums) // (2 * premiums)


class ClaimsTest(harness.LindungTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.stack.migrate()
        self.stack.import_programs()
        self.nik_base = {GIANYAR_A: 5104010101800000, GIANYAR_B: 5104010101810000,
                         BULUKUMBA_V: 7302010101800000}

    # -- helpers
    def sql(self, q: str) -> list[tuple]:
        return self.stack.cluster.psql(q)

    def enrol(self, program: str, village: str, n: int = 1) -> list[tuple[int, str]]:
        rows = self.sql(ENROL_SQL.format(program=program, village=village, n=n,
                                         nik_base=self.nik_base[village]))
        self.nik_base[village] += n
        return [(int(i), nik) for i, nik in rows]

    def die(self, enrolment: int, month: str) -> None:
        self.sql(f"UPDATE enrolments SET status = 'ended', end_reason = 'death', "
                 f"end_month = '{month}-01', ended_at = now() WHERE id = {enrolment}")

    def undo_death(self, enrolment: int) -> None:
        self.sql(f"UPDATE enrolments SET status = 'active', end_reason = NULL, "
                 f"end_month = '2024-12-01', ended_at = NULL WHERE id = {enrolment}")

    def jkm_claims(self, enrolment: int) -> list[tuple]:
        return self.sql(f"SELECT id, status, amount_claimed, event_date FROM claims "
                        f"WHERE enrolment_id = {enrolment} AND kind = 'JKM'")

    def claim_of(self, enrolment: int) -> int:
        return int(self.jkm_claims(enrolment)[0][0])

    def ctl(self, *args: str, check: bool = True):
        return self.stack.lindungctl(*args, check=check)

    def ctl_json(self, *args: str):
        return json.loads(self.ctl(*args, "--json").stdout)

    def api(self, method: str, path: str, key: str, body=None) -> harness.Response:
        return self.stack.api(method, path, key, json=body)

    def assert_error(self, r: harness.Response, status: int, code: str) -> None:
        self.assertEqual(r.status, status, r.body)
        self.assertEqual(r.body["error"]["code"], code, r.body)

    def step(self, claim: int, status: str, on: str, amount: int | None = None) -> None:
        args = ["claims", "step", str(claim), "--status", status, "--date", on]
        if amount is not None:
            args += ["--amount", str(amount)]
        self.ctl(*args)

    def pay_claim(self, claim: int, filed: str, paid: str, amount: int) -> None:
        self.step(claim, "filed", filed)
        self.step(claim, "paid", paid, amount)

    # -- tests
    def test_death_opens_one_jkm_claim_and_undoing_it_withdraws_it(self) -> None:
        (e1, _), (e2, _), (e3, _) = self.enrol(GIANYAR, GIANYAR_A, 3)
        self.die(e1, "2024-05")
        self.assertEqual(self.jkm_claims(e1),
                         [(self.jkm_claims(e1)[0][0], "reported", str(JKM_BENEFIT),
                           "2024-05-01")])
        # recorded twice (a retry, a second writer): still one claim
        self.sql(f"UPDATE enrolments SET end_reason = 'death' WHERE id = {e1}")
        self.die(e1, "2024-05")
        self.assertEqual(len(self.jkm_claims(e1)), 1)
        self.assertEqual(self.sql("SELECT count(*) FROM claims")[0][0], "1")
        claim = self.claim_of(e1)
        # the benefit is data with an effective month: a new amount from June
        self.sql("INSERT INTO claim_benefits (kind, effective_month, amount, note) "
                 "VALUES ('JKM', '2024-06-01', 45000000, 'test')")
        self.die(e2, "2024-07")
        self.assertEqual(self.jkm_claims(e2)[0][2], "45000000")
        self.assertEqual(self.jkm_claims(e1)[0][2], str(JKM_BENEFIT))
        # the death was reported in error: the unpaid claim is withdrawn, with a step
        self.undo_death(e1)
        self.assertEqual(self.jkm_claims(e1)[0][1], "withdrawn")
        steps = self.ctl_json("claims", "show", str(claim))["steps"]
        self.assertEqual([s["status"] for s in steps], ["reported", "withdrawn"])
        self.assertEqual(steps[0]["amount"], JKM_BENEFIT)
        self.assertEqual(steps[1]["source"], "death")
        # a withdrawn claim takes no step
        r = self.ctl("claims", "step", str(claim), "--status", "filed", "--date",
                     "2024-06-01", check=False)
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("invalid_transition", r.stderr)
        # recorded again: the same claim reopens
        self.die(e1, "2024-05")
        self.assertEqual(self.jkm_claims(e1)[0][:2], (str(claim), "reported"))
        # a paid claim is never withdrawn by undoing the death
        self.pay_claim(self.claim_of(e2), "2024-07-20", "2024-08-10", 45000000)
        self.undo_death(e2)
        self.assertEqual(self.jkm_claims(e2)[0][1], "paid")
        # ended for another reason: no claim
        self.sql(f"UPDATE enrolments SET status = 'ended', end_reason = 'moved', "
                 f"end_month = '2024-03-01', ended_at = now() WHERE id = {e3}")
        self.assertEqual(self.jkm_claims(e3), [])
        # the gauge billing exports
        self.stack.start_daemons("billing")
        harness.wait_until(lambda: 'lindung_claims_open{kind="JKM",age_bucket="under_30d"} 1'
                           in self.stack.billing.metrics(), timeout=30)
        self.assertIn('lindung_claims_open_oldest_age_seconds{kind="JKK"} 0',
                      self.stack.billing.metrics())

    def test_jkk_claims_through_their_states(self) -> None:
        s = self.stack
        s.start_daemons("intake")
        (_, nik), = self.enrol(GIANYAR, GIANYAR_A)
        regency = s.create_key("regency:51.04")
        village = s.create_key(f"village:{GIANYAR_A}")
        body = {"nik": nik, "accident_date": "2024-03-10", "accident_kind": "jatuh dari pohon",
                "amount_claimed": 12_500_000}
        self.assert_error(self.api("POST", "/v1/claims", village, body), 403, "OUT_OF_SCOPE")
        r = self.api("POST", "/v1/claims", regency, body)
        self.assertEqual(r.status, 201, r.body)
        claim = r.body
        self.assertEqual((claim["kind"], claim["status"], claim["amount_claimed"],
                          claim["event_date"], claim["program_code"]),
                         ("JKK", "reported", 12_500_000, "2024-03-10", GIANYAR))
        cid = claim["id"]
        # not covered: an accident after the enrolment ended, an unknown NIK
        self.assert_error(self.api("POST", "/v1/claims", regency,
                                   dict(body, accident_date="2025-02-01")), 422, "NOT_COVERED")
        self.assert_error(self.api("POST", "/v1/claims", regency,
                                   dict(body, nik="5104010101899999")), 422, "NOT_COVERED")
        tomorrow = (jakarta_today() + datetime.timedelta(days=1)).isoformat()
        bad = self.api("POST", "/v1/claims", regency,
                       {"nik": "12", "accident_date": tomorrow, "amount_claimed": 0})
        self.assert_error(bad, 422, "INVALID_FIELDS")
        self.assertEqual(sorted(d["field"] for d in bad.body["error"]["details"]),
                         ["accident_date", "accident_kind", "amount_claimed", "nik"])
        self.assert_error(self.api("POST", "/v1/claims", regency,
                                   dict(body, amount_claimed=1_000_000_000_001)),
                          422, "INVALID_FIELDS")
        steps = f"/v1/claims/{cid}/steps"
        self.assert_error(self.api("POST", steps, regency,
                                   {"status": "paid", "date": "2024-04-01", "amount": 1}),
                          409, "INVALID_TRANSITION")
        self.assert_error(self.api("POST", steps, regency,
                                   {"status": "filed", "date": "2024-03-01"}),
                          422, "INVALID_FIELDS")  # before the accident
        self.assert_error(self.api("POST", steps, village,
                                   {"status": "filed", "date": "2024-03-20"}), 403,
                          "OUT_OF_SCOPE")
        r = self.api("POST", steps, regency, {"status": "filed", "date": "2024-03-20",
                                              "note": "BPJS KCP Gianyar"})
        self.assertEqual((r.status, r.body["status"]), (201, "filed"), r.body)
        self.assert_error(self.api("POST", steps, regency,
                                   {"status": "filed", "date": "2024-03-21"}),
                          409, "INVALID_TRANSITION")
        self.assert_error(self.api("POST", steps, regency,
                                   {"status": "paid", "date": "2024-04-02"}),
                          422, "INVALID_FIELDS")  # paid needs its amount
        self.assert_error(self.api("POST", steps, regency,
                                   {"status": "paid", "date": "2024-03-19", "amount": 5}),
                          422, "INVALID_FIELDS")  # before it was filed
        r = self.api("POST", steps, regency,
                     {"status": "paid", "date": "2024-04-02", "amount": 12_000_000})
        self.assertEqual((r.status, r.body["status"], r.body["amount_paid"]),
                         (201, "paid", 12_000_000), r.body)
        self.assertEqual([(x["status"], x["date"], x["amount"]) for x in r.body["steps"]],
                         [("reported", jakarta_today().isoformat(), 12_500_000),
                          ("filed", "2024-03-20", 12_500_000),
                          ("paid", "2024-04-02", 12_000_000)])
        self.assert_error(self.api("POST", steps, regency,
                                   {"status": "refused", "date": "2024-04-03"}),
                          409, "INVALID_TRANSITION")
        self.assert_error(self.api("POST", "/v1/claims/999999/steps", regency,
                                   {"status": "filed", "date": "2024-04-03"}), 404, "NOT_FOUND")
        self.assert_error(self.api("DELETE", steps, regency), 405, "METHOD_NOT_ALLOWED")
        self.assert_error(self.api("PUT", "/v1/claims", regency, {}), 405,
                          "METHOD_NOT_ALLOWED")
        got = self.api("GET", f"/v1/claims/{cid}", village)
        self.assertEqual((got.status, got.body["status"], len(got.body["steps"])),
                         (200, "paid", 3), got.body)

        # lindungctl: the same rules
        out = self.ctl_json("claims", "add", "--nik", nik, "--date", "2024-06-01",
                            "--kind", "tertimpa", "--amount", "3000000")
        lid = out["id"]
        self.assertEqual((out["kind"], out["status"], out["amount_claimed"]),
                         ("JKK", "reported", 3_000_000))
        r = self.ctl("claims", "add", "--nik", nik, "--date", "2025-06-01", "--kind", "x",
                     "--amount", "1", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("not_covered", r.stderr)
        r = self.ctl("claims", "step", str(lid), "--status", "refused", "--date",
                     "2024-06-05", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("invalid_transition", r.stderr)
        self.step(lid, "filed", "2024-06-05")
        refused = self.ctl_json("claims", "step", str(lid), "--status", "refused", "--date",
                                "2024-07-01", "--note", "not at work")
        self.assertEqual(refused["status"], "refused")
        self.assertEqual([x["status"] for x in refused["steps"]],
                         ["reported", "filed", "refused"])
        self.assertEqual(self.api("GET", f"/v1/claims/{lid}", regency).body["source"],
                         "lindungctl")
        listed = self.ctl_json("claims", "list", "--kind", "JKK")
        self.assertEqual([c["id"] for c in listed], [lid, cid])
        self.assertEqual(self.ctl("claims", "bogus", check=False).returncode, 2)

    def test_jkk_claim_retried_with_an_idempotency_key_is_one_claim(self) -> None:
        """A district system that lost the answer posts the claim again with
        the same Idempotency-Key: the same claim (200), not a second one; the
        key reused for another claim is 409 and records nothing; another API
        key's same Idempotency-Key is its own claim."""
        s = self.stack
        s.start_daemons("intake")
        (_, nik), = self.enrol(GIANYAR, GIANYAR_A)
        regency = s.create_key("regency:51.04")
        other = s.create_key("regency:51.04")
        body = {"nik": nik, "accident_date": "2024-05-02", "accident_kind": "tertimpa batang",
                "amount_claimed": 7_000_000}
        once = {"Idempotency-Key": "gianyar-jkk-0001"}
        first = s.api("POST", "/v1/claims", regency, headers=once, json=body)
        self.assertEqual(first.status, 201, first.body)
        again = s.api("POST", "/v1/claims", regency, headers=once, json=body)
        self.assertEqual((again.status, again.body["id"]), (200, first.body["id"]), again.body)
        self.assert_error(s.api("POST", "/v1/claims", regency, headers=once,
                                json=dict(body, amount_claimed=7_000_001)),
                          409, "IDEMPOTENCY_CONFLICT")
        self.assert_error(s.api("POST", "/v1/claims", regency,
                                headers={"Idempotency-Key": ""}, json=body),
                          400, "BAD_IDEMPOTENCY_KEY")
        self.assertEqual(self.sql("SELECT count(*) FROM claims WHERE kind = 'JKK'"), [("1",)])
        self.assertEqual(self.sql("SELECT count(*) FROM claim_steps"), [("1",)])
        theirs = s.api("POST", "/v1/claims", other, headers=once, json=body)
        self.assertEqual(theirs.status, 201, theirs.body)
        self.assertNotEqual(theirs.body["id"], first.body["id"])
        # without a key, each post is a claim (the register takes what it is told)
        self.assertEqual(s.api("POST", "/v1/claims", regency, json=body).status, 201)
        self.assertEqual(self.sql("SELECT count(*) FROM claims WHERE kind = 'JKK'"), [("3",)])

    def test_scoping_like_invoices(self) -> None:
        s = self.stack
        s.start_daemons("intake")
        (ea, _), = self.enrol(GIANYAR, GIANYAR_A)
        (eb, _), = self.enrol(GIANYAR, GIANYAR_B)
        (ec, _), = self.enrol(BULUKUMBA, BULUKUMBA_V)
        for e in (ea, eb, ec):
            self.die(e, "2024-04")
        ca, cb, cc = (self.claim_of(e) for e in (ea, eb, ec))
        admin = s.create_key("admin")
        keys = {"village": s.create_key(f"village:{GIANYAR_A}"),
                "regency": s.create_key("regency:51.04"),
                "other": s.create_key("regency:73.02")}

        def ids(key: str, query: str = "") -> list[int]:
            r = self.api("GET", "/v1/claims" + query, key)
            self.assertEqual(r.status, 200, r.body)
            return [c["id"] for c in r.body["items"]]

        self.assertEqual(ids(keys["village"]), [ca])
        self.assertEqual(ids(keys["regency"]), [ca, cb])
        self.assertEqual(ids(keys["other"]), [cc])
        self.assertEqual(ids(admin), [ca, cb, cc])
        self.assertEqual(ids(admin, "?kind=JKK"), [])
        self.assertEqual(ids(admin, "?status=reported&kind=JKM&period=2024-04"), [ca, cb, cc])
        self.assertEqual(ids(admin, "?period=2024-05"), [])
        self.assert_error(self.api("GET", "/v1/claims?status=open&limit=0", admin), 422,
                          "INVALID_FIELDS")
        # cursor paging, as invoices
        seen, cursor = [], None
        while True:
            r = self.api("GET", "/v1/claims?limit=2" + (f"&cursor={cursor}" if cursor else ""),
                         admin)
            seen += [c["id"] for c in r.body["items"]]
            cursor = r.body["next_cursor"]
            if cursor is None:
                break
        self.assertEqual(seen, [ca, cb, cc])
        # one claim: out of scope is 404, as an unknown id and as an invoice
        self.assertEqual(self.api("GET", f"/v1/claims/{cb}", keys["regency"]).status, 200)
        self.assert_error(self.api("GET", f"/v1/claims/{cb}", keys["village"]), 404,
                          "NOT_FOUND")
        self.assert_error(self.api("GET", f"/v1/claims/{ca}", keys["other"]), 404,
                          "NOT_FOUND")
        self.assert_error(self.api("POST", f"/v1/claims/{cc}/steps", keys["regency"],
                                   {"status": "filed", "date": "2024-04-20"}), 404,
                          "NOT_FOUND")
        self.assert_error(self.api("GET", "/v1/claims/abc", admin), 404, "NOT_FOUND")
        # a regency key records a JKK claim only for its own participants
        (_, nik_c), = self.enrol(BULUKUMBA, BULUKUMBA_V)
        self.assert_error(self.api("POST", "/v1/claims", keys["regency"],
                                   {"nik": nik_c, "accident_date": "2024-02-02",
                                    "accident_kind": "x", "amount_claimed": 1}),
                          422, "NOT_COVERED")
        # the report: per regency; a village key may not read it
        report = "/v1/reports/loss-ratio"
        self.assert_error(self.api("GET", report, keys["village"]), 403, "OUT_OF_SCOPE")
        self.assert_error(self.api("GET", report + "?regency=73.02", keys["regency"]), 403,
                          "OUT_OF_SCOPE")
        self.assert_error(self.api("GET", report + "?from=2024-13", admin), 422,
                          "INVALID_FIELDS")
        self.assert_error(self.api("POST", report, admin, {}), 405, "METHOD_NOT_ALLOWED")
        self.api("POST", f"/v1/claims/{cc}/steps", admin, {"status": "filed",
                                                            "date": "2024-04-20"})
        self.api("POST", f"/v1/claims/{cc}/steps", admin, {"status": "paid",
                                                            "date": "2024-05-02",
                                                            "amount": JKM_BENEFIT})
        r = self.api("GET", report, keys["regency"])
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual({m["regency_code"] for m in r.body["months"]}, set())
        r = self.api("GET", report, keys["other"])
        self.assertEqual([(t["regency_code"], t["claims_paid"], t["loss_ratio_bp"])
                          for t in r.body["totals"]], [("73.02", JKM_BENEFIT, None)])

    def test_gianyar_claims_to_28_november_2024(self) -> None:
        """Rp 3.65 billion of claims paid from 1 January to 28 November 2024,
        four of them death (JKM) claims of Rp 42,000,000."""
        s = self.stack
        s.start_daemons("intake")
        regency = s.create_key("regency:51.04")
        people = self.enrol(GIANYAR, GIANYAR_A, 24)
        for i, (e, _) in enumerate(people[:4]):
            self.die(e, f"2024-{3 + 2 * i:02d}")
            self.pay_claim(self.claim_of(e), f"2024-{3 + 2 * i:02d}-25",
                           f"2024-{4 + 2 * i:02d}-15", JKM_BENEFIT)
        jkk_total = 3_650_000_000 - 4 * JKM_BENEFIT
        each = jkk_total // 20
        self.assertEqual(each * 20, jkk_total)
        for i, (_, nik) in enumerate(people[4:]):
            month = 1 + i % 10
            r = self.api("POST", "/v1/claims", regency,
                         {"nik": nik, "accident_date": f"2024-{month:02d}-05",
                          "accident_kind": "kecelakaan kerja", "amount_claimed": each})
            self.assertEqual(r.status, 201, r.body)
            steps = f"/v1/claims/{r.body['id']}/steps"
            self.assertEqual(self.api("POST", steps, regency, {
                "status": "filed", "date": f"2024-{month:02d}-10"}).status, 201)
            self.assertEqual(self.api("POST", steps, regency, {
                "status": "paid", "date": f"2024-{month + 1:02d}-28",
                "amount": each}).status, 201)
        # one more paid on 29 November: outside the published period
        (late_e, _), = self.enrol(GIANYAR, GIANYAR_B)
        self.die(late_e, "2024-11")
        self.pay_claim(self.claim_of(late_e), "2024-11-20", "2024-11-29", JKM_BENEFIT)
        rows = self.ctl_json("claims", "report", "--program", GIANYAR, "--from", "2024-01",
                             "--to", "2024-11")
        self.assertEqual(len(rows), 1, rows)
        row = rows[0]
        self.assertEqual((row["regency_code"], row["claims_paid_count"],
                          row["jkm_paid_count"]), ("51.04", 25, 5))
        # paid by 28 November: the day counts, so the claims themselves
        paid_by = self.sql(
            "SELECT sum(amount_paid), count(*) FILTER (WHERE kind = 'JKM') FROM claims c "
            "JOIN programs p ON p.id = c.program_id WHERE p.code = 'GIANYAR-2024-ADD' "
            "AND status = 'paid' AND status_on BETWEEN '2024-01-01' AND '2024-11-28'")
        self.assertEqual(paid_by, [("3650000000", "4")])
        # by month (the view reports months): November holds the 29th too
        self.assertEqual(row["claims_paid"], 3_650_000_000 + JKM_BENEFIT)
        r = self.api("GET", f"/v1/reports/loss-ratio?program={GIANYAR}&to=2024-10", regency)
        self.assertEqual(r.body["totals"][0]["claims_paid"],
                         3_650_000_000 - sum(each for i in range(20) if i % 10 + 2 == 11))

    def test_bulukumba_loss_ratio_2024(self) -> None:
        """Rp 1,077,000,000 of death benefits paid against Rp 890,000,000 of
        contributions: premiums billed by billing, paid with
        billing_record_payment(), deaths recorded and their claims paid."""
        s = self.stack
        n = 4415                      # 4415 * 12 * 16,800 = 890,064,000 billed
        people = self.enrol(BULUKUMBA, BULUKUMBA_V, n)
        s.start_daemons("billing", "intake")
        for month in range(1, 13):
            doc = json.loads(self.ctl("billing", "run", f"2024-{month:02d}").stdout)
            self.assertTrue(doc["ok"], doc)
        invoices = self.sql(f"SELECT id, total FROM invoices WHERE payer_code = '{BULUKUMBA_V}' "
                            "AND kind = 'invoice' ORDER BY period")
        self.assertEqual([int(t) for _, t in invoices], [n * FULL] * 12)
        billed = 12 * n * FULL
        to_pay = 890_000_000
        for inv, total in invoices:
            amount = min(int(total), to_pay)
            if amount == 0:
                break
            r = self.sql(f"SELECT result FROM billing_record_payment({inv}, {amount}, "
                         f"'2024-12-20', 'SP2D-{inv}', 'test')")
            self.assertEqual(r, [("ok",)])
            to_pay -= amount
        self.assertEqual(to_pay, 0)
        # deaths after billing: billing stopped, so no re-run credits the months after
        s.billing.stop()
        deaths = 25
        paid_total = 0
        for i, (e, _) in enumerate(people[:deaths]):
            month = 1 + i % 11
            self.die(e, f"2024-{month:02d}")
            # one family also received the children's scholarship on top
            amount = JKM_BENEFIT + (27_000_000 if i == 0 else 0)
            self.pay_claim(self.claim_of(e), f"2024-{month:02d}-25",
                           f"2024-{month + 1:02d}-10", amount)
            paid_total += amount
        deaths_paid = 24 * JKM_BENEFIT + 69_000_000
        self.assertEqual(paid_total, deaths_paid)
        self.assertEqual(deaths_paid, 1_077_000_000)
        want_bp = ratio_bp(1_077_000_000, 890_000_000)
        self.assertEqual(want_bp, 12101)      # 1.2101...: Rp 1.21 paid per rupiah
        rows = self.ctl_json("claims", "report", "--regency", "73.02", "--program",
                             BULUKUMBA, "--from", "2024-01", "--to", "2024-12")
        self.assertEqual(len(rows), 1, rows)
        row = rows[0]
        self.assertEqual((row["premiums_billed"], row["premiums_paid"], row["claims_paid"],
                          row["loss_ratio_bp"], row["jkm_paid_count"]),
                         (billed, 890_000_000, 1_077_000_000, want_bp, 25))
        key = s.create_key("regency:73.02")
        r = self.api("GET", f"/v1/reports/loss-ratio?regency=73.02&program={BULUKUMBA}"
                            "&from=2024-01&to=2024-12", key)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body["totals"], [{
            "program_code": BULUKUMBA, "regency_code": "73.02", "premiums_billed": billed,
            "premiums_paid": 890_000_000, "claims_paid": 1_077_000_000,
            "loss_ratio_bp": want_bp}])
        months = r.body["months"]
        self.assertEqual([m["month"] for m in months], [f"2024-{m:02d}" for m in range(1, 13)])
        self.assertEqual(months[0]["premiums_billed"], n * FULL)
        self.assertEqual(months[-1]["cumulative_loss_ratio_bp"], want_bp)
        self.assertEqual(months[-1]["cumulative_premiums_paid"], 890_000_000)
        # the partly paid December
        self.assertEqual(months[-1]["premiums_paid"], 890_000_000 - 11 * n * FULL)
        text = self.ctl("claims", "report", "--regency", "73.02").stdout
        self.assertIn("1,077,000,000", text)
        self.assertIn("12101", text)


if __name__ == "__main__":
    unittest.main()
