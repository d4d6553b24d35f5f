--
-- aggregates: partial aggregation of float aggregates (avg, the variance
-- and the regression families: PostgreSQL's {N, Sx, Sxx} and {N, Sx, Sxx,
-- Sy, Syy, Sxy} states, combined as parallel aggregation combines them)
-- and of the concatenating aggregates (array_agg, string_agg, json_agg,
-- jsonb_agg) across shards.
--
-- Uses the fixture of init (server `cluster`, shards shard0 .. shard3 with
-- the hash-partitioned parent placement_probe).  As in pushdown, one SQL
-- text creates the tables on every shard, keeping the rows a shard owns
-- (mine()), and in schema aloc the local twins with every row.
--
-- Float results of a combined aggregate are added in another order than a
-- local aggregate's (per shard, then across shards), so their last digits
-- may differ: fcmp() compares them with a relative tolerance, 1e-9 unless
-- the inputs lose more digits to rounding however they are added (float4
-- sums; covariances of x, whose mean 1e6 dwarfs its spread), and exactly
-- for NULL, NaN and +-Infinity.  Everything else is compared exactly.
-- The concatenating aggregates return their elements in no particular
-- order: ccmp() compares them after sorting the elements.
--
SELECT current_database() AS regdb \gset
\set VERBOSITY terse

SELECT $sql$
CREATE OR REPLACE FUNCTION mine(int) RETURNS bool LANGUAGE sql STABLE
  AS $f$SELECT satisfies_hash_partition('placement_probe'::regclass, 4,
                substr(current_database(), 6)::int, $1)$f$;
$sql$ AS mine_ddl \gset
-- fa: groups of every kind.  'many': 400 rows over all shards, values
-- around 1e6 with a small spread (a sum of squares would cancel); 'nan',
-- 'inf', 'pinf_minf': NaN and infinities among finite values, on several
-- shards; 'one': a single row; 'nulls': only NULLs; 'mixed': x and y NULL
-- in different rows; 'big': +-1e300, whose squared deviations overflow.
-- fa_empty: no rows anywhere.
SELECT $sql$
CREATE TABLE fa (id int, g text, x float8, y float8, x4 float4, j int,
                 s text, b bytea, arr int[], d date, ts timestamptz);
INSERT INTO fa
SELECT i, 'many',
       CASE WHEN i % 17 = 0 THEN NULL ELSE 1e6 + (i * 7919 % 1000) / 7.0 END,
       CASE WHEN i % 11 = 0 THEN NULL ELSE i * 0.5 + i % 7 END,
       CASE WHEN i % 19 = 0 THEN NULL ELSE (i % 13)::float4 / 3 END,
       i % 37,
       CASE WHEN i % 9 = 0 THEN NULL ELSE 's' || i END,
       CASE WHEN i % 23 = 0 THEN NULL ELSE int4send(i) END,
       ARRAY[i, i % 5],
       date '2024-02-01' + i % 30,
       timestamptz '2024-01-01 00:00:00+00' + i * interval '1 hour'
  FROM generate_series(1, 400) i
 WHERE mine(i);
