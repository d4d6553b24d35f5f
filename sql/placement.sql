--
-- placement: hash and modulo placement, shard_for(), shard pruning.
--
-- Uses the fixture of init (server `cluster`, shards shard0 .. shard3,
-- table t(id, val) with ids 1..100 placed by PARTITION BY HASH, MODULUS 4).
--
SELECT current_database() AS regdb \gset
\set VERBOSITY terse

-- ===================================================================
-- Hash placement is PostgreSQL's PARTITION BY HASH, MODULUS 4
-- ===================================================================
-- For each key type, the same 200 keys are generated on every shard and
-- on the coordinator (table keys, one column per type: k_int2 .. ).
-- Each shard keeps in pl_<type> the keys that satisfies_hash_partition()
-- gives it for a parent PARTITION BY HASH (k) of that type (probe_<type>),
-- and reports, per type, how many keys it kept and the md5 of their list.
-- The coordinator computes the same with shardfdw.shard_for() on the
-- foreign table pl_<type>: both must be identical for every shard and type.
-- Then every key is looked up through the foreign table (pruned to the one
-- shard shard_for names): each is found exactly once.
SELECT $sql$
CREATE TABLE keys AS
SELECT g,
       (g * 37 - 3700)::int2 AS k_int2,
       g * 104729 - 10000000 AS k_int4,
       g::int8 * 1000000007 - 100000000000 AS k_int8,
       CASE g WHEN 1 THEN '' WHEN 2 THEN 'ünïcödé ☃' WHEN 3 THEN E'a\'b\\c'
              ELSE md5(g::text) END AS k_text,
       ('v' || g)::varchar AS k_varchar,
       md5('u' || g)::uuid AS k_uuid,
       round((g - 100) / 7.0, 4) AS k_numeric,
       date '2000-01-01' + (g - 100) * 97 AS k_date,
       timestamptz '2000-01-01 00:00:00+00'
         + (g - 100) * interval '1 day 3 hours 7 minutes 11.5 seconds'
         AS k_timestamptz
  FROM generate_series(1, 200) g;
CREATE TABLE key_types (ord int, typ text);
INSERT INTO key_types VALUES (1, 'int2'), (2, 'int4'), (3, 'int8'),
  (4, 'text'), (5, 'varchar'), (6, 'uuid'), (7, 'numeric'), (8, 'date'),
  (9, 'timestamptz');
$sql$ AS keys_ddl \gset
SELECT $sql$
DO $do$
DECLARE
  t text;
  n int := substr(current_database(), 6)::int;
BEGIN
  FOR t IN SELECT typ FROM key_types ORDER BY ord LOOP
    EXECUTE format('CREATE TABLE probe_%1$s (k %1$s) PARTITION BY HASH (k)', t);
    EXECUTE format('CREATE TABLE pl_%1$s (g int, k %1$s)', t);
    EXECUTE format('INSERT INTO pl_%1$s SELECT g, k_%1$s FROM keys'
                   ' WHERE satisfies_hash_partition(%2$L::regclass, 4, %3$s, k_%1$s)',
                   t, 'probe_' || t, n);
  END LOOP;
END
$do$;
CREATE FUNCTION placement_sig(OUT ord int, OUT typ text, OUT keys bigint,
                              OUT md5 text) RETURNS SETOF record
LANGUAGE plpgsql AS $f$
BEGIN
  FOR ord, typ IN SELECT kt.ord, kt.typ FROM key_types kt ORDER BY 1 LOOP
    EXECUTE format('SELECT count(*), md5(string_agg(g::text, %L ORDER BY g))'
                   ' FROM pl_%s', ',', typ) INTO keys, md5;
    RETURN NEXT;
  END LOOP;
END
$f$;
SELECT typ, keys, md5 FROM placement_sig() ORDER BY ord;
$sql$ AS shard_ddl \gset
\c shard0
:keys_ddl
:shard_ddl
SELECT string_agg(format('%s:%s:%s', typ, keys, md5), ' ' ORDER BY ord) AS sig0
  FROM placement_sig() \gset
\c shard1
:keys_ddl
:shard_ddl
SELECT string_agg(format('%s:%s:%s', typ, keys, md5), ' ' ORDER BY ord) AS sig1
  FROM placement_sig() \gset
\c shard2
:keys_ddl
:shard_ddl
SELECT string_agg(format('%s:%s:%s', typ, keys, md5), ' ' ORDER BY ord) AS sig2
  FROM placement_sig() \gset
\c shard3
:keys_ddl
:shard_ddl
SELECT string_agg(format('%s:%s:%s', typ, keys, md5), ' ' ORDER BY ord) AS sig3
  FROM placement_sig() \gset
