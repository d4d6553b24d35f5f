/* shardfdw--1.0.sql: objects of the shardfdw extension (schema shardfdw). */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION shardfdw" to load this file. \quit

CREATE FUNCTION shardfdw_handler()
RETURNS fdw_handler
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FUNCTION shardfdw_validator(text[], oid)
RETURNS void
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FOREIGN DATA WRAPPER shardfdw
  HANDLER shardfdw_handler
  VALIDATOR shardfdw_validator;

-- Which shard (0 .. N-1) owns the given distribution-column value of a
-- hash- or modulo-distributed shardfdw table.  NULL for a NULL key.
CREATE FUNCTION shard_for(rel regclass, key anyelement)
RETURNS integer
AS 'MODULE_PATHNAME', 'shardfdw_shard_for'
LANGUAGE C STABLE PARALLEL SAFE;

-- Open connections of this session: one row per (user mapping, shard).
CREATE FUNCTION connections(
    OUT server_name text,
    OUT shard integer,
    OUT host text,
    OUT port text,
    OUT user_name text,
    OUT in_transaction boolean,
    OUT valid boolean)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'shardfdw_connections'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

-- Close every cached connection that is not in use by the current
-- transaction.  Returns true if at least one connection was closed.
CREATE FUNCTION disconnect_all()
RETURNS boolean
AS 'MODULE_PATHNAME', 'shardfdw_disconnect_all'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

-- Two-phase commit: a transaction that wrote on several shards prepares
-- them (PREPARE TRANSACTION 'gid') and, in its own local transaction,
-- records each gid here; the record exists if and only if the local
-- transaction committed, which decides the prepared transactions' fate.
-- Rows are written by the extension itself (no privilege is needed) and
-- removed by recover_prepared_transactions() once resolved.
CREATE TABLE commit_records (
    gid text PRIMARY KEY,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON commit_records FROM PUBLIC;

-- Resolve the prepared transactions this coordinator database left on
-- the shards of every shardfdw server: COMMIT PREPARED those whose record
-- exists, ROLLBACK PREPARED those without one whose local transaction is
-- over, and delete records no longer needed.  One row per action.
CREATE FUNCTION recover_prepared_transactions(
    OUT server_name text,
    OUT shard integer,
    OUT gid text,
    OUT action text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'shardfdw_recover_prepared_transactions'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
REVOKE ALL ON FUNCTION recover_prepared_transactions() FROM PUBLIC;

-- Run one SQL statement on every shard of a server (or the listed shards),
-- in parallel, inside the current transaction's remote transactions (so
-- atomically, with two-phase commit when several shards run it).  One row
-- per shard: its number, the command tag and the rows reported.  A shard's
-- error names the shard and rolls the statement back everywhere.
CREATE FUNCTION run_on_shards(
    server name,
    sql text,
    shards integer[] DEFAULT NULL,
    OUT shard integer,
    OUT status text,
    OUT rows bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'shardfdw_run_on_shards'
LANGUAGE C CALLED ON NULL INPUT VOLATILE PARALLEL UNSAFE;
REVOKE ALL ON FUNCTION run_on_shards(name, text, integer[]) FROM PUBLIC;

-- Turn the local table rel into a shardfdw foreign table of server, in
-- the current transaction: create it on every shard (same schema and name,
-- columns, constraints and indexes), replace it by a foreign table with its
-- columns and defaults, and move its rows to their shards.  Distribution
-- NULL means hash with a column, none without one.
CREATE FUNCTION create_distributed_table(
    rel regclass,
    server name,
    distribution_column name DEFAULT NULL,
    distribution text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'shardfdw_create_distributed_table'
LANGUAGE C CALLED ON NULL INPUT VOLATILE PARALLEL UNSAFE;
REVOKE ALL ON FUNCTION create_distributed_table(regclass, name, name, text)
    FROM PUBLIC;

-- Introspection.  Every shardfdw table with its placement:
CREATE FUNCTION tables(
    OUT table_name regclass,
    OUT server_name text,
    OUT distribution text,
    OUT distribution_column name,
    OUT remote_table text,
    OUT shards integer)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'shardfdw_tables'
LANGUAGE C STRICT STABLE PARALLEL UNSAFE;
-- Each shard of a server: its conninfo (pN; no secrets there) and whether
-- it answers now, as the caller's user mapping.
CREATE FUNCTION shards(
    server name,
    OUT shard integer,
    OUT conninfo text,
    OUT reachable boolean,
    OUT detail text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'shardfdw_shards'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
-- Each shardfdw table of a server on each shard: the shard's row estimate
-- (pg_class.reltuples) and total size in bytes.
CREATE FUNCTION table_sizes(
    server name,
    OUT table_name regclass,
    OUT shard integer,
    OUT rows_estimate bigint,
    OUT bytes bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'shardfdw_table_sizes'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

-- Move one shard to another server online (logical replication, then a
-- short switch of pN): CALL shardfdw.move_shard('cluster', 2, 'host=...').
CREATE PROCEDURE move_shard(server name, shard integer, new_conninfo text)
AS 'MODULE_PATHNAME', 'shardfdw_move_shard'
LANGUAGE C;
REVOKE ALL ON PROCEDURE move_shard(name, integer, text) FROM PUBLIC;

-- Split the N shards of a server into 2N (PARTITION BY HASH placement:
-- remainder r splits into r and r + N), every shard copied online to a
-- new place: CALL shardfdw.split_shards('cluster', ARRAY['host=...', ...]).
CREATE PROCEDURE split_shards(server name, new_conninfos text[])
AS 'MODULE_PATHNAME', 'shardfdw_split_shards'
LANGUAGE C;
REVOKE ALL ON PROCEDURE split_shards(name, text[]) FROM PUBLIC;
