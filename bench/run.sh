#!/usr/bin/env bash
# bench/run.sh: shardfdw against its anchors on the reference workload.
#
#   bash bench/run.sh                      (as root; ROWS_PER_SHARD=100000 for a quick run)
#
# What it does (see bench/README.md for the details and the knobs):
#   1. installs the Debian packages it needs, only those missing (scripts/lib.sh,
#      incl. postgresql-15-plproxy), builds shardfdw in a copy of the work tree and
#      installs it;
#   2. as `postgres`, initdb's and starts 5 PostgreSQL 15 servers under
#      /tmp/shardfdw-bench: coordinator 127.0.0.1:55500, shards p0..p3 on
#      127.0.0.1:55501..55504; a trap stops them on exit, also on failure;
#   3. loads the same data into the 4 shards, in parallel: userinfo and session
#      for userid 1..4*ROWS_PER_SHARD, and metrics (float8 values in 100 groups)
#      for id 1..4*ROWS_PER_SHARD, each row on the shard that
#      PARTITION BY HASH (key) MODULUS 4 gives it (~ROWS_PER_SHARD per shard);
#   4. sets up five anchors over that one copy of the data:
#        shardfdw      one foreign table per table (IMPORT FOREIGN SCHEMA), schema sfdw
#        postgres_fdw  hash-partitioned parent, 4 foreign partitions, one
#                      async_capable server each, partitionwise agg/join on, schema pgfdw
#        plproxy       SQL/MED cluster + proxy functions (schema px) calling
#                      functions created on every shard
#        direct        the same SQL on shard p0 only (1/4 of the data; reference)
#        local         all rows in plain tables on the coordinator, schema loc
#   5. runs Q1 (pgbench lookups by key, TPS) and Q2..Q7 (wall time, best of RUNS),
#      checks that the anchors return the same rows;
#   6. runs the write shapes (issue 7, acceptance 10): W1 COPY of all 4N userinfo rows,
#      W2 INSERT ... SELECT of INSERT_ROWS rows from a local table, W3/W4 the
#      UPDATE-by-key pgbench shape at -c 1 and -c 8 (-M prepared), each checked
#      (rows per shard after every load, the rows a keyed UPDATE changed);
#   7. runs the reference workload (issue 9, SHAPES R1..R7, not in the default set):
#      the PL/Proxy deployments' pgbench shapes, -M prepared at -c 1 and -c 8, with
#      the CPU per transaction of the coordinator and of the shards;
#   8. prints a table and writes bench/results.csv and the raw log bench/results.log
#      (R1..R7: their own table and CSV, and an SVG chart by bench/chart.py).
# Exit status: 0 when every anchor ran every query; 1 otherwise (the table is still
# written, failed cells say why).

set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd /    # servers run as postgres: use a directory it can read

# ---------------------------------------------------------------- knobs
ROWS_PER_SHARD=${ROWS_PER_SHARD:-1000000}
RUNS=${RUNS:-3}                             # best of RUNS for every measurement
PGBENCH_TIME=${PGBENCH_TIME:-5}             # seconds per pgbench run (Q1)
PGBENCH_CLIENTS=${PGBENCH_CLIENTS:-1}
FETCH_SIZE=${FETCH_SIZE:-100}               # same for shardfdw and postgres_fdw (both default 100)
STATEMENT_TIMEOUT=${STATEMENT_TIMEOUT:-300s}
SHARED_BUFFERS=${SHARED_BUFFERS:-512MB}
WORK_MEM=${WORK_MEM:-64MB}
KEEP=${KEEP:-0}                             # 1: keep the data directories afterwards
ANCHORS_WANTED=${ANCHORS:-"sfdw pgfdw px direct local"}
SHAPES_WANTED=${SHAPES:-"Q1 Q2 Q3 Q4 Q5 Q6 Q7 W1 W2 W3 W4"}
# Write shapes (W1..W4).  BATCH_SIZE goes on the postgres_fdw servers (as its docs
# advise for bulk inserts) and, by default, on the shardfdw server too.
BATCH_SIZE=${BATCH_SIZE:-1000}
SFDW_BATCH_SIZE=${SFDW_BATCH_SIZE:-$BATCH_SIZE}
INSERT_ROWS=${INSERT_ROWS:-1000000}         # W2: rows of INSERT ... SELECT (capped at 4N)
LOAD_RUNS=${LOAD_RUNS:-$RUNS}               # W1/W2: best of LOAD_RUNS
LOAD_TIMEOUT=${LOAD_TIMEOUT:-3600s}         # statement_timeout of W1/W2
UPDATE_TIME=${UPDATE_TIME:-$PGBENCH_TIME}   # W3/W4: seconds per pgbench run
# Reference workload (R1..R7, issue 9): the pgbench shapes of the PL/Proxy deployments.
SMALL_ROWS=${SMALL_ROWS:-1000}              # rows of tbl_small, copied to every shard
REF_TIME=${REF_TIME:-$PGBENCH_TIME}         # seconds per pgbench run of R1..R7
REF_CLIENTS=${REF_CLIENTS:-"1 8"}           # pgbench -c of R1..R7 (-j: min(c, CPUs))
REF_CSV=${REF_CSV:-}                        # default: RESULTS_CSV, or *-reference.csv next to it (README)
BUILD_REF=${BUILD_REF:-}                    # build this git revision instead of the work tree
PIN_LIBRARY=${PIN_LIBRARY:-1}               # 1: the coordinator loads this build's shardfdw.so
PERF=${PERF:-0}                             # 1: one extra, untimed shardfdw W1/W2 load under perf

BENCH_DIR=${BENCH_DIR:-/tmp/shardfdw-bench}
OUT_DIR="$REPO_ROOT/bench"
RESULTS_CSV=${RESULTS_CSV:-$OUT_DIR/results.csv}
RAW_LOG=${RAW_LOG:-$OUT_DIR/results.log}
WORK="$BENCH_DIR/work"

COORD_PORT=${BENCH_PORT:-55500}               # shards: the next four ports
case "$COORD_PORT" in ''|*[!0-9]*) die "BENCH_PORT must be a port number" ;; esac
SHARD_PORTS=($((COORD_PORT + 1)) $((COORD_PORT + 2)) $((COORD_PORT + 3)) $((COORD_PORT + 4)))
NSHARDS=${#SHARD_PORTS[@]}
NKEYS=$((NSHARDS * ROWS_PER_SHARD))          # userids 1..NKEYS

case "$ROWS_PER_SHARD" in ''|*[!0-9]*) die "ROWS_PER_SHARD must be a positive integer" ;; esac
[ "$ROWS_PER_SHARD" -ge 1 ] || die "ROWS_PER_SHARD must be >= 1"
case "$RUNS" in ''|*[!0-9]*|0) die "RUNS must be a positive integer" ;; esac
case "$LOAD_RUNS" in ''|*[!0-9]*|0) die "LOAD_RUNS must be a positive integer" ;; esac
case "$INSERT_ROWS" in ''|*[!0-9]*|0) die "INSERT_ROWS must be a positive integer" ;; esac
case "$SMALL_ROWS" in ''|*[!0-9]*|0) die "SMALL_ROWS must be a positive integer" ;; esac
for c in $REF_CLIENTS; do case "$c" in ''|*[!0-9]*|0) die "REF_CLIENTS must be positive integers" ;; esac; done
[ "$INSERT_ROWS" -le "$NKEYS" ] || INSERT_ROWS=$NKEYS

PSQL="$PG_BINDIR/psql"
PGBENCH="$PG_BINDIR/pgbench"

node_port() {
    case "$1" in
        coord) echo "$COORD_PORT" ;;
        shard*) echo "${SHARD_PORTS[${1#shard}]}" ;;
    esac
}
NODES=(coord)
for ((i = 0; i < NSHARDS; i++)); do NODES+=("shard$i"); done

# Everything detailed goes to the raw log; the console gets progress and the table.
raw() { printf '%s\n' "$*" >>"$RAW_LOG"; }
step() { log "$*"; raw ""; raw "==> $(date '+%H:%M:%S') $*"; }

# psql (client side runs as root, over TCP, trust auth) against one port.
psql_port() {
    local port=$1; shift
    "$PSQL" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"
}
psql_node() { local n=$1; shift; psql_port "$(node_port "$n")" "$@"; }

# ---------------------------------------------------------------- servers
stop_bench_servers() {
    [ -d "$BENCH_DIR" ] || return 0
    local n
    for n in "${NODES[@]}"; do
        if [ -f "$BENCH_DIR/$n/postmaster.pid" ]; then
            as_pg "$PG_BINDIR/pg_ctl" -D "$BENCH_DIR/$n" -m fast -w -t 60 stop >/dev/null 2>&1 || true
        fi
    done
    stop_clusters_under "$BENCH_DIR"       # anything left: immediate stop
}

on_exit() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -d "$BENCH_DIR" ]; then
        log "stopping the benchmark servers"
        stop_bench_servers
        if [ "$KEEP" = 1 ]; then
            log "KEEP=1: data directories kept under $BENCH_DIR"
        else
            local n
            for n in "${NODES[@]}"; do rm -rf "${BENCH_DIR:?}/$n"; done
        fi
    fi
    if [ "$rc" -ne 0 ]; then
        log "benchmark FAILED (exit $rc); raw log: $RAW_LOG; server logs: $BENCH_DIR/*.log"
    fi
    exit "$rc"
}

require_root
ensure_packages

# Refuse to start on ports some other server already holds.
for n in "${NODES[@]}"; do require_free_port "$(node_port "$n")"; done

# Leftovers of an earlier, interrupted run (no server answers on our ports).
stop_bench_servers
rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR" "$WORK"
chown "$PG_OS_USER": "$BENCH_DIR"
chmod 755 "$BENCH_DIR"
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$OUT_DIR"
: >"$RAW_LOG"
raw "shardfdw benchmark, $(date -u '+%Y-%m-%dT%H:%M:%SZ')"
raw "commit: $(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$REPO_ROOT" status --porcelain 2>/dev/null | grep -q . && echo ' (+ uncommitted changes)')"
raw "machine: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.1f GB", $2/1048576}' /proc/meminfo), $("$PG_BINDIR/postgres" --version)"
raw "ROWS_PER_SHARD=$ROWS_PER_SHARD (userids 1..$NKEYS over $NSHARDS shards) RUNS=$RUNS PGBENCH_TIME=$PGBENCH_TIME PGBENCH_CLIENTS=$PGBENCH_CLIENTS FETCH_SIZE=$FETCH_SIZE STATEMENT_TIMEOUT=$STATEMENT_TIMEOUT SHARED_BUFFERS=$SHARED_BUFFERS WORK_MEM=$WORK_MEM"
raw "SMALL_ROWS=$SMALL_ROWS REF_TIME=$REF_TIME REF_CLIENTS=$REF_CLIENTS"
raw "SHAPES=$SHAPES_WANTED BATCH_SIZE=$BATCH_SIZE SFDW_BATCH_SIZE=$SFDW_BATCH_SIZE INSERT_ROWS=$INSERT_ROWS LOAD_RUNS=$LOAD_RUNS LOAD_TIMEOUT=$LOAD_TIMEOUT UPDATE_TIME=$UPDATE_TIME"
raw "plproxy: $(dpkg-query -W -f='${Version}' "postgresql-$PG_MAJOR-plproxy" 2>/dev/null || echo '?')"

# ---------------------------------------------------------------- build
step "building and installing shardfdw"
if [ -n "$BUILD_REF" ]; then
    # A committed version instead of the work tree (which others may be editing).
    mkdir -p "$BENCH_DIR/build"
    git -C "$REPO_ROOT" archive "$BUILD_REF" | tar -C "$BENCH_DIR/build" -xf - \
        || die "cannot export $BUILD_REF from $REPO_ROOT"
    chown -R "$PG_OS_USER": "$BENCH_DIR/build"
    raw "built from $BUILD_REF ($(git -C "$REPO_ROOT" rev-parse --short "$BUILD_REF")), not the work tree"
else
    stage_tree "$BENCH_DIR/build"
fi
build_and_install "$BENCH_DIR/build" "$BENCH_DIR/build.log" \
    || die "build of shardfdw failed (full log: $BENCH_DIR/build.log)"
