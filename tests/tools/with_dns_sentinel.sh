#!/usr/bin/env bash
# with_dns_sentinel.sh LOG COMMAND...: runs COMMAND in a private mount namespace whose
# /etc/resolv.conf names a sentinel DNS server on 127.0.0.153 (dns_sentinel.py beside this
# script), which appends every question it gets to LOG and answers REFUSED. Anything that
# falls back to the system's resolver shows up in LOG instead of reaching the machine's real
# one. Needs root (unshare -m). Exits with COMMAND's status, or 125 when it cannot start.
set -uo pipefail
log=$1; shift
# Status 125 (nothing run) when no private mount namespace can be made here, e.g. in a chroot
# whose / is not a mount point.
if ! unshare -m true 2>/dev/null; then
  echo "with_dns_sentinel.sh: unshare -m fails here (no private mount namespace): not run" >&2
  exit 125
fi
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d /tmp/credence-sentinel-XXXXXX)
echo "nameserver 127.0.0.153" >"$dir/resolv.conf"
touch "$log"
unshare -m bash -c '
  mount --make-rprivate / && mount --bind "$1/resolv.conf" /etc/resolv.conf || exit 125
  /usr/bin/python3 "$2/dns_sentinel.py" 127.0.0.153 "$3" >/dev/null 2>&1 & s=$!
  sleep 0.5
  shift 3
  "$@"; rc=$?
  kill $s
  exit $rc' _ "$dir" "$here" "$log" "$@"
rc=$?
rm -rf "$dir"
exit $rc
