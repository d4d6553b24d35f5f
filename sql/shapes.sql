--
-- shapes: query shapes that random generators (sqlsmith, the differential
-- test) found wrong, each pinned here so that it cannot come back.
--
--   1. an initplan's Param as a GROUP BY / DISTINCT key (was a crash);
--   2. a lateral reference in a foreign scan's target list (was NULL);
--   3. pruning under another collation than the key's (was 2 rows of 4);
--   4. user-defined types (enum) in conditions stay local;
--   5. an error in rows the executor never asked for (a prefetch) is not
--      raised (was an error at COMMIT);
--   6. pushed outer joins with placeholders, and anti joins whose inner
--      columns are output (were wrong rows, and a remote error);
--   7. type output functions called directly stay local (were printed
--      under the shard's settings, or failed on rows no local qual let
--      through).
--
-- Uses the fixture of init (server `cluster`, shards shard0 .. shard3 and
-- placement_probe on each shard).  Every result is compared with the same
-- query on local twins holding the same rows (schema loc).
--
SELECT current_database() AS regdb \gset
\set VERBOSITY terse

-- sh1 (c1 int key, c2, c3 text) and sh2 likewise, hash on c1; shk is keyed
-- by text; shp holds '1' and 'x' for the prefetch test (all on shard 0).
SELECT $sql$
CREATE TABLE sh1 (c1 int, c2 int, c3 text);
INSERT INTO sh1 SELECT g, g % 7, to_char(g, 'FM00000')
  FROM generate_series(1, 100) g
 WHERE satisfies_hash_partition('placement_probe'::regclass, 4,
                                substr(current_database(), 6)::int, g);
CREATE TABLE sh2 (c1 int, c2 int, c3 text);
INSERT INTO sh2 SELECT g, g % 5, to_char(g, 'FM00000')
  FROM generate_series(1, 50) g
 WHERE satisfies_hash_partition('placement_probe'::regclass, 4,
                                substr(current_database(), 6)::int, g);
CREATE TABLE shk_probe (k text) PARTITION BY HASH (k);
CREATE TABLE shk (k text, v int);
INSERT INTO shk SELECT k, ord::int FROM unnest(ARRAY['abc', 'ABC', 'Abc', 'aBC', 'xyz'])
  WITH ORDINALITY AS u(k, ord)
 WHERE satisfies_hash_partition('shk_probe'::regclass, 4,
                                substr(current_database(), 6)::int, k);
CREATE TABLE she (id int, c8 text);
INSERT INTO she SELECT g, CASE WHEN g % 2 = 0 THEN 'foo' ELSE 'bar' END
  FROM generate_series(1, 20) g
 WHERE satisfies_hash_partition('placement_probe'::regclass, 4,
                                substr(current_database(), 6)::int, g);
CREATE TABLE shp (id int, info text);
INSERT INTO shp SELECT * FROM (VALUES (1, '1'), (2, 'x')) v
 WHERE current_database() = 'shard0';
$sql$ AS shard_ddl \gset
\c shard0
:shard_ddl
\c shard1
:shard_ddl
\c shard2
:shard_ddl
\c shard3
:shard_ddl
\c :regdb
\set VERBOSITY terse

CREATE TYPE user_enum AS ENUM ('foo', 'bar');
CREATE FOREIGN TABLE sh1 (c1 int, c2 int, c3 text) SERVER cluster
  OPTIONS (distribution_column 'c1');
CREATE FOREIGN TABLE sh2 (c1 int, c2 int, c3 text) SERVER cluster
  OPTIONS (distribution_column 'c1');
CREATE FOREIGN TABLE shk (k text, v int) SERVER cluster
  OPTIONS (distribution_column 'k');
-- the local type is an enum, the shards' column is text
CREATE FOREIGN TABLE she (id int, c8 user_enum) SERVER cluster
  OPTIONS (distribution_column 'id');
CREATE FOREIGN TABLE shp (id int, info text) SERVER cluster
  OPTIONS (distribution_column 'id', fetch_size '1');

CREATE SCHEMA loc;
CREATE TABLE loc.sh1 AS SELECT * FROM sh1;
CREATE TABLE loc.sh2 AS SELECT * FROM sh2;
CREATE TABLE loc.shk AS SELECT * FROM shk;
CREATE TABLE loc.she AS SELECT * FROM she;
CREATE TABLE loc.shp AS SELECT * FROM shp;
CREATE TABLE loc.lt (c1 int, c2 int, c3 text);
INSERT INTO loc.lt SELECT g, g * 10, 'l' || g FROM generate_series(1, 12) g;