# Which source was measured (the work tree may carry uncommitted changes).
# The extension is installed system-wide, where other builds (a test run, another
# engineer's tree) may install theirs while this runs, and every new backend loads
# the file it finds.  With PIN_LIBRARY=1 the coordinator's shardfdw functions are
# pointed at a private copy of this build's library (pg_proc.probin, see
# setup_sfdw), so every number is this build's.
so_sum() { sha1sum "$1" 2>/dev/null | cut -c1-12; }
SO_BUILT=$(so_sum "$BENCH_DIR/build/shardfdw.so")
SO_INSTALLED="$("$PG_CONFIG" --pkglibdir)/shardfdw.so"
PIN_LIB="$BENCH_DIR/lib/shardfdw.so"
mkdir -p "$BENCH_DIR/lib"
cp "$BENCH_DIR/build/shardfdw.so" "$PIN_LIB"
chmod 755 "$BENCH_DIR/lib"; chmod 644 "$PIN_LIB"
raw "shardfdw.so: built $SO_BUILT, installed $(so_sum "$SO_INSTALLED"), private copy $PIN_LIB (PIN_LIBRARY=$PIN_LIBRARY)"
raw "shardfdw source fingerprint (sha1 of Makefile, *.control, *.sql, src/*.c, include/*.h): $(
    cd "$BENCH_DIR/build" && cat Makefile ./*.control ./*.sql src/*.c include/*.h 2>/dev/null | sha1sum | cut -c1-12)"

# ---------------------------------------------------------------- start servers
for n in "${NODES[@]}"; do
    step "initdb + start $n (port $(node_port "$n"))"
    init_node "$BENCH_DIR" "$n" "$(node_port "$n")"
    cat >>"$BENCH_DIR/$n/postgresql.conf" <<EOF
# --- shardfdw benchmark (bench/run.sh) ---
shared_buffers = $SHARED_BUFFERS
work_mem = $WORK_MEM
maintenance_work_mem = 256MB
jit = off                       # no JIT compile time in the timings, on any node
max_wal_size = 4GB              # no checkpoint storms while loading
checkpoint_timeout = 30min
synchronous_commit = off        # loading speed only; the queries are read-only
log_min_messages = warning
log_line_prefix = '%m [%p] %q%u@%d '
max_prepared_transactions = 64  # shardfdw's two-phase commit (shards)
EOF
    # The four shards share this machine's cores; on real hardware each has
    # its own.  Parallel workers on every shard at once only thrash the CPUs
    # here, so shards run without them (SHARD_PARALLEL_WORKERS, default 0).
    # This applies alike to every anchor that reads the shards; the
    # coordinator, where the local anchor runs, keeps the defaults.
    if [ "$n" != coord ]; then
        echo "max_parallel_workers_per_gather = ${SHARD_PARALLEL_WORKERS:-0}" \
            >>"$BENCH_DIR/$n/postgresql.conf"
    fi
    as_pg pg_ctl -D "$BENCH_DIR/$n" -l "$BENCH_DIR/$n.log" -w -t 60 start >/dev/null \
        || { tail -n 30 "$BENCH_DIR/$n.log" >&2; die "could not start $n"; }
done
for n in "${NODES[@]}"; do
    for ((t = 0; t < 60; t++)); do
        "$PG_BINDIR/pg_isready" -q -h 127.0.0.1 -p "$(node_port "$n")" && break
        sleep 1
    done
    "$PG_BINDIR/pg_isready" -q -h 127.0.0.1 -p "$(node_port "$n")" \
        || die "$n (port $(node_port "$n")) does not accept connections"
done

# ---------------------------------------------------------------- shards: data
load_shard() {
    local i=$1
    psql_node "shard$i" -v shard="$i" -v nshards="$NSHARDS" -v nkeys="$NKEYS" -v nsmall="$SMALL_ROWS" <<'SQL'
CREATE TABLE userinfo (dbid int, userid int NOT NULL, info text);
CREATE TABLE session (dbid int, userid int NOT NULL, last_login timestamp);
CREATE TABLE metrics (id int NOT NULL, grp int, val float8);

-- Only there so satisfies_hash_partition() has a hash-partitioned parent: a key
-- belongs to this shard iff PARTITION BY HASH (userid) MODULUS nshards gives it
-- REMAINDER shard (the placement shardfdw's `hash` distribution uses).
CREATE TABLE placement_probe (userid int) PARTITION BY HASH (userid);
CREATE TEMP TABLE mine AS
  SELECT g AS userid FROM generate_series(1, :nkeys) g
   WHERE satisfies_hash_partition('placement_probe'::regclass, :nshards, :shard, g);
DROP TABLE placement_probe;

INSERT INTO userinfo SELECT :shard, userid, 'info ' || (userid % 100) FROM mine;
INSERT INTO session
  SELECT :shard, userid, timestamp '2024-01-01' + userid * interval '1 second' FROM mine;
-- Q6/Q7: float8 values (mean about 5000, not exactly representable sums) in 100
-- groups, keyed (and placed) by id.
INSERT INTO metrics
  SELECT userid, userid % 100, ((userid::bigint * 7919) % 100003) / 10.0 + userid % 7 / 3.0
    FROM mine;
ALTER TABLE userinfo ADD PRIMARY KEY (userid);
ALTER TABLE session ADD PRIMARY KEY (userid);
VACUUM ANALYZE userinfo;
VACUUM ANALYZE session;
VACUUM ANALYZE metrics;
CHECKPOINT;

-- Shard-side functions for the PL/Proxy anchor: every query PL/Proxy runs has to be
-- wrapped in a function on every shard.  Q1 lookup, Q2 count, Q3 partial GROUP BY,
-- Q4 per-shard top-N, Q5 partial join + GROUP BY (combined on the coordinator).
CREATE FUNCTION get_user(i_userid int)
RETURNS TABLE (dbid int, userid int, info text) LANGUAGE sql STABLE AS $$
    SELECT u.dbid, u.userid, u.info FROM userinfo u WHERE u.userid = i_userid
$$;
CREATE FUNCTION count_users() RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT count(*) FROM userinfo
$$;
CREATE FUNCTION info_stats()
RETURNS TABLE (info text, cnt bigint, sum_userid bigint, min_userid int, max_userid int)
LANGUAGE sql STABLE AS $$
    SELECT u.info, count(*), sum(u.userid), min(u.userid), max(u.userid)
      FROM userinfo u GROUP BY u.info
$$;
CREATE FUNCTION top_users(i_limit int)
RETURNS TABLE (dbid int, userid int, info text) LANGUAGE sql STABLE AS $$
    SELECT u.dbid, u.userid, u.info FROM userinfo u ORDER BY u.info, u.userid LIMIT i_limit
$$;
CREATE FUNCTION info_logins()
RETURNS TABLE (info text, cnt bigint, last_login timestamp) LANGUAGE sql STABLE AS $$
    SELECT u.info, count(*), max(s.last_login)
      FROM userinfo u JOIN session s USING (userid) GROUP BY u.info
$$;
-- Q6/Q7: per group the row count and the float state: count, sum and var_pop of val.
CREATE FUNCTION metric_stats()
RETURNS TABLE (grp int, cnt bigint, n bigint, s float8, vp float8)
LANGUAGE sql STABLE AS $$
    SELECT m.grp, count(*), count(m.val), sum(m.val), var_pop(m.val)
      FROM metrics m GROUP BY m.grp
$$;
-- Write shapes (W1, W2): the target of COPY and INSERT ... SELECT, emptied before
-- every timed load.  W3/W4, PL/Proxy: the keyed UPDATE as a shard function, and a
-- lookup that checks PL/Proxy's routing.
CREATE TABLE w_userinfo (dbid int, userid int PRIMARY KEY, info text);
CREATE FUNCTION touch_session(i_userid int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    n int;
BEGIN
    UPDATE session SET last_login = now() WHERE userid = i_userid;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
CREATE FUNCTION session_dbid(i_userid int) RETURNS int LANGUAGE sql STABLE AS $$
    SELECT s.dbid FROM session s WHERE s.userid = i_userid
$$;
-- Reference workload (R1..R7, issue 9): the login log, distributed by userid like
-- userinfo (no primary key), and the small table copied in full to every shard.
CREATE TABLE login_log (dbid int, userid int, db_user name, client_addr inet,
    client_port int, server_addr inet, server_port int, login_time timestamp);
CREATE TABLE tbl_small (userid int PRIMARY KEY, info text);
INSERT INTO tbl_small SELECT g, 'small ' || g FROM generate_series(1, :nsmall) g;
VACUUM ANALYZE tbl_small;
VACUUM ANALYZE login_log;
-- PL/Proxy's shard functions for R2/R3/R5 (R1 is get_user, R4 touch_session, R6
-- count_users): each does its whole transaction on the shard, as PL/Proxy
-- deployments do.  The connection columns come from the shard's own session.
CREATE FUNCTION insert_login(i_userid int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO login_log (dbid, userid, db_user, client_addr, client_port,
                           server_addr, server_port, login_time)
    VALUES (NULL, i_userid, current_user, inet_client_addr(), inet_client_port(),
            inet_server_addr(), inet_server_port(), now());
    RETURN 1;
END
$$;
CREATE FUNCTION lookup_insert(i_userid int)
RETURNS TABLE (dbid int, userid int, info text) LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY SELECT u.dbid, u.userid, u.info FROM userinfo u WHERE u.userid = i_userid;
    INSERT INTO login_log (dbid, userid, db_user, client_addr, client_port,
                           server_addr, server_port, login_time)
    VALUES (NULL, i_userid, current_user, inet_client_addr(), inet_client_port(),
            inet_server_addr(), inet_server_port(), now());
END
$$;
CREATE FUNCTION lookup_insert_update(i_userid int)
RETURNS TABLE (dbid int, userid int, info text) LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY SELECT u.dbid, u.userid, u.info FROM userinfo u WHERE u.userid = i_userid;
    INSERT INTO login_log (dbid, userid, db_user, client_addr, client_port,
                           server_addr, server_port, login_time)
    VALUES (NULL, i_userid, current_user, inet_client_addr(), inet_client_port(),
            inet_server_addr(), inet_server_port(), now());
    UPDATE session s SET last_login = now() WHERE s.userid = i_userid;
END
$$;
CREATE FUNCTION get_small(i_userid int)
RETURNS TABLE (userid int, info text) LANGUAGE sql STABLE AS $$
    SELECT t.userid, t.info FROM tbl_small t WHERE t.userid = i_userid
$$;
SELECT format('shard %s: %s userinfo rows, %s session rows, %s metrics rows', :shard,
              (SELECT count(*) FROM userinfo), (SELECT count(*) FROM session),
              (SELECT count(*) FROM metrics));
SQL
}

step "loading $NKEYS users into $NSHARDS shards in parallel (~$ROWS_PER_SHARD per shard)"
load_start=$(date +%s)
pids=()
for ((i = 0; i < NSHARDS; i++)); do
    load_shard "$i" >"$WORK/load.shard$i.log" 2>&1 &
    pids+=($!)
done
load_failed=0
for ((i = 0; i < NSHARDS; i++)); do
    wait "${pids[$i]}" || { load_failed=1; log "loading shard $i failed:"; tail -n 20 "$WORK/load.shard$i.log" >&2; }
    cat "$WORK/load.shard$i.log" >>"$RAW_LOG"
done
[ "$load_failed" -eq 0 ] || die "loading the shards failed"
raw "shards loaded in $(( $(date +%s) - load_start )) s"

# ---------------------------------------------------------------- write shapes: source data
shape_wanted() { case " $SHAPES_WANTED " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
WANT_READS=0
for q in Q1 Q2 Q3 Q4 Q5 Q6 Q7 Q8; do shape_wanted "$q" && WANT_READS=1; done
WANT_LOADS=0
for q in W1 W2; do shape_wanted "$q" && WANT_LOADS=1; done

# W1 loads all 4N userinfo rows, in userid order (consecutive rows go to different
# shards), from one text file: the shards' own rows.  W2 reads the first
# INSERT_ROWS of them from public.ins_src, a plain table on the coordinator.
COPY_FILE="$WORK/userinfo.copy"
COPY_FILE_P0="$WORK/userinfo.p0.copy"
declare -A EXPECT=()      # [W1.s] / [W2.s] = "rows|sum(userid)" that shard s must hold
if [ "$WANT_LOADS" = 1 ]; then
    step "write shapes: COPY file ($NKEYS rows) and the INSERT ... SELECT source ($INSERT_ROWS rows)"
    for ((i = 0; i < NSHARDS; i++)); do
        psql_node "shard$i" -c "COPY userinfo TO STDOUT"
    done | LC_ALL=C sort -t "$(printf '\t')" -k2,2n >"$COPY_FILE"
    awk -F'\t' '$1 == 0' "$COPY_FILE" >"$COPY_FILE_P0"
    raw "COPY file: $(wc -l <"$COPY_FILE") rows, $(du -h "$COPY_FILE" | cut -f1); p0's part: $(wc -l <"$COPY_FILE_P0") rows"
    psql_node coord -e -c "CREATE TABLE public.ins_src (dbid int, userid int, info text)" >>"$RAW_LOG"
    awk -F'\t' -v m="$INSERT_ROWS" '$2 <= m' "$COPY_FILE" | psql_node coord -c "COPY public.ins_src FROM STDIN"
    psql_node coord -c "VACUUM ANALYZE public.ins_src" -c "SELECT count(*) AS ins_src_rows FROM public.ins_src" >>"$RAW_LOG"
    for ((i = 0; i < NSHARDS; i++)); do
        EXPECT[W1.$i]=$(psql_node "shard$i" -At -c "SELECT count(*) || '|' || coalesce(sum(userid), 0) FROM userinfo")
        EXPECT[W2.$i]=$(psql_node "shard$i" -At -c "SELECT count(*) || '|' || coalesce(sum(userid), 0) FROM userinfo WHERE userid <= $INSERT_ROWS")
        raw "shard $i must hold after W1: ${EXPECT[W1.$i]} (rows|sum of userid); after W2: ${EXPECT[W2.$i]}"
    done
fi

# ---------------------------------------------------------------- coordinator: anchors
declare -A ANCHOR_OK=()
declare -A ANCHOR_WHY=()
ANCHOR_NAMES=(sfdw pgfdw px direct local)
declare -A ANCHOR_LABEL=([sfdw]=shardfdw [pgfdw]=postgres_fdw [px]=plproxy [direct]=direct [local]=local)

wanted() { case " $ANCHORS_WANTED " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

setup_anchor() {   # name, then the setup command; output to the raw log
    local a=$1; shift
    if ! wanted "$a"; then
        ANCHOR_OK[$a]=0; ANCHOR_WHY[$a]="not selected (ANCHORS)"; return 0
    fi
    step "coordinator: setting up anchor ${ANCHOR_LABEL[$a]}"
    if "$@" >"$WORK/setup.$a.log" 2>&1; then
        ANCHOR_OK[$a]=1
    else
        ANCHOR_OK[$a]=0
        ANCHOR_WHY[$a]="setup failed: $(grep -m1 -E 'ERROR|FATAL|error' "$WORK/setup.$a.log" || tail -n1 "$WORK/setup.$a.log")"
        log "anchor ${ANCHOR_LABEL[$a]} could not be set up: ${ANCHOR_WHY[$a]}"
    fi
    cat "$WORK/setup.$a.log" >>"$RAW_LOG"
}

setup_sfdw() {
    # PIN_LIBRARY: the functions must point at the private copy before any backend
    # loads the library.  CREATE EXTENSION would load the installed one to check the
    # C functions (check_function_bodies), and two builds of it in one backend crash
    # it; so that check is off, and the rest runs in a new session.
    psql_node coord -e <<SQL || return 1
SET check_function_bodies = off;
CREATE EXTENSION shardfdw;
$( [ "$PIN_LIBRARY" = 1 ] && echo "UPDATE pg_proc SET probin = '$PIN_LIB' WHERE probin = '\$libdir/shardfdw';
SELECT proname, probin FROM pg_proc WHERE probin LIKE '%shardfdw%' ORDER BY 1;" )
SQL
    psql_node coord -e <<SQL
CREATE SCHEMA sfdw;
CREATE SERVER sfdw_cluster FOREIGN DATA WRAPPER shardfdw OPTIONS (
    host '127.0.0.1', dbname 'postgres', fetch_size '$FETCH_SIZE',
    batch_size '$SFDW_BATCH_SIZE',
    p0 'port=${SHARD_PORTS[0]}', p1 'port=${SHARD_PORTS[1]}',
    p2 'port=${SHARD_PORTS[2]}', p3 'port=${SHARD_PORTS[3]}');
CREATE USER MAPPING FOR CURRENT_USER SERVER sfdw_cluster;
IMPORT FOREIGN SCHEMA public LIMIT TO (userinfo, session, w_userinfo)
    FROM SERVER sfdw_cluster INTO sfdw OPTIONS (distribution_column 'userid');
IMPORT FOREIGN SCHEMA public LIMIT TO (metrics)
    FROM SERVER sfdw_cluster INTO sfdw OPTIONS (distribution_column 'id');
ANALYZE sfdw.userinfo;
ANALYZE sfdw.session;
ANALYZE sfdw.metrics;
SQL
}

setup_pgfdw() {
    local r sql
    sql="CREATE EXTENSION postgres_fdw;
CREATE SCHEMA pgfdw;
CREATE TABLE pgfdw.userinfo (dbid int, userid int NOT NULL, info text) PARTITION BY HASH (userid);
CREATE TABLE pgfdw.session (dbid int, userid int NOT NULL, last_login timestamp) PARTITION BY HASH (userid);
CREATE TABLE pgfdw.metrics (id int NOT NULL, grp int, val float8) PARTITION BY HASH (id);
CREATE TABLE pgfdw.w_userinfo (dbid int, userid int NOT NULL, info text) PARTITION BY HASH (userid);
"
    for ((r = 0; r < NSHARDS; r++)); do
        sql+="CREATE SERVER pgfdw_p$r FOREIGN DATA WRAPPER postgres_fdw OPTIONS (
    host '127.0.0.1', port '${SHARD_PORTS[$r]}', dbname 'postgres',
    async_capable 'true', use_remote_estimate 'false', fetch_size '$FETCH_SIZE',
    batch_size '$BATCH_SIZE');
CREATE USER MAPPING FOR CURRENT_USER SERVER pgfdw_p$r OPTIONS (user 'postgres');
CREATE FOREIGN TABLE pgfdw.userinfo_p$r PARTITION OF pgfdw.userinfo
    FOR VALUES WITH (MODULUS $NSHARDS, REMAINDER $r)
    SERVER pgfdw_p$r OPTIONS (schema_name 'public', table_name 'userinfo');
CREATE FOREIGN TABLE pgfdw.session_p$r PARTITION OF pgfdw.session
    FOR VALUES WITH (MODULUS $NSHARDS, REMAINDER $r)
    SERVER pgfdw_p$r OPTIONS (schema_name 'public', table_name 'session');
CREATE FOREIGN TABLE pgfdw.metrics_p$r PARTITION OF pgfdw.metrics
    FOR VALUES WITH (MODULUS $NSHARDS, REMAINDER $r)
    SERVER pgfdw_p$r OPTIONS (schema_name 'public', table_name 'metrics');
CREATE FOREIGN TABLE pgfdw.w_userinfo_p$r PARTITION OF pgfdw.w_userinfo
    FOR VALUES WITH (MODULUS $NSHARDS, REMAINDER $r)
    SERVER pgfdw_p$r OPTIONS (schema_name 'public', table_name 'w_userinfo');
"
    done
    sql+="ANALYZE pgfdw.userinfo;
ANALYZE pgfdw.session;
ANALYZE pgfdw.metrics;
"
    psql_node coord -e <<<"$sql"
}

setup_px() {
    psql_node coord -e <<SQL
CREATE EXTENSION plproxy;
CREATE SCHEMA px;
-- The cluster, the SQL/MED way (p0..p3, as shardfdw spells it).
CREATE SERVER px_cluster FOREIGN DATA WRAPPER plproxy OPTIONS (
    p0 'host=127.0.0.1 port=${SHARD_PORTS[0]} dbname=postgres',
    p1 'host=127.0.0.1 port=${SHARD_PORTS[1]} dbname=postgres',
    p2 'host=127.0.0.1 port=${SHARD_PORTS[2]} dbname=postgres',
    p3 'host=127.0.0.1 port=${SHARD_PORTS[3]} dbname=postgres');
CREATE USER MAPPING FOR PUBLIC SERVER px_cluster OPTIONS (user 'postgres');

-- The shard PARTITION BY HASH (userid) MODULUS 4 gives a key, in plain SQL (no
-- shardfdw involved): PostgreSQL hashes with hashint4extended(key, seed
-- 0x7A5B22367996DCFD), adds 0x49a0f4dd15e5a8e3 (hash_combine64 with 0) and takes the
-- unsigned remainder; for a power-of-two modulus only the low bits matter, and the
-- constant's low two bits are 3.  PL/Proxy maps RUN ON <int> with (hash & (4-1)),
-- so returning the shard number routes to that shard.
CREATE FUNCTION px.shard_of(i_userid int) RETURNS int LANGUAGE sql IMMUTABLE STRICT AS \$\$
    SELECT (((hashint4extended(i_userid, 8816678312871386365) & 3) + 3) % 4)::int
\$\$;

CREATE FUNCTION px.get_user(i_userid int)
RETURNS TABLE (dbid int, userid int, info text) LANGUAGE plproxy AS \$\$
    CLUSTER 'px_cluster';
    RUN ON px.shard_of(i_userid);
    TARGET public.get_user;
\$\$;
CREATE FUNCTION px.count_users() RETURNS SETOF bigint LANGUAGE plproxy AS \$\$
    CLUSTER 'px_cluster';
    RUN ON ALL;
    TARGET public.count_users;
\$\$;
CREATE FUNCTION px.info_stats()
RETURNS TABLE (info text, cnt bigint, sum_userid bigint, min_userid int, max_userid int)
LANGUAGE plproxy AS \$\$
    CLUSTER 'px_cluster';
    RUN ON ALL;
    TARGET public.info_stats;
\$\$;
CREATE FUNCTION px.top_users(i_limit int)
RETURNS TABLE (dbid int, userid int, info text) LANGUAGE plproxy AS \$\$
    CLUSTER 'px_cluster';
    RUN ON ALL;
    TARGET public.top_users;
\$\$;
CREATE FUNCTION px.info_logins()
RETURNS TABLE (info text, cnt bigint, last_login timestamp) LANGUAGE plproxy AS \$\$
    CLUSTER 'px_cluster';
    RUN ON ALL;
    TARGET public.info_logins;
\$\$;
CREATE FUNCTION px.metric_stats()
RETURNS TABLE (grp int, cnt bigint, n bigint, s float8, vp float8) LANGUAGE plproxy AS \$\$
    CLUSTER 'px_cluster';
    RUN ON ALL;
    TARGET public.metric_stats;
\$\$;

-- W3/W4: the keyed UPDATE the way PL/Proxy deployments route it: RUN ON a built-in
-- hash function of the key (hashtext(username) in the published examples; here
-- PostgreSQL's own int4 hash with the partition seed, one call, no SQL wrapper), and
-- PL/Proxy's tag = hash & (4-1).  PARTITION BY HASH puts hash h on shard (h + 3) & 3
-- (see px.shard_of), so this cluster lists the shards rotated by one: partition i is
-- shard (i + 3) % 4.  Same servers, same rows; checked below on the first 2000 keys.
CREATE SERVER px_rot FOREIGN DATA WRAPPER plproxy OPTIONS (
    p0 'host=127.0.0.1 port=${SHARD_PORTS[3]} dbname=postgres',
    p1 'host=127.0.0.1 port=${SHARD_PORTS[0]} dbname=postgres',
    p2 'host=127.0.0.1 port=${SHARD_PORTS[1]} dbname=postgres',
    p3 'host=127.0.0.1 port=${SHARD_PORTS[2]} dbname=postgres');
CREATE USER MAPPING FOR PUBLIC SERVER px_rot OPTIONS (user 'postgres');
CREATE FUNCTION px.touch_session(i_userid int) RETURNS int LANGUAGE plproxy AS \$\$
    CLUSTER 'px_rot';
    RUN ON hashint4extended(i_userid, 8816678312871386365);
    TARGET public.touch_session;
\$\$;
CREATE FUNCTION px.session_dbid(i_userid int) RETURNS int LANGUAGE plproxy AS \$\$
    CLUSTER 'px_rot';
    RUN ON hashint4extended(i_userid, 8816678312871386365);
    TARGET public.session_dbid;
\$\$;
SELECT count(*) AS px_rot_keys_not_found_among_first_2000
  FROM generate_series(1, least($NKEYS, 2000)) g
 WHERE px.session_dbid(g) IS NULL;
DO \$\$
BEGIN
    IF EXISTS (SELECT 1 FROM generate_series(1, least($NKEYS, 2000)) g
                WHERE px.session_dbid(g) IS DISTINCT FROM px.shard_of(g)) THEN
        RAISE EXCEPTION 'px_rot (RUN ON hashint4extended) does not reach the shard that holds the key';
    END IF;
END
\$\$;

-- Routing check: px.shard_of must put every key where the data is (dbid = shard).
SELECT count(*) AS misrouted_keys_among_first_2000
  FROM generate_series(1, least($NKEYS, 2000)) g
 WHERE (SELECT dbid FROM px.get_user(g)) IS DISTINCT FROM px.shard_of(g);
DO \$\$
BEGIN
    IF EXISTS (SELECT 1 FROM generate_series(1, least($NKEYS, 2000)) g
                WHERE (SELECT dbid FROM px.get_user(g)) IS DISTINCT FROM px.shard_of(g)) THEN
        RAISE EXCEPTION 'px.shard_of() does not agree with PostgreSQL hash placement';
    END IF;
END
\$\$;
SQL
}

setup_direct() {
    # Nothing to create for the reads: the same SQL runs on shard p0
    # (public.userinfo/session).  W2: p0's share of the INSERT ... SELECT source.
    psql_node shard0 -e <<SQL
SELECT count(*) AS shard0_userinfo_rows FROM userinfo;
CREATE TABLE ins_src AS SELECT * FROM userinfo WHERE userid <= $INSERT_ROWS ORDER BY userid;
VACUUM ANALYZE ins_src;
SELECT count(*) AS shard0_ins_src_rows FROM ins_src;
SQL
}

setup_local() {
    local i
    psql_node coord -e <<'SQL' || return 1
CREATE SCHEMA loc;
CREATE TABLE loc.userinfo (dbid int, userid int NOT NULL, info text);
CREATE TABLE loc.session (dbid int, userid int NOT NULL, last_login timestamp);
CREATE TABLE loc.metrics (id int NOT NULL, grp int, val float8);
CREATE TABLE loc.w_userinfo (dbid int, userid int PRIMARY KEY, info text);
SQL
    # Exactly the shards' rows, copied with COPY (no FDW involved).
    for ((i = 0; i < NSHARDS; i++)); do
        psql_node "shard$i" -c "COPY userinfo TO STDOUT" | psql_node coord -c "COPY loc.userinfo FROM STDIN" || return 1
        psql_node "shard$i" -c "COPY session TO STDOUT" | psql_node coord -c "COPY loc.session FROM STDIN" || return 1
        psql_node "shard$i" -c "COPY metrics TO STDOUT" | psql_node coord -c "COPY loc.metrics FROM STDIN" || return 1
    done
    psql_node coord -e <<'SQL'
ALTER TABLE loc.userinfo ADD PRIMARY KEY (userid);
ALTER TABLE loc.session ADD PRIMARY KEY (userid);
VACUUM ANALYZE loc.userinfo;
VACUUM ANALYZE loc.session;
VACUUM ANALYZE loc.metrics;
CHECKPOINT;
SELECT count(*) AS local_userinfo_rows FROM loc.userinfo;
SELECT count(*) AS local_metrics_rows FROM loc.metrics;
SQL
}

setup_anchor sfdw setup_sfdw
setup_anchor pgfdw setup_pgfdw
setup_anchor px setup_px
setup_anchor direct setup_direct
setup_anchor local setup_local

# Per anchor: the port, and the session settings (PGOPTIONS) its queries run with.
# Schemas make the SQL text of shardfdw, postgres_fdw, direct and local identical.
anchor_port() { if [ "$1" = direct ]; then echo "${SHARD_PORTS[0]}"; else echo "$COORD_PORT"; fi; }
anchor_pgoptions() {
    local o="-c statement_timeout=$STATEMENT_TIMEOUT"
    case "$1" in
        sfdw) o+=" -c search_path=sfdw,public" ;;
        pgfdw) o+=" -c search_path=pgfdw,public -c enable_partitionwise_aggregate=on -c enable_partitionwise_join=on" ;;
        px) o+=" -c search_path=px,public" ;;
        direct) o+=" -c search_path=public" ;;
        local) o+=" -c search_path=loc,public" ;;
    esac
    echo "$o"
}

# ---------------------------------------------------------------- queries
QUERIES=(Q1 Q2 Q3 Q4 Q5 Q6 Q7 Q8)
declare -A QDESC=(
    [Q1]="lookup by primary key (pgbench, TPS)"
    [Q2]="count(*)"
    [Q3]="GROUP BY info, 5 aggregates (100 groups)"
    [Q4]="ORDER BY info, userid LIMIT 10"
    [Q5]="co-located join + GROUP BY"
    [Q6]="GROUP BY grp, float avg/sum (100 groups)"
    [Q7]="GROUP BY grp, float variance/stddev"
    [Q8]="full scan: COPY (SELECT * FROM userinfo) TO /dev/null"
)
# The natural SQL of each anchor.  shardfdw/postgres_fdw/direct/local: plain SQL
# (schemas via search_path).  plproxy: the proxy functions, combined on the coordinator.
declare -A SQL_PLAIN=(
    [Q1]="SELECT * FROM userinfo WHERE userid = :uid"
    [Q2]="SELECT count(*) FROM userinfo"
    [Q3]="SELECT info, count(*), sum(userid), avg(userid), min(userid), max(userid) FROM userinfo GROUP BY info"
    [Q4]="SELECT * FROM userinfo ORDER BY info, userid LIMIT 10"
    [Q5]="SELECT u.info, count(*), max(s.last_login) FROM userinfo u JOIN session s USING (userid) GROUP BY u.info"
    [Q6]="SELECT grp, count(*), avg(val), sum(val) FROM metrics GROUP BY grp"
    [Q7]="SELECT grp, count(*), variance(val), stddev(val) FROM metrics GROUP BY grp"
    [Q8]="COPY (SELECT * FROM userinfo) TO '/dev/null'"
)
declare -A SQL_PX=(
    [Q1]="SELECT * FROM px.get_user(:uid)"
    [Q2]="SELECT sum(n)::bigint AS count FROM px.count_users() AS n"
    [Q3]="SELECT info, sum(cnt)::bigint AS count, sum(sum_userid)::bigint AS sum, sum(sum_userid) / sum(cnt) AS avg, min(min_userid) AS min, max(max_userid) AS max FROM px.info_stats() GROUP BY info"
    [Q4]="SELECT * FROM px.top_users(10) ORDER BY info, userid LIMIT 10"
    [Q5]="SELECT info, sum(cnt)::bigint AS count, max(last_login) AS max FROM px.info_logins() GROUP BY info"
    [Q6]="SELECT grp, sum(cnt)::bigint AS count, sum(s) / sum(n) AS avg, sum(s) AS sum FROM px.metric_stats() GROUP BY grp"
    [Q7]="SELECT grp, sum(cnt)::bigint AS count, sum(vp * n + n * (s / n - ms) ^ 2) / (sum(n) - 1) AS variance, sqrt(sum(vp * n + n * (s / n - ms) ^ 2) / (sum(n) - 1)) AS stddev FROM (SELECT *, sum(s) OVER w / sum(n) OVER w AS ms FROM px.metric_stats() WINDOW w AS (PARTITION BY grp)) p GROUP BY grp"
)
query_sql() { if [ "$1" = px ]; then echo "${SQL_PX[$2]}"; else echo "${SQL_PLAIN[$2]}"; fi; }

declare -A RESULT=()     # [anchor.query] = number, or a short failure word
FAILURES=0

# Q1: pgbench, best (highest) TPS of RUNS runs of PGBENCH_TIME seconds.
bench_q1() {
    local a=$1 run out tps best=""
    local script="$WORK/q1.$a.sql"
    printf '\\set uid random(1, %d)\n%s;\n' "$NKEYS" "$(query_sql "$a" Q1)" >"$script"
    raw "--- Q1 $a: pgbench -n -T $PGBENCH_TIME -c $PGBENCH_CLIENTS -j $PGBENCH_CLIENTS, script:"
    cat "$script" >>"$RAW_LOG"
    for ((run = 1; run <= RUNS; run++)); do
        out="$WORK/q1.$a.run$run.out"
        if PGOPTIONS="$(anchor_pgoptions "$a")" "$PGBENCH" -n -T "$PGBENCH_TIME" \
                -c "$PGBENCH_CLIENTS" -j "$PGBENCH_CLIENTS" -f "$script" \
                -h 127.0.0.1 -p "$(anchor_port "$a")" -U postgres postgres >"$out" 2>&1; then
            tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time).*/\1/p' "$out")
            raw "run $run: tps=$tps  ($(grep -E '^(number of transactions actually processed|number of failed|latency average)' "$out" | tr '\n' ';'))"
            if [ -n "$tps" ] && { [ -z "$best" ] || awk -v a="$tps" -v b="$best" 'BEGIN{exit !(a>b)}'; }; then
                best=$tps
            fi
        else
            raw "run $run FAILED:"; cat "$out" >>"$RAW_LOG"
            best="error"; break
        fi
    done
    [ -n "$best" ] || best="error"
    RESULT[$a.Q1]=$best
}

