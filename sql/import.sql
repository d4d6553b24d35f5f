--
-- import: IMPORT FOREIGN SCHEMA reads the table definitions of the first
-- shard (p0) and creates one foreign table per remote table, view,
-- materialized view, foreign table and partitioned table.
--
SELECT current_database() AS regdb \gset
\set VERBOSITY terse

-- The remote schema, on shard0 only: IMPORT looks at p0 alone.
\c shard0
CREATE SCHEMA imp_src;
CREATE TABLE imp_src.plain (
    id      int NOT NULL,
    big     bigint,
    name    text COLLATE "C" NOT NULL,
    amount  numeric(10,2),
    created timestamptz,
    u       uuid,
    x       int
);
CREATE TABLE imp_src."MixedCase" (x bigint PRIMARY KEY, "Val" text);
CREATE TABLE imp_src."we""ird" ("sp ace" int, x int);
CREATE TABLE imp_src.nox (a int, b varchar(20) NOT NULL);
CREATE TABLE imp_src.nocols ();
CREATE VIEW imp_src.v_x AS SELECT x, "Val" FROM imp_src."MixedCase";
CREATE MATERIALIZED VIEW imp_src.mv AS SELECT 1 AS x;
CREATE TABLE imp_src.parted (x int, y text) PARTITION BY HASH (x);
CREATE TABLE imp_src.parted_0 PARTITION OF imp_src.parted
    FOR VALUES WITH (MODULUS 1, REMAINDER 0);
CREATE SEQUENCE imp_src.seq;
CREATE INDEX ON imp_src.nox (a);
\c :regdb
\set VERBOSITY terse

-- Shows the foreign tables of a local schema: columns and table options.
CREATE FUNCTION imp_show(nsp text)
RETURNS TABLE (tbl name, col text, type text, notnull bool, coll name,
               srv name, options text)
LANGUAGE sql AS $$
  SELECT c.relname, a.attname::text, format_type(a.atttypid, a.atttypmod),
         a.attnotnull,
         CASE WHEN a.attcollation <> ty.typcollation THEN co.collname END,
         s.srvname, array_to_string(ft.ftoptions, ', ')
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_foreign_table ft ON ft.ftrelid = c.oid
    JOIN pg_foreign_server s ON s.oid = ft.ftserver
    LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
                             AND NOT a.attisdropped
    LEFT JOIN pg_type ty ON ty.oid = a.atttypid
    LEFT JOIN pg_collation co ON co.oid = a.attcollation
   WHERE n.nspname = nsp
   ORDER BY c.relname, a.attnum
$$;

-- Everything (partitions only through their parent; sequences and indexes
-- are not tables).
CREATE SCHEMA imp_all;
IMPORT FOREIGN SCHEMA imp_src FROM SERVER cluster INTO imp_all;
SELECT * FROM imp_show('imp_all');

-- LIMIT TO, with quoted names; a partition may be named explicitly.
CREATE SCHEMA imp_limit;
IMPORT FOREIGN SCHEMA imp_src LIMIT TO ("MixedCase", "we""ird", parted_0, no_such_table)
    FROM SERVER cluster INTO imp_limit;
SELECT * FROM imp_show('imp_limit');

-- EXCEPT.
CREATE SCHEMA imp_except;
IMPORT FOREIGN SCHEMA imp_src EXCEPT (plain, "MixedCase", v_x, mv)
    FROM SERVER cluster INTO imp_except;
SELECT * FROM imp_show('imp_except');

-- distribution_column goes only to the tables that have that column; the
-- others are imported without one, with a NOTICE each.
CREATE SCHEMA imp_dist;
IMPORT FOREIGN SCHEMA imp_src EXCEPT (v_x, mv)
    FROM SERVER cluster INTO imp_dist OPTIONS (distribution_column 'x');
SELECT * FROM imp_show('imp_dist');

-- distribution goes to every table, except that hash/modulo are left out
-- where there is no distribution column.
CREATE SCHEMA imp_mod;
IMPORT FOREIGN SCHEMA imp_src LIMIT TO ("MixedCase", nox)
    FROM SERVER cluster INTO imp_mod
    OPTIONS (distribution_column 'x', distribution 'modulo');
SELECT * FROM imp_show('imp_mod');
CREATE SCHEMA imp_repl;
IMPORT FOREIGN SCHEMA imp_src LIMIT TO (nox, v_x)
    FROM SERVER cluster INTO imp_repl OPTIONS (distribution 'replicated');
SELECT * FROM imp_show('imp_repl');

-- import_collate / import_not_null 'false'.
CREATE SCHEMA imp_plain;
IMPORT FOREIGN SCHEMA imp_src LIMIT TO (plain)
    FROM SERVER cluster INTO imp_plain
    OPTIONS (import_collate 'false', import_not_null 'false');
SELECT * FROM imp_show('imp_plain');

-- An imported table is usable right away: public.t of every shard.
CREATE SCHEMA imp_pub;
IMPORT FOREIGN SCHEMA public LIMIT TO (t) FROM SERVER cluster INTO imp_pub
    OPTIONS (distribution_column 'id');
SELECT * FROM imp_show('imp_pub');
SELECT count(*), sum(id) FROM imp_pub.t;
SELECT id, val, shardfdw.shard_for('imp_pub.t'::regclass, id) AS shard
  FROM imp_pub.t WHERE id IN (1, 2, 3, 4) ORDER BY id;

-- Errors: a remote schema that does not exist, bad options.
\set VERBOSITY default
CREATE SCHEMA imp_err;
IMPORT FOREIGN SCHEMA no_such_schema FROM SERVER cluster INTO imp_err;
IMPORT FOREIGN SCHEMA imp_src FROM SERVER cluster INTO imp_err
    OPTIONS (fetch_size '10');
IMPORT FOREIGN SCHEMA imp_src FROM SERVER cluster INTO imp_err
    OPTIONS (import_default 'true');
IMPORT FOREIGN SCHEMA imp_src FROM SERVER cluster INTO imp_err
    OPTIONS (distribution_column '');
IMPORT FOREIGN SCHEMA imp_src FROM SERVER cluster INTO imp_err
    OPTIONS (distribution 'range');
IMPORT FOREIGN SCHEMA imp_src FROM SERVER cluster INTO imp_err
    OPTIONS (import_collate 'perhaps');
-- A local name clash fails the whole import.
IMPORT FOREIGN SCHEMA imp_src LIMIT TO (nox) FROM SERVER cluster INTO imp_dist;
\set VERBOSITY terse
SELECT count(*) AS tables_in_imp_err FROM pg_class
 WHERE relnamespace = 'imp_err'::regnamespace;

-- cleanup
SET client_min_messages = warning;
DROP SCHEMA imp_all, imp_limit, imp_except, imp_dist, imp_mod, imp_repl,
    imp_plain, imp_pub, imp_err CASCADE;
RESET client_min_messages;
DROP FUNCTION imp_show(text);
SELECT shardfdw.disconnect_all();
\c shard0
SET client_min_messages = warning;
DROP SCHEMA imp_src CASCADE;
\c :regdb
