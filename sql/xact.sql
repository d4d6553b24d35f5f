--
-- xact: remote transactions and the connection cache.
--
-- A shard's remote transaction starts with the first statement of the
-- local transaction that touches it (REPEATABLE READ, or SERIALIZABLE when
-- the local one is), local savepoints are mirrored on the shards, and the
-- remote transactions end with the local one.  Connections are cached per
-- (user mapping, shard) for the session.
--
-- Nothing here may show a port, a socket path or a backend PID: errors
-- whose text names the shard's host and port are caught in PL/pgSQL and
-- normalized; PIDs are only compared.
--
SELECT current_database() AS regdb \gset
\set VERBOSITY terse

-- On every shard: a view telling who answers, in which remote session and
-- transaction, with which session settings; and a small table for the
-- snapshot test (not on shard2: a "missing table" error on one shard).
\c shard0
CREATE VIEW xact_info AS
  SELECT current_database()::text AS db, pg_backend_pid() AS pid,
         current_setting('transaction_isolation') AS iso,
         now() AS xact_start,
         current_setting('search_path') AS search_path,
         current_setting('DateStyle') AS datestyle,
         current_setting('IntervalStyle') AS intervalstyle,
         current_setting('TimeZone') AS timezone,
         current_setting('extra_float_digits') AS extra_float_digits,
         timestamptz '2020-01-02 03:04:05+00' AS ts,
         interval '1 day 02:03:04' AS iv,
         0.1::float8 AS f;
CREATE TABLE xact_rr (k int);
CREATE TABLE xact_partial (a int);
\c shard1
CREATE VIEW xact_info AS
  SELECT current_database()::text AS db, pg_backend_pid() AS pid,
         current_setting('transaction_isolation') AS iso,
         now() AS xact_start,
         current_setting('search_path') AS search_path,
         current_setting('DateStyle') AS datestyle,
         current_setting('IntervalStyle') AS intervalstyle,
         current_setting('TimeZone') AS timezone,
         current_setting('extra_float_digits') AS extra_float_digits,
         timestamptz '2020-01-02 03:04:05+00' AS ts,
         interval '1 day 02:03:04' AS iv,
         0.1::float8 AS f;
CREATE TABLE xact_partial (a int);
\c shard2
CREATE VIEW xact_info AS
  SELECT current_database()::text AS db, pg_backend_pid() AS pid,
         current_setting('transaction_isolation') AS iso,
         now() AS xact_start,
         current_setting('search_path') AS search_path,
         current_setting('DateStyle') AS datestyle,
         current_setting('IntervalStyle') AS intervalstyle,
         current_setting('TimeZone') AS timezone,
         current_setting('extra_float_digits') AS extra_float_digits,
         timestamptz '2020-01-02 03:04:05+00' AS ts,
         interval '1 day 02:03:04' AS iv,
         0.1::float8 AS f;
\c shard3
CREATE VIEW xact_info AS
  SELECT current_database()::text AS db, pg_backend_pid() AS pid,
         current_setting('transaction_isolation') AS iso,
         now() AS xact_start,
         current_setting('search_path') AS search_path,
         current_setting('DateStyle') AS datestyle,
         current_setting('IntervalStyle') AS intervalstyle,
         current_setting('TimeZone') AS timezone,
         current_setting('extra_float_digits') AS extra_float_digits,
         timestamptz '2020-01-02 03:04:05+00' AS ts,
         interval '1 day 02:03:04' AS iv,
         0.1::float8 AS f;
CREATE TABLE xact_partial (a int);
\c :regdb
\set VERBOSITY terse

CREATE FOREIGN TABLE t (id int, val text) SERVER cluster
    OPTIONS (distribution_column 'id');
CREATE FOREIGN TABLE xact_info (db text, pid int, iso text,
    xact_start timestamptz, search_path text, datestyle text,
    intervalstyle text, timezone text, extra_float_digits text,
    ts timestamptz, iv interval, f float8) SERVER cluster;