# Q2..Q5: RUNS timed executions in one psql session (\timing, client wall time,
# results discarded except the first run's, which is kept for the cross-check).
bench_q() {
    local a=$1 q=$2 sql script out err best times run
    sql=$(query_sql "$a" "$q")
    script="$WORK/$q.$a.psql"; out="$WORK/$q.$a.timing"; err="$WORK/$q.$a.err"
    {
        echo '\pset format unaligned'
        echo '\pset tuples_only on'
        echo '\pset null (null)'
        echo '\timing on'
        echo "\\o $WORK/$q.$a.rows"
        echo "$sql;"
        echo '\o /dev/null'
        for ((run = 2; run <= RUNS; run++)); do echo "$sql;"; done
    } >"$script"
    raw "--- $q $a: $sql"
    if PGOPTIONS="$(anchor_pgoptions "$a")" psql_port "$(anchor_port "$a")" -f "$script" >"$out" 2>"$err"; then
        times=$(sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' "$out" | tr '\n' ' ')
        # shellcheck disable=SC2086  # word splitting of the list is intended
        best=$(printf '%s\n' $times | sort -g | head -n1)
        raw "times (ms): $times-> best $best"
        RESULT[$a.$q]=${best:-error}
    else
        cat "$err" >>"$RAW_LOG"
        if grep -q 'statement timeout' "$err"; then RESULT[$a.$q]="timeout"; else RESULT[$a.$q]="error"; fi
        raw "FAILED: ${RESULT[$a.$q]}: $(grep -m1 ERROR "$err" || true)"
        FAILURES=$((FAILURES + 1))
    fi
}

raw "load average before the queries: $(cut -d' ' -f1-3 /proc/loadavg) (other work on this machine skews the numbers)"

# The plans, for the record (shardfdw, postgres_fdw, local, direct).
[ "$WANT_READS" = 1 ] && step "EXPLAIN (VERBOSE, COSTS OFF) of the read queries (raw log only)"
for a in sfdw pgfdw local direct; do
    [ "${ANCHOR_OK[$a]}" = 1 ] || continue
    for q in "${QUERIES[@]}"; do
        shape_wanted "$q" || continue
        sql=$(query_sql "$a" "$q"); sql=${sql//:uid/$((NKEYS / 2))}
        raw "--- plan $q ${ANCHOR_LABEL[$a]}"
        PGOPTIONS="$(anchor_pgoptions "$a")" psql_port "$(anchor_port "$a")" \
            -c "EXPLAIN (VERBOSE, COSTS OFF) $sql" >>"$RAW_LOG" 2>&1 || raw "(EXPLAIN failed)"
    done
done

for a in "${ANCHOR_NAMES[@]}"; do
    for q in "${QUERIES[@]}"; do shape_wanted "$q" || RESULT[$a.$q]="-"; done
    if [ "${ANCHOR_OK[$a]}" != 1 ]; then
        for q in "${QUERIES[@]}"; do shape_wanted "$q" && RESULT[$a.$q]="n/a"; done
        continue
    fi
    if shape_wanted Q1; then
        step "anchor ${ANCHOR_LABEL[$a]}: Q1 (pgbench, ${RUNS}x ${PGBENCH_TIME}s)"
        bench_q1 "$a"
        [ "${RESULT[$a.Q1]}" != error ] || FAILURES=$((FAILURES + 1))
    fi
    for q in Q2 Q3 Q4 Q5 Q6 Q7 Q8; do
        shape_wanted "$q" || continue
        if [ "$q" = Q8 ] && [ "$a" = px ]; then
            RESULT[$a.$q]="n/a"   # (a set-returning proxy function is not a bulk export)
            continue
        fi
        step "anchor ${ANCHOR_LABEL[$a]}: $q ${QDESC[$q]} (best of $RUNS)"
        bench_q "$a" "$q"
    done
done

raw "load average after the queries: $(cut -d' ' -f1-3 /proc/loadavg)"

is_num() { [[ "$1" =~ ^[0-9]+(\.[0-9]+)?$ ]]; }
# Q6/Q7 rows (unaligned, '|'-separated) of two anchors, sorted: the same, except
# that numbers may differ by a relative 1e-9 (float sums depend on the order of the
# additions)?
float_rows_same() {
    [ "$(wc -l <"$1")" = "$(wc -l <"$2")" ] || return 1
    paste -d'\n' <(sort "$1") <(sort "$2") | awk -F'|' '
        NR % 2 == 1 { n = split($0, a, "|"); next }
        {
            if (split($0, b, "|") != n) exit 1
            for (i = 1; i <= n; i++) {
                if (a[i] == b[i]) continue
                if (a[i] !~ /^-?[0-9.e+-]+$/ || b[i] !~ /^-?[0-9.e+-]+$/) exit 1
                d = a[i] - b[i]; if (d < 0) d = -d
                m = a[i] < 0 ? -a[i] : a[i]; if (b[i] > m || -b[i] > m) m = b[i] < 0 ? -b[i] : b[i]
                if (d > 1e-9 * m) exit 1
            }
        }'
}

# ---------------------------------------------------------------- cross-check
# Every anchor over the full data must return the same rows (order-insensitive for
# GROUP BY without ORDER BY; Q4 is compared as is).  Q1 is checked on a few keys.
step "checking that the anchors return the same rows"
MISMATCHES=0
ref=""
for a in local sfdw pgfdw px; do [ "${ANCHOR_OK[$a]}" = 1 ] && { ref=$a; break; }; done
if [ -n "$ref" ]; then
    for q in Q2 Q3 Q4 Q5 Q6 Q7; do
        [ -f "$WORK/$q.$ref.rows" ] || continue
        for a in sfdw pgfdw px local; do
            [ "$a" != "$ref" ] && [ "${ANCHOR_OK[$a]}" = 1 ] && [ -f "$WORK/$q.$a.rows" ] || continue
            # A query that failed (error/timeout) has no complete result to compare.
            is_num "${RESULT[$ref.$q]}" && is_num "${RESULT[$a.$q]}" || continue
            if [ "$q" = Q4 ]; then
                cmp -s "$WORK/$q.$ref.rows" "$WORK/$q.$a.rows" && same=1 || same=0
            elif [ "$q" = Q6 ] || [ "$q" = Q7 ]; then
                float_rows_same "$WORK/$q.$ref.rows" "$WORK/$q.$a.rows" && same=1 || same=0
            else
                cmp -s <(sort "$WORK/$q.$ref.rows") <(sort "$WORK/$q.$a.rows") && same=1 || same=0
            fi
            if [ "$same" = 1 ]; then
                raw "$q: ${ANCHOR_LABEL[$a]} = ${ANCHOR_LABEL[$ref]} ($(wc -l <"$WORK/$q.$a.rows") rows)"
            else
                MISMATCHES=$((MISMATCHES + 1))
                log "MISMATCH: $q ${ANCHOR_LABEL[$a]} differs from ${ANCHOR_LABEL[$ref]}"
                raw "MISMATCH $q ${ANCHOR_LABEL[$a]} vs ${ANCHOR_LABEL[$ref]}:"
                diff <(sort "$WORK/$q.$ref.rows") <(sort "$WORK/$q.$a.rows") | head -n 20 >>"$RAW_LOG" || true
                RESULT[$a.$q]="${RESULT[$a.$q]}!"
            fi
        done
    done
    for key in 1 2 3 $((NKEYS / 2)) "$NKEYS"; do
        shape_wanted Q1 || break
        expect=""
        for a in local sfdw pgfdw px; do
            [ "${ANCHOR_OK[$a]}" = 1 ] || continue
            sql=$(query_sql "$a" Q1); sql=${sql//:uid/$key}
            if ! got=$(PGOPTIONS="$(anchor_pgoptions "$a")" psql_port "$(anchor_port "$a")" -At -c "$sql" 2>&1); then
                raw "Q1 key $key: ${ANCHOR_LABEL[$a]} failed, not compared: $got"
                continue
            fi
            if [ -z "$expect" ]; then expect=$got
            elif [ "$got" != "$expect" ]; then
                MISMATCHES=$((MISMATCHES + 1))
                log "MISMATCH: Q1 key $key: ${ANCHOR_LABEL[$a]} gives '$got', expected '$expect'"
                RESULT[$a.Q1]="${RESULT[$a.Q1]}!"
            fi
        done
        raw "Q1 key $key -> $expect"
    done
fi
[ "$MISMATCHES" -eq 0 ] && raw "all anchors agree" || raw "$MISMATCHES mismatch(es)"

# ---------------------------------------------------------------- write shapes
# Issue 7, acceptance 10.  W1/W2 write into w_userinfo (dbid int, userid int primary
# key, info text): on the shards for shardfdw and postgres_fdw, on shard p0 for direct
# (p0's quarter of the rows), loc.w_userinfo for local.  PL/Proxy has no COPY and no
# set-based INSERT (n/a).  W3/W4: the keyed UPDATE of session, pgbench -M prepared.
WSHAPES=(W1 W2 W3 W4)
QDESC[W1]="COPY FROM STDIN, all userinfo rows"
QDESC[W2]="INSERT ... SELECT from a local table"
QDESC[W3]="UPDATE by key (pgbench -M prepared -c 1)"
QDESC[W4]="UPDATE by key (pgbench -M prepared -c 8)"
declare -A W_CLIENTS=([W3]=1 [W4]=8)
UPDATE_SQL="UPDATE session SET last_login = now() WHERE userid = :id"
UPDATE_SQL_PX="SELECT px.touch_session(:id)"
update_sql() { if [ "$1" = px ]; then echo "$UPDATE_SQL_PX"; else echo "$UPDATE_SQL"; fi; }
is_tps() { case "$1" in Q1|W3|W4) return 0 ;; *) return 1 ;; esac; }
load_anchor() { case "$1" in sfdw|pgfdw|local|direct) return 0 ;; *) return 1 ;; esac; }

