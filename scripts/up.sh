#!/usr/bin/env bash
# Brings up a local two-node Kubernetes cluster running Ciliate (no Docker needed) and runs the
# star-wars demo on it. Afterwards: eval "$(./bin/ciliate cluster env)"; kubectl get cep -A
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
./bin/ciliate cluster status >/dev/null 2>&1 && ./bin/ciliate cluster down
./bin/ciliate cluster up --nodes 2
./bin/ciliate demo
cat <<'MSG'

The cluster keeps running. Try:
  eval "$(./bin/ciliate cluster env)"
  kubectl get pods,cep -o wide
  ./bin/ciliate observe --verdict DROPPED
  ./bin/ciliate cluster down
MSG
