--
-- create_table: shardfdw.create_distributed_table(rel, server
-- [, distribution_column [, distribution]]) turns a local table into a
-- shardfdw foreign table in one step (the table created on every shard,
-- the rows moved there), and an ALTER SERVER that changes the number of
-- shards is refused while a hash or modulo table of the server has rows.
--
SELECT current_database() AS regdb \gset
\set VERBOSITY terse

CREATE SCHEMA cdt;
-- the remote schema must exist on the shards: it is not created for us
SELECT * FROM shardfdw.run_on_shards('cluster', 'CREATE SCHEMA cdt');

-- hash: columns (a dropped one), collation, NOT NULL, defaults, primary
-- key, unique, check, another index, privileges; 40 rows moved
CREATE TABLE cdt.users (
  id int PRIMARY KEY,
  name text COLLATE "C" NOT NULL,
  gone int,
  score numeric(10,2) DEFAULT 0 CHECK (score >= 0),
  joined date DEFAULT '2020-01-01',
  UNIQUE (name, id));
ALTER TABLE cdt.users DROP COLUMN gone;
CREATE INDEX users_joined ON cdt.users (joined DESC);
INSERT INTO cdt.users SELECT g, 'user ' || g, g FROM generate_series(1, 40) g;
GRANT SELECT ON cdt.users TO PUBLIC;
SELECT shardfdw.create_distributed_table('cdt.users', 'cluster', 'id');
\d cdt.users
SELECT relkind, has_table_privilege('public', oid, 'SELECT') AS public_may_read
  FROM pg_class WHERE oid = 'cdt.users'::regclass;
SELECT count(*), sum(id), sum(score), min(joined) FROM cdt.users;
-- the coordinator computes the defaults
INSERT INTO cdt.users (id, name) VALUES (41, 'user 41');
SELECT * FROM cdt.users WHERE id = 41;
-- where the rows are, by shard_for, and on each shard read directly: the
-- same counts, and every row on the shard PARTITION BY HASH gives it (the
-- shard's number is the last character of its database's name)
SELECT shardfdw.shard_for('cdt.users', id) AS shard, count(*)
  FROM cdt.users GROUP BY 1 ORDER BY 1;
SELECT shard, rows FROM shardfdw.run_on_shards('cluster', 'SELECT 1 FROM cdt.users');
SELECT shard, rows AS misplaced FROM shardfdw.run_on_shards('cluster',
  $$SELECT 1 FROM cdt.users WHERE NOT satisfies_hash_partition(
      'placement_probe'::regclass, 4, right(current_database(), 1)::int, id)$$);
\c shard0
\d cdt.users
\c :regdb
\set VERBOSITY terse
-- the shards' tables were created in one two-phase commit: nothing left
SELECT count(*) AS prepared_left FROM pg_prepared_xacts;

-- replicated: every shard has every row
CREATE TABLE cdt.small (k text PRIMARY KEY, v int NOT NULL);
INSERT INTO cdt.small VALUES ('a', 1), ('b', 2), ('c', 3);
SELECT shardfdw.create_distributed_table('cdt.small', 'cluster',
                                         distribution => 'replicated');
SELECT * FROM shardfdw.run_on_shards('cluster', 'SELECT * FROM cdt.small');
SELECT * FROM cdt.small ORDER BY k;

-- modulo, with a serial column: its sequence stays, owned by the new
-- foreign table, and goes on counting
CREATE TABLE cdt.events (id serial PRIMARY KEY, what text);
INSERT INTO cdt.events (what) VALUES ('a'), ('b'), ('c');
SELECT shardfdw.create_distributed_table('cdt.events', 'cluster', 'id', 'modulo');
INSERT INTO cdt.events (what) VALUES ('d');
SELECT id, what, shardfdw.shard_for('cdt.events', id) AS shard
  FROM cdt.events ORDER BY id;
SELECT pg_get_serial_sequence('cdt.events', 'id') AS owned_sequence;

-- no distribution column: 'none', allowed for an empty table only
CREATE TABLE cdt.notes (msg text);
SELECT shardfdw.create_distributed_table('cdt.notes', 'cluster');
CREATE TABLE cdt.notes2 (msg text);
INSERT INTO cdt.notes2 VALUES ('x');
SELECT shardfdw.create_distributed_table('cdt.notes2', 'cluster');
SELECT * FROM shardfdw.tables() WHERE table_name::text LIKE 'cdt.%' ORDER BY 1;

