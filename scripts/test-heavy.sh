#!/usr/bin/env bash
# The heavy per-preset runs kept out of the default suite (VTA_HEAVY=1): ResNet-18's QDQ model
# compiled for each cloud preset (1x32x32, 1x64x64) on sim, cyclesim, intelfocl and webgpu against
# the CPU executor, and the program corpus on the Chisel cores generated for those presets' BATCH,
# BLOCK and buffers at the core's 64-bit bus (built in hw-chisel/target/configs/). Tens of minutes on
# two cores, most of it SwiftShader. Extra arguments go to vitest.
set -euo pipefail
cd "$(dirname "$0")/.."
VTA_HEAVY=1 npx vitest run test/e2e/presets.test.ts test/hw-chisel/configs.test.ts "$@"