-- cmp(query): the row sets of {s} = public and {s} = loc are equal
CREATE FUNCTION cmp(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE a bigint; b bigint; n bigint;
BEGIN
  EXECUTE format('SELECT count(*) FROM ((SELECT x::text FROM (%s) x EXCEPT ALL SELECT x::text FROM (%s) x) UNION ALL (SELECT x::text FROM (%s) x EXCEPT ALL SELECT x::text FROM (%s) x)) d',
                 replace(q, '{s}', 'public'), replace(q, '{s}', 'loc'),
                 replace(q, '{s}', 'loc'), replace(q, '{s}', 'public')) INTO a;
  EXECUTE format('SELECT count(*) FROM (%s) x', replace(q, '{s}', 'loc')) INTO n;
  RETURN CASE WHEN a = 0 THEN 'same ' || n || ' rows' ELSE a || ' rows differ' END;
END $$;

--
-- 1. An initplan Param as a grouping key is not shipped (setrefs would
--    turn the remote parameter into a reference to the scan tuple).
--
SELECT exists(SELECT 1 FROM pg_enum), sum(c1) FROM sh1 GROUP BY 1;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT exists(SELECT 1 FROM pg_enum), sum(c1) FROM sh1 GROUP BY 1;
SELECT cmp('SELECT DISTINCT (SELECT max(c1) FROM {s}.sh1) m, c2 FROM {s}.sh1');
SELECT cmp('SELECT DISTINCT CASE WHEN (SELECT max(c1) FROM {s}.sh2) > 5 THEN c2 END FROM {s}.sh1');
SELECT cmp('SELECT (SELECT min(c3) FROM {s}.sh2) AS m, count(*) FROM {s}.sh1 GROUP BY 1');
-- a stable expression of no column is a parameter too
SELECT DISTINCT pg_catalog.version() IS NOT NULL AS v FROM sh1 WHERE c1 < 50 LIMIT 3;
SELECT cmp('SELECT now()::date = current_date AS today, count(*) FROM {s}.sh1 GROUP BY 1');
-- a correlated value is a Param in the subquery, too
SELECT cmp('SELECT l.c1, (SELECT count(*) FROM {s}.sh1 s GROUP BY l.c2 LIMIT 1) FROM loc.lt l');

--
-- 2. A lateral reference (here inside a PlaceHolderVar under an outer
--    join) in a foreign scan's target list: the scan runs per outer row.
--
SELECT r0.c2, s1.* FROM loc.lt r0,
  LATERAL (SELECT r0.c1 c1, s0.* FROM (SELECT r0.c2, r1.c3 FROM sh1 r1) s0
           RIGHT JOIN sh2 r3 ON (s0.c3 = r3.c3)) s1
 WHERE r0.c1 < 4 AND s1.c3 = '00001' ORDER BY 1;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT r0.c2, s1.* FROM loc.lt r0,
  LATERAL (SELECT r0.c1 c1, s0.* FROM (SELECT r0.c2, r1.c3 FROM sh1 r1) s0
           RIGHT JOIN sh2 r3 ON (s0.c3 = r3.c3)) s1
 WHERE r0.c1 < 4 AND s1.c3 = '00001';
SELECT cmp('SELECT r0.c1, s.* FROM loc.lt r0, LATERAL (SELECT r0.c2 AS o, t.c1 FROM {s}.sh1 t WHERE t.c1 = r0.c1 + 1) s');
SELECT cmp('SELECT r0.c1, s.* FROM loc.lt r0 LEFT JOIN LATERAL (SELECT r0.c3 AS o, t.c2 FROM {s}.sh1 t WHERE t.c2 = r0.c1 % 7) s ON true');

--
-- 3. Pruning only under the key's own collation.  'abc', 'ABC', 'Abc' and
--    'aBC' are equal under a case-insensitive collation but live on
--    several shards.
--
CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
SELECT k, shardfdw.shard_for('shk'::regclass, k) FROM shk ORDER BY k COLLATE "C";
SELECT k FROM shk WHERE k = 'ABC' COLLATE ci ORDER BY k COLLATE "C";
EXPLAIN (COSTS OFF) SELECT k FROM shk WHERE k = 'ABC' COLLATE ci;
EXPLAIN (COSTS OFF) SELECT k FROM shk WHERE k = 'ABC';
EXPLAIN (COSTS OFF) SELECT k FROM shk WHERE k COLLATE ci IN ('ABC', 'xyz');
SELECT cmp('SELECT k FROM {s}.shk WHERE k IN (''ABC'' COLLATE ci, ''xyz'')');
-- grouping by the key under another collation mixes shards: not whole
-- (which spelling stands for a group is arbitrary: compare counts)
SELECT cmp('SELECT count(*) FROM {s}.shk GROUP BY k COLLATE ci');
SELECT cmp('SELECT count(*) FROM (SELECT DISTINCT k COLLATE ci FROM {s}.shk) d');
-- a join on the keys under another collation is not co-located
SELECT cmp('SELECT a.k, b.k FROM {s}.shk a JOIN {s}.shk b ON a.k = b.k COLLATE ci');

--
-- 4. Conditions on a column of a user-defined type (an enum here, text on
--    the shards) are evaluated locally.
--
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM she WHERE c8 = 'foo';
SELECT count(*) FROM she WHERE c8 = 'foo';
EXPLAIN (VERBOSE, COSTS OFF) SELECT c8, count(*) FROM she GROUP BY c8;
SELECT c8, count(*) FROM she GROUP BY c8 ORDER BY c8;
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM she WHERE c8 < 'bar' ORDER BY c8;
PREPARE pe(user_enum) AS SELECT count(*) FROM she WHERE c8 = $1;
EXECUTE pe('bar');
DEALLOCATE pe;

--
-- 5. Rows '1' and 'x' on one shard, fetch_size 1: the first row satisfies
--    LIMIT 1; the prefetch that fails on 'x' was never asked for.
--
SELECT * FROM shp WHERE info::int > 0 AND random() >= 0 LIMIT 1;
BEGIN;
SELECT * FROM shp WHERE info::int > 0 AND random() >= 0 LIMIT 1;
SELECT count(*) FROM shp;       -- the remote transaction is intact
COMMIT;
BEGIN;
SAVEPOINT a;
SELECT * FROM shp WHERE info::int > 0 AND random() >= 0 LIMIT 1;
RELEASE a;
SAVEPOINT b;
SELECT * FROM shp WHERE info::int > 0 AND random() >= 0 LIMIT 1;
ROLLBACK TO b;
SELECT count(*) FROM shp;
COMMIT;
-- rows the query does need still raise the error
SELECT * FROM shp WHERE info::int > 0 AND random() >= 0;
BEGIN;
SELECT * FROM shp WHERE info::int > 0 AND random() >= 0;
ROLLBACK;
SELECT count(*) FROM shp;
-- the same for a value the local type cannot read: converted only when
-- its batch is needed
CREATE FOREIGN TABLE shp_int (id int, info int) SERVER cluster
  OPTIONS (table_name 'shp', distribution_column 'id', fetch_size '1');
SELECT * FROM shp_int LIMIT 1;
SELECT * FROM shp_int;
DROP FOREIGN TABLE shp_int;

--
-- 6. Pushed joins: a placeholder below the join's top (coalesce() of a
--    subquery on the nullable side) must go NULL with its side, so the
--    join stays local; an anti join made of "LEFT JOIN ... IS NULL" still
--    outputs the inner side's columns, so it stays local too.
--
SELECT x.c1, s.cc FROM sh1 x
  LEFT JOIN (SELECT y.c1, coalesce(y.c3, 'none') AS cc FROM sh1 y WHERE y.c1 = 5) s
    ON s.c1 = x.c1
 WHERE x.c1 < 7 ORDER BY 1;
