#!/usr/bin/env bash
# Builds the local cluster's binaries from upstream module sources through the Go module proxy, into a
# cache outside the repo keyed by version. Prints the bin directory on stdout when done; progress goes
# to stderr. Safe to run concurrently (a lock serialises builders of one target) and idempotent: a
# target is done when every binary it names is there, and only missing ones are built (so a cache made
# before a binary joined its target gets just that binary).
#
#   build.sh              the cluster's toolchain (the default; what `cluster up` and setup use): etcd,
#                         kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kubelet, helm
#   build.sh kube-proxy   upstream kube-proxy of the same Kubernetes version (the services bench's peer)
#   build.sh agnhost      k8s.io/kubernetes/test/images/agnhost of that version (the e2e test image's binary)
#   build.sh coredns      CoreDNS of the version Kubernetes ships (versions.env COREDNS_VERSION)
#   build.sh e2e          Kubernetes' e2e.test of that version and the ginkgo v2 its go.mod requires
#   build.sh hubble       the upstream `hubble` CLI (versions.env HUBBLE_VERSION), the Hubble API's test peer
# The targets other than `cluster` are built on demand, each into its own cache folder.
#   build.sh TARGET --check   prints the bin directory if TARGET is built, else exits 3; never builds
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
cache_root=${CILIATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ciliate}
target=${1:-cluster}
case "$target" in
  cluster)
    key="k8s-v${KUBERNETES_VERSION}_etcd-v${ETCD_VERSION}_helm-v${HELM_VERSION}"
    binaries=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet helm) ;;
  kube-proxy) key="kube-proxy-v${KUBERNETES_VERSION}"; binaries=(kube-proxy) ;;
  agnhost) key="agnhost-v${KUBERNETES_VERSION}"; binaries=(agnhost) ;;
  coredns) key="coredns-v${COREDNS_VERSION}"; binaries=(coredns) ;;
  e2e) key="e2e-v${KUBERNETES_VERSION}"; binaries=(e2e.test ginkgo) ;;
  hubble) key="hubble-v${HUBBLE_VERSION}"; binaries=(hubble) ;;
  *) printf '[toolchain] unknown target %s (cluster | kube-proxy | agnhost | coredns | e2e | hubble)\n' "$target" >&2; exit 2 ;;
esac
out="$cache_root/toolchain/$key"
bin="$out/bin"
log() { printf '[toolchain] %s\n' "$*" >&2; }
all_built() {
  local b
  for b in "${binaries[@]}"; do [ -x "$bin/$b" ] || return 1; done
}

if all_built; then echo "$bin"; exit 0; fi
[ "${2:-}" = --check ] && exit 3
command -v go >/dev/null || { log "go is not installed: the Go toolchain is needed to build the cluster"; exit 1; }
mkdir -p "$out"
exec 9>"$out/.lock"
flock 9
if all_built; then echo "$bin"; exit 0; fi
mkdir -p "$bin"
export GOFLAGS=-mod=mod CGO_ENABLED=0 GOTOOLCHAIN=local
work=$(mktemp -d "$out/work.XXXXXX")
trap 'rm -rf "$work"' EXIT

# go_module_build NAME MODULE@VERSION PACKAGE LDFLAGS: one binary of a module that needs no replaces.
go_module_build() {
  local name=$1 module=$2 pkg=$3 ldflags=$4
  [ -x "$bin/$name" ] && return
  log "building $name (${module})"
  mkdir -p "$work/$name" && cd "$work/$name"
  go mod init "local/${name//./-}build" >/dev/null 2>&1
  go get -tool "${module%@*}${pkg:+/$pkg}@${module#*@}" >&2
  go build -trimpath -ldflags "$ldflags" -o "$bin/$name" "${module%@*}${pkg:+/$pkg}"
}

