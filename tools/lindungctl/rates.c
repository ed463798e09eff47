/* rates: `lindungctl rates [YYYY-MM] [--transport] [--income RUPIAH]`: the
 * premium rates and reliefs in force for a month, from rates_in_force(), the
 * SQL function billing's accrual_premiums() reads them with
 * (db/migrations/030_rates_in_force.sql), and what one person's premium is
 * with relief and without (premium.c, billing's own arithmetic). Money is
 * printed without ever passing through a double, except as JSON numbers. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "args.h"
#include "billing_internal.h"
#include "date.h"
#include "db.h"
#include "money.h"
#include "period.h"
#include "pgjson.h"
#include "premium.h"
#include "session.h"

#define DEFAULT_INCOME 1000000

/* The rates and the relief per component, as billing reads them. */
static const char *SQL_RATES =
    "SELECT jkk_income_bp, min_income, to_char(jkk_since, 'YYYY-MM'), jkm_flat_amount, "
    "    to_char(jkm_since, 'YYYY-MM'), jkk_off_bp, jkm_off_bp "
    "FROM rates_in_force($1::date, $2::boolean)";
enum {
    RA_JKK_BP,
    RA_MIN_INCOME,
    RA_JKK_SINCE,
    RA_JKM_FLAT,
    RA_JKM_SINCE,
    RA_JKK_OFF,
    RA_JKM_OFF
};

/* The reliefs behind them, for the listing. */
static const char *SQL_ADJUSTMENTS =
    "SELECT name, coalesce(sector, ''), off_bp, applies_jkk, applies_jkm, "
    "    to_char(first_month, 'YYYY-MM'), to_char(last_month, 'YYYY-MM'), "
    "    coalesce(note, '') "
    "FROM premium_adjustments_in_force($1::date, $2::boolean) "
    "ORDER BY off_bp DESC, id";
enum { AD_NAME, AD_SECTOR, AD_OFF, AD_JKK, AD_JKM, AD_FIRST, AD_LAST, AD_NOTE };

typedef struct {
    premium_rates_t rates;
    char jkk_since[8], jkm_since[8];
    PGresult *adjustments;
} rates_in_force_t;

/* Look up the rates and adjustments for the month; -1 when a component has no
 * rate in force (or the database failed), with a message printed. */
static int rates_load(db_t *db, const char *month, bool transport, rates_in_force_t *out)
{
    const char *params[] = {month, transport ? "true" : "false"};
    PGresult *r = db_exec(db, SQL_RATES, 2, params);
    PGresult *adj = db_ok(r) ? db_exec(db, SQL_ADJUSTMENTS, 2, params) : NULL;
    if (!db_ok(r) || !db_ok(adj) || PQntuples(r) != 1) {
        fprintf(stderr, "rates: %s\n",
                db_ok(r) && db_ok(adj) ? "no JKK and JKM rates in force" : db_error(db));
        PQclear(r);
        PQclear(adj);
        return -1;
    }
    memset(out, 0, sizeof *out);
    out->rates.jkk_income_bp = money_i64(r, 0, RA_JKK_BP);
    out->rates.min_income = money_i64(r, 0, RA_MIN_INCOME);
    out->rates.jkm_flat = money_i64(r, 0, RA_JKM_FLAT);
    out->rates.jkk_off_bp = money_i64(r, 0, RA_JKK_OFF);
    out->rates.jkm_off_bp = money_i64(r, 0, RA_JKM_OFF);
    snprintf(out->jkk_since, sizeof out->jkk_since, "%s", PQgetvalue(r, 0, RA_JKK_SINCE));
    snprintf(out->jkm_since, sizeof out->jkm_since, "%s", PQgetvalue(r, 0, RA_JKM_SINCE));
    out->adjustments = adj;
    PQclear(r);
    return 0;
}

static cJSON *premium_json(const premium_t *p)
{
    cJSON *o = cJSON_CreateObject();
    return pgjson_whole(o, o && cJSON_AddNumberToObject(o, "jkk", (double)p->jkk) &&
                               cJSON_AddNumberToObject(o, "jkm", (double)p->jkm) &&
                               cJSON_AddNumberToObject(o, "amount", (double)p->amount));
}

/* One component: {"income_bp", "min_income"} or {"flat_amount"}, then
 * "since" and "relief_off_bp". */
static cJSON *component_json(const rates_in_force_t *in, bool jkk)
{
    const premium_rates_t *r = &in->rates;
    cJSON *o = cJSON_CreateObject();
    bool ok =
        o &&
        (jkk ? cJSON_AddNumberToObject(o, "income_bp", (double)r->jkk_income_bp) &&
                   cJSON_AddNumberToObject(o, "min_income", (double)r->min_income)
             : cJSON_AddNumberToObject(o, "flat_amount", (double)r->jkm_flat) != NULL);
    return pgjson_whole(
        o, ok &&
               cJSON_AddStringToObject(o, "since", jkk ? in->jkk_since : in->jkm_since) &&
               cJSON_AddNumberToObject(o, "relief_off_bp",
                                       (double)(jkk ? r->jkk_off_bp : r->jkm_off_bp)));
}

static cJSON *adjustment_json(const PGresult *a, int i)
{
    cJSON *o = cJSON_CreateObject();
    bool ok =
        o && cJSON_AddStringToObject(o, "name", PQgetvalue(a, i, AD_NAME)) &&
        (PQgetvalue(a, i, AD_SECTOR)[0]
             ? cJSON_AddStringToObject(o, "sector", PQgetvalue(a, i, AD_SECTOR)) != NULL
             : cJSON_AddNullToObject(o, "sector") != NULL);
    return pgjson_whole(
        o, ok && pgjson_add_int(o, "off_bp", a, i, AD_OFF) &&
               pgjson_add_bool(o, "jkk", a, i, AD_JKK) &&
               pgjson_add_bool(o, "jkm", a, i, AD_JKM) &&
               cJSON_AddStringToObject(o, "first_month", PQgetvalue(a, i, AD_FIRST)) &&
               cJSON_AddStringToObject(o, "last_month", PQgetvalue(a, i, AD_LAST)));
}

