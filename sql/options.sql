--
-- options: every option of shardfdw is checked when it is set, and every
-- rejection says what is wrong and what to do (errhint).
--
-- Uses the `cluster` server of init (shards shard0 .. shard3).  Servers
-- created here that must really connect read the instance's socket
-- directory and port at run time, so none appears in this output.
--
SELECT current_database() AS regdb \gset
\set VERBOSITY default

-- Helper views on every shard: which database answered, and which remote
-- statement was running when the row was produced (shows the FETCH size).
\c shard0
CREATE VIEW opt_whoami AS SELECT current_database()::text AS db;
CREATE VIEW opt_curq AS SELECT current_query() AS q;
GRANT SELECT ON opt_whoami, opt_curq TO PUBLIC;
\c shard1
CREATE VIEW opt_whoami AS SELECT current_database()::text AS db;
CREATE VIEW opt_curq AS SELECT current_query() AS q;
GRANT SELECT ON opt_whoami, opt_curq TO PUBLIC;
\c shard2
CREATE VIEW opt_whoami AS SELECT current_database()::text AS db;
CREATE VIEW opt_curq AS SELECT current_query() AS q;
GRANT SELECT ON opt_whoami, opt_curq TO PUBLIC;
\c shard3
CREATE VIEW opt_whoami AS SELECT current_database()::text AS db;
CREATE VIEW opt_curq AS SELECT current_query() AS q;
GRANT SELECT ON opt_whoami, opt_curq TO PUBLIC;
\c :regdb
\set VERBOSITY default

-- ================================================================ wrapper
-- The wrapper itself takes no options.
ALTER FOREIGN DATA WRAPPER shardfdw OPTIONS (fetch_size '10');

-- ================================================================ server
-- pN conninfos and libpq options given on the server are accepted.
CREATE SERVER opt_s1 FOREIGN DATA WRAPPER shardfdw OPTIONS (
    host 'db.example.com', port '5432', dbname 'app', connect_timeout '5',
    p0 'host=10.0.0.1 dbname=db0', p1 'host=10.0.0.2 dbname=db1',
    p2 'postgresql://10.0.0.3/db2', p3 '');
-- A server without any pN is a one-shard cluster.
CREATE SERVER opt_s2 FOREIGN DATA WRAPPER shardfdw OPTIONS (dbname 'app');
-- Every server-level option of shardfdw, with good values.
CREATE SERVER opt_s3 FOREIGN DATA WRAPPER shardfdw OPTIONS (
    p0 'dbname=a',
    fetch_size '500', use_remote_estimate 'true',
    fdw_startup_cost '25.5', fdw_tuple_cost '0', connection_lifetime '60',
    extensions 'plpgsql', keep_connections 'off');
SELECT srvname, array_to_string(srvoptions, ', ') AS options
  FROM pg_foreign_server WHERE srvname LIKE 'opt\_s_' ORDER BY srvname;

-- Unknown option: the hint lists the valid ones.
CREATE SERVER opt_bad FOREIGN DATA WRAPPER shardfdw OPTIONS (foo 'bar');
ALTER SERVER opt_s1 OPTIONS (ADD batch_sise '10');
-- libpq options shardfdw sets itself are not accepted either.
CREATE SERVER opt_bad FOREIGN DATA WRAPPER shardfdw OPTIONS (client_encoding 'latin1');
-- pN spelled with a leading zero is not a shard option.
CREATE SERVER opt_bad FOREIGN DATA WRAPPER shardfdw OPTIONS (p0 'dbname=a', p01 'dbname=b');
CREATE SERVER opt_bad FOREIGN DATA WRAPPER shardfdw OPTIONS (p4096 'dbname=a');

-- Gaps in the pN numbering.
CREATE SERVER opt_bad FOREIGN DATA WRAPPER shardfdw OPTIONS (p0 'dbname=a', p2 'dbname=c');
CREATE SERVER opt_bad FOREIGN DATA WRAPPER shardfdw OPTIONS (p1 'dbname=b');
ALTER SERVER opt_s1 OPTIONS (ADD p5 'dbname=db5');
ALTER SERVER opt_s1 OPTIONS (DROP p1);
-- Growing the cluster by the next number is fine.
ALTER SERVER opt_s1 OPTIONS (ADD p4 'dbname=db4');

-- Malformed conninfo in pN.
CREATE SERVER opt_bad FOREIGN DATA WRAPPER shardfdw OPTIONS (p0 'host=a dbname');
CREATE SERVER opt_bad FOREIGN DATA WRAPPER shardfdw OPTIONS (p0 'dbname=a bogus=1');
ALTER SERVER opt_s1 OPTIONS (SET p1 'dbname=''unterminated');
-- pN must not set what shardfdw sets itself.
CREATE SERVER opt_bad FOREIGN DATA WRAPPER shardfdw OPTIONS (p0 'dbname=a client_encoding=latin1');

