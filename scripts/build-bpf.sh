#!/usr/bin/env bash
# Compiles the datapath's BPF programs with clang into datapath/bpf/build/*.o (with BTF).
set -euo pipefail
cd "$(dirname "$0")/../datapath/bpf"
mkdir -p build
ARCH_INC="/usr/include/$(uname -m)-linux-gnu"
for src in *.bpf.c; do
  out="build/${src%.c}.o"
  clang -target bpf -O2 -g -Wall -Werror -I"$ARCH_INC" -Ilib -c "$src" -o "$out"
  echo "built datapath/bpf/$out"
done