# The load's statement, for psql (\copy is COPY ... FROM STDIN fed by psql).
load_sql() {   # shape, anchor
    case "$1" in
        W1) if [ "$2" = direct ]; then echo "\\copy w_userinfo FROM '$COPY_FILE_P0'"
            else echo "\\copy w_userinfo FROM '$COPY_FILE'"; fi ;;
        W2) echo "INSERT INTO w_userinfo SELECT * FROM ins_src;" ;;
    esac
}

# Before every timed load (not timed): empty the target where the anchor writes it,
# and CHECKPOINT every node, so that no run pays for the dirty pages of the last.
load_reset() {   # anchor
    local i n
    case "$1" in
        sfdw|pgfdw) for ((i = 0; i < NSHARDS; i++)); do psql_node "shard$i" -c "TRUNCATE w_userinfo"; done ;;
        direct) psql_node shard0 -c "TRUNCATE w_userinfo" ;;
        local) psql_node coord -c "TRUNCATE loc.w_userinfo" ;;
    esac
    for n in "${NODES[@]}"; do psql_node "$n" -c "CHECKPOINT"; done
}

# After every load: rows per shard.  Each shard (for local: each dbid) must hold
# exactly EXPECT's rows and sum of userid, and no row of another shard (dbid is the
# shard that owns the key).  Returns 1 on any difference.
load_check() {   # shape, anchor
    local w=$1 a=$2 i got want bad=0 shards
    shards=$NSHARDS; [ "$a" = direct ] && shards=1
    for ((i = 0; i < shards; i++)); do
        want="${EXPECT[$w.$i]}|0"
        if [ "$a" = local ]; then
            got=$(psql_node coord -At -c "SELECT count(*) || '|' || coalesce(sum(userid), 0) || '|0' FROM loc.w_userinfo WHERE dbid = $i")
        else
            got=$(psql_node "shard$i" -At -c "SELECT count(*) || '|' || coalesce(sum(userid), 0) || '|' || count(*) FILTER (WHERE dbid IS DISTINCT FROM $i) FROM w_userinfo")
        fi
        raw "  check $w ${ANCHOR_LABEL[$a]}: shard $i holds $got (rows|sum(userid)|misplaced), expected $want"
        [ "$got" = "$want" ] || bad=1
    done
    if [ "$a" = local ]; then
        got=$(psql_node coord -At -c "SELECT count(*) FILTER (WHERE dbid IS NULL OR dbid NOT BETWEEN 0 AND $((NSHARDS - 1))) FROM loc.w_userinfo")
        [ "$got" = 0 ] || { raw "  check $w local: $got rows with a dbid outside 0..$((NSHARDS - 1))"; bad=1; }
    fi
    return "$bad"
}

