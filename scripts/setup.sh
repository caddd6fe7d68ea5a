#!/usr/bin/env bash
# Installs everything Ciliate needs on a fresh Debian machine, idempotently:
# Debian packages, the npm dependencies, and the control-plane toolchain built from source.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[setup] %s\n' "$*" >&2; }

[ -d /usr/local/go/bin ] && export PATH="/usr/local/go/bin:$PATH"

# Debian packages: the datapath's (clang, libbpf, bpftool, iproute2, ...; also mounts bpffs), then ours.
bash scripts/setup-datapath.sh
need=()
for pair in openssl:openssl python3:python3 flock:util-linux make:make g++:g++ curl:curl; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair#*:}")
done
# Real nodes: containerd, runc and the reference CNI plugins (loopback; bridge for the CNI bench),
# a statically linked busybox for the shell image (the dynamic `busybox` package is not enough), and
# OpenBSD netcat, the `nc` of the agnhost image (the e2e suite's checks use options busybox's lacks),
# and Chromium, the headless browser the service map (Hubble UI) test drives.
for pkg in containerd runc containernetworking-plugins busybox-static netcat-openbsd chromium; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  log "installing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

command -v node >/dev/null || { log "Node.js 20 or newer is required"; exit 1; }
command -v go >/dev/null || { log "Go 1.24 or newer is required to build the control plane"; exit 1; }

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "npm ci (also builds the datapath, the CNI plugin bundle and its native relay)"
  npm ci --no-audit --no-fund --loglevel=error
else
  log "build (datapath, CNI plugin bundle and native relay)"
  npm run --silent build >/dev/null
fi

log "control-plane toolchain"
bash cluster/toolchain/build.sh >/dev/null
