#!/usr/bin/env bash
# credence tests: builds (./setup.sh --no-demo first if needed), then runs
#  1. every test registered with CTest: the unit tests (Boost.Test) and the integration tests,
#     which start their own BIND named (and other servers) on 127.0.0.1;
#  2. the unit tests again under AddressSanitizer + UBSan (build-asan/);
#  3. a short smoke run of every libFuzzer target (build-fuzz/, clang).
# Options: --quick skips 2 and 3. CREDENCE_PACKAGE_TEST=1 also builds, installs and purges the
# Debian packages (tests/debian/test_packages.py).
set -euo pipefail
cd "$(dirname "$0")"
quick=0
[ "${1:-}" = "--quick" ] && quick=1

[ -d build ] || ./setup.sh --no-demo
cmake -S . -B build -G Ninja >/dev/null
ninja -C build
fail=0
# The machine's resolver must never be asked, and credence's default DNS is the system's
# (/etc/resolv.conf): ctest runs in a private mount namespace whose resolv.conf names a
# sentinel on 127.0.0.153 (tests/tools/with_dns_sentinel.sh) that logs and refuses every
# question. A test, demo or host that forgets its own server (--dns, --zone, dns=) shows up
# in that log, and the run fails. (Tests that mount their own overlay of /etc, as
# test_host_install.py does, see the real file inside it.)
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
  queries=$(mktemp /tmp/credence-sentinel-queries-XXXXXX)
  rc=0
  tests/tools/with_dns_sentinel.sh "$queries" \
    bash -c 'cd build && ctest --output-on-failure --timeout 900' || rc=$?
  [ "$rc" = 0 ] || fail=1
  if [ "$rc" = 125 ]; then
    echo "FAIL: the resolver sentinel could not start (see above): ctest did not run"
  elif [ -s "$queries" ]; then
    echo "FAIL: tests asked the system's resolver (no explicit server):"
    sort "$queries" | uniq -c | head -20
    fail=1
  else
    echo "PASS: no test asked the system's resolver"
  fi
  rm -f "$queries"
else
  (cd build && ctest --output-on-failure --timeout 900) || fail=1
fi

if [ "$quick" = 0 ]; then
  echo "== unit tests under ASan+UBSan"
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCREDENCE_SANITIZE=ON \
        -DCREDENCE_BENCH=OFF >/dev/null
  ninja -C build-asan tests/credence_unit_tests
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ./build-asan/tests/credence_unit_tests --report_level=short || fail=1

  echo "== fuzz smoke (each target ${CREDENCE_FUZZ_SECONDS:-20} s)"
  cmake -S . -B build-fuzz -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCREDENCE_FUZZ=ON -DCREDENCE_TESTS=OFF \
        -DCREDENCE_BENCH=OFF >/dev/null
  ninja -C build-fuzz
  for f in build-fuzz/tests/fuzz_*; do
    [ -x "$f" ] || continue
    name=$(basename "$f")
    corpus=tests/fuzz/corpus/${name#fuzz_}
    mkdir -p "build-fuzz/corpus-$name"
    seeds=("build-fuzz/corpus-$name")
    [ -d "$corpus" ] && seeds+=("$corpus")
    if "$f" -max_total_time="${CREDENCE_FUZZ_SECONDS:-20}" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 \
         "${seeds[@]}" >"build-fuzz/$name.log" 2>&1; then
      echo "fuzz $name: ok ($(grep -o 'stat::number_of_executed_units: [0-9]*' "build-fuzz/$name.log" || tail -1 "build-fuzz/$name.log"))"
    else
      echo "fuzz $name: FAILED"; tail -30 "build-fuzz/$name.log"; fail=1
    fi
  done
fi

# The Debian packages, built from a clean clone of HEAD, installed, run and purged
# (tests/debian/test_packages.py; installs packages on this machine). Off by default: the
# package build alone took 28 min on the shared 2-core machine (docs/install.md, "Measured").
if [ "${CREDENCE_PACKAGE_TEST:-0}" = 1 ]; then
  echo "== Debian packages"
  /usr/bin/python3 tests/debian/test_packages.py || fail=1
fi

if [ "$fail" = 0 ]; then echo "credence tests: all passed"; else echo "credence tests: FAILED"; fi
exit "$fail"
