/* accrual: billing as set-based SQL, one transaction per run: lock the month,
 * end lapsed enrolments, open invoices, insert lines, grow invoice totals by
 * exactly the lines inserted. A month's first run loads its partition in
 * parts, each written by a session of its own and attached by the run's
 * transaction (011_accrual_parts.sql); a re-run reads only enrolments newer
 * than what the month's earlier runs saw (docs/billing.md, "How a run is made
 * fast").
 * Rounding (docs/billing.md): integer arithmetic, half up, per component, the
 * same as premium.c; the premium SQL is accrual_premiums() in
 * 011_accrual_parts.sql (accrual_due() adds the invoice). No floating point
 * touches money. Not the schedule (schedule.c) nor logging of runs
 * (billing.c). */
#include "accrual.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"

#define LAPSE_LOG_MAX 100
#define LOAD_PARTS_MAX 16

/* Sessions that write a month's first load (accrual_set_load_parts), and
 * the memory their index sorts share (accrual_set_load_memory). */
static int load_parts = 2;
static int load_memory_mb = 512;

/* One run per month at a time, across every billing process. */
static const char *SQL_LOCK_MONTH = "SELECT pg_advisory_xact_lock(4242, $1::int)";

static const char *SQL_RATES_IN_FORCE =
    "SELECT (SELECT count(*) FROM premium_rates "
    "        WHERE component = 'JKK' AND effective_month <= $1) > 0 "
    "    AND (SELECT count(*) FROM premium_rates "
    "         WHERE component = 'JKM' AND effective_month <= $1) > 0";

static const char *SQL_RUN_BEFORE =
    "SELECT EXISTS (SELECT 1 FROM billing_runs "
    "               WHERE period = $1 AND finished_at IS NOT NULL)";

/* The watermark of a run: the highest enrolment id such that every
 * enrolment at or below it is committed (or never will be). SHARE mode waits
 * for enrolment writes in flight (verify's batches, lindungctl enrolment end)
 * and lets none start until the id is read; it is released at once, so
 * verify pauses for at most one of its batches. Taken before the run's own
 * transaction, whose statements then see every enrolment up to it. */
static const char *SQL_LOCK_ENROLMENTS = "LOCK TABLE enrolments IN SHARE MODE";
static const char *SQL_LOCK_TIMEOUT = "SET LOCAL lock_timeout = '10s'";
static const char *SQL_WATERMARK = "SELECT coalesce(max(id), 0) FROM enrolments";

/* The programme data that decides whether an enrolment is billed in a month:
 * which programmes exist, their coverage starts and ends. A re-run may skip
 * old enrolments only if this is unchanged since the run that saw them. */
static const char *SQL_PROGRAMS_MARK =
    "SELECT md5(coalesce(string_agg(id || ':' || coverage_start::text || ':' "
    "                               || coalesce(coverage_end::text, '-'), ',' ORDER BY id), "
    "                    '')) "
    "FROM programs";

/* Enrolments at or below this id were all considered by a finished run of
 * the month under the same programme data: a re-run reads only newer ones.
 * 0 (read everything) when there is no such run. */
static const char *SQL_SEEN_UP_TO =
    "SELECT coalesce(max(enrolment_watermark), 0) "
    "FROM billing_runs "
    "WHERE period = $1 AND finished_at IS NOT NULL AND programs_mark = $2";

/* A month whose partition does not exist has no line at all: its first run
 * loads it in parts (load_month). */
static const char *SQL_FIRST_LOAD =
    "SELECT to_regclass(accrual_partition_name($1::date)) IS NULL";

static const char *SQL_START_RUN =
    "INSERT INTO billing_runs (period, trigger, enrolment_watermark, programs_mark, "
    "    rates_mark) "
    "VALUES ($1, $2, nullif($3, '')::bigint, $4, $5) "
    "RETURNING id";

/* Every payer with an enrolment newer than $2 (or among $3, those whose
 * months changed since the month's last run) active in the month, as three
 * arrays. A SELECT of its own, not the SELECT of the INSERT below, because
 * only a plain SELECT may be grouped by parallel workers (a first load reads
 * every enrolment here). Grouped before any join: a million enrolments have
 * a few hundred payers. One aggregate step fills the three arrays row by
 * row, so their elements stay aligned. */
static const char *SQL_PAYERS =
    "SELECT coalesce(array_agg(g.funding_source), '{}'), "
    "    coalesce(array_agg(g.payer_code), '{}'), "
    "    coalesce(array_agg(g.program_id), '{}') "
    "FROM ("
    "    SELECT e.funding_source, e.payer_code, min(e.program_id) AS program_id "
    "    FROM enrolments e "
    "    JOIN programs pe ON pe.id = e.program_id "
    "    WHERE (e.id > $2::bigint OR e.id = ANY ($3::bigint[])) "
    "        AND e.start_month <= $1::date "
    "        AND (e.end_month IS NULL OR e.end_month >= $1::date) "
    "        AND (pe.coverage_end IS NULL OR pe.coverage_end >= $1::date) "
    "    GROUP BY e.funding_source, e.payer_code"
    ") g";
/* Also SQL_PAYERS_FIRST's: the payers' invoices to open, as arrays. */
enum { PY_FUNDING_SOURCES, PY_PAYERS, PY_PROGRAMS };

/* The same three arrays for a month's first load, where every enrolment
 * counts: the payers are found by stepping through enrolments_payer_idx from
 * one (funding source, payer) to the next, and each is kept when one of its
 * enrolments is billed in the month, with the smallest such programme (the
 * same answer as SQL_PAYERS with $2 = 0, in a few hundred index probes
 * rather than a read of every enrolment). */
static const char *SQL_PAYERS_FIRST =
    "WITH RECURSIVE payer AS ( "
    "    (SELECT funding_source, payer_code "
    "     FROM enrolments "
    "     ORDER BY funding_source, payer_code "
    "     LIMIT 1) "
    "    UNION ALL "
    "    SELECT n.funding_source, n.payer_code "
    "    FROM payer p "
    "    CROSS JOIN LATERAL ("
    "        SELECT e.funding_source, e.payer_code "
    "        FROM enrolments e "
    "        WHERE (e.funding_source, e.payer_code) > (p.funding_source, p.payer_code) "
    "        ORDER BY e.funding_source, e.payer_code "
    "        LIMIT 1"
    "    ) n"
    ") "
    "SELECT coalesce(array_agg(g.funding_source), '{}'), "
    "    coalesce(array_agg(g.payer_code), '{}'), "
    "    coalesce(array_agg(g.program_id), '{}') "
    "FROM payer p "
    "CROSS JOIN LATERAL ("
    "    SELECT p.funding_source, p.payer_code, e.program_id "
    "    FROM enrolments e "
    "    JOIN programs pe ON pe.id = e.program_id "
    "    WHERE e.funding_source = p.funding_source "
    "        AND e.payer_code = p.payer_code "
    "        AND e.start_month <= $1::date "
    "        AND (e.end_month IS NULL OR e.end_month >= $1::date) "
    "        AND (pe.coverage_end IS NULL OR pe.coverage_end >= $1::date) "
    "    ORDER BY e.program_id "
    "    LIMIT 1"
    ") g";

/* A document of this run ($5) for each of those payers ($2..$4, SQL_PAYERS),
 * named after the company (CSR) or the region: the month's invoice when the
 * payer has none for the month yet, otherwise a supplementary invoice.
 * Issued documents never change (013): late lines never go on them. Due by
 * the 15th of the month (BPJS), or 14 days after issue when issued later.
 * A document that gets no line is removed before the run commits
 * (SQL_DROP_EMPTY). */
