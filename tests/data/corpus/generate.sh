#!/bin/bash
# Recreates the differential corpus (tests/data/corpus): keys only when missing (committed keys
# keep the output stable), corpus.zone, messages/*.eml and manifest.tsv. Two independent
# signers: dkimpy (Debian python3-dkim) and Mail::DKIM::Signer (libmail-dkim-perl, through
# sign_mail_dkim.pl). t= is pinned to 1700000000; RSA and Ed25519 signatures are
# deterministic, so a rerun reproduces the committed files byte for byte.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p keys
for bits in 512 1024 2048 4096; do
  [ -f keys/rsa$bits.pem ] || openssl genrsa -traditional -out keys/rsa$bits.pem $bits 2>/dev/null
done
[ -f keys/ed25519.pem ] || openssl genpkey -algorithm ed25519 -out keys/ed25519.pem
exec /usr/bin/python3 generate.py
