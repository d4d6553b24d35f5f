--
-- credentials: secrets live only in user mappings, and a role that is not a
-- superuser reaches a shard only with a non-empty password that the shard
-- asked for (postgres_fdw's rules), also on a cached connection that another
-- role made through the same mapping.
--
-- Uses the shards of init.  This instance runs with trust authentication, so
-- no shard ever asks for a password here: every connection of a
-- non-superuser without password_required 'false' is refused.  The other
-- side (a shard that asks for the password, the coordinator's ~/.pgpass)
-- is in t/003_credentials.pl.
--
SELECT current_database() AS regdb \gset
\set VERBOSITY default

-- On every shard: which database answered, as which remote role.
\c shard0
CREATE VIEW cred_who AS
    SELECT current_database()::text AS db, current_user::text AS remote_user;
GRANT SELECT ON cred_who TO PUBLIC;
\c shard1
CREATE VIEW cred_who AS
    SELECT current_database()::text AS db, current_user::text AS remote_user;
GRANT SELECT ON cred_who TO PUBLIC;
\c shard2
CREATE VIEW cred_who AS
    SELECT current_database()::text AS db, current_user::text AS remote_user;
GRANT SELECT ON cred_who TO PUBLIC;
\c shard3
CREATE VIEW cred_who AS
    SELECT current_database()::text AS db, current_user::text AS remote_user;
GRANT SELECT ON cred_who TO PUBLIC;
\c :regdb
\set VERBOSITY default

DO $$
BEGIN
  EXECUTE format(
    'CREATE SERVER cred_s FOREIGN DATA WRAPPER shardfdw OPTIONS ('
    ' host %L, port %L,'
    ' p0 %L, p1 %L, p2 %L, p3 %L)',
    trim(split_part(current_setting('unix_socket_directories'), ',', 1)),
    current_setting('port'),
    'dbname=shard0', 'dbname=shard1', 'dbname=shard2', 'dbname=shard3');
END
$$;
CREATE FOREIGN TABLE cred_who (db text, remote_user text) SERVER cred_s
    OPTIONS (table_name 'cred_who');
CREATE ROLE regress_cred_user LOGIN;          -- not a superuser
CREATE ROLE regress_cred_remote LOGIN;        -- a role on the shards
CREATE ROLE regress_cred_su LOGIN SUPERUSER;  -- loses SUPERUSER below
GRANT USAGE ON FOREIGN SERVER cred_s TO regress_cred_user;
GRANT SELECT ON cred_who TO regress_cred_user, regress_cred_su;

-- ================================================================ secrets
-- Server options and pN conninfos are readable by every role
-- (pg_foreign_server.srvoptions): no secret may appear there.  Secret libpq
-- options are "user" and every option libpq marks as a password
-- (password, sslpassword).
CREATE SERVER cred_bad FOREIGN DATA WRAPPER shardfdw
    OPTIONS (sslpassword 'secret');
CREATE SERVER cred_bad FOREIGN DATA WRAPPER shardfdw
    OPTIONS (p0 'dbname=shard0 sslpassword=secret');
ALTER SERVER cred_s OPTIONS (ADD sslpassword 'secret');
ALTER SERVER cred_s OPTIONS (SET p1 'dbname=shard1 sslpassword=secret');
ALTER FOREIGN TABLE cred_who OPTIONS (ADD sslpassword 'secret');
ALTER FOREIGN TABLE cred_who ALTER COLUMN db OPTIONS (ADD password 'secret');
-- File names are not secrets: as in postgres_fdw, a server may name them
-- (only a role allowed to create or alter the server can).
ALTER SERVER cred_s OPTIONS (ADD passfile '/nonexistent/pgpass',
                             ADD sslcert '/nonexistent/client.crt',
                             ADD sslkey '/nonexistent/client.key');
ALTER SERVER cred_s OPTIONS (DROP passfile, DROP sslcert, DROP sslkey);
CREATE SERVER cred_bad FOREIGN DATA WRAPPER shardfdw
    OPTIONS (p0 'dbname=shard0 passfile=/nonexistent/pgpass');
DROP SERVER cred_bad;

-- ================================================================ user mappings
-- Any role may keep its own secrets in its own mapping ...
SET ROLE regress_cred_user;
CREATE USER MAPPING FOR CURRENT_USER SERVER cred_s
    OPTIONS (user 'regress_cred_user', password 'secret',
             sslpassword 'keypass');
-- ... but may not make libpq read the coordinator's certificate files,
ALTER USER MAPPING FOR CURRENT_USER SERVER cred_s
    OPTIONS (ADD sslkey '/var/lib/postgresql/.postgresql/postgresql.key');
\echo :LAST_ERROR_SQLSTATE
ALTER USER MAPPING FOR CURRENT_USER SERVER cred_s
    OPTIONS (ADD sslcert '/var/lib/postgresql/.postgresql/postgresql.crt');
-- ... nor waive the password.
ALTER USER MAPPING FOR CURRENT_USER SERVER cred_s
    OPTIONS (ADD password_required 'false');
\echo :LAST_ERROR_SQLSTATE
ALTER USER MAPPING FOR CURRENT_USER SERVER cred_s
    OPTIONS (ADD host 'elsewhere');
RESET ROLE;
-- A superuser may set all of them.
CREATE USER MAPPING FOR regress_cred_su SERVER cred_s
    OPTIONS (sslcert '/nonexistent/client.crt',
             sslkey '/nonexistent/client.key',
             password_required 'false');
DROP USER MAPPING FOR regress_cred_su SERVER cred_s;

-- ================================================================ a password is required
-- An empty password is no password: libpq would fall back to the
-- coordinator OS user's ~/.pgpass (or PGPASSWORD, or a service file).
SET ROLE regress_cred_user;
ALTER USER MAPPING FOR CURRENT_USER SERVER cred_s
    OPTIONS (SET password '');
SELECT db, remote_user FROM cred_who ORDER BY db;
\echo :LAST_ERROR_SQLSTATE
ALTER USER MAPPING FOR CURRENT_USER SERVER cred_s
    OPTIONS (DROP password);
SELECT db, remote_user FROM cred_who ORDER BY db;
-- A password the shard does not ask for (trust) is no proof either.
ALTER USER MAPPING FOR CURRENT_USER SERVER cred_s
    OPTIONS (ADD password 'secret');
SELECT db, remote_user FROM cred_who ORDER BY db;
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT count(*) AS connections FROM shardfdw.connections()
 WHERE server_name = 'cred_s';
-- A superuser may waive the rule for a mapping ...
ALTER USER MAPPING FOR regress_cred_user SERVER cred_s
    OPTIONS (ADD password_required 'false', SET password '');
SET ROLE regress_cred_user;
SELECT db, remote_user FROM cred_who ORDER BY db;
-- ... and its user may put it back (true is allowed to everyone): the
-- next use is refused, though the connections are cached.
ALTER USER MAPPING FOR CURRENT_USER SERVER cred_s
    OPTIONS (SET password_required 'true');
SELECT db, remote_user FROM cred_who ORDER BY db;
RESET ROLE;
DROP USER MAPPING FOR regress_cred_user SERVER cred_s;

-- ================================================================ cached connections
-- A PUBLIC mapping is one mapping, so its connections are shared by every
-- role that uses it in this session.  The rules are checked for the role
-- that uses the connection now, not only for the one that made it.
CREATE USER MAPPING FOR PUBLIC SERVER cred_s
    OPTIONS (user 'regress_cred_remote', password 'secret');
-- The superuser connects (no password asked: allowed for a superuser).
SELECT db, remote_user FROM cred_who ORDER BY db;
SELECT count(*) AS connections FROM shardfdw.connections()
 WHERE server_name = 'cred_s';
-- The non-superuser may not read through those connections.
SET ROLE regress_cred_user;
SELECT db, remote_user FROM cred_who ORDER BY db;
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
-- They are still cached, and still the superuser's to use.
SELECT count(*) AS connections FROM shardfdw.connections()
 WHERE server_name = 'cred_s';
SELECT db, remote_user FROM cred_who ORDER BY db;
-- Nor inside a remote transaction the superuser started.
BEGIN;
SELECT count(*) FROM cred_who;
SET LOCAL ROLE regress_cred_user;
SELECT count(*) FROM cred_who;
ROLLBACK;
-- A PUBLIC mapping without a password.
ALTER USER MAPPING FOR PUBLIC SERVER cred_s OPTIONS (DROP password);
SELECT db, remote_user FROM cred_who ORDER BY db;
SET ROLE regress_cred_user;
SELECT db, remote_user FROM cred_who ORDER BY db;
RESET ROLE;
-- Waived by a superuser: every role may use it.
ALTER USER MAPPING FOR PUBLIC SERVER cred_s
    OPTIONS (ADD password_required 'false');
SELECT db, remote_user FROM cred_who ORDER BY db;
SET ROLE regress_cred_user;
SELECT db, remote_user FROM cred_who ORDER BY db;
RESET ROLE;
DROP USER MAPPING FOR PUBLIC SERVER cred_s;

-- A role that was a superuser when its connections were made, and is not
-- any more: its mapping has a password, but the cached connections did not
-- use it, so they are refused to it.
CREATE USER MAPPING FOR regress_cred_su SERVER cred_s
    OPTIONS (user 'regress_cred_remote', password 'secret');
SET ROLE regress_cred_su;
SELECT db, remote_user FROM cred_who ORDER BY db;
RESET ROLE;
ALTER ROLE regress_cred_su NOSUPERUSER;
SELECT count(*) AS connections FROM shardfdw.connections()
 WHERE server_name = 'cred_s';
SET ROLE regress_cred_su;
SELECT db, remote_user FROM cred_who ORDER BY db;
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- ================================================================ cleanup
SELECT shardfdw.disconnect_all();
DROP FOREIGN TABLE cred_who;
DROP USER MAPPING FOR regress_cred_su SERVER cred_s;
DROP SERVER cred_s;
DROP ROLE regress_cred_user, regress_cred_remote, regress_cred_su;
\c shard0
DROP VIEW cred_who;
\c shard1
DROP VIEW cred_who;
\c shard2
DROP VIEW cred_who;
\c shard3
DROP VIEW cred_who;
\c :regdb
