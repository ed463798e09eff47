/* bpjs: the export for BPJS registration, the import of BPJS's answer and the
 * follow-up list of registrations not answered. The export carries full
 * NIKs (BPJS registers people by NIK); everything printed or logged masks
 * them. An import is idempotent twice over: the same file (by SHA-256) is
 * recognised and changes nothing, and a row whose answer is already applied
 * is skipped, so a file interrupted half-way can simply be imported again. */
#include "bpjs.h"
#include <cjson/cJSON.h>
#include <csv.h>
#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <xlsxwriter.h>
#include "args.h"
#include "config.h"
#include "csvout.h"
#include "db.h"
#include "nik.h"
#include "period.h"
#include "pgjson.h"
#include "session.h"

#define DEFAULT_CONFIRM_DAYS 14
#define MAX_FILE_BYTES (64L * 1024 * 1024)
#define MAX_REASON 500

/* ---------------------------------------------------------------- export */

/* Enrolments pending at BPJS and still active, not yet exported ($1: or
 * every one), accepted on or after $2 (a day in Asia/Jakarta, or NULL), of
 * programme $3 (or NULL); with what a registration needs. The premium is
 * the first covered month's, from accrual_premiums (the billing rule itself),
 * computed once per distinct first month: that gives every enrolment covering
 * the month, so each is joined on its own first month, or a person would be
 * written once for every first month of the file, with another month's
 * premium. Rows are locked: the file and the export mark agree even while
 * another export runs. */
static const char *SQL_EXPORT =
    "WITH chosen AS ("
    "    SELECT e.* "
    "    FROM enrolments e "
    "    JOIN programs p ON p.id = e.program_id "
    "    WHERE e.bpjs_status = 'pending' AND e.status = 'active' "
    "      AND ($1::boolean OR e.bpjs_exported_at IS NULL) "
    "      AND ($2::date IS NULL "
    "           OR e.created_at >= ($2::date::timestamp AT TIME ZONE 'Asia/Jakarta')) "
    "      AND ($3::text IS NULL OR p.code = $3) "
    "    FOR UPDATE OF e), "
    "prem AS ("
    "    SELECT m.start_month, ap.enrolment_id, ap.jkk, ap.jkm "
    "    FROM (SELECT DISTINCT start_month FROM chosen) m "
    "    CROSS JOIN LATERAL accrual_premiums(m.start_month) ap) "
    "SELECT c.id, c.nik, pa.name, to_char(pa.birth_date, 'YYYY-MM-DD'), pa.sex, "
    "    coalesce(a.address, ''), coalesce(a.phone, ''), coalesce(a.occupation, ''), "
    "    c.village_code, coalesce(v.name, ''), left(c.village_code, 8), "
    "    coalesce(d.name, ''), left(c.village_code, 5), coalesce(r.name, ''), p.code, "
    "    c.funding_source, c.payer_code, to_char(c.start_month, 'YYYY-MM'), "
    "    coalesce(pr.jkk::text, ''), coalesce(pr.jkm::text, ''), "
    "    coalesce((pr.jkk + pr.jkm)::text, ''), "
    "    to_char(c.created_at AT TIME ZONE 'Asia/Jakarta', 'YYYY-MM-DD') "
    "FROM chosen c "
    "JOIN participants pa ON pa.nik = c.nik "
    "JOIN programs p ON p.id = c.program_id "
    "LEFT JOIN applicants a ON a.id = enrolment_applicant(c.id) "
    "LEFT JOIN regions v ON v.code = c.village_code "
    "LEFT JOIN regions d ON d.code = left(c.village_code, 8) "
    "LEFT JOIN regions r ON r.code = left(c.village_code, 5) "
    "LEFT JOIN prem pr ON pr.enrolment_id = c.id AND pr.start_month = c.start_month "
    "ORDER BY c.village_code, c.id";
enum {
    EX_ID,
    EX_NIK,
    EX_NAME,
    EX_BIRTH,
    EX_SEX,
    EX_ADDRESS,
    EX_PHONE,
    EX_OCCUPATION,
    EX_VILLAGE,
    EX_VILLAGE_NAME,
    EX_DISTRICT,
    EX_DISTRICT_NAME,
    EX_REGENCY,
    EX_REGENCY_NAME,
    EX_PROGRAM,
    EX_FUNDING,
    EX_PAYER,
    EX_FIRST_MONTH,
    EX_JKK,
    EX_JKM,
    EX_PREMIUM,
    EX_ACCEPTED,
    EX_WIDTH
};