-- refused, with nothing done anywhere
CREATE FOREIGN DATA WRAPPER cdt_dummy;
CREATE SERVER cdt_other FOREIGN DATA WRAPPER cdt_dummy;
SELECT shardfdw.create_distributed_table('cdt.notes2', 'cdt_other');
SELECT shardfdw.create_distributed_table('cdt.notes2', 'no_such_server');
SELECT shardfdw.create_distributed_table(NULL, 'cluster');
CREATE TABLE cdt.parted (id int) PARTITION BY HASH (id);
SELECT shardfdw.create_distributed_table('cdt.parted', 'cluster', 'id');
CREATE TABLE cdt.part0 PARTITION OF cdt.parted FOR VALUES WITH (MODULUS 2, REMAINDER 0);
SELECT shardfdw.create_distributed_table('cdt.part0', 'cluster', 'id');
CREATE TABLE cdt.child () INHERITS (cdt.notes2);
SELECT shardfdw.create_distributed_table('cdt.child', 'cluster');
CREATE TEMP TABLE cdt_temp (id int);
SELECT shardfdw.create_distributed_table('cdt_temp', 'cluster', 'id');
CREATE VIEW cdt.v AS SELECT 1 AS id;
SELECT shardfdw.create_distributed_table('cdt.v', 'cluster', 'id');
CREATE TABLE cdt.uniq (id int, email text UNIQUE);
SELECT shardfdw.create_distributed_table('cdt.uniq', 'cluster', 'id');
SELECT shardfdw.create_distributed_table('cdt.uniq', 'cluster', 'id', 'modulo');
-- (replicated: every shard holds every row, so it can be enforced)
SELECT shardfdw.create_distributed_table('cdt.uniq', 'cluster', distribution => 'replicated');
CREATE TABLE cdt.uidx (id int, email text);
CREATE UNIQUE INDEX uidx_email ON cdt.uidx (email) INCLUDE (id);
SELECT shardfdw.create_distributed_table('cdt.uidx', 'cluster', 'id');
CREATE TABLE cdt.fk_target (email text PRIMARY KEY);
CREATE TABLE cdt.fk (id int, email text REFERENCES cdt.fk_target (email));
SELECT shardfdw.create_distributed_table('cdt.fk', 'cluster', 'id');
CREATE TABLE cdt.excl (id int, during int4range, EXCLUDE USING gist (during WITH &&));
SELECT shardfdw.create_distributed_table('cdt.excl', 'cluster', 'id');
CREATE TABLE cdt.ident (id int GENERATED ALWAYS AS IDENTITY, v int);
SELECT shardfdw.create_distributed_table('cdt.ident', 'cluster', 'id');
CREATE TABLE cdt.gen (id int, twice int GENERATED ALWAYS AS (id * 2) STORED);
SELECT shardfdw.create_distributed_table('cdt.gen', 'cluster', 'id');
SELECT shardfdw.create_distributed_table('cdt.gen', 'cluster', 'nope');
SELECT shardfdw.create_distributed_table('cdt.gen', 'cluster', NULL, 'modulo');
SELECT shardfdw.create_distributed_table('cdt.gen', 'cluster', 'id', 'random');
SELECT shardfdw.create_distributed_table('cdt.gen', 'cluster', 'id', 'replicated');
-- not the owner (and EXECUTE is not granted to PUBLIC)
SELECT has_function_privilege('public',
       'shardfdw.create_distributed_table(regclass, name, name, text)',
       'EXECUTE') AS public_may_run;
CREATE ROLE cdt_other_role;
GRANT EXECUTE ON FUNCTION shardfdw.create_distributed_table(regclass, name, name, text)
  TO cdt_other_role;
GRANT USAGE ON SCHEMA cdt, shardfdw TO cdt_other_role;
SET ROLE cdt_other_role;
SELECT shardfdw.create_distributed_table('cdt.notes2', 'cluster');
RESET ROLE;
-- none of these left a table on any shard
SELECT * FROM shardfdw.run_on_shards('cluster',
  $$SELECT 1 FROM pg_tables WHERE schemaname = 'cdt'
     AND tablename IN ('notes2', 'parted', 'part0', 'child', 'uidx', 'fk', 'excl', 'ident', 'gen')$$);

-- a shard's error (the table exists already on shard2): its SQLSTATE,
-- and everything is rolled back, the local table and its rows kept
\c shard2
CREATE TABLE cdt.clash (id int);
\c :regdb
\set VERBOSITY terse
CREATE TABLE cdt.clash (id int PRIMARY KEY, v text);
INSERT INTO cdt.clash SELECT g, 'v' FROM generate_series(1, 10) g;
DO $$
BEGIN
  PERFORM shardfdw.create_distributed_table('cdt.clash', 'cluster', 'id');
EXCEPTION WHEN duplicate_table THEN
  RAISE NOTICE 'duplicate_table: %', SQLERRM;
END
$$;
SELECT relkind, (SELECT count(*) FROM cdt.clash) AS rows
  FROM pg_class WHERE oid = 'cdt.clash'::regclass;
SELECT * FROM shardfdw.run_on_shards('cluster',
  $$SELECT 1 FROM pg_tables WHERE schemaname = 'cdt' AND tablename = 'clash'$$);