# k8s_module: a work module for k8s.io/kubernetes of the pinned version, its staging modules replaced by
# their published versions; sets k8s_gomod (upstream's go.mod) and k8s_ldflags (version stamps).
k8s_gomod="" k8s_ldflags=""
k8s_module() {
  mkdir -p "$work/k8s" && cd "$work/k8s"
  [ -n "$k8s_gomod" ] && return
  go mod init local/k8sbuild >/dev/null 2>&1
  local staging goline
  k8s_gomod=$(go mod download -json "k8s.io/kubernetes@v$KUBERNETES_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')
  [ -f "$k8s_gomod" ] || { log "could not fetch the go.mod of k8s.io/kubernetes@v$KUBERNETES_VERSION"; exit 1; }
  staging="v0.${KUBERNETES_VERSION#1.}"
  goline=$(awk '$1=="go"{print $2; exit}' "$k8s_gomod")
  local n=0 m
  for m in $(sed -n 's|^[[:space:]]*\(k8s\.io/[^ ]*\) => \./staging/.*|\1|p' "$k8s_gomod"); do
    go mod edit -replace="$m=$m@$staging"; n=$((n + 1))
  done
  [ "$n" -gt 0 ] || { log "no staging replaces found in $k8s_gomod"; exit 1; }
  go mod edit -go="$goline" -godebug="default=go$(echo "$goline" | cut -d. -f1,2)"
  local minor k date
  minor=$(echo "$KUBERNETES_VERSION" | cut -d. -f2)
  date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  k8s_ldflags="-s -w"
  for k in client-go/pkg/version component-base/version; do
    k8s_ldflags+=" -X k8s.io/$k.gitVersion=v$KUBERNETES_VERSION -X k8s.io/$k.gitMajor=1 -X k8s.io/$k.gitMinor=$minor"
    k8s_ldflags+=" -X k8s.io/$k.gitTreeState=clean -X k8s.io/$k.buildDate=$date"
  done
}

# build_kubernetes PKG...: the named k8s.io/kubernetes main packages (cmd/kubelet, test/images/agnhost)
# whose binaries (the package's last path element) are not built yet.
build_kubernetes() {
  local missing=() p
  for p in "$@"; do [ -x "$bin/${p##*/}" ] || missing+=("k8s.io/kubernetes/$p"); done
  [ ${#missing[@]} -eq 0 ] && return
  log "building Kubernetes v$KUBERNETES_VERSION: ${missing[*]##*/}"
  k8s_module
  for p in "${missing[@]}"; do go get -tool "$p@v$KUBERNETES_VERSION" >&2; done
  go build -trimpath -ldflags "$k8s_ldflags" -o "$bin/" "${missing[@]}"
}

# build_e2e: e2e.test (the compiled test/e2e package) and ginkgo at the version upstream's go.mod
# requires. k8s.io/sample-apiserver, which e2e.test imports, is not published for every patch release:
# the newest published one of the same minor stands in for it.
build_e2e() {
  k8s_module
  if [ ! -x "$bin/e2e.test" ]; then
    log "building Kubernetes v$KUBERNETES_VERSION: e2e.test"
    local prefix="v0.${KUBERNETES_VERSION#1.}" sample
    prefix="${prefix%.*}."
    sample=$(go list -m -versions k8s.io/sample-apiserver | tr ' ' '\n' | grep -F "$prefix" | sort -V | tail -1)
    [ -n "$sample" ] || { log "the module proxy has no k8s.io/sample-apiserver ${prefix}x"; exit 1; }
    go mod edit -replace="k8s.io/sample-apiserver=k8s.io/sample-apiserver@$sample"
    go get -t "k8s.io/kubernetes/test/e2e@v$KUBERNETES_VERSION" >&2
    go test -c -trimpath -ldflags "$k8s_ldflags" -o "$bin/e2e.test" k8s.io/kubernetes/test/e2e
  fi
  local ginkgo
  ginkgo=$(awk '$1=="github.com/onsi/ginkgo/v2"{print $2; exit}' "$k8s_gomod")
  [ -n "$ginkgo" ] || { log "no github.com/onsi/ginkgo/v2 requirement in $k8s_gomod"; exit 1; }
  go_module_build ginkgo "github.com/onsi/ginkgo/v2@$ginkgo" ginkgo "-s -w"
}

start=$(date +%s)
case "$target" in
  cluster)
    go_module_build etcd "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" "" "-s -w"
    build_kubernetes cmd/kube-apiserver cmd/kube-controller-manager cmd/kube-scheduler cmd/kubectl cmd/kubelet
    go_module_build helm "helm.sh/helm/v3@v$HELM_VERSION" cmd/helm "-s -w -X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION" ;;
  kube-proxy) build_kubernetes cmd/kube-proxy ;;
  agnhost) build_kubernetes test/images/agnhost ;;
  coredns) go_module_build coredns "github.com/coredns/coredns@v$COREDNS_VERSION" "" "-s -w" ;;
  e2e) build_e2e ;;
  # The cilium module's own replace directive makes `go install` refuse it; a scratch module ignores it.
  hubble) go_module_build hubble "github.com/cilium/cilium@v$HUBBLE_VERSION" hubble \
    "-s -w -X github.com/cilium/cilium/hubble/pkg.Version=v$HUBBLE_VERSION" ;;
esac
all_built || { log "the build finished without ${binaries[*]}"; exit 1; }
# Earlier versions of this script took this marker to mean the target was built.
touch "$out/.complete"
log "built in $(( $(date +%s) - start ))s into $bin"
echo "$bin"