static const char *SQL_OPEN_INVOICES =
    "INSERT INTO invoices (period, funding_source, payer_code, payer_name, due_date, "
    "    kind, run_id) "
    "SELECT $1::date, g.funding_source, g.payer_code, "
    "    coalesce(CASE WHEN g.funding_source = 'CSR' THEN p.payer_name END, r.name, "
    "        g.payer_code), "
    "    greatest($1::date + 14, (now() AT TIME ZONE 'Asia/Jakarta')::date + 14), "
    "    CASE WHEN EXISTS (SELECT 1 FROM invoices f "
    "                      WHERE f.period = $1::date "
    "                          AND f.funding_source = g.funding_source "
    "                          AND f.payer_code = g.payer_code AND f.kind = 'invoice') "
    "        THEN 'supplementary' ELSE 'invoice' END, "
    "    $5::bigint "
    "FROM unnest($2::text[], $3::text[], $4::int[]) "
    "    AS g (funding_source, payer_code, program_id) "
    "JOIN programs p ON p.id = g.program_id "
    "LEFT JOIN regions r ON r.code = g.payer_code "
    "ORDER BY g.funding_source, g.payer_code "
    "ON CONFLICT DO NOTHING";

/* The payer-months this run issued a document to: their payments without a
 * list allocated again (040), so that a credit note issued after a payment
 * moves that payment to the people still owed. */
static const char *SQL_FOLLOW_PAYMENTS = "SELECT payments_follow_run($1::bigint)";

/* This run's documents that got nothing: never issued. */
static const char *SQL_DROP_EMPTY = "DELETE FROM invoices "
                                    "WHERE run_id = $1::bigint AND line_count = 0";

/* A month's first run (see SQL_FIRST_LOAD), in parts. Nothing to load when
 * nobody is billed for the month: it then gets no partition, so a start-up
 * catch-up over empty years costs no DDL. Asked of the tables, not of
 * accrual_premiums(): PostgreSQL planned EXISTS over that function as a
 * loop over programmes around all enrolments, materialised (14 s at 10
 * million, docs/benchmarks.md). This asks for a little more than the
 * function gives (no rates, no transport flag), which at worst loads
 * nothing into a new partition; it never says no when a line is due. The
 * programmes first: a month before any programme reads no enrolment. */
static const char *SQL_ANY_DUE =
    "SELECT EXISTS (SELECT 1 FROM programs p "
    "               WHERE p.coverage_start <= $1::date "
    "                   AND (p.coverage_end IS NULL OR p.coverage_end >= $1::date)) "
    "    AND EXISTS (SELECT 1 FROM enrolments e "
    "                JOIN programs p ON p.id = e.program_id "
    "                WHERE e.start_month <= $1::date "
    "                    AND (e.end_month IS NULL OR e.end_month >= $1::date) "
    "                    AND p.coverage_start <= $1::date "
    "                    AND (p.coverage_end IS NULL OR p.coverage_end >= $1::date))";

/* The documents this run ($2) opened for lines, as three aligned arrays, for
 * the part sessions, which cannot see them. */
static const char *SQL_INVOICE_MAP =
    "SELECT coalesce(array_agg(id ORDER BY id), '{}'), "
    "    coalesce(array_agg(funding_source ORDER BY id), '{}'), "
    "    coalesce(array_agg(payer_code ORDER BY id), '{}') "
    "FROM invoices "
    "WHERE period = $1 AND run_id = $2::bigint AND kind <> 'credit_note'";
enum { IM_IDS, IM_FUNDING_SOURCES, IM_PAYERS };

/* Enrolment ids are split into equal ranges, one per part. */
static const char *SQL_ID_RANGE =
    "SELECT coalesce(min(id), 0), coalesce(max(id), 0) FROM enrolments";
enum { IR_LOWEST, IR_HIGHEST };

/* The run's snapshot, for the parts to read (SET TRANSACTION SNAPSHOT). */
static const char *SQL_EXPORT_SNAPSHOT = "SELECT pg_export_snapshot()";
static const char *SQL_PART_BEGIN =
    "BEGIN ISOLATION LEVEL REPEATABLE READ; SET TRANSACTION SNAPSHOT ";

/* A part's share of the load's index memory, for this transaction only
 * (012_accrual_load_memory.sql). */
static const char *SQL_PART_MEMORY =
    "SELECT set_config('maintenance_work_mem', $1, true)";

/* One part, in its own session, committed there once every part is written. The leading
 * comment names the statement in pg_stat_activity (the crash test watches for it). */
static const char *SQL_PART_LOAD =
    "/* accrual_run: INSERT INTO accruals, first load */ "
    "SELECT invoice_id, lines, amount "
    "FROM accrual_part_load($1::date, $2::int, nullif($3, '')::bigint, "
    "    nullif($4, '')::bigint, $5::bigint, $6::boolean, $7::bigint[], $8::bigint[], "
    "    $9::text[], $10::text[])";
enum { PL_INVOICE, PL_LINES, PL_RUPIAH };

/* Back in the run's transaction: the parts become the month's partition. */
static const char *SQL_PARTS_ATTACH =
    "SELECT accrual_parts_attach($1::date, $2::bigint[])";

/* Before that, still in the run's transaction: the lines the parts wrote for
 * enrolments the run's lapse check ended (043_accrual_parts_unload.sql),
 * as negative (lines, rupiah) per invoice, aligned as a part's answer. */
static const char *SQL_PARTS_UNLOAD =
    "SELECT invoice_id, lines, amount FROM accrual_parts_unload($1::date, $2::int, "
    "$3::bigint, $4::bigint[])";

/* Taken just before the parts' snapshot: coverage changes stamped since
 * (less an hour, as SQL_RECONCILE_SCOPE: the stamp is the update's time,
 * not its commit's) may be missing from the snapshot. */
static const char *SQL_LOAD_SINCE =
    "SELECT (clock_timestamp() - interval '1 hour')::text";

/* Who must not keep a line of month $2 from the parts: the enrolments the
 * lapse check ended or cancelled ($1), and any other whose coverage changed
 * since $3 and no longer covers the month (an end committed by another
 * session while the parts wrote, which their snapshot missed: a review;
 * this session sees it). One that still covers the month keeps its line.
 * Ends committed after this are the next sweep's, as for any run. */
static const char *SQL_NOT_DUE =
    "SELECT coalesce(array_agg(x.id), '{}') FROM ("
    "    SELECT unnest($1::bigint[]) AS id "
    "    UNION "
    "    SELECT e.id FROM enrolments e "
    "    WHERE e.coverage_changed_at >= $3::timestamptz "
    "        AND NOT (e.start_month <= $2::date "
    "                 AND (e.end_month IS NULL OR e.end_month >= $2::date))"
    ") x";

/* Each invoice grows by exactly the lines its parts wrote ($1..$3, the
 * parts' own counts and sums, aligned). */
static const char *SQL_ADD_TOTALS =
    "WITH t AS ("
    "    SELECT invoice_id, sum(lines) AS n, sum(amount) AS total "
    "    FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) "
    "        AS t (invoice_id, lines, amount) "
    "    GROUP BY invoice_id"
    "), "
    "upd AS ("
    "    UPDATE invoices i "
    "    SET total = i.total + t.total, line_count = i.line_count + t.n, "
    "        updated_at = now() "
    "    FROM t "
    "    WHERE i.id = t.invoice_id "
    "    RETURNING t.n, t.total"
    ") "
    "SELECT coalesce(sum(n), 0), coalesce(sum(total), 0) FROM upd";
