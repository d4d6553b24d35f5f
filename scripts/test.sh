#!/usr/bin/env bash
# scripts/test.sh: THE test command of shardfdw.
#
#   sudo bash scripts/test.sh        (or, as root: bash scripts/test.sh)
#
# What it does, in order:
#   1. installs the Debian packages it needs, only those missing (scripts/lib.sh);
#   2. copies the work tree to a scratch directory owned by `postgres`
#      (/tmp/shardfdw-test.XXXXXX), so the user's tree is never written to;
#   3. builds there as `postgres` (make), installs as root (make install);
#   4. runs the pg_regress suite (test/schedule, sql/, expected/) with
#      `make installcheck TAP_TESTS=` as `postgres`: a temporary instance
#      (--temp-instance) in the scratch copy, nothing else is touched;
#   5. runs every TAP test t/*.pl with prove, as `postgres`, one file at a
#      time, with the environment PGXS's prove_installcheck would give
#      (TESTDIR, PG_REGRESS, PATH with the PG 15 bindir, -I pgxs/src/test/perl);
#   6. prints failures (regression.diffs, TAP server logs) and ends with
#      exactly one line `N passed, N failed` (pg_regress tests + TAP
#      assertions; a TAP file that dies counts as one more failure), and exits
#      non-zero if anything failed or nothing ran.
#
# Environment knobs (all optional):
#   KEEP=1                  keep the scratch directory even when all passed
#   PROVE_TESTS='t/001_x.pl t/002_y.pl'   run only these TAP files
#   REGRESS='init foo'      run only these pg_regress tests (keep init first:
#                           it creates the shard databases the others use)
#   SKIP_TAP=1 / SKIP_REGRESS=1           skip one of the two suites
#
# Every server started here is stopped on exit, even on failure or Ctrl-C
# (pg_regress and PostgreSQL::Test::Cluster stop their own; the exit trap
# stops any that is left under the scratch directory).

set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd /    # never depend on (or write to) the caller's directory

require_root
ensure_packages

SCRATCH=$(mktemp -d /tmp/shardfdw-test.XXXXXX)
chmod 755 "$SCRATCH"
W="$SCRATCH/shardfdw"            # the copy of the work tree
PASSED=0
FAILED=0
CLEANED=0

cleanup() {
    [ "$CLEANED" -eq 1 ] && return 0
    CLEANED=1
    stop_clusters_under "$SCRATCH"
    if [ "$FAILED" -eq 0 ] && [ "${KEEP:-0}" != 1 ]; then
        rm -rf "$SCRATCH"
    else
        # Keep logs and diffs for a look, drop the bulky data directories.
        find "$SCRATCH" -depth -type f -name PG_VERSION -path '*/PG_VERSION' \
            -printf '%h\n' 2>/dev/null | { grep -v '/base/' || true; } | xargs -r rm -rf
        log "scratch directory kept: $SCRATCH"
    fi
}
trap 'cleanup >/dev/null 2>&1 || true' EXIT

finish() {
    cleanup
    local total=$((PASSED + FAILED))
    if [ "$total" -eq 0 ]; then
        log "no test ran at all: treating that as a failure"
    fi
    echo "$PASSED passed, $FAILED failed"
    if [ "$FAILED" -ne 0 ] || [ "$total" -eq 0 ]; then
        exit 1
    fi
    exit 0
}

log "copying work tree $REPO_ROOT -> $W"
stage_tree "$W"

# ---------------------------------------------------------------- build
if ! build_and_install "$W"; then
    log "BUILD FAILED"
    FAILED=$((FAILED + 1))
    finish
fi

