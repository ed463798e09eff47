-- 002_seed_regions: the Kemendagri region codes and the Dukcapil occupation codes,
-- copied from the project's own files. The `-- copy:` lines are read by
-- `lindungctl migrate`: each loads a CSV (with header) from db/seed into a table.
-- copy: regions (code, name, level, village_kind) FROM seed/wilayah.csv
-- copy: occupations (code, name, informal, transport) FROM seed/pekerjaan.csv
SELECT 1;