\c :regdb
\set VERBOSITY terse

-- the coordinator: the same keys, and a foreign table per key type
:keys_ddl
SELECT format('CREATE FOREIGN TABLE pl_%1$s (g int, k %1$s) SERVER cluster'
              ' OPTIONS (table_name %2$L, distribution_column %3$L)',
              typ, 'pl_' || typ, 'k')
  FROM key_types ORDER BY ord \gexec
CREATE FUNCTION placement_sig(shard int, OUT ord int, OUT typ text,
                              OUT keys bigint, OUT md5 text)
RETURNS SETOF record LANGUAGE plpgsql AS $f$
BEGIN
  FOR ord, typ IN SELECT kt.ord, kt.typ FROM key_types kt ORDER BY 1 LOOP
    EXECUTE format('SELECT count(*), md5(string_agg(g::text, %L ORDER BY g))'
                   ' FROM keys WHERE shardfdw.shard_for(%L::regclass, k_%s) = %s',
                   ',', 'pl_' || typ, typ, shard) INTO keys, md5;
    RETURN NEXT;
  END LOOP;
END
$f$;
SELECT s AS shard, typ, keys, md5 FROM generate_series(0, 3) s,
       placement_sig(s) ORDER BY s, ord;
-- identical to what each shard computed with satisfies_hash_partition()
SELECT s AS shard,
       (SELECT string_agg(format('%s:%s:%s', typ, keys, md5), ' ' ORDER BY ord)
          FROM placement_sig(s))
       = (ARRAY[:'sig0', :'sig1', :'sig2', :'sig3'])[s + 1] AS agrees
  FROM generate_series(0, 3) s ORDER BY s;
-- every key of every type is on some shard, exactly once
SELECT typ, (SELECT sum(keys) FROM generate_series(0, 3) s, placement_sig(s) p
              WHERE p.typ = kt.typ) AS placed
  FROM key_types kt ORDER BY ord;
-- through the foreign tables: all rows, and each key found exactly once
-- by a lookup pruned to its shard (a Param: pruning at run time)
CREATE FUNCTION lookups(typ text, OUT total bigint, OUT found_once bigint)
LANGUAGE plpgsql AS $f$
BEGIN
  EXECUTE format('SELECT count(*) FROM pl_%s', typ) INTO total;
  EXECUTE format('SELECT count(*) FROM keys WHERE'
                 ' (SELECT count(*) FROM pl_%1$s f WHERE f.k = keys.k_%1$s) = 1',
                 typ) INTO found_once;
END
$f$;
SELECT typ, l.* FROM key_types, lookups(typ) l ORDER BY ord;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT count(*) FROM keys WHERE (SELECT count(*) FROM pl_text f WHERE f.k = keys.k_text) = 1;

-- constant keys: pruned at plan time to the owner, and found there
SELECT shardfdw.shard_for('pl_text', 'ünïcödé ☃'::text) AS text_shard,
       shardfdw.shard_for('pl_numeric', -14.1429) AS numeric_shard,
       shardfdw.shard_for('pl_numeric', -14.142900) AS same_numeric_shard;
EXPLAIN (COSTS OFF) SELECT g FROM pl_text WHERE k = 'ünïcödé ☃';
SELECT g FROM pl_text WHERE k = 'ünïcödé ☃';
EXPLAIN (COSTS OFF) SELECT g FROM pl_text WHERE k = E'a\'b\\c';
SELECT g FROM pl_text WHERE k = E'a\'b\\c';
SELECT g FROM pl_text WHERE k = '';
-- numeric: equal values with another scale hash alike
EXPLAIN (COSTS OFF) SELECT g FROM pl_numeric WHERE k = -14.142900;
SELECT g FROM pl_numeric WHERE k = -14.142900;
-- timestamptz: the same instant written in another time zone
SELECT g FROM pl_timestamptz WHERE k = '2000-01-01 09:00:00+09';
SELECT g FROM pl_timestamptz WHERE k = '2000-01-01 19:07:11.5-08';
SELECT g FROM pl_varchar WHERE k = 'v42';
SELECT g FROM pl_uuid WHERE k = md5('u42')::uuid;
SELECT g FROM pl_date WHERE k = '2000-01-01';
SELECT g FROM pl_int2 WHERE k = -3663;
SELECT g FROM pl_int8 WHERE k = -98999999993;