static int rates_print_json(const rates_in_force_t *in, const char *month, bool transport,
                            int64_t income, const premium_t *with,
                            const premium_t *without)
{
    cJSON *list = cJSON_CreateArray();
    bool listed = list != NULL;
    for (int i = 0; listed && i < PQntuples(in->adjustments); i++)
        listed = pgjson_append(list, adjustment_json(in->adjustments, i));
    cJSON *doc = cJSON_CreateObject();
    bool ok =
        doc && listed && cJSON_AddStringToObject(doc, "period", month) &&
        cJSON_AddStringToObject(doc, "sector", transport ? "transport" : "general") &&
        cJSON_AddNumberToObject(doc, "declared_income", (double)income) &&
        pgjson_put(doc, "jkk", component_json(in, true)) &&
        pgjson_put(doc, "jkm", component_json(in, false));
    if (!ok)
        cJSON_Delete(list); /* else pgjson_put takes it, whatever happens */
    ok = ok && pgjson_put(doc, "adjustments", list) &&
         pgjson_put(doc, "premium_with_relief", premium_json(with)) &&
         pgjson_put(doc, "premium_without_relief", premium_json(without));
    return session_print_json(pgjson_whole(doc, ok));
}

static void rates_print_text(const rates_in_force_t *in, const char *month,
                             bool transport, int64_t income, const premium_t *with,
                             const premium_t *without)
{
    char a[MONEY_TEXT_LEN], b[MONEY_TEXT_LEN], c[MONEY_TEXT_LEN];
    printf("rates in force for %s, %s sector\n", month,
           transport ? "transport" : "general");
    money_format(in->rates.min_income, a);
    printf("  JKK  %" PRId64 ".%02" PRId64
           "%% of declared income (at least Rp %s), since %s\n",
           in->rates.jkk_income_bp / 100, in->rates.jkk_income_bp % 100, a,
           in->jkk_since);
    money_format(in->rates.jkm_flat, a);
    printf("  JKM  Rp %s flat, since %s\n", a, in->jkm_since);
    int n = PQntuples(in->adjustments);
    printf("adjustments in force (relief; programmes with relief_applies only): %s\n",
           n ? "" : "none");
    for (int i = 0; i < n; i++) {
        const PGresult *r = in->adjustments;
        int64_t off = money_i64(r, i, AD_OFF);
        bool jkk = strcmp(PQgetvalue(r, i, AD_JKK), "t") == 0;
        bool jkm = strcmp(PQgetvalue(r, i, AD_JKM), "t") == 0;
        printf("  %s: %" PRId64 ".%02" PRId64 "%% off %s, %s..%s, %s\n",
               PQgetvalue(r, i, AD_NAME), off / 100, off % 100,
               jkk && jkm ? "JKK and JKM"
               : jkk      ? "JKK"
                          : "JKM",
               PQgetvalue(r, i, AD_FIRST), PQgetvalue(r, i, AD_LAST),
               PQgetvalue(r, i, AD_SECTOR)[0] ? "transport sector" : "every sector");
    }
    money_format(income, a);
    printf("premium at a declared income of Rp %s:\n", a);
    money_format(with->jkk, a), money_format(with->jkm, b), money_format(with->amount, c);
    printf("  relief applies:      JKK Rp %s + JKM Rp %s = Rp %s\n", a, b, c);
    money_format(without->jkk, a), money_format(without->jkm, b);
    money_format(without->amount, c);
    printf("  relief switched off: JKK Rp %s + JKM Rp %s = Rp %s\n", a, b, c);
}

int rates_show(int argc, char **argv)
{
    const char *valued[] = {"--income", NULL};
    const char *month = args_positional(argc, argv, 0, valued);
    period_t p = period_of(date_today());
    if (month && !period_parse(month, &p)) {
        fprintf(stderr,
                "usage: lindungctl rates [YYYY-MM] [--transport] [--income RUPIAH] "
                "[--json]\n");
        return ARGS_USAGE;
    }
    int64_t income = DEFAULT_INCOME;
    const char *income_s = args_value(argc, argv, "--income");
    if (income_s && !money_parse(income_s, MONEY_MAX_DIGITS, &income)) {
        fprintf(stderr, "rates: --income must be whole rupiah (digits only)\n");
        return ARGS_USAGE;
    }
    bool transport = args_flag(argc, argv, "--transport");
    char first[11], pm[8];
    date_format(period_first_day(p), first);
    period_format(p, pm);
    db_t *db = session_connect();
    if (!db)
        return ARGS_FAILED;
    rates_in_force_t in;
    int rc = rates_load(db, first, transport, &in);
    db_destroy(&db);
    if (rc != 0)
        return ARGS_FAILED;
    premium_rates_t off = in.rates;
    off.jkk_off_bp = off.jkm_off_bp = 0;
    premium_t with, without;
    if (premium_compute(&in.rates, income, &with) != 0 ||
        premium_compute(&off, income, &without) != 0) {
        fprintf(stderr, "rates: the rates in force are out of range\n");
        PQclear(in.adjustments);
        return ARGS_FAILED;
    }
    if (args_flag(argc, argv, "--json"))
        rc = rates_print_json(&in, pm, transport, income, &with, &without);
    else
        rates_print_text(&in, pm, transport, income, &with, &without);
    PQclear(in.adjustments);
    return rc;
}
