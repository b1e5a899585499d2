// plugin/archive/header_hint: why a header hash failed, told by repairing the header fields
// and verifying the signature again with its key. The messages are signed here, with the
// RFC 8463 Appendix A Ed25519 test key (tests/data/dkim/rfc8463), then altered the way
// transit alters them; the real verifier confirms each alteration fails on the header hash.
#include "archive/header_hint.h"

#include <openssl/evp.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>

#include "credence/dkim.h"
#include "dkim/canonicalize.h"
#include "dkim/tag_list.h"
#include "fake_resolver.h"

namespace credence {
namespace {

const char kKeyName[] = "brisbane._domainkey.example.org";
const char kKeyRecord[] = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

std::string Seed() {
  std::ifstream in(std::string(CREDENCE_TEST_DATA) + "/dkim/rfc8463/ed25519.seed.b64");
  std::string text;
  std::getline(in, text);
  Result<std::string> seed = dkim::DecodeBase64(text);
  BOOST_REQUIRE(seed.ok() && seed->size() == 32);
  return *seed;
}

// Ed25519 over the SHA-256 of the header hash input (RFC 8463 §3).
std::string SignDigest(const crypto::Sha256Digest& digest) {
  const std::string seed = Seed();
  EVP_PKEY* key = EVP_PKEY_new_raw_private_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(seed.data()), 32);
  BOOST_REQUIRE(key != nullptr);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  unsigned char sig[64];
  size_t len = sizeof sig;
  const bool ok = EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, key) == 1 &&
                  EVP_DigestSign(ctx, sig, &len, digest.data(), digest.size()) == 1;
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  BOOST_REQUIRE(ok);
  return std::string(reinterpret_cast<const char*>(sig), len);
}

// `header` (CRLF-terminated fields) and `body`, with a DKIM-Signature on top signing the
// fields `h` with canonicalization `canon`.
std::string Sign(const std::string& header, const std::string& body, const std::string& h,
                 const std::string& canon = "relaxed/relaxed") {
  Result<Message> plain = Message::Parse(header + "\r\n" + body);
  BOOST_REQUIRE(plain.ok());
  const bool relaxed_body = canon.substr(canon.find('/') + 1) == "relaxed";
  dkim::BodyHasher hasher;
  dkim::CanonicalizeBody(relaxed_body ? dkim::Canon::kRelaxed : dkim::Canon::kSimple, plain->body(),
                         &hasher);
  const crypto::Sha256Digest bh = hasher.Final();
  const std::string field =
      "DKIM-Signature: v=1; a=ed25519-sha256; c=" + canon +
      "; d=example.org; s=brisbane;\r\n"
      "\th=" +
      h +
      "; bh=" + dkim::EncodeBase64(std::string_view(reinterpret_cast<const char*>(bh.data()), 32)) +
      "; b=";
  Result<Message> unsigned_message = Message::Parse(field + "\r\n" + header + "\r\n" + body);
  BOOST_REQUIRE(unsigned_message.ok());
  const dkim::Canon header_canon =
      canon.substr(0, canon.find('/')) == "relaxed" ? dkim::Canon::kRelaxed : dkim::Canon::kSimple;
  std::vector<std::string> names;
  std::stringstream ss(h);
  for (std::string n; std::getline(ss, n, ':');) names.push_back(n);
  std::string input;
  dkim::HeaderIndex index(unsigned_message->headers());
  index.AppendSignedHeaders(names, header_canon, &input);
  dkim::CanonicalizeHeader(header_canon, unsigned_message->headers()[0].raw, false, &input);
  const std::string b = dkim::EncodeBase64(SignDigest(crypto::Sha256::Hash(input)));
  return field + b + "\r\n" + header + "\r\n" + body;
}

const char kHeader[] =
    "From: Alice <alice@example.org>\r\n"
    "To: list@lists.example.net\r\n"
    "Subject: Quarterly  numbers\r\n"
    "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n";
const char kBody[] = "Hello,\r\nthe numbers are in.\r\n";
const char kSigned[] = "from:to:subject:date:mime-version:content-type";