static const char *SQL_EXPORT_MARK = "UPDATE enrolments "
                                     "SET bpjs_exported_at = now() "
                                     "WHERE id = ANY ($1::bigint[])";

typedef enum { COL_TEXT, COL_NUMBER } column_type_t;

typedef struct {
    const char *name;
    column_type_t type;
} column_t;

/* The file's header and how each column is written, by SQL_EXPORT's
 * positions. */
static const column_t EXPORT_COLUMNS[EX_WIDTH] = {
    [EX_ID] = {"enrolment_id", COL_NUMBER},
    [EX_NIK] = {"nik", COL_TEXT},
    [EX_NAME] = {"name", COL_TEXT},
    [EX_BIRTH] = {"birth_date", COL_TEXT},
    [EX_SEX] = {"sex", COL_TEXT},
    [EX_ADDRESS] = {"address", COL_TEXT},
    [EX_PHONE] = {"phone", COL_TEXT},
    [EX_OCCUPATION] = {"occupation", COL_TEXT},
    [EX_VILLAGE] = {"village_code", COL_TEXT},
    [EX_VILLAGE_NAME] = {"village_name", COL_TEXT},
    [EX_DISTRICT] = {"district_code", COL_TEXT},
    [EX_DISTRICT_NAME] = {"district_name", COL_TEXT},
    [EX_REGENCY] = {"regency_code", COL_TEXT},
    [EX_REGENCY_NAME] = {"regency_name", COL_TEXT},
    [EX_PROGRAM] = {"program", COL_TEXT},
    [EX_FUNDING] = {"funding_source", COL_TEXT},
    [EX_PAYER] = {"payer_code", COL_TEXT},
    [EX_FIRST_MONTH] = {"first_month", COL_TEXT},
    [EX_JKK] = {"jkk", COL_NUMBER},
    [EX_JKM] = {"jkm", COL_NUMBER},
    [EX_PREMIUM] = {"premium", COL_NUMBER},
    [EX_ACCEPTED] = {"accepted_on", COL_TEXT},
};

/* A telephone number "+62..." is not a formula: written as it is, so BPJS
 * does not receive it with csvout's protective apostrophe. */
static void csv_phone(FILE *out, const char *v)
{
    if (v[0] == '+' && v[1] && strspn(v + 1, "0123456789 -") == strlen(v + 1))
        fputs(v, out);
    else
        csvout_field(out, v);
}

static int export_csv(const PGresult *r, const char *path)
{
    FILE *out = fopen(path, "wb");
    if (!out)
        return -1;
    for (int c = 0; c < EX_WIDTH; c++)
        fprintf(out, "%s%s", c ? "," : "", EXPORT_COLUMNS[c].name);
    fputs("\r\n", out);
    for (int i = 0; i < PQntuples(r); i++) {
        for (int c = 0; c < EX_WIDTH; c++) {
            if (c > 0)
                fputc(',', out);
            const char *v = PQgetvalue(r, i, c);
            if (EXPORT_COLUMNS[c].type == COL_NUMBER)
                fputs(v, out);
            else if (c == EX_PHONE)
                csv_phone(out, v);
            else
                csvout_field(out, v);
        }
        fputs("\r\n", out);
    }
    return fclose(out) == 0 ? 0 : -1;
}

static int export_xlsx(const PGresult *r, const char *path)
{
    lxw_workbook *wb = workbook_new(path);
    if (!wb)
        return -1;
    lxw_worksheet *ws = workbook_add_worksheet(wb, "registrations");
    lxw_format *bold = workbook_add_format(wb);
    lxw_format *money = workbook_add_format(wb);
    if (!ws || !bold || !money) { /* out of memory */
        lxw_workbook_free(wb);
        return -1;
    }
    format_set_bold(bold);
    format_set_num_format(money, "#,##0");
    for (int c = 0; c < EX_WIDTH; c++)
        worksheet_write_string(ws, 0, (lxw_col_t)c, EXPORT_COLUMNS[c].name, bold);
    for (int i = 0; i < PQntuples(r); i++)
        for (int c = 0; c < EX_WIDTH; c++) {
            const char *v = PQgetvalue(r, i, c);
            /* NIKs, codes and phone numbers stay text: as numbers a
             * spreadsheet would round a 16-digit NIK */
            if (EXPORT_COLUMNS[c].type == COL_TEXT)
                worksheet_write_string(ws, (lxw_row_t)i + 1, (lxw_col_t)c, v, NULL);
            else if (v[0])
                worksheet_write_number(ws, (lxw_row_t)i + 1, (lxw_col_t)c,
                                       (double)strtoll(v, NULL, 10),
                                       c > 0 ? money : NULL);
        }
    worksheet_set_column(ws, 0, EX_WIDTH - 1, 16, NULL);
    worksheet_freeze_panes(ws, 1, 0);
    return workbook_close(wb) == LXW_NO_ERROR ? 0 : -1;
}