-- Credentials belong in the user mapping, not on the server.
CREATE SERVER opt_bad FOREIGN DATA WRAPPER shardfdw OPTIONS (user 'app');
CREATE SERVER opt_bad FOREIGN DATA WRAPPER shardfdw OPTIONS (password 'secret');
CREATE SERVER opt_bad FOREIGN DATA WRAPPER shardfdw OPTIONS (p0 'dbname=a user=app');
CREATE SERVER opt_bad FOREIGN DATA WRAPPER shardfdw OPTIONS (p0 'dbname=a password=secret');
ALTER SERVER opt_s1 OPTIONS (SET p0 'host=10.0.0.1 dbname=db0 password=secret');

-- fetch_size: an integer >= 1.
ALTER SERVER opt_s1 OPTIONS (ADD fetch_size '0');
ALTER SERVER opt_s1 OPTIONS (ADD fetch_size '-10');
ALTER SERVER opt_s1 OPTIONS (ADD fetch_size 'many');
ALTER SERVER opt_s1 OPTIONS (ADD fetch_size '');
-- use_remote_estimate / keep_connections: booleans.
ALTER SERVER opt_s1 OPTIONS (ADD use_remote_estimate 'maybe');
ALTER SERVER opt_s1 OPTIONS (ADD keep_connections 'sometimes');
-- fdw_startup_cost / fdw_tuple_cost: non-negative numbers.
ALTER SERVER opt_s1 OPTIONS (ADD fdw_startup_cost '-1');
ALTER SERVER opt_s1 OPTIONS (ADD fdw_tuple_cost 'cheap');
-- connection_lifetime: an integer number of seconds >= 0.
ALTER SERVER opt_s1 OPTIONS (ADD connection_lifetime '-1');
ALTER SERVER opt_s1 OPTIONS (ADD connection_lifetime 'forever');
-- extensions: a list of names; an unknown one only warns (so dumps restore).
ALTER SERVER opt_s1 OPTIONS (ADD extensions 'plpgsql, no_such_extension');
ALTER SERVER opt_s1 OPTIONS (SET extensions '"unterminated');
-- Good values are accepted, and survive ALTER.
ALTER SERVER opt_s1 OPTIONS (SET extensions 'plpgsql', ADD fetch_size '1000',
    ADD use_remote_estimate 'off', ADD keep_connections 'on',
    ADD fdw_startup_cost '0', ADD fdw_tuple_cost '0.5',
    ADD connection_lifetime '0');
SELECT unnest(srvoptions) AS option
  FROM pg_foreign_server WHERE srvname = 'opt_s1' ORDER BY 1;

-- ================================================================ user mapping
CREATE USER MAPPING FOR CURRENT_USER SERVER opt_s1
    OPTIONS (user 'app', password 'secret', password_required 'true');
CREATE USER MAPPING FOR PUBLIC SERVER opt_s1 OPTIONS (fetch_size '10');
CREATE USER MAPPING FOR PUBLIC SERVER opt_s1 OPTIONS (host 'elsewhere');
ALTER USER MAPPING FOR CURRENT_USER SERVER opt_s1
    OPTIONS (SET password_required 'perhaps');
SELECT array_to_string(umoptions, ', ') AS options
  FROM pg_user_mappings WHERE srvname = 'opt_s1';

-- ================================================================ table
-- All table options, with good values.
CREATE FOREIGN TABLE opt_t1 (id int, val text) SERVER opt_s1
    OPTIONS (schema_name 'public', table_name 't', distribution 'hash',
             distribution_column 'id', fetch_size '50',
             use_remote_estimate 'true');
CREATE FOREIGN TABLE opt_t2 (k bigint, v text) SERVER opt_s1
    OPTIONS (distribution 'modulo', distribution_column 'k');
CREATE FOREIGN TABLE opt_t3 (k int, v text) SERVER opt_s1
    OPTIONS (distribution 'replicated');
CREATE FOREIGN TABLE opt_t4 (k int, v text) SERVER opt_s1;
-- distribution_column alone implies 'hash'.
CREATE FOREIGN TABLE opt_t5 (k uuid, v text) SERVER opt_s1
    OPTIONS (distribution_column 'k');
SELECT c.relname, array_to_string(ft.ftoptions, ', ') AS options
  FROM pg_foreign_table ft JOIN pg_class c ON c.oid = ft.ftrelid
 WHERE c.relname LIKE 'opt\_t_' ORDER BY c.relname;

