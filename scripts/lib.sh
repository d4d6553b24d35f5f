# shellcheck shell=bash disable=SC2034
# scripts/lib.sh: helpers shared by scripts/test.sh and scripts/demo.sh.
#
# Source it, do not run it:   . "$(dirname "$0")/lib.sh"
#
# What it provides
#   REPO_ROOT, PG_CONFIG, PG_BINDIR, PGXS_DIR    paths (PostgreSQL 15, Debian layout)
#   log MSG...                 progress line on stderr
#   die MSG...                 error line on stderr, exit 1
#   require_root               refuse to run unless uid 0 (needed for apt-get,
#                              `make install` and runuser)
#   ensure_packages            apt-get install what the build/tests need, only
#                              when something is missing (dpkg -s), so it is
#                              idempotent and offline-safe once installed
#   as_pg CMD...               run CMD as the `postgres` OS user with the PG 15
#                              bindir first on PATH (initdb refuses root)
#   stage_tree DEST            copy the work tree (minus .git and build/test
#                              output) to DEST and chown it to postgres, so the
#                              user's tree is never written to
#   build_and_install DIR [LOG] `make` as postgres in DIR, `make install` as
#                              root; with LOG, output goes there (shown on failure)
#   stop_clusters_under DIR    stop every PostgreSQL server whose data directory
#                              (postmaster.pid) lies under DIR

set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PG_MAJOR=15
PG_CONFIG=/usr/bin/pg_config
PG_BINDIR=/usr/lib/postgresql/$PG_MAJOR/bin
PGXS_DIR=/usr/lib/postgresql/$PG_MAJOR/lib/pgxs
PG_OS_USER=postgres

# Packages the build, the tests and the demo need.  postgresql-15 brings the
# server and contrib modules; postgresql-client-15 brings pg_regress and the
# TAP Perl modules (PostgreSQL::Test::Cluster, under pgxs/src/test/perl);
# postgresql-server-dev-15 brings PGXS, libpq-dev and clang/llvm for the
# bitcode; libipc-run-perl is needed by PostgreSQL::Test::Cluster; perl brings
# prove; plproxy is the benchmark anchor; sqlsmith generates the random queries
# of t/020_sqlsmith.pl.
REQUIRED_PACKAGES=(
    "postgresql-$PG_MAJOR"
    "postgresql-client-$PG_MAJOR"
    "postgresql-server-dev-$PG_MAJOR"
    "postgresql-$PG_MAJOR-plproxy"
    libipc-run-perl
    perl
    sqlsmith
    make
    gcc
)

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

require_root() {
    [ "$(id -u)" -eq 0 ] || die "run as root (sudo bash $0): needs apt-get, make install and runuser"
}

pkg_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

ensure_packages() {
    local missing=() p
    for p in "${REQUIRED_PACKAGES[@]}"; do
        pkg_installed "$p" || missing+=("$p")
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        return 0
    fi
    log "installing missing packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    id "$PG_OS_USER" >/dev/null 2>&1 || die "package install did not create the $PG_OS_USER user"
}

# Run a command as the postgres OS user, PG 15 binaries first on PATH, in the
# current directory.  HOME is set so psql/perl do not try to use /root.
as_pg() {
    runuser -u "$PG_OS_USER" -- env \
        PATH="$PG_BINDIR:/usr/local/bin:/usr/bin:/bin" \
        HOME=/var/lib/postgresql \
        LANG=C.UTF-8 LC_ALL=C.UTF-8 \
        "$@"
}

stage_tree() {
    local dest=$1
    mkdir -p "$dest"
    # tar so that build/test output of the user's tree is left behind.
    tar -C "$REPO_ROOT" \
        --exclude=./.git --exclude=./tmp_check --exclude=./results \
        --exclude=./log --exclude=./output_iso \
        --exclude=./regression.diffs --exclude=./regression.out \
        --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
        -cf - . | tar -C "$dest" -xf -
    chown -R "$PG_OS_USER": "$dest"
}

build_and_install() {
    local dir=$1 out=${2:-}
    # Without LOG the output goes straight to our stdout/stderr.
    if [ -n "$out" ]; then
        build_and_install "$dir" >>"$out" 2>&1 || { tail -n 100 "$out" >&2; return 1; }
        return 0
    fi
    log "building shardfdw in $dir"
    (cd "$dir" && as_pg make -j"$(nproc)" PG_CONFIG="$PG_CONFIG") || return 1
    log "installing shardfdw (make install, as root)"
    (cd "$dir" && make install PG_CONFIG="$PG_CONFIG") || return 1
}

stop_clusters_under() {
    local root=$1 pidfile datadir
    [ -d "$root" ] || return 0
    while IFS= read -r pidfile; do
        datadir=$(dirname "$pidfile")
        log "stopping leftover server in $datadir"
        as_pg "$PG_BINDIR/pg_ctl" -D "$datadir" -m immediate -w stop >/dev/null 2>&1 || {
            # pg_ctl could not do it (e.g. data dir half-removed): signal the PID
            # recorded in this very postmaster.pid, nothing broader.
            local pid
            pid=$(head -n1 "$pidfile" 2>/dev/null || true)
            if [ -n "$pid" ] && grep -qs postgres "/proc/$pid/comm"; then
                kill -QUIT "$pid" 2>/dev/null || true
            fi
        }
    done < <(find "$root" -name postmaster.pid -type f 2>/dev/null)
}

# require_free_port PORT: die unless no PostgreSQL server answers (or even
# rejects) on 127.0.0.1:PORT.
require_free_port() {
    local rc=0
    "$PG_BINDIR/pg_isready" -q -h 127.0.0.1 -p "$1" -t 2 || rc=$?
    if [ "$rc" -eq 0 ] || [ "$rc" -eq 1 ]; then
        die "port $1 on 127.0.0.1 is already in use; stop that server first"
    fi
}

# init_node DIR NAME PORT: initdb DIR/NAME as the postgres user (trust auth,
# UTF8, C.UTF-8) and give it the settings every local test server shares:
# PORT on 127.0.0.1 only, its Unix socket in DIR.  Callers append their own
# settings to DIR/NAME/postgresql.conf.
init_node() {
    local dir=$1 name=$2 port=$3
    as_pg initdb -D "$dir/$name" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
        >"$dir/$name.initdb.log" 2>&1 || { cat "$dir/$name.initdb.log" >&2; die "initdb $name failed"; }
    cat >>"$dir/$name/postgresql.conf" <<EOF_NODE

port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
max_connections = 100
EOF_NODE
}