/* "{4,5,12}" of the rows' enrolment ids (EX_ID); NULL when out of memory. */
static char *id_array(const PGresult *r)
{
    size_t cap = 3 + (size_t)PQntuples(r) * 21;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    size_t n = 0;
    out[n++] = '{';
    for (int i = 0; i < PQntuples(r); i++)
        n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? "," : "",
                              PQgetvalue(r, i, EX_ID));
    snprintf(out + n, cap - n, "}");
    return out;
}

static int export_usage(void)
{
    fprintf(stderr, "usage: lindungctl bpjs export [--since YYYY-MM-DD] [--program CODE] "
                    "[--all] --format csv|xlsx --out FILE\n");
    return 2;
}

/* Select, write, mark, in one transaction: a file that could not be written
 * marks nothing, so the next export sends those people again. */
static int export_run(db_t *db, const char *const params[3], bool xlsx, const char *out)
{
    if (!db_begin(db)) {
        fprintf(stderr, "bpjs export: %s\n", db_error(db));
        return 1;
    }
    PGresult *r = db_exec(db, SQL_EXPORT, 3, params);
    int rc = 1;
    if (!db_ok(r)) {
        fprintf(stderr, "bpjs export: %s\n", db_error(db));
    } else if ((xlsx ? export_xlsx(r, out) : export_csv(r, out)) != 0) {
        fprintf(stderr, "bpjs export: cannot write %s\n", out);
    } else {
        char *ids = id_array(r);
        const char *mp[] = {ids};
        if (!ids) {
            fprintf(stderr, "bpjs export: out of memory\n");
        } else if (db_run(db, SQL_EXPORT_MARK, 1, mp) && db_commit(db)) {
            printf("%d participant%s written to %s for BPJS registration\n", PQntuples(r),
                   PQntuples(r) == 1 ? "" : "s", out);
            rc = 0;
        } else {
            fprintf(stderr, "bpjs export: %s\n", db_error(db));
        }
        free(ids);
    }
    PQclear(r);
    if (rc != 0)
        db_rollback(db);
    return rc;
}

static int bpjs_export(int argc, char **argv)
{
    const char *since = args_value(argc, argv, "--since");
    const char *program = args_value(argc, argv, "--program");
    const char *format = args_value(argc, argv, "--format");
    const char *out = args_value(argc, argv, "--out");
    date_t day;
    bool csv = format && strcmp(format, "csv") == 0;
    bool xlsx = format && strcmp(format, "xlsx") == 0;
    if (!(csv || xlsx) || !out || !out[0] || (since && !date_parse(since, &day)) ||
        (program && !program[0]))
        return export_usage();
    db_t *db = session_db();
    if (!db)
        return 1;
    const char *params[] = {args_flag(argc, argv, "--all") ? "true" : "false", since,
                            program};
    return export_run(db, params, xlsx, out);
}

/* ---------------------------------------------------------------- import */

static const char *SQL_IMPORT_LOCK = "SELECT pg_advisory_lock(4344, 0)";
static const char *SQL_IMPORT_UNLOCK = "SELECT pg_advisory_unlock(4344, 0)";

static const char *SQL_IMPORT_SEEN =
    "SELECT id, file_name, "
    "    to_char(imported_at AT TIME ZONE 'Asia/Jakarta', 'YYYY-MM-DD HH24:MI'), rows, "
    "    matched, skipped, unmatched "
    "FROM bpjs_imports "
    "WHERE sha256 = sha256(decode($1, 'hex'))";
enum { IS_ID, IS_FILE, IS_AT, IS_ROWS, IS_MATCHED, IS_SKIPPED, IS_UNMATCHED };

static const char *SQL_IMPORT_RECORD =
    "INSERT INTO bpjs_imports (file_name, sha256, rows, matched, skipped, unmatched) "
    "VALUES ($1, sha256(decode($2, 'hex')), $3, $4, $5, $6) "
    "RETURNING id";
enum { IR_ID };

