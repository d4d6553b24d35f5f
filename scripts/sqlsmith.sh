#!/usr/bin/env bash
# scripts/sqlsmith.sh: the long sqlsmith pass of shardfdw (as root).
#
#   bash scripts/sqlsmith.sh                  50,000 queries, seeds 1001..1010
#   bash scripts/sqlsmith.sh 200000 5001      200,000 queries from seed 5001
#
# It runs t/020_sqlsmith.pl (and nothing else) through scripts/test.sh, so
# it installs what is missing, builds and installs the tree, and ends with
# the same `N passed, N failed` line; the bounded pass of the test command
# runs the same file with 4 seeds.  The queries are split into runs of
# PER_SEED (default 5000) generated statements, one sqlsmith seed each,
# consecutive seeds from FIRST_SEED.  Every crash, internal error (XX000)
# and error the local twin tables do not raise is printed with its query.
#
# Arguments: [TOTAL [FIRST_SEED]]; environment: PER_SEED, and
# SHARDFDW_SQLSMITH_TIMEOUT (statement_timeout, default 2s), KEEP=1 as for
# scripts/test.sh.

set -euo pipefail

total=${1:-50000}
first=${2:-1001}
per=${PER_SEED:-5000}
case "$total$first$per" in
    *[!0-9]*) echo "usage: $0 [TOTAL [FIRST_SEED]] (numbers)" >&2; exit 2 ;;
esac
[ "$per" -gt 0 ] && [ "$total" -gt 0 ] || { echo "TOTAL and PER_SEED must be positive" >&2; exit 2; }

[ "$per" -le "$total" ] || per=$total
n=$(( (total + per - 1) / per ))
seeds=$(seq -s, "$first" $((first + n - 1)))

echo "==> sqlsmith long pass: $n seeds ($seeds), $per queries each" >&2
export SHARDFDW_SQLSMITH_SEEDS=$seeds
export SHARDFDW_SQLSMITH_QUERIES=$per
export PROVE_TESTS=t/020_sqlsmith.pl
export SKIP_REGRESS=1
exec bash "$(dirname "${BASH_SOURCE[0]}")/test.sh"