// What the real verifier says of `bytes` with the test key published.
DkimResult Verify(const std::string& bytes) {
  Result<Message> m = Message::Parse(bytes);
  BOOST_REQUIRE(m.ok());
  testing::FakeResolver resolver;
  resolver.AddTxt(kKeyName, kKeyRecord);
  FixedClock clock(1700000000);
  DkimVerifier verifier(clock);
  std::vector<DkimResult> results = verifier.Verify(*m, resolver);
  BOOST_REQUIRE(!results.empty());
  return results[0];
}

HeaderHashHint Explain(const std::string& bytes, HeaderHintBudget* budget = nullptr,
                       const std::string& key = kKeyRecord) {
  Result<Message> m = Message::Parse(bytes);
  BOOST_REQUIRE(m.ok());
  const DkimResult failed = Verify(bytes);
  BOOST_TEST(DkimReasonName(failed.reason) == "signature_mismatch");
  HeaderHintBudget own;
  return ExplainHeaderHash(*m, failed, key, budget ? budget : &own);
}

// `text` with the first `from` replaced by `to`.
std::string Replaced(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  BOOST_REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

bool Has(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// The test message signed over `h`, then the first `from` replaced by `to`, the way transit
// alters it.
std::string Altered(const std::string& from, const std::string& to,
                    const std::string& h = kSigned) {
  return Replaced(Sign(kHeader, kBody, h), from, to);
}

// `bytes` (which must fail on its header hash) explained: the hint is of `kind` and its cause
// says `says`. Returned for further checks.
HeaderHashHint ExpectHint(const std::string& bytes, const std::string& kind,
                          const std::string& says, HeaderHintBudget* budget = nullptr) {
  HeaderHashHint h = Explain(bytes, budget);
  BOOST_TEST(h.kind == kind, h.cause);
  BOOST_TEST(Has(h.cause, says), h.cause);
  return h;
}

BOOST_AUTO_TEST_SUITE(header_hint)

BOOST_AUTO_TEST_CASE(the_signer_here_makes_signatures_that_pass) {
  BOOST_TEST(DkimVerdictName(Verify(Sign(kHeader, kBody, kSigned)).result) == "pass");
  BOOST_TEST(DkimVerdictName(Verify(Sign(kHeader, kBody, kSigned, "simple/simple")).result) ==
             "pass");
}

BOOST_AUTO_TEST_CASE(a_list_tag_prefixed_to_subject) {
  ExpectHint(Altered("Subject: Quarterly", "Subject: [finance] Quarterly"), "Subject tag added",
             "header hash fails: Subject changed (a '[finance] ' prefix was added after signing");
  // After a "Re:" too.
  const std::string reply =
      Sign(Replaced(kHeader, "Subject: Quarterly", "Subject: Re: Quarterly"), kBody, kSigned);
  ExpectHint(Replaced(reply, "Subject: Re: Quarterly", "Subject: Re: [finance] Quarterly"),
             "Subject tag added", "a '[finance] ' prefix was added after signing");
}

BOOST_AUTO_TEST_CASE(from_rewritten_by_a_list_and_kept_in_x_original_from) {
  const std::string from = "From: Alice <alice@example.org>";
  const std::string list_from = "From: \"Alice via Finance\" <finance@lists.example.net>";
  ExpectHint(Altered(from, list_from + "\r\nX-Original-From: Alice <alice@example.org>"),
             "From rewritten by a list",
             "From changed (the signature verifies with From as X-Original-From");
  // Without X-Original-From the original cannot be put back: named, not claimed.
  ExpectHint(Altered(from, list_from), "not explained",
             "From reads '\"Alice via Finance\" <finance@lists.example.net>' (a list's rewrite "
             "of From");
}

BOOST_AUTO_TEST_CASE(a_field_added_below_the_signed_one) {
  // Bottom-up selection (RFC 6376 §5.4.2): a Subject added under the signed one is now the
  // one hashed.
  ExpectHint(Altered("Date: ", "Subject: Win a prize\r\nDate: "), "field added after signing",
             "a Subject field (field 5 of the header, the lowest of 2) was added below the "
             "signed one");
}

BOOST_AUTO_TEST_CASE(a_field_signed_while_absent_then_added) {
  // h= names Reply-To, the signer had none (over-signing): adding one breaks the signature.
  ExpectHint(Altered("Date: ", "Reply-To: other@example.net\r\nDate: ",
                     std::string(kSigned) + ":reply-to"),
             "field added after signing",
             "the Reply-To field (field 5 of the header) was added after signing: h= names "
             "Reply-To once, the signer's message had none");
}

BOOST_AUTO_TEST_CASE(simple_header_white_space_rewritten_in_transit) {
  const std::string signed_simple =
      Sign(Replaced(kHeader, "Subject: Quarterly  numbers", "Subject: Quarterly numbers"), kBody,
           kSigned, "simple/simple");
  const std::string kind = "header white space rewritten (c=simple)";
  // Folded by a relay.
  ExpectHint(
      Replaced(signed_simple, "Subject: Quarterly numbers", "Subject: Quarterly\r\n numbers"), kind,
      "c=simple and the signed fields' white space or name case changed in transit (the "
      "signature verifies with them unfolded)");
  // Name case rewritten.
  ExpectHint(Replaced(signed_simple, "MIME-Version:", "Mime-Version:"), kind,
             "names in their usual case");
  // relaxed would not have seen it: the same change under c=relaxed passes.
  BOOST_TEST(DkimVerdictName(Verify(Altered("MIME-Version:", "Mime-Version:")).result) == "pass");
}

BOOST_AUTO_TEST_CASE(a_changed_field_is_not_explained_and_says_what_can_be_known) {
  // Content-Type rewritten by a gateway; h= also over-signs Subject.
  HeaderHashHint h =
      ExpectHint(Altered("charset=utf-8", "charset=\"UTF-8\"", std::string(kSigned) + ":subject"),
                 "not explained", "not explained by the repairs tried");
  BOOST_TEST(Has(h.cause, "h= names Subject twice, the message has one"), h.cause);
  BOOST_TEST(Has(h.cause, "possibly changed: MIME-Version, Content-Type, Subject, From"), h.cause);
  BOOST_TEST(Has(h.cause, "or the key at brisbane._domainkey.example.org was replaced"), h.cause);
}

BOOST_AUTO_TEST_CASE(only_header_hash_failures_and_never_past_the_budget) {
  Result<Message> m = Message::Parse(Sign(kHeader, kBody, kSigned));
  BOOST_REQUIRE(m.ok());
  DkimResult body_failure;
  body_failure.reason = DkimReason::kBodyHashMismatch;
  HeaderHintBudget budget;
  BOOST_TEST(ExplainHeaderHash(*m, body_failure, kKeyRecord, &budget).cause == "");
  BOOST_TEST(budget.tries == HeaderHintBudget().tries);
  // No tries left: nothing verified, said so.
  const std::string bytes = Altered("Subject: Quarterly", "Subject: [finance] Quarterly");
  HeaderHintBudget empty{1u << 20, 0};
  ExpectHint(bytes, "not explained", "not all tried (the message's hint budget was spent)", &empty);
  // A key record that does not parse: counts only.
  HeaderHashHint h = Explain(bytes, nullptr, "v=DKIM1; k=ed25519; p=!!");
  BOOST_TEST(Has(h.cause, "no repair tried"), h.cause);
}

BOOST_AUTO_TEST_CASE(a_thousand_subjects_stay_within_the_budget) {
  std::string many;
  for (int i = 0; i < 1000; ++i) many += "Subject: copy " + std::to_string(i) + "\r\n";
  const std::string bytes = Altered("Date: ", many + "Date: ");
  Result<Message> m = Message::Parse(bytes);
  BOOST_REQUIRE(m.ok());
  const DkimResult failed = Verify(bytes);
  HeaderHintBudget budget;
  const auto start = std::chrono::steady_clock::now();
  for (int signature = 0; signature < 100; ++signature) {
    ExplainHeaderHash(*m, failed, kKeyRecord, &budget);
  }
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  BOOST_TEST_MESSAGE("1000 Subject fields, 100 failing signatures: "
                     << ms << " ms, " << HeaderHintBudget().tries - budget.tries
                     << " verifications");
  BOOST_TEST(budget.tries == 0u);  // the per-message count bounds it, not the fields
  BOOST_TEST(ms < 5000.0);         // generous: ~128 verifications of a ~30 KB header
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace credence
