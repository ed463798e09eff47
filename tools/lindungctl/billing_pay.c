/* billing_pay: `lindungctl billing pay`: a payment against one document,
 * optionally allocated to chosen lines (--lines) or to all but some
 * (--except), with its audit record. Every rule (what is payable, how much,
 * duplicates by reference) is billing_record_payment()'s, the function
 * intake's POST /v1/invoices/{id}/payments uses; this file reads the command
 * line and explains a refusal in numbers. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "args.h"
#include "audit.h"
#include "billing_internal.h"
#include "date.h"
#include "db.h"
#include "money.h"
#include "session.h"

/* The payment and, when recorded, its audit record ($7 operator, $8
 * invocation; audit.h) in one statement. */
static const char *SQL_PAY =
    "WITH r AS MATERIALIZED ("
    "    SELECT result, payment_id, total, paid, outstanding, status "
    "    FROM billing_record_payment($1, $2, $3, $4, 'lindungctl', $5::bigint[], "
    "        $6::bigint[])), "
    "  au AS (INSERT INTO audit_log (actor_kind, actor, action, object, nik_hashes, "
    "              request_id, detail) "
    "         SELECT 'operator', $7, 'payment.record', r.payment_id::text, '{}', $8, "
    "             jsonb_build_object('invoice_id', $1::bigint, 'amount', $2::bigint) "
    "         FROM r "
    "         WHERE r.result = 'ok') "
    "SELECT * FROM r";
enum { PY_RESULT, PY_PAYMENT, PY_TOTAL, PY_PAID, PY_OUTSTANDING, PY_STATUS };

static const char *SQL_PAY_DOCUMENT =
    "SELECT kind, (SELECT count(*) FROM payment_lines WHERE payment_id = $2) "
    "FROM invoices "
    "WHERE id = $1";
enum { PD_KIND, PD_LINES };

/* Why a payment was refused, in numbers: what the lines chosen still owe
 * (amount_mismatch) and which listed enrolments have no line on the
 * document (unknown_line), as billing_record_payment() sees them. */
static const char *SQL_PAY_STILL_OWED =
    "SELECT document_list_owed($1, $2::bigint[], $3::bigint[])";
enum { SO_OWED };

static const char *SQL_PAY_UNKNOWN =
    "SELECT string_agg(x.id::text, ', ' ORDER BY x.ord) "
    "FROM unnest(coalesce($2::bigint[], '{}') || coalesce($3::bigint[], '{}')) "
    "     WITH ORDINALITY AS x (id, ord) "
    "WHERE NOT EXISTS (SELECT 1 FROM document_items($1) d WHERE d.enrolment_id = x.id)";
enum { UK_IDS };

#define MAX_PAY_LIST 10000 /* enrolments in --lines or --except, as over HTTP */

static const char *pay_problem(const char *result)
{
    static const char *const problems[][2] = {
        {"not_found", "no such invoice"},
        {"overpaid", "the amount is more than the document's outstanding balance"},
        {"duplicate",
         "a payment with this reference is already recorded for the invoice"},
        {"future_date", "the payment date is in the future"},
        {"bad_amount", "the amount must be positive"},
        {"not_payable", "a credit note is not paid: it reduces what its payer owes"},
        {"unknown_line", "an enrolment listed has no line on this document"},
        {"amount_mismatch", "the amount is not what the lines chosen still owe"},
        {"nothing_due", "the lines chosen owe nothing more on this document"},
    };
    for (size_t i = 0; i < sizeof problems / sizeof problems[0]; i++)
        if (strcmp(result, problems[i][0]) == 0)
            return problems[i][1];
    return "refused";
}

