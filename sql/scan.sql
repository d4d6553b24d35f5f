--
-- scan: the read path and the deparser.
--
-- Uses the fixture of init (server `cluster`, shards shard0 .. shard3,
-- table t(id, val) with ids 1..100 placed by PARTITION BY HASH, MODULUS 4,
-- and the int-keyed hash-partitioned parent placement_probe on each shard).
--
-- Tables that must exist on every shard are created by one SQL text kept
-- in a psql variable (\gset) and run on each shard (\c shardN, :var), so
-- the statements and the data appear only once in this file.  Rows are
-- kept on the shard that owns them with satisfies_hash_partition().
--
SELECT current_database() AS regdb \gset
\set VERBOSITY terse

CREATE FOREIGN TABLE ft (id int, val text)
  SERVER cluster OPTIONS (table_name 't', distribution_column 'id');

-- ===================================================================
-- Only the columns the query needs are fetched
-- ===================================================================
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM ft;
EXPLAIN (VERBOSE, COSTS OFF) SELECT val FROM ft;
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM ft;
-- no column at all: a NULL placeholder
EXPLAIN (VERBOSE, COSTS OFF) SELECT 1 FROM ft;
-- a column only used by a local filter is fetched, the others are not
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM ft WHERE val > random()::text;
-- whole-row reference: every column
EXPLAIN (VERBOSE, COSTS OFF) SELECT ft FROM ft;
SELECT count(*), count(DISTINCT id), sum(id), min(id), max(id) FROM ft;
SELECT * FROM ft ORDER BY id LIMIT 5;

-- ===================================================================
-- Safe WHERE clauses are shipped
-- ===================================================================
-- comparison operators, arithmetic, functions
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM ft WHERE id + 1 > 50 AND id % 7 = 0 AND length(val) < 10
  AND abs(-id) <= 100 AND upper(val) <> 'X' AND (- id) < 0;
SELECT id FROM ft WHERE id + 1 > 50 AND id % 7 = 0 AND length(val) < 10
  AND abs(-id) <= 100 AND upper(val) <> 'X' AND (- id) < 0 ORDER BY id;
-- casts (function casts, binary relabeling, I/O conversion from text)
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM ft WHERE id::int8 = 42 AND id::numeric = 42.0
  AND val::varchar(5) = 'val 4' AND substr(val, 5)::int = 42;
SELECT id FROM ft WHERE id::int8 = 42 AND id::numeric = 42.0
  AND val::varchar(5) = 'val 4' AND substr(val, 5)::int = 42;
-- CASE (searched and with argument), COALESCE, NULLIF, GREATEST
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM ft WHERE CASE WHEN id < 10 THEN 'small' ELSE 'big' END = 'small'
  AND CASE id % 2 WHEN 0 THEN true ELSE false END
  AND COALESCE(NULLIF(id, 4), 0) > 0 AND GREATEST(id, 3) = id;
SELECT id FROM ft WHERE CASE WHEN id < 10 THEN 'small' ELSE 'big' END = 'small'
  AND CASE id % 2 WHEN 0 THEN true ELSE false END
  AND COALESCE(NULLIF(id, 4), 0) > 0 AND GREATEST(id, 3) = id ORDER BY id;
-- IN, = ANY, <> ALL on a non-distribution column (no pruning there)
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM ft WHERE val IN ('val 1', 'val 2', 'val 3')
  AND val = ANY (ARRAY['val 2', 'val 3', 'nope']) AND val <> ALL ('{"val 3"}');
SELECT id FROM ft WHERE val IN ('val 1', 'val 2', 'val 3')
  AND val = ANY (ARRAY['val 2', 'val 3', 'nope']) AND val <> ALL ('{"val 3"}');
-- IS [NOT] NULL, IS [NOT] DISTINCT FROM, IS TRUE, BETWEEN
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM ft WHERE val IS NOT NULL AND id IS DISTINCT FROM 5
  AND (id > 3) IS TRUE AND id BETWEEN 1 AND 8;
SELECT id FROM ft WHERE val IS NOT NULL AND id IS DISTINCT FROM 5
  AND (id > 3) IS TRUE AND id BETWEEN 1 AND 8 ORDER BY id;
SELECT count(*) FROM ft WHERE val IS NULL;
-- LIKE, ILIKE, regular expressions, with escapes
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM ft WHERE val LIKE 'val 1_' AND val ILIKE 'VAL%' AND val ~ '^val 1[0-3]$'
  AND val NOT LIKE '%\%%';
