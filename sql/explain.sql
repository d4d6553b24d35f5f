--
-- explain: what EXPLAIN shows for a shardfdw scan, in every format.
--
-- Uses the fixture of init (server `cluster`, table t(id, val) with ids
-- 1..100 on shards shard0 .. shard3).  Costs are always off, so that the
-- output does not depend on estimates.
--
\set VERBOSITY terse

CREATE FOREIGN TABLE ft (id int, val text)
  SERVER cluster OPTIONS (table_name 't', distribution_column 'id');
CREATE FOREIGN TABLE ft_rep (id int, val text)
  SERVER cluster OPTIONS (table_name 't', distribution 'replicated');
SELECT k, shardfdw.shard_for('ft', k) AS shard FROM generate_series(1, 4) k;

-- ===================================================================
-- Text format: the Shards line always, Remote SQL only with VERBOSE
-- ===================================================================
EXPLAIN (COSTS OFF) SELECT * FROM ft;
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM ft;
EXPLAIN (COSTS OFF) SELECT * FROM ft WHERE id = 1;
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM ft WHERE id = 1;
EXPLAIN (COSTS OFF) SELECT * FROM ft WHERE id IN (1, 2, 3);
EXPLAIN (COSTS OFF) SELECT * FROM ft WHERE id = ANY ('{NULL}'::int[]);
EXPLAIN (COSTS OFF) SELECT * FROM ft WHERE val = 'val 1' AND random() < 2;
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM ft WHERE val = 'val 1' AND random() < 2;
EXPLAIN (COSTS OFF) SELECT * FROM ft_rep;
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM ft_rep WHERE id = 1;
-- chosen at run time
PREPARE p(int) AS SELECT * FROM ft WHERE id = $1;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE p(1);
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE p(1);

-- ===================================================================
-- ANALYZE: actual rows, rows fetched from the shards
-- ===================================================================
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM ft;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM ft WHERE id <= 10;
EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT * FROM ft WHERE id IN (1, 2);
-- a local filter: more rows fetched than returned
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT * FROM ft WHERE id <= 10 AND random() < (CASE WHEN id % 2 = 0 THEN 2 ELSE -1 END);
-- no shard at all
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT * FROM ft WHERE id = ANY ('{NULL}'::int[]);
-- run-time choice: the shards actually read
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE p(1);
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE p(4);
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE p(NULL);
RESET plan_cache_mode;
-- replicated
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT * FROM ft_rep WHERE id = -1;
-- a LIMIT: the scan stops early
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT * FROM ft WHERE id = 1 LIMIT 1;
-- rescans: loops and rows fetched over all of them
CREATE TABLE keys (id int);
INSERT INTO keys VALUES (1), (2), (3), (4), (1000);
ANALYZE keys;
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SET enable_memoize = off;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT k.id, ft.val FROM keys k JOIN ft ON ft.id = k.id;
RESET enable_hashjoin;
RESET enable_mergejoin;
RESET enable_memoize;

-- ===================================================================
-- Structured formats
-- ===================================================================
EXPLAIN (COSTS OFF, FORMAT JSON) SELECT * FROM ft WHERE id = 1;
EXPLAIN (VERBOSE, COSTS OFF, FORMAT JSON) SELECT * FROM ft WHERE id = 1;
EXPLAIN (VERBOSE, COSTS OFF, FORMAT YAML) SELECT id FROM ft WHERE val LIKE 'val 1%';
EXPLAIN (VERBOSE, COSTS OFF, FORMAT XML) SELECT id FROM ft WHERE id IN (1, 2);
EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, TIMING OFF, SUMMARY OFF, FORMAT JSON)
SELECT * FROM ft WHERE id IN (1, 2);
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, FORMAT YAML)
SELECT * FROM ft_rep WHERE id = -1;
-- the keys, extracted
CREATE FUNCTION explain_json(q text) RETURNS json LANGUAGE plpgsql AS $$
DECLARE j json;
BEGIN
  EXECUTE 'EXPLAIN (VERBOSE, COSTS OFF, FORMAT JSON) ' || q INTO j;
  RETURN j->0->'Plan';
END $$;
SELECT q, p->>'Node Type' AS node, p->>'Shards' AS shards,
       p->>'Remote SQL' AS remote_sql
  FROM (VALUES ('SELECT * FROM ft'), ('SELECT val FROM ft WHERE id = 2'),
               ('SELECT id FROM ft_rep'),
               ('SELECT id FROM ft WHERE id = ANY (''{NULL}''::int[])'))
       v(q), explain_json(q) p
 ORDER BY q;
PREPARE pj(int) AS SELECT * FROM ft WHERE id = $1;
SET plan_cache_mode = force_generic_plan;
SELECT explain_json('EXECUTE pj(3)')->>'Shards' AS generic_shards;
RESET plan_cache_mode;

-- clean up
DEALLOCATE p;
DEALLOCATE pj;
DROP FUNCTION explain_json(text);
DROP TABLE keys;
DROP FOREIGN TABLE ft, ft_rep;