static const char *SQL_APPLY =
    "SELECT result, enrolment_id FROM bpjs_apply($1, $2, $3, $4, $5::date)";
enum { AP_RESULT, AP_ENROLMENT };

enum { F_NIK, F_KPJ, F_STATUS, F_REASON, F_MONTH, FIELDS };
static const char *const FIELD_NAME[FIELDS] = {"nik", "kpj", "status", "reason",
                                               "effective_month"};
#define MAX_COLUMNS 64

typedef struct {
    int line;
    char *field[FIELDS];
} answer_row_t;

/* libcsv callbacks' state; lines as in intake's csvbody.c: a record's line
 * is the line being fed when the parser was last between records. */
typedef struct {
    int line, start_line, record_line;
    bool between, row_ended, in_record;
    int col;
    bool have_header;
    int column[MAX_COLUMNS]; /* field of each header column, -1 ignored */
    int width;
    answer_row_t cur;
    answer_row_t *rows;
    int n, cap;
    bool out_of_memory; /* a field or row was lost: the file is not imported */
} reader_t;

static int no_space(unsigned char c)
{
    (void)c;
    return 0;
}

static void trim_lower(char *s, bool lower)
{
    size_t len = strlen(s), start = strspn(s, " \t");
    while (len > start && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    memmove(s, s + start, len - start);
    s[len - start] = '\0';
    for (char *c = s; lower && *c; c++)
        *c = (char)tolower((unsigned char)*c);
}

static void header_field(reader_t *r, const char *text)
{
    if (r->col >= MAX_COLUMNS)
        return;
    char name[64];
    snprintf(name, sizeof name, "%s", text);
    trim_lower(name, true);
    r->column[r->col] = -1;
    for (int f = 0; f < FIELDS; f++)
        if (strcmp(name, FIELD_NAME[f]) == 0)
            r->column[r->col] = f;
    r->width = r->col + 1;
}

static void on_field(void *data, size_t len, void *ctx)
{
    reader_t *r = ctx;
    if (!r->in_record)
        r->record_line = r->start_line;
    r->in_record = true;
    const char *text = data ? data : "";
    (void)len;
    if (!r->have_header) {
        header_field(r, text);
    } else if (r->col < r->width && r->column[r->col] >= 0) {
        char **slot = &r->cur.field[r->column[r->col]];
        free(*slot);
        *slot = strdup(text);
        if (*slot)
            trim_lower(*slot, r->column[r->col] == F_STATUS);
        else
            r->out_of_memory = true;
    }
    r->col++;
}

static bool row_blank(const answer_row_t *row)
{
    for (int f = 0; f < FIELDS; f++)
        if (row->field[f] && row->field[f][0])
            return false;
    return true;
}

/* Room for one more row; false (out_of_memory set) when there is none. */
static bool reader_room(reader_t *r)
{
    if (r->n < r->cap)
        return true;
    int cap = r->cap ? r->cap * 2 : 64;
    answer_row_t *rows = realloc(r->rows, (size_t)cap * sizeof *rows);
    if (!rows) {
        r->out_of_memory = true;
        return false;
    }
    r->rows = rows;
    r->cap = cap;
    return true;
}

static void on_record(int c, void *ctx)
{
    (void)c;
    reader_t *r = ctx;
    r->row_ended = true;
    if (!r->have_header) {
        r->have_header = true;
    } else if (row_blank(&r->cur) || !reader_room(r)) {
        for (int f = 0; f < FIELDS; f++)
            free(r->cur.field[f]);
    } else {
        r->cur.line = r->record_line;
        r->rows[r->n++] = r->cur;
    }
    memset(&r->cur, 0, sizeof r->cur);
    r->col = 0;
    r->in_record = false;
}

/* Index just past the line starting at i: LF, CRLF or a lone CR (a file
 * saved as "CSV (Macintosh)") ends it, as in intake's csvbody.c, so that
 * the line numbers printed are the ones an editor shows. */
static size_t line_end(const char *s, size_t len, size_t i)
{
    for (; i < len; i++) {
        if (s[i] == '\n')
            return i + 1;
        if (s[i] == '\r')
            return i + 1 < len && s[i + 1] == '\n' ? i + 2 : i + 1;
    }
    return len;
}

static bool line_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != '\r' && s[i] != '\n' && s[i] != ' ' && s[i] != '\t')
            return false;
    return true;
}

/* Parse the whole file into r; false (message printed) when it is not CSV
 * or memory ran out (r->out_of_memory). */