SELECT id FROM ft WHERE val LIKE 'val 1_' AND val ILIKE 'VAL%' AND val ~ '^val 1[0-3]$'
  AND val NOT LIKE '%\%%' ORDER BY id;
-- boolean logic
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM ft WHERE (id < 3 OR id > 98) AND NOT (id = 2 OR val = 'val 100');
SELECT id FROM ft WHERE (id < 3 OR id > 98) AND NOT (id = 2 OR val = 'val 100')
  ORDER BY id;
-- constants of many types, negative numbers
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM ft WHERE id > -1 AND id::int8 > -1::int8 AND id::float8 < 1e10
  AND id::numeric > -0.5 AND id::int2 > -1::int2 AND val <> E'it''s \\ a "test"';

-- ===================================================================
-- Unsafe clauses are filtered locally
-- ===================================================================
-- volatile
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM ft WHERE id < 3 AND random() >= 0;
SELECT id FROM ft WHERE id < 3 AND random() >= 0 ORDER BY id;
-- stable (now(); timestamptz -> text depends on TimeZone and DateStyle):
-- an expression of no column is computed here once, under the session's
-- settings, and sent as a parameter; one that reads a column stays local
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM ft WHERE id < 3 AND now() > '2000-01-01'::timestamptz;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM ft WHERE id < 3 AND val < now()::text;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM ft WHERE id < 3 AND (val || now())::timestamptz > now();
-- computed under the session's DateStyle: 24 characters in Postgres style
-- (19 in ISO, the shards' style)
SET datestyle = 'Postgres, DMY';
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM ft WHERE id = length(now()::timestamp(0)::text);
SELECT id FROM ft WHERE id = length(now()::timestamp(0)::text);
RESET datestyle;
-- a user-defined function, even IMMUTABLE: the shards do not have it
CREATE FUNCTION plus_one(int) RETURNS int LANGUAGE plpgsql IMMUTABLE
  AS $$BEGIN RETURN $1 + 1; END$$;
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM ft WHERE plus_one(id) = 3;
SELECT id FROM ft WHERE plus_one(id) = 3;
-- A user-defined operator: not shipped either.
CREATE OPERATOR === (LEFTARG = int, RIGHTARG = int, FUNCTION = int4eq);
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM ft WHERE id === 3;
SELECT id FROM ft WHERE id === 3;
-- A comparison under an explicit non-default collation.  The column has the
-- default collation, so the shard would compare under ITS default collation,
-- not under "C": like postgres_fdw, an explicit COLLATE clause on a constant
-- or on the column makes the comparison unsafe to ship; it is evaluated
-- locally (the column is fetched instead).
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM ft WHERE val < 'val 2' COLLATE "C";
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM ft WHERE val COLLATE "C" < 'val 2';
SELECT id FROM ft WHERE val < 'val 2' COLLATE "C" ORDER BY id;
-- ... while the same comparison under the default collation is shipped
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM ft WHERE val < 'val 2';
-- a mix: the safe part is shipped, the rest is a local filter
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM ft WHERE id < 10 AND plus_one(id) > 5 AND val <> 'val 8'
  AND random() < 2;
SELECT id FROM ft WHERE id < 10 AND plus_one(id) > 5 AND val <> 'val 8'
  AND random() < 2 ORDER BY id;

-- ===================================================================
-- Params: PREPARE / EXECUTE, custom and generic plans
-- ===================================================================
PREPARE q1(int, text) AS
  SELECT id, val FROM ft WHERE id > $1 AND val LIKE $2 ORDER BY id;
SET plan_cache_mode = force_custom_plan;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE q1(90, 'val 9%');
EXECUTE q1(90, 'val 9%');
SET plan_cache_mode = force_generic_plan;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE q1(90, 'val 9%');
EXECUTE q1(90, 'val 9%');
EXECUTE q1(95, 'val %');
EXECUTE q1(0, E'val 1\\0');
EXECUTE q1(NULL, 'val%');
-- a Param used twice is sent once; an array Param
PREPARE q2(int, text[]) AS
  SELECT id FROM ft WHERE (id = $1 OR id + 1 = $1) AND val <> ALL ($2)
  ORDER BY id;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE q2(10, '{x,y}');
EXECUTE q2(10, '{x,y}');
EXECUTE q2(10, '{"val 9"}');
-- Params of many types
PREPARE q3(text, numeric, float8, bool) AS
  SELECT id FROM ft WHERE val = $1 OR (id::numeric = $2) OR (id::float8 = $3 AND $4)
  ORDER BY id;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE q3('val 1', 2.0, 3, true);
EXECUTE q3('val 1', 2.0, 3, true);
EXECUTE q3(E'it''s \\ "x"', 2.5, 3, false);
RESET plan_cache_mode;
DEALLOCATE q1;
DEALLOCATE q2;
DEALLOCATE q3;

-- ===================================================================
-- Tables on the shards
-- ===================================================================
-- One SQL text (shard_ddl), run on every shard, creates:
--  - a schema and a table whose names need quoting, columns named by a
--    reserved word, with capitals, a space, non-ASCII letters and a quote,
--    and values with quotes, backslashes, non-ASCII text, newlines, an
--    empty string and NULLs;
--  - a table with a column of each of many types, odd values included;
--  - lonely (rows on shard2 only) and nobody (no rows at all).
-- Rows are kept on the shard that owns their key: mine(key) is
-- satisfies_hash_partition() on the int-keyed placement_probe of init.
-- The same text run locally, with a mine() that keeps every row, gives
-- local twins (schemas loc and "My Schema") to compare with.
SELECT $sql$
CREATE FUNCTION mine(int) RETURNS bool LANGUAGE sql STABLE
  AS $f$SELECT satisfies_hash_partition('placement_probe'::regclass, 4,
                substr(current_database(), 6)::int, $1)$f$;
$sql$ AS mine_ddl \gset
SELECT $sql$
CREATE SCHEMA "My Schema";
CREATE TABLE "My Schema"."Weird ""Table""" (
    "select" int PRIMARY KEY,
    "Mixed Case" text,
    "space col" text,
    "ünïcödé" text,
    "quote'col" text);
INSERT INTO "My Schema"."Weird ""Table"""
SELECT * FROM (VALUES
    (1, 'it''s', 'back\slash', 'ünïcödé ☃ 日本語', 'a''b"c'),
    (2, '', NULL, E'line1\nline2', E'tab\there'),
    (3, 'O''Reilly \ "both" ''', E'\\\\two', '', NULL),
    (4, NULL, '''', '\', '"'),
    (5, 'Mixed', ' space ', 'end\', E'cr\r\nlf'),
    (6, '%_', '\\', '$1', '$$'),
    (7, 'E''x''', '\''', '--not a comment', '/* nor this */'),
    (8, 'plain', 'plain', 'plain', 'plain')
) v WHERE mine(v.column1);
SELECT count(*) AS weird_rows_here FROM "My Schema"."Weird ""Table""";
SET TimeZone = 'America/Los_Angeles';
CREATE TABLE typ (
    id int PRIMARY KEY, c2 int2, c4 int4, c8 int8, cn numeric, cf float8,
    ct text, cv varchar(10), cb bool, cd date, cts timestamp,
    ctz timestamptz, ci interval, cu uuid, cj jsonb, ca int[], cta text[]);
INSERT INTO typ SELECT * FROM (VALUES
  (1, 32767::int2, 2147483647, 9223372036854775807,
   123456789012345678901234567890.123456789, 0.1::float8, 'text',
   'varchar'::varchar(10), true, '2024-02-29'::date,
   '2024-02-29 12:34:56.789012'::timestamp,
   '2024-02-29 12:34:56.789012+05:30'::timestamptz,
   '1 year 2 mons -3 days 04:05:06.789'::interval,
   'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid,
   '{"a": 1, "b": [1, 2.50, null], "c": "x\"y", "d": {"e": true}}'::jsonb,
   '{1,2,3}'::int[], '{"a b","c,d","e\"f",NULL,"NULL"}'::text[]),
  (2, -32768, -2147483648, -9223372036854775808, -1.50, 1.7976931348623157e308,
   '', '', false, 'infinity', '-infinity', 'infinity',
   '-178000000 years', '00000000-0000-0000-0000-000000000000', '[]', '{}', '{}'),
  (3, 0, 0, 0, 'NaN', 'NaN', 'ünïcödé ☃', 'x', NULL, '4713-01-01 BC',
   '0001-01-01 00:00:00', '1999-12-31 23:59:59.999999-08', '0',
   'ffffffff-ffff-ffff-ffff-ffffffffffff', '"scalar"', '{{1,2},{3,4}}',
   '{"",NULL}'),
  (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL),
  (5, 1, -1, -1, 0.000000000000000000001, '-Infinity', E'a\\b''c\nd',
   'ten chars!', true, '2000-01-01', '2000-01-01 00:00:00',
   '2000-01-01 00:00:00+00', '-1 days -00:00:00.000001', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A12',
   '{"k": "ünï \u00e9 ☃", "n": 1e+2}', '{-1,NULL,3}', '{"\\","''"}'),
  (6, 7, 7, 7, 1e-10, -0.0::float8, 'x', 'y', false, '1970-01-01',
   '1970-01-01 00:00:00.5', '1970-01-01 00:00:00.5+14', '1 mon 1 day 00:00:01',
   '11111111-2222-3333-4444-555555555555', '{"a": [{"b": null}]}', '{0}',
   '{"a\tb"}'),
  (7, 100, 100000, 10000000000, 100, 1e-300, repeat('long ', 20), 'z', true,
   '2038-01-19', '2038-01-19 03:14:08', '2038-01-19 03:14:08+00',
   '100 years', '22222222-3333-4444-5555-666666666666', 'null', NULL, '{}'),
  (8, 8, 8, 8, 8.000, 3.14159265358979, 'eight', 'eight', false, '2024-12-31',
   '2024-12-31 23:59:59', '2024-12-31 23:59:59-12', '00:00:00.000001',
   '33333333-4444-5555-6666-777777777777', '{"": ""}', '{8}', '{eight}')
) v WHERE mine(v.column1);
RESET TimeZone;
SELECT count(*) AS typ_rows_here FROM typ;
CREATE TABLE lonely (id int, val text);
INSERT INTO lonely SELECT g, 'lonely ' || g FROM generate_series(1, 5) g
 WHERE current_database() = 'shard2';
CREATE TABLE nobody (id int, val text);
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
\c :regdb
\set VERBOSITY terse
-- the local twins
CREATE SCHEMA loc;
CREATE FUNCTION loc.mine(int) RETURNS bool LANGUAGE sql AS 'SELECT true';
SET search_path = loc, public;
:shard_ddl
RESET search_path;

-- ===================================================================
-- Quoting: identifiers and literals
-- ===================================================================
-- local names equal to the remote ones
CREATE FOREIGN TABLE weird (
    "select" int, "Mixed Case" text, "space col" text, "ünïcödé" text,
    "quote'col" text)
  SERVER cluster OPTIONS (schema_name 'My Schema', table_name 'Weird "Table"',
                          distribution_column 'select');
-- local names that are reserved words, mapped by column_name
CREATE FOREIGN TABLE "order" (
    "from" int OPTIONS (column_name 'select'),
    "group" text OPTIONS (column_name 'Mixed Case'),
    "table" text OPTIONS (column_name 'space col'),
    "where" text OPTIONS (column_name 'ünïcödé'),
    "limit" text OPTIONS (column_name 'quote''col'))
  SERVER cluster OPTIONS (schema_name 'My Schema', table_name 'Weird "Table"',
                          distribution_column 'from');

EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM weird;
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM "order";
SELECT "select", shardfdw.shard_for('weird', "select") AS shard FROM weird
 ORDER BY 1;
-- exact round trip: no row differs, in either direction (text form, so
-- that every byte counts)
SELECT count(*) AS only_remote FROM
  (SELECT w::text FROM weird w EXCEPT SELECT l::text FROM "My Schema"."Weird ""Table""" l) x;
SELECT count(*) AS only_local FROM
  (SELECT l::text FROM "My Schema"."Weird ""Table""" l EXCEPT SELECT w::text FROM weird w) x;
SELECT count(*) AS only_remote FROM
  (SELECT o::text FROM "order" o EXCEPT SELECT l::text FROM "My Schema"."Weird ""Table""" l) x;
SELECT count(*) AS only_local FROM
  (SELECT l::text FROM "My Schema"."Weird ""Table""" l EXCEPT SELECT o::text FROM "order" o) x;
SELECT * FROM weird ORDER BY "select";
SELECT "from", "group", "table", "where", "limit" FROM "order" ORDER BY "from";

-- WHERE on values with quotes, backslashes, newlines, non-ASCII text:
-- shipped, and each finds exactly its row
EXPLAIN (VERBOSE, COSTS OFF)
SELECT "select" FROM weird WHERE "Mixed Case" = 'it''s' ORDER BY 1;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT "select" FROM weird WHERE "space col" = 'back\slash' ORDER BY 1;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT "from" FROM "order" WHERE "where" = E'line1\nline2' OR "limit" = 'a''b"c' ORDER BY 1;
SELECT "select" FROM weird WHERE "Mixed Case" = 'it''s' ORDER BY 1;
SELECT "select" FROM weird WHERE "space col" = 'back\slash' ORDER BY 1;
SELECT "select" FROM weird WHERE "Mixed Case" = 'O''Reilly \ "both" ''' ORDER BY 1;
SELECT "select" FROM weird WHERE "space col" = E'\\\\two' ORDER BY 1;
SELECT "select" FROM weird WHERE "space col" = '\\' ORDER BY 1;
SELECT "select" FROM weird WHERE "space col" = '\''' ORDER BY 1;
SELECT "select" FROM weird WHERE "ünïcödé" = 'ünïcödé ☃ 日本語' ORDER BY 1;
SELECT "select" FROM weird WHERE "ünïcödé" = '\' ORDER BY 1;
SELECT "select" FROM weird WHERE "ünïcödé" = 'end\' ORDER BY 1;
SELECT "select" FROM weird WHERE "ünïcödé" = E'line1\nline2' ORDER BY 1;
SELECT "select" FROM weird WHERE "ünïcödé" = '' ORDER BY 1;
SELECT "select" FROM weird WHERE "Mixed Case" = '' ORDER BY 1;
SELECT "select" FROM weird WHERE "Mixed Case" IS NULL ORDER BY 1;
SELECT "select" FROM weird WHERE "quote'col" = E'cr\r\nlf' ORDER BY 1;
SELECT "select" FROM weird WHERE "quote'col" = '$$' ORDER BY 1;
SELECT "select" FROM weird WHERE "ünïcödé" = '--not a comment' ORDER BY 1;
SELECT "select" FROM weird WHERE "quote'col" = '/* nor this */' ORDER BY 1;
SELECT "select" FROM weird WHERE "Mixed Case" = 'E''x''' ORDER BY 1;
SELECT "select" FROM weird WHERE "Mixed Case" LIKE '\%\_' ORDER BY 1;
SELECT "select" FROM weird WHERE "ünïcödé" LIKE '%\\' ORDER BY 1;
SELECT "from" FROM "order" WHERE "table" = '''' ORDER BY 1;
SELECT "from" FROM "order" WHERE "limit" = '"' ORDER BY 1;
-- every row found by equality on each of its own values, shipped
SELECT l."select",
       (SELECT count(*) FROM weird w WHERE w."Mixed Case" = l."Mixed Case") AS mc,
       (SELECT count(*) FROM weird w WHERE w."space col" = l."space col") AS sc,
       (SELECT count(*) FROM weird w WHERE w."ünïcödé" = l."ünïcödé") AS un,
       (SELECT count(*) FROM weird w WHERE w."quote'col" = l."quote'col") AS qc
  FROM "My Schema"."Weird ""Table""" l ORDER BY 1;
-- the same with the values as Params of a generic plan
PREPARE wq(text) AS SELECT "from" FROM "order" WHERE "group" = $1 OR "where" = $1;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE wq('x');
EXECUTE wq('O''Reilly \ "both" ''');
EXECUTE wq('end\');
EXECUTE wq(E'line1\nline2');
EXECUTE wq('ünïcödé ☃ 日本語');
RESET plan_cache_mode;
DEALLOCATE wq;

-- ===================================================================
-- Types: values round-trip exactly
-- ===================================================================
CREATE FOREIGN TABLE typ (
    id int, c2 int2, c4 int4, c8 int8, cn numeric, cf float8,
    ct text, cv varchar(10), cb bool, cd date, cts timestamp,
    ctz timestamptz, ci interval, cu uuid, cj jsonb, ca int[], cta text[])
  SERVER cluster OPTIONS (table_name 'typ', distribution_column 'id');

SELECT count(*) FROM typ;
SELECT count(*) AS only_remote FROM
  (SELECT f::text FROM typ f EXCEPT SELECT l::text FROM loc.typ l) x;
SELECT count(*) AS only_local FROM
  (SELECT l::text FROM loc.typ l EXCEPT SELECT f::text FROM typ f) x;
-- the same under other local output settings (the shards' are fixed)
SET DateStyle = 'SQL, DMY';
SET IntervalStyle = 'iso_8601';
SET extra_float_digits = 0;
SET TimeZone = 'Asia/Kathmandu';
SELECT count(*) AS only_remote FROM
  (SELECT f::text FROM typ f EXCEPT SELECT l::text FROM loc.typ l) x;
SELECT count(*) AS only_local FROM
  (SELECT l::text FROM loc.typ l EXCEPT SELECT f::text FROM typ f) x;
RESET DateStyle;
RESET IntervalStyle;
RESET extra_float_digits;
RESET TimeZone;
SELECT * FROM typ ORDER BY id;
-- a local declaration narrower than the shard's column: the value is read
-- as the local type would read its text (int4, int8 and text are read
-- without the input function call, with the same checks)
CREATE FOREIGN TABLE typ_narrow (id int, c2 int2, c4 int4, c8 int4, ct varchar(3))
  SERVER cluster OPTIONS (table_name 'typ', distribution_column 'id');
SELECT id, c8 FROM typ_narrow WHERE id IN (6, 8) ORDER BY id;
SELECT id, c8 FROM typ_narrow WHERE id = 1;
SELECT id, ct FROM typ_narrow WHERE id = 8;
CREATE DOMAIN small_int AS int CHECK (VALUE < 100);
CREATE FOREIGN TABLE typ_dom (id int, c4 small_int)
  SERVER cluster OPTIONS (table_name 'typ', distribution_column 'id');
SELECT id, c4 FROM typ_dom WHERE id = 6;
SELECT id, c4 FROM typ_dom WHERE id = 7;
DROP FOREIGN TABLE typ_narrow, typ_dom;
DROP DOMAIN small_int;

-- WHERE on constants of every type: shipped, and the same rows as locally
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM typ WHERE c2 = 32767 AND c4 = 2147483647 AND c8 = 9223372036854775807
  AND cn = 123456789012345678901234567890.123456789 AND cf = 0.1
  AND cv = 'varchar' AND cb AND cd = '2024-02-29'
  AND cts = '2024-02-29 12:34:56.789012'
  AND ctz = '2024-02-29 12:34:56.789012+05:30'
  AND ci = '1 year 2 mons -3 days 04:05:06.789'
  AND cu = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'
  AND cj @> '{"c": "x\"y"}' AND ca @> ARRAY[2] AND cta[3] = 'e"f';
SELECT id FROM typ WHERE c2 = 32767 AND c4 = 2147483647 AND c8 = 9223372036854775807
  AND cn = 123456789012345678901234567890.123456789 AND cf = 0.1
  AND cv = 'varchar' AND cb AND cd = '2024-02-29'
  AND cts = '2024-02-29 12:34:56.789012'
  AND ctz = '2024-02-29 12:34:56.789012+05:30'
  AND ci = '1 year 2 mons -3 days 04:05:06.789'
  AND cu = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'
  AND cj @> '{"c": "x\"y"}' AND ca @> ARRAY[2] AND cta[3] = 'e"f';
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM typ WHERE c8 = -9223372036854775808 AND cn = -1.5 AND cd = 'infinity'
  AND cts = '-infinity' AND cf > 1e308 AND NOT cb;
-- each of these gives the same ids remotely as locally
CREATE TABLE preds (n int, pred text);
INSERT INTO preds VALUES
  (1, $$c2 < 0$$), (2, $$c8 < -1$$), (3, $$cn = 'NaN'$$), (4, $$cn > 0.5$$),
  (5, $$cf = 'NaN'$$), (6, $$cf = '-Infinity'$$), (7, $$cf = 0$$),
  (8, $$ct = E'a\\b''c\nd'$$), (9, $$ct LIKE 'ünï%'$$), (10, $$cv = ''$$),
  (11, $$cb IS NULL$$), (12, $$cb IS NOT TRUE$$), (13, $$cd < '0001-01-01'$$),
  (14, $$cts::date = '1970-01-01'$$), (15, $$ctz = '2000-01-01 09:00:00+09'$$),
  (16, $$ctz > '2038-01-19 03:14:07+00'$$), (17, $$ci < '0'$$),
  (18, $$ci = '1 mon 1 day 1 second'$$), (19, $$cu = 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A12'$$),
  (20, $$cj = 'null'$$), (21, $$cj -> 'a' -> 0 = '{"b": null}'$$),
  (22, $$cj ->> 'k' = 'ünï é ☃'$$), (23, $$cj ? 'k'$$), (24, $$ca = '{}'$$),
  (25, $$ca[1] = -1$$), (26, $$cardinality(ca) = 4$$), (27, $$3 = ANY (ca)$$),
  (28, $$cta[2] IS NULL$$), (29, $$cta = '{"\\","''"}'$$), (30, $$cta = '{"a\tb"}'$$),
  (31, $$array_length(cta, 1) = 0$$), (32, $$cta = '{}'$$),
  (33, $$ca IS NULL$$), (34, $$cn::text = '8.000'$$), (35, $$cf::numeric < 1e-299$$),
  (36, $$ci = '-1 days -00:00:00.000001'$$), (37, $$cts = '1970-01-01 00:00:00.5'$$),
  (38, $$date_trunc('day', cts) = '2038-01-19'$$), (39, $$extract(year from cd) = 2024$$),
  (40, $$cd + 1 = '2025-01-01'$$),
  -- stable: timestamptz -> date depends on TimeZone (evaluated locally)
  (41, $$ctz::date = '1999-12-31'$$), (42, $$ctz::text LIKE '2000%'$$);
CREATE FUNCTION ids_where(rel text, pred text) RETURNS int[]
LANGUAGE plpgsql AS $$
DECLARE r int[];
BEGIN
  EXECUTE format('SELECT array_agg(id ORDER BY id) FROM %s WHERE %s', rel, pred)
    INTO r;
  RETURN r;
END $$;
CREATE FUNCTION remote_sql(pred text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE j json;
BEGIN
  EXECUTE 'EXPLAIN (VERBOSE, COSTS OFF, FORMAT JSON) SELECT id FROM public.typ WHERE '
          || pred INTO j;
  RETURN replace(coalesce('local filter: ' || (j->0->'Plan'->>'Filter') || '; ', '')
                 || 'remote: ' || (j->0->'Plan'->>'Remote SQL'), E'\n', '<NL>');
END $$;
SELECT n, pred, ids_where('public.typ', pred) AS remote_ids,
       ids_where('public.typ', pred) IS NOT DISTINCT FROM ids_where('loc.typ', pred) AS same
  FROM preds ORDER BY n;
-- where each was evaluated
SELECT n, remote_sql(pred) FROM preds ORDER BY n;

-- ===================================================================
-- Rescans
-- ===================================================================
CREATE TABLE outer_keys (x int);
INSERT INTO outer_keys VALUES (1), (2), (3), (17), (50), (99), (100), (101), (NULL), (2);
ANALYZE outer_keys;
-- correlated subquery: the inner scan is restarted with a new Param value
EXPLAIN (VERBOSE, COSTS OFF)
SELECT o.x, (SELECT val FROM ft WHERE ft.id = o.x) FROM outer_keys o;
SELECT o.x, (SELECT val FROM ft WHERE ft.id = o.x) FROM outer_keys o ORDER BY o.x;
-- a correlated subquery on a non-key column (all shards, a remote Param)
SELECT o.x, (SELECT count(*) FROM ft WHERE ft.val = 'val ' || o.x) AS n
  FROM outer_keys o ORDER BY o.x;
-- nested loops
SET enable_hashjoin = off;
SET enable_mergejoin = off;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT o.x, ft.val FROM outer_keys o JOIN ft ON ft.id = o.x;
SELECT o.x, ft.val FROM outer_keys o JOIN ft ON ft.id = o.x ORDER BY o.x;
SELECT o.x, ft.id FROM outer_keys o LEFT JOIN ft ON ft.id = o.x + 1
 ORDER BY o.x, ft.id;
-- an unparameterized inner scan restarted with nothing changed, both when
-- every shard answered in one batch and when it did not (fetch_size 7)
SET enable_material = off;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT count(*), sum(ft.id) FROM outer_keys o
  JOIN ft ON ft.id % 3 = o.x % 3;
SELECT count(*), sum(ft.id) FROM outer_keys o
  JOIN ft ON ft.id % 3 = o.x % 3;
-- the same computed locally
SELECT count(*), sum(g) FROM outer_keys o
  JOIN generate_series(1, 100) g ON g % 3 = o.x % 3;
SELECT count(*), count(DISTINCT (o.x, ft.id)) FROM outer_keys o
  JOIN ft ON true;
ALTER FOREIGN TABLE ft OPTIONS (ADD fetch_size '7');
SELECT count(*), sum(ft.id) FROM outer_keys o
  JOIN ft ON ft.id % 3 = o.x % 3;
SELECT count(*), count(DISTINCT (o.x, ft.id)) FROM outer_keys o
  JOIN ft ON true;
SELECT o.x, ft.val FROM outer_keys o JOIN ft ON ft.id = o.x ORDER BY o.x;
SELECT o.x, (SELECT count(*) FROM ft WHERE ft.id < o.x) AS n
  FROM outer_keys o ORDER BY o.x;
-- a LIMIT stops a scan early; the next scan must not see its leftovers
SELECT o.x, (SELECT id FROM ft WHERE ft.id > o.x ORDER BY id LIMIT 1) AS next_id
  FROM outer_keys o ORDER BY o.x;
ALTER FOREIGN TABLE ft OPTIONS (DROP fetch_size);
RESET enable_material;
RESET enable_hashjoin;
RESET enable_mergejoin;

-- ===================================================================
-- Empty shards
-- ===================================================================
CREATE FOREIGN TABLE lonely (id int, val text) SERVER cluster;
CREATE FOREIGN TABLE nobody (id int, val text) SERVER cluster;
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM lonely;
SELECT * FROM lonely ORDER BY id;
SELECT count(*) FROM lonely;
SELECT * FROM nobody;
SELECT count(*) FROM nobody;
ALTER FOREIGN TABLE lonely OPTIONS (ADD fetch_size '2');
SELECT * FROM lonely ORDER BY id;
SELECT l.id, n.id FROM lonely l LEFT JOIN nobody n ON n.id = l.id ORDER BY l.id;

-- ===================================================================
-- fetch_size: every row exactly once
-- ===================================================================
-- (the rows are materialized first, so that they all come through the
-- scan whatever could be pushed down)
CREATE FOREIGN TABLE ft_fs (id int, val text)
  SERVER cluster OPTIONS (table_name 't', fetch_size '1');
WITH r AS MATERIALIZED (SELECT id, val FROM ft_fs)
SELECT count(*), count(DISTINCT id), sum(id), min(id), max(id),
       count(DISTINCT val) FROM r;
ALTER FOREIGN TABLE ft_fs OPTIONS (SET fetch_size '2');
WITH r AS MATERIALIZED (SELECT id, val FROM ft_fs)
SELECT count(*), count(DISTINCT id), sum(id), min(id), max(id),
       count(DISTINCT val) FROM r;
ALTER FOREIGN TABLE ft_fs OPTIONS (SET fetch_size '7');
WITH r AS MATERIALIZED (SELECT id, val FROM ft_fs)
SELECT count(*), count(DISTINCT id), sum(id), min(id), max(id),
       count(DISTINCT val) FROM r;
-- fetch sizes that divide a shard's row count exactly, and bigger ones
ALTER FOREIGN TABLE ft_fs OPTIONS (SET fetch_size '17');
WITH r AS MATERIALIZED (SELECT id FROM ft_fs)
SELECT count(*), count(DISTINCT id), sum(id) FROM r;
ALTER FOREIGN TABLE ft_fs OPTIONS (SET fetch_size '31');
WITH r AS MATERIALIZED (SELECT id FROM ft_fs)
SELECT count(*), count(DISTINCT id), sum(id) FROM r;
ALTER FOREIGN TABLE ft_fs OPTIONS (SET fetch_size '1000');
WITH r AS MATERIALIZED (SELECT id FROM ft_fs)
SELECT count(*), count(DISTINCT id), sum(id) FROM r;
-- the server option is the default, the table option wins
ALTER FOREIGN TABLE ft_fs OPTIONS (DROP fetch_size);
ALTER SERVER cluster OPTIONS (ADD fetch_size '3');
WITH r AS MATERIALIZED (SELECT id FROM ft_fs)
SELECT count(*), count(DISTINCT id), sum(id) FROM r;
ALTER SERVER cluster OPTIONS (DROP fetch_size);
-- two scans of fetch_size 1 interleaved on the same connections
ALTER FOREIGN TABLE ft_fs OPTIONS (ADD fetch_size '1');
SELECT count(*), count(DISTINCT (a.id, b.id)) FROM ft_fs a JOIN ft_fs b ON a.id = b.id;
SELECT (SELECT array_agg(id ORDER BY id) FROM ft_fs) = (SELECT array_agg(g) FROM generate_series(1, 100) g) AS all_rows;
-- a fetch_size far beyond the rows there are: room is made for the rows
-- that came, not for fetch_size of them (streamed, in a block, by cursor)
ALTER FOREIGN TABLE ft_fs OPTIONS (SET fetch_size '50000000');
SELECT id FROM ft_fs WHERE id = 7;
BEGIN;
SELECT id FROM ft_fs WHERE id = 7;
SELECT count(*) FROM ft_fs WHERE id < 50;
COMMIT;

-- clean up what this test created locally
DROP FOREIGN TABLE ft, weird, "order", typ, lonely, nobody, ft_fs;
DROP TABLE preds, outer_keys;
DROP SCHEMA "My Schema" CASCADE;
DROP SCHEMA loc CASCADE;
DROP FUNCTION plus_one(int), ids_where(text, text), remote_sql(text);
DROP OPERATOR === (int, int);
