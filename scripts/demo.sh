#!/usr/bin/env bash
# scripts/demo.sh: THE demo command of shardfdw.
#
#   bash scripts/demo.sh          (as root; or sudo bash scripts/demo.sh)
#   bash scripts/demo.sh stop     stop the 5 demo servers and remove the demo dir
#
# What it does:
#   1. installs the Debian packages it needs, only those missing (scripts/lib.sh);
#   2. stops and removes a previous demo, if any (same as `demo.sh stop`);
#   3. builds shardfdw in a copy of the work tree (/tmp/shardfdw-demo/build,
#      as `postgres`) and installs it (make install, as root);
#   4. as `postgres`, initdb's and starts 5 PostgreSQL 15 servers under
#      /tmp/shardfdw-demo: the coordinator on 127.0.0.1:55400 and shards
#      p0..p3 on 127.0.0.1:55401..55404 (trust auth, local only, sockets in
#      /tmp/shardfdw-demo);
#   5. creates the reference workload tables on every shard (userinfo,
#      session, login_log, tbl_small) and loads sample data straight into the
#      shards: userid 1..100000, each on the shard PostgreSQL's
#      PARTITION BY HASH (userid) with MODULUS 4 gives it (the placement
#      shardfdw's `hash` distribution uses); dbid = the shard number; the
#      small table tbl_small gets the same 1000 rows on every shard;
#   6. on the coordinator: CREATE EXTENSION shardfdw, the server `cluster`,
#      a user mapping, IMPORT FOREIGN SCHEMA for the three sharded tables and
#      a replicated foreign table tbl_small;
#   7. runs example queries with psql -e (routing by key, EXPLAIN, IN lists,
#      count(*) over all shards, a join with an aggregate, the replicated
#      table, shardfdw.connections()).
# It leaves the servers running and prints how to connect and how to stop.
# Exit status: 0 when every step and example query succeeded, 1 otherwise
# (servers are left running either way, so a failure can be looked at).

set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd /    # servers and psql run as postgres: use a directory it can read

DEMO_DIR=/tmp/shardfdw-demo
COORD_PORT=55400
SHARD_PORTS=(55401 55402 55403 55404)
NSHARDS=${#SHARD_PORTS[@]}
NUSERS=100000

# node name -> port
node_port() {
    case "$1" in
        coord) echo "$COORD_PORT" ;;
        shard*) echo "${SHARD_PORTS[${1#shard}]}" ;;
    esac
}
NODES=(coord)
for ((i = 0; i < NSHARDS; i++)); do NODES+=("shard$i"); done

stop_demo() {
    [ -d "$DEMO_DIR" ] || return 0
    local n
    for n in "${NODES[@]}"; do
        if [ -f "$DEMO_DIR/$n/postmaster.pid" ]; then
            log "stopping $n"
            as_pg pg_ctl -D "$DEMO_DIR/$n" -m fast -w -t 60 stop >/dev/null || true
        fi
    done
    stop_clusters_under "$DEMO_DIR"        # anything left: immediate stop
    rm -rf "$DEMO_DIR"
}

# psql as postgres against one node; extra args follow.
psql_node() {
    local n=$1; shift
    as_pg psql -X -h 127.0.0.1 -p "$(node_port "$n")" -U postgres -d postgres "$@"
}

require_root
if [ "${1:-}" = stop ]; then
    stop_demo
    log "demo stopped and $DEMO_DIR removed"
    exit 0