# One timed load (psql \timing, client wall time of the one statement).
load_once() {   # shape, anchor, run
    local w=$1 a=$2 run=$3 script out err t
    script="$WORK/$w.$a.psql"; out="$WORK/$w.$a.run$run.timing"; err="$WORK/$w.$a.run$run.err"
    { echo '\timing on'; load_sql "$w" "$a"; } >"$script"
    if ! load_reset "$a" >>"$RAW_LOG" 2>&1; then
        raw "$w ${ANCHOR_LABEL[$a]} run $run: could not empty the target"; echo error; return
    fi
    if PGOPTIONS="$(anchor_pgoptions "$a") -c statement_timeout=$LOAD_TIMEOUT" \
            psql_port "$(anchor_port "$a")" -f "$script" >"$out" 2>"$err"; then
        t=$(sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' "$out" | tail -n1)
        echo "${t:-error}"
    else
        cat "$err" >>"$RAW_LOG"
        if grep -q 'statement timeout' "$err"; then echo timeout; else echo error; fi
    fi
}

bench_load() {   # shape: LOAD_RUNS rounds, the anchors interleaved in each round
    local w=$1 a run t rows
    declare -A best=() times=() checked=()
    rows=$NKEYS; [ "$w" = W2 ] && rows=$INSERT_ROWS
    for a in "${ANCHOR_NAMES[@]}"; do
        load_anchor "$a" || { RESULT[$a.$w]="n/a"; continue; }
        [ "${ANCHOR_OK[$a]}" = 1 ] || { RESULT[$a.$w]="n/a"; continue; }
        raw "--- $w ${ANCHOR_LABEL[$a]}: $(load_sql "$w" "$a")"
    done
    for ((run = 1; run <= LOAD_RUNS; run++)); do
        for a in "${ANCHOR_NAMES[@]}"; do
            load_anchor "$a" && [ "${ANCHOR_OK[$a]}" = 1 ] || continue
            [ "${best[$a]:-}" = error ] || [ "${best[$a]:-}" = timeout ] && continue
            step "$w ${QDESC[$w]}: ${ANCHOR_LABEL[$a]}, run $run of $LOAD_RUNS"
            t=$(load_once "$w" "$a" "$run")
            times[$a]+="$t "
            raw "$w ${ANCHOR_LABEL[$a]} run $run: $t ms ($(awk -v t="$t" -v n="$rows" 'BEGIN{ if (t + 0 > 0) printf "%.0f rows/s", n / t * 1000; else print "-" }')); load average $(cut -d' ' -f1-3 /proc/loadavg)"
            if ! is_num "$t"; then best[$a]=$t; FAILURES=$((FAILURES + 1)); continue; fi
            if load_check "$w" "$a"; then checked[$a]=${checked[$a]:-ok}
            else checked[$a]=bad; log "MISMATCH: $w ${ANCHOR_LABEL[$a]} run $run: wrong rows on the shards (raw log)"; fi
            if [ -z "${best[$a]:-}" ] || awk -v a="$t" -v b="${best[$a]}" 'BEGIN{exit !(a<b)}'; then best[$a]=$t; fi
        done
    done
    for a in "${ANCHOR_NAMES[@]}"; do
        load_anchor "$a" && [ "${ANCHOR_OK[$a]}" = 1 ] || continue
        RESULT[$a.$w]=${best[$a]:-error}
        if [ "${checked[$a]:-}" = bad ]; then
            RESULT[$a.$w]="${RESULT[$a.$w]}!"; MISMATCHES=$((MISMATCHES + 1))
        fi
        raw "$w ${ANCHOR_LABEL[$a]}: times (ms) ${times[$a]:-}-> best ${RESULT[$a.$w]}"
    done
}

# PERF=1: one more shardfdw load of shape w after the timed ones (not counted), under
# a system-wide `perf record -g`.  The raw log gets the CPU split by process (the
# coordinator backend, the shard backends, and whatever else ran on the machine) and
# the coordinator backend's hottest functions, self and with callees.
perf_load() {   # shape
    local w=$1 script pidf data bg pid t rep perfpid spid
    command -v perf >/dev/null || { raw "PERF=1: perf is not installed"; return 0; }
    script="$WORK/$w.sfdw.perf.psql"; pidf="$WORK/$w.sfdw.perf.pid"; data="$BENCH_DIR/perf.$w.data"
    rep="$BENCH_DIR/perf.$w.txt"
    : >"$pidf"
    { echo "\o $pidf"; echo "SELECT pg_backend_pid();"; echo '\o'; echo '\timing on'; load_sql "$w" sfdw; } >"$script"
    step "$w: one more shardfdw load under perf (not timed in the table)"
    load_reset sfdw >>"$RAW_LOG" 2>&1 || return 0
    PGOPTIONS="$(anchor_pgoptions sfdw) -c statement_timeout=$LOAD_TIMEOUT" \
        psql_port "$COORD_PORT" -At -f "$script" >"$WORK/$w.sfdw.perf.out" 2>&1 &
    bg=$!
    for ((t = 0; t < 100; t++)); do [ -s "$pidf" ] && break; sleep 0.05; done
    pid=$(head -n1 "$pidf")
    perf record -a -g -F 999 -o "$data" -- \
        bash -c "while kill -0 $bg 2>/dev/null; do sleep 0.05; done" >/dev/null 2>"$WORK/$w.perf.err" &
    perfpid=$!
    # the backend that shard p0 runs the load's statements in
    spid=""
    for ((t = 0; t < 40; t++)); do
        spid=$(psql_node shard0 -At -c "SELECT pid FROM pg_stat_activity WHERE query LIKE '%w_userinfo%' AND pid <> pg_backend_pid() LIMIT 1" 2>/dev/null || true)
        [ -n "$spid" ] && break
        sleep 0.1
    done
    wait "$perfpid" || true
    wait "$bg" || true
    # (called in an || list: a pipeline that finds nothing does not end the script)
    perf_text "$w" "$data" "$pid" "$spid" >"$rep" 2>&1 || true
    cat "$rep" >>"$RAW_LOG"
    log "perf report: $rep (and the raw log)"
}

perf_text() {   # shape, perf data, coordinator backend pid, shard p0 backend pid
    local w=$1 data=$2 pid=$3 spid=$4
    {
        echo "=== perf, $w through shardfdw: $(grep -m1 '^Time:' "$WORK/$w.sfdw.perf.out"); coordinator backend pid $pid"
        echo "--- CPU samples by process (whole machine)"
        perf report -i "$data" --no-children --sort comm,pid --stdio -g none 2>/dev/null \
            | grep -v '^#' | grep -v '^$' | head -n 16
        echo "--- coordinator backend: self time by function (% of its samples)"
        perf report -i "$data" --pid "$pid" --percentage relative --no-children --sort dso,sym \
            --stdio -g none --percent-limit 1 2>/dev/null | grep -v '^#' | grep -v '^$' | head -n 30
        echo "--- coordinator backend: with callees (frame-pointer call graphs; > 100 % where they loop)"
        perf report -i "$data" --pid "$pid" --percentage relative --children --sort sym \
            --stdio -g none --percent-limit 4 2>/dev/null | grep -v '^#' | grep -v '^$' \
            | grep -v '\] 0x0000' | head -n 30
        if [ -n "$spid" ]; then
            echo "--- shard p0's backend (pid $spid): self time by function (% of its samples)"
            perf report -i "$data" --pid "$spid" --percentage relative --no-children --sort dso,sym \
                --stdio -g none --percent-limit 1 2>/dev/null | grep -v '^#' | grep -v '^$' | head -n 30
            echo "--- shard p0's backend: with callees"
            perf report -i "$data" --pid "$spid" --percentage relative --children --sort sym \
                --stdio -g none --percent-limit 4 2>/dev/null | grep -v '^#' | grep -v '^$' \
                | grep -v '\] 0x0000' | head -n 30
        fi
    }
}

# Keys for the UPDATE check: on every shard (and the largest key).
UPD_KEYS="1 2 3 4 5 6 7 8 9 10 $NKEYS"
UPD_KEYLIST=$(echo "$UPD_KEYS" | tr ' ' ',')
declare -A KEYS_ON=()     # [node] = how many of UPD_KEYS it holds
# Before an anchor's pgbench runs: mark the check keys' rows with a sentinel
# last_login directly on the nodes, run the anchor's statement once per key, and
# require that each statement changed exactly its key's row (1 row, 0 for direct's
# keys on other shards) and that exactly the keys of the shards the anchor writes
# lost their sentinel, on the shard that owns them.
update_check() {   # anchor -> 0 ok
    local a=$1 k sql got want n bad=0 i left
    for ((i = 0; i < NSHARDS; i++)); do
        psql_node "shard$i" -c "UPDATE session SET last_login = '1999-01-01' WHERE userid IN ($UPD_KEYLIST)" >/dev/null || return 1
    done
    psql_node coord -c "UPDATE loc.session SET last_login = '1999-01-01' WHERE userid IN ($UPD_KEYLIST)" >/dev/null || return 1
    for k in $UPD_KEYS; do
        sql=$(update_sql "$a"); sql=${sql//:id/$k}
        if [ "$a" = px ]; then
            got=$(PGOPTIONS="$(anchor_pgoptions "$a")" psql_port "$(anchor_port "$a")" -At -c "$sql" 2>&1) || got="error: $got"
        else
            # not quiet: the command tag (UPDATE n) is the answer
            got=$(PGOPTIONS="$(anchor_pgoptions "$a")" "$PSQL" -X -h 127.0.0.1 -p "$(anchor_port "$a")" \
                  -U postgres -d postgres -v ON_ERROR_STOP=1 -c "$sql" 2>&1) || got="error: $got"
            got=${got#UPDATE }
        fi
        want=1
        if [ "$a" = direct ]; then
            want=$(psql_node shard0 -At -c "SELECT count(*) FROM session WHERE userid = $k")
        fi
        [ "$got" = "$want" ] || { raw "  check W3 ${ANCHOR_LABEL[$a]}: key $k: '$got' rows, expected $want"; bad=1; }
    done
    for ((i = 0; i < NSHARDS; i++)); do
        left=$(psql_node "shard$i" -At -c "SELECT count(*) FILTER (WHERE last_login = '1999-01-01') FROM session WHERE userid IN ($UPD_KEYLIST)")
        want=0
        case "$a" in local) want=${KEYS_ON[shard$i]} ;; direct) [ "$i" = 0 ] || want=${KEYS_ON[shard$i]} ;; esac
        raw "  check W3 ${ANCHOR_LABEL[$a]}: shard $i: $left of its ${KEYS_ON[shard$i]} check keys unchanged, expected $want"
        [ "$left" = "$want" ] || bad=1
    done
    left=$(psql_node coord -At -c "SELECT count(*) FILTER (WHERE last_login = '1999-01-01') FROM loc.session WHERE userid IN ($UPD_KEYLIST)" 2>/dev/null || echo "?")
    if [ "${ANCHOR_OK[local]}" = 1 ]; then
        want=$(echo "$UPD_KEYS" | wc -w); [ "$a" = local ] && want=0
        raw "  check W3 ${ANCHOR_LABEL[$a]}: local: $left check keys unchanged, expected $want"
        [ "$left" = "$want" ] || bad=1
    fi
    return "$bad"
}

bench_update() {   # shape: RUNS rounds of pgbench, the anchors interleaved
    local w=$1 c=${W_CLIENTS[$1]} j a run out tps script
    declare -A best=()
    j=$c; [ "$j" -le "$(nproc)" ] || j=$(nproc)
    for a in "${ANCHOR_NAMES[@]}"; do
        [ "${ANCHOR_OK[$a]}" = 1 ] || { RESULT[$a.$w]="n/a"; continue; }
        script="$WORK/$w.$a.sql"
        printf '\\set id random(1, %d)\n%s;\n' "$NKEYS" "$(update_sql "$a")" >"$script"
        raw "--- $w ${ANCHOR_LABEL[$a]}: pgbench -n -M prepared -T $UPDATE_TIME -c $c -j $j, script:"
        cat "$script" >>"$RAW_LOG"
    done
    for ((run = 1; run <= RUNS; run++)); do
        for a in "${ANCHOR_NAMES[@]}"; do
            [ "${ANCHOR_OK[$a]}" = 1 ] || continue
            [ "${best[$a]:-}" = error ] && continue
            step "$w ${QDESC[$w]}: ${ANCHOR_LABEL[$a]}, run $run of $RUNS"
            out="$WORK/$w.$a.run$run.out"
            if PGOPTIONS="$(anchor_pgoptions "$a")" "$PGBENCH" -n -M prepared -T "$UPDATE_TIME" \
                    -c "$c" -j "$j" -f "$WORK/$w.$a.sql" \
                    -h 127.0.0.1 -p "$(anchor_port "$a")" -U postgres postgres >"$out" 2>&1; then
                tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time).*/\1/p' "$out")
                raw "$w ${ANCHOR_LABEL[$a]} run $run: tps=$tps ($(grep -E '^(number of transactions actually processed|number of failed|latency average)' "$out" | tr '\n' ';')) load average $(cut -d' ' -f1-3 /proc/loadavg)"
                if [ -n "$tps" ] && { [ -z "${best[$a]:-}" ] || awk -v a="$tps" -v b="${best[$a]}" 'BEGIN{exit !(a>b)}'; }; then
                    best[$a]=$tps
                fi
            else
                raw "$w ${ANCHOR_LABEL[$a]} run $run FAILED:"; cat "$out" >>"$RAW_LOG"
                best[$a]=error; FAILURES=$((FAILURES + 1))
            fi
        done
    done
    for a in "${ANCHOR_NAMES[@]}"; do
        [ "${ANCHOR_OK[$a]}" = 1 ] || continue
        RESULT[$a.$w]=${best[$a]:-error}
        [ "${UPD_CHECK[$a]:-ok}" = ok ] || RESULT[$a.$w]="${RESULT[$a.$w]}!"
    done
}

WANT_WRITES=0
for w in "${WSHAPES[@]}"; do
    if shape_wanted "$w"; then WANT_WRITES=1; else for a in "${ANCHOR_NAMES[@]}"; do RESULT[$a.$w]="-"; done; fi
done
declare -A UPD_CHECK=()
if [ "$WANT_WRITES" = 1 ]; then
    raw ""
    raw "load average before the write shapes: $(cut -d' ' -f1-3 /proc/loadavg)"
    # The anchors' write configuration, for the record.
    raw "--- write configuration (coordinator)"
    psql_node coord -c "SELECT srvname, array_to_string(srvoptions, ', ') AS options FROM pg_foreign_server ORDER BY 1" \
        -c "SELECT ftrelid::regclass AS foreign_table, array_to_string(ftoptions, ', ') AS options FROM pg_foreign_table WHERE ftrelid::regclass::text LIKE '%w_userinfo%' OR ftrelid::regclass::text LIKE '%session%' ORDER BY 1" \
        >>"$RAW_LOG" 2>&1 || true
    step "EXPLAIN (VERBOSE, COSTS OFF) of the write shapes (raw log only)"
    for a in sfdw pgfdw local direct; do
        [ "${ANCHOR_OK[$a]}" = 1 ] || continue
        for sql in "INSERT INTO w_userinfo SELECT * FROM ins_src" "${UPDATE_SQL//:id/$((NKEYS / 2))}"; do
            raw "--- plan ${ANCHOR_LABEL[$a]}: $sql"
            PGOPTIONS="$(anchor_pgoptions "$a")" psql_port "$(anchor_port "$a")" \
                -c "EXPLAIN (VERBOSE, COSTS OFF) $sql" >>"$RAW_LOG" 2>&1 || raw "(EXPLAIN failed)"
        done
        raw "--- plan ${ANCHOR_LABEL[$a]}: the UPDATE prepared, 6th execution (generic plan)"
        usql=${UPDATE_SQL//:id/\$1}
        PGOPTIONS="$(anchor_pgoptions "$a")" psql_port "$(anchor_port "$a")" >>"$RAW_LOG" 2>&1 <<SQL || raw "(EXPLAIN failed)"
BEGIN;
PREPARE u(int) AS $usql;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE u(1);
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE u(1);
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE u(1);
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE u(1);
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE u(1);
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE u(1);
ROLLBACK;
SQL
    done
    for w in W1 W2; do
        shape_wanted "$w" || continue
        bench_load "$w"
        if [ "$PERF" = 1 ] && [ "${ANCHOR_OK[sfdw]}" = 1 ]; then perf_load "$w"; fi
    done
    if shape_wanted W3 || shape_wanted W4; then
        for ((i = 0; i < NSHARDS; i++)); do
            KEYS_ON[shard$i]=$(psql_node "shard$i" -At -c "SELECT count(*) FROM session WHERE userid IN ($UPD_KEYLIST)")
        done
        raw "UPDATE check keys $UPD_KEYS: per shard $(for ((i = 0; i < NSHARDS; i++)); do printf 'p%d=%s ' "$i" "${KEYS_ON[shard$i]}"; done)"
        for a in "${ANCHOR_NAMES[@]}"; do
            [ "${ANCHOR_OK[$a]}" = 1 ] || continue
            step "UPDATE check: ${ANCHOR_LABEL[$a]}"
            if update_check "$a"; then UPD_CHECK[$a]=ok
            else UPD_CHECK[$a]=bad; MISMATCHES=$((MISMATCHES + 1)); log "MISMATCH: the UPDATE through ${ANCHOR_LABEL[$a]} changed the wrong rows (raw log)"; fi
        done
        for w in W3 W4; do shape_wanted "$w" && bench_update "$w"; done
    fi
    raw "load average after the write shapes: $(cut -d' ' -f1-3 /proc/loadavg)"
fi
# ---------------------------------------------------------------- reference workload
# Issue 9, acceptance 1: the pgbench shapes of the PL/Proxy deployments (design.md,
# "Reference workload"), side by side on the same data, -M prepared, at each -c of
# REF_CLIENTS, best of RUNS, the anchors interleaved in every round.  For every run the
# CPU time of all processes of the coordinator cluster and of the four shard clusters
# is read from /proc before and after, and divided by the transactions pgbench made.
REF_SHAPES=(R1 R2 R3 R4 R5 R6 R7)
declare -A RDESC=(
    [R1]="lookup by key"
    [R2]="insert into login_log"
    [R3]="lookup + insert"
    [R4]="update session by key"
    [R5]="lookup + insert + update"
    [R6]="count(*) over all shards"
    [R7]="lookup in the replicated small table"
)
WANT_REF=0
for s in "${REF_SHAPES[@]}"; do shape_wanted "$s" && WANT_REF=1; done
ref_inserts() { case "$1" in R2|R3|R5) return 0 ;; *) return 1 ;; esac; }
ref_updates() { case "$1" in R4|R5) return 0 ;; *) return 1 ;; esac; }
ref_lookups() { case "$1" in R1|R3|R5) return 0 ;; *) return 1 ;; esac; }

