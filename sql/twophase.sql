--
-- twophase: atomic commit across shards.
--
-- A transaction that wrote on two or more shards prepares them (PREPARE
-- TRANSACTION), records each gid in shardfdw.commit_records inside the
-- local transaction, and after the local commit sends COMMIT PREPARED.
-- One writer, or two_phase_commit 'false', commits one-phase.
-- shardfdw.recover_prepared_transactions() resolves what is left by the
-- records, and removes records no longer needed.
--
-- Crashes and lost shards at each step are tested in t/012_twophase.pl;
-- here: which transactions use it, its records, a shard refusing to
-- prepare, and recovery of prepared transactions left behind.  Gids hold
-- the system identifier and transaction ids: they are only counted.
--
SELECT current_database() AS regdb \gset
\set VERBOSITY terse

-- tp (id int key, v text) on every shard; on shard 2 a deferred unique
-- constraint on v, checked only at PREPARE
SELECT $sql$
CREATE TABLE tp (id int PRIMARY KEY, v text);
$sql$ AS shard_ddl \gset
\c shard0
:shard_ddl
\c shard1
:shard_ddl
\c shard2
:shard_ddl
ALTER TABLE tp ADD CONSTRAINT tp_v_key UNIQUE (v) DEFERRABLE INITIALLY DEFERRED;
\c shard3
:shard_ddl
\c :regdb
\set VERBOSITY terse

CREATE FOREIGN TABLE tp (id int, v text) SERVER cluster
  OPTIONS (distribution_column 'id');
-- which shard each key lives on
SELECT k, shardfdw.shard_for('tp'::regclass, k) AS shard
  FROM generate_series(1, 8) k ORDER BY 2, 1;
-- prepared transactions of any shard database (the shards are databases
-- of this instance), and records
CREATE VIEW tp_state AS
  SELECT (SELECT count(*) FROM pg_prepared_xacts) AS prepared,
         (SELECT count(*) FROM shardfdw.commit_records) AS records;
-- (the records of earlier tests' transactions, resolved already)
SELECT 'cleaned' AS step
  FROM (SELECT count(*) FROM shardfdw.recover_prepared_transactions()) x;
SELECT * FROM tp_state;

-- several shards written: two-phase, one record per shard written
INSERT INTO tp VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd');
SELECT * FROM tp_state;
SELECT count(*) AS gids_naming_this_database
  FROM shardfdw.commit_records
 WHERE gid LIKE 'shardfdw\_%\_' ||
       (SELECT oid FROM pg_database WHERE datname = current_database()) || '\_%';
SELECT server_name, shard, action FROM shardfdw.recover_prepared_transactions()
 ORDER BY shard;
SELECT * FROM tp_state;
-- one shard written: one-phase, no record
INSERT INTO tp VALUES (5, 'e');
UPDATE tp SET v = 'e2' WHERE id = 5;
SELECT * FROM tp_state;
-- several shards read, one written: one-phase
BEGIN;
SELECT count(*) FROM tp;
UPDATE tp SET v = 'a2' WHERE id = 1;
COMMIT;
SELECT * FROM tp_state;
-- in a transaction block, with savepoints
BEGIN;
UPDATE tp SET v = v || '!' WHERE id = 2;
SAVEPOINT s;
UPDATE tp SET v = v || '?' WHERE id = 3;
ROLLBACK TO SAVEPOINT s;
UPDATE tp SET v = v || '!' WHERE id = 4;
COMMIT;
SELECT * FROM tp ORDER BY id;
SELECT count(*) AS records FROM shardfdw.commit_records;
-- two_phase_commit 'false': one-phase, no record
ALTER SERVER cluster OPTIONS (ADD two_phase_commit 'false');
UPDATE tp SET v = v || '1' WHERE id IN (1, 2);
SELECT * FROM tp_state;
ALTER SERVER cluster OPTIONS (SET two_phase_commit 'true');
UPDATE tp SET v = v || '2' WHERE id IN (1, 2);
SELECT * FROM tp_state;
ALTER SERVER cluster OPTIONS (DROP two_phase_commit);
ALTER SERVER cluster OPTIONS (ADD two_phase_commit 'maybe');
SELECT count(*) AS resolved FROM shardfdw.recover_prepared_transactions();

-- a shard that refuses to prepare (shard 2's deferred unique key is
-- violated) aborts the transaction on every shard: nothing of it stays,
-- nothing stays prepared
SELECT * FROM tp ORDER BY id;
SELECT min(k) AS k2 FROM generate_series(9, 99) k
 WHERE shardfdw.shard_for('tp'::regclass, k) = 2 \gset
BEGIN;
INSERT INTO tp VALUES (6, 'f'), (7, 'g'), (:k2, 'b!12');
COMMIT;
SELECT * FROM tp ORDER BY id;
SELECT * FROM tp_state;

-- a local PREPARE TRANSACTION of a transaction that used the shards
BEGIN;
UPDATE tp SET v = 'x' WHERE id IN (1, 2);
PREPARE TRANSACTION 'local_gid';
SELECT * FROM tp_state;

-- recovery: prepared transactions left on the shards are resolved by the
-- records.  Made by hand here with gids of this coordinator database:
-- one with a record (committed), one of a transaction that is over and
-- has no record (rolled back), and one of another database (untouched).
SELECT 'shardfdw_' || system_identifier || '_' ||
       (SELECT oid FROM pg_database WHERE datname = current_database()) || '_'
       AS prefix FROM pg_control_system() \gset
SELECT :'prefix' || '3_' || oid || '_0' AS gid_commit,
       :'prefix' || '4_' || oid || '_1' AS gid_rollback
  FROM pg_foreign_server WHERE srvname = 'cluster' \gset
\c shard0
BEGIN;
INSERT INTO tp VALUES (100, 'committed by recovery');
PREPARE TRANSACTION :'gid_commit';
\c shard1
BEGIN;
INSERT INTO tp VALUES (101, 'rolled back by recovery');
PREPARE TRANSACTION :'gid_rollback';
BEGIN;
INSERT INTO tp VALUES (102, 'not ours');
PREPARE TRANSACTION 'shardfdw_1_1_5_1_1';
\c :regdb
\set VERBOSITY terse
INSERT INTO shardfdw.commit_records (gid) VALUES (:'gid_commit');
SELECT * FROM tp_state;
SELECT server_name, shard, action FROM shardfdw.recover_prepared_transactions()
 ORDER BY shard;
SELECT * FROM tp WHERE id >= 100 ORDER BY id;
SELECT * FROM tp_state;
-- a second run has nothing to do
SELECT count(*) AS resolved FROM shardfdw.recover_prepared_transactions();
-- not in a transaction that has used the shards
BEGIN;
SELECT count(*) FROM tp;
SELECT * FROM shardfdw.recover_prepared_transactions();
ROLLBACK;
\c shard1
ROLLBACK PREPARED 'shardfdw_1_1_5_1_1';
\c :regdb
\set VERBOSITY terse
SELECT * FROM tp_state;

DROP VIEW tp_state;
DROP FOREIGN TABLE tp;
\c shard0
DROP TABLE tp;
\c shard1
DROP TABLE tp;
\c shard2
DROP TABLE tp;
\c shard3
DROP TABLE tp;
\c :regdb
