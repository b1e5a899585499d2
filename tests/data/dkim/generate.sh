#!/bin/bash
# Regenerates tests/data/dkim/signed/: keys made with `openssl genpkey`, messages signed by an
# independent signer (python3-dkim, Debian's /usr/bin/python3), the DNS records and the
# manifest signed.json with expected verdicts. Re-running makes new keys and new signatures;
# the expectations stay the same.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/signed"
rm -rf "$out"
mkdir -p "$out/keys"
cd "$out/keys"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:512 -out rsa512.pem 2>/dev/null
for bits in 1024 2048 4096; do
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:$bits -out rsa$bits.pem 2>/dev/null
done
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out other2048.pem 2>/dev/null
openssl genpkey -algorithm ED25519 -out ed25519.pem
for k in rsa512 rsa1024 rsa2048 rsa4096 other2048 ed25519; do
  openssl pkey -in $k.pem -pubout -outform DER -out $k.pub.der
done
# PKCS#1 RSAPublicKey form of the 2048-bit key (accepted as many verifiers do).
openssl rsa -in rsa2048.pem -RSAPublicKey_out -outform DER -out rsa2048.pkcs1.der 2>/dev/null
# Signatures over a short text, for tests/unit/crypto_key_test.cc.
printf 'credence: one RSA key, verified from many threads at once\n' > sample.txt
for bits in 1024 2048 4096; do
  openssl dgst -sha256 -sign rsa$bits.pem -out rsa$bits.sample.sig sample.txt
done
# Ed25519 signs the SHA-256 digest of the text itself (PureEdDSA over 32 bytes, RFC 8463).
openssl dgst -sha256 -binary sample.txt > sample.sha256
openssl pkeyutl -sign -inkey ed25519.pem -rawin -in sample.sha256 -out ed25519.sample.sig
rm sample.sha256
# Ed25519 private seed (last 32 bytes of the PKCS#8 DER) for dkimpy, base64.
openssl pkey -in ed25519.pem -outform DER | tail -c 32 | base64 > ed25519.seed.b64
/usr/bin/python3 "$here/generate.py" "$out"
