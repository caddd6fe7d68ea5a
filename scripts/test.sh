#!/usr/bin/env bash
# Runs Ciliate's whole test suite on this machine: setup, type check, lint, generated-file check,
# then every test (unit, real apiserver, real kernel). The last line is "N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
[ -d /usr/local/go/bin ] && export PATH="/usr/local/go/bin:$PATH"
echo "[test] type check" >&2
npx tsc -p .
echo "[test] lint" >&2
npx eslint .
echo "[test] generated CRDs and types are fresh" >&2
npx tsx crds/generate.ts --check
echo "[test] tests" >&2
# The whole suite: suites whose peer is a Go binary (agnhost, hubble, e2e.test) build it on first use.
export CILIATE_BUILD_IMAGES="${CILIATE_BUILD_IMAGES:-1}"
exec npx mocha 'test/**/*.test.ts' "$@"
