"""Every table, view and column of schema public has a comment (issue 17,
item 7; 020_comments.sql made it the rule, 029_comments.sql filled the last
gaps): a fresh database is migrated and pg_description asked for what has
none. The monthly partitions of accruals (accruals_YYYY_MM, made by billing
at run time) inherit nothing from COMMENT and are described by their parent,
so only relations that are not partitions (relispartition = false) are
checked. A migration that adds a table or column adds its comment with it.
"""

from __future__ import annotations

import unittest

import harness

# Tables (r), partitioned tables (p), views (v) and materialised views (m)
# of schema public that are not partitions, with each of their columns
# (attnum 0: the relation itself), that have no comment.
UNCOMMENTED_SQL = """
SELECT c.relname || coalesce('.' || a.attname, '')
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attribute a
       ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE n.nspname = 'public'
  AND c.relkind IN ('r', 'p', 'v', 'm')
  AND NOT c.relispartition
  AND NOT EXISTS (SELECT 1 FROM pg_description d
                  WHERE d.classoid = 'pg_class'::regclass
                    AND d.objoid = c.oid
                    AND d.objsubid = coalesce(a.attnum, 0)
                    AND d.description <> '')
UNION
SELECT c.relname
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public'
  AND c.relkind IN ('r', 'p', 'v', 'm')
  AND NOT c.relispartition
  AND coalesce(obj_description(c.oid, 'pg_class'), '') = ''
ORDER BY 1
"""

COUNT_SQL = """
SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
"""


class CommentsTest(harness.LindungTestCase):

    def test_every_table_and_column_has_a_comment(self) -> None:
        self.stack.migrate()
        tables = int(self.stack.cluster.scalar(COUNT_SQL) or 0)
        self.assertGreater(tables, 20, "the migrated schema has suspiciously few tables")
        missing = [row[0] for row in self.stack.cluster.psql(UNCOMMENTED_SQL)]
        self.assertEqual(missing, [],
                         "tables, views or columns of schema public without a comment "
                         "(add COMMENT ON ... in a migration):\n  " + "\n  ".join(missing))

    def test_partitions_are_not_asked_for(self) -> None:
        """A partition of accruals made after migration (as billing makes one
        a month) has no comment of its own and is not reported."""
        self.stack.migrate()
        self.stack.cluster.psql(
            "CREATE TABLE accruals_2099_01 PARTITION OF accruals "
            "FOR VALUES IN ('2099-01-01')")
        self.assertEqual(self.stack.cluster.psql(UNCOMMENTED_SQL), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
