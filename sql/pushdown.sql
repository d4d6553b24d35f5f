--
-- pushdown: ORDER BY (k-way merge), LIMIT/OFFSET and aggregate push-down.
--
-- Uses the fixture of init (server `cluster`, shards shard0 .. shard3 and
-- the int-keyed hash-partitioned parent placement_probe on each shard).
--
-- Tables that must exist on every shard are created by one SQL text kept
-- in a psql variable (\gset) and run on each shard (\c shardN, :var); rows
-- are kept on the shard that owns their key (mine(), i.e.
-- satisfies_hash_partition()).  The same text run locally in schema loc,
-- with a mine() that keeps every row, gives local twins holding exactly
-- the same rows.  Every pushed-down query is compared with the same query
-- on the twins: cmp() compares the row sets (EXCEPT ALL both ways, on the
-- rows' text so that numeric scale counts), cmp_ordered() the row
-- sequences; in both the placeholder {s} is the schema (public: the
-- foreign tables, loc: the local twins).
--
SELECT current_database() AS regdb \gset
\set VERBOSITY terse

SELECT $sql$
CREATE OR REPLACE FUNCTION mine(int) RETURNS bool LANGUAGE sql STABLE
  AS $f$SELECT satisfies_hash_partition('placement_probe'::regclass, 4,
                substr(current_database(), 6)::int, $1)$f$;
$sql$ AS mine_ddl \gset
-- pd: 200 rows with a column of each type the aggregates care about, with
-- duplicates and NULLs in every column but id.
-- pdr: a small table copied in full to every shard (replicated).
-- pd_empty: no rows anywhere.
SELECT $sql$
CREATE TABLE pd (id int PRIMARY KEY, g int, i2 int2, i4 int4, i8 int8,
                 n numeric, f float8, s text, ts timestamptz, d date,
                 b bool, bits int);
INSERT INTO pd
SELECT x,
       CASE WHEN x % 10 = 0 THEN NULL ELSE x % 7 END,
       CASE WHEN x % 9 = 0 THEN NULL ELSE (x % 41 - 20) * 1000 END,
       CASE WHEN x % 11 = 0 THEN NULL ELSE (x * 7919) % 2003 - 1000 END,
       CASE WHEN x % 12 = 0 THEN NULL ELSE x::int8 * 100000000003 - 9000000000000 END,
       CASE WHEN x % 17 = 0 THEN NULL ELSE round(x / 7.0, x % 4) END,
       CASE WHEN x % 14 = 0 THEN NULL ELSE x / 3.0::float8 END,
       CASE WHEN x % 13 = 0 THEN NULL WHEN x % 5 = 0 THEN 'Upper ' || x
            ELSE md5(x::text) END,
       CASE WHEN x % 19 = 0 THEN NULL
            ELSE timestamptz '2024-01-01 00:00:00+00' + x * interval '7 hours 13 minutes' END,
       CASE WHEN x % 15 = 0 THEN NULL ELSE date '2020-02-01' + (x * 13) % 400 END,
       CASE WHEN x % 23 = 0 THEN NULL ELSE x % 5 <> 0 END,
       CASE WHEN x % 16 = 0 THEN NULL ELSE (x * 37) % 256 | 1 END
  FROM generate_series(1, 200) x
 WHERE mine(x);
SELECT count(*) AS pd_rows_here FROM pd;
CREATE TABLE pdr (id int PRIMARY KEY, g int, v int);
INSERT INTO pdr SELECT x, x % 3, x * 10 FROM generate_series(1, 20) x;
CREATE TABLE pd_empty (id int, g int, v int);
$sql$ AS shard_ddl \gset
\c shard0
:mine_ddl
:shard_ddl
\c shard1
:mine_ddl
:shard_ddl
\c shard2
:mine_ddl
:shard_ddl
\c shard3
:mine_ddl
:shard_ddl
-- pd_some: rows on shards p1 and p3 only (p0 and p2 are empty)
\c shard1
CREATE TABLE pd_some AS SELECT id, g, i4 FROM pd WHERE id <= 120;
\c shard3
CREATE TABLE pd_some AS SELECT id, g, i4 FROM pd WHERE id <= 120;
\c shard0
CREATE TABLE pd_some (id int, g int, i4 int);
\c shard2
CREATE TABLE pd_some (id int, g int, i4 int);
\c :regdb
\set VERBOSITY terse

-- the local twins
CREATE SCHEMA loc;
CREATE FUNCTION loc.mine(int) RETURNS bool LANGUAGE sql AS 'SELECT true';
SET search_path = loc, public;
:shard_ddl
RESET search_path;

CREATE FOREIGN TABLE pd (id int, g int, i2 int2, i4 int4, i8 int8,
                         n numeric, f float8, s text, ts timestamptz, d date,
                         b bool, bits int)
  SERVER cluster OPTIONS (distribution_column 'id');
CREATE FOREIGN TABLE pdr (id int, g int, v int)
  SERVER cluster OPTIONS (distribution 'replicated');
CREATE FOREIGN TABLE pd_empty (id int, g int, v int)
  SERVER cluster OPTIONS (distribution_column 'id');
CREATE FOREIGN TABLE pd_some (id int, g int, i4 int)
  SERVER cluster OPTIONS (distribution_column 'id');
CREATE TABLE loc.pd_some AS SELECT id, g, i4 FROM loc.pd
 WHERE id <= 120 AND shardfdw.shard_for('public.pd_some'::regclass, id) IN (1, 3);
SELECT shardfdw.shard_for('pd'::regclass, id) AS shard, count(*)
  FROM loc.pd GROUP BY 1 ORDER BY 1;
SELECT count(*) AS pd_some_rows FROM loc.pd_some;
ANALYZE loc.pd, loc.pdr, loc.pd_some;

CREATE FUNCTION plus_one(int) RETURNS int LANGUAGE plpgsql IMMUTABLE
  AS $$BEGIN RETURN $1 + 1; END$$;

-- q on the foreign tables and on the twins: the same rows?
CREATE FUNCTION cmp(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  rq text := replace(q, '{s}', 'public');
  lq text := replace(q, '{s}', 'loc');
  n bigint;
  r bigint;
  l bigint;
BEGIN
  EXECUTE format('SELECT count(*) FROM (%s) x', rq) INTO n;
  EXECUTE format('SELECT count(*) FROM (SELECT x::text FROM (%s) x'
                 ' EXCEPT ALL SELECT x::text FROM (%s) x) d', rq, lq) INTO r;
  EXECUTE format('SELECT count(*) FROM (SELECT x::text FROM (%s) x'
                 ' EXCEPT ALL SELECT x::text FROM (%s) x) d', lq, rq) INTO l;
  IF r = 0 AND l = 0 THEN
    RETURN format('same %s rows', n);
  END IF;
  RETURN format('DIFFERENT: %s rows, %s only remote, %s only local', n, r, l);
END $$;
-- ... the same rows in the same order?
CREATE FUNCTION cmp_ordered(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  rq text := replace(q, '{s}', 'public');
  lq text := replace(q, '{s}', 'loc');
  rn bigint;
  ln bigint;
  rs text;
  ls text;
BEGIN
  EXECUTE format('SELECT count(*), string_agg(x::text, %L) FROM (%s) x', ' | ', rq)
    INTO rn, rs;
  EXECUTE format('SELECT count(*), string_agg(x::text, %L) FROM (%s) x', ' | ', lq)
    INTO ln, ls;
  IF rn = ln AND rs IS NOT DISTINCT FROM ls THEN
    RETURN format('same %s rows, same order', rn);
  END IF;
  RETURN format('DIFFERENT: %s rows remote, %s local', rn, ln);
END $$;
-- how the foreign table is read: the plan's node types, top down, and the
-- remote SQL (from EXPLAIN (VERBOSE, FORMAT JSON))
CREATE FUNCTION plan_of(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  j json;
  p json;
  nodes text := '';
  rsql text;
BEGIN
  EXECUTE 'EXPLAIN (VERBOSE, COSTS OFF, FORMAT JSON) ' || replace(q, '{s}', 'public')
    INTO j;
  p := j->0->'Plan';
  LOOP
    nodes := nodes || CASE WHEN nodes = '' THEN '' ELSE ' > ' END
             || (p->>'Node Type')
             || coalesce(' [' || (p->>'Merge') || ']', '');
    IF p->>'Remote SQL' IS NOT NULL THEN
      rsql := p->>'Remote SQL';
    END IF;
    EXIT WHEN p->'Plans' IS NULL;
    p := p->'Plans'->0;
  END LOOP;
  RETURN nodes || ': ' || coalesce(rsql, '-');
END $$;

-- ===================================================================
-- ORDER BY push-down: each shard sorts, the coordinator merges
-- ===================================================================
-- fetch_size 3: every shard returns its ~50 rows in ~17 batches, so the
-- merge crosses batch boundaries on every shard many times
ALTER FOREIGN TABLE pd OPTIONS (ADD fetch_size '3');

-- ASC (NULLS LAST implied), DESC (NULLS FIRST implied), explicit NULLS
EXPLAIN (VERBOSE, COSTS OFF) SELECT id, i4 FROM pd ORDER BY i4, id;
EXPLAIN (VERBOSE, COSTS OFF) SELECT id, i4 FROM pd ORDER BY i4 DESC, id DESC;
EXPLAIN (VERBOSE, COSTS OFF) SELECT id, i4 FROM pd ORDER BY i4 NULLS FIRST, id;
EXPLAIN (VERBOSE, COSTS OFF) SELECT id, i4 FROM pd ORDER BY i4 DESC NULLS LAST, id;
-- the first rows, as they come out of the merge
SELECT id, i4 FROM pd ORDER BY i4 NULLS FIRST, id LIMIT 12;
SELECT id, i4 FROM pd ORDER BY i4 DESC NULLS LAST, id OFFSET 180;
-- multi-column, text with the default collation, keys not in the output
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM pd ORDER BY g DESC, d, s NULLS FIRST, id;
EXPLAIN (VERBOSE, COSTS OFF) SELECT id, s FROM pd ORDER BY s, id;
SELECT id, s FROM pd ORDER BY s DESC NULLS LAST, id LIMIT 5;
-- every ordering below: pushed (a Foreign Scan with a Merge line, no local
-- Sort) and the same rows in the same order as the local table
CREATE TABLE orders (n int, ob text);
INSERT INTO orders VALUES
  (1, 'id'), (2, 'id DESC'), (3, 'i4, id'), (4, 'i4 DESC, id DESC'),
  (5, 'i4 NULLS FIRST, id'), (6, 'i4 DESC NULLS LAST, id'),
  (7, 'g, id'), (8, 'g DESC, id'), (9, 'g NULLS FIRST, i2 DESC NULLS LAST, id'),
  (10, 'i2, id DESC'), (11, 'i8 DESC, id'), (12, 'n, id'), (13, 'n DESC, id'),
  (14, 'f, id'), (15, 'f DESC NULLS LAST, id'), (16, 's, id'),
  (17, 's DESC, id'), (18, 's NULLS FIRST, id DESC'), (19, 'ts, id'),
  (20, 'ts DESC, id'), (21, 'd, id'), (22, 'd DESC NULLS LAST, id DESC'),
  (23, 'b, id'), (24, 'b DESC, id'), (25, 'b NULLS FIRST, d, s, id'),
  (26, 'bits, g, i4, id'), (27, 'g DESC NULLS LAST, b, ts DESC, id');
SELECT n, ob, plan_of('SELECT * FROM {s}.pd ORDER BY ' || ob) AS plan
  FROM orders ORDER BY n;
SELECT n, ob, cmp_ordered('SELECT * FROM {s}.pd ORDER BY ' || ob) AS result
  FROM orders ORDER BY n;
-- sort keys only in the output (ties come out in any order, the keys not)
SELECT cmp_ordered('SELECT g, b FROM {s}.pd ORDER BY g, b DESC');
SELECT cmp_ordered('SELECT d FROM {s}.pd ORDER BY d DESC');

-- not pushed: a sort under another collation, a sort expression, a
-- function the shards do not have: a local Sort over the plain scan
EXPLAIN (VERBOSE, COSTS OFF) SELECT id, s FROM pd ORDER BY s COLLATE "C", id;
SELECT cmp_ordered('SELECT id, s FROM {s}.pd ORDER BY s COLLATE "C", id');
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM pd ORDER BY i4 + 0, id;
SELECT cmp_ordered('SELECT id FROM {s}.pd ORDER BY i4 + 0, id');
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM pd ORDER BY plus_one(i4), id;
SELECT cmp_ordered('SELECT id FROM {s}.pd ORDER BY plus_one(i4), id');
-- the first key cannot be shipped: nothing is (no partial merge)
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM pd ORDER BY plus_one(i4), i4, id;

-- with a WHERE clause: shipped quals, pruned shards
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id, s FROM pd WHERE i4 > 0 AND s LIKE '%a%' ORDER BY s DESC, id;
SELECT cmp_ordered($$SELECT id, s FROM {s}.pd WHERE i4 > 0 AND s LIKE '%a%' ORDER BY s DESC, id$$);
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id, i4 FROM pd WHERE id IN (1, 2, 3, 4, 5, 6, 7, 8) ORDER BY i4 DESC;
SELECT id, i4 FROM pd WHERE id IN (1, 2, 3, 4, 5, 6, 7, 8) ORDER BY i4 DESC;
-- a local filter on top of the merged stream keeps the order
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM pd WHERE plus_one(id) % 3 = 0 ORDER BY i4, id;
SELECT cmp_ordered('SELECT id FROM {s}.pd WHERE plus_one(id) % 3 = 0 ORDER BY i4, id');

-- merge joins use the merge order of the foreign scan
SET enable_hashjoin = off;
SET enable_nestloop = off;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, b.id FROM pd a JOIN loc.pd b ON a.i4 = b.i4;
SELECT cmp('SELECT a.id, b.id FROM {s}.pd a JOIN loc.pd b ON a.i4 = b.i4');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, b.id FROM pd a JOIN pd b ON a.s = b.s;
SELECT cmp('SELECT a.id, b.id, a.s FROM {s}.pd a JOIN {s}.pd b ON a.s = b.s');
SELECT cmp('SELECT a.id, b.id FROM {s}.pd a LEFT JOIN {s}.pd b ON a.g = b.i2 / 1000');
SELECT cmp('SELECT a.id, b.id FROM {s}.pd a FULL JOIN {s}.pd_some b ON a.i4 = b.i4');
RESET enable_hashjoin;
RESET enable_nestloop;

-- empty shards, an empty table, zero target shards
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM pd_some ORDER BY i4 DESC, id;
SELECT cmp_ordered('SELECT * FROM {s}.pd_some ORDER BY i4 DESC, id');
SELECT cmp_ordered('SELECT * FROM {s}.pd_some ORDER BY g NULLS FIRST, id DESC');
SELECT * FROM pd_empty ORDER BY g, id;
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM pd WHERE id = ANY ('{}') ORDER BY i4;
SELECT * FROM pd WHERE id = ANY ('{}') ORDER BY i4;
SELECT * FROM pd WHERE id = ANY ('{NULL}') ORDER BY i4;
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM pd WHERE id = NULL ORDER BY i4;
SELECT * FROM pd WHERE id = NULL ORDER BY i4;
-- one target shard: no merge needed, still right
SELECT cmp_ordered('SELECT id, s FROM {s}.pd WHERE id IN (5, 6, 7, 8, 9) ORDER BY s');

-- ===================================================================
-- LIMIT / OFFSET push-down: each shard sends at most count+offset rows
-- ===================================================================
-- ORDER BY + LIMIT + OFFSET: LIMIT 15 on every shard, exact locally
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id, i4 FROM pd ORDER BY i4 DESC, id LIMIT 5 OFFSET 10;
SELECT id, i4 FROM pd ORDER BY i4 DESC, id LIMIT 5 OFFSET 10;
SELECT id, i4 FROM loc.pd ORDER BY i4 DESC, id LIMIT 5 OFFSET 10;
-- limits around the shards' row counts (17, 25, 27, 31 ... here ~50)
CREATE TABLE limits (n int, lo text);
INSERT INTO limits VALUES (1, 'LIMIT 1'), (2, 'LIMIT 3'), (3, 'LIMIT 50'),
  (4, 'LIMIT 60'), (5, 'LIMIT 199'), (6, 'LIMIT 200'), (7, 'LIMIT 500'),
  (8, 'LIMIT 10 OFFSET 190'), (9, 'LIMIT 10 OFFSET 195'),
  (10, 'LIMIT 5 OFFSET 300'), (11, 'OFFSET 197'), (12, 'LIMIT 0'),
  (13, 'LIMIT ALL'), (14, 'LIMIT NULL OFFSET 198'),
  (15, 'FETCH FIRST 4 ROWS ONLY'), (16, 'OFFSET 2 ROWS FETCH NEXT 2 ROWS ONLY');
SELECT n, lo, plan_of('SELECT id, s FROM {s}.pd ORDER BY s DESC, id ' || lo) AS plan
  FROM limits ORDER BY n;
SELECT n, lo, cmp_ordered('SELECT id, s FROM {s}.pd ORDER BY s DESC, id ' || lo) AS result,
       cmp_ordered('SELECT id, g FROM {s}.pd ORDER BY g NULLS FIRST, id DESC ' || lo) AS result2
  FROM limits ORDER BY n;
-- LIMIT without ORDER BY: any 7 rows, each a real row of the table
EXPLAIN (VERBOSE, COSTS OFF) SELECT id, s FROM pd LIMIT 7;
SELECT count(*) AS n,
       count(*) FILTER (WHERE EXISTS (SELECT 1 FROM loc.pd l
                                       WHERE l.id = x.id AND l.s IS NOT DISTINCT FROM x.s)) AS real_rows,
       count(DISTINCT id) AS distinct_ids
  FROM (SELECT id, s FROM pd LIMIT 7) x;
SELECT count(*) FROM (SELECT id FROM pd LIMIT 150 OFFSET 40) x;
SELECT count(*) FROM (SELECT id FROM pd WHERE g = 3 LIMIT 100) x;
-- WITH TIES: every row tied with the last one belongs to the result, so
-- a plain LIMIT count+offset on the shards would lose rows (26 rows here:
-- every row of the group g = 0, ~6 on each shard)
SELECT count(*) FROM (SELECT id, g FROM pd ORDER BY g FETCH FIRST 3 ROWS WITH TIES) x;
SELECT count(*) FROM (SELECT id, g FROM loc.pd ORDER BY g FETCH FIRST 3 ROWS WITH TIES) x;
SELECT cmp('SELECT id, g FROM {s}.pd ORDER BY g FETCH FIRST 3 ROWS WITH TIES');
SELECT cmp('SELECT g FROM {s}.pd ORDER BY g OFFSET 2 ROWS FETCH FIRST 1 ROW WITH TIES');
SELECT cmp('SELECT g FROM {s}.pd ORDER BY g DESC NULLS LAST FETCH FIRST 1 ROW WITH TIES');
-- not shipped: a local filter
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM pd WHERE plus_one(id) > 150 ORDER BY id LIMIT 3;
SELECT id FROM pd WHERE plus_one(id) > 150 ORDER BY id LIMIT 3;
-- a join with a replicated table is computed on the shards, ORDER BY and
-- LIMIT included
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, r.id FROM pd a JOIN pdr r ON a.g = r.g ORDER BY a.id, r.id LIMIT 5;
SELECT a.id, r.id FROM pd a JOIN pdr r ON a.g = r.g ORDER BY a.id, r.id LIMIT 5;
-- not shipped: an ordering the shards cannot give
EXPLAIN (VERBOSE, COSTS OFF) SELECT id, s FROM pd ORDER BY s COLLATE "C" LIMIT 3;
SELECT cmp_ordered('SELECT id, s FROM {s}.pd ORDER BY s COLLATE "C", id LIMIT 3');
-- not shipped: DISTINCT, aggregates, window functions between scan and LIMIT
EXPLAIN (VERBOSE, COSTS OFF) SELECT DISTINCT g FROM pd ORDER BY g LIMIT 3;
SELECT DISTINCT g FROM pd ORDER BY g LIMIT 3;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id, row_number() OVER (ORDER BY id) FROM pd ORDER BY id LIMIT 3;
SELECT id, row_number() OVER (ORDER BY id) FROM pd ORDER BY id LIMIT 3;
-- not shipped: a parameter LIMIT (generic plan); a custom plan has a constant
PREPARE pl(int, int) AS SELECT id, i4 FROM pd ORDER BY i4, id LIMIT $1 OFFSET $2;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE pl(3, 2);
EXECUTE pl(3, 2);
EXECUTE pl(4, 0);
EXECUTE pl(2, 195);
SET plan_cache_mode = force_custom_plan;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE pl(3, 2);
EXECUTE pl(3, 2);
RESET plan_cache_mode;
DEALLOCATE pl;
-- a LIMIT from a subquery is not a constant either
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM pd ORDER BY id LIMIT (SELECT 2);
SELECT id FROM pd ORDER BY id LIMIT (SELECT 2);
-- one target shard
SELECT id FROM loc.pd WHERE shardfdw.shard_for('pd'::regclass, id) = 3 AND id < 40 ORDER BY id;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id, i4 FROM pd WHERE id IN (6, 7, 15, 22, 29) ORDER BY id DESC LIMIT 2;
SELECT id, i4 FROM pd WHERE id IN (6, 7, 15, 22, 29) ORDER BY id DESC LIMIT 2;
SELECT id, i4 FROM loc.pd WHERE id IN (6, 7, 15, 22, 29) ORDER BY id DESC LIMIT 2;
-- LIMIT counts beyond int4: nothing shipped
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM pd ORDER BY id LIMIT 9223372036854775807 OFFSET 198;
SELECT id FROM pd ORDER BY id LIMIT 9223372036854775807 OFFSET 198;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM pd ORDER BY id LIMIT 2147483640 OFFSET 198;
-- a set-returning function in the output: more rows than scanned
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id, generate_series(1, 3) FROM pd ORDER BY id LIMIT 5;
SELECT id, generate_series(1, 3) FROM pd ORDER BY id LIMIT 5;
-- a LIMIT inside a subquery, correlated: every rescan limited again
SELECT o.x, (SELECT array_agg(id) FROM (SELECT id FROM pd WHERE pd.i4 > o.x
                                        ORDER BY i4, id LIMIT 3) s) AS ids,
       (SELECT array_agg(id) FROM (SELECT id FROM loc.pd WHERE pd.i4 > o.x
                                   ORDER BY i4, id LIMIT 3) s) AS local_ids
  FROM (VALUES (-1000), (0), (500), (995), (2000)) o(x) ORDER BY o.x;
ALTER FOREIGN TABLE pd OPTIONS (DROP fetch_size);

-- ===================================================================
-- Aggregates
-- ===================================================================
-- No GROUP BY over all shards: partial aggregates, combined here
EXPLAIN (VERBOSE, COSTS OFF)
SELECT count(*), count(i4), sum(i2), sum(i4), sum(i8), sum(n),
       avg(i2), avg(i4), avg(i8), avg(n) FROM pd;
SELECT count(*), count(i4), sum(i2), sum(i4), sum(i8), sum(n),
       avg(i2), avg(i4), avg(i8), avg(n) FROM pd;
SELECT count(*), count(i4), sum(i2), sum(i4), sum(i8), sum(n),
       avg(i2), avg(i4), avg(i8), avg(n) FROM loc.pd;
SELECT cmp('SELECT count(*), count(i4), sum(i2), sum(i4), sum(i8), sum(n),
       avg(i2), avg(i4), avg(i8), avg(n) FROM {s}.pd');
-- float8: the order of additions differs, compare rounded
EXPLAIN (VERBOSE, COSTS OFF) SELECT sum(f), round(sum(f)::numeric, 6) FROM pd;
SELECT round(sum(f)::numeric, 6) AS sum_f, round(sum(f::float4)::numeric, 2) AS sum_f4,
       round(avg(f)::numeric, 6) AS avg_f FROM pd;
SELECT round(sum(f)::numeric, 6) AS sum_f, round(sum(f::float4)::numeric, 2) AS sum_f4,
       round(avg(f)::numeric, 6) AS avg_f FROM loc.pd;
-- min/max of each type, bool and bit aggregates
EXPLAIN (VERBOSE, COSTS OFF)
SELECT min(i4), max(i4), min(i8), max(n), min(s), max(s), min(ts), max(ts),
       min(d), max(d), bool_and(b), bool_or(b), every(b), bit_and(bits),
       bit_or(bits) FROM pd;
SELECT min(i4), max(i4), min(i8), max(n), min(s), max(s), min(ts), max(ts),
       min(d), max(d), bool_and(b), bool_or(b), every(b), bit_and(bits),
       bit_or(bits) FROM pd;
SELECT cmp('SELECT min(i2), max(i2), min(i4), max(i4), min(i8), max(i8), min(n), max(n),
       min(f), max(f), min(s), max(s), min(ts), max(ts), min(d), max(d),
       bool_and(b), bool_or(b), every(b), bit_and(bits), bit_or(bits) FROM {s}.pd');
-- FILTER
EXPLAIN (VERBOSE, COSTS OFF)
SELECT count(*) FILTER (WHERE b), sum(i4) FILTER (WHERE g = 3),
       avg(n) FILTER (WHERE i4 > 0), max(s) FILTER (WHERE id < 50) FROM pd;
SELECT count(*) FILTER (WHERE b), sum(i4) FILTER (WHERE g = 3),
       avg(n) FILTER (WHERE i4 > 0), max(s) FILTER (WHERE id < 50) FROM pd;
SELECT cmp('SELECT count(*) FILTER (WHERE b), sum(i4) FILTER (WHERE g = 3),
       avg(n) FILTER (WHERE i4 > 0), avg(i2) FILTER (WHERE NOT b),
       max(s) FILTER (WHERE id < 50), count(i8) FILTER (WHERE id > 1000),
       sum(i8) FILTER (WHERE id > 1000), avg(i4) FILTER (WHERE id > 1000) FROM {s}.pd');

-- GROUP BY a non-key column: partial per shard, combined per group (the
-- NULL group included)
EXPLAIN (VERBOSE, COSTS OFF)
SELECT g, count(*), sum(i4), avg(i4), min(s), max(d) FROM pd GROUP BY g ORDER BY g;
SELECT g, count(*), sum(i4), avg(i4), min(s), max(d) FROM pd GROUP BY g ORDER BY g;
SELECT g, count(*), sum(i4), avg(i4), min(s), max(d) FROM loc.pd GROUP BY g ORDER BY g;
SELECT cmp('SELECT g, count(*), count(i2), sum(i2), sum(i4), sum(i8), sum(n),
       avg(i2), avg(i4), avg(i8), avg(n), round(sum(f)::numeric, 6),
       min(i4), max(i8), min(n), max(s), min(ts), max(d),
       bool_and(b), bool_or(b), bit_and(bits), bit_or(bits) FROM {s}.pd GROUP BY g');
-- several keys, keys with NULLs, a text key, a key not in the output
EXPLAIN (VERBOSE, COSTS OFF)
SELECT g, b, count(*), avg(n) FROM pd GROUP BY g, b;
SELECT cmp('SELECT g, b, count(*), avg(n) FROM {s}.pd GROUP BY g, b');
SELECT cmp('SELECT d, count(*), sum(i4) FROM {s}.pd GROUP BY d');
SELECT cmp('SELECT count(*), sum(i4) FROM {s}.pd GROUP BY b');
SELECT cmp('SELECT left(s, 1), count(*), min(id), max(s) FROM {s}.pd GROUP BY 1');
SELECT cmp('SELECT ts, count(*) FROM {s}.pd GROUP BY ts');
-- GROUP BY an expression
EXPLAIN (VERBOSE, COSTS OFF)
SELECT i4 % 3, count(*), sum(i8) FROM pd GROUP BY i4 % 3;
SELECT i4 % 3, count(*), sum(i8) FROM pd GROUP BY i4 % 3 ORDER BY 1;
SELECT cmp('SELECT i4 % 3, count(*), sum(i8) FROM {s}.pd GROUP BY i4 % 3');
SELECT cmp('SELECT date_trunc(''month'', d), count(*), avg(i2) FROM {s}.pd GROUP BY 1');
-- group keys only
EXPLAIN (VERBOSE, COSTS OFF) SELECT g FROM pd GROUP BY g;
SELECT g FROM pd GROUP BY g ORDER BY g;
-- expressions over aggregates and group keys
EXPLAIN (VERBOSE, COSTS OFF)
SELECT g * 10, sum(i4) / count(*) + 1, sum(i4)::numeric / nullif(count(i4), 0)
  FROM pd GROUP BY g;
SELECT cmp('SELECT g * 10, sum(i4) / count(*) + 1,
       sum(i4)::numeric / nullif(count(i4), 0), max(i4) - min(i4) FROM {s}.pd GROUP BY g');
SELECT sum(i4) / count(*) + 1 AS a, coalesce(max(s), 'none') AS b FROM pd;
-- HAVING: kept local in partial mode (on the combined values)
EXPLAIN (VERBOSE, COSTS OFF)
SELECT g, count(*) FROM pd GROUP BY g HAVING sum(i4) > 0 AND count(*) > 25;
SELECT g, count(*) FROM pd GROUP BY g HAVING sum(i4) > 0 AND count(*) > 25 ORDER BY g;
SELECT cmp('SELECT g, count(*) FROM {s}.pd GROUP BY g HAVING sum(i4) > 0 AND count(*) > 25');
SELECT cmp('SELECT g, avg(i4) FROM {s}.pd GROUP BY g HAVING avg(i4) < 0 OR g IS NULL');
-- aggregates only in HAVING
EXPLAIN (VERBOSE, COSTS OFF) SELECT g FROM pd GROUP BY g HAVING count(*) > 25;
SELECT cmp('SELECT g FROM {s}.pd GROUP BY g HAVING count(*) > 25');
SELECT cmp('SELECT id FROM {s}.pd GROUP BY id HAVING avg(i4) > 900');
-- an aggregate passed to a subquery, an initplan next to aggregates
EXPLAIN (VERBOSE, COSTS OFF)
SELECT g, (SELECT count(*) FROM pdr WHERE pdr.v > sum(pd.i2) / 1000) FROM pd GROUP BY g;
SELECT cmp('SELECT g, (SELECT count(*) FROM {s}.pdr WHERE pdr.v > sum(pd.i2) / 1000) FROM {s}.pd GROUP BY g');
SELECT cmp('SELECT g, count(*), (SELECT max(v) FROM {s}.pdr) FROM {s}.pd GROUP BY g');
-- HAVING without GROUP BY
SELECT cmp('SELECT count(*) FROM {s}.pd HAVING count(*) > 1000');
SELECT cmp('SELECT count(*) FROM {s}.pd HAVING min(i4) < 0');
-- ORDER BY and LIMIT over grouped rows: done locally
EXPLAIN (VERBOSE, COSTS OFF)
SELECT g, count(*) FROM pd GROUP BY g ORDER BY 2 DESC, 1 LIMIT 3;
SELECT g, count(*) FROM pd GROUP BY g ORDER BY 2 DESC, 1 LIMIT 3;

-- GROUP BY the distribution column: every group is on one shard, the
-- whole aggregation is shipped, HAVING too
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id, count(*), avg(i4), string_agg(s, ',') FROM pd GROUP BY id HAVING sum(i4) > 900;
SELECT id, count(*), avg(i4), string_agg(s, ',') FROM pd GROUP BY id HAVING sum(i4) > 900
 ORDER BY id;
SELECT cmp('SELECT id, count(*), avg(i4), string_agg(s, '','') FROM {s}.pd GROUP BY id HAVING sum(i4) > 900');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT g, id, avg(n), array_agg(i4 ORDER BY i4), count(DISTINCT s) FROM pd GROUP BY g, id;
SELECT cmp('SELECT g, id, avg(n), array_agg(i4 ORDER BY i4), count(DISTINCT s),
       stddev(i4), percentile_cont(0.5) WITHIN GROUP (ORDER BY i4) FROM {s}.pd GROUP BY g, id');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id, percentile_cont(0.5) WITHIN GROUP (ORDER BY i4), mode() WITHIN GROUP (ORDER BY g),
       string_agg(DISTINCT s, ',') FILTER (WHERE b), stddev(f) FROM pd GROUP BY id;
SELECT cmp('SELECT id, percentile_cont(0.5) WITHIN GROUP (ORDER BY i4), mode() WITHIN GROUP (ORDER BY g),
       string_agg(DISTINCT s, '','') FILTER (WHERE b), stddev(f) FROM {s}.pd GROUP BY id');
-- a HAVING clause the shards cannot evaluate stays local in whole mode
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id, count(*) FROM pd GROUP BY id HAVING plus_one(sum(i4)::int) > 990;
SELECT id, count(*) FROM pd GROUP BY id HAVING plus_one(sum(i4)::int) > 990 ORDER BY id;
-- WHERE id = const: one shard, the whole aggregation there
EXPLAIN (VERBOSE, COSTS OFF)
SELECT count(*), avg(i4), string_agg(s, ',' ORDER BY s) FROM pd WHERE id = 42;
SELECT count(*), avg(i4), string_agg(s, ',' ORDER BY s) FROM pd WHERE id = 42;
SELECT count(*), avg(i4), string_agg(s, ',' ORDER BY s) FROM loc.pd WHERE id = 42;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT g, count(*), sum(i4) FROM pd WHERE id IN (6, 7, 15, 22, 29) GROUP BY g HAVING count(*) > 1;
SELECT cmp('SELECT g, count(*), sum(i4) FROM {s}.pd WHERE id IN (6, 7, 15, 22, 29) GROUP BY g HAVING count(*) > 1');
SELECT cmp('SELECT g, count(*), sum(i4) FROM {s}.pd WHERE id IN (6, 7, 15, 22, 29) GROUP BY g');
-- two shards: partial again
EXPLAIN (VERBOSE, COSTS OFF)
SELECT count(*), sum(i4) FROM pd WHERE id IN (1, 2);
SELECT cmp('SELECT count(*), sum(i4), avg(i4) FROM {s}.pd WHERE id IN (1, 2)');
-- the replicated table: one shard has it all
EXPLAIN (VERBOSE, COSTS OFF)
SELECT g, count(*), sum(v), avg(v) FROM pdr GROUP BY g HAVING sum(v) > 600;
SELECT g, count(*), sum(v), avg(v) FROM pdr GROUP BY g HAVING sum(v) > 600 ORDER BY g;
SELECT cmp('SELECT g, count(*), sum(v), avg(v), string_agg(id::text, '','' ORDER BY id)
  FROM {s}.pdr GROUP BY g');
EXPLAIN (VERBOSE, COSTS OFF) SELECT count(*), max(v) FROM pdr;
SELECT count(*), max(v) FROM pdr;

-- empty input: count 0, sum/avg/min NULL; no rows with GROUP BY
EXPLAIN (VERBOSE, COSTS OFF)
SELECT count(*), count(i4), sum(i4), sum(i8), avg(i4), avg(n), min(s), bool_and(b), bit_or(bits)
  FROM pd WHERE i4 > 5000;
SELECT count(*), count(i4), sum(i4), sum(i8), avg(i4), avg(n), min(s), bool_and(b), bit_or(bits)
  FROM pd WHERE i4 > 5000;
SELECT count(*), count(i4), sum(i4), sum(i8), avg(i4), avg(n), min(s), bool_and(b), bit_or(bits)
  FROM loc.pd WHERE i4 > 5000;
SELECT g, count(*), sum(i4) FROM pd WHERE i4 > 5000 GROUP BY g;
SELECT count(*), sum(v), avg(v), max(v) FROM pd_empty;
SELECT g, count(*) FROM pd_empty GROUP BY g;
-- zero target shards
EXPLAIN (VERBOSE, COSTS OFF)
SELECT count(*), sum(i4), avg(i4), max(s) FROM pd WHERE id = ANY ('{}');
SELECT count(*), sum(i4), avg(i4), max(s) FROM pd WHERE id = ANY ('{}');
SELECT count(*), sum(i4), avg(i4), max(s) FROM pd WHERE id = ANY ('{NULL}');
SELECT g, count(*), sum(i4) FROM pd WHERE id = ANY ('{}') GROUP BY g;
SELECT id, count(*) FROM pd WHERE id = ANY ('{}') GROUP BY id;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT count(*), sum(i4), avg(i4) FROM pd WHERE id = NULL;
SELECT count(*), sum(i4), avg(i4) FROM pd WHERE id = NULL;
SELECT count(*) FROM pd WHERE id = NULL HAVING count(*) = 0;
-- groups that exist on some shards only
EXPLAIN (VERBOSE, COSTS OFF)
SELECT g, count(*), sum(i4), avg(i4) FROM pd_some GROUP BY g;
SELECT g, count(*), sum(i4), avg(i4) FROM pd_some GROUP BY g ORDER BY g;
SELECT cmp('SELECT g, count(*), sum(i4), avg(i4), min(i4), max(id) FROM {s}.pd_some GROUP BY g');
SELECT cmp('SELECT count(*), sum(i4), avg(i4), min(i4), max(id) FROM {s}.pd_some');
SELECT cmp('SELECT i4 % 5, count(*), sum(id) FROM {s}.pd_some WHERE id > 50 GROUP BY 1');
SELECT cmp('SELECT g, count(*) FROM {s}.pd WHERE id < 12 GROUP BY g');

-- not combinable: the rows are fetched and aggregated here
EXPLAIN (VERBOSE, COSTS OFF)
SELECT g, string_agg(s, ',' ORDER BY s) FROM pd GROUP BY g;
SELECT cmp('SELECT g, string_agg(s, '','' ORDER BY s) FROM {s}.pd GROUP BY g');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT array_agg(i4 ORDER BY i4) FROM pd WHERE id < 30;
SELECT array_agg(i4 ORDER BY i4) FROM pd WHERE id < 30;
SELECT cmp('SELECT g, array_agg(i4 ORDER BY i4 NULLS FIRST, id) FROM {s}.pd GROUP BY g');
-- count(DISTINCT x): the shards return their distinct x per group, the
-- coordinator removes duplicates across shards
EXPLAIN (VERBOSE, COSTS OFF) SELECT count(DISTINCT g), count(*) FROM pd;
SELECT count(DISTINCT g), count(*) FROM pd;
SELECT cmp('SELECT b, count(DISTINCT g), min(DISTINCT g), max(DISTINCT g), count(*), sum(i4) FROM {s}.pd GROUP BY b');
SELECT cmp('SELECT count(DISTINCT s) FROM {s}.pd WHERE id < 0');
SELECT cmp('SELECT b, count(DISTINCT g), count(*), sum(DISTINCT i2) FROM {s}.pd GROUP BY b');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT g, stddev(f), variance(f) FROM pd GROUP BY g;
SELECT cmp('SELECT g, round(stddev(f)::numeric, 8), round(variance(f)::numeric, 6),
       round(var_pop(f)::numeric, 6) FROM {s}.pd GROUP BY g');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY i4) FROM pd;
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY i4),
       percentile_disc(0.9) WITHIN GROUP (ORDER BY s), mode() WITHIN GROUP (ORDER BY g) FROM pd;
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY i4),
       percentile_disc(0.9) WITHIN GROUP (ORDER BY s), mode() WITHIN GROUP (ORDER BY g) FROM loc.pd;
-- variances of integers and numerics are combined (count, sum, sum of
-- squares): exactly PostgreSQL's results, scale included
EXPLAIN (VERBOSE, COSTS OFF)
SELECT g, stddev(i4), variance(i4) FROM pd GROUP BY g;
SELECT cmp('SELECT g, stddev(i4), variance(i4), var_pop(i2), var_samp(i8), stddev_pop(n),
       stddev_samp(n), variance(n) FROM {s}.pd GROUP BY g');
SELECT cmp('SELECT stddev(i4), variance(i4), var_pop(i2), var_samp(i8), stddev_pop(n),
       stddev_samp(n), variance(n) FROM {s}.pd');
SELECT cmp('SELECT d, stddev(i4), var_pop(i4), variance(n) FROM {s}.pd GROUP BY d');
SELECT cmp('SELECT stddev(i4), var_pop(n) FROM {s}.pd WHERE i4 > 5000');
SELECT cmp('SELECT stddev(i4), var_pop(n) FROM {s}.pd WHERE id IN (1, 2)');
-- one non-combinable aggregate makes the whole query local (a DISTINCT
-- array_agg is sorted: it is not a concatenation of the shards' arrays)
EXPLAIN (VERBOSE, COSTS OFF)
SELECT g, count(*), sum(i4), array_agg(DISTINCT s) FROM pd GROUP BY g;
-- avg of float8: avg, count and var_pop (more in the aggregates test)
EXPLAIN (VERBOSE, COSTS OFF) SELECT avg(f) FROM pd;
-- a WHERE clause filtered locally: no push-down
EXPLAIN (VERBOSE, COSTS OFF) SELECT count(*), sum(i4) FROM pd WHERE plus_one(i4) > 0;
SELECT cmp('SELECT g, count(*), sum(i4) FROM {s}.pd WHERE plus_one(i4) > 0 GROUP BY g');
-- a user-defined aggregate the shards do not have
CREATE AGGREGATE my_sum(int) (SFUNC = int4pl, STYPE = int, COMBINEFUNC = int4pl);
EXPLAIN (VERBOSE, COSTS OFF) SELECT my_sum(i4) FROM pd;
SELECT my_sum(i4) FROM pd;
SELECT my_sum(i4) FROM loc.pd;

-- prepared statement, generic plan, WHERE id = $1: shards chosen at run
-- time, partial aggregates (the planner cannot know it is one shard)
PREPARE pa(int) AS
  SELECT count(*), count(i4), sum(i4), avg(i4), max(s) FROM pd WHERE id = $1;
PREPARE pa_loc(int) AS
  SELECT count(*), count(i4), sum(i4), avg(i4), max(s) FROM loc.pd WHERE id = $1;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE pa(42);
EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE pa(42);
EXECUTE pa(42);
EXECUTE pa_loc(42);
EXECUTE pa(11);
EXECUTE pa_loc(11);
EXECUTE pa(1000);
EXECUTE pa(NULL);
SELECT x, (SELECT count(*) FROM pd WHERE id = x) AS n FROM generate_series(198, 202) x;
PREPARE pg(int[]) AS
  SELECT g, count(*), sum(i4), avg(i4) FROM pd WHERE id = ANY ($1)
   GROUP BY g ORDER BY g;
PREPARE pg_loc(int[]) AS
  SELECT g, count(*), sum(i4), avg(i4) FROM loc.pd WHERE id = ANY ($1)
   GROUP BY g ORDER BY g;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE pg('{1,2,3}');
EXECUTE pg('{1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20}');
EXECUTE pg_loc('{1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20}');
EXECUTE pg('{42}');
EXECUTE pg('{}');
PREPARE pk(int) AS
  SELECT id, count(*), sum(i4) FROM pd WHERE id = $1 GROUP BY id;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE pk(42);
EXECUTE pk(42);
EXECUTE pk(NULL);
-- parameters inside aggregates and FILTER clauses
PREPARE pf(int, int) AS
  SELECT g, count(*) FILTER (WHERE i4 > $1), sum(i4 + $2), avg(i4 + $2) FILTER (WHERE i4 > $1),
         max(i4) FILTER (WHERE i4 < $1)
    FROM pd GROUP BY g ORDER BY g;
PREPARE pf_loc(int, int) AS
  SELECT g, count(*) FILTER (WHERE i4 > $1), sum(i4 + $2), avg(i4 + $2) FILTER (WHERE i4 > $1),
         max(i4) FILTER (WHERE i4 < $1)
    FROM loc.pd GROUP BY g ORDER BY g;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE pf(100, 7);
EXECUTE pf(100, 7);
EXECUTE pf_loc(100, 7);
DEALLOCATE pf;
DEALLOCATE pf_loc;
RESET plan_cache_mode;
DEALLOCATE pa;
DEALLOCATE pa_loc;
DEALLOCATE pg;
DEALLOCATE pg_loc;
DEALLOCATE pk;

-- rescans of an aggregating scan: with a new parameter each time, and
-- with nothing changed (the combined groups are rebuilt, not reused)
EXPLAIN (VERBOSE, COSTS OFF)
SELECT o.x, (SELECT sum(i4) FROM pd WHERE g = o.x) FROM generate_series(0, 7) o(x);
SELECT o.x, (SELECT sum(i4) FROM pd WHERE g = o.x) AS s,
       (SELECT sum(i4) FROM loc.pd WHERE g = o.x) AS local_s,
       (SELECT avg(i2) FROM pd WHERE id < o.x * 10) AS a,
       (SELECT avg(i2) FROM loc.pd WHERE id < o.x * 10) AS local_a
  FROM generate_series(0, 7) o(x) ORDER BY o.x;
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SET enable_material = off;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT v.x, s.c, s.a FROM (VALUES (1), (2), (3)) v(x)
  LEFT JOIN (SELECT g, count(*) c, avg(i4) a FROM pd GROUP BY g) s ON s.g = v.x;
SELECT cmp('SELECT v.x, s.c, s.a FROM (VALUES (1), (2), (3), (9)) v(x)
  LEFT JOIN (SELECT g, count(*) c, avg(i4) a FROM {s}.pd GROUP BY g) s ON s.g = v.x');
SELECT cmp('SELECT v.x, s.c, s.a FROM (VALUES (1), (2), (3)) v(x)
  LEFT JOIN (SELECT id, count(*) c, avg(i4) a FROM {s}.pd GROUP BY id) s ON s.id % 50 = v.x');
RESET enable_hashjoin;
RESET enable_mergejoin;
RESET enable_material;
-- partial rows arriving in many small batches
ALTER FOREIGN TABLE pd OPTIONS (ADD fetch_size '2');
SELECT cmp('SELECT d, count(*), sum(i4), avg(n), min(s), max(ts) FROM {s}.pd GROUP BY d');
SELECT cmp('SELECT id, count(*), avg(n) FROM {s}.pd GROUP BY id');
ALTER FOREIGN TABLE pd OPTIONS (DROP fetch_size);

-- DISTINCT ON: each shard keeps its first row per key, the local Unique
-- over the merged stream the first one overall
EXPLAIN (VERBOSE, COSTS OFF)
SELECT DISTINCT ON (g) g, id, s FROM pd ORDER BY g, id DESC;
SELECT cmp_ordered('SELECT DISTINCT ON (g) g, id, s FROM {s}.pd ORDER BY g, id DESC');
SELECT cmp_ordered('SELECT DISTINCT ON (b, g) b, g, id FROM {s}.pd ORDER BY b, g, s DESC, id');
-- not shipped with a key held constant (the shards' ORDER BY would not
-- start with it)
EXPLAIN (VERBOSE, COSTS OFF)
SELECT DISTINCT ON (g) g, id FROM pd WHERE g = 3 ORDER BY g, id;
SELECT DISTINCT ON (g) g, id FROM pd WHERE g = 3 ORDER BY g, id;

-- a pushed join chooses its shards at run time from a generic plan's key
SET plan_cache_mode = force_generic_plan;
PREPARE jr(int) AS
  SELECT a.id, r.v FROM pd a JOIN pdr r ON r.g = a.g WHERE a.id = $1 ORDER BY r.v;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE jr(7);
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE jr(7);
EXECUTE jr(7);
SELECT a.id, r.v FROM loc.pd a JOIN loc.pdr r ON r.g = a.g WHERE a.id = 7 ORDER BY r.v;
DEALLOCATE jr;
RESET plan_cache_mode;

-- clean up what this test created locally
DROP FOREIGN TABLE pd, pdr, pd_empty, pd_some;
DROP TABLE orders, limits;
DROP AGGREGATE my_sum(int);
DROP FUNCTION plus_one(int), cmp(text), cmp_ordered(text), plan_of(text);
DROP SCHEMA loc CASCADE;