declare -A REF_OK=() REF_WHY=()
declare -A REF_TPS=() REF_LAT=() REF_CPU_C=() REF_CPU_S=() REF_BAD=()
NP0=0                      # direct: how many keys shard p0 holds (p0_keys)

# The statements (shardfdw, postgres_fdw, direct, local: the same text; schemas via
# search_path).  dbid is left NULL: the client does not know the shard (PL/Proxy's
# shard functions do the same).
REF_LOOKUP="SELECT * FROM userinfo WHERE userid = :uid;"
REF_INSERT="INSERT INTO login_log (dbid, userid, db_user, client_addr, client_port, server_addr, server_port, login_time) VALUES (NULL, :uid, current_user, inet_client_addr(), inet_client_port(), inet_server_addr(), inet_server_port(), now());"
REF_UPDATE="UPDATE session SET last_login = now() WHERE userid = :uid;"
REF_COUNT="SELECT count(*) FROM userinfo;"
REF_SMALL="SELECT * FROM tbl_small WHERE userid = :sid;"
# direct: only p0's keys, the k-th of them (p0_keys, built below), so that every
# statement finds its row; one extra index probe per use of the key.
REF_P0_KEY="(SELECT userid FROM p0_keys WHERE idx = :k)"

ref_script() {   # anchor, shape -> the pgbench script
    local a=$1 s=$2 body
    if [ "$a" = px ]; then
        case "$s" in
            R1) body="SELECT * FROM px.lookup_user(:uid);" ;;
            R2) body="SELECT px.insert_login(:uid);" ;;
            R3) body="SELECT * FROM px.lookup_insert(:uid);" ;;
            R4) body="SELECT px.touch_session(:uid);" ;;
            R5) body="SELECT * FROM px.lookup_insert_update(:uid);" ;;
            R6) body="SELECT sum(n)::bigint AS count FROM px.count_users() AS n;" ;;
            R7) body="SELECT * FROM px.get_small(:sid);" ;;
        esac
    else
        case "$s" in
            R1) body=$REF_LOOKUP ;;
            R2) body=$REF_INSERT ;;
            R3) body="BEGIN;"$'\n'"$REF_LOOKUP"$'\n'"$REF_INSERT"$'\n'"COMMIT;" ;;
            R4) body=$REF_UPDATE ;;
            R5) body="BEGIN;"$'\n'"$REF_LOOKUP"$'\n'"$REF_INSERT"$'\n'"$REF_UPDATE"$'\n'"COMMIT;" ;;
            R6) body=$REF_COUNT ;;
            R7) body=$REF_SMALL ;;
        esac
    fi
    case "$s" in
        R6) ;;
        R7) printf '\\set sid random(1, %d)\n' "$SMALL_ROWS" ;;
        *)  if [ "$a" = direct ]; then
                printf '\\set k random(1, %d)\n' "$NP0"
                body=${body//:uid/$REF_P0_KEY}
            else
                printf '\\set uid random(1, %d)\n' "$NKEYS"
            fi ;;
    esac
    printf '%s\n' "$body"
}

# The script's statements with its variable set to k (for psql).
ref_sql() {   # anchor, shape, k
    local sql
    sql=$(ref_script "$1" "$2" | grep -v '^\\set')
    sql=${sql//:uid/$3}; sql=${sql//:sid/$3}; sql=${sql//:k/$3}
    printf '%s\n' "$sql"
}

# --- set-up of the anchors for R1..R7 (on top of the anchors' own set-up)
setup_ref_sfdw() {
    psql_node coord -e <<'SQL'
IMPORT FOREIGN SCHEMA public LIMIT TO (login_log)
    FROM SERVER sfdw_cluster INTO sfdw OPTIONS (distribution_column 'userid');
IMPORT FOREIGN SCHEMA public LIMIT TO (tbl_small)
    FROM SERVER sfdw_cluster INTO sfdw OPTIONS (distribution 'replicated');
ANALYZE sfdw.login_log;
ANALYZE sfdw.tbl_small;
SQL
}
setup_ref_pgfdw() {
    local r sql
    sql="CREATE TABLE pgfdw.login_log (dbid int, userid int, db_user name, client_addr inet,
    client_port int, server_addr inet, server_port int, login_time timestamp) PARTITION BY HASH (userid);
"
    for ((r = 0; r < NSHARDS; r++)); do
        sql+="CREATE FOREIGN TABLE pgfdw.login_log_p$r PARTITION OF pgfdw.login_log
    FOR VALUES WITH (MODULUS $NSHARDS, REMAINDER $r)
    SERVER pgfdw_p$r OPTIONS (schema_name 'public', table_name 'login_log');
"
    done
    # postgres_fdw has no replicated table: one foreign table on p0's copy.
    sql+="CREATE FOREIGN TABLE pgfdw.tbl_small (userid int NOT NULL, info text)
    SERVER pgfdw_p0 OPTIONS (schema_name 'public', table_name 'tbl_small');
ANALYZE pgfdw.login_log;
ANALYZE pgfdw.tbl_small;
"
    psql_node coord -e <<<"$sql"
}
setup_ref_px() {
    # R1..R5 route like W3/W4 (px.touch_session, reused for R4): RUN ON a built-in hash
    # of the key on the rotated cluster px_rot, whose routing setup_px checked.  R6:
    # px.count_users (RUN ON ALL).  R7: RUN ON ANY over px_cluster.
    psql_node coord -e <<'SQL'
CREATE FUNCTION px.lookup_user(i_userid int)
RETURNS TABLE (dbid int, userid int, info text) LANGUAGE plproxy AS $$
    CLUSTER 'px_rot';
    RUN ON hashint4extended(i_userid, 8816678312871386365);
    TARGET public.get_user;
$$;
CREATE FUNCTION px.insert_login(i_userid int) RETURNS int LANGUAGE plproxy AS $$
    CLUSTER 'px_rot';
    RUN ON hashint4extended(i_userid, 8816678312871386365);
    TARGET public.insert_login;
$$;
CREATE FUNCTION px.lookup_insert(i_userid int)
RETURNS TABLE (dbid int, userid int, info text) LANGUAGE plproxy AS $$
    CLUSTER 'px_rot';
    RUN ON hashint4extended(i_userid, 8816678312871386365);
    TARGET public.lookup_insert;
$$;
CREATE FUNCTION px.lookup_insert_update(i_userid int)
RETURNS TABLE (dbid int, userid int, info text) LANGUAGE plproxy AS $$
    CLUSTER 'px_rot';
    RUN ON hashint4extended(i_userid, 8816678312871386365);
    TARGET public.lookup_insert_update;
$$;
CREATE FUNCTION px.get_small(i_userid int)
RETURNS TABLE (userid int, info text) LANGUAGE plproxy AS $$
    CLUSTER 'px_cluster';
    RUN ON ANY;
    TARGET public.get_small;
$$;
SQL
}
setup_ref_direct() {
    # The k-th key of shard p0, for the direct anchor's scripts.
    psql_node shard0 -e <<'SQL'
CREATE TABLE p0_keys (idx int PRIMARY KEY, userid int NOT NULL);
INSERT INTO p0_keys SELECT row_number() OVER (ORDER BY userid), userid FROM userinfo;
VACUUM ANALYZE p0_keys;
SELECT count(*) AS p0_keys FROM p0_keys;
SQL
}
setup_ref_local() {
    psql_node coord -e <<'SQL' || return 1
CREATE TABLE loc.login_log (dbid int, userid int, db_user name, client_addr inet,
    client_port int, server_addr inet, server_port int, login_time timestamp);
CREATE TABLE loc.tbl_small (userid int PRIMARY KEY, info text);
SQL
    psql_node shard0 -c "COPY tbl_small TO STDOUT" | psql_node coord -c "COPY loc.tbl_small FROM STDIN" || return 1
    psql_node coord -e -c "VACUUM ANALYZE loc.tbl_small" -c "VACUUM ANALYZE loc.login_log"
}

# --- CPU: utime+stime of every process of a cluster, found from its postmaster
# (postmaster.pid) and its descendants, plus the times of the children it has already
# reaped (cutime/cstime), so a backend that exits during the run still counts.
declare -a PM_PIDS=()
cpu_ticks() {   # -> "coordinator_ticks shards_ticks" (clock ticks)
    python3 - "${PM_PIDS[@]}" <<'PY'
import os, sys
roots = [int(x) for x in sys.argv[1:]]
procs, children = {}, {}
for d in os.listdir('/proc'):
    if not d.isdigit():
        continue
    try:
        with open('/proc/%s/stat' % d) as f:
            s = f.read()
    except OSError:
        continue
    f = s[s.rindex(')') + 2:].split()   # f[0] is field 3 (state)
    pid, ppid = int(d), int(f[1])
    procs[pid] = sum(int(x) for x in f[11:15])   # utime stime cutime cstime
    children.setdefault(ppid, []).append(pid)
def total(root):
    t, todo = 0, [root]
    while todo:
        p = todo.pop()
        t += procs.get(p, 0)
        todo.extend(children.get(p, []))
    return t
print(total(roots[0]), sum(total(r) for r in roots[1:]))
PY
}
CLK_TCK=$(getconf CLK_TCK)

# --- checks
# Empty login_log everywhere (shards and loc), before every run of an insert shape.
ref_reset_log() {
    local i
    for ((i = 0; i < NSHARDS; i++)); do psql_node "shard$i" -c "TRUNCATE login_log" || return 1; done
    if [ "${ANCHOR_OK[local]}" = 1 ]; then psql_node coord -c "TRUNCATE loc.login_log" || return 1; fi
}
# Where an anchor's login_log rows are, as "shard0 shard1 shard2 shard3 loc", each
# shard "rows|sum(userid)|rows of keys the shard does not own", loc "rows|sum|0".
ref_log_state() {
    local i out=""
    for ((i = 0; i < NSHARDS; i++)); do
        out+="$(psql_node "shard$i" -At -c "SELECT count(*) || '|' || coalesce(sum(l.userid), 0) || '|' || count(*) FILTER (WHERE u.userid IS NULL) FROM login_log l LEFT JOIN userinfo u ON u.userid = l.userid") "
    done
    if [ "${ANCHOR_OK[local]}" = 1 ]; then
        out+="$(psql_node coord -At -c "SELECT count(*) || '|' || coalesce(sum(userid), 0) || '|0' FROM loc.login_log")"
    else
        out+="-"
    fi
    echo "$out"
}

declare -A REF_ROW=()    # [uid] = its userinfo row, from the shard that holds it
declare -A SMALL_ROW=()  # [uid] = its tbl_small row (p0's copy)
ref_expect_rows() {      # uids
    local k i r
    for k in "$@"; do
        [ -n "${REF_ROW[$k]:-}" ] && continue
        r=""
        for ((i = 0; i < NSHARDS; i++)); do
            r+=$(psql_node "shard$i" -At -c "SELECT dbid || '|' || userid || '|' || info FROM userinfo WHERE userid = $k")
        done
        REF_ROW[$k]=$r
    done
}

# Before an anchor's runs of a shape, not timed: run the shape's statements once per
# check key (1..10 and 4N; direct: 6 keys of p0; R7: 4 keys of tbl_small) and check
# the answers (the lookups' rows, the count, the small table's row), and that the
# inserts and updates landed on the shard that owns the key (and nowhere else).
ref_check() {   # anchor, shape -> 0 ok
    local a=$1 s=$2 pairs="" p k uid sql got want bad=0 i list n state exp
    if [ "$s" = R7 ]; then
        for k in 1 2 $(((SMALL_ROWS + 1) / 2)) "$SMALL_ROWS"; do pairs+="$k:$k "; done
    elif [ "$a" = direct ]; then
        pairs=$(psql_node shard0 -At -c "SELECT string_agg(idx || ':' || userid, ' ' ORDER BY idx) FROM p0_keys WHERE idx IN (1, 2, 3, 4, 5, $NP0)")
    else
        for k in $UPD_KEYS; do pairs+="$k:$k "; done
    fi
    list=""; n=0
    for p in $pairs; do list+="${list:+,}${p#*:}"; n=$((n + 1)); done
    if ref_inserts "$s"; then ref_reset_log >/dev/null || return 1; fi
    if ref_updates "$s"; then
        for ((i = 0; i < NSHARDS; i++)); do
            psql_node "shard$i" -c "UPDATE session SET last_login = '1999-01-01' WHERE userid IN ($list)" >/dev/null || return 1
        done
        if [ "${ANCHOR_OK[local]}" = 1 ]; then
            psql_node coord -c "UPDATE loc.session SET last_login = '1999-01-01' WHERE userid IN ($list)" >/dev/null || return 1
        fi
    fi
    for p in $pairs; do
        k=${p%%:*}; uid=${p#*:}
        sql=$(ref_sql "$a" "$s" "$k")
        got=$(PGOPTIONS="$(anchor_pgoptions "$a")" psql_port "$(anchor_port "$a")" -At <<<"$sql" 2>&1) \
            || { raw "  check $s ${ANCHOR_LABEL[$a]}: key $uid: error: $got"; bad=1; continue; }
        case "$s" in
            R1|R3|R5) ref_expect_rows "$uid"; want=${REF_ROW[$uid]} ;;
            R6) if [ "$a" = direct ]; then want=$(psql_node shard0 -At -c "SELECT count(*) FROM userinfo")
                else want=0; for ((i = 0; i < NSHARDS; i++)); do want=$((want + $(psql_node "shard$i" -At -c "SELECT count(*) FROM userinfo"))); done; fi ;;
            R7) [ -n "${SMALL_ROW[$uid]:-}" ] || SMALL_ROW[$uid]=$(psql_node shard0 -At -c "SELECT userid || '|' || info FROM tbl_small WHERE userid = $uid")
                want=${SMALL_ROW[$uid]} ;;
            *)  if [ "$a" = px ]; then want=1; else want=""; fi ;;
        esac
        if [ "$got" != "$want" ]; then
            raw "  check $s ${ANCHOR_LABEL[$a]}: key $uid: got '$got', expected '$want'"; bad=1
        fi
    done
    if ref_inserts "$s"; then
        state=$(ref_log_state); exp=""
        for ((i = 0; i < NSHARDS; i++)); do
            if [ "$a" = local ]; then exp+="0|0|0 "
            else exp+="$(psql_node "shard$i" -At -c "SELECT count(*) || '|' || coalesce(sum(userid), 0) || '|0' FROM userinfo WHERE userid IN ($list)") "; fi
        done
        if [ "${ANCHOR_OK[local]}" != 1 ]; then exp+="-"
        elif [ "$a" = local ]; then exp+="$n|$(echo "$list" | tr ',' '\n' | awk '{s += $1} END {print s}')|0"
        else exp+="0|0|0"; fi
        raw "  check $s ${ANCHOR_LABEL[$a]}: login_log per shard and loc (rows|sum(userid)|not owned): $state, expected $exp"
        [ "$state" = "$exp" ] || bad=1
    fi
    if ref_updates "$s"; then
        for ((i = 0; i < NSHARDS; i++)); do
            got=$(psql_node "shard$i" -At -c "SELECT count(*) FILTER (WHERE last_login = '1999-01-01') || '|' || count(*) FROM session WHERE userid IN ($list)")
            if [ "$a" = local ]; then want="${got#*|}|${got#*|}"; else want="0|${got#*|}"; fi
            raw "  check $s ${ANCHOR_LABEL[$a]}: session shard $i: $got (sentinels left|check keys held), expected $want"
            [ "$got" = "$want" ] || bad=1
        done
        if [ "${ANCHOR_OK[local]}" = 1 ]; then
            got=$(psql_node coord -At -c "SELECT count(*) FILTER (WHERE last_login = '1999-01-01') FROM loc.session WHERE userid IN ($list)")
            want=$n; [ "$a" = local ] && want=0
            raw "  check $s ${ANCHOR_LABEL[$a]}: loc.session: $got sentinels left, expected $want"
            [ "$got" = "$want" ] || bad=1
        fi
    fi
    return "$bad"
}