SELECT count(*) AS prepared_left FROM pg_prepared_xacts;
-- a schema the shards do not have: their error
CREATE SCHEMA cdt_local;
CREATE TABLE cdt_local.t (id int);
SELECT shardfdw.create_distributed_table('cdt_local.t', 'cluster', 'id');
SELECT relkind FROM pg_class WHERE oid = 'cdt_local.t'::regclass;
-- an error after the shards did their part and the rows moved (DROP TABLE
-- refused: a view depends on the table) rolls back the shards too
CREATE TABLE cdt.viewed (id int);
INSERT INTO cdt.viewed VALUES (1), (2);
CREATE VIEW cdt.viewed_v AS SELECT * FROM cdt.viewed;
SELECT shardfdw.create_distributed_table('cdt.viewed', 'cluster', 'id');
SELECT relkind, (SELECT count(*) FROM cdt.viewed) AS rows
  FROM pg_class WHERE oid = 'cdt.viewed'::regclass;
SELECT * FROM shardfdw.run_on_shards('cluster',
  $$SELECT 1 FROM pg_tables WHERE schemaname = 'cdt' AND tablename = 'viewed'$$);

--
-- Changing the number of shards by hand.  A server of its own, with the
-- options of `cluster` (the same four shard databases), so that only these
-- tables count.
--
DO $$
BEGIN
  EXECUTE (SELECT format('CREATE SERVER cdt_srv FOREIGN DATA WRAPPER shardfdw'
                         ' OPTIONS (%s)',
                         string_agg(format('%I %L', split_part(o, '=', 1),
                                           substr(o, strpos(o, '=') + 1)), ', '))
             FROM pg_foreign_server, unnest(srvoptions) o
            WHERE srvname = 'cluster');
END
$$;
CREATE USER MAPPING FOR CURRENT_USER SERVER cdt_srv;
-- a hash table with rows, an empty hash table, a replicated one with rows
CREATE FOREIGN TABLE cdt.srv_users (id int, name text) SERVER cdt_srv
  OPTIONS (schema_name 'cdt', table_name 'users', distribution_column 'id');
SELECT * FROM shardfdw.run_on_shards('cluster', 'CREATE TABLE cdt.empty (id int)');
CREATE FOREIGN TABLE cdt.srv_empty (id int) SERVER cdt_srv
  OPTIONS (schema_name 'cdt', table_name 'empty', distribution_column 'id',
           distribution 'modulo');
CREATE FOREIGN TABLE cdt.srv_small (k text, v int) SERVER cdt_srv
  OPTIONS (schema_name 'cdt', table_name 'small', distribution 'replicated');
\set VERBOSITY default
ALTER SERVER cdt_srv OPTIONS (ADD p4 'dbname=shard0');
\set VERBOSITY terse
-- the shard count unchanged: no check
ALTER SERVER cdt_srv OPTIONS (SET p3 'dbname=shard3', ADD fetch_size '50');
-- the table with rows gone: the empty hash table and the replicated one
-- do not block (back to 4 is allowed too)
DROP FOREIGN TABLE cdt.srv_users;
ALTER SERVER cdt_srv OPTIONS (ADD p4 'dbname=shard0');
SELECT count(*) AS options_p FROM pg_foreign_server, unnest(srvoptions) o
 WHERE srvname = 'cdt_srv' AND o ~ '^p[0-9]+=';
ALTER SERVER cdt_srv OPTIONS (DROP p4);
-- a row in the modulo table blocks; only the replicated table: allowed
INSERT INTO cdt.srv_empty VALUES (7);
ALTER SERVER cdt_srv OPTIONS (ADD p4 'dbname=shard0');
DROP FOREIGN TABLE cdt.srv_empty;
ALTER SERVER cdt_srv OPTIONS (ADD p4 'dbname=shard0');
ALTER SERVER cdt_srv OPTIONS (DROP p4);
-- a shard that does not answer: emptiness cannot be shown, refused
CREATE SERVER cdt_bad FOREIGN DATA WRAPPER shardfdw OPTIONS (
  p0 'host=/nonexistent dbname=x', connect_timeout '2');
CREATE USER MAPPING FOR CURRENT_USER SERVER cdt_bad;
CREATE FOREIGN TABLE cdt.bad_t (id int) SERVER cdt_bad
  OPTIONS (distribution_column 'id');
ALTER SERVER cdt_bad OPTIONS (ADD p1 'host=/nonexistent dbname=y');
-- (the detail names the shard; libpq's message after the colon is cut)
DO $$
DECLARE
  detail text;
BEGIN
  ALTER SERVER cdt_bad OPTIONS (ADD p1 'host=/nonexistent dbname=y');
EXCEPTION WHEN object_not_in_prerequisite_state THEN
  GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
  RAISE NOTICE '%', split_part(detail, ':', 1);
END
$$;

-- cleanup
DROP SERVER cdt_bad CASCADE;
DROP SERVER cdt_srv CASCADE;
DROP SERVER cdt_other;
DROP FOREIGN DATA WRAPPER cdt_dummy;
DROP SCHEMA cdt, cdt_local CASCADE;
REVOKE ALL ON FUNCTION shardfdw.create_distributed_table(regclass, name, name, text)
  FROM cdt_other_role;
REVOKE ALL ON SCHEMA shardfdw FROM cdt_other_role;
DROP ROLE cdt_other_role;
SELECT * FROM shardfdw.run_on_shards('cluster', 'DROP SCHEMA cdt CASCADE');