static bool read_answers(const char *body, size_t len, reader_t *r)
{
    struct csv_parser p;
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0)
        return false;
    csv_set_space_func(&p, no_space);
    bool ok = true;
    r->between = true;
    /* a spreadsheet's "CSV UTF-8" starts with a byte-order mark: not part of
     * the first column's name */
    size_t at = len >= 3 && memcmp(body, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    while (ok && at < len) {
        size_t end = line_end(body, len, at);
        r->line++;
        if (r->between)
            r->start_line = r->line;
        r->row_ended = false;
        if (csv_parse(&p, body + at, end - at, on_field, on_record, r) != end - at) {
            fprintf(stderr, "bpjs import: line %d is not valid CSV\n", r->line);
            ok = false;
        }
        r->between = r->row_ended || (r->between && line_blank(body + at, end - at));
        at = end;
    }
    if (ok && csv_fini(&p, on_field, on_record, r) != 0) {
        fprintf(stderr, "bpjs import: a quoted field is never closed (from line %d)\n",
                r->start_line);
        ok = false;
    }
    csv_free(&p);
    if (ok && r->out_of_memory) {
        fprintf(stderr, "bpjs import: out of memory\n");
        ok = false;
    }
    return ok;
}

/* Why a row cannot be applied, or NULL when its fields are well formed;
 * normalises the NIK (separators removed) and the month (first day). */
static const char *row_problem(answer_row_t *row, char month[11])
{
    nik_t nik;
    const char *status = row->field[F_STATUS] ? row->field[F_STATUS] : "";
    const char *kpj = row->field[F_KPJ] ? row->field[F_KPJ] : "";
    const char *reason = row->field[F_REASON] ? row->field[F_REASON] : "";
    const char *m = row->field[F_MONTH] ? row->field[F_MONTH] : "";
    bool registered = strcmp(status, "registered") == 0;
    period_t p;
    month[0] = '\0';
    if (!row->field[F_NIK] || nik_parse(row->field[F_NIK], date_today(), &nik) != NIK_OK)
        return "bad field nik: not a valid NIK";
    snprintf(row->field[F_NIK], strlen(row->field[F_NIK]) + 1, "%s", nik.digits);
    if (!registered && strcmp(status, "refused") != 0)
        return "bad field status: must be registered or refused";
    if (registered && (strlen(kpj) < 5 || strlen(kpj) > 20 ||
                       strspn(kpj, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq"
                                   "rstuvwxyz") != strlen(kpj)))
        return "bad field kpj: a registered row needs a KPJ number (5 to 20 letters or "
               "digits)";
    if (!registered && (!reason[0] || strlen(reason) > MAX_REASON))
        return "bad field reason: a refused row needs a reason (at most 500 characters)";
    if ((registered || m[0]) && !period_parse(m, &p))
        return "bad field effective_month: must be YYYY-MM";
    if (m[0])
        date_format(period_first_day(p), month);
    return NULL;
}

static const char *result_text(const char *result)
{
    static const char *const texts[][2] = {
        {"unknown_nik", "no enrolment of this NIK"},
        {"not_pending", "no enrolment of this NIK is pending at BPJS (the latest is "
                        "registered already, or refused)"},
        {"kpj_taken", "the KPJ is another NIK's"},
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        if (strcmp(result, texts[i][0]) == 0)
            return texts[i][1];
    return result;
}

typedef struct {
    int registered, refused, skipped, unmatched;
} tally_t;

/* One row, applied whole or not at all by bpjs_apply (one statement). */
static void apply_row(db_t *db, answer_row_t *row, tally_t *t)
{
    char month[11], masked[NIK_MASKED_LEN + 1];
    const char *problem = row_problem(row, month);
    if (problem) {
        printf("line %d: %s\n", row->line, problem);
        t->unmatched++;
        return;
    }
    nik_mask(row->field[F_NIK], masked);
    bool registered = strcmp(row->field[F_STATUS], "registered") == 0;
    const char *params[] = {
        row->field[F_NIK], registered ? row->field[F_KPJ] : NULL, row->field[F_STATUS],
        registered ? NULL : row->field[F_REASON], month[0] ? month : NULL};
    PGresult *r = db_exec(db, SQL_APPLY, 5, params);
    const char *result =
        db_ok(r) && PQntuples(r) == 1 ? PQgetvalue(r, 0, AP_RESULT) : NULL;
    if (!result) {
        printf("line %d: %s: not applied: %s\n", row->line, masked, db_error(db));
        t->unmatched++;
    } else if (strcmp(result, "registered") == 0 || strcmp(result, "refused") == 0) {
        printf("line %d: %s: enrolment %s %s\n", row->line, masked,
               PQgetvalue(r, 0, AP_ENROLMENT), result);
        *(registered ? &t->registered : &t->refused) += 1;
    } else if (strcmp(result, "already") == 0) {
        t->skipped++;
    } else {
        printf("line %d: %s: not matched: %s\n", row->line, masked, result_text(result));
        t->unmatched++;
    }
    PQclear(r);
}

static char *read_whole(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(MAX_FILE_BYTES + 1);
    if (!buf) {
        fclose(f);
        return NULL;
    }
    *len = fread(buf, 1, MAX_FILE_BYTES + 1, f);
    bool ok = !ferror(f) && *len <= MAX_FILE_BYTES;
    fclose(f);
    if (!ok) {
        free(buf);
        return NULL;
    }
    buf[*len] = '\0';
    return buf;
}

static char *hex_of(const char *body, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    char *hex = malloc(len * 2 + 1);
    if (!hex)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        hex[2 * i] = digits[(unsigned char)body[i] >> 4];
        hex[2 * i + 1] = digits[(unsigned char)body[i] & 15];
    }
    hex[len * 2] = '\0';
    return hex;
}

