--
-- commands: shardfdw.run_on_shards(server, sql [, shards]) runs one
-- statement on every shard of a server (or the listed ones), in the
-- current transaction: it commits or rolls back with it, on all shards.
-- And the introspection functions tables(), shards() and table_sizes().
--
SELECT current_database() AS regdb \gset
\set VERBOSITY terse

-- DDL on every shard: one row per shard, with the command tag
SELECT * FROM shardfdw.run_on_shards('cluster',
  'CREATE TABLE cmd_t (id int PRIMARY KEY, v text)');
-- a statement with a row count
SELECT * FROM shardfdw.run_on_shards('cluster',
  $$INSERT INTO cmd_t SELECT g, 'x' FROM generate_series(1, 3) g$$);
-- on the listed shards only
SELECT * FROM shardfdw.run_on_shards('cluster', 'DELETE FROM cmd_t', '{1,3}');
SELECT * FROM shardfdw.run_on_shards('cluster', 'SELECT 1 FROM cmd_t');
-- and the shards agree (read directly)
\c shard0
SELECT count(*) AS shard0_rows FROM cmd_t;
\c shard1
SELECT count(*) AS shard1_rows FROM cmd_t;
\c :regdb
\set VERBOSITY terse

-- several shards written: two-phase commit, every shard committed (the
-- shards are databases of this instance)
SELECT count(*) AS prepared_left FROM pg_prepared_xacts;

-- in a transaction block, with the rest of the transaction
BEGIN;
SELECT * FROM shardfdw.run_on_shards('cluster', 'ALTER TABLE cmd_t ADD COLUMN w int');
SELECT * FROM shardfdw.run_on_shards('cluster', 'UPDATE cmd_t SET w = 1');
ROLLBACK;
SELECT * FROM shardfdw.run_on_shards('cluster',
  $$SELECT 1 FROM pg_attribute WHERE attrelid = 'cmd_t'::regclass AND attname = 'w'$$);

-- a shard's error names the shard and rolls back every shard
\c shard2
CREATE TABLE cmd_clash (id int);
\c :regdb
\set VERBOSITY terse
SELECT * FROM shardfdw.run_on_shards('cluster', 'CREATE TABLE cmd_clash (id int)');
SELECT * FROM shardfdw.run_on_shards('cluster',
  $$SELECT 1 FROM pg_class WHERE relname = 'cmd_clash'$$);
-- (the remote SQLSTATE, and the shard in the context; host and port masked)
DO $$
DECLARE
  ctx text;
BEGIN
  PERFORM * FROM shardfdw.run_on_shards('cluster', 'SELECT 1/0');
EXCEPTION WHEN division_by_zero THEN
  GET STACKED DIAGNOSTICS ctx = PG_EXCEPTION_CONTEXT;
  RAISE NOTICE 'division_by_zero, %',
    regexp_replace(split_part(ctx, E'\n', 1), '\(host=[^)]*\)', '(...)');
END
$$;

-- bad input
SELECT * FROM shardfdw.run_on_shards('cluster', 'SELECT 1', '{4}');
SELECT * FROM shardfdw.run_on_shards('cluster', 'SELECT 1', '{0,NULL}');
SELECT * FROM shardfdw.run_on_shards('no_such_server', 'SELECT 1');
SELECT * FROM shardfdw.run_on_shards(NULL, 'SELECT 1');
SELECT * FROM shardfdw.run_on_shards('cluster', 'SELECT 1; SELECT 2');
-- not for everyone by default
SELECT has_function_privilege('public', 'shardfdw.run_on_shards(name, text, integer[])',
       'EXECUTE') AS public_may_run;

-- introspection: the tables, the shards, and the tables' sizes per shard
CREATE FOREIGN TABLE cmd_ft (id int, v text) SERVER cluster
  OPTIONS (table_name 'cmd_t', distribution_column 'id');
CREATE FOREIGN TABLE cmd_rep (id int, v text) SERVER cluster
  OPTIONS (table_name 'cmd_t', distribution 'replicated');
SELECT * FROM shardfdw.tables() WHERE table_name::text LIKE 'cmd\_%' ORDER BY 1;
SELECT shard, conninfo, reachable, detail FROM shardfdw.shards('cluster');
SELECT * FROM shardfdw.run_on_shards('cluster', 'ANALYZE cmd_t');
SELECT table_name, shard, rows_estimate, bytes > 0 AS has_bytes
  FROM shardfdw.table_sizes('cluster')
 WHERE table_name::text LIKE 'cmd\_%' ORDER BY 1, 2;
-- a shard that does not answer: a row that says so (and NULL sizes)
CREATE SERVER cmd_bad FOREIGN DATA WRAPPER shardfdw OPTIONS (
  p0 'host=/nonexistent dbname=x', connect_timeout '2');
CREATE USER MAPPING FOR CURRENT_USER SERVER cmd_bad;
SELECT shard, conninfo, reachable, detail IS NOT NULL AS has_detail
  FROM shardfdw.shards('cmd_bad');
SELECT * FROM shardfdw.shards('no_such_server');
DROP USER MAPPING FOR CURRENT_USER SERVER cmd_bad;
DROP SERVER cmd_bad;
DROP FOREIGN TABLE cmd_ft, cmd_rep;

-- cleanup
SELECT * FROM shardfdw.run_on_shards('cluster', 'DROP TABLE cmd_t');
\c shard2
DROP TABLE cmd_clash;
\c :regdb
