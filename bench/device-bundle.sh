#!/usr/bin/env bash
# Builds a self-contained folder that runs the `webgpu` benchmark suite (bench/webgpu.ts) on a
# Linux x86-64 machine with a GPU but without Node or the project's dependencies (such as the
# device tool's machines): a Node binary, an esbuild bundle of the suite, the `webgpu` package's
# Dawn addon, ResNet-18 compiled ahead for the webgpu target with the reference inputs (read
# through VTA_BENCH_COMPILED, so no ONNX model travels), and the Vulkan loader's .deb. Large files
# are xz-compressed (about 45 MB in all). On the GPU machine, as root:
#   bash FOLDER/run.sh [--quick]
# which unpacks the loader into / (the machine is thrown away afterwards) and prints the table.
# Usage (from the repository root): bash bench/device-bundle.sh [FOLDER]   (default .scratch/webgpu-bench)
# The large models come from VTA_MODELS (default ../shared/models), as for `npm run bench`.
set -euo pipefail
out=${1:-.scratch/webgpu-bench}
rm -rf "$out"
mkdir -p "$out/compiled" "$out/node_modules/webgpu/dist/linux-x64"

node --import tsx --input-type=module -e "
  import fs from 'node:fs';
  import { compileResnet18 } from './bench/models.ts';
  import { modelFile } from './test/data/index.ts';
  for (const name of ['resnet18_int8_qdq', 'resnet18']) {
    fs.writeFileSync('$out/compiled/' + name + '.webgpu.vta', compileResnet18(name, 'webgpu'));
    fs.copyFileSync(modelFile(name + '.ref_in.npy'), '$out/compiled/' + name + '.ref_in.npy');
  }"

# The runtime imports a target's driver by the URL of its .ts source (runtime/targets.ts), so the
# drivers are entry points of their own, with the shared code split into chunks one folder down
# (where the drivers' relative URLs lead back to them), and hooks.mjs maps a .ts URL to its .mjs.
# Files read beside their module (isa/presets, sim/cycle/timing.json) go into every output folder.
npx esbuild bench/webgpu.ts sim/driver.ts webgpu/driver.ts --bundle --splitting --platform=node --format=esm \
  --target=node20 --log-level=warning --external:webgpu --outbase=. --outdir="$out/src" \
  --chunk-names=chunks/[name]-[hash] --out-extension:.js=.mjs \
  --banner:js="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);"
for d in "$out"/src/*/; do cp -r isa/presets sim/cycle/timing.json "$d"; done
cat >"$out/hooks.mjs" <<'HOOKS'
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
export async function resolve(specifier, context, next) {
  if (specifier.startsWith('file:') && specifier.endsWith('.ts')) {
    const js = specifier.replace(/\.ts$/, '.mjs');
    if (existsSync(fileURLToPath(js))) return next(js, context);
  }
  return next(specifier, context);
}
HOOKS
# Dawn is loaded by the package's index.js from dist/<platform>-<arch>/dawn.node beside it.
cp node_modules/webgpu/package.json node_modules/webgpu/index.js "$out/node_modules/webgpu/"
cp node_modules/webgpu/dist/linux-x64/dawn.node "$out/node_modules/webgpu/dist/linux-x64/"

(cd "$out" && apt-get -q -oAPT::Architecture=amd64 download libvulkan1 >/dev/null 2>&1) ||
  echo "device-bundle: could not download libvulkan1; run.sh then relies on the machine's loader" >&2
cp "$(command -v node)" "$out/node"
xz -T0 -9 "$out/node" "$out/node_modules/webgpu/dist/linux-x64/dawn.node" "$out"/compiled/*

cat >"$out/run.sh" <<'RUN'
#!/usr/bin/env bash
# Runs the webgpu benchmark suite from this folder (made by bench/device-bundle.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
cp -r "$here/." "$work/"
cd "$work"
for f in *.deb; do [ -e "$f" ] && dpkg -x "$f" /; done
ldconfig
xz -d node.xz node_modules/webgpu/dist/linux-x64/dawn.node.xz compiled/*.xz
chmod +x node
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ] && [ -e /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
VTA_BENCH_COMPILED="$work/compiled" ./node --import "data:text/javascript,import { register } from 'node:module'; register('./hooks.mjs', 'file://$work/');" src/bench/webgpu.mjs "$@"
RUN
chmod +x "$out/run.sh"
du -sh "$out"
