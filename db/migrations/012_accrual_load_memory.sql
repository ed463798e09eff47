-- 012: a first load's index memory as a budget shared by its parts.
-- 011 set maintenance_work_mem = 256MB on accrual_part_load itself, so every
-- part took 256 MB for its index sort whatever the number of parts: up to
-- 4 GB at 16 parts, and a sort that spills to disk once a part holds more
-- than about 4 million lines. The function now runs with its caller's
-- setting, which lindung-billing sets in each part's transaction to
-- LINDUNG_BILLING_LOAD_MEMORY_MB divided by the number of parts
-- (accrual.c, part_start; docs/billing.md). Not the premium SQL, nor how
-- parts are written or attached (011).
ALTER FUNCTION accrual_part_load(date, int, bigint, bigint, bigint, boolean, bigint[],
                                 bigint[], text[], text[])
    RESET maintenance_work_mem;
