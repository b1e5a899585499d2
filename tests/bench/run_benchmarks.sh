#!/usr/bin/env bash
# The performance record: builds credence (Release) and the other verifiers' drivers, builds the
# corpus, runs every measurement in one go and prints one table (tests/bench/benchmarks.py).
#
#   tests/bench/run_benchmarks.sh [--write-doc] [benchmarks.py options...]
#
# Environment:
#   BUILD_DIR  credence build directory (default SRC/build-bench; configured Release here)
#   WORK       scratch directory: corpus, cached keys, the 1 GB mbox (default /tmp/credence-bench)
#   JOBS       ninja -j (default 2)
# --write-doc writes the table of this run into docs/performance.md (between the bench-run
# markers; the rest of the file is kept). Other options go to benchmarks.py, for example
# `--messages 500 --big-mb 0 --repeat 1` for a quick look.
#
# Needs (installed here when missing, as root): libopendkim-dev for the OpenDKIM driver; the npm
# package mailauth (pinned in tests/bench/package.json, `npm ci`). All DNS goes to a BIND named
# started on 127.0.0.1 by benchmarks.py, or to the corpus zone file: never the host's resolver.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SRC="$(cd "$HERE/../.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$SRC/build-bench}"
WORK="${WORK:-/tmp/credence-bench}"
JOBS="${JOBS:-2}"
ARGS=()
for a in "$@"; do
  if [[ "$a" == "--write-doc" ]]; then ARGS+=(--write-doc "$SRC/docs/performance.md"); else ARGS+=("$a"); fi
done
mkdir -p "$WORK"
t0=$(date +%s)

echo "== build: credence (Release) in $BUILD_DIR"
cmake -S "$SRC" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >"$WORK/cmake.log" 2>&1 \
  || { tail -20 "$WORK/cmake.log"; exit 1; }
ninja -C "$BUILD_DIR" -j "$JOBS" credence >"$WORK/ninja.log" 2>&1 || { tail -30 "$WORK/ninja.log"; exit 1; }
BENCH_VERIFY=""
if ninja -C "$BUILD_DIR" -j "$JOBS" bench_verify >>"$WORK/ninja.log" 2>&1; then
  BENCH_VERIFY="$BUILD_DIR/tests/bench_verify"
else
  echo "bench_verify did not build (see $WORK/ninja.log); its part is skipped"
fi
CREDENCE="$BUILD_DIR/plugin/cli/credence"

echo "== build: OpenDKIM driver"
if [[ ! -f /usr/include/opendkim/dkim.h ]]; then
  apt-get install -y libopendkim-dev >"$WORK/apt.log" 2>&1 || echo "could not install libopendkim-dev"
fi
OPENDKIM=()
if cc -O2 -Wall -o "$WORK/drive_opendkim" "$HERE/drive_opendkim.c" -lopendkim 2>"$WORK/cc.log"; then
  OPENDKIM=(--opendkim-driver "$WORK/drive_opendkim")
else
  echo "OpenDKIM driver did not build: $(head -3 "$WORK/cc.log")"
fi

echo "== npm: mailauth"
if [[ ! -d "$HERE/node_modules/mailauth" ]]; then
  (cd "$HERE" && npm ci --no-audit --no-fund >"$WORK/npm.log" 2>&1) || echo "npm ci failed: see $WORK/npm.log"
fi
echo "build steps took $(( $(date +%s) - t0 )) s"

exec /usr/bin/python3 "$HERE/benchmarks.py" --credence "$CREDENCE" --work "$WORK" \
  --command "BUILD_DIR=$BUILD_DIR WORK=$WORK tests/bench/run_benchmarks.sh${*:+ $*}" \
  ${BENCH_VERIFY:+--bench-verify "$BENCH_VERIFY"} "${OPENDKIM[@]}" "${ARGS[@]}"
