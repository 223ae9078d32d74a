#!/bin/sh
# Builds the OpenCL host addon (hw-opencl/build/Release/vta_ocl.node) against the system's Node
# headers (/usr/include/node): nothing is downloaded. Needs ocl-icd-opencl-dev and opencl-headers.
set -e
cd "$(dirname "$0")"
NODEDIR="${NODEDIR:-$(dirname "$(dirname "$(command -v node)")")}"
exec ../node_modules/.bin/node-gyp rebuild --nodedir="$NODEDIR" --loglevel=warn