INSERT INTO fa (id, g, x, y, x4, j, s, arr)
SELECT * FROM (VALUES
  (1001, 'nan', 1::float8, 1::float8, 1::float4, 1, 'a', ARRAY[1]), (1002, 'nan', 'NaN', 2, 2, 2, 'b', NULL),
  (1003, 'nan', 3, 'NaN', 3, 3, 'c', ARRAY[3]), (1004, 'nan', 4, 4, 'NaN', 4, 'd', ARRAY[4]),
  (1005, 'nan', 5, 5, 5, 5, 'e', NULL), (1006, 'nan', 6, 6, 6, 6, 'f', ARRAY[6]),
  (1011, 'inf', 1, 1, 1, 1, NULL, NULL), (1012, 'inf', 'Infinity', 2, 'Infinity', 2, 'b', ARRAY[2]),
  (1013, 'inf', 3, '-Infinity', 3, 3, 'c', ARRAY[3]), (1014, 'inf', 4, 4, 4, 4, 'd', NULL),
  (1021, 'pinf_minf', 'Infinity', 1, '-Infinity', 1, 'a', ARRAY[1]),
  (1022, 'pinf_minf', '-Infinity', 2, 2, 2, 'b', ARRAY[2]),
  (1023, 'pinf_minf', 'Infinity', 3, 3, 3, 'c', ARRAY[3]),
  (1024, 'pinf_minf', 1, 4, 'Infinity', 4, 'd', ARRAY[4]),
  (1031, 'one', 42.5, 7, 1.5, 42, 'only', ARRAY[42]),
  (1041, 'nulls', NULL, NULL, NULL, NULL, NULL, NULL),
  (1045, 'nulls', NULL, 1, NULL, NULL, NULL, NULL),
  (1048, 'nulls', NULL, NULL, NULL, NULL, NULL, NULL),
  (1051, 'mixed', 1, NULL, 1, 1, 'x', ARRAY[1]), (1052, 'mixed', NULL, 2, NULL, 2, 'y', ARRAY[2]),
  (1053, 'mixed', 3, 3, 3, 3, 'z', ARRAY[3]), (1054, 'mixed', 4, 5, 4, 4, NULL, ARRAY[4]),
  (1061, 'big', 1e300, 1, 1, 1, 'p', ARRAY[1]), (1062, 'big', -1e300, 2, 2, 2, 'q', ARRAY[2]),
  (1063, 'big', 1e300, 3, 3, 3, 'r', ARRAY[3])
) v(id, g, x, y, x4, j, s, arr)
 WHERE mine(id);
CREATE TABLE fa_empty (id int, g text, x float8, y float8);
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
CREATE SCHEMA aloc;
CREATE FUNCTION aloc.mine(int) RETURNS bool LANGUAGE sql AS 'SELECT true';
SET search_path = aloc, public;
:shard_ddl
RESET search_path;

CREATE FOREIGN TABLE fa (id int, g text, x float8, y float8, x4 float4, j int,
                         s text, b bytea, arr int[], d date, ts timestamptz)
  SERVER cluster OPTIONS (distribution_column 'id');
CREATE FOREIGN TABLE fa_empty (id int, g text, x float8, y float8)
  SERVER cluster OPTIONS (distribution_column 'id');
-- every group but 'one' has rows on several shards
SELECT g, count(DISTINCT shardfdw.shard_for('fa'::regclass, id)) AS shards, count(*)
  FROM aloc.fa GROUP BY g ORDER BY g;

-- a and b equal, or both finite and within a relative tol
CREATE FUNCTION close(a float8, b float8, tol float8) RETURNS bool
  LANGUAGE sql IMMUTABLE
  AS $$SELECT a IS NOT DISTINCT FROM b OR
              (abs(a) < 'Infinity' AND abs(b) < 'Infinity' AND
               abs(a - b) <= tol * greatest(abs(a), abs(b)))$$;
-- q returns (key text, values float8[]) per group, {s} the schema (public:
-- the foreign tables, aloc: the twins): the same keys, with close values?
CREATE FUNCTION fcmp(q text, tol float8 DEFAULT 1e-9) RETURNS text
  LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
  bad bigint;
BEGIN
  EXECUTE format(
    'SELECT count(*), count(*) FILTER (WHERE NOT coalesce(ok, false))
       FROM (%s) r(k, v) FULL JOIN (%s) l(k, v) USING (k),
            LATERAL (SELECT cardinality(r.v) = cardinality(l.v) AND bool_and(close(a, b, %s))
                       FROM unnest(r.v, l.v) u(a, b)) c(ok)',
    replace(q, '{s}', 'public'), replace(q, '{s}', 'aloc'), tol) INTO n, bad;
  IF bad = 0 THEN
    RETURN format('same %s groups', n);
  END IF;
  RETURN format('DIFFERENT: %s of %s groups', bad, n);
