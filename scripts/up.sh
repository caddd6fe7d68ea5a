#!/usr/bin/env bash
# Brings up a local Kubernetes cluster running Ciliate (no Docker needed) and installs its CRDs.
# Afterwards: eval "$(./bin/ciliate cluster env)"; kubectl get cep -A
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
./bin/ciliate cluster up "$@"
eval "$(./bin/ciliate cluster env "$@")"
kubectl apply --server-side -f crds/ >/dev/null
kubectl wait --for=condition=Established --timeout=60s -f crds/ >/dev/null
echo "Ciliate's CRDs are installed. Try:"
echo "  eval \"\$(./bin/ciliate cluster env)\""
echo "  kubectl get ciliumendpoints -A"
