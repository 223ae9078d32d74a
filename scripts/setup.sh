#!/usr/bin/env bash
# Installs what the toolchain needs on Debian 12, skipping what is already there:
#   npm      the npm packages (npm ci)
#   system   Debian packages: POCL (OpenCL), Verilator, yosys, Chromium and the Vulkan loader (WebGPU on SwiftShader)
#   native   the native parts: the OpenCL host addon, the Chisel core (Maven) and its Verilator harness
# With no argument, all three in that order.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s ==\n' "$*" >&2; }

install_npm() {
  # npm ci again only when the lockfile changed since the last install.
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    step "npm ci"
    npm ci --no-audit --no-fund
  fi
}

# libvulkan1: Dawn (the webgpu package) loads libvulkan.so.1; chromium ships SwiftShader's Vulkan driver.
SYSTEM_PACKAGES=(pocl-opencl-icd ocl-icd-opencl-dev opencl-headers clinfo verilator yosys chromium libvulkan1)

install_system() {
  local missing=()
  for p in "${SYSTEM_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  step "apt-get install ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

install_native() {
  for script in hw-opencl/build.sh hw-chisel/build.sh; do
    if [ -f "$script" ]; then
      step "$script"
      bash "$script"
    fi
  done
}

parts=("$@")
[ ${#parts[@]} -eq 0 ] && parts=(npm system native)
for part in "${parts[@]}"; do
  case "$part" in
    npm) install_npm ;;
    system) install_system ;;
    native) install_native ;;
    *) echo "setup.sh: unknown part '$part' (npm, system, native)" >&2; exit 2 ;;
  esac
done