/* The same file imported before: say so; true when it was. */
static bool import_seen(db_t *db, const char *hex, const char *path, int *rc)
{
    const char *params[] = {hex};
    PGresult *r = db_exec(db, SQL_IMPORT_SEEN, 1, params);
    bool seen = db_ok(r) && PQntuples(r) == 1;
    if (!db_ok(r)) {
        fprintf(stderr, "bpjs import: %s\n", db_error(db));
        *rc = 1;
        seen = true;
    } else if (seen) {
        printf("%s was imported already (import %s of %s, as %s: %s rows, %s applied, %s "
               "already applied, %s not matched); nothing changed\n",
               path, PQgetvalue(r, 0, IS_ID), PQgetvalue(r, 0, IS_AT),
               PQgetvalue(r, 0, IS_FILE), PQgetvalue(r, 0, IS_ROWS),
               PQgetvalue(r, 0, IS_MATCHED), PQgetvalue(r, 0, IS_SKIPPED),
               PQgetvalue(r, 0, IS_UNMATCHED));
        *rc = 0;
    }
    PQclear(r);
    return seen;
}

static bool header_complete(const reader_t *r)
{
    bool seen[FIELDS] = {false};
    for (int c = 0; c < r->width; c++)
        if (r->column[c] >= 0)
            seen[r->column[c]] = true;
    for (int f = 0; f < FIELDS; f++)
        if (!seen[f]) {
            fprintf(stderr,
                    "bpjs import: the header has no column %s (nik, kpj, status, reason, "
                    "effective_month); nothing applied\n",
                    FIELD_NAME[f]);
            return false;
        }
    return true;
}

static int import_rows(db_t *db, reader_t *rd, const char *path, const char *hex)
{
    tally_t t = {0};
    for (int i = 0; i < rd->n; i++)
        apply_row(db, &rd->rows[i], &t);
    char rows[16], matched[16], skipped[16], unmatched[16];
    snprintf(rows, sizeof rows, "%d", rd->n);
    snprintf(matched, sizeof matched, "%d", t.registered + t.refused);
    snprintf(skipped, sizeof skipped, "%d", t.skipped);
    snprintf(unmatched, sizeof unmatched, "%d", t.unmatched);
    const char *params[] = {path, hex, rows, matched, skipped, unmatched};
    PGresult *r = db_exec(db, SQL_IMPORT_RECORD, 6, params);
    if (!db_ok(r))
        fprintf(stderr, "bpjs import: the import could not be recorded: %s\n",
                db_error(db));
    printf("import %s: %d rows: %d registered, %d refused, %d already applied, %d not "
           "matched\n",
           db_ok(r) ? PQgetvalue(r, 0, IR_ID) : "(not recorded)", rd->n, t.registered,
           t.refused, t.skipped, t.unmatched);
    int rc = db_ok(r) && t.unmatched == 0 ? 0 : 1;
    PQclear(r);
    return rc;
}

static void reader_free(reader_t *r)
{
    for (int i = 0; i < r->n; i++)
        for (int f = 0; f < FIELDS; f++)
            free(r->rows[i].field[f]);
    for (int f = 0; f < FIELDS; f++)
        free(r->cur.field[f]);
    free(r->rows);
}

