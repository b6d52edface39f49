#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Quick start, step one: install the dependencies, build in build/, run the demo lab
# (tools/lab/demo.sh). Run as root on Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."
echo ">>> Installing dependencies (apt; quiet unless something fails)"
bash scripts/install-deps.sh
echo ">>> Building in build/"
log=$(mktemp /tmp/vertex-build.XXXXXX)
if ! { cmake -S . -B build && cmake --build build -j "$(nproc)"; } >"$log" 2>&1; then
	cat "$log" >&2
	echo "build failed" >&2
	exit 1
fi
rm -f "$log"
export VERTEX_BUILD_DIR=build
exec bash tools/lab/demo.sh
