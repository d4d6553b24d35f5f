--
-- analyze: ANALYZE of a shardfdw table samples the rows of all its shards
-- (one shard for a replicated table), and the planner's estimates use the
-- local statistics, or remote EXPLAIN with use_remote_estimate.
--
-- Costs are not pinned; row estimates and cost comparisons are read from
-- EXPLAIN output by the functions below.
--
SELECT current_database() AS regdb \gset
\set VERBOSITY terse

-- an_t(id, grp, val) with ids 1..1000, placed like t in init: grp = id % 10,
-- val NULL for every fourth row.  Analyzed on the shards, for the remote
-- estimates.
\c shard0
CREATE TABLE an_t (id int PRIMARY KEY, grp int, val text);
INSERT INTO an_t SELECT g, g % 10, CASE WHEN g % 4 <> 0 THEN 'v' || g END
  FROM generate_series(1, 1000) g
 WHERE satisfies_hash_partition('placement_probe'::regclass, 4, 0, g);
ANALYZE an_t;
\c shard1
CREATE TABLE an_t (id int PRIMARY KEY, grp int, val text);
INSERT INTO an_t SELECT g, g % 10, CASE WHEN g % 4 <> 0 THEN 'v' || g END
  FROM generate_series(1, 1000) g
 WHERE satisfies_hash_partition('placement_probe'::regclass, 4, 1, g);
ANALYZE an_t;
\c shard2
CREATE TABLE an_t (id int PRIMARY KEY, grp int, val text);
INSERT INTO an_t SELECT g, g % 10, CASE WHEN g % 4 <> 0 THEN 'v' || g END
  FROM generate_series(1, 1000) g
 WHERE satisfies_hash_partition('placement_probe'::regclass, 4, 2, g);
ANALYZE an_t;
\c shard3
CREATE TABLE an_t (id int PRIMARY KEY, grp int, val text);
INSERT INTO an_t SELECT g, g % 10, CASE WHEN g % 4 <> 0 THEN 'v' || g END
  FROM generate_series(1, 1000) g
 WHERE satisfies_hash_partition('placement_probe'::regclass, 4, 3, g);
ANALYZE an_t;
\c :regdb
\set VERBOSITY terse