static int import_locked(db_t *db, const char *path, const char *body, size_t len)
{
    char *hex = hex_of(body, len);
    int rc = 1;
    reader_t rd = {0};
    if (!hex) {
        fprintf(stderr, "bpjs import: out of memory\n");
    } else if (import_seen(db, hex, path, &rc)) {
        /* rc set */
    } else if (!read_answers(body, len, &rd) || !rd.have_header) {
        if (!rd.have_header && !rd.out_of_memory)
            fprintf(stderr, "bpjs import: %s is empty\n", path);
        rc = rd.out_of_memory ? 1 : 2;
    } else if (!header_complete(&rd)) {
        rc = 2;
    } else {
        rc = import_rows(db, &rd, path, hex);
    }
    reader_free(&rd);
    free(hex);
    return rc;
}

static int bpjs_import(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : NULL;
    if (!path || strncmp(path, "--", 2) == 0) {
        fprintf(stderr, "usage: lindungctl bpjs import FILE.csv\n");
        return 2;
    }
    size_t len = 0;
    char *body = read_whole(path, &len);
    if (!body) {
        fprintf(stderr,
                "bpjs import: cannot read %s (or larger than 64 MB, or out of memory)\n",
                path);
        return 1;
    }
    db_t *db = session_db();
    /* one import at a time, so the same file twice at once is seen as such */
    int rc = 1;
    if (!db) {
        /* said by session_db */
    } else if (!db_run(db, SQL_IMPORT_LOCK, 0, NULL)) {
        fprintf(stderr, "bpjs import: %s\n", db_error(db));
    } else {
        db_pin(db, true); /* the lock is this session's: never go on in another */
        rc = import_locked(db, path, body, len);
        db_run(db, SQL_IMPORT_UNLOCK, 0, NULL);
        db_pin(db, false);
    }
    free(body);
    return rc;
}

/* ---------------------------------------------------------------- unconfirmed */

/* Enrolments pending at BPJS more than $1 days after acceptance, that cover
 * at least one month (a renewal cancelled before it began needs nothing). */
static const char *SQL_UNCONFIRMED =
    "SELECT e.id, e.nik, p.code, e.village_code, to_char(e.start_month, 'YYYY-MM'), "
    "    to_char(e.created_at AT TIME ZONE 'Asia/Jakarta', 'YYYY-MM-DD'), "
    "    coalesce(to_char(e.bpjs_exported_at AT TIME ZONE 'Asia/Jakarta', 'YYYY-MM-DD'), "
    "             ''), "
    "    floor(extract(epoch FROM now() - e.created_at) / 86400)::bigint, e.status "
    "FROM enrolments e "
    "JOIN programs p ON p.id = e.program_id "
    "WHERE e.bpjs_status = 'pending' "
    "  AND e.created_at < now() - make_interval(days => $1::int) "
    "  AND NOT isempty(enrolment_months(e.start_month, e.end_month)) "
    "ORDER BY e.created_at, e.id";

enum {
    UN_ID,
    UN_NIK,
    UN_PROGRAM,
    UN_VILLAGE,
    UN_START,
    UN_ACCEPTED,
    UN_EXPORTED,
    UN_DAYS,
    UN_STATUS
};

static const pgjson_col_t UNCONFIRMED_WHERE[] = {
    {"program_code", UN_PROGRAM, PGJSON_STRING},
    {"village_code", UN_VILLAGE, PGJSON_STRING},
    {"start_month", UN_START, PGJSON_STRING},
    {"accepted_on", UN_ACCEPTED, PGJSON_STRING}};
static const pgjson_col_t UNCONFIRMED_WAIT[] = {{"days_waiting", UN_DAYS, PGJSON_INT},
                                                {"status", UN_STATUS, PGJSON_STRING}};

static cJSON *unconfirmed_json(const PGresult *r, int i, const void *ctx)
{
    (void)ctx;
    char masked[NIK_MASKED_LEN + 1];
    nik_mask(PQgetvalue(r, i, UN_NIK), masked);
    const char *exported = PQgetvalue(r, i, UN_EXPORTED);
    cJSON *o = cJSON_CreateObject();
    return pgjson_whole(
        o,
        pgjson_add_int(o, "enrolment_id", r, i, UN_ID) &&
            cJSON_AddStringToObject(o, "nik", masked) &&
            pgjson_add_cols(o, r, i, UNCONFIRMED_WHERE,
                            PGJSON_NCOLS(UNCONFIRMED_WHERE)) &&
            (exported[0] ? cJSON_AddStringToObject(o, "exported_on", exported) != NULL
                         : cJSON_AddNullToObject(o, "exported_on") != NULL) &&
            pgjson_add_cols(o, r, i, UNCONFIRMED_WAIT, PGJSON_NCOLS(UNCONFIRMED_WAIT)));
}

