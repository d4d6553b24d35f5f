--
-- init: the cluster every pg_regress test of shardfdw uses.
--
-- pg_regress runs against one temporary instance (--temp-instance) and has
-- already done CREATE EXTENSION shardfdw (--load-extension).  The four
-- shards are databases shard0 .. shard3 of that same instance; the server
-- `cluster` reaches them through the instance's own socket directory and
-- port, read at run time so that no port or path appears in this output.
-- Later tests \c to :regdb (the regression database) and may use
-- shard0 .. shard3 directly to check what landed where.
--
SELECT current_database() AS regdb \gset
\set VERBOSITY terse

SELECT extname, extnamespace::regnamespace AS schema, extversion
  FROM pg_extension WHERE extname = 'shardfdw';

CREATE DATABASE shard0;
CREATE DATABASE shard1;
CREATE DATABASE shard2;
CREATE DATABASE shard3;

DO $$
BEGIN
  EXECUTE format(
    'CREATE SERVER cluster FOREIGN DATA WRAPPER shardfdw OPTIONS ('
    ' host %L, port %L,'
    ' p0 %L, p1 %L, p2 %L, p3 %L)',
    trim(split_part(current_setting('unix_socket_directories'), ',', 1)),
    current_setting('port'),
    'dbname=shard0', 'dbname=shard1', 'dbname=shard2', 'dbname=shard3');
END
$$;
CREATE USER MAPPING FOR CURRENT_USER SERVER cluster;

SELECT srvname, fdwname
  FROM pg_foreign_server s JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw;
SELECT array_agg(opt ORDER BY opt) AS shard_options
  FROM pg_foreign_server, unnest(srvoptions) AS opt
 WHERE srvname = 'cluster' AND opt ~ '^p[0-9]+=';

-- A small table t(id, val) with ids 1..100, each row on the shard that
-- PostgreSQL's own PARTITION BY HASH (id) ... MODULUS 4 gives it: the
-- placement shardfdw's default `hash` distribution must agree with.
-- placement_probe is only there to give satisfies_hash_partition() a
-- hash-partitioned parent to look at; it is kept so that later tests can
-- check placement on a shard the same way.  Per-shard row counts are fixed
-- by PostgreSQL's hash function for int4 (they add up to 100).
\c shard0
CREATE TABLE placement_probe (id int) PARTITION BY HASH (id);
CREATE TABLE t (id int PRIMARY KEY, val text);
INSERT INTO t SELECT g, 'val ' || g FROM generate_series(1, 100) g
 WHERE satisfies_hash_partition('placement_probe'::regclass, 4, 0, g);
SELECT count(*) AS rows_on_shard0 FROM t;
\c shard1
CREATE TABLE placement_probe (id int) PARTITION BY HASH (id);
CREATE TABLE t (id int PRIMARY KEY, val text);
INSERT INTO t SELECT g, 'val ' || g FROM generate_series(1, 100) g
 WHERE satisfies_hash_partition('placement_probe'::regclass, 4, 1, g);
SELECT count(*) AS rows_on_shard1 FROM t;
\c shard2
CREATE TABLE placement_probe (id int) PARTITION BY HASH (id);
CREATE TABLE t (id int PRIMARY KEY, val text);
INSERT INTO t SELECT g, 'val ' || g FROM generate_series(1, 100) g
 WHERE satisfies_hash_partition('placement_probe'::regclass, 4, 2, g);
SELECT count(*) AS rows_on_shard2 FROM t;
\c shard3
CREATE TABLE placement_probe (id int) PARTITION BY HASH (id);
CREATE TABLE t (id int PRIMARY KEY, val text);
INSERT INTO t SELECT g, 'val ' || g FROM generate_series(1, 100) g
 WHERE satisfies_hash_partition('placement_probe'::regclass, 4, 3, g);
SELECT count(*) AS rows_on_shard3 FROM t;
\c :regdb