-- Estimated rows and total cost of the top plan node of a query.
CREATE FUNCTION est_rows(q text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE line text;
BEGIN
  FOR line IN EXECUTE 'EXPLAIN ' || q LOOP
    RETURN (regexp_match(line, 'rows=(\d+)'))[1]::bigint;
  END LOOP;
END
$$;
CREATE FUNCTION est_cost(q text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE line text;
BEGIN
  FOR line IN EXECUTE 'EXPLAIN ' || q LOOP
    RETURN (regexp_match(line, 'cost=[0-9.]+\.\.([0-9.]+)'))[1]::float8;
  END LOOP;
END
$$;
-- The Shards line of a query's plan.
CREATE FUNCTION est_shards(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE line text;
BEGIN
  FOR line IN EXECUTE 'EXPLAIN ' || q LOOP
    IF line ~ 'Shards:' THEN
      RETURN trim(line);
    END IF;
  END LOOP;
END
$$;

CREATE FOREIGN TABLE an_t (id int, grp int, val text) SERVER cluster
    OPTIONS (distribution_column 'id');
-- the same rows, with other local column names
CREATE FOREIGN TABLE an_cols (k int OPTIONS (column_name 'id'),
                              g int OPTIONS (column_name 'grp'),
                              v text OPTIONS (column_name 'val'))
    SERVER cluster OPTIONS (table_name 'an_t', distribution_column 'k');
-- without a distribution column: rows anywhere
CREATE FOREIGN TABLE an_any (id int, grp int, val text) SERVER cluster
    OPTIONS (table_name 'an_t');
-- declared replicated: ANALYZE reads one shard (p0) only
CREATE FOREIGN TABLE an_repl (id int, grp int, val text) SERVER cluster
    OPTIONS (table_name 'an_t', distribution 'replicated');
-- t from init: 100 rows
CREATE FOREIGN TABLE an_small (id int, val text) SERVER cluster
    OPTIONS (table_name 't', distribution_column 'id');

-- Never analyzed: no statistics yet.
SELECT relname, reltuples FROM pg_class
 WHERE relname IN ('an_t', 'an_small') ORDER BY relname;

ANALYZE VERBOSE an_t;
ANALYZE an_cols, an_any, an_repl, an_small;

SELECT relname, reltuples, relpages > 0 AS has_pages FROM pg_class
 WHERE relname LIKE 'an\_%' AND relkind = 'f' ORDER BY relname;
SELECT tablename, attname, null_frac, n_distinct, avg_width
  FROM pg_stats WHERE tablename IN ('an_t', 'an_cols', 'an_small')
 ORDER BY tablename, attname;
-- the replicated table's statistics come from shard0's rows only
SELECT count(*) AS rows_on_shard0 FROM an_t
 WHERE shardfdw.shard_for('an_t'::regclass, id) = 0;
-- grp has ten values, all in the most-common list, 100 rows each
SELECT tablename, most_common_vals::text, most_common_freqs::text
  FROM pg_stats WHERE tablename IN ('an_t', 'an_any') AND attname = 'grp'
 ORDER BY tablename;
-- id's histogram spans all shards' rows
SELECT (histogram_bounds::text::int[])[1] AS lo,
       (histogram_bounds::text::int[])[array_length(histogram_bounds::text::int[], 1)] AS hi
  FROM pg_stats WHERE tablename = 'an_t' AND attname = 'id';

-- ================================================================ estimates
-- Local statistics.
SELECT est_rows('SELECT * FROM an_t') AS all_rows,
       est_rows('SELECT * FROM an_t WHERE id = 5') AS by_key,
       est_rows('SELECT * FROM an_t WHERE grp = 3') AS by_grp,
       est_rows('SELECT * FROM an_t WHERE val IS NULL') AS null_val,
       est_rows('SELECT * FROM an_small') AS small_rows,
       est_rows('SELECT * FROM an_small WHERE id = 5') AS small_by_key;
SELECT est_rows('SELECT * FROM an_t WHERE id <= 500') BETWEEN 450 AND 550
       AS half_sane;
SELECT est_shards('SELECT * FROM an_t WHERE id = 5') AS pruned,
       est_shards('SELECT * FROM an_t WHERE grp = 5') AS unpruned;
-- A query that reads one shard costs less than the same query on all
-- shards, and a query that fetches fewer rows costs less.
SELECT est_cost('SELECT * FROM an_t WHERE id = 5')
     < est_cost('SELECT * FROM an_any WHERE id = 5') AS pruned_is_cheaper,
       est_cost('SELECT * FROM an_t WHERE id = 5')
     < est_cost('SELECT * FROM an_t WHERE id IN (1, 2, 3, 4, 5, 6, 7, 8)')
       AS fewer_shards_cheaper,
       est_cost('SELECT * FROM an_t WHERE grp = 5')
     < est_cost('SELECT * FROM an_t') AS fewer_rows_cheaper;

-- Remote estimates: EXPLAIN on the target shards (analyzed there).
ALTER FOREIGN TABLE an_t OPTIONS (ADD use_remote_estimate 'true');
SELECT est_rows('SELECT * FROM an_t') AS all_rows,
       est_rows('SELECT * FROM an_t WHERE id = 5') AS by_key,
       est_rows('SELECT * FROM an_t WHERE grp = 3') AS by_grp,
       est_rows('SELECT * FROM an_t WHERE val IS NULL') AS null_val;
SELECT est_shards('SELECT * FROM an_t WHERE id = 5') AS pruned;
SELECT est_cost('SELECT * FROM an_t WHERE id = 5')
     < est_cost('SELECT * FROM an_t') AS pruned_is_cheaper;
SELECT count(*) FROM an_t WHERE grp = 3;
SELECT val FROM an_t WHERE id = 5;
-- also when set on the server
ALTER FOREIGN TABLE an_t OPTIONS (DROP use_remote_estimate);
ALTER SERVER cluster OPTIONS (ADD use_remote_estimate 'true');
SELECT est_rows('SELECT * FROM an_t WHERE id = 5') AS by_key,
       est_rows('SELECT * FROM an_t WHERE grp = 3') AS by_grp;
-- and the table's 'false' overrides the server's 'true'
ALTER FOREIGN TABLE an_small OPTIONS (ADD use_remote_estimate 'false');
SELECT est_rows('SELECT * FROM an_small') AS small_rows;
ALTER SERVER cluster OPTIONS (DROP use_remote_estimate);

-- ANALYZE again after the data changed on the shards.
\c shard1
DELETE FROM an_t WHERE id > 500;
ANALYZE an_t;
\c :regdb
\set VERBOSITY terse
-- the local statistics are stale until the next ANALYZE; the remote
-- estimate is not
SELECT est_rows('SELECT * FROM an_t') AS local_estimate;
ALTER FOREIGN TABLE an_t OPTIONS (ADD use_remote_estimate 'true');
SELECT est_rows('SELECT * FROM an_t') = (SELECT count(*) FROM an_t)
       AS remote_estimate_exact,
       est_rows('SELECT * FROM an_t') < 1000 AS remote_estimate_changed;
ALTER FOREIGN TABLE an_t OPTIONS (DROP use_remote_estimate);
ANALYZE an_t;
SELECT reltuples = (SELECT count(*) FROM an_t) AS reltuples_exact
  FROM pg_class WHERE relname = 'an_t';

-- An ANALYZE of a table that does not exist on the shards fails cleanly.
CREATE FOREIGN TABLE an_missing (a int) SERVER cluster;
ANALYZE an_missing;
SELECT count(*) FROM an_small;

-- ================================================================ cleanup
DROP FOREIGN TABLE an_t, an_cols, an_any, an_repl, an_small, an_missing;
DROP FUNCTION est_rows(text), est_cost(text), est_shards(text);
SELECT shardfdw.disconnect_all();
\c shard0
DROP TABLE an_t;
\c shard1
DROP TABLE an_t;
\c shard2
DROP TABLE an_t;
\c shard3
DROP TABLE an_t;
\c :regdb