static void unconfirmed_text(const PGresult *r, long days)
{
    printf("%-10s %-14s %-22s %-15s %-7s %-11s %-11s %s\n", "enrolment", "nik", "program",
           "village", "start", "accepted", "exported", "days");
    for (int i = 0; i < PQntuples(r); i++) {
        char masked[NIK_MASKED_LEN + 1];
        nik_mask(PQgetvalue(r, i, UN_NIK), masked);
        const char *exported = PQgetvalue(r, i, UN_EXPORTED);
        printf("%-10s %-14s %-22s %-15s %-7s %-11s %-11s %s\n", PQgetvalue(r, i, UN_ID),
               masked, PQgetvalue(r, i, UN_PROGRAM), PQgetvalue(r, i, UN_VILLAGE),
               PQgetvalue(r, i, UN_START), PQgetvalue(r, i, UN_ACCEPTED),
               exported[0] ? exported : "never", PQgetvalue(r, i, UN_DAYS));
    }
    printf("%d enrolment%s accepted more than %ld days ago and not yet registered or "
           "refused by BPJS\n",
           PQntuples(r), PQntuples(r) == 1 ? "" : "s", days);
}

static int bpjs_unconfirmed(int argc, char **argv)
{
    long days = 0;
    char err[256];
    if (config_int("LINDUNG_BPJS_CONFIRM_DAYS", DEFAULT_CONFIRM_DAYS, 0, 3650, &days, err,
                   sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    const char *d = args_value(argc, argv, "--days");
    if (d) {
        char *end = NULL;
        days = strtol(d, &end, 10);
        if (!d[0] || *end || strspn(d, "0123456789") != strlen(d) || days > 3650) {
            fprintf(stderr, "usage: lindungctl bpjs unconfirmed [--days N] [--json]\n");
            return 2;
        }
    }
    db_t *db = session_db();
    if (!db)
        return 1;
    char text[16];
    snprintf(text, sizeof text, "%ld", days);
    const char *params[] = {text};
    PGresult *r = db_exec(db, SQL_UNCONFIRMED, 1, params);
    if (!db_ok(r)) {
        fprintf(stderr, "bpjs unconfirmed: %s\n", db_error(db));
        PQclear(r);
        return 1;
    }
    int rc = 0;
    if (args_flag(argc, argv, "--json")) {
        rc = session_print_json(pgjson_rows(r, unconfirmed_json, NULL));
    } else {
        unconfirmed_text(r, days);
    }
    PQclear(r);
    return rc;
}

/* ---------------------------------------------------------------- dispatch */

static const char *USAGE =
    "usage: lindungctl bpjs export [--since YYYY-MM-DD] [--program CODE] [--all]\n"
    "                  --format csv|xlsx --out FILE\n"
    "                  newly accepted participants for BPJS registration (full NIKs);\n"
    "                  marks them sent\n"
    "       lindungctl bpjs import FILE.csv\n"
    "                  BPJS's answer (nik, kpj, status, reason, effective_month);\n"
    "                  exit 1 when a row was not applied\n"
    "       lindungctl bpjs unconfirmed [--days N] [--json]\n"
    "                  enrolments BPJS has not answered N days after acceptance\n"
    "                  (default LINDUNG_BPJS_CONFIRM_DAYS, 14)\n";

void bpjs_usage(FILE *out)
{
    fputs(USAGE, out);
}

int bpjs_main(int argc, char **argv)
{
    int rest = argc - 1;
    char **args = argv + 1;
    const char *verb = rest > 0 ? args[0] : "";
    int (*fn)(int, char **) = strcmp(verb, "export") == 0        ? bpjs_export
                              : strcmp(verb, "import") == 0      ? bpjs_import
                              : strcmp(verb, "unconfirmed") == 0 ? bpjs_unconfirmed
                                                                 : NULL;
    if (args_flag(rest, args, "--help") || args_flag(rest, args, "-h")) {
        fputs(USAGE, stdout);
        return 0;
    }
    if (!fn) {
        fputs(USAGE, stderr);
        return 2;
    }
    int rc = fn(rest, args); /* each connects once its arguments are checked */
    session_close();
    return rc;
}
