#!/usr/bin/env bash
# Installs what the datapath build and tests need, only when missing, and mounts bpffs.
# Idempotent: safe to run on every build.
set -euo pipefail

# Debian package -> a file whose presence proves it is installed.
declare -A PROBES=(
  [clang]=/usr/bin/clang
  [llvm]=/usr/bin/llvm-strip
  [libbpf-dev]=/usr/include/bpf/libbpf.h
  [bpftool]=/usr/sbin/bpftool
  [libelf-dev]=/usr/include/libelf.h
  [zlib1g-dev]=/usr/include/zlib.h
  [pkg-config]=/usr/bin/pkg-config
  [iproute2]=/usr/sbin/ip
  [iptables]=/usr/sbin/iptables
  [iperf3]=/usr/bin/iperf3
  [sockperf]=/usr/bin/sockperf
  [netcat-openbsd]=/bin/nc.openbsd
  [util-linux]=/usr/bin/nsenter
)

missing=()
for pkg in "${!PROBES[@]}"; do
  [ -e "${PROBES[$pkg]}" ] || missing+=("$pkg")
done

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup-datapath: missing packages (${missing[*]}); run as root" >&2
    exit 1
  fi
  echo "setup-datapath: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# bpffs: pinned maps live below /sys/fs/bpf.
if [ "$(id -u)" -eq 0 ] && ! mountpoint -q /sys/fs/bpf; then
  mount -t bpf bpf /sys/fs/bpf
fi