fi
[ $# -eq 0 ] || die "usage: bash scripts/demo.sh [stop]"

ensure_packages
stop_demo

# Refuse to start on ports some other server already holds.
for n in "${NODES[@]}"; do require_free_port "$(node_port "$n")"; done

# On any failure from here on, say what is left running and how to stop it.
on_exit() {
    local rc=$?
    if [ "$rc" -ne 0 ] && [ -d "$DEMO_DIR" ]; then
        log "demo FAILED (exit $rc); servers that did start are left running"
        log "logs: $DEMO_DIR/*.log; stop and clean up with: bash scripts/demo.sh stop"
    fi
}
trap on_exit EXIT

mkdir -p "$DEMO_DIR"
chown "$PG_OS_USER": "$DEMO_DIR"
chmod 755 "$DEMO_DIR"

# ------------------------------------------------------------------ build
stage_tree "$DEMO_DIR/build"
build_and_install "$DEMO_DIR/build" "$DEMO_DIR/build.log" \
    || die "build of shardfdw failed (full log: $DEMO_DIR/build.log)"

# ------------------------------------------------------------------ servers
for n in "${NODES[@]}"; do
    log "initdb $n (port $(node_port "$n"))"
    init_node "$DEMO_DIR" "$n" "$(node_port "$n")"
    cat >>"$DEMO_DIR/$n/postgresql.conf" <<EOF
# --- shardfdw demo ---
max_prepared_transactions = 20      # shardfdw's two-phase commit
shared_buffers = 64MB
log_min_messages = warning
log_line_prefix = '%m [%p] %q%u@%d '
EOF
    as_pg pg_ctl -D "$DEMO_DIR/$n" -l "$DEMO_DIR/$n.log" -w -t 60 start >/dev/null \
        || { tail -n 30 "$DEMO_DIR/$n.log" >&2; die "could not start $n"; }
done
for n in "${NODES[@]}"; do
    for ((t = 0; t < 60; t++)); do
        "$PG_BINDIR/pg_isready" -q -h 127.0.0.1 -p "$(node_port "$n")" && break
        sleep 1
    done
    "$PG_BINDIR/pg_isready" -q -h 127.0.0.1 -p "$(node_port "$n")" \
        || die "$n (port $(node_port "$n")) does not accept connections"
done

# ------------------------------------------------------------------ shards
for ((i = 0; i < NSHARDS; i++)); do
    log "shard $i: creating tables and loading its share of $NUSERS users"
    psql_node "shard$i" -q -v ON_ERROR_STOP=1 -v shard="$i" -v nshards="$NSHARDS" \
        -v nusers="$NUSERS" <<'SQL'
CREATE TABLE userinfo (dbid int, userid int PRIMARY KEY, info text);
CREATE TABLE session (dbid int, userid int PRIMARY KEY, last_login timestamp);
CREATE TABLE login_log (dbid int, userid int, db_user name, client_addr inet,
                        client_port int, server_addr inet, server_port int,
                        login_time timestamp);
CREATE INDEX ON login_log (userid);
CREATE TABLE tbl_small (userid int PRIMARY KEY, info text);

-- Only there so satisfies_hash_partition() has a hash-partitioned parent:
-- a row goes to this shard iff PARTITION BY HASH (userid) MODULUS nshards
-- gives it REMAINDER shard.
CREATE TABLE placement_probe (userid int) PARTITION BY HASH (userid);
CREATE TEMP TABLE mine AS
  SELECT g AS userid FROM generate_series(1, :nusers) g
   WHERE satisfies_hash_partition('placement_probe'::regclass, :nshards, :shard, g);

INSERT INTO userinfo SELECT :shard, userid, md5(userid::text) FROM mine;
INSERT INTO session
  SELECT :shard, userid, timestamp '2024-01-01' + userid * interval '1 minute' FROM mine;
INSERT INTO login_log
  SELECT :shard, userid, 'app', '192.0.2.0'::inet + (userid % 250), 40000 + userid % 20000,
         '127.0.0.1', 5432, timestamp '2024-01-01' + userid * interval '1 second'
    FROM mine;
INSERT INTO tbl_small SELECT g, 'small ' || g FROM generate_series(1, 1000) g;
DROP TABLE placement_probe;
ANALYZE;
SELECT format('shard %s: %s users', :shard, count(*)) AS loaded FROM userinfo \gset
\echo :loaded
SQL
done

# ------------------------------------------------------------------ coordinator
log "coordinator: CREATE EXTENSION shardfdw, server, user mapping, foreign tables"
psql_node coord -v ON_ERROR_STOP=1 -e <<SQL
CREATE EXTENSION shardfdw;
CREATE SERVER cluster FOREIGN DATA WRAPPER shardfdw OPTIONS (
    host '127.0.0.1', dbname 'postgres',
    p0 'port=${SHARD_PORTS[0]}', p1 'port=${SHARD_PORTS[1]}',
    p2 'port=${SHARD_PORTS[2]}', p3 'port=${SHARD_PORTS[3]}');
CREATE USER MAPPING FOR CURRENT_USER SERVER cluster;
IMPORT FOREIGN SCHEMA public LIMIT TO (userinfo, session, login_log)
    FROM SERVER cluster INTO public OPTIONS (distribution_column 'userid');
CREATE FOREIGN TABLE tbl_small (userid int, info text)
    SERVER cluster OPTIONS (distribution 'replicated');
SQL

# ------------------------------------------------------------------ examples
log "coordinator: example queries"
QUERY_LOG="$DEMO_DIR/demo-queries.out"
rc=0
psql_node coord -e <<'SQL' 2>&1 | tee "$QUERY_LOG" || rc=$?
\pset null '(null)'
\echo '\n-- 1. Lookup by key: only the shard that owns userid 42 is asked.'
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM userinfo WHERE userid = 42;
SELECT * FROM userinfo WHERE userid = 42;

\echo '\n-- 2. Which shard owns key 42 (the dbid column above says where it was loaded).'
SELECT shardfdw.shard_for('userinfo'::regclass, 42);

\echo '\n-- 3. An IN list: only the shards owning these keys are asked.'
EXPLAIN (VERBOSE, COSTS OFF) SELECT userid, dbid FROM userinfo WHERE userid IN (1, 2, 3, 42);
SELECT userid, dbid FROM userinfo WHERE userid IN (1, 2, 3, 42) ORDER BY userid;

\echo '\n-- 4. count(*) over all shards: each shard counts, the coordinator sums (Combine: count -> sum).'
EXPLAIN (VERBOSE, COSTS OFF) SELECT count(*) FROM userinfo;
SELECT count(*) FROM userinfo;

\echo '\n-- 5. A join on the distribution key with an aggregate.'
EXPLAIN (VERBOSE, COSTS OFF)
SELECT u.dbid, count(*) AS users, max(s.last_login) AS latest_login
  FROM userinfo u JOIN session s ON s.userid = u.userid
 WHERE u.userid <= 1000
 GROUP BY u.dbid ORDER BY u.dbid;
SELECT u.dbid, count(*) AS users, max(s.last_login) AS latest_login
  FROM userinfo u JOIN session s ON s.userid = u.userid
 WHERE u.userid <= 1000
 GROUP BY u.dbid ORDER BY u.dbid;

\echo '\n-- 6. The replicated table: read from one shard.'
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM tbl_small WHERE userid = 7;
SELECT * FROM tbl_small WHERE userid = 7;

\echo '\n-- 7. Writes go to the shards that own the rows.  An UPDATE by key is one'
\echo '--    statement on one shard (in autocommit, no transaction commands).'
EXPLAIN (VERBOSE, COSTS OFF) UPDATE session SET last_login = now() WHERE userid = 42;
UPDATE session SET last_login = now() WHERE userid = 42;
\echo '--    An INSERT is routed by its key; several rows are batched per shard.'
EXPLAIN (VERBOSE, COSTS OFF)
INSERT INTO login_log (dbid, userid, db_user, login_time) VALUES (2, 42, current_user, now());
INSERT INTO login_log (dbid, userid, db_user, login_time)
SELECT dbid, userid, current_user, now() FROM userinfo WHERE userid <= 10;
SELECT shardfdw.shard_for('login_log'::regclass, userid) AS shard, count(*)
  FROM login_log WHERE userid <= 10 GROUP BY 1 ORDER BY 1;
\echo '--    A transaction across shards commits with two-phase commit: PREPARE on every'
\echo '--    shard it wrote, a decision record per shard in the local transaction, then'
\echo '--    COMMIT PREPARED; recover_prepared_transactions() clears the records.'
BEGIN;
UPDATE userinfo SET info = info || ' (seen)' WHERE userid IN (1, 2, 3, 42);
DELETE FROM login_log WHERE userid = 3;
COMMIT;
SELECT userid, info FROM userinfo WHERE userid IN (1, 2, 3, 42) ORDER BY userid;
SELECT count(*) AS decision_records FROM shardfdw.commit_records;
SELECT shard, action FROM shardfdw.recover_prepared_transactions() ORDER BY shard;

\echo '\n-- 8. The connections this session holds (one per shard used).'
SELECT * FROM shardfdw.connections();
SQL
errors=$(grep -c 'ERROR:' "$QUERY_LOG" || true)

cat <<EOF

------------------------------------------------------------------------
shardfdw demo is running (data and logs in $DEMO_DIR):
  coordinator:  psql -h 127.0.0.1 -p $COORD_PORT -U postgres
                (foreign tables userinfo, session, login_log, tbl_small)
  shards p0-p3: psql -h 127.0.0.1 -p ${SHARD_PORTS[0]} -U postgres   (... ${SHARD_PORTS[$((NSHARDS - 1))]})
  server logs:  $DEMO_DIR/<coord|shardN>.log
  stop it:      bash scripts/demo.sh stop
------------------------------------------------------------------------
EOF
if [ "$rc" -ne 0 ] || [ "$errors" -ne 0 ]; then
    log "$errors example quer(y/ies) failed (see ERROR lines above)"
    exit 1
fi
