#!/usr/bin/env bash
# credence set-up on Debian 12: installs the Debian packages credence builds and tests with,
# builds it into ./build, and verifies the bundled example messages offline (zone file, no
# network). Run as root (or with sudo). Options:
#   --no-demo     build only, do not run the example
#   --no-install  skip apt-get (packages already there)
set -euo pipefail
cd "$(dirname "$0")"

demo=1 install=1
for a in "$@"; do
  case "$a" in
    --no-demo) demo=0 ;;
    --no-install) install=0 ;;
    *) echo "setup.sh: unknown option $a" >&2; exit 2 ;;
  esac
done

# Build and library dependencies, and the real servers and reference verifiers the tests use.
PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libssl-dev libc-ares-dev libspf2-dev libre2-dev libboost-test-dev
  libpsl-dev libidn2-dev publicsuffix libcli11-dev libtomlplusplus-dev nlohmann-json3-dev zlib1g-dev
  clang libclang-rt-14-dev libfuzzer-14-dev
  bind9 bind9-dnsutils unbound
  python3 python3-dkim python3-spf python3-authres python3-yaml python3-dnspython
  libmail-dkim-perl opendkim-tools
  exim4-daemon-heavy exim4-dev spamassassin spamc spamd swaks rspamd
  procmail mutt  # mbox writers whose archives test_archive_evidence.py reads (formail, mutt)
  dovecot-core  # its dovecot-lda writes an mbox test_archive_evidence.py reads (no daemon runs)
  thunderbird  # headless, it writes a Local Folders mbox test_archive_evidence.py reads
  libsqlite3-dev libpq-dev postgresql libxml2-utils  # DMARC report history; test_report_aggregate.py
  # Debian packaging (debian/, tests/debian/test_packages.py) and the unit's check; git:
  # test_packages.py builds from a clean clone of the checkout (a minimal Debian has no git)
  debhelper dpkg-dev fakeroot lintian systemd git
  libexpat1-dev libzip-dev chromium  # report read: XML, zip; test_report_read.py renders its HTML
)

if [ "$install" = 1 ]; then
  missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    echo "setup.sh: installing ${#missing[@]} Debian packages: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

# /usr/local: where Debian keeps what the administrator builds; `cmake --install build` then
# puts the Exim shim and snippet where docs/exim.md's CREDENCE_PLUGIN and
# CHECK_DATA_LOCAL_ACL_FILE point (tests/integration/test_exim_e2e.py checks it).
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr/local >/dev/null
ninja -C build

if [ "$demo" = 1 ]; then
  echo
  echo "== credence verify --zone tests/data/example/example.zone tests/data/example/*.eml"
  ./build/plugin/cli/credence verify --zone tests/data/example/example.zone tests/data/example/*.eml
fi