-- xact_rr lives on shard0 only: a one-shard server for it.
DO $$
BEGIN
  EXECUTE format(
    'CREATE SERVER xact_one FOREIGN DATA WRAPPER shardfdw OPTIONS ('
    ' host %L, port %L, dbname %L)',
    trim(split_part(current_setting('unix_socket_directories'), ',', 1)),
    current_setting('port'), 'shard0');
END
$$;
CREATE USER MAPPING FOR CURRENT_USER SERVER xact_one;
CREATE FOREIGN TABLE xact_rr (k int) SERVER xact_one;
CREATE FOREIGN TABLE xact_partial (a int) SERVER cluster;

-- connections(), without host/port/user (those depend on the instance).
CREATE VIEW conns AS
  SELECT server_name, shard, in_transaction, valid,
         host <> '' AS has_host, port ~ '^[0-9]+$' AS has_port
    FROM shardfdw.connections() ORDER BY server_name, shard;

-- Remembers the remote backend of every shard, to tell whether a later
-- statement ran on the same connections.
CREATE TABLE saved_pids (db text PRIMARY KEY, pid int);
CREATE FUNCTION save_pids() RETURNS void LANGUAGE sql AS $$
  DELETE FROM saved_pids;
  INSERT INTO saved_pids SELECT db, pid FROM xact_info;
$$;
CREATE FUNCTION same_pids() RETURNS TABLE (db text, same_backend bool)
LANGUAGE sql AS $$
  SELECT i.db, i.pid = s.pid FROM xact_info i JOIN saved_pids s USING (db)
   ORDER BY i.db
$$;

-- Runs a statement, and shows the error it raises with the shard's host
-- and port (and cursor numbers) normalized.
CREATE FUNCTION show_error(sql text) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
  st text; msg text; det text; ctx text;
BEGIN
  EXECUTE sql;
  RETURN NEXT 'no error';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                          det = PG_EXCEPTION_DETAIL, ctx = PG_EXCEPTION_CONTEXT;
  RETURN NEXT 'SQLSTATE: ' || st;
  RETURN NEXT 'MESSAGE: ' || regexp_replace(msg, 'host=[^,]*, port=[0-9]+',
                                            'host=HOST, port=PORT', 'g');
  RETURN QUERY
    SELECT 'CONTEXT: ' || regexp_replace(regexp_replace(line,
             'host=[^,]*, port=[0-9]+', 'host=HOST, port=PORT', 'g'),
             '\mc[0-9]+\M', 'cN', 'g')
      FROM regexp_split_to_table(ctx, E'\n') AS line;
END
$$;

-- ================================================================ connections
SELECT * FROM conns;
SELECT shardfdw.disconnect_all();
SELECT count(*) FROM t;
-- one connection per shard, idle between statements
SELECT * FROM conns;
BEGIN;
SELECT val FROM t WHERE id = 5;
-- only the shard that holds id 5 is in the transaction
SELECT * FROM conns;
SELECT count(*) FROM t;
SELECT * FROM conns;
-- connections in use by the transaction are not closed (WARNING 55006)
\set VERBOSITY sqlstate
SELECT shardfdw.disconnect_all();
\set VERBOSITY terse
SELECT * FROM conns;
COMMIT;
SELECT * FROM conns;
SELECT shardfdw.disconnect_all();
SELECT * FROM conns;
SELECT shardfdw.disconnect_all();

-- ================================================================ isolation
-- The remote transaction is REPEATABLE READ for every local level below
-- SERIALIZABLE, and SERIALIZABLE when the local one is.
SELECT db, iso FROM xact_info ORDER BY db;
BEGIN ISOLATION LEVEL READ COMMITTED;
SELECT db, iso FROM xact_info ORDER BY db;
COMMIT;
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT db, iso FROM xact_info ORDER BY db;
COMMIT;
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT db, iso FROM xact_info ORDER BY db;
COMMIT;
-- a connection whose last transaction was SERIALIZABLE goes back to
-- REPEATABLE READ
SELECT db, iso FROM xact_info ORDER BY db;

-- One remote transaction per local transaction: the remote now() stays
-- the same across statements of one local transaction ...
BEGIN;
SELECT xact_start AS start1 FROM xact_info WHERE db = 'shard1' \gset
SELECT pg_sleep(0.02);
SELECT xact_start = :'start1' AS same_remote_xact FROM xact_info
 WHERE db = 'shard1';