/* The (lines, rupiah) row that SQL_ADD_TOTALS, SQL_ACCRUE and SQL_DIFF_LINES answer. */
enum { TOTAL_LINES, TOTAL_RUPIAH };

/* A re-run: lines for enrolments newer than $4 (SQL_SEEN_UP_TO) that have
 * none for the month, each on this run's document for its payer. The NOT
 * EXISTS skips what was accrued before; the unique (enrolment_id, period)
 * index is what guarantees exactly once. Each document grows by exactly the
 * lines inserted. */
static const char *SQL_ACCRUE =
    "/* accrual_run: INSERT INTO accruals */ "
    "WITH ins AS ("
    "    INSERT INTO accruals (enrolment_id, period, jkk, jkm, amount, invoice_id, "
    "        run_id, supplementary) "
    "    SELECT d.enrolment_id, $1, d.jkk, d.jkm, d.jkk + d.jkm, i.id, $2, $3 "
    "    FROM accrual_premiums($1::date) d "
    "    JOIN invoices i ON i.run_id = $2::bigint AND i.kind <> 'credit_note' "
    "        AND i.funding_source = d.funding_source "
    "        AND i.payer_code = d.payer_code "
    "    WHERE (d.enrolment_id > $4::bigint OR d.enrolment_id = ANY ($5::bigint[])) "
    "        AND NOT EXISTS (SELECT 1 FROM accruals a "
    "                        WHERE a.period = $1 AND a.enrolment_id = d.enrolment_id) "
    "    ON CONFLICT (enrolment_id, period) DO NOTHING "
    "    RETURNING invoice_id, amount"
    "), "
    "per_invoice AS ("
    "    SELECT invoice_id, count(*) AS n, sum(amount) AS total "
    "    FROM ins "
    "    GROUP BY invoice_id"
    "), "
    "upd AS ("
    "    UPDATE invoices i "
    "    SET total = i.total + p.total, line_count = i.line_count + p.n, "
    "        updated_at = now() "
    "    FROM per_invoice p "
    "    WHERE i.id = p.invoice_id "
    "    RETURNING p.n, p.total"
    ") "
    "SELECT coalesce(sum(n), 0), coalesce(sum(total), 0) FROM upd";

/* Lapse (BPJS: after more than 3 consecutive unpaid months membership
 * ends), judged per person. Before month $1 is accrued: an enrolment whose
 * own lines of the three previous months are all unpaid past their due date
 * ($2 is today in Jakarta) ends with end_month = $1 - 1 month, the last of
 * the three grace months, so a fourth unpaid month is never billed; any
 * later enrolment of the person with the same payer (next year's renewal,
 * already accepted; one a recorded move has ended too) is cancelled with it (lapsed,
 * covering nothing), as a renewal queued after the lapse would never have been made. One
 * another budget pays for (a sponsor elsewhere) is not this payer's to end. A line counts
 * only when its document was issued on time (by the 15th of its month): a month billed
 * late cannot lapse anyone. The three months are the person's: a continuation (a
 * transfer, next year's renewal) counts its previous enrolments' lines (two back: three
 * months hold at most three enrolments) when the same payer pays them (one starting later
 * than $1 is left to be cancelled with its lapsed predecessor). An enrolment a move ends
 * at $1 or later (recorded before this run) lapses as an active one would, and its
 * continuation is cancelled with it; a new payer starts a new count. A line is unpaid
 * while what payments allocated to it is less than its net charge: the line, its credits,
 * and the extra charges on documents issued on time and past due (an increase billed
 * late, a re-rating, is not yet owed and lapses nobody). Someone else's unpaid or
 * disputed line on the same invoice never lapses a person. An enrolment with a line from
 * $1 to the current month is left alone (a re-run of an old month must not end someone in
 * the past); a line billed in advance, for a month still to come, does not protect
 * anyone. Why it is cheap when most payers pay (docs/benchmarks.md, "Lapse"):
 *   - a person's lines are all on their payer's documents, so only payers
 *     with an unpaid, on-time document in each of the three months can have
 *     anyone lapse (payers); everyone else costs nothing;
 *   - their people are found through enrolments_payer_idx and their lines
 *     through the (enrolment_id, period) key;
 *   - a person-month's allocations come from payments to any document of
 *     its payer and month (its invoice, a supplementary invoice that
 *     reinstated it), so they are probed only where the payer paid
 *     something for that month (some_paid); a payer that paid nothing for
 *     the month has no allocation to find;
 *   - corrections of the three months are few: summed once and hashed. */
static const char *SQL_LAPSE =
    "WITH docs AS MATERIALIZED ( "
    "    SELECT b.id, b.period, b.funding_source, b.payer_code, "
    "        EXISTS (SELECT 1 FROM invoices o JOIN payments p ON p.invoice_id = o.id "
    "                WHERE o.period = b.period AND o.funding_source = b.funding_source "
    "                    AND o.payer_code = b.payer_code) AS some_paid "
    "    FROM invoice_balances b "
    "    WHERE b.period >= ($1::date - interval '3 months')::date AND b.period < $1 "
    "        AND b.kind <> 'credit_note' AND b.outstanding > 0 AND b.due_date < $2::date "
    "        AND (b.issued_at AT TIME ZONE 'Asia/Jakarta')::date <= b.period + 14"
    "), "
    "payers AS MATERIALIZED ( "
    "    SELECT funding_source, payer_code "
    "    FROM docs "
    "    GROUP BY funding_source, payer_code "
    "    HAVING count(DISTINCT period) = 3"
    "), "
    "fixes AS MATERIALIZED ( "
    "    SELECT la.enrolment_id, la.period, sum(la.amount) AS amount "
    "    FROM line_adjustments la JOIN invoices i ON i.id = la.invoice_id "
    "    WHERE la.period >= ($1::date - interval '3 months')::date AND la.period < $1 "
    "        AND (la.amount < 0 "
    "             OR (i.due_date < $2::date "
    "                 AND (i.created_at AT TIME ZONE 'Asia/Jakarta')::date "
    "                     <= la.period + 14)) "
    "    GROUP BY la.enrolment_id, la.period"
    "), "
    "late AS ("
    "    SELECT c.id AS enrolment_id "
    "    FROM payers p "
    "    JOIN enrolments c ON c.funding_source = p.funding_source "
    "        AND c.payer_code = p.payer_code "
    "    LEFT JOIN enrolments pv ON pv.id = c.previous_enrolment_id "
    "        AND pv.funding_source = c.funding_source AND pv.payer_code = c.payer_code "
    "    LEFT JOIN enrolments pv2 ON pv2.id = pv.previous_enrolment_id "
    "        AND pv2.funding_source = c.funding_source AND pv2.payer_code = c.payer_code "
    "    JOIN accruals a ON a.enrolment_id = ANY (ARRAY[c.id, pv.id, pv2.id]) "
    "        AND a.period >= ($1::date - interval '3 months')::date "
    "        AND a.period < $1 "
    "    JOIN docs d ON d.id = a.invoice_id "
    "    LEFT JOIN fixes f ON f.enrolment_id = a.enrolment_id AND f.period = a.period "
    "    WHERE (c.status = 'active' "
    "           OR (c.end_reason = 'moved' AND c.end_month >= $1)) "
    "        AND c.start_month <= $1 "
    "        AND coalesce(pv2.start_month, pv.start_month, c.start_month) "
    "            <= ($1::date - interval '3 months')::date "
    "        AND a.amount + coalesce(f.amount, 0) > "
    "            CASE WHEN d.some_paid "
    "                THEN coalesce((SELECT sum(pl.amount) FROM payment_lines pl "
    "                               WHERE pl.enrolment_id = a.enrolment_id "
    "                                   AND pl.period = a.period), 0) "
    "                ELSE 0 END "
    "    GROUP BY c.id "
    "    HAVING count(*) = 3"
    "), "
    /* late's condition again: an end committed meanwhile (a death, a
     * move) is re-checked here, on the row's newest version, and wins */
    "lapsed AS ("
    "    UPDATE enrolments e "
    "    SET status = 'ended', end_reason = 'lapsed', ended_at = now(), "
    "        end_month = ($1::date - interval '1 month')::date "
    "    FROM late l "
    "    WHERE e.id = l.enrolment_id "
    "        AND (e.status = 'active' OR (e.end_reason = 'moved' AND e.end_month >= $1)) "
    "        AND NOT EXISTS (SELECT 1 FROM accruals x "
    "                        WHERE x.enrolment_id = e.id AND x.period >= $1 "
    "                            AND x.period <= date_trunc('month', $2::date)) "
    "    RETURNING e.id, e.nik, e.funding_source, e.payer_code, e.end_month"
    "), "
    "later AS ("
    "    UPDATE enrolments e "
    "    SET status = 'ended', end_reason = 'lapsed', ended_at = now(), "
    "        end_month = (e.start_month - interval '1 month')::date "
    "    FROM lapsed l "
    "    WHERE e.nik = l.nik AND e.start_month > l.end_month "
    "        AND (e.status = 'active' OR (e.end_reason = 'moved' AND e.end_month >= $1)) "
    "        AND e.funding_source = l.funding_source AND e.payer_code = l.payer_code "
    "        AND NOT EXISTS (SELECT 1 FROM lapsed x WHERE x.id = e.id) "
    "    RETURNING e.id, e.nik, e.payer_code, e.end_month"
    ") "
    "SELECT id, nik, payer_code, to_char(end_month, 'YYYY-MM'), false FROM lapsed "
    "UNION ALL "
    "SELECT id, nik, payer_code, to_char(end_month, 'YYYY-MM'), true FROM later "
    "ORDER BY 5, 1";