static int compare_ids(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

/* "4,5,12" -> *out "{4,5,12}": 1 to MAX_PAY_LIST distinct enrolment ids,
 * digits only. ARGS_OK, or (message printed) ARGS_USAGE when the list is not
 * that, ARGS_FAILED when memory ran out. */
static int parse_id_list(const char *flag, const char *text, char **out)
{
    *out = NULL;
    size_t len = strlen(text);
    bool ok = len > 0 && strspn(text, "0123456789,") == len && text[0] != ',' &&
              text[len - 1] != ',' && !strstr(text, ",,");
    long long *ids = malloc((len / 2 + 1) * sizeof *ids);
    if (!ids) {
        fprintf(stderr, "billing pay: out of memory\n");
        return ARGS_FAILED;
    }
    int n = 0;
    for (const char *c = text; ok && *c; n++) {
        char *end;
        ids[n] = strtoll(c, &end, 10);
        ok = ids[n] > 0 && end - c <= 18 && n < MAX_PAY_LIST;
        c = *end == ',' ? end + 1 : end;
    }
    qsort(ids, (size_t)n, sizeof *ids, compare_ids);
    for (int i = 1; ok && i < n; i++)
        ok = ids[i] != ids[i - 1];
    free(ids);
    if (!ok) {
        fprintf(stderr,
                "billing pay: %s takes 1 to %d distinct enrolment ids, comma-separated "
                "(e.g. 41,42)\n",
                flag, MAX_PAY_LIST);
        return ARGS_USAGE;
    }
    char *literal = malloc(len + 3);
    if (!literal) {
        fprintf(stderr, "billing pay: out of memory\n");
        return ARGS_FAILED;
    }
    snprintf(literal, len + 3, "{%s}", text);
    *out = literal;
    return ARGS_OK;
}

typedef struct {
    const char *id, *reference;
    char day[11], amount[24];
    char *lines, *except; /* PostgreSQL array literals, or NULL */
} pay_args_t;

static int pay_usage(void)
{
    fprintf(stderr, "usage: lindungctl billing pay INVOICE_ID AMOUNT [--date YYYY-MM-DD] "
                    "[--reference R] [--lines ID,... | --except ID,...]\n"
                    "  AMOUNT: whole rupiah, digits only, positive\n");
    return ARGS_USAGE;
}

/* Read the command line into out; 0, or 2 (usage printed). */
static int pay_args_read(int argc, char **argv, pay_args_t *out)
{
    const char *valued[] = {"--date",  "--paid-on", "--reference",
                            "--lines", "--except",  NULL};
    memset(out, 0, sizeof *out);
    out->id = args_positional(argc, argv, 1, valued);
    const char *amount_s = args_positional(argc, argv, 2, valued);
    const char *date_s = args_value(argc, argv, "--date");
    if (!date_s)
        date_s = args_value(argc, argv, "--paid-on");
    out->reference = args_value(argc, argv, "--reference");
    const char *lines = args_value(argc, argv, "--lines"),
               *except = args_value(argc, argv, "--except");
    int64_t amount;
    date_t paid_on = date_today();
    if (!out->id || strspn(out->id, "0123456789") != strlen(out->id) ||
        strlen(out->id) > 18 || !money_parse(amount_s, MONEY_MAX_DIGITS, &amount) ||
        amount == 0 || (date_s && !date_parse(date_s, &paid_on)) ||
        (out->reference && !out->reference[0]))
        return pay_usage();
    if (lines && except) {
        fprintf(stderr, "billing pay: give either --lines or --except, not both\n");
        return ARGS_USAGE;
    }
    int rc = lines ? parse_id_list("--lines", lines, &out->lines) : ARGS_OK;
    if (rc == ARGS_OK && except)
        rc = parse_id_list("--except", except, &out->except);
    if (rc != ARGS_OK)
        return rc;
    date_format(paid_on, out->day);
    snprintf(out->amount, sizeof out->amount, "%" PRId64, amount);
    return 0;
}

/* After a refusal that is about lines: the numbers behind it. */
static void pay_explain(db_t *db, const pay_args_t *p, const char *result)
{
    bool mismatch = strcmp(result, "amount_mismatch") == 0;
    if (!mismatch && strcmp(result, "unknown_line") != 0)
        return;
    const char *params[] = {p->id, p->lines, p->except};
    PGresult *r = db_exec(db, mismatch ? SQL_PAY_STILL_OWED : SQL_PAY_UNKNOWN, 3, params);
    int col = mismatch ? SO_OWED : UK_IDS;
    if (db_ok(r) && PQntuples(r) == 1 && !PQgetisnull(r, 0, col)) {
        char owed[MONEY_TEXT_LEN];
        if (mismatch) {
            money_format(money_i64(r, 0, SO_OWED), owed);
            fprintf(stderr, "  the lines chosen still owe Rp %s on this document\n",
                    owed);
        } else {
            fprintf(stderr, "  no line on this document: enrolment %s\n",
                    PQgetvalue(r, 0, UK_IDS));
        }
    }
    PQclear(r);
}

static void pay_print(db_t *db, const pay_args_t *p, const PGresult *r)
{
    char t[MONEY_TEXT_LEN], paid[MONEY_TEXT_LEN], o[MONEY_TEXT_LEN];
    money_format(money_i64(r, 0, PY_TOTAL), t);
    money_format(money_i64(r, 0, PY_PAID), paid);
    money_format(money_i64(r, 0, PY_OUTSTANDING), o);
    const char *params[] = {p->id, PQgetvalue(r, 0, PY_PAYMENT)};
    PGresult *d = db_exec(db, SQL_PAY_DOCUMENT, 2, params);
    bool known = db_ok(d) && PQntuples(d) == 1;
    printf("payment %s recorded: %s %s total Rp %s, paid Rp %s, outstanding Rp %s, %s\n",
           PQgetvalue(r, 0, PY_PAYMENT), known ? PQgetvalue(d, 0, PD_KIND) : "invoice",
           p->id, t, paid, o, PQgetvalue(r, 0, PY_STATUS));
    if (known)
        printf("allocated to %s line%s of the document\n", PQgetvalue(d, 0, PD_LINES),
               strcmp(PQgetvalue(d, 0, PD_LINES), "1") == 0 ? "" : "s");
    PQclear(d);
}

int billing_pay(int argc, char **argv)
{
    pay_args_t p;
    int rc = pay_args_read(argc, argv, &p);
    db_t *db = rc == 0 ? session_connect() : NULL;
    if (rc == 0 && !db)
        rc = 1;
    if (rc == 0) {
        const char *params[] = {p.id,
                                p.amount,
                                p.day,
                                p.reference,
                                p.lines,
                                p.except,
                                audit_operator(),
                                audit_invocation()};
        PGresult *r = db_exec(db, SQL_PAY, 8, params);
        rc = 1;
        if (!db_ok(r) || PQntuples(r) != 1) {
            fprintf(stderr, "billing pay: %s\n", db_error(db));
        } else if (strcmp(PQgetvalue(r, 0, PY_RESULT), "ok") != 0) {
            fprintf(stderr, "billing pay: %s (%s); nothing recorded\n",
                    pay_problem(PQgetvalue(r, 0, PY_RESULT)),
                    PQgetvalue(r, 0, PY_RESULT));
            pay_explain(db, &p, PQgetvalue(r, 0, PY_RESULT));
        } else {
            pay_print(db, &p, r);
            rc = 0;
        }
        PQclear(r);
        db_destroy(&db);
    }
    free(p.lines);
    free(p.except);
    return rc;
}
