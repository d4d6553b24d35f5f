#!/usr/bin/env bash
# bench/twophase.sh: what two-phase commit costs (issue 8, acceptance 7).
#
#   bash bench/twophase.sh               (as root; ACCOUNTS, RUNS, SECONDS_PER_RUN)
#
# One coordinator and 4 shards on 127.0.0.1 (ports BENCH_PORT .. +4, default
# 55600), table acct (id int primary key, bal int) hash-distributed over the
# shards through shardfdw.  pgbench -M prepared runs, best of RUNS:
#   T1 transfer: BEGIN; two UPDATEs by key on two different shards; COMMIT
#      (a multi-shard write transaction), with the server's two_phase_commit
#      on (the default) and then off (one-phase COMMITs in parallel);
#   T2 single-shard: BEGIN; two UPDATEs by key on the same shard; COMMIT,
#      which commits one-phase either way (a control: it must not change).
# -c 1 (latency) and -c 8 (throughput).  It prints a table, writes
# bench/results-twophase.csv and the raw log bench/results-twophase.log; the
# sum of the balances is checked after every run (a transfer moves 1 unit),
# and no prepared transaction may be left on a shard.  The servers are
# stopped on exit, also on failure.

. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
require_root
ensure_packages

ACCOUNTS=${ACCOUNTS:-100000}
RUNS=${RUNS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
PORT0=${BENCH_PORT:-55600}
DIR=${BENCH_DIR:-/tmp/shardfdw-bench-2pc}
CSV="$REPO_ROOT/bench/results-twophase.csv"
LOG="$REPO_ROOT/bench/results-twophase.log"
NSHARDS=4

on_exit() { stop_clusters_under "$DIR"; }
trap on_exit EXIT

stop_clusters_under "$DIR"
rm -rf "$DIR"
mkdir -p "$DIR"
chown postgres: "$DIR"
: >"$LOG"
raw() { printf '%s\n' "$*" >>"$LOG"; }

for p in $(seq "$PORT0" $((PORT0 + NSHARDS))); do require_free_port "$p"; done

stage_tree "$DIR/src"
build_and_install "$DIR/src" "$DIR/build.log"

psql_p() { local port=$1; shift; as_pg psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -d postgres "$@"; }

for i in $(seq 0 "$NSHARDS"); do
    name=$([ "$i" = "$NSHARDS" ] && echo coord || echo "shard$i")
    port=$((PORT0 + i))
    init_node "$DIR" "$name" "$port"
    cat >>"$DIR/$name/postgresql.conf" <<EOF
shared_buffers = 128MB
max_prepared_transactions = 64
synchronous_commit = on
log_min_messages = warning
EOF
    as_pg pg_ctl -D "$DIR/$name" -l "$DIR/$name.log" -w -t 60 start >/dev/null \
        || { tail -n 20 "$DIR/$name.log" >&2; die "could not start $name"; }
done
COORD=$((PORT0 + NSHARDS))

log "loading $ACCOUNTS accounts over $NSHARDS shards"
for i in $(seq 0 $((NSHARDS - 1))); do
    psql_p $((PORT0 + i)) -c "
CREATE TABLE probe (id int) PARTITION BY HASH (id);
CREATE TABLE acct (id int PRIMARY KEY, bal int NOT NULL);
INSERT INTO acct SELECT g, 1000 FROM generate_series(1, $ACCOUNTS) g
 WHERE satisfies_hash_partition('probe'::regclass, $NSHARDS, $i, g);"
    psql_p $((PORT0 + i)) -c "VACUUM ANALYZE acct"
done
opts=""
for i in $(seq 0 $((NSHARDS - 1))); do
    opts="$opts, p$i 'host=127.0.0.1 port=$((PORT0 + i)) dbname=postgres'"
done
psql_p "$COORD" -c "
CREATE EXTENSION shardfdw;
CREATE SERVER cluster FOREIGN DATA WRAPPER shardfdw OPTIONS (${opts#, });
CREATE USER MAPPING FOR postgres SERVER cluster;
CREATE FOREIGN TABLE acct (id int, bal int) SERVER cluster
  OPTIONS (distribution_column 'id');
-- per key, its shard, to draw pairs of keys on two shards or on one
CREATE TABLE keymap AS
  SELECT g AS id, shardfdw.shard_for('acct'::regclass, g) AS shard
    FROM generate_series(1, $ACCOUNTS) g;"

# T1: two random keys (about 3 pairs in 4 lie on two shards), the lower one
# first, so that concurrent transfers cannot deadlock across shards (which
# nothing detects yet); 1 unit moves from the lower to the higher.
cat >"$DIR/t1.sql" <<EOF
\set a random(1, $ACCOUNTS)
\set b random(1, $ACCOUNTS)
\set lo least(:a, :b)
\set hi greatest(:a, :b)
BEGIN;
UPDATE acct SET bal = bal - 1 WHERE id = :lo;
UPDATE acct SET bal = bal + 1 WHERE id = :hi;
COMMIT;
EOF
# T2: the same key twice: one shard
cat >"$DIR/t2.sql" <<EOF
\set a random(1, $ACCOUNTS)
BEGIN;
UPDATE acct SET bal = bal - 1 WHERE id = :a;
UPDATE acct SET bal = bal + 1 WHERE id = :a;
COMMIT;
EOF
chown postgres: "$DIR"/t*.sql

total() { psql_p "$COORD" -At -c "SELECT sum(bal) FROM acct"; }
prepared_left() {
    local n=0 k
    for i in $(seq 0 $((NSHARDS - 1))); do
        k=$(psql_p $((PORT0 + i)) -At -c "SELECT count(*) FROM pg_prepared_xacts")
        n=$((n + k))
    done
    echo "$n"
}
want=$((ACCOUNTS * 1000))

declare -A BEST
echo "shape,two_phase_commit,clients,tps" >"$CSV"
for tpc in true false; do
    psql_p "$COORD" -c "ALTER SERVER cluster OPTIONS (ADD two_phase_commit '$tpc')"
    for shape in T1 T2; do
        for c in 1 8; do
            best=0
            for r in $(seq 1 "$RUNS"); do
                out=$(as_pg pgbench -n -M prepared -h 127.0.0.1 -p "$COORD" -c "$c" -j "$c" \
                    -T "$SECONDS_PER_RUN" -f "$DIR/$(echo "$shape" | tr T t).sql" postgres 2>&1) \
                    || { echo "$out" >&2; die "pgbench $shape failed"; }
                tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\) .*/\1/p')
                raw "$shape two_phase_commit=$tpc -c $c run $r: tps=$tps"
                [ "$(total)" = "$want" ] || die "$shape: the balances no longer add up"
                awk "BEGIN { exit !($tps > $best) }" && best=$tps
            done
            [ "$(prepared_left)" = 0 ] || die "$shape: prepared transactions left on the shards"
            BEST[$shape,$tpc,$c]=$best
            echo "$shape,$tpc,$c,$best" >>"$CSV"
        done
    done
    psql_p "$COORD" -c "ALTER SERVER cluster OPTIONS (DROP two_phase_commit)"
done
records=$(psql_p "$COORD" -At -c "SELECT count(*) FROM shardfdw.commit_records")
two_shards=$(psql_p "$COORD" -At -c "
SELECT round(100.0 * count(*) FILTER (WHERE a.shard <> b.shard) / count(*), 1)
  FROM keymap a JOIN keymap b ON b.id = (a.id * 7919) % $ACCOUNTS + 1")

printf '\n%-44s %14s %14s %10s\n' "transactions/s, best of $RUNS x ${SECONDS_PER_RUN}s" "two-phase" "one-phase" "ratio"
for shape in T1 T2; do
    for c in 1 8; do
        a=${BEST[$shape,true,$c]}; b=${BEST[$shape,false,$c]}
        d=$([ "$shape" = T1 ] && echo "T1 transfer over 2 keys (-c $c)" || echo "T2 one shard, 2 UPDATEs (-c $c)")
        printf '%-44s %14.0f %14.0f %10.2f\n' "$d" "$a" "$b" "$(awk "BEGIN { print $a / $b }")"
    done
done
echo
echo "T1 draws two random keys: about 3 in 4 pairs lie on two shards (a sample of pairs: ${two_shards} %);"
echo "the others commit one-phase either way.  Balances added up after every run, and no"
echo "prepared transaction was left; $records commit records are waiting for recovery."
echo "CSV: $CSV   raw log: $LOG"