END $$;
-- q returns (key text, v); norm is an expression of v that sorts its
-- elements: the same keys with the same elements?
CREATE FUNCTION ccmp(q text, norm text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
  bad bigint;
BEGIN
  EXECUTE format(
    'SELECT count(*), count(*) FILTER (WHERE r.n IS DISTINCT FROM l.n)
       FROM (SELECT k, %3$s AS n FROM (%1$s) x(k, v)) r
            FULL JOIN (SELECT k, %3$s AS n FROM (%2$s) x(k, v)) l USING (k)',
    replace(q, '{s}', 'public'), replace(q, '{s}', 'aloc'), norm) INTO n, bad;
  IF bad = 0 THEN
    RETURN format('same %s groups', n);
  END IF;
  RETURN format('DIFFERENT: %s of %s groups', bad, n);
END $$;

-- ===================================================================
-- avg and sum of float8: avg, count and var_pop per shard (one shared
-- float8_accum transition on the shard), and sum
-- ===================================================================
EXPLAIN (VERBOSE, COSTS OFF)
SELECT g, count(*), avg(x), sum(x) FROM fa GROUP BY g;
SELECT fcmp('SELECT g, ARRAY[count(*), avg(x), sum(x)] FROM {s}.fa WHERE g <> ''big'' GROUP BY g');
-- the values that do not depend on the order of additions, exactly
SELECT g, count(*), avg(x), sum(x) FROM fa
 WHERE g IN ('nan', 'inf', 'pinf_minf', 'one', 'nulls', 'mixed') GROUP BY g ORDER BY g;
SELECT g, count(*), avg(x), sum(x) FROM aloc.fa
 WHERE g IN ('nan', 'inf', 'pinf_minf', 'one', 'nulls', 'mixed') GROUP BY g ORDER BY g;
SELECT g, round(avg(x)::numeric, 6) AS avg, round(sum(x)::numeric, 3) AS sum
  FROM fa WHERE g = 'many' GROUP BY g;
SELECT g, round(avg(x)::numeric, 6) AS avg, round(sum(x)::numeric, 3) AS sum
  FROM aloc.fa WHERE g = 'many' GROUP BY g;

-- ===================================================================
-- the variance family over float8 and float4: the {N, Sx, Sxx} state
-- ===================================================================
EXPLAIN (VERBOSE, COSTS OFF)
SELECT g, var_pop(x), var_samp(x), variance(x), stddev_pop(x), stddev_samp(x),
       stddev(x), avg(x4), sum(x4), variance(x4), stddev_pop(x4)
  FROM fa GROUP BY g;
SELECT fcmp('SELECT g, ARRAY[var_pop(x), var_samp(x), variance(x), stddev_pop(x),
                       stddev_samp(x), stddev(x), avg(x4), var_pop(x4),
                       var_samp(x4), variance(x4), stddev_pop(x4), stddev_samp(x4),
                       stddev(x4)]
               FROM {s}.fa WHERE g <> ''big'' GROUP BY g');
-- sum(float4) adds in float4 (float4pl, combined as such)
SELECT fcmp('SELECT g, ARRAY[sum(x4)] FROM {s}.fa WHERE g <> ''big'' GROUP BY g', 1e-6);
-- NaN, Infinity, no input (NULL), one input (0 for the population forms,
-- NULL for the sample forms)
SELECT g, var_pop(x), var_samp(x), stddev_pop(x), stddev(x), var_pop(x4), stddev_samp(x4)
  FROM fa WHERE g IN ('nan', 'inf', 'pinf_minf', 'one', 'nulls') GROUP BY g ORDER BY g;
SELECT g, var_pop(x), var_samp(x), stddev_pop(x), stddev(x), var_pop(x4), stddev_samp(x4)
  FROM aloc.fa WHERE g IN ('nan', 'inf', 'pinf_minf', 'one', 'nulls') GROUP BY g ORDER BY g;
-- large mean, small spread: no cancellation
SELECT round(var_samp(x)::numeric, 6) AS var_samp, round(stddev_pop(x)::numeric, 8) AS stddev_pop
  FROM fa WHERE g = 'many';
SELECT round(var_samp(x)::numeric, 6) AS var_samp, round(stddev_pop(x)::numeric, 8) AS stddev_pop
  FROM aloc.fa WHERE g = 'many';
-- squared deviations beyond float8: PostgreSQL's avg raises the overflow
-- error of its transition function; so do the shards' var_pop and avg
SELECT avg(x) FROM fa WHERE g = 'big';
SELECT avg(x) FROM aloc.fa WHERE g = 'big';
SELECT var_pop(x) FROM fa WHERE g = 'big';
SELECT var_pop(x) FROM aloc.fa WHERE g = 'big';
SELECT sum(x) FROM fa WHERE g = 'big';
SELECT sum(x) FROM aloc.fa WHERE g = 'big';

-- ===================================================================
-- the regression family: the {N, Sx, Sxx, Sy, Syy, Sxy} state
-- ===================================================================
EXPLAIN (VERBOSE, COSTS OFF)
SELECT g, corr(y, x), covar_pop(y, x), regr_count(y, x) FROM fa GROUP BY g;
SELECT fcmp('SELECT g, ARRAY[corr(y, x), covar_pop(y, x), covar_samp(y, x), regr_avgx(y, x),
                       regr_avgy(y, x), regr_count(y, x), regr_intercept(y, x), regr_r2(y, x),
                       regr_slope(y, x), regr_sxx(y, x), regr_sxy(y, x), regr_syy(y, x),
                       corr(x4, y), regr_slope(x, x4)]
               FROM {s}.fa WHERE g <> ''big'' GROUP BY g', 1e-7);
-- the same of x - 1e6 (exact: 1e6 + k/7.0 - 1e6), well conditioned
SELECT fcmp('SELECT g, ARRAY[corr(y, x - 1e6), covar_pop(y, x - 1e6), covar_samp(y, x - 1e6),
                       regr_intercept(y, x - 1e6), regr_r2(y, x - 1e6), regr_slope(y, x - 1e6),
                       regr_sxy(y, x - 1e6)]
               FROM {s}.fa WHERE g <> ''big'' GROUP BY g');
SELECT g, corr(y, x), covar_pop(y, x), covar_samp(y, x), regr_count(y, x),
       regr_avgx(y, x), regr_sxx(y, x), regr_slope(y, x)
  FROM fa WHERE g IN ('nan', 'inf', 'pinf_minf', 'one', 'nulls', 'mixed') GROUP BY g ORDER BY g;
SELECT g, corr(y, x), covar_pop(y, x), covar_samp(y, x), regr_count(y, x),
       regr_avgx(y, x), regr_sxx(y, x), regr_slope(y, x)
  FROM aloc.fa WHERE g IN ('nan', 'inf', 'pinf_minf', 'one', 'nulls', 'mixed') GROUP BY g ORDER BY g;

-- ===================================================================
-- FILTER, HAVING, no GROUP BY, no input, zero shards, DISTINCT
-- ===================================================================
EXPLAIN (VERBOSE, COSTS OFF)
SELECT g, avg(x) FILTER (WHERE j > 10), regr_sxy(y, x) FILTER (WHERE j % 2 = 0)
  FROM fa GROUP BY g HAVING stddev(x) > 1;
SELECT fcmp('SELECT g, ARRAY[avg(x) FILTER (WHERE j > 10), regr_sxy(y, x) FILTER (WHERE j % 2 = 0),
                       stddev(x)]
               FROM {s}.fa WHERE g <> ''big'' GROUP BY g HAVING stddev(x) > 1', 1e-7);
EXPLAIN (VERBOSE, COSTS OFF)
SELECT avg(x), var_samp(x4), corr(x, y) FROM fa WHERE g <> 'big';
SELECT fcmp('SELECT ''all'', ARRAY[avg(x), var_samp(x4), corr(x, y), sum(x), regr_count(x, y)]
               FROM {s}.fa WHERE g NOT IN (''big'', ''nan'', ''inf'', ''pinf_minf'')', 1e-7);
-- no rows at all: one row of NULLs (and counts of 0)
SELECT count(x), avg(x), var_pop(x), stddev_samp(x), corr(y, x), regr_count(y, x), sum(x)
  FROM fa_empty;
SELECT count(x), avg(x), var_pop(x), stddev_samp(x), corr(y, x), regr_count(y, x), sum(x)
  FROM aloc.fa_empty;
SELECT g, avg(x), corr(y, x) FROM fa_empty GROUP BY g;
-- zero shards: pruned to none
EXPLAIN (VERBOSE, COSTS OFF)
SELECT count(x), avg(x), variance(x), corr(y, x) FROM fa WHERE id = ANY ('{}');
SELECT count(x), avg(x), variance(x), corr(y, x) FROM fa WHERE id = ANY ('{}');
-- DISTINCT: the shards group by x as well, the coordinator removes the
-- duplicates across shards and combines x alone ({1, x, 0} per value)
EXPLAIN (VERBOSE, COSTS OFF)
SELECT g, avg(DISTINCT x), variance(DISTINCT x), count(DISTINCT x), corr(y, x) FROM fa GROUP BY g;
SELECT fcmp('SELECT g, ARRAY[avg(DISTINCT x), variance(DISTINCT x), var_pop(DISTINCT x),
                       count(DISTINCT x), corr(y, x), avg(x4)]
               FROM {s}.fa WHERE g <> ''big'' GROUP BY g', 1e-7);
SELECT fcmp('SELECT g, ARRAY[avg(DISTINCT x4), stddev(DISTINCT x4), sum(DISTINCT x4)]
               FROM {s}.fa WHERE g <> ''big'' GROUP BY g', 1e-6);

-- ===================================================================
-- concatenation: array_agg, string_agg, json_agg, jsonb_agg
-- ===================================================================
EXPLAIN (VERBOSE, COSTS OFF)
SELECT g, array_agg(j), string_agg(s, ', '), string_agg(b, '\x00'::bytea),
       json_agg(s), jsonb_agg(arr), array_agg(arr)
  FROM fa GROUP BY g;
SELECT ccmp('SELECT g, array_agg(j) FROM {s}.fa GROUP BY g',
            '(SELECT array_agg(e ORDER BY e) FROM unnest(v) e)::text');
SELECT ccmp('SELECT g, array_agg(s) FILTER (WHERE j > 5) FROM {s}.fa GROUP BY g',
            '(SELECT array_agg(e ORDER BY e) FROM unnest(v) e)::text');
SELECT ccmp('SELECT g, string_agg(s, '', '') FROM {s}.fa GROUP BY g',
            '(SELECT string_agg(e, '','' ORDER BY e) FROM regexp_split_to_table(v, '', '') e)');
SELECT ccmp('SELECT g, string_agg(b, ''\x00''::bytea) FROM {s}.fa GROUP BY g',
            '(SELECT string_agg(get_byte(v, i)::text, '','' ORDER BY get_byte(v, i))
                FROM generate_series(0, length(v) - 1) i) || length(v)');
SELECT ccmp('SELECT g, json_agg(s) FROM {s}.fa GROUP BY g',
            '(SELECT string_agg(e::text, '','' ORDER BY e::text) FROM json_array_elements(v) e)');
SELECT ccmp('SELECT g, jsonb_agg(arr) FROM {s}.fa GROUP BY g',
            '(SELECT string_agg(e::text, '','' ORDER BY e::text) FROM jsonb_array_elements(v) e)');
-- array_agg of arrays: one more dimension, of the same sub-arrays
SELECT ccmp('SELECT g, array_agg(arr) FROM {s}.fa WHERE arr IS NOT NULL GROUP BY g',
            '(SELECT string_agg(v[i:i]::text, '';'' ORDER BY v[i:i]::text)
                FROM generate_subscripts(v, 1) i) || array_dims(v)');
-- a delimiter that is NULL: no delimiter
SELECT ccmp('SELECT g, string_agg(s, NULL) FROM {s}.fa GROUP BY g',
            'length(v)');
-- json_agg writes ", \n " before each element that is an array or a row,
-- but ", " before a NULL: the text is exactly what json_agg makes of the
-- same elements in the same order
SELECT g, v::text = (SELECT json_agg(CASE WHEN e::text = 'null' THEN NULL
                                          ELSE translate(e::text, '[]', '{}')::int[] END
                                     ORDER BY o)
                       FROM json_array_elements(v) WITH ORDINALITY a(e, o))::text AS same_text,
       json_array_length(v) AS n
  FROM (SELECT g, json_agg(arr) AS v FROM fa GROUP BY g) x ORDER BY g;
SELECT ccmp('SELECT g, json_agg(arr) FROM {s}.fa GROUP BY g',
            '(SELECT string_agg(e::text, '','' ORDER BY e::text) FROM json_array_elements(v) e)');
-- one run (every row of 'one' is on one shard): nothing to join
SELECT array_agg(j), string_agg(s, ','), json_agg(arr), jsonb_agg(s), array_agg(arr)
  FROM fa WHERE g = 'one';
-- no input: NULL
SELECT array_agg(j), string_agg(s, ','), json_agg(s), jsonb_agg(s) FROM fa WHERE id < 0;
SELECT g, array_agg(x), string_agg(g, ',') FROM fa_empty GROUP BY g;
-- with a DISTINCT aggregate: runs concatenated per (group, x), then per group
EXPLAIN (VERBOSE, COSTS OFF)
SELECT g, count(DISTINCT j), array_agg(s), string_agg(s, '/') FROM fa GROUP BY g;
SELECT ccmp('SELECT g, array_agg(s) || ARRAY[count(DISTINCT j)::text] FROM {s}.fa GROUP BY g',
            '(SELECT array_agg(e ORDER BY e) FROM unnest(v) e)::text');
SELECT ccmp('SELECT g, string_agg(s, ''/'') || ''/'' || count(DISTINCT j) FROM {s}.fa GROUP BY g',
            '(SELECT string_agg(e, ''/'' ORDER BY e) FROM regexp_split_to_table(v, ''/'') e)');
-- json_agg of a type whose JSON text is the same on the shards (date) is
-- shipped; of float8 (extra_float_digits) or timestamptz (TimeZone) not
EXPLAIN (VERBOSE, COSTS OFF) SELECT g, json_agg(d), jsonb_agg(d) FROM fa GROUP BY g;
SELECT ccmp('SELECT g, jsonb_agg(d) FROM {s}.fa GROUP BY g',
            '(SELECT string_agg(e::text, '','' ORDER BY e::text) FROM jsonb_array_elements(v) e)');
EXPLAIN (VERBOSE, COSTS OFF) SELECT g, json_agg(x) FROM fa GROUP BY g;
EXPLAIN (VERBOSE, COSTS OFF) SELECT g, jsonb_agg(ts) FROM fa GROUP BY g;
-- not combined: ordered, DISTINCT, a delimiter that varies
EXPLAIN (VERBOSE, COSTS OFF) SELECT g, string_agg(s, ',' ORDER BY s) FROM fa GROUP BY g;
EXPLAIN (VERBOSE, COSTS OFF) SELECT g, array_agg(DISTINCT j) FROM fa GROUP BY g;
EXPLAIN (VERBOSE, COSTS OFF) SELECT g, string_agg(s, g) FROM fa GROUP BY g;
-- grouped by the distribution column: whole on the shards, as before
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id, avg(x), corr(y, x), string_agg(s, ',' ORDER BY s), json_agg(d) FROM fa GROUP BY id;

-- clean up what this test created locally
DROP FOREIGN TABLE fa, fa_empty;
DROP FUNCTION close(float8, float8, float8), fcmp(text, float8), ccmp(text, text);
DROP SCHEMA aloc CASCADE;