COMMIT;
-- ... and changes from one local transaction to the next.
SELECT xact_start AS start1 FROM xact_info WHERE db = 'shard1' \gset
SELECT pg_sleep(0.02);
SELECT xact_start = :'start1' AS same_remote_xact FROM xact_info
 WHERE db = 'shard1';

-- The snapshot: a row committed on the shard by another session during
-- the local transaction is not seen by it, and is seen after.
CREATE EXTENSION dblink;
SELECT format('dbname=shard0 host=%s port=%s',
    trim(split_part(current_setting('unix_socket_directories'), ',', 1)),
    current_setting('port')) AS shard0_conninfo \gset
BEGIN;
SELECT count(*) FROM xact_rr;
SELECT dblink_exec(:'shard0_conninfo', 'INSERT INTO xact_rr VALUES (1)');
SELECT count(*) FROM xact_rr;
COMMIT;
SELECT count(*) FROM xact_rr;
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT count(*) FROM xact_rr;
SELECT dblink_exec(:'shard0_conninfo', 'INSERT INTO xact_rr VALUES (2)');
SELECT count(*) FROM xact_rr;
COMMIT;
SELECT count(*) FROM xact_rr;
DROP EXTENSION dblink;

-- ================================================================ settings
-- The remote session has fixed settings, whatever the local ones are, and
-- values are converted correctly between the two.
SET DateStyle = 'SQL, DMY';
SET IntervalStyle = 'sql_standard';
SET TimeZone = 'Asia/Tokyo';
SET extra_float_digits = 0;
SET search_path = public, pg_catalog;
SELECT db, search_path, split_part(datestyle, ',', 1) AS datestyle,
       intervalstyle, timezone,
       extra_float_digits
  FROM xact_info ORDER BY db;
SELECT db, ts, iv, f FROM xact_info WHERE db = 'shard0';
RESET DateStyle;
RESET IntervalStyle;
RESET TimeZone;
RESET extra_float_digits;
RESET search_path;
SELECT db, ts, iv, f FROM xact_info WHERE db = 'shard0';

-- ================================================================ savepoints
BEGIN;
SELECT count(*) FROM t;
SAVEPOINT a;
SELECT val FROM t WHERE id = 7;
ROLLBACK TO a;
SELECT val FROM t WHERE id = 7;
SAVEPOINT b;
SELECT count(*) FROM t WHERE id < 50;
SAVEPOINT c;
SELECT count(*) FROM t WHERE id >= 50;
RELEASE c;
ROLLBACK TO b;
SELECT count(*) FROM t;
RELEASE b;
SELECT * FROM conns;
COMMIT;
SELECT * FROM conns;

-- A remote error inside a savepoint: ROLLBACK TO it, and the transaction
-- goes on, on the same shard connections (same remote backends, same
-- remote transaction).
BEGIN;
SELECT save_pids();
SELECT xact_start AS start0 FROM xact_info WHERE db = 'shard0' \gset
SAVEPOINT a;
SELECT val FROM t WHERE id = 3;
SELECT * FROM t WHERE 1 / (id - id) = 1;
SELECT count(*) FROM t;
ROLLBACK TO a;
SELECT count(*) FROM t;
SELECT * FROM same_pids();
SELECT xact_start = :'start0' AS same_remote_xact FROM xact_info
 WHERE db = 'shard0';
SELECT * FROM conns;
-- several levels, the error in the innermost
SAVEPOINT b;
SELECT val FROM t WHERE id = 10;
SAVEPOINT c;
SELECT * FROM t WHERE 1 / (id - id) = 1;
ROLLBACK TO c;
SELECT val FROM t WHERE id = 11;
RELEASE b;
SELECT count(*) FROM t;
SELECT * FROM same_pids();
COMMIT;
SELECT * FROM same_pids();

