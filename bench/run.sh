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
#   7. prints a table and writes bench/results.csv and the raw log bench/results.log.
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
    psql_node "shard$i" -v shard="$i" -v nshards="$NSHARDS" -v nkeys="$NKEYS" <<'SQL'
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
for q in Q1 Q2 Q3 Q4 Q5 Q6 Q7; do shape_wanted "$q" && WANT_READS=1; done
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
QUERIES=(Q1 Q2 Q3 Q4 Q5 Q6 Q7)
declare -A QDESC=(
    [Q1]="lookup by primary key (pgbench, TPS)"
    [Q2]="count(*)"
    [Q3]="GROUP BY info, 5 aggregates (100 groups)"
    [Q4]="ORDER BY info, userid LIMIT 10"
    [Q5]="co-located join + GROUP BY"
    [Q6]="GROUP BY grp, float avg/sum (100 groups)"
    [Q7]="GROUP BY grp, float variance/stddev"
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
    for q in Q2 Q3 Q4 Q5 Q6 Q7; do
        shape_wanted "$q" || continue
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

fail=0
for a in "${ANCHOR_NAMES[@]}"; do
    wanted "$a" && [ "${ANCHOR_OK[$a]}" != 1 ] && fail=1
done
[ "$FAILURES" -eq 0 ] && [ "$MISMATCHES" -eq 0 ] && [ "$fail" -eq 0 ] || exit 1
exit 0
