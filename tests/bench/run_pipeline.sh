#!/usr/bin/env bash
# The pipeline benchmark of issue 16 in one command: builds credence and bench_ceiling, then
# runs tests/bench/bench_pipeline.py (corpus of 100,000 messages made once and cached in WORK).
#
#   tests/bench/run_pipeline.sh [bench_pipeline.py options, e.g. --messages 20000 --repeat 1]
#
# Environment:
#   BUILD_DIR   build directory (default SRC/build-bench)
#   BUILD_TYPE  CMake build type (default RelWithDebInfo)
#   BASE_SRC    optional second source tree (e.g. a checkout of main) built the same way in
#               BASE_BUILD_DIR (default SRC/build-base) and measured in the same run; its
#               JSON output must equal this tree's byte for byte
#   WORK        scratch directory: corpus, keys, JSON outputs (default /tmp/credence-pipeline)
# Every DNS answer comes from the corpus zone file (--zone): no resolver is asked.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SRC="$(cd "$HERE/../.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$SRC/build-bench}"
BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}"
WORK="${WORK:-/tmp/credence-pipeline}"
mkdir -p "$WORK"

build() {  # source dir, build dir, targets...
  local src="$1" dir="$2"
  shift 2
  cmake -S "$src" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="$BUILD_TYPE" >"$WORK/cmake.log" 2>&1 \
    || { tail -20 "$WORK/cmake.log"; exit 1; }
  nice ninja -C "$dir" "$@" >"$WORK/ninja.log" 2>&1 || { tail -30 "$WORK/ninja.log"; exit 1; }
}

build "$SRC" "$BUILD_DIR" credence bench_ceiling
BASE=()
if [[ -n "${BASE_SRC:-}" ]]; then
  BASE_BUILD_DIR="${BASE_BUILD_DIR:-$SRC/build-base}"
  build "$BASE_SRC" "$BASE_BUILD_DIR" credence
  BASE=(--base-credence "$BASE_BUILD_DIR/plugin/cli/credence")
fi
exec /usr/bin/python3 "$HERE/bench_pipeline.py" --credence "$BUILD_DIR/plugin/cli/credence" \
  --ceiling "$BUILD_DIR/tests/bench_ceiling" --work "$WORK" "${BASE[@]}" "$@"
