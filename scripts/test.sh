#!/usr/bin/env bash
# The README's test command: installs everything the tests need, then runs the type check and every
# test suite (`npm test`). Extra arguments go to vitest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm test -- "$@"
