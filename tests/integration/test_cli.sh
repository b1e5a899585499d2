#!/bin/bash
# The `credence` command's contract: exit codes, errors, stdin, --help, --version, text and
# JSON output on the bundled example (zone file only: no network).
# Env: CREDENCE_BIN (the binary), CREDENCE_SRC (source dir). Prints a line per check.
set -u
BIN=${CREDENCE_BIN:-credence}
SRC=${CREDENCE_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
EX=$SRC/tests/data/example
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fails=0

check() {  # check NAME EXPECTED_EXIT ACTUAL_EXIT [extra condition result 0/1]
  local name=$1 want=$2 got=$3 cond=${4:-0}
  if [ "$got" = "$want" ] && [ "$cond" = 0 ]; then
    echo "ok   $name"
  else
    echo "FAIL $name (exit $got, wanted $want; condition $cond)"
    sed 's/^/     | /' "$TMP/out" "$TMP/err" 2>/dev/null | head -20
    fails=$((fails + 1))
  fi
}
has() { grep -q -- "$1" "$2" && echo 0 || echo 1; }

# Usage errors: exit 2.
"$BIN" >"$TMP/out" 2>"$TMP/err"; check "no subcommand exits 2" 2 $?
"$BIN" frobnicate >"$TMP/out" 2>"$TMP/err"; check "unknown subcommand exits 2" 2 $?
"$BIN" verify >"$TMP/out" 2>"$TMP/err"; check "verify without FILE exits 2" 2 $?
"$BIN" verify --bogus "$EX/01-rsa-sha256-pass.eml" >"$TMP/out" 2>"$TMP/err"
check "unknown option exits 2" 2 $?
"$BIN" verify --format yaml --zone "$EX/example.zone" "$EX/01-rsa-sha256-pass.eml" >"$TMP/out" 2>"$TMP/err"
check "--format yaml exits 2" 2 $?
"$BIN" verify --dns-timeout abc --zone "$EX/example.zone" "$EX/01-rsa-sha256-pass.eml" >"$TMP/out" 2>"$TMP/err"
check "--dns-timeout abc exits 2" 2 $?
# The range --help states is the range c-ares takes (it said 1..600000 and refused 70000 later).
"$BIN" verify --dns-timeout 60001 --zone "$EX/example.zone" "$EX/01-rsa-sha256-pass.eml" >"$TMP/out" 2>"$TMP/err"
check "--dns-timeout 60001 exits 2 naming the range" 2 $? "$(has "60000" "$TMP/err")"
"$BIN" verify --dns-timeout 60000 --zone "$EX/example.zone" "$EX/01-rsa-sha256-pass.eml" >"$TMP/out" 2>"$TMP/err"
check "--dns-timeout 60000 is accepted" 0 $?
"$BIN" verify --dns 'not an address' "$EX/01-rsa-sha256-pass.eml" >"$TMP/out" 2>"$TMP/err"
check "--dns with a bad server exits 2" 2 $?
"$BIN" verify --zone "$TMP/nonexistent.zone" "$EX/01-rsa-sha256-pass.eml" >"$TMP/out" 2>"$TMP/err"
check "unreadable zone file exits 2 and names it" 2 $? "$(has nonexistent.zone "$TMP/err")"
"$BIN" verify --zone "$EX/example.zone" --client-ip notanip "$EX/01-rsa-sha256-pass.eml" >"$TMP/out" 2>"$TMP/err"
check "--client-ip that is no address exits 2 and says so" 2 $? "$(has "not an IPv4 or IPv6 address" "$TMP/err")"
# (No message to verify: should the check ever go, nothing is asked of the system resolver.)
"$BIN" verify --dns '' "$TMP/no-such-message.eml" >"$TMP/out" 2>"$TMP/err"
check "--dns '' (an unset variable) exits 2, no fallback to the system's resolvers" 2 $? "$(has "names no server" "$TMP/err")"
"$BIN" spf --ip 999.1.1.1 --mail-from b@example.com --zone "$EX/example.zone" >"$TMP/out" 2>"$TMP/err"
check "spf --ip 999.1.1.1 exits 2" 2 $? "$(has "not an IPv4 or IPv6 address" "$TMP/err")"
"$BIN" spf --ip 192.0.2.1 --mail-from b@example.com --zone "$EX/example.zone" --check-helo >"$TMP/out" 2>"$TMP/err"
check "spf --check-helo without --helo exits 2" 2 $? "$(has "requires --helo" "$TMP/err")"
# A MAIL FROM written with U-labels (SMTPUTF8) is looked up as A-labels (RFC 8616 §4), as
# `verify` does: pass, not "no SPF record at bücher.test".
printf '$ORIGIN xn--bcher-kva.test.\n@ IN SOA ns hm 1 2 3 4 5\n@ IN TXT "v=spf1 ip4:192.0.2.1 -all"\n' >"$TMP/idn.zone"
"$BIN" spf --ip 192.0.2.1 --mail-from 'u@bücher.test' --zone "$TMP/idn.zone" >"$TMP/out" 2>"$TMP/err"
check "spf with a U-label MAIL FROM looks up its A-labels" 0 $? "$(has "^pass mailfrom=u@xn--bcher-kva.test" "$TMP/out")"
mkdir -p "$TMP/adir"
"$BIN" config check "$TMP/adir" >"$TMP/out" 2>"$TMP/err"
check "config check of a directory exits 2 (not a valid empty config)" 2 $? "$(has "is not a regular file" "$TMP/err")"
"$BIN" verify --config "$TMP/adir" --zone "$EX/example.zone" "$EX/01-rsa-sha256-pass.eml" >"$TMP/out" 2>"$TMP/err"
check "verify --config DIRECTORY exits 2" 2 $? "$(has "is not a regular file" "$TMP/err")"
printf 'example.com. IN SOA ns hm 1 2 3 4 5\nfoo IN TXT "unterminated\n' >"$TMP/bad.zone"
"$BIN" verify --zone "$TMP/bad.zone" "$EX/01-rsa-sha256-pass.eml" >"$TMP/out" 2>"$TMP/err"
check "zone syntax error exits 2 with FILE:LINE" 2 $? "$(has "bad.zone:[0-9]" "$TMP/err")"

# --help and --version: exit 0; --help documents every option.
"$BIN" --version >"$TMP/out" 2>"$TMP/err"; check "--version exits 0" 0 $? "$(has "credence " "$TMP/out")"
"$BIN" --help >"$TMP/out" 2>"$TMP/err"; check "--help exits 0 and lists verify" 0 $? "$(has verify "$TMP/out")"
"$BIN" verify --help >"$TMP/out" 2>"$TMP/err"; rc=$?
missing=0
for opt in --dns --dns-timeout --zone --format --at --max-signatures --help FILE "Exit codes"; do
  grep -q -- "$opt" "$TMP/out" || { echo "     --help lacks $opt"; missing=1; }
done
check "verify --help mentions every option and the exit codes" 0 $rc $missing

# Bytes that are not header fields are still judged (fail closed): no From field scores like
# a DMARC reject. Only an empty file, a missing file and a directory are errors (exit 1).
printf '\x00\x01 this is not a message\n\nbody\n' >"$TMP/junk.eml"
: >"$TMP/empty.eml"
"$BIN" verify --zone "$EX/example.zone" --format json "$TMP/junk.eml" "$EX/01-rsa-sha256-pass.eml" >"$TMP/out" 2>"$TMP/err"
rc=$?
ok=$(/usr/bin/python3 - "$TMP/out" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
good = (len(lines) == 2 and lines[0]["dmarc"]["from_problem"] == "no_from"
        and "CREDENCE_DMARC_BAD_FROM" in [s["name"] for s in lines[0]["symbols"]]
        and lines[0]["score"] >= 2.0 and lines[1]["dkim"][0]["result"] == "pass")
print(0 if good else 1)
PY
)
check "a non-message is judged: no From, CREDENCE_DMARC_BAD_FROM, exit 0" 0 $rc "$ok"
"$BIN" verify --zone "$EX/example.zone" "$TMP/empty.eml" >"$TMP/out" 2>"$TMP/err"
check "empty file is 0 messages, exit 0, said on stderr (issue 17)" 0 $? "$(has "empty.eml: 0 messages: an empty file" "$TMP/err")"
"$BIN" verify --zone "$EX/example.zone" "$TMP/missing.eml" >"$TMP/out" 2>"$TMP/err"
check "missing file exits 1 with 'cannot read'" 1 $? "$(has "cannot read" "$TMP/err")"
"$BIN" verify --zone "$EX/example.zone" "$TMP" >"$TMP/out" 2>"$TMP/err"
check "directory exits 1" 1 $? "$(has "directory" "$TMP/err")"

# stdin.
"$BIN" verify --zone "$EX/example.zone" - <"$EX/01-rsa-sha256-pass.eml" >"$TMP/out" 2>"$TMP/err"
check "stdin '-' verifies (pass)" 0 $? "$(has "^  pass" "$TMP/out")"
printf 'From: a@example.com\r\nSubject: unsigned\r\n\r\nhi\r\n' | "$BIN" verify --zone "$EX/example.zone" --format json - >"$TMP/out" 2>"$TMP/err"
check "unsigned message gives dkim=[]" 0 $? "$(has '"dkim":\[\]' "$TMP/out")"

# The bundled example, as the README runs it.
"$BIN" verify --zone "$EX/example.zone" "$EX"/*.eml >"$TMP/out" 2>"$TMP/err"
rc=$?
cond=0
grep -q "01-rsa-sha256-pass.eml: 1 DKIM signature" "$TMP/out" || cond=1
grep -A1 "01-rsa" "$TMP/out" | grep -q "pass .*d=example.com s=rsa2048" || cond=1
grep -A1 "02-ed25519" "$TMP/out" | grep -q "pass .*a=ed25519-sha256" || cond=1
grep -A1 "03-tampered" "$TMP/out" | grep -q "fail .*body_hash_mismatch" || cond=1
grep -A1 "04-testing" "$TMP/out" | grep -q "testing (key t=y)" || cond=1
check "example: rsa pass, ed25519 pass, tampered fail, testing key flagged" 0 $rc $cond
"$BIN" verify --zone "$EX/example.zone" --format json "$EX"/*.eml >"$TMP/out" 2>"$TMP/err"
rc=$?
ok=$(/usr/bin/python3 - "$TMP/out" <<'PY'
import json, sys
fields = {"result", "reason", "detail", "domain", "selector", "algorithm", "canonicalization",
          "identity", "testing", "key_bits", "body_length", "unsigned_body_bytes", "timestamp",
          "expiration"}
lines = [json.loads(l) for l in open(sys.argv[1])]
sigs = [s for l in lines for s in l["dkim"]]
good = (len(lines) == 4 and len(sigs) == 4 and all(fields <= set(s) for s in sigs)
        and [s["result"] for s in sigs] == ["pass", "pass", "fail", "pass"]
        and sigs[0]["key_bits"] == 2048 and sigs[1]["key_bits"] == 256
        and sigs[3]["testing"] is True and sigs[0]["testing"] is False
        and sigs[0]["body_length"] is None and sigs[0]["timestamp"] == 1700000000)
print(0 if good else 1)
PY
)
check "example JSON: every documented field, right verdicts and values" 0 $rc "$ok"

# --at: t=1700000000 is in the future at UNIXTIME 1600000000 -> not a pass.
"$BIN" verify --zone "$EX/example.zone" --format json --at 1600000000 "$EX/01-rsa-sha256-pass.eml" >"$TMP/out" 2>"$TMP/err"
check "--at before t= makes the signature permerror/future_timestamp" 0 $? "$(has '"reason":"future_timestamp"' "$TMP/out")"

# --max-signatures 1 on a message with two signatures: the second is not evaluated.
{ grep -m1 -A20 -i '^DKIM-Signature' "$EX/02-ed25519-pass.eml" | sed -n '1,/^[^ \t]/p' | sed '$d'; cat "$EX/01-rsa-sha256-pass.eml"; } >"$TMP/two.eml"
"$BIN" verify --zone "$EX/example.zone" --format json --max-signatures 1 "$TMP/two.eml" >"$TMP/out" 2>"$TMP/err"
check "--max-signatures 1: second signature not_evaluated" 0 $? "$(has '"reason":"not_evaluated"' "$TMP/out")"

# Invalid UTF-8 in the file name does not break JSON output.
cp "$EX/01-rsa-sha256-pass.eml" "$TMP/$(printf 'bad\xff.eml')"
"$BIN" verify --zone "$EX/example.zone" --format json "$TMP/$(printf 'bad\xff.eml')" >"$TMP/out" 2>"$TMP/err"
rc=$?
ok=$(/usr/bin/python3 -c 'import json,sys; o=json.loads(open(sys.argv[1],encoding="utf-8").read()); print(0 if o["dkim"][0]["result"]=="pass" else 1)' "$TMP/out" 2>/dev/null || echo 1)
check "invalid UTF-8 file name: valid JSON" 0 $rc "$ok"

if [ $fails -ne 0 ]; then echo "FAILED: $fails check(s)"; exit 1; fi
echo "passed"