# After every run of an insert shape: exactly one row per transaction, all of them
# where the anchor writes, each on the shard that owns its key.
ref_run_check() {   # anchor, transactions -> 0 ok
    local a=$1 txns=$2 state i total=0 bad=0 f rows mis
    state=$(ref_log_state)
    raw "  login_log after the run (per shard and loc, rows|sum(userid)|not owned): $state"
    set -- $state
    for ((i = 0; i < NSHARDS; i++)); do
        f=$1; shift
        rows=${f%%|*}; mis=${f##*|}
        total=$((total + rows))
        [ "$mis" = 0 ] || bad=1
        case "$a" in
            local) [ "$rows" = 0 ] || bad=1 ;;
            direct) [ "$i" = 0 ] || [ "$rows" = 0 ] || bad=1 ;;
        esac
    done
    if [ "$1" != - ]; then
        rows=${1%%|*}
        if [ "$a" = local ]; then total=$rows; else [ "$rows" = 0 ] || bad=1; fi
    fi
    [ "$total" = "$txns" ] || { raw "  $total rows for $txns transactions"; bad=1; }
    return "$bad"
}

bench_ref() {   # shape: for every -c, RUNS rounds, the anchors interleaved in each
    local s=$1 c j a run out tps lat txns t0 t1 cu su
    for a in "${ANCHOR_NAMES[@]}"; do
        [ "${ANCHOR_OK[$a]}" = 1 ] && [ "${REF_OK[$a]}" = 1 ] || continue
        ref_script "$a" "$s" >"$WORK/$s.$a.sql"
        raw "--- $s ${ANCHOR_LABEL[$a]} script:"
        cat "$WORK/$s.$a.sql" >>"$RAW_LOG"
        step "$s ${RDESC[$s]}: check of ${ANCHOR_LABEL[$a]}"
        if ! ref_check "$a" "$s"; then
            REF_BAD[$a.$s]=1; MISMATCHES=$((MISMATCHES + 1))
            log "MISMATCH: $s through ${ANCHOR_LABEL[$a]} gave wrong results or changed the wrong rows (raw log)"
        fi
    done
    for c in $REF_CLIENTS; do
        j=$c; [ "$j" -le "$(nproc)" ] || j=$(nproc)
        for ((run = 1; run <= RUNS; run++)); do
            for a in "${ANCHOR_NAMES[@]}"; do
                [ "${ANCHOR_OK[$a]}" = 1 ] && [ "${REF_OK[$a]}" = 1 ] || continue
                [ "${REF_TPS[$a.$s.$c]:-}" = error ] && continue
                step "$s ${RDESC[$s]}: ${ANCHOR_LABEL[$a]}, -c $c, run $run of $RUNS"
                if ref_inserts "$s"; then ref_reset_log >>"$RAW_LOG" 2>&1 || true; fi
                out="$WORK/$s.$a.c$c.run$run.out"
                t0=$(cpu_ticks)
                if PGOPTIONS="$(anchor_pgoptions "$a")" "$PGBENCH" -n -M prepared -T "$REF_TIME" \
                        -c "$c" -j "$j" -f "$WORK/$s.$a.sql" \
                        -h 127.0.0.1 -p "$(anchor_port "$a")" -U postgres postgres >"$out" 2>&1; then
                    sleep 0.2        # let the backends exit (their CPU then sits in the postmaster's cutime)
                    t1=$(cpu_ticks)
                    tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time).*/\1/p' "$out")
                    lat=$(sed -n 's/^latency average = \([0-9.]*\) ms.*/\1/p' "$out")
                    txns=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$out")
                    read -r cu su <<<"$(awk -v a="$t0" -v b="$t1" -v n="${txns:-0}" -v hz="$CLK_TCK" 'BEGIN{
                        split(a, x, " "); split(b, y, " ");
                        if (n > 0) printf "%.1f %.1f", (y[1] - x[1]) * 1e6 / hz / n, (y[2] - x[2]) * 1e6 / hz / n; else print "- -" }')"
                    raw "$s ${ANCHOR_LABEL[$a]} -c $c run $run: tps=$tps latency=${lat}ms txns=$txns CPU us/txn coordinator=$cu shards=$su (ticks $t0 -> $t1); load average $(cut -d' ' -f1-3 /proc/loadavg)"
                    if ref_inserts "$s" && ! ref_run_check "$a" "${txns:-0}"; then
                        REF_BAD[$a.$s]=1; MISMATCHES=$((MISMATCHES + 1))
                        log "MISMATCH: $s ${ANCHOR_LABEL[$a]} -c $c run $run: login_log rows not where they belong (raw log)"
                    fi
                    if [ -n "$tps" ] && { [ -z "${REF_TPS[$a.$s.$c]:-}" ] || awk -v a="$tps" -v b="${REF_TPS[$a.$s.$c]}" 'BEGIN{exit !(a>b)}'; }; then
                        REF_TPS[$a.$s.$c]=$tps; REF_LAT[$a.$s.$c]=$lat
                        REF_CPU_C[$a.$s.$c]=$cu; REF_CPU_S[$a.$s.$c]=$su
                    fi
                else
                    raw "$s ${ANCHOR_LABEL[$a]} -c $c run $run FAILED:"; cat "$out" >>"$RAW_LOG"
                    log "$s ${ANCHOR_LABEL[$a]} -c $c: pgbench failed: $(grep -m1 -E 'ERROR|FATAL|error' "$out" || tail -n1 "$out")"
                    REF_TPS[$a.$s.$c]=error; FAILURES=$((FAILURES + 1))
                fi
            done
        done
    done
}

