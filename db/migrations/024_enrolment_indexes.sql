-- 024_enrolment_indexes: two indexes of enrolments that others now cover.
-- Ending an enrolment (a lapse, a death, a move, a programme's end) changes
-- indexed columns, so every index gets a new entry for the row: at national
-- size a month in which many people lapse ends them in one statement, and
-- each index is paid per row (docs/benchmarks.md, "Lapse at national size").
--   * enrolments_ended_nik_idx (008: NIKs of ended enrolments, beside the
--     unique index of active ones that 013 replaced by the exclusion
--     constraint): enrolments_nik_idx (023) holds every enrolment's NIK, so
--     the readers of a NIK's history use it.
--   * enrolments_lapsed_idx (004: ended_at of lapsed enrolments):
--     enrolments_ended_at_idx (013) holds the ended_at of every ended
--     enrolment; `lindungctl billing lapses` reads it backwards and keeps the
--     lapsed ones.
DROP INDEX IF EXISTS enrolments_ended_nik_idx;
DROP INDEX IF EXISTS enrolments_lapsed_idx;