-- keys of another type of the same hash family find the same shard
SELECT shardfdw.shard_for('pl_int8', 42::int2) AS i2,
       shardfdw.shard_for('pl_int8', 42::int4) AS i4,
       shardfdw.shard_for('pl_int8', 42::int8) AS i8,
       shardfdw.shard_for('pl_int2', 42::int8) AS i8_on_int2,
       shardfdw.shard_for('pl_int4', 42) AS i4_on_int4;
SELECT shardfdw.shard_for('pl_text', 'v7'::varchar) = shardfdw.shard_for('pl_text', 'v7'::text) AS varchar_key_on_text,
       shardfdw.shard_for('pl_varchar', 'v7'::text) = shardfdw.shard_for('pl_varchar', 'v7'::varchar) AS text_key_on_varchar;
EXPLAIN (COSTS OFF) SELECT g FROM pl_int2 WHERE k = -3663::int8;
SELECT g FROM pl_int2 WHERE k = -3663::int8;
EXPLAIN (COSTS OFF) SELECT g FROM pl_int8 WHERE k = 42::int2;
-- a key type outside the family is an error
SELECT shardfdw.shard_for('pl_int4', 'abc'::text);
SELECT shardfdw.shard_for('pl_int4', 1.5);
-- NULL key: NULL
SELECT shardfdw.shard_for('pl_int4', NULL::int) AS null_key;
SELECT shardfdw.shard_for('pl_text', NULL::text) AS null_key;
SELECT shardfdw.shard_for(NULL, 1) AS null_table;

-- ===================================================================
-- shard_for() on other tables
-- ===================================================================
CREATE FOREIGN TABLE ft (id int, val text)
  SERVER cluster OPTIONS (table_name 't', distribution_column 'id');
CREATE FOREIGN TABLE ft_rep (id int, val text)
  SERVER cluster OPTIONS (table_name 't', distribution 'replicated');
CREATE FOREIGN TABLE ft_nodist (id int, val text)
  SERVER cluster OPTIONS (table_name 't');
CREATE TABLE plain_local (id int);
SELECT shardfdw.shard_for('ft_rep', 1);
SELECT shardfdw.shard_for('ft_nodist', 1);
SELECT shardfdw.shard_for('plain_local', 1);
-- the rows of t, placed by init with satisfies_hash_partition(), are where
-- shard_for() says
SELECT shardfdw.shard_for('ft', id) AS shard, count(*), min(id), max(id)
  FROM generate_series(1, 100) id GROUP BY 1 ORDER BY 1;

-- ===================================================================
-- modulo distribution
-- ===================================================================
SELECT $sql$
CREATE TABLE t_mod (id int8, val text);
INSERT INTO t_mod SELECT g, 'mod ' || g FROM generate_series(-20, 20) g
 WHERE ((g % 4) + 4) % 4 = substr(current_database(), 6)::int;
INSERT INTO t_mod SELECT g, 'big' FROM (VALUES (-9223372036854775808),
  (9223372036854775807), (-9223372036854775807)) v(g)
 WHERE ((g % 4) + 4) % 4 = substr(current_database(), 6)::int;
$sql$ AS mod_ddl \gset
\c shard0
:mod_ddl
\c shard1
:mod_ddl
\c shard2
:mod_ddl
\c shard3
:mod_ddl
\c :regdb
\set VERBOSITY terse
CREATE FOREIGN TABLE ft_mod (id int8, val text)
  SERVER cluster OPTIONS (table_name 't_mod', distribution 'modulo',
                          distribution_column 'id');
CREATE FOREIGN TABLE ft_mod4 (id int4, val text)
  SERVER cluster OPTIONS (table_name 't_mod', distribution 'modulo',
                          distribution_column 'id');
-- non-negative remainders, negative keys included
SELECT k, shardfdw.shard_for('ft_mod', k) AS shard
  FROM unnest(ARRAY[0, 1, 2, 3, 4, 5, -1, -2, -3, -4, -5, -8, 1001, -1001,
                    -9223372036854775808, -9223372036854775807,
                    9223372036854775807]::int8[]) k;
SELECT shardfdw.shard_for('ft_mod', (-1)::int2) AS int2_key,
       shardfdw.shard_for('ft_mod', -1) AS int4_key,
       shardfdw.shard_for('ft_mod4', -2147483648) AS int4_min,
       shardfdw.shard_for('ft_mod4', 2147483647) AS int4_max,
       shardfdw.shard_for('ft_mod', NULL::int8) AS null_key;
SELECT shardfdw.shard_for('ft_mod', 1.0);
-- every row is on the shard shard_for names: each found by a pruned lookup
SELECT count(*) AS total,
       count(*) FILTER (WHERE (SELECT count(*) FROM ft_mod f WHERE f.id = m.id) = 1)
         AS found_once
  FROM ft_mod m;