enum { LA_ID, LA_NIK, LA_PAYER, LA_END_MONTH, LA_CANCELLED };

/* The lapse check's people are few against all lines of three months:
 * their lines are best found through accruals_line_key. PostgreSQL's
 * default random_page_cost (4, a spinning disk's) made it read every line
 * of the three months instead: at 10 million enrolments, its reading took
 * 18.6 s against 5.7 s when one payer in a hundred is late, and 46.6 s
 * against 41.2 s when one in ten is. 1.1 is the usual figure for an SSD or
 * a database held in memory. For this statement only, within the run's
 * transaction (docs/benchmarks.md, "Lapse at national size"). */
static const char *SQL_LAPSE_COSTS = "SET LOCAL random_page_cost = 1.1";
static const char *SQL_LAPSE_COSTS_RESET = "SET LOCAL random_page_cost TO DEFAULT";

/* A programme's coverage_end is a real end: once its last month is past
 * ($1, the current month in Jakarta), its enrolments still active end with
 * program_ended (their end_month is already the programme's last month).
 * In two steps, because one join let the planner scan every enrolment in
 * every run (1.6-2.2 s at 10 million, docs/benchmarks.md): it reckoned the
 * enrolments with an end_month the fewer side, which they are not once
 * annual programmes hold most people. First the ended programmes that still
 * have an active enrolment, one probe each of enrolments_village_idx (most
 * runs stop here, with nothing to end); then their enrolments, by id. */
static const char *SQL_PROGRAMS_ENDING =
    "SELECT coalesce(array_agg(p.id), '{}') "
    "FROM programs p "
    "WHERE p.coverage_end < $1::date "
    "    AND EXISTS (SELECT 1 FROM enrolments e "
    "                WHERE e.program_id = p.id AND e.status = 'active')";
static const char *SQL_PROGRAMS_ENDED =
    "UPDATE enrolments e "
    "SET status = 'ended', end_reason = 'program_ended', ended_at = now() "
    "WHERE e.program_id = ANY ($1::int[]) AND e.status = 'active' "
    "    AND e.end_month IS NOT NULL AND e.end_month < $2::date";

/* What this run bills under (013_money_rules.sql: rates, reliefs, insured
 * incomes, coverage ends). */
static const char *SQL_RATES_MARK = "SELECT billing_rates_mark()";

/* Whether the month's lines must be compared with what is due now: all of
 * them when the month was last billed under other rates ('all'); otherwise
 * those of enrolments whose months changed since about when it was last
 * billed (ended, cancelled, or an end undone: coverage_changed_at, 016) ('some'; the
 * hour's margin covers an end committed while that run was starting, and a comparison
 * finds nothing twice); 'none' when the month has no line yet. */
static const char *SQL_RECONCILE_SCOPE =
    "SELECT CASE WHEN to_regclass(accrual_partition_name($1::date)) IS NULL THEN 'none' "
    "            WHEN (SELECT rates_mark FROM billing_runs "
    "                  WHERE period = $1 AND finished_at IS NOT NULL "
    "                  ORDER BY id DESC LIMIT 1) "
    "                 IS DISTINCT FROM $2 THEN 'all' "
    "            ELSE 'some' END, "
    "    coalesce((SELECT max(started_at) - interval '1 hour' FROM billing_runs "
    "              WHERE period = $1 AND finished_at IS NOT NULL)::text, '-infinity')";
enum { RS_SCOPE, RS_SINCE };

static const char *SQL_ENDED_SINCE = "SELECT coalesce(array_agg(id), '{}') "
                                     "FROM enrolments "
                                     "WHERE coverage_changed_at >= $1::timestamptz";

/* Corrections of month $1 by run $2: for every line billed in the month
 * (of enrolments $3, or all when NULL), its net charge (the line plus its
 * adjustments) against what is due for it now (accrual_premiums: today's
 * rates, reliefs, insured income and coverage; nothing once the enrolment
 * ended before the month). Each difference becomes an adjustment line: a
 * reduction on a credit note, an increase on a supplementary invoice, both
 * documents of this run. Issued documents are never touched. */
static const char *SQL_DIFF =
    "CREATE TEMP TABLE reconcile_diff ON COMMIT DROP AS "
    "WITH billed AS ( "
    "    SELECT a.enrolment_id, a.jkk + coalesce(sum(l.jkk), 0) AS jkk, "
    "        a.jkm + coalesce(sum(l.jkm), 0) AS jkm "
    "    FROM accruals a "
    "    LEFT JOIN line_adjustments l "
    "        ON l.enrolment_id = a.enrolment_id AND l.period = a.period "
    "    WHERE a.period = $1::date "
    "        AND ($2::bigint[] IS NULL OR a.enrolment_id = ANY ($2::bigint[])) "
    "    GROUP BY a.enrolment_id, a.jkk, a.jkm"
    "), "
    "due AS ("
    "    SELECT d.enrolment_id, d.jkk, d.jkm "
    "    FROM accrual_premiums($1::date) d "
    "    WHERE $2::bigint[] IS NULL OR d.enrolment_id = ANY ($2::bigint[])"
    ") "
    "SELECT b.enrolment_id, e.funding_source, e.payer_code, "
    "    coalesce(d.jkk, 0) - b.jkk AS jkk, coalesce(d.jkm, 0) - b.jkm AS jkm, "
    "    CASE WHEN d.enrolment_id IS NULL THEN 'ended' "
    "         WHEN b.jkk + b.jkm = 0 THEN 'reinstated' "
    "         ELSE 'rerate' END AS reason "
    "FROM billed b "
    "LEFT JOIN due d ON d.enrolment_id = b.enrolment_id "
    "JOIN enrolments e ON e.id = b.enrolment_id "
    "WHERE coalesce(d.jkk, 0) + coalesce(d.jkm, 0) <> b.jkk + b.jkm";

