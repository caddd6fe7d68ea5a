#!/usr/bin/env bash
# Runs upstream's [sig-network] NetworkPolicy specs and a slice of the Services conformance specs
# (the pinned e2e.test, built on first use) against Ciliate on a fresh two-node local cluster, which
# it removes afterwards, or on a running one (--cluster NAME). Prints pass/fail/skip counts per suite
# and the failing specs. See bench/peer/README.md.
#
#   scripts/peer-suites.sh [netpol|services|services-extended|all] [--slice] [--cluster NAME | --kubeconfig PATH] [--procs N] [--out DIR] [--keep-cluster]
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d /usr/local/go/bin ] && export PATH="/usr/local/go/bin:$PATH"
exec node --import tsx bench/peer/run.ts "$@"