EXPLAIN (COSTS OFF) SELECT * FROM ft_mod WHERE id = -1;
SELECT * FROM ft_mod WHERE id = -1;
EXPLAIN (COSTS OFF) SELECT * FROM ft_mod WHERE id IN (-4, -3, 5);
SELECT * FROM ft_mod WHERE id IN (-4, -3, 5) ORDER BY id;
EXPLAIN (COSTS OFF) SELECT * FROM ft_mod WHERE id = -9223372036854775808;
SELECT * FROM ft_mod WHERE id = -9223372036854775808;
SELECT * FROM ft_mod WHERE id = 9223372036854775807;
SELECT * FROM ft_mod4 WHERE id = -7;

-- ===================================================================
-- Pruning on the distribution column
-- ===================================================================
SELECT k, shardfdw.shard_for('ft', k) AS shard FROM generate_series(1, 8) k;
-- = constant
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM ft WHERE id = 1;
SELECT * FROM ft WHERE id = 1;
EXPLAIN (COSTS OFF) SELECT * FROM ft WHERE 3 = id;
-- IN list, = ANY (array)
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM ft WHERE id IN (1, 2);
SELECT * FROM ft WHERE id IN (1, 2) ORDER BY id;
EXPLAIN (COSTS OFF) SELECT * FROM ft WHERE id = ANY (ARRAY[1, 3, 5]);
SELECT * FROM ft WHERE id = ANY (ARRAY[1, 3, 5]) ORDER BY id;
EXPLAIN (COSTS OFF) SELECT * FROM ft WHERE id = ANY ('{1,2,3,4,5}');
-- OR of those
EXPLAIN (COSTS OFF) SELECT * FROM ft WHERE id = 1 OR id = 3;
SELECT * FROM ft WHERE id = 1 OR id = 3 ORDER BY id;
EXPLAIN (COSTS OFF) SELECT * FROM ft WHERE id = 1 OR id IN (2, 3) OR id = ANY ('{4}');
SELECT * FROM ft WHERE id = 1 OR id IN (2, 3) OR id = ANY ('{4}') ORDER BY id;
-- ANDed with other conditions; of several key conditions, the narrowest
EXPLAIN (COSTS OFF) SELECT * FROM ft WHERE id = 2 AND val LIKE 'val%';
EXPLAIN (COSTS OFF) SELECT * FROM ft WHERE id IN (1, 2, 3, 4) AND (id = 3 OR id = 5);
SELECT * FROM ft WHERE id IN (1, 2, 3, 4) AND (id = 3 OR id = 5);
-- an integer key of another type
EXPLAIN (COSTS OFF) SELECT * FROM ft WHERE id = 2::int8;
SELECT * FROM ft WHERE id = 2::int8;
EXPLAIN (COSTS OFF) SELECT * FROM ft WHERE id = ANY ('{1,2}'::int2[]);
-- NULL keys own nothing
EXPLAIN (COSTS OFF) SELECT * FROM ft WHERE id = NULL::int;
SELECT * FROM ft WHERE id = NULL::int;
EXPLAIN (COSTS OFF) SELECT * FROM ft WHERE id = ANY ('{NULL}'::int[]);
SELECT * FROM ft WHERE id = ANY ('{NULL}'::int[]);
EXPLAIN (COSTS OFF) SELECT * FROM ft WHERE id IN (NULL, 2);
SELECT * FROM ft WHERE id IN (NULL, 2);
-- no pruning: other columns, other operators, expressions of the key, OR
-- with a condition on another column
EXPLAIN (COSTS OFF) SELECT * FROM ft WHERE val = 'val 1';
EXPLAIN (COSTS OFF) SELECT * FROM ft WHERE id < 2;
EXPLAIN (COSTS OFF) SELECT * FROM ft WHERE id + 0 = 1;
EXPLAIN (COSTS OFF) SELECT * FROM ft WHERE id = 1 OR val = 'val 2';
EXPLAIN (COSTS OFF) SELECT * FROM ft WHERE id <> 1;
EXPLAIN (COSTS OFF) SELECT * FROM ft WHERE id::numeric = 1.0;
SELECT * FROM ft WHERE id = 1 OR val = 'val 2' ORDER BY id;
-- a key computed from a volatile function: not pruned at all
EXPLAIN (COSTS OFF) SELECT * FROM ft WHERE id = (random() * 0)::int + 1;
-- a non-distributed table is never pruned
EXPLAIN (COSTS OFF) SELECT * FROM ft_nodist WHERE id = 1;