static const char *SQL_DIFF_DOCS =
    "INSERT INTO invoices (period, funding_source, payer_code, payer_name, due_date, "
    "    kind, run_id) "
    "SELECT $1::date, g.funding_source, g.payer_code, "
    "    coalesce((SELECT f.payer_name FROM invoices f "
    "              WHERE f.period = $1::date "
    "                  AND f.funding_source = g.funding_source "
    "                  AND f.payer_code = g.payer_code "
    "              ORDER BY f.id LIMIT 1), g.payer_code), "
    "    greatest($1::date + 14, (now() AT TIME ZONE 'Asia/Jakarta')::date + 14), "
    "    g.kind, $2::bigint "
    "FROM ("
    "    SELECT DISTINCT funding_source, payer_code, "
    "        CASE WHEN jkk + jkm < 0 THEN 'credit_note' ELSE 'supplementary' END AS kind "
    "    FROM reconcile_diff"
    ") g "
    "ORDER BY 2, 3, 6 "
    "ON CONFLICT DO NOTHING";

static const char *SQL_DIFF_LINES =
    "WITH ins AS ("
    "    INSERT INTO line_adjustments (enrolment_id, period, invoice_id, jkk, jkm, "
    "        amount, reason, run_id) "
    "    SELECT d.enrolment_id, $1::date, i.id, d.jkk, d.jkm, d.jkk + d.jkm, d.reason, "
    "        $2::bigint "
    "    FROM reconcile_diff d "
    "    JOIN invoices i ON i.run_id = $2::bigint "
    "        AND i.funding_source = d.funding_source "
    "        AND i.payer_code = d.payer_code "
    "        AND i.kind = CASE WHEN d.jkk + d.jkm < 0 THEN 'credit_note' "
    "                          ELSE 'supplementary' END "
    "    RETURNING invoice_id, amount"
    "), "
    "per_invoice AS ("
    "    SELECT invoice_id, count(*) AS n, sum(amount) AS total "
    "    FROM ins "
    "    GROUP BY invoice_id"
    "), "
    "upd AS ("
    "    UPDATE invoices i "
    "    SET total = i.total + p.total, line_count = i.line_count + p.n, "
    "        updated_at = now() "
    "    FROM per_invoice p "
    "    WHERE i.id = p.invoice_id "
    "    RETURNING p.n, p.total"
    ") "
    "SELECT coalesce(sum(n), 0), coalesce(sum(total), 0) FROM upd";

static const char *SQL_DIFF_DROP = "DROP TABLE reconcile_diff";

static const char *SQL_FINISH_RUN =
    "UPDATE billing_runs "
    "SET finished_at = now(), lines_added = $2, amount_added = $3 "
    "WHERE id = $1";

static const char *SQL_MONTHS_RUN = "SELECT DISTINCT to_char(period, 'YYYY-MM') "
                                    "FROM billing_runs "
                                    "WHERE finished_at IS NOT NULL "
                                    "ORDER BY 1";

static int fail(db_t *db, accrual_result_t *result, const char *what)
{
    snprintf(result->error, sizeof result->error, "%s: %s", what, db_error(db));
    db_rollback(db);
    return -1;
}

