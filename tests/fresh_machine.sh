#!/usr/bin/env bash
# The README's two commands on a minimal Debian 12, as a new user would run them: builds a
# `debootstrap --variant=minbase bookworm` root, copies a clean clone of this repository's HEAD
# into it and runs `CI=true .ci/run` there (./setup.sh --no-demo, then ./test.sh). Prints the
# step that failed, or that .ci/run passed. The check to run before a release; not part of
# .ci/run itself: it downloads a whole system (~100 MB base, ~1 GB of packages) and takes
# about as long as the full ./test.sh plus the build.
#
#   tests/fresh_machine.sh [--dir DIR] [--mirror URL] [--no-run] [--reuse] [--keep]
#
#   --dir DIR     work directory (default: build-fresh/ in this repository): DIR/debian-root
#                 is the new system, DIR/cache the downloaded base packages (kept for the next
#                 run), DIR/*.log the logs
#   --mirror URL  Debian mirror (default: the machine's own apt sources, the entry for bookworm)
#   --no-run      stop before .ci/run: build the root, mount, copy the clone, check the chroot
#   --reuse       use DIR/debian-root from an earlier --no-run (a root .ci/run never ran in)
#                 instead of a new debootstrap
#   --keep        keep DIR/debian-root after a passing run (a failing run always keeps it)
#
# Run as root on a Debian machine with debootstrap and git (`apt-get install debootstrap`).
# Inside the root: the root itself (bound on itself, so that / is a mount point as on a
# machine), /proc, /sys, /dev, /dev/pts, /dev/shm are mounted for the run and unmounted on
# exit, failure included; the machine's resolv.conf is there for apt only (every test
# sends its DNS to servers it starts on 127.0.0.1); a policy-rc.d keeps package installs from
# starting daemons (no init system runs in a chroot; the tests start their own servers);
# /etc/hosts names localhost as a Debian installation's does (debootstrap writes none).
set -euo pipefail
umask 022
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$SRC/build-fresh"
MIRROR="" NO_RUN=0 REUSE=0 KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) DIR="$2"; shift ;;
    --mirror) MIRROR="$2"; shift ;;
    --no-run) NO_RUN=1 ;;
    --reuse) REUSE=1 ;;
    --keep) KEEP=1 ;;
    *) echo "fresh_machine.sh: unknown option $1 (see the comment at the top)" >&2; exit 2 ;;
  esac
  shift
done
mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"
ROOT="$DIR/debian-root"
OURS="$ROOT/.fresh-machine-root"          # written before debootstrap: only such a root is removed
PRISTINE="$ROOT/.fresh-machine-pristine"  # written after debootstrap, removed when .ci/run starts
STEP="start"
MOUNTED=()

say() { echo "fresh_machine: $*"; }

fail() {
  say "FAILED at step: $STEP${1:+ ($1)}"
  exit 1
}

# Every mount point under $ROOT, deepest first, from the kernel's own table.
mounts_under_root() {
  awk -v r="$ROOT" '$5 == r || index($5, r "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r
}

# Processes left running inside the root (a server a failed test did not stop) hold its mounts:
# they are ours, found by their root directory, never by name.
stop_chroot_processes() {
  local sig pid pids
  for sig in TERM KILL; do
    pids=()
    for pid in /proc/[0-9]*; do
      [ "$(readlink "$pid/root" 2>/dev/null)" = "$ROOT" ] && pids+=("${pid#/proc/}")
    done
    [ "${#pids[@]}" -eq 0 ] && return 0
    say "stopping ${#pids[@]} process(es) left in the root (SIG$sig): ${pids[*]}"
    kill "-$sig" "${pids[@]}" 2>/dev/null || true
    sleep 2
  done
}

