// The direct JSON writer (AppendEvaluationJson, AppendJsonString, AppendJsonNumber) against
// the oracle, nlohmann's dump of the tree (evaluation_json_tree.h: DumpJson(EvaluationToJson(
// ...))): the same bytes for hand-made evaluations, every enum name, hostile strings and
// awkward numbers.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "common/evaluation_json.h"
#include "evaluation_json_tree.h"

namespace credence {
namespace {

using nlohmann::json;
using testing::DumpJson;
using testing::EvaluationToJson;

std::string Direct(const Evaluation& ev) {
  std::string out;
  AppendEvaluationJson(ev, &out);
  return out;
}

std::string Tree(const Evaluation& ev) { return DumpJson(EvaluationToJson(ev)); }

std::string DirectString(std::string_view s) {
  std::string out;
  AppendJsonString(s, &out);
  return out;
}

std::string DirectNumber(double d) {
  std::string out;
  AppendJsonNumber(d, &out);
  return out;
}

// A message with everything set: two signatures, SPF both ways, DMARC with a record.
Evaluation Filled() {
  Evaluation ev;
  DkimResult a;
  a.result = DkimVerdict::kPass;
  a.domain = "example.com";
  a.selector = "s1";
  a.algorithm = "rsa-sha256";
  a.canonicalization = "relaxed/simple";
  a.identity = "@example.com";
  a.signature_b = "AbCdEfGhIjKl";
  a.signed_headers = {"from", "to", "subject"};
  a.timestamp = 1700000000;
  a.expiration = 1800000000;
  a.body_length = 1234;
  a.unsigned_body_bytes = 10;
  a.testing = true;
  a.key_bits = 2048;
  a.header_index = 3;
  DkimResult b;
  b.result = DkimVerdict::kFail;
  b.reason = DkimReason::kBodyHashMismatch;
  b.detail = "bh= mismatch";
  ev.dkim = {a, b};
  ev.spf_evaluated = true;
  ev.spf_mailfrom.result = SpfVerdict::kSoftFail;
  ev.spf_mailfrom.identity = "mailfrom";
  ev.spf_mailfrom.domain = "example.org";
  ev.spf_mailfrom.sender = "bounce@example.org";
  ev.spf_mailfrom.explanation = "See https://www.openspf.net/Why?s=mfrom";
  ev.spf_mailfrom.detail = "~all";
  ev.spf_mailfrom.dns_queries = 2;
  ev.spf_helo.identity = "helo";
  DmarcResult& d = ev.dmarc;
  d.verdict = DmarcVerdict::kPass;
  d.from_domain = "example.com";
  d.org_domain = "example.com";
  d.record_domain = "example.com";
  d.has_record = true;
  d.record.p = DmarcPolicy::kReject;
  d.record.sp = DmarcPolicy::kQuarantine;
  d.record.np = DmarcPolicy::kNone;
  d.record.adkim = DmarcAlignmentMode::kStrict;
  d.record.t = true;
  d.record.psd = DmarcPsd::kYes;
  d.record.pct = 50;
  d.record.fo = "1:d";
  d.record.rua = {"mailto:a@example.com", "mailto:b@example.com"};
  d.record.ruf = {"mailto:f@example.com"};
  d.record.warnings = {"pct: invalid value '500'"};
  d.policy_tag = DmarcPolicyTag::kP;
  d.requested = DmarcPolicy::kReject;
  d.disposition = DmarcDisposition::kQuarantine;
  d.sampled_out = true;
  d.dkim_aligned = true;
  d.aligned_dkim_domain = "example.com";
  d.reason = "aligned DKIM pass";
  d.dns_queries = 3;
  d.from_problem = DmarcFromProblem::kUnreadable;
  d.temporary_identifier = "dkim";
  d.limit_reached = true;
  ev.spf_helo.limit_reached = true;
  ev.limits = {"3 of 19 DKIM signatures not evaluated (limit 16)", "SPF helo: \"quoted\""};
  ev.authres.value = " mx.example; dkim=pass header.d=example.com";
  ev.authres.folded = " mx.example;\r\n\tdkim=pass header.d=example.com";
  ev.score.score = -0.7;
  ev.score.symbols = {{"CREDENCE_DKIM_PASS", -0.2, "d=example.com"},
                      {"CREDENCE_DMARC_PASS", -0.5, ""}};
  ev.forged_authres = {0, 7};
  // A two-set ARC chain and the trusted-sealer override.
  ev.arc.result = ArcVerdict::kPass;
  ev.arc.oldest_pass = 2;
  for (int i = 1; i <= 2; ++i) {
    ArcSet& set = ev.arc.sets.emplace_back();
    set.instance = i;
    set.cv = i == 1 ? "none" : "pass";
    set.authserv_id = "mx" + std::to_string(i) + ".example.org";
    set.seal.domain = i == 1 ? "lists.example.org" : "";
    set.seal.selector = "arc\"2";
    set.seal.result = DkimVerdict::kPass;
    set.message_signature.domain = "lists.example.org";
    set.message_signature.result = i == 1 ? DkimVerdict::kFail : DkimVerdict::kPass;
  }
  d.arc_override = true;
  d.disposition_before_override = DmarcDisposition::kReject;
  d.arc_override_sealer = "lists.example.org";
  d.arc_override_instance = 1;
  d.arc_override_evidence = "dmarc=pass header.from=example.com";
  return ev;
}

BOOST_AUTO_TEST_SUITE(evaluation_json)

BOOST_AUTO_TEST_CASE(empty_evaluation_is_the_tree_bytes) {
  Evaluation ev;
  BOOST_TEST(Direct(ev) == Tree(ev));
  // Keys sorted by bytes at every level, as nlohmann's std::map object prints them.
  BOOST_TEST(Direct(ev).rfind("{\"arc\":{\"detail\":\"\",\"oldest_pass\":0,\"reason\":\"\","
                             "\"result\":\"none\",\"sealers\":[],\"sets\":[]},"
                             "\"authentication_results\":\"\",\"dkim\":[],\"dmarc\":{",
                             0) == 0,
             Direct(ev));
}

BOOST_AUTO_TEST_CASE(filled_evaluation_is_the_tree_bytes) {
  Evaluation ev = Filled();
  BOOST_TEST(Direct(ev) == Tree(ev));
}

BOOST_AUTO_TEST_CASE(optionals_empty_and_filled) {
  Evaluation ev = Filled();
  DkimResult& r = ev.dkim[0];
  r.timestamp.reset();
  r.body_length = 0;
  r.expiration = std::numeric_limits<int64_t>::min();
  BOOST_TEST(Direct(ev) == Tree(ev));
  r.timestamp = -1;
  r.body_length = std::numeric_limits<uint64_t>::max();
  r.expiration.reset();
  r.header_index = std::numeric_limits<size_t>::max();
  r.key_bits = std::numeric_limits<unsigned>::max();
  BOOST_TEST(Direct(ev) == Tree(ev));
  ev.dmarc.record.sp.reset();
  ev.dmarc.record.np.reset();
  BOOST_TEST(Direct(ev) == Tree(ev));
  ev.dmarc.has_record = false;  // "policy" and "record" become null
  BOOST_TEST(Direct(ev) == Tree(ev));
  BOOST_TEST(Direct(ev).find("\"record\":null") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(every_verdict_and_name) {
  Evaluation ev = Filled();
  for (int v = 0; v < 6; ++v) {
    ev.dkim[0].result = static_cast<DkimVerdict>(v);
    BOOST_TEST(Direct(ev) == Tree(ev), "dkim verdict " << v);
  }
  for (int reason = 0; reason <= static_cast<int>(DkimReason::kDeadline); ++reason) {
    ev.dkim[1].reason = static_cast<DkimReason>(reason);
    BOOST_TEST(Direct(ev) == Tree(ev), "dkim reason " << reason);
  }
  for (int v = 0; v < 7; ++v) {
    ev.spf_mailfrom.result = static_cast<SpfVerdict>(v);
    ev.spf_helo.result = static_cast<SpfVerdict>(6 - v);
    BOOST_TEST(Direct(ev) == Tree(ev), "spf verdict " << v);
  }
  for (int v = 0; v < 5; ++v) {
    ev.dmarc.verdict = static_cast<DmarcVerdict>(v);
    BOOST_TEST(Direct(ev) == Tree(ev), "dmarc verdict " << v);
  }
  for (int p = 0; p < 3; ++p) {
    ev.dmarc.requested = static_cast<DmarcPolicy>(p);
    ev.dmarc.disposition = static_cast<DmarcDisposition>(p);
    ev.dmarc.record.p = static_cast<DmarcPolicy>(p);
    ev.dmarc.record.sp = static_cast<DmarcPolicy>((p + 1) % 3);
    ev.dmarc.record.np = static_cast<DmarcPolicy>((p + 2) % 3);
    ev.dmarc.record.psd = static_cast<DmarcPsd>(p);
    ev.dmarc.record.aspf = static_cast<DmarcAlignmentMode>(p % 2);
    BOOST_TEST(Direct(ev) == Tree(ev), "dmarc policy " << p);
  }
  for (int t = 0; t < 4; ++t) {
    ev.dmarc.policy_tag = static_cast<DmarcPolicyTag>(t);
    BOOST_TEST(Direct(ev) == Tree(ev), "dmarc policy tag " << t);
  }
  for (int v = 0; v < 3; ++v) {
    ev.arc.result = static_cast<ArcVerdict>(v);
    BOOST_TEST(Direct(ev) == Tree(ev), "arc verdict " << v);
  }
  for (int reason = 0; reason <= static_cast<int>(ArcReason::kNotEvaluated); ++reason) {
    ev.arc.reason = static_cast<ArcReason>(reason);
    ev.arc.detail = "detail \x01\xff " + std::to_string(reason);
    BOOST_TEST(Direct(ev) == Tree(ev), "arc reason " << reason);
  }
  for (int p = 0; p < 3; ++p) {
    ev.dmarc.disposition_before_override = static_cast<DmarcDisposition>(p);
    BOOST_TEST(Direct(ev) == Tree(ev), "disposition before override " << p);
  }
  ev.dmarc.arc_override = false;
  BOOST_TEST(Direct(ev) == Tree(ev), "no override");
}

BOOST_AUTO_TEST_CASE(scores_and_weights_print_as_nlohmann_does) {
  const double kScores[] = {0.0,
                            -0.0,
                            -0.7,
                            2.0,
                            1e-7,
                            1e+21,
                            1e+20,
                            -123456.789,
                            0.1 + 0.2,
                            std::numeric_limits<double>::max(),
                            std::numeric_limits<double>::denorm_min(),
                            std::numeric_limits<double>::quiet_NaN(),
                            std::numeric_limits<double>::infinity(),
                            -std::numeric_limits<double>::infinity()};
  Evaluation ev = Filled();
  for (double d : kScores) {
    BOOST_TEST(DirectNumber(d) == DumpJson(json(d)), d);
    ev.score.score = d;
    ev.score.symbols[1].weight = -d;
    BOOST_TEST(Direct(ev) == Tree(ev), d);
  }
  BOOST_TEST(DirectNumber(2.0) == "2.0");
  BOOST_TEST(DirectNumber(-0.7) == "-0.7");
  BOOST_TEST(DirectNumber(1e-7) == "1e-07");
  BOOST_TEST(DirectNumber(1e+21) == "1e+21");
  BOOST_TEST(DirectNumber(std::nan("")) == "null");
}

// Grisu2's digits are not always the shortest (about 1 double in 1,000 of random bit patterns
// prints with 17 digits where 16 would do, or rounds its last digit the other way): the
// writer keeps Grisu2's, as the output always had them. These were found by comparing
// std::to_chars with nlohmann; then a million random bit patterns and sums of weights.
BOOST_AUTO_TEST_CASE(numbers_where_grisu2_is_not_the_shortest) {
  const double kOdd[] = {-3.5561693938148423e-26, -1.2635321889364134e+292, 1238149735313913.2,
                         5.4046168572124135e-195, 6.1376885610807355e-109,
                         2.9802322387695312e-08,  1.5497207641601562e-06, 49539595901075456.0,
                         5.9604644775390625e-07,  1e15, 1e16, 123456789012345.0,
                         1234567890123456.0, 1e-4, 1e-5, 0.001, 5e-324};
  for (double d : kOdd) BOOST_TEST(DirectNumber(d) == DumpJson(json(d)), d);
  BOOST_TEST(DirectNumber(5.9604644775390625e-07) == "5.960464477539063e-07");
  BOOST_TEST(DirectNumber(1e14) == "100000000000000.0");  // the point within 15 digits
  BOOST_TEST(DirectNumber(1e15) == "1e+15");
  BOOST_TEST(DirectNumber(123456789012345.0) == "123456789012345.0");
  BOOST_TEST(DirectNumber(0.001) == "0.001");
  BOOST_TEST(DirectNumber(1e-4) == "0.0001");
  BOOST_TEST(DirectNumber(1e-5) == "1e-05");
  std::mt19937_64 rng(16);
  size_t differ = 0;
  for (int i = 0; i < 1000000; ++i) {
    uint64_t bits = rng();
    double d = 0;
    std::memcpy(&d, &bits, sizeof d);
    double sum = 0;
    for (int j = 0; j <= i % 9; ++j) {
      sum += static_cast<double>(static_cast<int>((bits >> (7 * j)) % 201) - 100) / 10;
    }
    differ += DirectNumber(d) != DumpJson(json(d));
    differ += DirectNumber(sum) != DumpJson(json(sum));
  }
  BOOST_TEST(differ == 0u);
}

// Decimals of at most three places below 100000 take a short path of their own (every one of
// them was compared with Grisu2 when it was written): a sample, the limits, and doubles next
// to such decimals (which must take Grisu2's path).
BOOST_AUTO_TEST_CASE(short_decimals_print_as_nlohmann_does) {
  const double kEdges[] = {0.001, 0.002, 0.01, 0.1, 0.5, 0.999, 1.0, 1.001, 9.999, 10.0,
                           0.0005, 0.0015, 1e-4, 99999.999, 99999.9995, 100000.0, 100000.001,
                           123.45, 4503599627370496.5, 2.5e-3, 7.125, 0.3, 1.1, 2.675};
  for (double d : kEdges) {
    for (double v : {d, -d, std::nextafter(d, 0.0), std::nextafter(d, 1e300)}) {
      BOOST_TEST(DirectNumber(v) == DumpJson(json(v)), v);
    }
  }
  BOOST_TEST(DirectNumber(1.0) == "1.0");
  BOOST_TEST(DirectNumber(-0.25) == "-0.25");
  BOOST_TEST(DirectNumber(0.001) == "0.001");
  BOOST_TEST(DirectNumber(99999.999) == "99999.999");
  BOOST_TEST(DirectNumber(12345.0) == "12345.0");
  std::mt19937_64 rng(10);
  size_t differ = 0;
  for (int i = 0; i < 200000; ++i) {
    const double v = static_cast<double>(rng() % 100000000) / 1000;
    differ += DirectNumber(v) != DumpJson(json(v));
    differ += DirectNumber(-v) != DumpJson(json(-v));
  }
  for (int i = 0; i < 100000; ++i) differ += DirectNumber(i / 1000.0) != DumpJson(json(i / 1000.0));
  BOOST_TEST(differ == 0u);
}

BOOST_AUTO_TEST_CASE(line_separators_and_long_strings) {
  for (const std::string& s : {std::string("a\u2028b\u2029c"), std::string(100000, '\x01'),
                               std::string(70000, '\xe2'), std::string("\xed\xa0\x80 surrogate"),
                               std::string("\xf4\x90\x80\x80 above U+10FFFF"),
                               std::string("\xf0\x9f\x98\x80\xf0\x9f\x98")}) {
    BOOST_TEST(DirectString(s) == DumpJson(json(s)));
  }
  BOOST_TEST(DirectString("a\u2028b") == "\"a\u2028b\"");  // U+2028 copied, as JSON allows
}

// `credence spf --format json` with --helo: the SPF object with "helo" merged in key order.
BOOST_AUTO_TEST_CASE(spf_object_with_helo_member) {
  Evaluation ev = Filled();
  std::string helo;
  AppendSpfResultJson(ev.spf_helo, {}, &helo);
  const JsonMember extra[] = {JsonMember::Raw("helo", helo)};
  std::string out;
  AppendSpfResultJson(ev.spf_mailfrom, extra, &out);
  json tree = testing::SpfResultToJson(ev.spf_mailfrom);
  tree["helo"] = testing::SpfResultToJson(ev.spf_helo);
  BOOST_TEST(out == DumpJson(tree));
  std::string alone;
  AppendSpfResultJson(ev.spf_mailfrom, {}, &alone);
  BOOST_TEST(alone == DumpJson(testing::SpfResultToJson(ev.spf_mailfrom)));
}

BOOST_AUTO_TEST_CASE(every_one_and_two_byte_string_escapes_as_nlohmann) {
  for (int a = 0; a < 256; ++a) {
    std::string s(1, static_cast<char>(a));
    BOOST_TEST(DirectString(s) == DumpJson(json(s)), "byte " << a);
    for (int b = 0; b < 256; ++b) {
      std::string t = s + static_cast<char>(b);
      if (DirectString(t) != DumpJson(json(t))) {
        BOOST_ERROR("bytes " << a << " " << b);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(controls_and_invalid_utf8) {
  BOOST_TEST(DirectString("a\"b\\c\b\f\n\r\t\x01\x1f\x7f") ==
             "\"a\\\"b\\\\c\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\"");
  BOOST_TEST(DirectString(std::string("\0x", 2)) == "\"\\u0000x\"");
  BOOST_TEST(DirectString("\xff") == "\"\xEF\xBF\xBD\"");
  const std::string kHostile[] = {
      "caf\xc3\xa9",                     // valid two-byte
      "\xe2\x82\xac euro",               // valid three-byte
      "\xf0\x9f\x98\x80 smile",          // valid four-byte
      "\xc3",                            // truncated at the end
      "\xe2\x82",                        // truncated three-byte at the end
      "ab\xe2\x82x",                     // broken three-byte, then ASCII
      "\xe2\x82\xe2\x82\xac",            // broken then valid
      "\xc0\xaf",                        // overlong '/'
      "\xed\xa0\x80",                    // UTF-16 surrogate
      "\xf4\x90\x80\x80",                // above U+10FFFF
      "\xf8\x88\x80\x80\x80",            // five-byte form
      "\x80\x80\x80",                    // continuation bytes alone
      "\xf0\x9f\x98\n",                  // broken by a control
      "\xf0\x9f\x98\"",                  // broken by a quote
      "x\xc3\xa9\xc3\xff\xfe\xa9\"\\y",  // everything at once
  };
  for (const std::string& s : kHostile) {
    BOOST_TEST(DirectString(s) == DumpJson(json(s)), s);
  }
  Evaluation ev = Filled();
  for (const std::string& s : kHostile) {
    ev.dkim[0].detail = s;
    ev.dkim[0].signature_b = "abcdefg" + s;  // header_b cuts after 8 bytes, mid-character
    ev.dkim[1].signed_headers = {s, "", s + "\t"};
    ev.spf_helo.explanation = s;
    ev.dmarc.record.warnings = {s};
    ev.authres.value = s + " ";
    ev.score.symbols[0].description = s;
    BOOST_TEST(Direct(ev) == Tree(ev), s);
  }
}

// Plain bytes are scanned eight at a time and short plain strings (and short plain members
// with their key) go out in one append: every special byte at every place around the word
// and buffer boundaries, in strings of every length around them, against the oracle.
BOOST_AUTO_TEST_CASE(escapes_at_run_and_buffer_boundaries) {
  const char kSpecial[] = {'"', '\\', '\n', '\x01', '\x1f', '\x7f', ' ', '~', '\x80', '\xc3', '\xff'};
  // Every length up to 130, of bytes that differ, so that a copy in overlapping pieces that
  // put a piece in the wrong place would show.
  for (size_t len = 0; len <= 130; ++len) {
    std::string plain(len, 'a');
    for (size_t i = 0; i < len; ++i) plain[i] = static_cast<char>('!' + (i * 7 + len) % 90);
    for (char& c : plain) {
      if (c == '"' || c == '\\') c = 'q';
    }
    BOOST_TEST(DirectString(plain) == DumpJson(json(plain)), len);
    for (char c : kSpecial) {
      for (size_t at = 0; at < len; ++at) {
        std::string s = plain;
        s[at] = c;
        if (DirectString(s) != DumpJson(json(s))) BOOST_ERROR("len " << len << " at " << at);
      }
    }
  }
  // A UTF-8 sequence across a word boundary, and valid text after an invalid byte.
  for (size_t at = 0; at < 12; ++at) {
    std::string s = std::string(at, 'x') + "\xe2\x82\xac" + std::string(12, 'y') + "\xff" +
                    std::string(9, 'z');
    BOOST_TEST(DirectString(s) == DumpJson(json(s)), at);
  }
  // Members: a key and a value together around the one-append limit, plain and not.
  Evaluation ev = Filled();
  for (size_t len = 0; len < 140; ++len) {
    std::string varied(len, 'c');
    for (size_t i = 0; i < len; ++i) varied[i] = static_cast<char>('0' + (i * 5 + len) % 75);
    ev.dkim[0].canonicalization = varied;  // key of 16 bytes
    ev.dmarc.record_domain = varied + "\"";
    ev.spf_mailfrom.sender = varied;
    ev.dkim[0].domain = varied.substr(0, len / 2);
    BOOST_TEST(Direct(ev) == Tree(ev), len);
  }
}

BOOST_AUTO_TEST_CASE(appends_after_existing_text) {
  Evaluation ev = Filled();
  std::string out = "x";
  AppendEvaluationJson(ev, &out);
  BOOST_TEST(out == "x" + Tree(ev));
}

BOOST_AUTO_TEST_CASE(extra_members_merge_in_key_order) {
  Evaluation ev = Filled();
  const std::string remove = "[1,2]";
  const JsonMember extra[] = {
      JsonMember::String("file", "mbox:\xff" "1"),
      JsonMember::Raw("evaluated_at", "1700000000"),
      JsonMember::Raw("remove_authentication_results", remove),
      JsonMember::String("id", "req-7"),
      JsonMember::String("", "empty key"),
      JsonMember::String("zzz", "last"),
      JsonMember::String("dkim\n", "escaped key"),
  };
  json tree = EvaluationToJson(ev);
  tree["file"] = "mbox:\xff" "1";
  tree["evaluated_at"] = 1700000000;
  tree["remove_authentication_results"] = json::array({1, 2});
  tree["id"] = "req-7";
  tree[""] = "empty key";
  tree["zzz"] = "last";
  tree["dkim\n"] = "escaped key";
  std::string out;
  AppendEvaluationJson(ev, extra, &out);
  BOOST_TEST(out == DumpJson(tree));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace credence