/* One row, one column. */
static bool query_value(db_t *db, const char *sql, int n, const char *const *params,
                        char *out, size_t cap)
{
    PGresult *r = db_exec(db, sql, n, params);
    bool ok = db_ok(r) && PQntuples(r) == 1;
    if (ok)
        snprintf(out, cap, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return ok;
}

/* One column of results as an array literal, "{a,b}": the results of
 * several statements in turn. For columns of numbers (nothing to quote).
 * NULL when out of memory; the caller frees it. */
static char *number_array(PGresult *const *rs, int n, int col)
{
    size_t cap = 3, len = 0;
    for (int k = 0; k < n; k++)
        cap += (size_t)PQntuples(rs[k]) * 21; /* 20 characters of int64, a comma */
    char *s = malloc(cap);
    if (!s)
        return NULL;
    s[len++] = '{';
    for (int k = 0; k < n; k++)
        for (int i = 0; i < PQntuples(rs[k]); i++)
            len += (size_t)snprintf(s + len, cap - len, "%s%.20s", len > 1 ? "," : "",
                                    PQgetvalue(rs[k], i, col));
    snprintf(s + len, cap - len, "}");
    return s;
}

/* End lapsed enrolments before the month is accrued; log each (the NIK is
 * masked by log.c), at most LAPSE_LOG_MAX lines a run, then a count. Their
 * ids go to *ended (an array literal, freed by the caller) for a first load,
 * whose parts do not see this transaction's changes: their lines are taken
 * out of the parts (load_end). */
static int lapse(db_t *db, const char *month, accrual_result_t *result, char **ended)
{
    char today[11];
    date_format(date_today(), today);
    const char *params[] = {month, today};
    if (!db_run(db, SQL_LAPSE_COSTS, 0, NULL))
        return -1;
    PGresult *r = db_exec(db, SQL_LAPSE, 2, params);
    if (db_ok(r) && !db_run(db, SQL_LAPSE_COSTS_RESET, 0, NULL)) {
        PQclear(r);
        return -1;
    }
    if (!db_ok(r)) {
        PQclear(r);
        return -1;
    }
    int n = 0; /* the rows of lapsed enrolments come first, then their later ones */
    while (n < PQntuples(r) && strcmp(PQgetvalue(r, n, LA_CANCELLED), "f") == 0)
        n++;
    result->lapsed = n;
    for (int i = 0; i < n && i < LAPSE_LOG_MAX; i++)
        log_warn("billing.lapsed", "period", month, "enrolment_id",
                 PQgetvalue(r, i, LA_ID), "nik", PQgetvalue(r, i, LA_NIK), "payer",
                 PQgetvalue(r, i, LA_PAYER), "end_month", PQgetvalue(r, i, LA_END_MONTH),
                 "reason", "more than 3 consecutive unpaid months");
    *ended = number_array(&r, 1, LA_ID);
    PQclear(r);
    return *ended ? 0 : -1;
}

/* The watermark (SQL_LOCK_ENROLMENTS), in its own short transaction.
 * Empty when the lock is not granted within 10 s: runs then record no
 * watermark, and the next re-run of their month reads every enrolment. */
void accrual_watermark(db_t *db, char *out, size_t cap)
{
    out[0] = '\0';
    if (!db_begin(db))
        return;
    if (db_run(db, SQL_LOCK_TIMEOUT, 0, NULL) &&
        db_run(db, SQL_LOCK_ENROLMENTS, 0, NULL) &&
        query_value(db, SQL_WATERMARK, 0, NULL, out, cap) && db_commit(db))
        return;
    log_warn("billing.no_watermark", "detail", db_error(db));
    out[0] = '\0';
    db_rollback(db);
}

/* Open the invoices the month's new lines will go to (SQL_PAYERS, or
 * SQL_PAYERS_FIRST for a first load). */
static int open_invoices(db_t *db, const char *month, const char *seen,
                         const char *changed, bool first, const char *run_id)
{
    const char *p_payers[] = {month, seen, changed};
    PGresult *r = first ? db_exec(db, SQL_PAYERS_FIRST, 1, p_payers)
                        : db_exec(db, SQL_PAYERS, 3, p_payers);
    bool ok = db_ok(r) && PQntuples(r) == 1;
    if (ok) {
        const char *p_open[] = {month, PQgetvalue(r, 0, PY_FUNDING_SOURCES),
                                PQgetvalue(r, 0, PY_PAYERS),
                                PQgetvalue(r, 0, PY_PROGRAMS), run_id};
        ok = db_run(db, SQL_OPEN_INVOICES, 5, p_open);
    }
    PQclear(r);
    return ok ? 0 : -1;
}

/* The parts made by load_begin become the month's partition; each invoice
 * grows by exactly the lines its parts kept (`done`: each part's answer,
 * then what load_end took out, negative). */
static int attach_parts(db_t *db, const char *month, char bound[][24], int n,
                        PGresult *const *done, int n_done, accrual_result_t *result)
{
    char bounds[LOAD_PARTS_MAX * 24 + 3] = "{";
    for (int k = 1; k < n; k++)
        snprintf(bounds + strlen(bounds), sizeof bounds - strlen(bounds), "%s%s",
                 k > 1 ? "," : "", bound[k]);
    strcat(bounds, "}");
    const char *p_attach[] = {month, bounds};
    if (!db_run(db, SQL_PARTS_ATTACH, 2, p_attach))
        return -1;
    char *ids = number_array(done, n_done, PL_INVOICE),
         *lines = number_array(done, n_done, PL_LINES),
         *amounts = number_array(done, n_done, PL_RUPIAH);
    const char *p_totals[] = {ids, lines, amounts};
    PGresult *r =
        ids && lines && amounts ? db_exec(db, SQL_ADD_TOTALS, 3, p_totals) : NULL;
    bool ok = db_ok(r) && PQntuples(r) == 1;
    if (ok) {
        result->lines_added = strtoll(PQgetvalue(r, 0, TOTAL_LINES), NULL, 10);
        result->amount_added = strtoll(PQgetvalue(r, 0, TOTAL_RUPIAH), NULL, 10);
    }
    PQclear(r);
    free(ids);
    free(lines);
    free(amounts);
    return ok ? 0 : -1;
}

/* The sessions writing one first load, and the first of them to fail. */
typedef struct {
    int n;
    db_t *db[LOAD_PARTS_MAX];
    PGconn *conn[LOAD_PARTS_MAX]; /* NULL: not started */
    PGresult *done[LOAD_PARTS_MAX];
    int failed; /* -1: none; n: the run itself (parts_abandon) */
    char error[200];
    char bound[LOAD_PARTS_MAX + 1][24]; /* part k: ids from bound k to bound k+1 */
    char since[48];                     /* SQL_LOAD_SINCE */
} parts_t;

/* Part k failed: keep the first failure's message, and cancel the parts
 * still writing, which the run will not use. */
static void parts_fail(parts_t *p, int k, const char *message)
{
    if (p->failed >= 0)
        return;
    p->failed = k;
    snprintf(p->error, sizeof p->error, "%s", message && *message ? message : "failed");
    p->error[strcspn(p->error, "\n")] = '\0';
    for (int j = 0; j < p->n; j++) {
        PGcancel *cancel = j != k && p->conn[j] ? PQgetCancel(p->conn[j]) : NULL;
        char ignored[64];
        if (cancel)
            PQcancel(cancel, ignored, sizeof ignored);
        PQfreeCancel(cancel);
    }
}

/* Start part k: a session in the run's snapshot (`begin`), writing its
 * lines in the background. */
static void part_start(parts_t *p, int k, const char *conninfo, const char *snapshot,
                       const char *const *params)
{
    p->db[k] = db_new(conninfo);
    PGconn *conn = p->db[k] ? db_conn(p->db[k]) : NULL;
    if (!conn) {
        parts_fail(p, k, p->db[k] ? db_error(p->db[k]) : "out of memory");
        return;
    }
    /* SET TRANSACTION SNAPSHOT takes no parameter; the identifier comes from
     * the server and is quoted by libpq. */
    char *quoted = PQescapeLiteral(conn, snapshot, strlen(snapshot));
    char begin[160];
    snprintf(begin, sizeof begin, "%s%s", SQL_PART_BEGIN, quoted ? quoted : "''");
    PQfreemem(quoted);
    PGresult *r = PQexec(conn, begin);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    char memory[24];
    snprintf(memory, sizeof memory, "%dMB", accrual_part_memory_mb());
    const char *p_memory[] = {memory};
    r = ok ? PQexecParams(conn, SQL_PART_MEMORY, 1, NULL, p_memory, NULL, NULL, 0) : NULL;
    ok = ok && PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    if (!ok || !PQsendQueryParams(conn, SQL_PART_LOAD, 10, NULL, params, NULL, NULL, 0)) {
        parts_fail(p, k, PQerrorMessage(conn));
        return;
    }
    p->conn[k] = conn;
}

/* Wait for every started part; then commit them all, or roll them all back
 * when one failed. */
static void parts_finish(parts_t *p)
{
    for (int k = 0; k < p->n; k++)
        for (PGresult *r; p->conn[k] && (r = PQgetResult(p->conn[k])) != NULL;) {
            if (PQresultStatus(r) == PGRES_TUPLES_OK && !p->done[k]) {
                p->done[k] = r;
                continue;
            }
            parts_fail(p, k, PQresultErrorMessage(r));
            PQclear(r);
        }
    for (int k = 0; k < p->n; k++) {
        if (!p->conn[k])
            continue;
        PGresult *r = PQexec(p->conn[k], p->failed < 0 ? "COMMIT" : "ROLLBACK");
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            parts_fail(p, k, PQerrorMessage(p->conn[k]));
        PQclear(r);
    }
}

/* Free what the parts hold (their sessions too). */
static void parts_free(parts_t *p)
{
    for (int k = 0; k < p->n; k++) {
        PQclear(p->done[k]);
        p->done[k] = NULL;
        db_destroy(&p->db[k]);
        p->conn[k] = NULL;
    }
    p->n = 0;
}

/* A part's failure as the run's error, worded once; nothing when no part
 * failed (a failure of the run itself, p->n, is the caller's to word). */
static void parts_error(const parts_t *p, accrual_result_t *result)
{
    if (p->failed >= 0 && p->failed < p->n)
        snprintf(result->error, sizeof result->error, "accrue: part %d of %d: %s",
                 p->failed, p->n, p->error);
}

/* The run failed while its parts were writing: stop them and roll them back. */
static void parts_abandon(parts_t *p)
{
    parts_fail(p, p->n, "the run failed"); /* n is no part: every part is cancelled */
    parts_finish(p);
    parts_free(p);
}

/* Start writing the month's first load in load_parts sessions at once, one
 * range of enrolment ids each, all reading the run's own snapshot (so they
 * bill by the same rates, programmes and enrolments as the run's payers, and
 * as each other). They write in the background while the run goes on with
 * its lapse check (accrual_run): one after the other, the two were most of
 * a month's run at national size (docs/benchmarks.md). A part that fails
 * fails the run, and every part is rolled back. */
static int load_begin(db_t *db, const char *month, const char *run_id,
                      const char *supplementary, parts_t *p)
{
    const char *p_map[] = {month, run_id};
    char snapshot[64];
    char since[48];
    PGresult *map = db_exec(db, SQL_INVOICE_MAP, 2, p_map);
    PGresult *range = db_exec(db, SQL_ID_RANGE, 0, NULL);
    bool ok = db_ok(map) && PQntuples(map) == 1 && db_ok(range) &&
              PQntuples(range) == 1 &&
              query_value(db, SQL_LOAD_SINCE, 0, NULL, since, sizeof since) &&
              query_value(db, SQL_EXPORT_SNAPSHOT, 0, NULL, snapshot, sizeof snapshot);
    long long lo = ok ? atoll(PQgetvalue(range, 0, IR_LOWEST)) : 0;
    long long hi = ok ? atoll(PQgetvalue(range, 0, IR_HIGHEST)) : 0;
    PQclear(range);
    if (!ok) {
        PQclear(map);
        return -1;
    }
    *p = (parts_t){.n = load_parts, .failed = -1};
    snprintf(p->since, sizeof p->since, "%s", since);
    snprintf(p->bound[0], sizeof p->bound[0], "%s", "");
    snprintf(p->bound[p->n], sizeof p->bound[p->n], "%s", "");
    long long at = lo; /* each range at least one id wide: ATTACH refuses an empty one */
    for (int k = 1; k < p->n; k++) {
        long long even = lo + (hi - lo + 1) / p->n * k;
        at = even > at ? even : at + 1;
        snprintf(p->bound[k], sizeof p->bound[k], "%lld", at);
    }
    for (int k = 0; k < p->n && p->failed < 0; k++) {
        char number[12];
        snprintf(number, sizeof number, "%d", k);
        /* nobody to skip: the lapse check has not run yet (load_end) */
        const char *params[] = {month,
                                number,
                                p->bound[k],
                                p->bound[k + 1],
                                run_id,
                                supplementary,
                                "{}",
                                PQgetvalue(map, 0, IM_IDS),
                                PQgetvalue(map, 0, IM_FUNDING_SOURCES),
                                PQgetvalue(map, 0, IM_PAYERS)};
        part_start(p, k, db_conninfo(db), snapshot, params);
    }
    PQclear(map);
    return p->failed < 0 ? 0 : -1;
}

/* Wait for the parts and commit them; take out the lines of the enrolments
 * no longer due (SQL_NOT_DUE: those the run's lapse check ended, `lapsed`,
 * which the parts could not see, and ends committed meanwhile); then attach
 * the parts in the run's transaction and grow each invoice by the lines kept
 * (011_accrual_parts.sql, 043_accrual_parts_unload.sql). */
static int load_end(db_t *db, const char *month, const char *run_id, parts_t *p,
                    const char *lapsed, accrual_result_t *result)
{
    parts_finish(p);
    if (p->failed >= 0) {
        parts_error(p, result);
        parts_free(p);
        return -1;
    }
    char parts[12];
    snprintf(parts, sizeof parts, "%d", p->n);
    const char *p_not_due[] = {lapsed, month, p->since};
    PGresult *gone = db_exec(db, SQL_NOT_DUE, 3, p_not_due);
    const char *p_unload[] = {month, parts, run_id,
                              db_ok(gone) && PQntuples(gone) == 1 ? PQgetvalue(gone, 0, 0)
                                                                  : NULL};
    PGresult *all[LOAD_PARTS_MAX + 1];
    for (int k = 0; k < p->n; k++)
        all[k] = p->done[k];
    all[p->n] = p_unload[3] ? db_exec(db, SQL_PARTS_UNLOAD, 4, p_unload) : NULL;
    PQclear(gone);
    int rc = db_ok(all[p->n])
                 ? attach_parts(db, month, p->bound, p->n, all, p->n + 1, result)
                 : -1;
    PQclear(all[p->n]);
    parts_free(p);
    return rc;
}

/* A re-run's lines: only enrolments newer than what finished runs saw, and
 * those whose months changed (`changed`, reconcile()). */
static int accrue(db_t *db, const char *month, const char *run_id, const char *mark,
                  const char *changed, accrual_result_t *result)
{
    char seen[24] = "0";
    const char *p_seen[] = {month, mark};
    if (!query_value(db, SQL_SEEN_UP_TO, 2, p_seen, seen, sizeof seen))
        return -1;
    if (open_invoices(db, month, seen, changed, false, run_id) != 0)
        return -1;
    const char *supplementary = result->supplementary ? "t" : "f";
    const char *p_accrue[] = {month, run_id, supplementary, seen, changed};
    PGresult *r = db_exec(db, SQL_ACCRUE, 5, p_accrue);
    bool ok = db_ok(r) && PQntuples(r) == 1;
    if (ok) {
        result->lines_added = strtoll(PQgetvalue(r, 0, TOTAL_LINES), NULL, 10);
        result->amount_added = strtoll(PQgetvalue(r, 0, TOTAL_RUPIAH), NULL, 10);
    }
    PQclear(r);
    return ok ? 0 : -1;
}

/* A month's first run (no partition yet): open its payers' invoices and,
 * when anyone is due, start its parts (p->n stays 0 when nobody is). */
static int first_load_begin(db_t *db, const char *month, const char *run_id,
                            accrual_result_t *result, parts_t *p)
{
    char any[8];
    const char *p_month[] = {month};
    if (open_invoices(db, month, "0", "{}", true, run_id) != 0 ||
        !query_value(db, SQL_ANY_DUE, 1, p_month, any, sizeof any))
        return -1;
    if (strcmp(any, "t") != 0)
        return 0;
    if (load_begin(db, month, run_id, result->supplementary ? "t" : "f", p) == 0)
        return 0;
    parts_error(p, result);
    return -1;
}

/* End the enrolments of programmes whose last month is past. */
static int end_programmes(db_t *db, accrual_result_t *result)
{
    char month[11];
    date_t today = date_today();
    date_format((date_t){today.year, today.month, 1}, month);
    const char *p_month[] = {month};
    PGresult *ending = db_exec(db, SQL_PROGRAMS_ENDING, 1, p_month);
    if (!db_ok(ending) || PQntuples(ending) != 1) {
        PQclear(ending);
        return -1;
    }
    const char *ids = PQgetvalue(ending, 0, 0);
    if (strcmp(ids, "{}") == 0) {
        PQclear(ending);
        return 0;
    }
    const char *params[] = {ids, month};
    PGresult *r = db_exec(db, SQL_PROGRAMS_ENDED, 2, params);
    bool ok = db_ok(r);
    if (ok)
        result->programme_ended = strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    PQclear(ending);
    return ok ? 0 : -1;
}

/* Compare the month's lines (`ids`: an array literal, or NULL for all) with
 * what is due now; each difference goes on a credit note or a supplementary
 * invoice of this run (SQL_DIFF). */
static int correct_lines(db_t *db, const char *month, const char *run_id, const char *ids,
                         accrual_result_t *result)
{
    const char *p_diff[] = {month, ids};
    const char *p_run[] = {month, run_id};
    if (!db_run(db, SQL_DIFF, 2, p_diff) || !db_run(db, SQL_DIFF_DOCS, 2, p_run))
        return -1;
    PGresult *r = db_exec(db, SQL_DIFF_LINES, 2, p_run);
    bool ok = db_ok(r) && PQntuples(r) == 1;
    if (ok) {
        result->corrections = strtoll(PQgetvalue(r, 0, TOTAL_LINES), NULL, 10);
        result->correction_amount = strtoll(PQgetvalue(r, 0, TOTAL_RUPIAH), NULL, 10);
    }
    PQclear(r);
    return ok && db_run(db, SQL_DIFF_DROP, 0, NULL) ? 0 : -1;
}

/* Re-rating and reversals: a month billed before is corrected when it was
 * billed under other rates (every line) or when enrolments' months changed
 * since (theirs). Never by editing an issued line or document. The ids of
 * those enrolments go to *changed (an array literal, freed by the caller):
 * the re-run bills them too, though they are below the watermark (an end
 * undone gives back months never billed). */
static int reconcile(db_t *db, const char *month, const char *run_id,
                     const char *rates_mark, accrual_result_t *result, char **changed)
{
    const char *p_scope[] = {month, rates_mark};
    PGresult *r = db_exec(db, SQL_RECONCILE_SCOPE, 2, p_scope);
    if (!db_ok(r) || PQntuples(r) != 1) {
        PQclear(r);
        return -1;
    }
    char scope[8], since[64];
    snprintf(scope, sizeof scope, "%s", PQgetvalue(r, 0, RS_SCOPE));
    snprintf(since, sizeof since, "%s", PQgetvalue(r, 0, RS_SINCE));
    PQclear(r);
    if (strcmp(scope, "none") == 0)
        return (*changed = strdup("{}")) ? 0 : -1;
    const char *p_since[] = {since};
    r = db_exec(db, SQL_ENDED_SINCE, 1, p_since);
    bool ok = db_ok(r) && PQntuples(r) == 1;
    *changed = ok ? strdup(PQgetvalue(r, 0, 0)) : NULL;
    PQclear(r);
    if (!*changed)
        return -1;
    if (strcmp(scope, "all") == 0)
        return correct_lines(db, month, run_id, NULL, result);
    return strcmp(*changed, "{}") == 0
               ? 0
               : correct_lines(db, month, run_id, *changed, result);
}

int accrual_run(db_t *db, period_t period, const char *trigger, const char *mark_in,
                accrual_result_t *result)
{
    memset(result, 0, sizeof *result);
    char month[11], key[8], value[32], run_id[24], mark[40], upto[24];
    date_format(period_first_day(period), month);
    snprintf(key, sizeof key, "%04d%02d", period.year, period.month);
    const char *p_month[] = {month};
    const char *p_key[] = {key};
    if (mark_in)
        snprintf(upto, sizeof upto, "%s", mark_in);
    else
        accrual_watermark(db, upto, sizeof upto);
    if (!db_begin(db))
        return fail(db, result, "begin");
    if (!db_run(db, SQL_LOCK_MONTH, 1, p_key))
        return fail(db, result, "lock");
    if (!query_value(db, SQL_RATES_IN_FORCE, 1, p_month, value, sizeof value))
        return fail(db, result, "rates");
    if (strcmp(value, "t") != 0) {
        snprintf(result->error, sizeof result->error,
                 "no JKK and JKM rates in force for %s", month);
        db_rollback(db);
        return -1;
    }
    if (!query_value(db, SQL_RUN_BEFORE, 1, p_month, value, sizeof value))
        return fail(db, result, "history");
    result->supplementary = strcmp(value, "t") == 0;
    if (!query_value(db, SQL_PROGRAMS_MARK, 0, NULL, mark, sizeof mark))
        return fail(db, result, "programmes");
    char rates[40];
    if (!query_value(db, SQL_RATES_MARK, 0, NULL, rates, sizeof rates))
        return fail(db, result, "rates mark");
    const char *p_start[] = {month, trigger, upto, mark, rates};
    if (!query_value(db, SQL_START_RUN, 5, p_start, run_id, sizeof run_id))
        return fail(db, result, "start");
    /* A first load starts writing at once, in its own sessions, and is
     * finished after the lapse check: the two ran one after the other. */
    char first[8];
    if (!query_value(db, SQL_FIRST_LOAD, 1, p_month, first, sizeof first))
        return fail(db, result, "history");
    bool load = strcmp(first, "t") == 0;
    parts_t parts = {.failed = -1};
    if (load && first_load_begin(db, month, run_id, result, &parts) != 0) {
        parts_abandon(&parts);
        if (!result->error[0])
            return fail(db, result, "accrue");
        db_rollback(db); /* a part's error, already worded */
        return -1;
    }
    /* Lapses first: a person three months behind lapses before their
     * programme's end is recorded (then their renewal is cancelled with
     * them, and a catch-up of an old month never bills a fourth unpaid one). */
    char *lapsed = NULL, *changed = NULL;
    const char *failed = lapse(db, month, result, &lapsed) != 0 ? "lapse"
                         : end_programmes(db, result) != 0      ? "programme ends"
                         : reconcile(db, month, run_id, rates, result, &changed) != 0
                             ? "corrections"
                             : NULL;
    if (failed) {
        parts_abandon(&parts);
        free(lapsed);
        free(changed);
        return fail(db, result, failed);
    }
    int rc = !load         ? accrue(db, month, run_id, mark, changed, result)
             : parts.n > 0 ? load_end(db, month, run_id, &parts, lapsed, result)
                           : 0;
    free(lapsed);
    free(changed);
    const char *p_run[] = {run_id};
    if (rc == 0 && !db_run(db, SQL_DROP_EMPTY, 1, p_run))
        return fail(db, result, "documents");
    if (rc == 0 && !db_run(db, SQL_FOLLOW_PAYMENTS, 1, p_run))
        return fail(db, result, "payments");
    if (rc != 0 && result->error[0]) { /* a part's error, already worded */
        db_rollback(db);
        return -1;
    }
    if (rc != 0)
        return fail(db, result, "accrue");
    char lines[24], amount[24];
    snprintf(lines, sizeof lines, "%" PRId64, result->lines_added);
    snprintf(amount, sizeof amount, "%" PRId64, result->amount_added);
    const char *p_finish[] = {run_id, lines, amount};
    if (!db_run(db, SQL_FINISH_RUN, 3, p_finish) || !db_commit(db))
        return fail(db, result, "finish");
    result->run_id = strtoll(run_id, NULL, 10);
    return 0;
}

void accrual_set_load_parts(int parts)
{
    load_parts = parts < 1 ? 1 : parts > LOAD_PARTS_MAX ? LOAD_PARTS_MAX : parts;
}

void accrual_set_load_memory(int mb)
{
    load_memory_mb = mb < LOAD_MEMORY_MIN_MB   ? LOAD_MEMORY_MIN_MB
                     : mb > LOAD_MEMORY_MAX_MB ? LOAD_MEMORY_MAX_MB
                                               : mb;
}

int accrual_part_memory_mb(void)
{
    int share = load_memory_mb / load_parts;
    return share < 1 ? 1 : share; /* PostgreSQL's own minimum is 1 MB */
}

int accrual_months_run(db_t *db, period_t *out, int cap)
{
    PGresult *r = db_exec(db, SQL_MONTHS_RUN, 0, NULL);
    if (!db_ok(r)) {
        PQclear(r);
        return -1;
    }
    int n = 0;
    for (int i = 0; i < PQntuples(r) && n < cap; i++)
        if (period_parse(PQgetvalue(r, i, 0), &out[n]))
            n++;
    PQclear(r);
    return n;
}
