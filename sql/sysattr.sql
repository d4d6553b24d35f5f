--
-- sysattr: system columns and whole-row references.
--
--   - whole-row references work in scans, in pushed-down ORDER BY / LIMIT
--     and in pushed-down joins (ROW() on the shards, NULL for a
--     NULL-extended side of an outer join);
--   - ctid is the row's ctid on its shard.  On a one-shard server it means
--     what it means in postgres_fdw, conditions included.  On several
--     shards a ctid identifies a row only within one shard, so a condition
--     on ctid is refused unless the scan reads one shard;
--   - tableoid is the foreign table's OID; xmin, xmax and cmin read 0.
--
-- Uses the fixture of init (server `cluster`, shards shard0 .. shard3,
-- table t(id, val) with ids 1..100 placed by hash).
--
SELECT current_database() AS regdb \gset
\set VERBOSITY terse

SELECT $sql$
CREATE TABLE sa (id int, a int, b text);
INSERT INTO sa SELECT g, g % 3, 'b' || g FROM generate_series(1, 12) g
 WHERE satisfies_hash_partition('placement_probe'::regclass, 4,
                                substr(current_database(), 6)::int, g);
INSERT INTO sa SELECT 13, NULL, NULL
 WHERE satisfies_hash_partition('placement_probe'::regclass, 4,
                                substr(current_database(), 6)::int, 13);
CREATE TABLE sb (id int, c text);
INSERT INTO sb SELECT g, 'c' || g FROM generate_series(5, 20) g
 WHERE satisfies_hash_partition('placement_probe'::regclass, 4,
                                substr(current_database(), 6)::int, g);
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

CREATE FOREIGN TABLE sa (id int, a int, b text) SERVER cluster
  OPTIONS (distribution_column 'id');
CREATE FOREIGN TABLE sb (id int, c text) SERVER cluster
  OPTIONS (distribution_column 'id');
DO $$
BEGIN
  EXECUTE format('CREATE SERVER one FOREIGN DATA WRAPPER shardfdw OPTIONS (host %L, port %L, dbname %L)',
    trim(split_part(current_setting('unix_socket_directories'), ',', 1)),
    current_setting('port'), 'shard0');
END $$;
CREATE USER MAPPING FOR CURRENT_USER SERVER one;
CREATE FOREIGN TABLE sa_one (id int, a int, b text) SERVER one
  OPTIONS (table_name 'sa');

-- whole-row references
SELECT t FROM sa t ORDER BY id;
SELECT t FROM sa t ORDER BY id LIMIT 3;
EXPLAIN (VERBOSE, COSTS OFF) SELECT t FROM sa t ORDER BY id LIMIT 3;
SELECT t.*, t IS NULL AS isnull FROM sa t WHERE id = 13;
SELECT sb, sa FROM sb LEFT JOIN sa ON sa.id = sb.id ORDER BY sb.id;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT sb, sa FROM sb LEFT JOIN sa ON sa.id = sb.id ORDER BY sb.id;
SELECT sa, sb.id FROM sa FULL JOIN sb ON sa.id = sb.id
 WHERE sa IS NULL OR sb IS NULL ORDER BY sa.id, sb.id;
SELECT count(*) FROM sa WHERE sa = ROW(4, 1, 'b4')::sa;
SELECT row_to_json(sa) FROM sa WHERE id < 3 ORDER BY id;

-- system columns
SELECT tableoid::regclass, xmin, xmax, cmin, id FROM sa WHERE id < 4 ORDER BY id;
-- (a header column only in a local qual, the row's values in the slot)
SELECT id, b FROM sa WHERE xmin::text = '0' AND cmax::text = '0' AND id < 3 ORDER BY id;
SELECT ctid IS NOT NULL AS has_ctid, count(*) FROM sa GROUP BY 1;
SELECT sa.ctid = s.ctid AS same FROM sa JOIN sa s USING (id) WHERE id = 7;
SELECT sa.tableoid::regclass, sb.tableoid::regclass, sb.id
  FROM sb LEFT JOIN sa ON sa.id = sb.id AND sa.id < 7 ORDER BY sb.id LIMIT 3;
-- a one-shard server: ctid conditions are shipped, as with postgres_fdw
EXPLAIN (VERBOSE, COSTS OFF) SELECT ctid, * FROM sa_one WHERE ctid = '(0,2)';
SELECT (SELECT id FROM sa_one WHERE ctid = s.ctid) = s.id AS found
  FROM sa_one s ORDER BY id;
-- several shards: one key picks one shard, then ctid is unambiguous
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM sa WHERE ctid = '(0,1)' AND id = 5;
SELECT (SELECT count(*) FROM sa WHERE id = s.id AND ctid = s.ctid) AS n
  FROM sa s WHERE id = 5;
PREPARE pc(int, tid) AS SELECT id FROM sa WHERE id = $1 AND ctid = $2;
SELECT ctid AS c5 FROM sa WHERE id = 5 \gset
EXECUTE pc(5, :'c5');
DEALLOCATE pc;
-- ... otherwise a ctid condition is refused
SELECT id FROM sa WHERE ctid = '(0,1)';
SELECT count(*) FROM sa WHERE ctid > '(0,0)';
SELECT id FROM sa WHERE ctid = '(0,1)' AND id IN (1, 2);
SELECT sa.id FROM sa JOIN sb ON sa.id = sb.id WHERE sa.ctid = '(0,1)';

DROP FOREIGN TABLE sa, sb, sa_one;
DROP SERVER one CASCADE;