SELECT cmp('SELECT x.c1, s.cc FROM {s}.sh1 x LEFT JOIN (SELECT y.c1, coalesce(y.c3, ''none'') AS cc FROM {s}.sh1 y WHERE y.c1 = 5) s ON s.c1 = x.c1');
SELECT cmp('SELECT x.c1, s.cc FROM {s}.sh1 x FULL JOIN (SELECT y.c1, coalesce(y.c3, ''none'') || ''!'' AS cc FROM {s}.sh2 y WHERE y.c1 > 45) s ON s.c1 = x.c1');
SELECT x.c1, y.c1, y FROM sh1 x LEFT JOIN sh2 y ON x.c1 = y.c1 AND y.c2 > 3
 WHERE y.c1 IS NULL AND x.c1 < 6 ORDER BY 1;
SELECT cmp('SELECT x.c1, y.c1, y.c3 FROM {s}.sh1 x LEFT JOIN {s}.sh2 y ON x.c1 = y.c1 AND y.c2 > 3 WHERE y.c1 IS NULL');
-- without the inner side's columns it is pushed, as NOT EXISTS
EXPLAIN (VERBOSE, COSTS OFF)
SELECT x.c1 FROM sh1 x LEFT JOIN sh2 y ON x.c1 = y.c1 AND y.c2 > 3
 WHERE y.c1 IS NULL;

--
-- 7. A type output function called directly prints under the session's
--    settings (extra_float_digits here), so it is evaluated locally; the
--    dummy output function of a pseudo-type fails whenever it runs, so it
--    must only run on the rows the local quals let through (sqlsmith).
--
SET extra_float_digits = 0;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT c1, float8out(c1 / 3.0::float8)::text FROM sh1
 WHERE float8out(c1 / 3.0::float8)::text LIKE '%.333333333333333';
SELECT c1, float8out(c1 / 3.0::float8)::text FROM sh1
 WHERE float8out(c1 / 3.0::float8)::text LIKE '%.333333333333333' AND c1 < 10
 ORDER BY 1;
SELECT cmp('SELECT c1, float8out(c1 / 3.0::float8)::text FROM {s}.sh1 WHERE float8out(c1 / 3.0::float8)::text LIKE ''%.333333333333333''');
RESET extra_float_digits;
-- (no enum value sorts after 'bar', the last one: the local qual is false)
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM she
 WHERE c8 > 'bar' AND circle_in(anyelement_out(id)) >> circle(point(id, id), 1);
SELECT id FROM she
 WHERE c8 > 'bar' AND circle_in(anyelement_out(id)) >> circle(point(id, id), 1);
SELECT id FROM loc.she
 WHERE c8 > 'bar' AND circle_in(anyelement_out(id)) >> circle(point(id, id), 1);

DROP FUNCTION cmp(text);
DROP SCHEMA loc CASCADE;
DROP FOREIGN TABLE sh1, sh2, shk, she, shp;
DROP TYPE user_enum;
DROP COLLATION ci;