cleanup() {
  local rc=$? m i
  trap - EXIT INT TERM
  if [ -d "$ROOT" ]; then
    stop_chroot_processes
    for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do
      umount "${MOUNTED[i]}" 2>/dev/null || umount -l "${MOUNTED[i]}" ||
        say "could not unmount ${MOUNTED[i]}"
    done
    m="$(mounts_under_root)"
    if [ -n "$m" ]; then
      say "still mounted under $ROOT (unmount before removing it):"; echo "$m"; rc=1
    fi
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM

mount_in_root() {  # mount_in_root TARGET MOUNT-ARGS...
  local target="$ROOT$1"; shift
  mkdir -p "$target"
  mount "$@" "$target" || fail "mount $* $target"
  MOUNTED+=("$target")
}

# The first URI that apt here reads for `suite` (sources.list, sources.list.d/*.list and the
# deb822 *.sources files; other names apt ignores, so do we).
mirror_for() {
  local suite="$1" f
  local files=()
  [ -f /etc/apt/sources.list ] && files+=(/etc/apt/sources.list)
  for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && files+=("$f")
  done
  [ "${#files[@]}" -eq 0 ] && return 0
  awk -v want="$suite" '
    function found(uri) { print uri; done = 1; exit }
    function flush() {
      if (!done && types ~ /(^| )deb( |$)/ && enabled != "no")
        for (i = 1; i <= nu; i++) for (j = 1; j <= ns; j++) if (s[j] == want) found(u[i])
      types = ""; enabled = ""; nu = 0; ns = 0
    }
    FNR == 1 { flush(); deb822 = (FILENAME ~ /\.sources$/) }
    /^[ \t]*#/ { next }
    !deb822 && $1 == "deb" {
      k = 2; if ($k ~ /^\[/) { while ($k !~ /\]$/) k++; k++ }
      if ($(k + 1) == want) found($k)
      next
    }
    deb822 && /^[ \t]*$/ { flush(); next }
    deb822 && tolower($1) == "types:" { types = $0; sub(/^[^:]*:[ \t]*/, "", types) }
    deb822 && tolower($1) == "enabled:" { enabled = tolower($2) }
    deb822 && tolower($1) == "uris:" { for (i = 2; i <= NF; i++) u[++nu] = $i }
    deb822 && tolower($1) == "suites:" { for (i = 2; i <= NF; i++) s[++ns] = $i }
    END { flush() }
  ' "${files[@]}"
}

STEP="checks"
[ "$(id -u)" = 0 ] || fail "run as root: debootstrap, chroot and mount need it"
command -v debootstrap >/dev/null || fail "no debootstrap: apt-get install debootstrap"
command -v git >/dev/null || fail "no git"
COMMIT="$(git -C "$SRC" rev-parse HEAD)" || fail "$SRC is not a git checkout"
if [ -n "$(git -C "$SRC" status --porcelain --untracked-files=no)" ]; then
  say "note: uncommitted changes in $SRC are not tested (a clean clone of HEAD is)"
fi
[ -z "$(mounts_under_root)" ] || fail "something is still mounted under $ROOT"

STEP="mirror"
if [ -z "$MIRROR" ]; then
  MIRROR="$(mirror_for bookworm)"
  [ -n "$MIRROR" ] || fail "no apt source for bookworm here: pass --mirror URL"
fi
SECURITY="$(mirror_for bookworm-security)"
say "testing $COMMIT in a minimal Debian 12 from $MIRROR${SECURITY:+ (security: $SECURITY)}"

STEP="debootstrap"
if [ "$REUSE" = 1 ] && [ -f "$PRISTINE" ]; then
  say "reusing $ROOT (built $(cat "$PRISTINE"))"
else
  [ "$REUSE" = 1 ] && say "no untouched root in $ROOT to reuse: building a new one"
  if [ -e "$ROOT" ]; then
    [ -f "$OURS" ] || fail "$ROOT exists and was not made by this script: remove it yourself"
    rm -rf "$ROOT"  # nothing is mounted under it (checked above)
  fi
  mkdir -p "$ROOT" "$DIR/cache"
  touch "$OURS"
  say "debootstrap --variant=minbase bookworm (log: $DIR/debootstrap.log)"
  t0=$SECONDS
  nice -n 19 debootstrap --variant=minbase --cache-dir="$DIR/cache" bookworm "$ROOT" "$MIRROR" \
    >"$DIR/debootstrap.log" 2>&1 || { tail -20 "$DIR/debootstrap.log"; fail "see $DIR/debootstrap.log"; }
  say "debootstrap took $((SECONDS - t0)) s"

  STEP="configure the root"
  rm -f "$ROOT/etc/apt/sources.list"
  {
    printf 'Types: deb\nURIs: %s\nSuites: bookworm bookworm-updates\nComponents: main\n' "$MIRROR"
    printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
    if [ -n "$SECURITY" ]; then
      printf '\nTypes: deb\nURIs: %s\nSuites: bookworm-security\nComponents: main\n' "$SECURITY"
      printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
    fi
  } >"$ROOT/etc/apt/sources.list.d/debian.sources"
  printf '#!/bin/sh\n# fresh_machine.sh: no daemons started by package installs in this chroot.\nexit 101\n' \
    >"$ROOT/usr/sbin/policy-rc.d"
  chmod 755 "$ROOT/usr/sbin/policy-rc.d"
  [ -f "$ROOT/etc/hosts" ] ||
    printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$ROOT/etc/hosts"
  date -u '+%Y-%m-%d %H:%M UTC' >"$PRISTINE"
fi
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"  # for apt's mirror only

STEP="mount the root on itself, then /proc /sys /dev /dev/pts /dev/shm"
# A machine's / is a mount point; a plain directory chrooted into is not, and then no mount
# namespace can be made inside (unshare -m: "cannot change root filesystem propagation"),
# which test.sh's resolver sentinel needs. Bound on itself, the root is one.
mount_in_root "" --bind "$ROOT"
mount_in_root /proc -t proc proc
mount_in_root /sys --bind /sys
mount_in_root /dev --bind /dev
mount_in_root /dev/pts --bind /dev/pts
mount_in_root /dev/shm -t tmpfs -o mode=1777,nosuid,nodev shm

STEP="clean clone of $COMMIT"
# Where the clone lives: root's home inside the debootstrap root (relative to the root; a
# path of the fresh machine, not of this one).
ROOT_HOME=root
CLONE="/$ROOT_HOME/credence"
rm -rf "$ROOT$CLONE"
git clone --quiet --no-checkout "$SRC" "$ROOT$CLONE" || fail "git clone"
git -C "$ROOT$CLONE" fetch --quiet "$SRC" "$COMMIT" 2>/dev/null || true
git -C "$ROOT$CLONE" checkout --quiet --detach "$COMMIT" || fail "checkout $COMMIT"

IN_ROOT=(chroot "$ROOT" /usr/bin/env -i HOME="/$ROOT_HOME"
         PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)

STEP="chroot check"
# shellcheck disable=SC2016  # expanded inside the root
"${IN_ROOT[@]}" bash -c 'cd "$0" && test -x .ci/run && . /etc/os-release &&
  echo "fresh_machine: inside: $PRETTY_NAME, $(dpkg-query -W -f=. | wc -c) packages"' "$CLONE" ||
  fail "cannot run bash in the root"
if [ "$NO_RUN" = 1 ]; then
  say "stopping before .ci/run (--no-run); $ROOT is ready for --reuse"
  exit 0
fi

STEP=".ci/run"
rm -f "$PRISTINE"
LOG="$DIR/ci-run.log"
say "CI=true nice -n 19 bash .ci/run in $CLONE (log: $LOG)"
t0=$SECONDS
# Into the log, shown as it grows; not through a pipe, which a server left running by a test
# would hold open after .ci/run has ended.
"${IN_ROOT[@]}" CI=true bash -c 'cd "$0" && exec nice -n 19 bash .ci/run' "$CLONE" \
  >"$LOG" 2>&1 </dev/null &
run_pid=$!
tail -n +1 -f --pid="$run_pid" "$LOG" &
tail_pid=$!
rc=0
wait "$run_pid" || rc=$?  # a signal to this script interrupts the wait: the trap cleans up
wait "$tail_pid" || true
took=$((SECONDS - t0))
if [ "$rc" != 0 ]; then
  say ".ci/run exited $rc after $took s"
  if ! grep -q "^Test project" "$LOG"; then
    STEP=".ci/run: ./setup.sh --no-demo (packages, build)"
    tail -30 "$LOG"
  else
    STEP=".ci/run: ./test.sh"
    # ctest's list of failed tests, the failing checks' own lines, ASan/UBSan and fuzz verdicts.
    awk '/^The following tests FAILED/ { p = 1; print; next }
         p && /^[ \t]+[0-9]+ - / { print; next } { p = 0 }' "$LOG"
    grep -E "^FAIL|^\*\*\* [0-9]+ failure|ERROR: AddressSanitizer|runtime error:|^fuzz .*FAILED" \
      "$LOG" | head -30 || true
  fi
  fail "log: $LOG"
fi
say "PASSED: .ci/run in a minimal Debian 12 root in $took s (commit $COMMIT)"
if [ "$KEEP" = 0 ]; then
  STEP="remove the root"
  stop_chroot_processes
  for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do umount "${MOUNTED[i]}"; done
  MOUNTED=()
  [ -z "$(mounts_under_root)" ] || fail "still mounted under $ROOT"
  rm -rf "$ROOT"
  say "removed $ROOT (the base packages in $DIR/cache stay for the next run)"
fi
