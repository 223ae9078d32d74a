#!/bin/sh
# Builds the tsim target: Chisel -> SystemVerilog (Maven), SystemVerilog -> C++ archive (Verilator),
# then the Node addon (node-gyp). Each step runs only when its output is older than its inputs, so a
# second call is a no-op; CI can cache ~/.m2, ~/.cache/llvm-firtool, hw-chisel/target and hw-chisel/build.
#   sh hw-chisel/build.sh          all three steps
#   sh hw-chisel/build.sh sv       only the SystemVerilog
set -eu
here=$(cd "$(dirname "$0")" && pwd)
# VTA_TSIM_DIR: a copy of the sources generated for another configuration (hw-chisel/build.ts).
cd "${VTA_TSIM_DIR:-$here}"
jobs=${VTA_BUILD_JOBS:-2}

# One build at a time (tests and benchmarks may call this concurrently); the lock dies with us.
mkdir -p target
if [ -z "${VTA_HW_CHISEL_LOCKED:-}" ]; then
  VTA_HW_CHISEL_LOCKED=1 exec flock target/.build.lock sh "$here/build.sh" "$@"
fi

# stale OUT IN...: true when OUT is missing or any IN (files or directory trees) is newer than it.
stale() {
  out=$1; shift
  [ -e "$out" ] || return 0
  [ -n "$(find "$@" -newer "$out" -type f 2>/dev/null | head -n 1)" ]
}

step() { printf '[hw-chisel] %s\n' "$*" >&2; }

sv=target/sv/VTACore.sv
if stale "$sv" pom.xml src/main; then
  step "elaborating the core (mvn package)"
  mvn -q -f pom.xml package
  touch "$sv"
fi
[ "${1:-}" = sv ] && exit 0

vdir=target/verilator
lib=$vdir/VVTACore__ALL.a
if stale "$lib" "$sv" build.sh; then
  step "verilating"
  rm -rf "$vdir"
  # -O2 on the per-cycle code only, -O1 elsewhere, and no Verilator threads: compile time matters
  # in CI, and a single-clock core this size runs best on one thread.
  # Registers without a reset start at 0 (--x-initial unique with Verilator's default seed), so runs
  # are reproducible.
  verilator --cc "$sv" --top-module VTACore -Mdir "$vdir" --x-assign fast --x-initial unique --noassert \
    -Wno-fatal -Wno-lint -Wno-style -CFLAGS -fPIC
  make -s -j"$jobs" -C "$vdir" -f VVTACore.mk OPT_FAST=-O2 OPT_SLOW=-O1 OPT_GLOBAL=-O2 \
    VVTACore__ALL.a verilated.o verilated_threads.o >/dev/null
  (cd "$vdir" && ar rcs libverilated.a verilated.o verilated_threads.o)
fi

addon=build/Release/vta_tsim.node
if stale "$addon" "$lib" harness binding.gyp; then
  step "building the Node addon (node-gyp)"
  gyp="$here/../node_modules/.bin/node-gyp"
  [ -f build/Makefile ] || "$gyp" configure --nodedir=/usr --loglevel=warn
  "$gyp" build --nodedir=/usr --jobs="$jobs" --loglevel=warn
fi