-- Unknown table option: the hint lists the valid ones.
CREATE FOREIGN TABLE opt_bad (k int) SERVER opt_s1 OPTIONS (tablename 'x');
CREATE FOREIGN TABLE opt_bad (k int) SERVER opt_s1 OPTIONS (p0 'dbname=x');
-- Bad values.
CREATE FOREIGN TABLE opt_bad (k int) SERVER opt_s1 OPTIONS (distribution 'range');
CREATE FOREIGN TABLE opt_bad (k int) SERVER opt_s1 OPTIONS (fetch_size '0');
CREATE FOREIGN TABLE opt_bad (k int) SERVER opt_s1 OPTIONS (use_remote_estimate 'yesno');
CREATE FOREIGN TABLE opt_bad (k int) SERVER opt_s1 OPTIONS (table_name '');
CREATE FOREIGN TABLE opt_bad (k int) SERVER opt_s1 OPTIONS (distribution_column '');
-- 'hash' and 'modulo' need a distribution column; 'replicated' takes none.
CREATE FOREIGN TABLE opt_bad (k int) SERVER opt_s1 OPTIONS (distribution 'hash');
CREATE FOREIGN TABLE opt_bad (k int) SERVER opt_s1 OPTIONS (distribution 'modulo');
CREATE FOREIGN TABLE opt_bad (k int) SERVER opt_s1
    OPTIONS (distribution 'replicated', distribution_column 'k');
ALTER FOREIGN TABLE opt_t3 OPTIONS (ADD distribution_column 'k');
ALTER FOREIGN TABLE opt_t1 OPTIONS (DROP distribution_column);
-- distribution_column must name a column of the table ...
CREATE FOREIGN TABLE opt_bad (k int) SERVER opt_s1
    OPTIONS (distribution_column 'nope');
-- ... also when set later, or when the column would go away.
ALTER FOREIGN TABLE opt_t1 OPTIONS (SET distribution_column 'nope');
ALTER FOREIGN TABLE opt_t4 OPTIONS (ADD distribution_column 'nope');
ALTER FOREIGN TABLE opt_t1 DROP COLUMN id;
-- modulo needs an integer column.
CREATE FOREIGN TABLE opt_bad (k text) SERVER opt_s1
    OPTIONS (distribution 'modulo', distribution_column 'k');
ALTER FOREIGN TABLE opt_t2 ALTER COLUMN k TYPE text;
-- hash needs a hashable type.
CREATE FOREIGN TABLE opt_bad (k point) SERVER opt_s1
    OPTIONS (distribution_column 'k');
-- None of the rejected statements changed anything.
SELECT c.relname, array_to_string(ft.ftoptions, ', ') AS options
  FROM pg_foreign_table ft JOIN pg_class c ON c.oid = ft.ftrelid
 WHERE c.relname LIKE 'opt\_%' ORDER BY c.relname;
SELECT attname, format_type(atttypid, atttypmod) AS type
  FROM pg_attribute WHERE attrelid = 'opt_t2'::regclass AND attnum > 0
 ORDER BY attnum;

-- ================================================================ column
CREATE FOREIGN TABLE opt_t6 (k int OPTIONS (column_name 'id'), v text)
    SERVER opt_s1;
ALTER FOREIGN TABLE opt_t6 ALTER COLUMN v OPTIONS (ADD column_name 'val');
ALTER FOREIGN TABLE opt_t6 ALTER COLUMN v OPTIONS (SET column_name '');
ALTER FOREIGN TABLE opt_t6 ALTER COLUMN v OPTIONS (ADD colname 'val');
SELECT attname, array_to_string(attfdwoptions, ', ') AS options
  FROM pg_attribute WHERE attrelid = 'opt_t6'::regclass AND attnum > 0
 ORDER BY attnum;

-- ================================================================ in use
-- libpq options on the server are defaults for every shard; a pN
-- conninfo overrides them (p1 is empty: all defaults).
DO $$
BEGIN
  EXECUTE format(
    'CREATE SERVER opt_live FOREIGN DATA WRAPPER shardfdw OPTIONS ('
    ' host %L, port %L, dbname %L, p0 %L, p1 %L, p2 %L)',
    trim(split_part(current_setting('unix_socket_directories'), ',', 1)),
    current_setting('port'), 'shard2',
    'dbname=shard0', '', 'dbname=shard3');
  -- no pN at all: a one-shard cluster
  EXECUTE format(
    'CREATE SERVER opt_one FOREIGN DATA WRAPPER shardfdw OPTIONS ('
    ' host %L, port %L, dbname %L)',
    trim(split_part(current_setting('unix_socket_directories'), ',', 1)),
    current_setting('port'), 'shard1');
END
$$;
CREATE USER MAPPING FOR CURRENT_USER SERVER opt_live;
CREATE USER MAPPING FOR CURRENT_USER SERVER opt_one;
CREATE FOREIGN TABLE opt_live_who (db text) SERVER opt_live
    OPTIONS (table_name 'opt_whoami');