if [ "$WANT_REF" = 1 ]; then
    raw ""
    raw "load average before the reference workload: $(cut -d' ' -f1-3 /proc/loadavg)"
    step "reference workload: tbl_small must be the same on every shard"
    small_sums=$(for ((i = 0; i < NSHARDS; i++)); do psql_node "shard$i" -At -c "SELECT count(*) || ':' || md5(string_agg(userid || ',' || info, ';' ORDER BY userid)) FROM tbl_small"; done | sort -u)
    raw "tbl_small per shard (rows:md5): $small_sums"
    [ "$(wc -l <<<"$small_sums")" = 1 ] || die "tbl_small differs between the shards"
    for a in "${ANCHOR_NAMES[@]}"; do
        if [ "${ANCHOR_OK[$a]}" != 1 ]; then REF_OK[$a]=0; REF_WHY[$a]=${ANCHOR_WHY[$a]}; continue; fi
        step "reference workload: setting up ${ANCHOR_LABEL[$a]}"
        if "setup_ref_$a" >"$WORK/setup_ref.$a.log" 2>&1; then
            REF_OK[$a]=1
        else
            REF_OK[$a]=0
            REF_WHY[$a]="set-up for R1..R7 failed: $(grep -m1 -E 'ERROR|FATAL|error' "$WORK/setup_ref.$a.log" || tail -n1 "$WORK/setup_ref.$a.log")"
            log "anchor ${ANCHOR_LABEL[$a]}: ${REF_WHY[$a]}"
            FAILURES=$((FAILURES + 1))
        fi
        cat "$WORK/setup_ref.$a.log" >>"$RAW_LOG"
    done
    if [ "${REF_OK[direct]}" = 1 ]; then NP0=$(psql_node shard0 -At -c "SELECT count(*) FROM p0_keys"); fi
    PM_PIDS=()
    for n in "${NODES[@]}"; do PM_PIDS+=("$(head -n1 "$BENCH_DIR/$n/postmaster.pid")"); done
    raw "postmaster pids (coordinator, shards): ${PM_PIDS[*]}; CLK_TCK=$CLK_TCK"
    raw "--- reference workload configuration (coordinator)"
    psql_node coord -c "SELECT srvname, array_to_string(srvoptions, ', ') AS options FROM pg_foreign_server ORDER BY 1" \
        -c "SELECT ftrelid::regclass AS foreign_table, srvname, array_to_string(ftoptions, ', ') AS options FROM pg_foreign_table JOIN pg_foreign_server s ON s.oid = ftserver WHERE ftrelid::regclass::text ~ '(login_log|tbl_small|userinfo|session)' ORDER BY 1" \
        -c "SELECT p.oid::regprocedure AS proxy_function, p.prosrc FROM pg_proc p WHERE p.pronamespace = 'px'::regnamespace ORDER BY 1" \
        >>"$RAW_LOG" 2>&1 || true
    step "EXPLAIN (VERBOSE, COSTS OFF) of the reference statements (raw log only)"
    for a in sfdw pgfdw local direct; do
        [ "${ANCHOR_OK[$a]}" = 1 ] && [ "${REF_OK[$a]}" = 1 ] || continue
        for sql in "$REF_LOOKUP" "$REF_INSERT" "$REF_UPDATE" "$REF_COUNT" "$REF_SMALL"; do
            k=$((NKEYS / 2)); [ "$a" = direct ] && k=1
            [ "$a" = direct ] && sql=${sql//:uid/$REF_P0_KEY}
            sql=${sql//:uid/$k}; sql=${sql//:k/$k}; sql=${sql//:sid/1}
            raw "--- plan ${ANCHOR_LABEL[$a]}: $sql"
            PGOPTIONS="$(anchor_pgoptions "$a")" psql_port "$(anchor_port "$a")" \
                -c "EXPLAIN (VERBOSE, COSTS OFF) ${sql%;}" >>"$RAW_LOG" 2>&1 || raw "(EXPLAIN failed)"
        done
    done
    for s in "${REF_SHAPES[@]}"; do
        shape_wanted "$s" || continue
        bench_ref "$s"
    done
    ref_reset_log >/dev/null 2>&1 || true
    raw "load average after the reference workload: $(cut -d' ' -f1-3 /proc/loadavg)"
fi

raw "shardfdw.so: built $SO_BUILT, installed now $(so_sum "$SO_INSTALLED"), private copy now $(so_sum "$PIN_LIB")"
if [ "$(so_sum "$SO_INSTALLED")" != "$SO_BUILT" ]; then
    if [ "$PIN_LIBRARY" = 1 ]; then
        raw "(another build installed its shardfdw.so during the run; the coordinator used the private copy)"
    else
        log "WARNING: the installed shardfdw.so changed during the run (another build installed its own): the numbers may not be this build's"
    fi
fi

# ---------------------------------------------------------------- report
# Ratios are time ratios: other anchor's time / shardfdw's time (Q1: per-lookup time,
# i.e. shardfdw TPS / other TPS).  > 1 means shardfdw is faster.
ratio() {   # query, other anchor
    local q=$1 s=${RESULT[sfdw.$1]} o=${RESULT[$2.$1]}
    if is_num "$s" && is_num "$o" && [ "${ANCHOR_OK[sfdw]}" = 1 ]; then
        if is_tps "$q"; then awk -v s="$s" -v o="$o" 'BEGIN{ if (o > 0) printf "%.2f", s/o; else print "n/a" }'
        else awk -v s="$s" -v o="$o" 'BEGIN{ if (s > 0) printf "%.2f", o/s; else print "n/a" }'; fi
    else
        echo "n/a"
    fi
}
fmt() {     # query, value (a trailing '!' marks a result mismatch and is kept)
    local v=${2%!} mark=""
    [ "$v" = "$2" ] || mark="!"
    if is_num "$v"; then
        if is_tps "$1"; then printf '%.0f%s' "$v" "$mark"; else printf '%.1f%s' "$v" "$mark"; fi
    else
        printf '%s' "$2"
    fi
}

# A target line: the ratio of shape w against anchor o, and whether it reaches min.
target_line() {   # shape, other anchor, minimum ratio (empty: none), what the ratio is
    local w=$1 o=$2 min=$3 what=$4 r verdict=""
    r=$(ratio "$w" "$o")
    if [ -n "$min" ]; then
        if [ "$r" = n/a ]; then verdict=" (target >= $min: not measured)"
        elif awk -v r="$r" -v m="$min" 'BEGIN{exit !(r >= m)}'; then verdict=" (target >= $min: met)"
        else verdict=" (target >= $min: MISSED)"; fi
    fi
    printf '  %s %s: %s = %s%s\n' "$w" "${QDESC[$w]}" "$what" "$r" "$verdict"
}
within_line() {   # shape: shardfdw within 1.5x of local
    local w=$1 s=${RESULT[sfdw.$1]} l=${RESULT[local.$1]} r verdict
    if is_num "$s" && is_num "$l"; then
        r=$(awk -v s="$s" -v l="$l" 'BEGIN{ printf "%.2f", s / l }')
        if awk -v r="$r" 'BEGIN{exit !(r <= 1.5)}'; then verdict="met"; else verdict="MISSED"; fi
    else
        r=n/a; verdict="not measured"
    fi
    printf '  %s %s: shardfdw time / local time = %s (target <= 1.5: %s)\n' "$w" "${QDESC[$w]}" "$r" "$verdict"
}

WANT_QW=0
for q in "${QUERIES[@]}" "${WSHAPES[@]}"; do shape_wanted "$q" && WANT_QW=1; done
if [ "$WANT_QW" = 1 ]; then
{
    echo "query,unit,shardfdw,postgres_fdw,plproxy,direct,local,ratio_postgres_fdw_over_shardfdw,ratio_local_over_shardfdw,rows_per_shard"
    for q in "${QUERIES[@]}" "${WSHAPES[@]}"; do
        shape_wanted "$q" || continue
        unit=ms; is_tps "$q" && unit=tps
        printf '%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n' "$q" "$unit" \
            "$(fmt "$q" "${RESULT[sfdw.$q]}")" "$(fmt "$q" "${RESULT[pgfdw.$q]}")" \
            "$(fmt "$q" "${RESULT[px.$q]}")" "$(fmt "$q" "${RESULT[direct.$q]}")" \
            "$(fmt "$q" "${RESULT[local.$q]}")" "$(ratio "$q" pgfdw)" "$(ratio "$q" local)" \
            "$ROWS_PER_SHARD"
    done
} >"$RESULTS_CSV"

TABLE=$(
    echo "shardfdw benchmark: $NSHARDS shards x ~$ROWS_PER_SHARD rows (userid 1..$NKEYS), best of $RUNS; $(nproc) CPUs"
    echo "Q1 = lookups/s (pgbench, $PGBENCH_CLIENTS client, ${PGBENCH_TIME}s), higher is better; Q2-Q7 = ms, lower is better"
    [ "$WANT_WRITES" = 1 ] && echo "W1 = COPY of $NKEYS rows, W2 = INSERT ... SELECT of $INSERT_ROWS rows: ms, best of $LOAD_RUNS; W3/W4 = UPDATEs/s (${UPDATE_TIME}s, best of $RUNS)"
    echo "pgfdw/sfdw, local/sfdw = time ratios (Q1, W3, W4: per-statement time), > 1 means shardfdw is faster"
    echo "direct = the same statement on shard p0 only (1/4 of the data), a reference"
    printf '%-4s %-42s %10s %12s %10s %10s %10s %10s %10s\n' \
        query "" shardfdw postgres_fdw plproxy direct local pgfdw/sfdw local/sfdw
    for q in "${QUERIES[@]}" "${WSHAPES[@]}"; do
        shape_wanted "$q" || continue
        printf '%-4s %-42s %10s %12s %10s %10s %10s %10s %10s\n' "$q" "${QDESC[$q]}" \
            "$(fmt "$q" "${RESULT[sfdw.$q]}")" "$(fmt "$q" "${RESULT[pgfdw.$q]}")" \
            "$(fmt "$q" "${RESULT[px.$q]}")" "$(fmt "$q" "${RESULT[direct.$q]}")" \
            "$(fmt "$q" "${RESULT[local.$q]}")" "$(ratio "$q" pgfdw)" "$(ratio "$q" local)"
    done
    for a in "${ANCHOR_NAMES[@]}"; do
        [ "${ANCHOR_OK[$a]}" = 1 ] || echo "anchor ${ANCHOR_LABEL[$a]}: n/a, ${ANCHOR_WHY[$a]}"
    done
    wr=""; [ "$WANT_WRITES" = 1 ] && wr=", and every write changed exactly the expected rows on every shard"
    [ "$MISMATCHES" -eq 0 ] && echo "results: the anchors return the same rows for every query that completed$wr" \
        || echo "results: $MISMATCHES MISMATCH(ES), marked '!' (see $RAW_LOG)"
    if [ "$WANT_WRITES" = 1 ]; then
        echo "targets (issue 7, acceptance 10):"
        for w in W1 W2; do
            shape_wanted "$w" || continue
            target_line "$w" pgfdw 2.5 "postgres_fdw time / shardfdw time"
            within_line "$w"
        done
        for w in W4 W3; do
            shape_wanted "$w" || continue
            if [ "$w" = W4 ]; then target_line W4 pgfdw 4 "shardfdw UPDATEs/s / postgres_fdw's"
            else target_line W3 pgfdw "" "shardfdw UPDATEs/s / postgres_fdw's"; fi
            target_line "$w" px "" "shardfdw UPDATEs/s / PL/Proxy's"
        done
    fi
    echo "configuration:"
    echo "  shardfdw: server sfdw_cluster (p0..p3), fetch_size $FETCH_SIZE, batch_size $SFDW_BATCH_SIZE"
    echo "  postgres_fdw: hash-partitioned parents, one foreign partition and server per shard (pgfdw_p0..p3): async_capable, use_remote_estimate off, fetch_size $FETCH_SIZE, batch_size $BATCH_SIZE; partitionwise join/aggregate on"
    echo "  plproxy: cluster px_cluster, RUN ON px.shard_of(uid) (Q1) / RUN ON ALL (Q2-Q7); cluster px_rot, RUN ON hashint4extended(uid, seed) (W3/W4); no COPY or INSERT ... SELECT (W1/W2 n/a)"
    echo "  direct: shard p0 (port ${SHARD_PORTS[0]}), its quarter of the rows; local: schema loc on the coordinator"
    echo "  load average: $(grep -m1 'load average before the queries' "$RAW_LOG" | sed 's/.*queries: \([0-9. ]*\).*/\1/') before the reads, $(grep -m1 'load average after the write shapes' "$RAW_LOG" | sed 's/.*shapes: //') after the writes (1, 5, 15 min)"
)
raw ""
raw "$TABLE"
echo
echo "$TABLE"
echo
echo "CSV: $RESULTS_CSV   raw log: $RAW_LOG"
fi

# ---------------------------------------------------------------- report: reference workload
if [ "$WANT_REF" = 1 ]; then
    if [ -z "$REF_CSV" ]; then
        if [ "$WANT_QW" = 1 ]; then REF_CSV="${RESULTS_CSV%.csv}-reference.csv"; else REF_CSV=$RESULTS_CSV; fi
    fi
    REF_SVG="${REF_CSV%.csv}.svg"
    ref_val() {    # anchor, shape, clients -> best tps, a failure word, or n/a; '!' marks a wrong result
        local v
        if [ "${REF_OK[$1]:-0}" != 1 ]; then echo "n/a"; return; fi
        v=${REF_TPS[$1.$2.$3]:-error}
        is_num "$v" && v=$(printf '%.0f' "$v")
        [ -n "${REF_BAD[$1.$2]:-}" ] && v="$v!"
        echo "$v"
    }
    ref_ratio() {  # shape, clients, other anchor -> shardfdw tps / other tps
        local s=${REF_TPS[sfdw.$1.$2]:-} o=${REF_TPS[$3.$1.$2]:-}
        if [ "${REF_OK[sfdw]:-0}" = 1 ] && [ "${REF_OK[$3]:-0}" = 1 ] && is_num "$s" && is_num "$o"; then
            awk -v s="$s" -v o="$o" 'BEGIN{ if (o > 0) printf "%.2f", s / o; else print "n/a" }'
        else echo "n/a"; fi
    }
    ref_lat_ratio() {  # shape, clients -> shardfdw latency / PL/Proxy latency
        local s=${REF_LAT[sfdw.$1.$2]:-} o=${REF_LAT[px.$1.$2]:-}
        if is_num "${REF_TPS[sfdw.$1.$2]:-}" && is_num "${REF_TPS[px.$1.$2]:-}" && is_num "$s" && is_num "$o"; then
            awk -v s="$s" -v o="$o" 'BEGIN{ if (o > 0) printf "%.2f", s / o; else print "n/a" }'
        else echo "n/a"; fi
    }
    ref_cpu() {    # anchor, shape, clients, C|S -> µs per transaction
        local v
        if [ "$4" = C ]; then v=${REF_CPU_C[$1.$2.$3]:-}; else v=${REF_CPU_S[$1.$2.$3]:-}; fi
        if is_num "${REF_TPS[$1.$2.$3]:-}" && [[ "$v" =~ ^-?[0-9.]+$ ]]; then printf '%.0f' "$v"; else echo "-"; fi
    }
    verdict() {    # ratio, op (ge|le), target
        local r=$1
        [ "$r" = n/a ] && { echo "not measured"; return; }
        if awk -v r="$r" -v t="$3" -v op="$2" 'BEGIN{ exit !(op == "ge" ? r >= t : r <= t) }'; then echo met; else echo MISSED; fi
    }
    # one line of the option list of a foreign server or table, from the catalog
    srv_opts() { psql_node coord -At -c "SELECT array_to_string(srvoptions, ', ') FROM pg_foreign_server WHERE srvname = '$1'" 2>/dev/null || echo "?"; }
    ft_opts() { psql_node coord -At -c "SELECT array_to_string(ftoptions, ', ') FROM pg_foreign_table WHERE ftrelid = to_regclass('$1')" 2>/dev/null || echo "?"; }
    jmax=$(nproc)

    {
        hdr="shape,description,clients,jobs,unit,shardfdw,postgres_fdw,plproxy,direct,local"
        hdr+=",ratio_shardfdw_over_plproxy,ratio_shardfdw_over_postgres_fdw,latency_ratio_shardfdw_over_plproxy"
        for a in "${ANCHOR_NAMES[@]}"; do hdr+=",latency_ms_${ANCHOR_LABEL[$a]}"; done
        for a in "${ANCHOR_NAMES[@]}"; do hdr+=",coord_us_per_txn_${ANCHOR_LABEL[$a]},shards_us_per_txn_${ANCHOR_LABEL[$a]}"; done
        hdr+=",runs,seconds,rows_per_shard"
        echo "$hdr"
        for s in "${REF_SHAPES[@]}"; do
            shape_wanted "$s" || continue
            for c in $REF_CLIENTS; do
                j=$c; [ "$j" -le "$jmax" ] || j=$jmax
                line="$s,${RDESC[$s]},$c,$j,tps"
                for a in "${ANCHOR_NAMES[@]}"; do line+=",$(ref_val "$a" "$s" "$c")"; done
                line+=",$(ref_ratio "$s" "$c" px),$(ref_ratio "$s" "$c" pgfdw),$(ref_lat_ratio "$s" "$c")"
                for a in "${ANCHOR_NAMES[@]}"; do
                    if is_num "${REF_TPS[$a.$s.$c]:-}"; then line+=",${REF_LAT[$a.$s.$c]:-}"; else line+=","; fi
                done
                for a in "${ANCHOR_NAMES[@]}"; do line+=",$(ref_cpu "$a" "$s" "$c" C),$(ref_cpu "$a" "$s" "$c" S)"; done
                line+=",$RUNS,$REF_TIME,$ROWS_PER_SHARD"
                echo "$line"
            done
        done
    } >"$REF_CSV"

    REF_TABLE=$(
        echo "reference workload (issue 9): $NSHARDS shards x ~$ROWS_PER_SHARD rows (userid 1..$NKEYS), tbl_small $SMALL_ROWS rows on every shard; $(nproc) CPUs"
        echo "pgbench -n -M prepared -T $REF_TIME, -c 1 -j 1 / -c 8 -j min(8, CPUs), best of $RUNS, anchors interleaved; transactions/s, higher is better"
        echo "sfdw/px, sfdw/pgfdw = shardfdw tps / the other's tps (> 1: shardfdw is faster)"
        printf '%-42s %3s %9s %12s %9s %9s %9s %8s %10s\n' shape -c shardfdw postgres_fdw plproxy direct local sfdw/px sfdw/pgfdw
        for s in "${REF_SHAPES[@]}"; do
            shape_wanted "$s" || continue
            for c in $REF_CLIENTS; do
                printf '%-42s %3s %9s %12s %9s %9s %9s %8s %10s\n' "$s ${RDESC[$s]}" "$c" \
                    "$(ref_val sfdw "$s" "$c")" "$(ref_val pgfdw "$s" "$c")" "$(ref_val px "$s" "$c")" \
                    "$(ref_val direct "$s" "$c")" "$(ref_val local "$s" "$c")" \
                    "$(ref_ratio "$s" "$c" px)" "$(ref_ratio "$s" "$c" pgfdw)"
            done
        done
        echo "CPU per transaction, microseconds: coordinator + shards (utime+stime of all processes of the coordinator cluster / of the 4 shard clusters, /proc, the best run)"
        printf '%-6s %3s %13s %13s %13s %13s %13s\n' shape -c shardfdw postgres_fdw plproxy direct local
        for s in "${REF_SHAPES[@]}"; do
            shape_wanted "$s" || continue
            for c in $REF_CLIENTS; do
                line=$(printf '%-6s %3s' "$s" "$c")
                for a in "${ANCHOR_NAMES[@]}"; do
                    if is_num "${REF_TPS[$a.$s.$c]:-}"; then
                        line+=$(printf ' %13s' "$(ref_cpu "$a" "$s" "$c" C) + $(ref_cpu "$a" "$s" "$c" S)")
                    else
                        line+=$(printf ' %13s' "$(ref_val "$a" "$s" "$c")")
                    fi
                done
                echo "$line"
            done
        done
        for a in "${ANCHOR_NAMES[@]}"; do
            [ "${REF_OK[$a]:-0}" = 1 ] || echo "anchor ${ANCHOR_LABEL[$a]}: n/a, ${REF_WHY[$a]:-not set up}"
        done
        nbad=0
        for k in "${!REF_BAD[@]}"; do nbad=$((nbad + 1)); done
        if [ "$nbad" -eq 0 ]; then
            echo "results: every lookup returned the owning shard's row on every anchor, every insert and update landed on the shard that owns the key (checked before the runs, and after every insert run: one row per transaction, all on their owning shard)"
        else
            echo "results: $nbad shape/anchor pair(s) with WRONG results, marked '!' (see $RAW_LOG)"
        fi
        echo "targets (issue 9, acceptance 1; computed, not asserted):"
        for s in R1 R2 R3 R4 R5 R7; do
            shape_wanted "$s" || continue
            r1=$(ref_ratio "$s" 8 px); r2=$(ref_ratio "$s" 8 pgfdw); r3=$(ref_lat_ratio "$s" 1)
            printf '  %-40s -c 8: sfdw/px %s (>= 2: %s), sfdw/pgfdw %s (>= 4: %s); -c 1: latency sfdw/px %s (<= 1.0: %s)\n' \
                "$s ${RDESC[$s]}" "$r1" "$(verdict "$r1" ge 2)" "$r2" "$(verdict "$r2" ge 4)" "$r3" "$(verdict "$r3" le 1.0)"
        done
        shape_wanted R6 && echo "  R6 count(*) over all shards: no target"
        echo "configuration:"
        cfg_ok() { [ "${REF_OK[$1]:-0}" = 1 ] || { echo "  ${ANCHOR_LABEL[$1]}: n/a, ${REF_WHY[$1]:-not set up}"; return 1; }; }
        cfg_ok sfdw && echo "  shardfdw: server sfdw_cluster ($(srv_opts sfdw_cluster)); userinfo/session/login_log: $(ft_opts sfdw.login_log); tbl_small: $(ft_opts sfdw.tbl_small) (read on any one shard); ANALYZEd; plain SQL, R3/R5 in BEGIN ... COMMIT"
        cfg_ok pgfdw && echo "  postgres_fdw: userinfo, session, login_log PARTITION BY HASH (userid), 4 foreign partitions, one server each (pgfdw_p0: $(srv_opts pgfdw_p0)); enable_partitionwise_aggregate, enable_partitionwise_join on; ANALYZEd; tbl_small: one foreign table on pgfdw_p0's copy (postgres_fdw has no replicated table); the same SQL"
        cfg_ok px && echo "  plproxy: R1-R5 cluster px_rot, RUN ON hashint4extended(uid, seed) (the hash placement, checked on 2000 keys): px.lookup_user, px.insert_login, px.lookup_insert and px.lookup_insert_update (one shard function does the whole transaction), px.touch_session (R4, as W3/W4); R6 px.count_users RUN ON ALL, summed on the coordinator; R7 px.get_small RUN ON ANY (cluster px_cluster)"
        cfg_ok direct && echo "  direct: shard p0 (port ${SHARD_PORTS[0]}) only, the same SQL with p0's keys only (the k-th of its $NP0 keys, an extra index probe per use of the key); R6 counts p0's quarter; R7 p0's tbl_small"
        cfg_ok local && echo "  local: schema loc on the coordinator (all rows, tbl_small copied from p0), the same SQL"
        echo "  all servers: synchronous_commit off, jit off, shared_buffers $SHARED_BUFFERS; CPU µs/txn include pgbench's connection set-up and each cluster's background processes"
        echo "  load average: $(grep -m1 'load average before the reference workload' "$RAW_LOG" | sed 's/.*workload: //') before, $(grep -m1 'load average after the reference workload' "$RAW_LOG" | sed 's/.*workload: //') after (1, 5, 15 min)"
    )
    raw ""
    raw "$REF_TABLE"
    echo
    echo "$REF_TABLE"
    if python3 "$REPO_ROOT/bench/chart.py" "$REF_CSV" "$REF_SVG" >>"$RAW_LOG" 2>&1; then
        chart="chart: $REF_SVG"
    else
        chart="chart: FAILED (raw log)"; log "bench/chart.py failed (raw log)"
    fi
    echo
    echo "CSV: $REF_CSV   $chart   raw log: $RAW_LOG"
fi

fail=0
for a in "${ANCHOR_NAMES[@]}"; do
    wanted "$a" && [ "${ANCHOR_OK[$a]}" != 1 ] && fail=1
done
[ "$FAILURES" -eq 0 ] && [ "$MISMATCHES" -eq 0 ] && [ "$fail" -eq 0 ] || exit 1
exit 0
