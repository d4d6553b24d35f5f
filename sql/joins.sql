--
-- joins: the remote SQL of every join shape that shardfdw computes on the
-- shards, and the joins it must keep on the coordinator.
--
-- Every pushed-down shape below is pinned with EXPLAIN (VERBOSE, COSTS OFF)
-- (Relations:, Shards:, Combine:, Merge:, Limit: and the Remote SQL), so
-- that a change of the deparser cannot silently stop pushing a join down
-- or change what the shards run, and its result is compared with the same
-- query on local twins.  Covered:
--   - co-located hash tables joined on their keys: INNER, LEFT, RIGHT
--     (which PostgreSQL plans as a LEFT JOIN with the sides swapped), FULL;
--     SEMI (EXISTS, IN) and ANTI (NOT EXISTS, LEFT JOIN ... IS NULL) sent
--     as [NOT] EXISTS; keys of another integer type (int4 = int8);
--   - a replicated table on either side (INNER/LEFT/SEMI/ANTI with it
--     inner, RIGHT with it outer), two replicated tables, a replicated
--     table with a table that has no distribution, and the shapes that must
--     not be pushed (the replicated table preserved, or the outer side of
--     a SEMI/ANTI join);
--   - both sides pruned to the same single shard by key constants;
--   - sides with their own conditions (sent as subqueries), conditions of
--     the ON clause, filters above an outer join (shipped or local);
--   - modulo-distributed co-located tables;
--   - aggregates over pushed joins: whole when grouped by a group-safe key,
--     partial otherwise; DISTINCT; ORDER BY and LIMIT over pushed joins;
--   - a generic plan's parameter choosing the join's shard at run time,
--     and pushed joins rescanned in correlated subqueries;
--   - joins kept local: different distribution columns, a join clause not
--     on the keys, hash against modulo, tables of different servers, a side
--     or an outer join clause the shards cannot evaluate; a three-way join.
--
-- Two shapes once wrong are pinned at the end: ORDER BY over a pushed SEMI
-- join (the shards were asked to sort by a column of the EXISTS
-- subquery's table: an error), and a co-located INNER join on "key = $1"
-- in a generic plan (was not pushed: the planner keeps no join clause,
-- only "id = $1" on each side).
--
-- Already in pushdown.sql and not repeated here: merge joins over sorted
-- foreign scans (local joins), ORDER BY + LIMIT over a join with a
-- replicated table, and a replicated join whose shard a generic plan's key
-- chooses at run time.  sysattr.sql has whole-row references and system
-- columns in pushed joins; shapes.sql lateral references and a join on the
-- keys under another collation.
--
-- The fixture follows pushdown.sql: the shard tables are created by one
-- SQL text kept in a psql variable (\gset) and run on each shard (\c
-- shardN, :var); rows are kept on the shard that owns their key (jmine():
-- satisfies_hash_partition() on placement_probe, jmine8() on an int8
-- probe, jmod() for modulo).  The same text run locally in schema jloc,
-- where those functions keep every row, gives local twins holding exactly
-- the same rows.  jcmp() compares the row sets of a query on the foreign
-- tables ({s} = public) and on the twins ({s} = jloc), EXCEPT ALL both
-- ways, on the rows' text; jcmp_ordered() compares the row sequences.
--
SELECT current_database() AS regdb \gset
\set VERBOSITY terse

-- placement helpers, on the shards only
SELECT $sql$
CREATE TABLE jprobe8 (id int8) PARTITION BY HASH (id);
CREATE FUNCTION jmine(int) RETURNS bool LANGUAGE sql STABLE
  AS $f$SELECT satisfies_hash_partition('placement_probe'::regclass, 4,
                substr(current_database(), 6)::int, $1)$f$;
CREATE FUNCTION jmine8(int8) RETURNS bool LANGUAGE sql STABLE
  AS $f$SELECT satisfies_hash_partition('jprobe8'::regclass, 4,
                substr(current_database(), 6)::int, $1)$f$;
CREATE FUNCTION jmod(int) RETURNS bool LANGUAGE sql STABLE
  AS $f$SELECT (($1 % 4) + 4) % 4 = substr(current_database(), 6)::int$f$;
$sql$ AS mine_ddl \gset
-- ja, jb: hash on id; their keys overlap in part (20..40), jb has
-- duplicate keys, each has a NULL key (on the shard PARTITION BY HASH
-- gives it, remainder 0).
-- jc: hash on g (not id).
-- ja8: hash on an int8 id.
-- jr, jr2: replicated (every shard holds every row).
-- jm1, jm2: modulo on id, negative keys included.
-- jn: no distribution column; its rows are spread over the shards by a
-- rule that no option describes.
SELECT $sql$
CREATE TABLE ja (id int, g int, v text);
INSERT INTO ja SELECT x, x % 5, 'a' || x FROM generate_series(1, 40) x WHERE jmine(x);
INSERT INTO ja SELECT NULL, 1, 'a-null' WHERE jmine(NULL);
CREATE TABLE jb (id int, g int, w int);
INSERT INTO jb SELECT x, x % 4, x * 10 FROM generate_series(20, 60) x
 WHERE x % 3 <> 0 AND jmine(x);
INSERT INTO jb SELECT x, x % 4 + 1, -x FROM generate_series(20, 60, 10) x WHERE jmine(x);
INSERT INTO jb SELECT NULL, 2, 0 WHERE jmine(NULL);
CREATE TABLE jc (id int, g int, u text);
INSERT INTO jc SELECT x, x % 13, 'c' || x FROM generate_series(1, 50) x WHERE jmine(x % 13);
CREATE TABLE ja8 (id int8, g int);
INSERT INTO ja8 SELECT x, x % 3 FROM generate_series(2, 60, 2) x WHERE jmine8(x);
CREATE TABLE jr (id int, g int, t text);
INSERT INTO jr SELECT x, CASE WHEN x = 12 THEN NULL ELSE x % 4 END, 'r' || x
  FROM generate_series(1, 12) x;
CREATE TABLE jr2 (id int, k text);
INSERT INTO jr2 SELECT x, 'k' || x FROM generate_series(4, 15) x;
CREATE TABLE jm1 (id int, g int);
INSERT INTO jm1 SELECT x, x % 3 FROM generate_series(-6, 30, 2) x WHERE jmod(x);
CREATE TABLE jm2 (id int, h text);
INSERT INTO jm2 SELECT x, 'm' || x FROM generate_series(-9, 36, 3) x WHERE jmod(x);
INSERT INTO jm2 SELECT x, 'm' || x || 'bis' FROM generate_series(0, 36, 12) x WHERE jmod(x);
CREATE TABLE jn (id int, g int);
INSERT INTO jn SELECT x, x % 4 FROM generate_series(1, 24) x WHERE jmod(x + 1);
$sql$ AS shard_ddl \gset
\c shard0
:mine_ddl
:shard_ddl
SELECT count(*) AS null_keys_here FROM ja WHERE id IS NULL;
\c shard1
:mine_ddl
:shard_ddl
SELECT count(*) AS null_keys_here FROM ja WHERE id IS NULL;
\c shard2
:mine_ddl
:shard_ddl
\c shard3
:mine_ddl
:shard_ddl
\c :regdb
\set VERBOSITY terse

-- the local twins
CREATE SCHEMA jloc;
CREATE FUNCTION jloc.jmine(int) RETURNS bool LANGUAGE sql AS 'SELECT true';
CREATE FUNCTION jloc.jmine8(int8) RETURNS bool LANGUAGE sql AS 'SELECT true';
CREATE FUNCTION jloc.jmod(int) RETURNS bool LANGUAGE sql AS 'SELECT true';
SET search_path = jloc, public;
:shard_ddl
RESET search_path;

CREATE FOREIGN TABLE ja (id int, g int, v text)
  SERVER cluster OPTIONS (distribution_column 'id');
CREATE FOREIGN TABLE jb (id int, g int, w int)
  SERVER cluster OPTIONS (distribution_column 'id');
CREATE FOREIGN TABLE jc (id int, g int, u text)
  SERVER cluster OPTIONS (distribution_column 'g');
CREATE FOREIGN TABLE ja8 (id int8, g int)
  SERVER cluster OPTIONS (distribution_column 'id');
CREATE FOREIGN TABLE jr (id int, g int, t text)
  SERVER cluster OPTIONS (distribution 'replicated');
CREATE FOREIGN TABLE jr2 (id int, k text)
  SERVER cluster OPTIONS (distribution 'replicated');
CREATE FOREIGN TABLE jm1 (id int, g int)
  SERVER cluster OPTIONS (distribution 'modulo', distribution_column 'id');
CREATE FOREIGN TABLE jm2 (id int, h text)
  SERVER cluster OPTIONS (distribution 'modulo', distribution_column 'id');
CREATE FOREIGN TABLE jn (id int, g int) SERVER cluster;
-- jb again, through a second server with the same shards
DO $$
BEGIN
  EXECUTE format(
    'CREATE SERVER jother FOREIGN DATA WRAPPER shardfdw OPTIONS ('
    ' host %L, port %L, p0 %L, p1 %L, p2 %L, p3 %L)',
    trim(split_part(current_setting('unix_socket_directories'), ',', 1)),
    current_setting('port'),
    'dbname=shard0', 'dbname=shard1', 'dbname=shard2', 'dbname=shard3');
END
$$;
CREATE USER MAPPING FOR CURRENT_USER SERVER jother;
CREATE FOREIGN TABLE jb_other (id int, g int, w int)
  SERVER jother OPTIONS (table_name 'jb', distribution_column 'id');

-- the twins hold what the shards hold, and where
SELECT 'ja' AS t, shardfdw.shard_for('ja'::regclass, id) AS shard, count(*)
  FROM jloc.ja GROUP BY 2
UNION ALL
SELECT 'jb', shardfdw.shard_for('jb'::regclass, id), count(*) FROM jloc.jb GROUP BY 2
UNION ALL
SELECT 'jm1', shardfdw.shard_for('jm1'::regclass, id), count(*) FROM jloc.jm1 GROUP BY 2
ORDER BY 1, 2;
SELECT (SELECT count(*) FROM ja) AS ja, (SELECT count(*) FROM jb) AS jb,
       (SELECT count(*) FROM jc) AS jc, (SELECT count(*) FROM ja8) AS ja8,
       (SELECT count(*) FROM jr) AS jr, (SELECT count(*) FROM jr2) AS jr2,
       (SELECT count(*) FROM jm1) AS jm1, (SELECT count(*) FROM jm2) AS jm2,
       (SELECT count(*) FROM jn) AS jn;

-- with statistics, the planner's choice between pushed and local joins is
-- made on the real row counts
ANALYZE ja, jb, jc, ja8, jr, jr2, jm1, jm2, jn, jb_other;
ANALYZE jloc.ja, jloc.jb, jloc.jc, jloc.ja8, jloc.jr, jloc.jr2, jloc.jm1,
        jloc.jm2, jloc.jn;

CREATE FUNCTION jplus_one(int) RETURNS int LANGUAGE plpgsql IMMUTABLE
  AS $$BEGIN RETURN $1 + 1; END$$;

-- q on the foreign tables and on the twins: the same rows?
CREATE FUNCTION jcmp(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  rq text := replace(q, '{s}', 'public');
  lq text := replace(q, '{s}', 'jloc');
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
CREATE FUNCTION jcmp_ordered(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  rq text := replace(q, '{s}', 'public');
  lq text := replace(q, '{s}', 'jloc');
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

-- ===================================================================
-- Co-located hash tables joined on their keys: every join type
-- ===================================================================
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, a.v, b.w FROM ja a JOIN jb b ON a.id = b.id;
SELECT jcmp('SELECT a.id, a.v, b.w FROM {s}.ja a JOIN {s}.jb b ON a.id = b.id');
SELECT a.id, a.v, b.w FROM ja a JOIN jb b ON a.id = b.id ORDER BY b.w;
-- more join clauses next to the key equality go to the ON clause
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, b.w FROM ja a JOIN jb b ON b.id = a.id AND b.g <> a.g AND b.w > 0;
SELECT jcmp('SELECT a.id, b.w FROM {s}.ja a JOIN {s}.jb b ON b.id = a.id AND b.g <> a.g AND b.w > 0');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, a.v, b.id, b.w FROM ja a LEFT JOIN jb b ON b.id = a.id;
SELECT jcmp('SELECT a.id, a.v, b.id, b.w FROM {s}.ja a LEFT JOIN {s}.jb b ON b.id = a.id');
-- (PostgreSQL turns a RIGHT JOIN into a LEFT JOIN with the sides swapped
-- before it plans joins: the shards run "jb LEFT JOIN ja")
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, a.v, b.id, b.w FROM ja a RIGHT JOIN jb b ON b.id = a.id;
SELECT jcmp('SELECT a.id, a.v, b.id, b.w FROM {s}.ja a RIGHT JOIN {s}.jb b ON b.id = a.id');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, a.v, b.id, b.w FROM ja a FULL JOIN jb b ON a.id = b.id;
SELECT jcmp('SELECT a.id, a.v, b.id, b.w FROM {s}.ja a FULL JOIN {s}.jb b ON a.id = b.id');
-- (the NULL keys are never matched, and kept by the outer joins)
SELECT a.v, b.w FROM ja a FULL JOIN jb b ON a.id = b.id
 WHERE a.id IS NULL AND b.id IS NULL ORDER BY 1, 2;
-- SEMI: EXISTS and IN
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, a.v FROM ja a WHERE EXISTS (SELECT 1 FROM jb b WHERE b.id = a.id);
SELECT jcmp('SELECT a.id, a.v FROM {s}.ja a WHERE EXISTS (SELECT 1 FROM {s}.jb b WHERE b.id = a.id)');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, a.v FROM ja a WHERE a.id IN (SELECT b.id FROM jb b WHERE b.w > 300);
SELECT jcmp('SELECT a.id, a.v FROM {s}.ja a WHERE a.id IN (SELECT b.id FROM {s}.jb b WHERE b.w > 300)');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id FROM ja a
 WHERE EXISTS (SELECT 1 FROM jb b WHERE b.id = a.id AND b.g + 1 > a.g);
SELECT jcmp('SELECT a.id FROM {s}.ja a
 WHERE EXISTS (SELECT 1 FROM {s}.jb b WHERE b.id = a.id AND b.g + 1 > a.g)');
-- ANTI: NOT EXISTS, and a LEFT JOIN keeping only the unmatched rows
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, a.v FROM ja a WHERE NOT EXISTS (SELECT 1 FROM jb b WHERE b.id = a.id);
SELECT jcmp('SELECT a.id, a.v FROM {s}.ja a WHERE NOT EXISTS (SELECT 1 FROM {s}.jb b WHERE b.id = a.id)');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT b.id, b.w FROM jb b LEFT JOIN ja a ON a.id = b.id WHERE a.id IS NULL;
SELECT jcmp('SELECT b.id, b.w FROM {s}.jb b LEFT JOIN {s}.ja a ON a.id = b.id WHERE a.id IS NULL');

-- the key of jc is g: ja.id = jc.g is a co-located join
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, c.id, c.u FROM ja a LEFT JOIN jc c ON c.g = a.id;
SELECT jcmp('SELECT a.id, c.id, c.u FROM {s}.ja a LEFT JOIN {s}.jc c ON c.g = a.id');
-- int4 = int8 keys: the same hash family places equal values alike
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, e.id, e.g FROM ja a FULL JOIN ja8 e ON e.id = a.id;
SELECT jcmp('SELECT a.id, e.id, e.g FROM {s}.ja a FULL JOIN {s}.ja8 e ON e.id = a.id');

-- ===================================================================
-- Sides with their own conditions, conditions of the ON clause, and
-- filters above an outer join
-- ===================================================================
-- each side's conditions: a subquery, applied before the join
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, b.w FROM ja a JOIN jb b ON a.id = b.id WHERE a.g < 3 AND b.w > 250;
SELECT jcmp('SELECT a.id, b.w FROM {s}.ja a JOIN {s}.jb b ON a.id = b.id WHERE a.g < 3 AND b.w > 250');
-- an ON condition on the nullable side only: that side's subquery
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, b.w FROM ja a LEFT JOIN jb b ON a.id = b.id AND b.w > 300;
SELECT jcmp('SELECT a.id, b.w FROM {s}.ja a LEFT JOIN {s}.jb b ON a.id = b.id AND b.w > 300');
-- an ON condition on the preserved side only: stays in ON
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, a.g, b.w FROM ja a LEFT JOIN jb b ON a.id = b.id AND a.g = 2;
SELECT jcmp('SELECT a.id, a.g, b.w FROM {s}.ja a LEFT JOIN {s}.jb b ON a.id = b.id AND a.g = 2');
-- the preserved side's WHERE: its subquery
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, b.w FROM ja a LEFT JOIN jb b ON a.id = b.id WHERE a.g = 0;
SELECT jcmp('SELECT a.id, b.w FROM {s}.ja a LEFT JOIN {s}.jb b ON a.id = b.id WHERE a.g = 0');
-- both sides of a FULL JOIN filtered (subqueries pulled up)
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, b.id, b.w
  FROM (SELECT * FROM ja WHERE g < 3) a FULL JOIN (SELECT * FROM jb WHERE w > 0) b
    ON a.id = b.id;
SELECT jcmp('SELECT a.id, b.id, b.w
  FROM (SELECT * FROM {s}.ja WHERE g < 3) a FULL JOIN (SELECT * FROM {s}.jb WHERE w > 0) b
    ON a.id = b.id');
-- the nullable side of an ANTI join filtered
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id FROM ja a WHERE NOT EXISTS (SELECT 1 FROM jb b WHERE b.id = a.id AND b.w < 0);
SELECT jcmp('SELECT a.id FROM {s}.ja a WHERE NOT EXISTS (SELECT 1 FROM {s}.jb b WHERE b.id = a.id AND b.w < 0)');
-- filters above an outer join: the WHERE of the joined rows
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, b.w FROM ja a LEFT JOIN jb b ON a.id = b.id WHERE b.w IS NULL OR b.w > 400;
SELECT jcmp('SELECT a.id, b.w FROM {s}.ja a LEFT JOIN {s}.jb b ON a.id = b.id WHERE b.w IS NULL OR b.w > 400');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, b.id FROM ja a FULL JOIN jb b ON a.id = b.id WHERE coalesce(a.g, b.g) = 2;
SELECT jcmp('SELECT a.id, b.id FROM {s}.ja a FULL JOIN {s}.jb b ON a.id = b.id WHERE coalesce(a.g, b.g) = 2');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, b.w FROM ja a RIGHT JOIN jb b ON a.id = b.id WHERE a.v IS DISTINCT FROM 'a25';
SELECT jcmp('SELECT a.id, b.w FROM {s}.ja a RIGHT JOIN {s}.jb b ON a.id = b.id WHERE a.v IS DISTINCT FROM ''a25''');
-- ... and one the shards cannot evaluate: a Filter on the pushed join
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, b.w FROM ja a LEFT JOIN jb b ON a.id = b.id
 WHERE coalesce(b.w, 0) > jplus_one(a.g) * 100;
SELECT jcmp('SELECT a.id, b.w FROM {s}.ja a LEFT JOIN {s}.jb b ON a.id = b.id
 WHERE coalesce(b.w, 0) > jplus_one(a.g) * 100');
-- an inner join clause the shards cannot evaluate: a Filter too
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, b.w FROM ja a JOIN jb b ON a.id = b.id AND b.g = jplus_one(a.g);
SELECT jcmp('SELECT a.id, b.w FROM {s}.ja a JOIN {s}.jb b ON a.id = b.id AND b.g = jplus_one(a.g)');

-- ===================================================================
-- Both sides pruned to the same single shard: any join clause
-- ===================================================================
-- 22 and 24 both live on p3, 21 on p1
SELECT x, shardfdw.shard_for('ja'::regclass, x) FROM unnest('{21, 22, 24}'::int[]) x;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, a.v, b.id, b.w FROM ja a JOIN jb b ON a.g >= b.g WHERE a.id = 24 AND b.id = 22;
SELECT jcmp('SELECT a.id, a.v, b.id, b.w FROM {s}.ja a JOIN {s}.jb b ON a.g >= b.g WHERE a.id = 24 AND b.id = 22');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, b.id FROM ja a LEFT JOIN jb b ON a.g <= b.g AND b.id IN (22, 24)
 WHERE a.id IN (22, 24);
SELECT jcmp('SELECT a.id, b.id FROM {s}.ja a LEFT JOIN {s}.jb b ON a.g <= b.g AND b.id IN (22, 24)
 WHERE a.id IN (22, 24)');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, b.id FROM (SELECT * FROM ja WHERE id = 24) a
  FULL JOIN (SELECT * FROM jb WHERE id = 22) b ON a.g = b.g;
SELECT jcmp('SELECT a.id, b.id FROM (SELECT * FROM {s}.ja WHERE id = 24) a
  FULL JOIN (SELECT * FROM {s}.jb WHERE id = 22) b ON a.g = b.g');
-- a co-located join pruned by a constant: one shard, both sides filtered
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, a.v, b.w FROM ja a JOIN jb b ON a.id = b.id WHERE a.id = 20;
SELECT a.id, a.v, b.w FROM ja a JOIN jb b ON a.id = b.id WHERE a.id = 20 ORDER BY b.w;
SELECT a.id, a.v, b.w FROM jloc.ja a JOIN jloc.jb b ON a.id = b.id WHERE a.id = 20 ORDER BY b.w;
-- the preserved side pruned: its shards
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, b.w FROM ja a LEFT JOIN jb b ON a.id = b.id WHERE a.id IN (21, 22, 1);
SELECT jcmp('SELECT a.id, b.w FROM {s}.ja a LEFT JOIN {s}.jb b ON a.id = b.id WHERE a.id IN (21, 22, 1)');
-- two different single shards, not joined on the keys: local
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, b.id FROM ja a JOIN jb b ON a.g <= b.g WHERE a.id = 21 AND b.id = 22;
SELECT jcmp('SELECT a.id, b.id FROM {s}.ja a JOIN {s}.jb b ON a.g <= b.g WHERE a.id = 21 AND b.id = 22');

-- ===================================================================
-- A replicated table on either side
-- ===================================================================
-- INNER, the replicated table first or second, joined on any condition
EXPLAIN (VERBOSE, COSTS OFF)
SELECT r.t, a.id FROM jr r JOIN ja a ON a.id = r.id * 4;
SELECT jcmp('SELECT r.t, a.id FROM {s}.jr r JOIN {s}.ja a ON a.id = r.id * 4');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, r.t FROM ja a JOIN jr r ON r.g = a.g AND r.id < a.id WHERE r.id > 8;
SELECT jcmp('SELECT a.id, r.t FROM {s}.ja a JOIN {s}.jr r ON r.g = a.g AND r.id < a.id WHERE r.id > 8');
-- LEFT with the replicated table inner
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, r.t FROM ja a LEFT JOIN jr r ON r.id * 4 = a.id;
SELECT jcmp('SELECT a.id, r.t FROM {s}.ja a LEFT JOIN {s}.jr r ON r.id * 4 = a.id');
-- RIGHT with the replicated table outer (on the shards: the distributed
-- table LEFT JOIN the replicated one)
EXPLAIN (VERBOSE, COSTS OFF)
SELECT r.t, b.id, b.w FROM jr r RIGHT JOIN jb b ON b.id = r.id * 5;
SELECT jcmp('SELECT r.t, b.id, b.w FROM {s}.jr r RIGHT JOIN {s}.jb b ON b.id = r.id * 5');
-- SEMI and ANTI with the replicated table inner
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id FROM ja a WHERE EXISTS (SELECT 1 FROM jr r WHERE r.g = a.g AND r.id > 9);
SELECT jcmp('SELECT a.id FROM {s}.ja a WHERE EXISTS (SELECT 1 FROM {s}.jr r WHERE r.g = a.g AND r.id > 9)');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id FROM ja a WHERE a.g IN (SELECT r.g FROM jr r WHERE r.t < 'r3');
SELECT jcmp('SELECT a.id FROM {s}.ja a WHERE a.g IN (SELECT r.g FROM {s}.jr r WHERE r.t < ''r3'')');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, a.g FROM ja a WHERE NOT EXISTS (SELECT 1 FROM jr r WHERE r.id = a.g);
SELECT jcmp('SELECT a.id, a.g FROM {s}.ja a WHERE NOT EXISTS (SELECT 1 FROM {s}.jr r WHERE r.id = a.g)');
-- a modulo table and the replicated table
EXPLAIN (VERBOSE, COSTS OFF)
SELECT m.id, r.t FROM jm1 m LEFT JOIN jr r ON r.g = m.g;
SELECT jcmp('SELECT m.id, r.t FROM {s}.jm1 m LEFT JOIN {s}.jr r ON r.g = m.g');
-- a table without distribution (each shard holds some rows) and the
-- replicated table
EXPLAIN (VERBOSE, COSTS OFF)
SELECT n.id, r.t FROM jn n JOIN jr r ON r.id = n.id;
SELECT jcmp('SELECT n.id, r.t FROM {s}.jn n JOIN {s}.jr r ON r.id = n.id');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT n.id FROM jn n WHERE NOT EXISTS (SELECT 1 FROM jr r WHERE r.id = n.id);
SELECT jcmp('SELECT n.id FROM {s}.jn n WHERE NOT EXISTS (SELECT 1 FROM {s}.jr r WHERE r.id = n.id)');
-- two replicated tables: any one shard, every join type
EXPLAIN (VERBOSE, COSTS OFF)
SELECT r.id, r.t, s.k FROM jr r FULL JOIN jr2 s ON s.id = r.id;
SELECT jcmp('SELECT r.id, r.t, s.k FROM {s}.jr r FULL JOIN {s}.jr2 s ON s.id = r.id');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT s.id, s.k FROM jr2 s WHERE NOT EXISTS (SELECT 1 FROM jr r WHERE r.id = s.id);
SELECT jcmp('SELECT s.id, s.k FROM {s}.jr2 s WHERE NOT EXISTS (SELECT 1 FROM {s}.jr r WHERE r.id = s.id)');
-- not pushed: the replicated table preserved by an outer join (each shard
-- would return its unmatched rows), or the outer side of a SEMI/ANTI join
-- (each shard would decide on its own rows of the other table)
EXPLAIN (VERBOSE, COSTS OFF)
SELECT r.t, a.id FROM jr r LEFT JOIN ja a ON a.id = r.id * 4;
SELECT jcmp('SELECT r.t, a.id FROM {s}.jr r LEFT JOIN {s}.ja a ON a.id = r.id * 4');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT r.t, a.id FROM ja a RIGHT JOIN jr r ON a.id = r.id * 4;
SELECT jcmp('SELECT r.t, a.id FROM {s}.ja a RIGHT JOIN {s}.jr r ON a.id = r.id * 4');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT r.t, a.id FROM jr r FULL JOIN ja a ON a.id = r.id * 4;
SELECT jcmp('SELECT r.t, a.id FROM {s}.jr r FULL JOIN {s}.ja a ON a.id = r.id * 4');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT r.t FROM jr r WHERE EXISTS (SELECT 1 FROM ja a WHERE a.id = r.id * 4);
SELECT jcmp('SELECT r.t FROM {s}.jr r WHERE EXISTS (SELECT 1 FROM {s}.ja a WHERE a.id = r.id * 4)');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT r.t FROM jr r WHERE NOT EXISTS (SELECT 1 FROM ja a WHERE a.id = r.id * 4);
SELECT jcmp('SELECT r.t FROM {s}.jr r WHERE NOT EXISTS (SELECT 1 FROM {s}.ja a WHERE a.id = r.id * 4)');

-- ===================================================================
-- Modulo-distributed co-located tables
-- ===================================================================
EXPLAIN (VERBOSE, COSTS OFF)
SELECT m.id, m.g, n.h FROM jm1 m JOIN jm2 n ON n.id = m.id;
SELECT jcmp('SELECT m.id, m.g, n.h FROM {s}.jm1 m JOIN {s}.jm2 n ON n.id = m.id');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT m.id, n.id, n.h FROM jm1 m FULL JOIN jm2 n ON n.id = m.id;
SELECT jcmp('SELECT m.id, n.id, n.h FROM {s}.jm1 m FULL JOIN {s}.jm2 n ON n.id = m.id');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT m.id FROM jm1 m WHERE NOT EXISTS (SELECT 1 FROM jm2 n WHERE n.id = m.id);
SELECT jcmp('SELECT m.id FROM {s}.jm1 m WHERE NOT EXISTS (SELECT 1 FROM {s}.jm2 n WHERE n.id = m.id)');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT m.id, n.h FROM jm1 m LEFT JOIN jm2 n ON n.id = m.id WHERE m.id = -6;
SELECT jcmp('SELECT m.id, n.h FROM {s}.jm1 m LEFT JOIN {s}.jm2 n ON n.id = m.id WHERE m.id = -6');

-- ===================================================================
-- Aggregates over pushed joins
-- ===================================================================
-- grouped by either key of a co-located INNER join: whole on the shards
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, count(*), sum(b.w), max(a.v) FROM ja a JOIN jb b ON a.id = b.id GROUP BY a.id;
SELECT jcmp('SELECT a.id, count(*), sum(b.w), max(a.v) FROM {s}.ja a JOIN {s}.jb b ON a.id = b.id GROUP BY a.id');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT b.id, string_agg(a.v, ',' ORDER BY b.w) FROM ja a JOIN jb b ON a.id = b.id
 GROUP BY b.id HAVING count(*) > 1;
SELECT jcmp('SELECT b.id, string_agg(a.v, '','' ORDER BY b.w) FROM {s}.ja a JOIN {s}.jb b ON a.id = b.id
 GROUP BY b.id HAVING count(*) > 1');
-- grouped by another column: partial, combined here
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.g, count(*), sum(b.w), avg(b.w), min(a.v) FROM ja a JOIN jb b ON a.id = b.id GROUP BY a.g;
SELECT jcmp('SELECT a.g, count(*), sum(b.w), avg(b.w), min(a.v) FROM {s}.ja a JOIN {s}.jb b ON a.id = b.id GROUP BY a.g');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT count(*), count(b.id), sum(b.w) FROM ja a LEFT JOIN jb b ON a.id = b.id;
SELECT count(*), count(b.id), sum(b.w) FROM ja a LEFT JOIN jb b ON a.id = b.id;
SELECT count(*), count(b.id), sum(b.w) FROM jloc.ja a LEFT JOIN jloc.jb b ON a.id = b.id;
-- LEFT: the preserved side's key is group-safe ...
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, count(b.id), sum(b.w) FROM ja a LEFT JOIN jb b ON a.id = b.id GROUP BY a.id;
SELECT jcmp('SELECT a.id, count(b.id), sum(b.w) FROM {s}.ja a LEFT JOIN {s}.jb b ON a.id = b.id GROUP BY a.id');
-- ... the nullable side's is not (its NULL group comes from every shard)
EXPLAIN (VERBOSE, COSTS OFF)
SELECT b.id, count(*) FROM ja a LEFT JOIN jb b ON a.id = b.id GROUP BY b.id;
SELECT jcmp('SELECT b.id, count(*) FROM {s}.ja a LEFT JOIN {s}.jb b ON a.id = b.id GROUP BY b.id');
-- RIGHT: the inner (preserved) side's key
EXPLAIN (VERBOSE, COSTS OFF)
SELECT b.id, count(a.id) FROM ja a RIGHT JOIN jb b ON a.id = b.id GROUP BY b.id;
SELECT jcmp('SELECT b.id, count(a.id) FROM {s}.ja a RIGHT JOIN {s}.jb b ON a.id = b.id GROUP BY b.id');
-- FULL: no key is group-safe
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, count(*) FROM ja a FULL JOIN jb b ON a.id = b.id GROUP BY a.id;
SELECT jcmp('SELECT a.id, count(*) FROM {s}.ja a FULL JOIN {s}.jb b ON a.id = b.id GROUP BY a.id');
-- SEMI: the outer key
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, count(*) FROM ja a WHERE EXISTS (SELECT 1 FROM jb b WHERE b.id = a.id) GROUP BY a.id;
SELECT jcmp('SELECT a.id, count(*) FROM {s}.ja a WHERE EXISTS (SELECT 1 FROM {s}.jb b WHERE b.id = a.id) GROUP BY a.id');
-- jc's key is g
EXPLAIN (VERBOSE, COSTS OFF)
SELECT c.g, count(*), max(a.v) FROM ja a JOIN jc c ON c.g = a.id GROUP BY c.g;
SELECT jcmp('SELECT c.g, count(*), max(a.v) FROM {s}.ja a JOIN {s}.jc c ON c.g = a.id GROUP BY c.g');
-- a replicated inner side: the distributed side's key is group-safe,
-- the replicated side's columns are not
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, count(*), string_agg(r.t, ',' ORDER BY r.t) FROM ja a JOIN jr r ON r.g = a.g
 GROUP BY a.id;
SELECT jcmp('SELECT a.id, count(*), string_agg(r.t, '','' ORDER BY r.t) FROM {s}.ja a JOIN {s}.jr r ON r.g = a.g
 GROUP BY a.id');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT r.t, count(*), sum(a.id) FROM ja a JOIN jr r ON r.g = a.g GROUP BY r.t;
SELECT jcmp('SELECT r.t, count(*), sum(a.id) FROM {s}.ja a JOIN {s}.jr r ON r.g = a.g GROUP BY r.t');
-- a replicated outer side of a RIGHT join: the inner side's key
EXPLAIN (VERBOSE, COSTS OFF)
SELECT b.id, count(r.id) FROM jr r RIGHT JOIN jb b ON b.id = r.id * 5 GROUP BY b.id;
SELECT jcmp('SELECT b.id, count(r.id) FROM {s}.jr r RIGHT JOIN {s}.jb b ON b.id = r.id * 5 GROUP BY b.id');
-- one shard (or any one, for two replicated tables): whole, not combined
EXPLAIN (VERBOSE, COSTS OFF)
SELECT count(*), avg(b.w), max(a.v) FROM ja a JOIN jb b ON a.g >= b.g
 WHERE a.id IN (22, 24) AND b.id = 22;
SELECT jcmp('SELECT count(*), avg(b.w), max(a.v) FROM {s}.ja a JOIN {s}.jb b ON a.g >= b.g
 WHERE a.id IN (22, 24) AND b.id = 22');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT count(*), count(s.k), max(r.t), string_agg(s.k, ',' ORDER BY s.k)
  FROM jr r LEFT JOIN jr2 s ON s.id = r.id;
SELECT count(*), count(s.k), max(r.t), string_agg(s.k, ',' ORDER BY s.k)
  FROM jr r LEFT JOIN jr2 s ON s.id = r.id;
SELECT jcmp('SELECT count(*), count(s.k), max(r.t), string_agg(s.k, '','' ORDER BY s.k)
  FROM {s}.jr r LEFT JOIN {s}.jr2 s ON s.id = r.id');
-- modulo: whole by the key
EXPLAIN (VERBOSE, COSTS OFF)
SELECT m.id, count(*) FROM jm1 m JOIN jm2 n ON n.id = m.id GROUP BY m.id;
SELECT jcmp('SELECT m.id, count(*) FROM {s}.jm1 m JOIN {s}.jm2 n ON n.id = m.id GROUP BY m.id');
-- DISTINCT over a pushed join
EXPLAIN (VERBOSE, COSTS OFF)
SELECT DISTINCT a.g, b.g FROM ja a JOIN jb b ON a.id = b.id;
SELECT jcmp('SELECT DISTINCT a.g, b.g FROM {s}.ja a JOIN {s}.jb b ON a.id = b.id');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT DISTINCT a.id FROM ja a JOIN jb b ON a.id = b.id;
SELECT jcmp('SELECT DISTINCT a.id FROM {s}.ja a JOIN {s}.jb b ON a.id = b.id');

-- ===================================================================
-- ORDER BY and LIMIT over pushed joins
-- ===================================================================
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, a.v, b.w FROM ja a JOIN jb b ON a.id = b.id ORDER BY a.id, b.w LIMIT 5;
SELECT a.id, a.v, b.w FROM ja a JOIN jb b ON a.id = b.id ORDER BY a.id, b.w LIMIT 5;
SELECT jcmp_ordered('SELECT a.id, a.v, b.w FROM {s}.ja a JOIN {s}.jb b ON a.id = b.id ORDER BY a.id, b.w LIMIT 5');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, b.w FROM ja a LEFT JOIN jb b ON a.id = b.id
 ORDER BY b.w DESC, a.id LIMIT 4 OFFSET 3;
SELECT jcmp_ordered('SELECT a.id, b.w FROM {s}.ja a LEFT JOIN {s}.jb b ON a.id = b.id
 ORDER BY b.w DESC, a.id LIMIT 4 OFFSET 3');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, b.id, b.w FROM ja a FULL JOIN jb b ON a.id = b.id
 ORDER BY a.id NULLS FIRST, b.w;
SELECT jcmp_ordered('SELECT a.id, b.id, b.w FROM {s}.ja a FULL JOIN {s}.jb b ON a.id = b.id
 ORDER BY a.id NULLS FIRST, b.w');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, a.v FROM ja a WHERE NOT EXISTS (SELECT 1 FROM jb b WHERE b.id = a.id)
 ORDER BY a.v DESC LIMIT 3;
SELECT jcmp_ordered('SELECT a.id, a.v FROM {s}.ja a WHERE NOT EXISTS (SELECT 1 FROM {s}.jb b WHERE b.id = a.id)
 ORDER BY a.v DESC LIMIT 3');
-- one shard: the whole LIMIT and OFFSET there
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, b.w FROM ja a JOIN jb b ON a.g >= b.g WHERE a.id IN (22, 24) AND b.id = 22
 ORDER BY a.id LIMIT 1 OFFSET 1;
SELECT a.id, b.w FROM ja a JOIN jb b ON a.g >= b.g WHERE a.id IN (22, 24) AND b.id = 22
 ORDER BY a.id LIMIT 1 OFFSET 1;
SELECT jcmp_ordered('SELECT a.id, b.w FROM {s}.ja a JOIN {s}.jb b ON a.g >= b.g WHERE a.id IN (22, 24) AND b.id = 22
 ORDER BY a.id LIMIT 1 OFFSET 1');
-- over an aggregation done whole on the shards
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, count(*) FROM ja a JOIN jb b ON a.id = b.id GROUP BY a.id
 ORDER BY count(*) DESC, a.id LIMIT 3;
SELECT jcmp_ordered('SELECT a.id, count(*) FROM {s}.ja a JOIN {s}.jb b ON a.id = b.id GROUP BY a.id
 ORDER BY count(*) DESC, a.id LIMIT 3');
-- not shipped with a local filter on the join: the shards sort, the LIMIT
-- is local
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, b.w FROM ja a JOIN jb b ON a.id = b.id AND b.g = jplus_one(a.g)
 ORDER BY a.id LIMIT 2;
SELECT jcmp_ordered('SELECT a.id, b.w FROM {s}.ja a JOIN {s}.jb b ON a.id = b.id AND b.g = jplus_one(a.g)
 ORDER BY a.id LIMIT 2');

-- ===================================================================
-- A generic plan's parameter chooses the join's shard at run time
-- ===================================================================
SET plan_cache_mode = force_generic_plan;
-- the preserved side of a LEFT join (the key condition is derived for the
-- nullable side as well)
PREPARE jq1(int) AS
  SELECT a.id, a.v, b.w FROM ja a LEFT JOIN jb b ON b.id = a.id WHERE a.id = $1
   ORDER BY b.w;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE jq1(20);
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE jq1(20);
EXECUTE jq1(20);
SELECT a.id, a.v, b.w FROM jloc.ja a LEFT JOIN jloc.jb b ON b.id = a.id WHERE a.id = 20
 ORDER BY b.w;
EXECUTE jq1(5);
EXECUTE jq1(NULL);
-- a RIGHT join: its preserved side
PREPARE jq2(int) AS
  SELECT b.id, b.w, a.v FROM ja a RIGHT JOIN jb b ON b.id = a.id WHERE b.id = $1;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE jq2(23);
EXECUTE jq2(23);
-- a co-located INNER join, the key of either side; with an aggregate
-- grouped by the key, whole on the shard ("a.id = $1": at the end)
PREPARE jq3(int[]) AS
  SELECT a.id, a.v, b.w FROM ja a JOIN jb b ON b.id = a.id WHERE a.id = ANY ($1);
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE jq3('{20, 21}');
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE jq3('{20, 21}');
CREATE TEMP TABLE jq_out AS EXECUTE jq3('{20, 21, 22, 40, 60}');
SELECT * FROM jq_out ORDER BY 1, 3;
DROP TABLE jq_out;
PREPARE jq4(int[]) AS
  SELECT a.id, count(*), sum(b.w) FROM ja a JOIN jb b ON b.id = a.id
   WHERE b.id = ANY ($1) GROUP BY a.id;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE jq4('{20, 21}');
CREATE TEMP TABLE jq_out AS EXECUTE jq4('{20, 21, 22, 40, 60}');
SELECT * FROM jq_out ORDER BY 1;
DROP TABLE jq_out;
-- SEMI and ANTI: the outer side
PREPARE jq5(int[]) AS
  SELECT a.id, a.v FROM ja a
   WHERE a.id = ANY ($1) AND EXISTS (SELECT 1 FROM jb b WHERE b.id = a.id);
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE jq5('{20, 21}');
CREATE TEMP TABLE jq_out AS EXECUTE jq5('{20, 21, 22, 23, 24}');
SELECT * FROM jq_out ORDER BY 1;
DROP TABLE jq_out;
PREPARE jq6(int) AS
  SELECT a.id FROM ja a WHERE a.id = $1 AND NOT EXISTS (SELECT 1 FROM jb b WHERE b.id = a.id);
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE jq6(21);
EXECUTE jq6(21);
EXECUTE jq6(22);
-- a FULL join cannot take its shards from one side: every shard
PREPARE jq7(int) AS
  SELECT a.id AS a_id, b.id AS b_id
    FROM (SELECT * FROM ja WHERE id = $1) a FULL JOIN jb b ON b.id = a.id;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE jq7(21);
CREATE TEMP TABLE jq_out AS EXECUTE jq7(21);
SELECT count(*), count(a_id), count(b_id) FROM jq_out;
SELECT count(*), count(a.id), count(b.id)
  FROM (SELECT * FROM jloc.ja WHERE id = 21) a FULL JOIN jloc.jb b ON b.id = a.id;
DROP TABLE jq_out;
RESET plan_cache_mode;
DEALLOCATE jq1;
DEALLOCATE jq2;
DEALLOCATE jq3;
DEALLOCATE jq4;
DEALLOCATE jq5;
DEALLOCATE jq6;
DEALLOCATE jq7;
-- a pushed join in a correlated subquery: rescanned with a new value
-- each time (all shards, and a shard chosen at run time)
EXPLAIN (VERBOSE, COSTS OFF)
SELECT o.x, (SELECT count(*) FROM ja a JOIN jb b ON a.id = b.id WHERE a.g = o.x)
  FROM generate_series(0, 4) o(x);
SELECT jcmp('SELECT o.x, (SELECT count(*) FROM {s}.ja a JOIN {s}.jb b ON a.id = b.id WHERE a.g = o.x)
  FROM generate_series(0, 4) o(x)');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT o.x, (SELECT max(b.w) FROM ja a LEFT JOIN jb b ON a.id = b.id WHERE a.id = o.x)
  FROM generate_series(18, 24) o(x);
SELECT jcmp('SELECT o.x, (SELECT max(b.w) FROM {s}.ja a LEFT JOIN {s}.jb b ON a.id = b.id WHERE a.id = o.x)
  FROM generate_series(18, 24) o(x)');

-- ===================================================================
-- Joins that stay on the coordinator
-- ===================================================================
-- different distribution columns (jc's key is g)
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, c.u FROM ja a JOIN jc c ON c.id = a.id;
SELECT jcmp('SELECT a.id, c.u FROM {s}.ja a JOIN {s}.jc c ON c.id = a.id');
-- a join clause not on the keys
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, b.id FROM ja a JOIN jb b ON a.g = b.g;
SELECT jcmp('SELECT a.id, b.id FROM {s}.ja a JOIN {s}.jb b ON a.g = b.g');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id FROM ja a WHERE a.g IN (SELECT b.g FROM jb b WHERE b.w < 0);
SELECT jcmp('SELECT a.id FROM {s}.ja a WHERE a.g IN (SELECT b.g FROM {s}.jb b WHERE b.w < 0)');
-- the keys under an expression
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, b.w FROM ja a JOIN jb b ON b.id = a.id + 0;
SELECT jcmp('SELECT a.id, b.w FROM {s}.ja a JOIN {s}.jb b ON b.id = a.id + 0');
-- hash against modulo on the same key
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, m.g FROM ja a JOIN jm1 m ON m.id = a.id;
SELECT jcmp('SELECT a.id, m.g FROM {s}.ja a JOIN {s}.jm1 m ON m.id = a.id');
-- tables of different servers (the same shards behind them)
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, b.w FROM ja a JOIN jb_other b ON a.id = b.id;
SELECT a.id, b.w FROM ja a JOIN jb_other b ON a.id = b.id
EXCEPT ALL
SELECT a.id, b.w FROM jloc.ja a JOIN jloc.jb b ON a.id = b.id;
SELECT count(*) FROM ja a JOIN jb_other b ON a.id = b.id;
-- a table without distribution, joined with a distributed one
EXPLAIN (VERBOSE, COSTS OFF)
SELECT n.id, a.v FROM jn n JOIN ja a ON a.id = n.id;
SELECT jcmp('SELECT n.id, a.v FROM {s}.jn n JOIN {s}.ja a ON a.id = n.id');
-- a side with a condition the shards cannot evaluate
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, b.w FROM ja a JOIN jb b ON a.id = b.id WHERE jplus_one(a.g) = 2;
SELECT jcmp('SELECT a.id, b.w FROM {s}.ja a JOIN {s}.jb b ON a.id = b.id WHERE jplus_one(a.g) = 2');
-- an outer join clause the shards cannot evaluate
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, b.w FROM ja a LEFT JOIN jb b ON a.id = b.id AND b.g = jplus_one(a.g);
SELECT jcmp('SELECT a.id, b.w FROM {s}.ja a LEFT JOIN {s}.jb b ON a.id = b.id AND b.g = jplus_one(a.g)');
-- three tables co-located on the key: one pair on the shards, the third
-- joined here
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, b.w, e.g FROM ja a JOIN jb b ON b.id = a.id JOIN ja8 e ON e.id = a.id;
SELECT jcmp('SELECT a.id, b.w, e.g FROM {s}.ja a JOIN {s}.jb b ON b.id = a.id JOIN {s}.ja8 e ON e.id = a.id');

-- ===================================================================
-- Shapes once wrong
-- ===================================================================
-- ORDER BY over a SEMI join: the merge keys come from the outer side only
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id FROM ja a WHERE EXISTS (SELECT 1 FROM jb b WHERE b.id = a.id)
 ORDER BY a.id;
SELECT jcmp_ordered('SELECT a.id FROM {s}.ja a WHERE EXISTS (SELECT 1 FROM {s}.jb b WHERE b.id = a.id) ORDER BY a.id');
SELECT jcmp_ordered('SELECT a.id FROM {s}.ja a WHERE EXISTS (SELECT 1 FROM {s}.jb b WHERE b.id = a.id) ORDER BY a.id LIMIT 3');
SELECT jcmp_ordered('SELECT a.id, a.g FROM {s}.ja a WHERE EXISTS (SELECT 1 FROM {s}.jr r WHERE r.id = a.g) ORDER BY a.g, a.id');
-- both sides restricted to the shard of one parameter: pushed whole, for
-- any join type
SET plan_cache_mode = force_generic_plan;
PREPARE jq5(int) AS
  SELECT a.id, a.v, b.w FROM ja a JOIN jb b ON b.id = a.id WHERE a.id = $1
   ORDER BY b.w;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE jq5(20);
EXECUTE jq5(20);
SELECT a.id, a.v, b.w FROM jloc.ja a JOIN jloc.jb b ON b.id = a.id WHERE a.id = 20
 ORDER BY b.w;
EXECUTE jq5(NULL);
PREPARE jq6(int) AS
  SELECT a.id, b.id FROM ja a FULL JOIN jb b ON b.g = a.g
   WHERE a.id = $1 AND b.id = $1;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE jq6(20);
EXECUTE jq6(20);
SELECT a.id, b.id FROM jloc.ja a FULL JOIN jloc.jb b ON b.g = a.g
 WHERE a.id = 20 AND b.id = 20;
DEALLOCATE jq5;
DEALLOCATE jq6;
RESET plan_cache_mode;

-- clean up what this test created locally
DROP FOREIGN TABLE ja, jb, jc, ja8, jr, jr2, jm1, jm2, jn, jb_other;
DROP USER MAPPING FOR CURRENT_USER SERVER jother;
DROP SERVER jother;
DROP FUNCTION jplus_one(int), jcmp(text), jcmp_ordered(text);
DROP SCHEMA jloc CASCADE;