CREATE FOREIGN TABLE opt_one_who (db text) SERVER opt_one
    OPTIONS (table_name 'opt_whoami');
SELECT db FROM opt_live_who ORDER BY db;
SELECT db FROM opt_one_who ORDER BY db;
CREATE FOREIGN TABLE opt_one_t (id int, val text) SERVER opt_one
    OPTIONS (table_name 't', distribution_column 'id');
SELECT count(*) FROM opt_one_t;
SELECT shardfdw.shard_for('opt_one_t'::regclass, 42) AS shard;

-- fetch_size: 100 by default, the server's value overrides that, the
-- table's value overrides the server's.  The remote view reports the
-- statement it runs under: the FETCH of shardfdw's cursor (here, where the
-- scan is joined); the SELECT itself when the scan is alone in its
-- statement (no cursor, see scan.c).
CREATE FOREIGN TABLE opt_curq (q text) SERVER opt_one
    OPTIONS (table_name 'opt_curq');
SELECT regexp_replace(q, 'c[0-9]+', 'cN') AS remote_statement FROM opt_curq;
SELECT regexp_replace(q, 'c[0-9]+', 'cN') AS remote_statement FROM opt_curq, generate_series(1, 1);
ALTER SERVER opt_one OPTIONS (ADD fetch_size '7');
SELECT regexp_replace(q, 'c[0-9]+', 'cN') AS remote_statement FROM opt_curq, generate_series(1, 1);
ALTER FOREIGN TABLE opt_curq OPTIONS (ADD fetch_size '3');
SELECT regexp_replace(q, 'c[0-9]+', 'cN') AS remote_statement FROM opt_curq, generate_series(1, 1);
ALTER SERVER opt_one OPTIONS (DROP fetch_size);
ALTER FOREIGN TABLE opt_curq OPTIONS (DROP fetch_size);
SELECT regexp_replace(q, 'c[0-9]+', 'cN') AS remote_statement FROM opt_curq, generate_series(1, 1);

-- column_name maps a local column to a remote one.
CREATE FOREIGN TABLE opt_cols (k int OPTIONS (column_name 'id'),
                               v text OPTIONS (column_name 'val'))
    SERVER cluster OPTIONS (table_name 't', distribution_column 'k');
SELECT k, v FROM opt_cols WHERE k IN (1, 2, 99) ORDER BY k;

-- ================================================================ passwords
-- A non-superuser must authenticate with a password, as in postgres_fdw.
CREATE ROLE regress_shardfdw_user LOGIN;
GRANT USAGE ON FOREIGN SERVER cluster TO regress_shardfdw_user;
CREATE USER MAPPING FOR regress_shardfdw_user SERVER cluster
    OPTIONS (user 'regress_shardfdw_user');
CREATE FOREIGN TABLE opt_who (db text) SERVER cluster
    OPTIONS (table_name 'opt_whoami');
GRANT SELECT ON opt_who TO regress_shardfdw_user;
SET ROLE regress_shardfdw_user;
SELECT db FROM opt_who ORDER BY db;
-- ... and may not waive that for themselves.
ALTER USER MAPPING FOR regress_shardfdw_user SERVER cluster
    OPTIONS (ADD password_required 'false');
RESET ROLE;
-- With a password that the shard does not ask for (trust): still refused.
ALTER USER MAPPING FOR regress_shardfdw_user SERVER cluster
    OPTIONS (ADD password 'secret');
SET ROLE regress_shardfdw_user;
SELECT db FROM opt_who ORDER BY db;
RESET ROLE;
-- A superuser may waive it.
ALTER USER MAPPING FOR regress_shardfdw_user SERVER cluster
    OPTIONS (ADD password_required 'false');
SET ROLE regress_shardfdw_user;
SELECT db FROM opt_who ORDER BY db;
RESET ROLE;

-- ================================================================ cleanup
SELECT shardfdw.disconnect_all();
DROP FOREIGN TABLE opt_who, opt_cols;
DROP USER MAPPING FOR regress_shardfdw_user SERVER cluster;
REVOKE USAGE ON FOREIGN SERVER cluster FROM regress_shardfdw_user;
DROP ROLE regress_shardfdw_user;
SET client_min_messages = warning;
DROP SERVER opt_s1, opt_s2, opt_s3, opt_live, opt_one CASCADE;
RESET client_min_messages;
\c shard0
DROP VIEW opt_whoami, opt_curq;
\c shard1
DROP VIEW opt_whoami, opt_curq;
\c shard2
DROP VIEW opt_whoami, opt_curq;
\c shard3
DROP VIEW opt_whoami, opt_curq;
\c :regdb