-- replicated: one shard, any one
CREATE FOREIGN TABLE small (id int, val text)
  SERVER cluster OPTIONS (table_name 'small', distribution 'replicated');
SELECT $sql$
CREATE TABLE small (id int, val text);
INSERT INTO small SELECT g, 'small ' || g FROM generate_series(1, 10) g;
$sql$ AS small_ddl \gset
\c shard0
:small_ddl
\c shard1
:small_ddl
\c shard2
:small_ddl
\c shard3
:small_ddl
\c :regdb
\set VERBOSITY terse
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM small;
EXPLAIN (COSTS OFF) SELECT * FROM small WHERE id = 3;
SELECT count(*), sum(id) FROM small;
SELECT * FROM small WHERE id = 3;

-- ===================================================================
-- Pruning at run time: Params of generic plans
-- ===================================================================
PREPARE p1(int) AS SELECT * FROM ft WHERE id = $1;
PREPARE p2(int[]) AS SELECT * FROM ft WHERE id = ANY ($1) ORDER BY id;
PREPARE p3(int, int) AS SELECT * FROM ft WHERE id = $1 OR id = $2 ORDER BY id;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE p1(1);
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE p1(1);
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE p1(2);
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE p1(NULL);
EXECUTE p1(1);
EXECUTE p1(2);
EXECUTE p1(100);
EXECUTE p1(1000);
EXECUTE p1(NULL);
EXPLAIN (COSTS OFF) EXECUTE p2('{1,2}');
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE p2('{1,3,5}');
EXECUTE p2('{1,3,5}');
EXECUTE p2('{NULL,2}');
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE p3(2, 4);
EXECUTE p3(2, 4);
EXECUTE p3(7, 7);
-- the same statements with custom plans: pruned at plan time
SET plan_cache_mode = force_custom_plan;
EXPLAIN (COSTS OFF) EXECUTE p1(1);
EXPLAIN (COSTS OFF) EXECUTE p2('{1,3,5}');
EXECUTE p2('{1,3,5}');
RESET plan_cache_mode;
DEALLOCATE p1;
DEALLOCATE p2;
DEALLOCATE p3;

-- ===================================================================
-- Pruning at run time: nested-loop parameters
-- ===================================================================
CREATE TABLE local_keys (id int);
INSERT INTO local_keys VALUES (1), (2), (3), (4), (50), (101), (NULL), (2);
ANALYZE local_keys;
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SET enable_memoize = off;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT k.id, ft.val FROM local_keys k JOIN ft ON ft.id = k.id;
SELECT k.id, ft.val FROM local_keys k JOIN ft ON ft.id = k.id ORDER BY k.id;
SELECT k.id, ft.val FROM local_keys k LEFT JOIN ft ON ft.id = k.id
 ORDER BY k.id, ft.val;
-- (the Shards line shows the last scan: the last key, 2, is on p2; the rows
-- fetched add up over all the scans)
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT k.id, ft.val FROM local_keys k JOIN ft ON ft.id = k.id;
-- a join on a non-key column is not parameterized by shard
EXPLAIN (COSTS OFF)
SELECT k.id, ft.id FROM local_keys k JOIN ft ON ft.val = 'val ' || k.id;
SELECT k.id, ft.id FROM local_keys k JOIN ft ON ft.val = 'val ' || k.id
 ORDER BY k.id;
RESET enable_hashjoin;
RESET enable_mergejoin;
RESET enable_memoize;

-- ===================================================================
-- No target shard at all in an ordered scan (merge of zero streams)
-- ===================================================================
-- plan time
SELECT * FROM ft WHERE id = ANY ('{NULL}'::int[]) ORDER BY id;
-- run time
PREPARE p4(int[]) AS SELECT * FROM ft WHERE id = ANY ($1) ORDER BY id;
PREPARE p5(int) AS SELECT * FROM ft WHERE id = $1 ORDER BY val;
SET plan_cache_mode = force_generic_plan;
EXECUTE p4('{}');
EXECUTE p4(NULL);
EXECUTE p4('{NULL}');
EXECUTE p4('{3}');
EXECUTE p5(NULL);
RESET plan_cache_mode;
DEALLOCATE p4;
DEALLOCATE p5;

-- clean up what this test created locally
DROP FOREIGN TABLE ft, ft_rep, ft_nodist, ft_mod, ft_mod4, small;
SELECT format('DROP FOREIGN TABLE pl_%s', typ) FROM key_types ORDER BY ord \gexec
DROP TABLE keys, key_types, plain_local, local_keys;
DROP FUNCTION placement_sig(int), lookups(text);