-- An error in a PL/pgSQL block (a subtransaction) is caught, and the
-- block's transaction goes on.
DO $$
DECLARE n bigint;
BEGIN
  BEGIN
    PERFORM * FROM t WHERE 1 / (id - id) = 1;
  EXCEPTION WHEN division_by_zero THEN
    RAISE NOTICE 'caught: %', SQLERRM;
  END;
  SELECT count(*) INTO n FROM t;
  RAISE NOTICE 'rows after the error: %', n;
END
$$;

-- A remote error without a savepoint aborts the local transaction, and
-- the remote ones with it.
BEGIN;
SELECT count(*) FROM t;
SELECT * FROM t WHERE 1 / (id - id) = 1;
SELECT count(*) FROM t;
ROLLBACK;
SELECT * FROM conns;
SELECT count(*) FROM t;

-- ================================================================ remote errors
-- A remote error keeps the remote SQLSTATE, and its context names the shard
-- and the remote statement.
SELECT * FROM xact_partial;
SELECT * FROM show_error('SELECT * FROM xact_partial');
SELECT * FROM show_error('SELECT * FROM t WHERE 1 / (id - id) = 1 AND id = 1');
SELECT count(*) FROM t;
SELECT * FROM conns;

-- ================================================================ invalidation
-- ALTER SERVER / ALTER USER MAPPING: the connections are remade when next
-- idle; a transaction in progress keeps its own.
SELECT save_pids();
ALTER SERVER cluster OPTIONS (ADD fetch_size '50');
SELECT * FROM conns;
SELECT count(*) FROM t;
SELECT * FROM conns;
SELECT * FROM same_pids();
SELECT save_pids();
BEGIN;
SELECT count(*) FROM t;
ALTER SERVER cluster OPTIONS (DROP fetch_size);
SELECT * FROM conns;
SELECT count(*) FROM t;
SELECT * FROM same_pids();
COMMIT;
SELECT * FROM conns;
SELECT count(*) FROM t;
SELECT * FROM same_pids();
SELECT save_pids();
ALTER USER MAPPING FOR CURRENT_USER SERVER cluster
    OPTIONS (ADD password_required 'true');
SELECT * FROM conns;
SELECT count(*) FROM t;
SELECT * FROM same_pids();
ALTER USER MAPPING FOR CURRENT_USER SERVER cluster
    OPTIONS (DROP password_required);

-- ================================================================ lost connections
-- A shard's backend that went away while the connection was idle is
-- replaced transparently by the next statement.
SELECT count(*) FROM t;
SELECT save_pids();
SELECT pid AS shard1_pid FROM xact_info WHERE db = 'shard1' \gset
SELECT pg_terminate_backend(:shard1_pid, 10000);
SELECT count(*) FROM t;
SELECT * FROM same_pids();
SELECT * FROM conns;
-- Also as the first statement of a transaction.
SELECT save_pids();
SELECT pid AS shard2_pid FROM xact_info WHERE db = 'shard2' \gset
SELECT pg_terminate_backend(:shard2_pid, 10000);
BEGIN;
SELECT count(*) FROM t;
SELECT * FROM same_pids();
COMMIT;
-- Inside a transaction that already uses it, it cannot be replaced: the
-- statement fails, and so does the transaction.
BEGIN;
SELECT count(*) FROM t;
SELECT pid AS shard3_pid FROM xact_info WHERE db = 'shard3' \gset
SELECT pg_terminate_backend(:shard3_pid, 10000);
SELECT * FROM show_error('SELECT count(*) FROM t');
SELECT * FROM show_error('SELECT count(*) FROM t');
ROLLBACK;
SELECT count(*) FROM t;
SELECT * FROM conns;

-- ================================================================ cleanup
RESET client_min_messages;
SELECT shardfdw.disconnect_all();
DROP FUNCTION show_error(text), save_pids(), same_pids();
DROP TABLE saved_pids;
DROP VIEW conns;
DROP FOREIGN TABLE t, xact_info, xact_partial;
DROP SERVER xact_one CASCADE;
\c shard0
DROP VIEW xact_info;
DROP TABLE xact_rr, xact_partial;
\c shard1
DROP VIEW xact_info;
DROP TABLE xact_partial;
\c shard2
DROP VIEW xact_info;
\c shard3
DROP VIEW xact_info;
DROP TABLE xact_partial;
\c :regdb
