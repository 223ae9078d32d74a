#!/usr/bin/env bash
# The README's main-job command: installs the npm packages, then runs the bundled example.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh npm
npm run --silent example -- "$@"
