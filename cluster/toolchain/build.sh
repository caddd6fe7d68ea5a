#!/usr/bin/env bash
# Builds etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl and helm from upstream
# module sources through the Go module proxy, into a cache outside the repo keyed by version.
# Prints the bin directory on stdout when done; progress goes to stderr. Safe to run concurrently
# (a lock serialises builders) and idempotent (a finished cache is reused as is).
#
#   build.sh              the cluster's toolchain (the default; what `cluster up` and setup use)
#   build.sh kube-proxy   only upstream kube-proxy of the same Kubernetes version, on demand, into its
#                         own cache folder kube-proxy-v<version> (the services bench's peer)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
cache_root=${CILIATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ciliate}
target=${1:-cluster}
case "$target" in
  cluster) key="k8s-v${KUBERNETES_VERSION}_etcd-v${ETCD_VERSION}_helm-v${HELM_VERSION}" ;;
  kube-proxy) key="kube-proxy-v${KUBERNETES_VERSION}" ;;
  *) printf '[toolchain] unknown target %s (cluster | kube-proxy)\n' "$target" >&2; exit 2 ;;
esac
out="$cache_root/toolchain/$key"
bin="$out/bin"
log() { printf '[toolchain] %s\n' "$*" >&2; }

if [ -f "$out/.complete" ]; then echo "$bin"; exit 0; fi
command -v go >/dev/null || { log "go is not installed: the Go toolchain is needed to build the cluster"; exit 1; }
mkdir -p "$out"
exec 9>"$out/.lock"
flock 9
if [ -f "$out/.complete" ]; then echo "$bin"; exit 0; fi
mkdir -p "$bin"
export GOFLAGS=-mod=mod CGO_ENABLED=0 GOTOOLCHAIN=local
work=$(mktemp -d "$out/work.XXXXXX")
trap 'rm -rf "$work"' EXIT

build_etcd() {
  [ -x "$bin/etcd" ] && return
  log "building etcd v$ETCD_VERSION"
  mkdir -p "$work/etcd" && cd "$work/etcd"
  go mod init local/etcdbuild >/dev/null 2>&1
  go get -tool "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" >&2
  go build -trimpath -ldflags "-s -w" -o "$bin/etcd" go.etcd.io/etcd/server/v3
}

# build_kubernetes CMD...: the named k8s.io/kubernetes/cmd binaries that are not built yet.
build_kubernetes() {
  local want=("$@") missing=() c
  for c in "${want[@]}"; do [ -x "$bin/$c" ] || missing+=("$c"); done
  [ ${#missing[@]} -eq 0 ] && return
  log "building Kubernetes v$KUBERNETES_VERSION: ${missing[*]}"
  mkdir -p "$work/k8s" && cd "$work/k8s"
  go mod init local/k8sbuild >/dev/null 2>&1
  local mod staging goline
  mod=$(go mod download -json "k8s.io/kubernetes@v$KUBERNETES_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')
  [ -f "$mod" ] || { log "could not fetch the go.mod of k8s.io/kubernetes@v$KUBERNETES_VERSION"; exit 1; }
  staging="v0.${KUBERNETES_VERSION#1.}"
  goline=$(awk '$1=="go"{print $2; exit}' "$mod")
  local n=0 m
  for m in $(sed -n 's|^[[:space:]]*\(k8s\.io/[^ ]*\) => \./staging/.*|\1|p' "$mod"); do
    go mod edit -replace="$m=$m@$staging"; n=$((n + 1))
  done
  [ "$n" -gt 0 ] || { log "no staging replaces found in $mod"; exit 1; }
  go mod edit -go="$goline" -godebug="default=go$(echo "$goline" | cut -d. -f1,2)"
  for c in "${missing[@]}"; do go get -tool "k8s.io/kubernetes/cmd/$c@v$KUBERNETES_VERSION" >&2; done
  local minor ldf="-s -w" k date
  minor=$(echo "$KUBERNETES_VERSION" | cut -d. -f2)
  date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  for k in client-go/pkg/version component-base/version; do
    ldf+=" -X k8s.io/$k.gitVersion=v$KUBERNETES_VERSION -X k8s.io/$k.gitMajor=1 -X k8s.io/$k.gitMinor=$minor"
    ldf+=" -X k8s.io/$k.gitTreeState=clean -X k8s.io/$k.buildDate=$date"
  done
  local pkgs=()
  for c in "${missing[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
  go build -trimpath -ldflags "$ldf" -o "$bin/" "${pkgs[@]}"
}

build_helm() {
  [ -x "$bin/helm" ] && return
  log "building helm v$HELM_VERSION"
  mkdir -p "$work/helm" && cd "$work/helm"
  go mod init local/helmbuild >/dev/null 2>&1
  go get -tool "helm.sh/helm/v3/cmd/helm@v$HELM_VERSION" >&2
  go build -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION" -o "$bin/helm" helm.sh/helm/v3/cmd/helm
}

start=$(date +%s)
if [ "$target" = kube-proxy ]; then
  build_kubernetes kube-proxy
else
  build_etcd
  build_kubernetes kube-apiserver kube-controller-manager kube-scheduler kubectl
  build_helm
fi
touch "$out/.complete"
log "built in $(( $(date +%s) - start ))s into $bin"
echo "$bin"