# ---------------------------------------------------------------- pg_regress
run_regress() {
    local rc=0 out="$SCRATCH/regress.log" counts p f
    local -a extra=(PG_CONFIG="$PG_CONFIG" TAP_TESTS=)
    [ -n "${REGRESS:-}" ] && extra+=(REGRESS="$REGRESS")
    log "pg_regress: make installcheck ($(tr '\n' ' ' < "$W/test/schedule"))"
    (cd "$W" && as_pg make installcheck "${extra[@]}") 2>&1 | tee "$out" || rc=$?

    # PG 15 prints one line per test, e.g.
    #   "test init                         ... ok           52 ms"
    #   "     foo                          ... FAILED       10 ms"  (parallel group)
    #   "test bar                         ... failed (ignored)"
    counts=$(awk '
        /^(test )? *[^ ]+ +\.\.\. +ok/              { p++; next }
        /^(test )? *[^ ]+ +\.\.\. +failed \(ignored\)/ { p++; next }
        /^(test )? *[^ ]+ +\.\.\. +FAILED/          { f++; next }
        END { printf "%d %d\n", p, f }' "$out")
    read -r p f <<<"$counts"
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        # pg_regress itself failed (initdb, server start, CREATE EXTENSION...).
        log "pg_regress failed before/around the tests (exit $rc)"
        f=$((f + 1))
        if [ -f "$W/log/postmaster.log" ]; then
            log "tail of log/postmaster.log:"
            tail -n 60 "$W/log/postmaster.log" >&2 || true
        fi
    fi
    if [ -s "$W/regression.diffs" ]; then
        log "regression.diffs (first 300 lines):"
        head -n 300 "$W/regression.diffs"
    fi
    log "pg_regress: $p passed, $f failed"
    PASSED=$((PASSED + p))
    FAILED=$((FAILED + f))
    # Keep pg_regress's logs apart: TAP gets a fresh tmp_check.
    if [ -d "$W/tmp_check" ]; then
        stop_clusters_under "$W/tmp_check"
        mv "$W/tmp_check" "$W/tmp_check_regress"
    fi
}

# ---------------------------------------------------------------- TAP
run_tap() {
    local -a files=()
    local f name rc out counts p nf
    if [ -n "${PROVE_TESTS:-}" ]; then
        # shellcheck disable=SC2206
        files=($PROVE_TESTS)
    else
        shopt -s nullglob
        files=("$W"/t/*.pl)
        shopt -u nullglob
        files=("${files[@]#"$W"/}")
    fi
    if [ "${#files[@]}" -eq 0 ]; then
        log "TAP: no t/*.pl tests"
        return 0
    fi
    as_pg rm -rf "$W/tmp_check"
    as_pg mkdir -p "$W/tmp_check"
    for f in "${files[@]}"; do
        name=$(basename "$f" .pl)
        out="$SCRATCH/tap-$name.log"
        log "TAP: prove $f"
        rc=0
        # Same environment as PGXS's prove_installcheck (Makefile.global):
        # PG 15 has no prove-installcheck target, so call prove directly.
        (cd "$W" && as_pg env \
            TESTDIR="$W" \
            PGPORT=65432 \
            PG_REGRESS="$PGXS_DIR/src/test/regress/pg_regress" \
            /usr/bin/prove -v -I "$PGXS_DIR/src/test/perl/" -I "$W" "$f") \
            2>&1 | tee "$out" || rc=$?
        # Top-level TAP assertions only (subtests are indented).
        counts=$(awk '
            /^not ok [0-9]+.*# *TODO/ { p++; next }
            /^not ok [0-9]+/          { f++; next }
            /^ok [0-9]+/              { p++; next }
            END { printf "%d %d\n", p, f }' "$out")
        read -r p nf <<<"$counts"
        if [ "$rc" -ne 0 ] && [ "$nf" -eq 0 ]; then
            log "TAP: $f died or had a bad plan (prove exit $rc)"
            nf=1
        fi
        PASSED=$((PASSED + p))
        FAILED=$((FAILED + nf))
        if [ "$nf" -ne 0 ]; then
            local lf
            for lf in "$W/tmp_check/log/regress_log_$name" "$W/tmp_check/log/${name}"_*.log; do
                [ -f "$lf" ] || continue
                log "tail of ${lf#"$W"/}:"
                tail -n 80 "$lf"
            done
        fi
        log "TAP: $f: $p passed, $nf failed"
    done
}

[ "${SKIP_REGRESS:-0}" = 1 ] || run_regress
[ "${SKIP_TAP:-0}" = 1 ] || run_tap
finish
