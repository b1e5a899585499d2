// RFC 6376 §3.4.4 relaxed body canonicalization, fast path (canonical stretches handed to the
// sink in place, a vector scan for the lines that need rewriting): named cases from
// tests/data/dkim/relaxed_body.json, a differential check against a plain reading of the RFC
// over generated bodies, chunking and ordering of the sink writes, and l= at every offset.
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "credence/simd.h"
#include "dkim/canonicalize.h"
#include "dkim/tag_list.h"
#include "base64_reference.h"
#include "relaxed_body_reference.h"

namespace credence::dkim {
namespace {

namespace bdata = boost::unit_test::data;
using nlohmann::json;

json LoadCases() {
  std::ifstream in(std::string(CREDENCE_TEST_DATA) + "/dkim/relaxed_body.json");
  if (!in) return json::array();
  return json::parse(in, nullptr, false);
}

std::vector<std::string> Names() {
  std::vector<std::string> names;
  json all = LoadCases();
  if (all.is_array()) {
    for (const json& c : all) names.push_back(c["name"]);
  }
  if (names.empty()) names.push_back("<relaxed_body.json missing>");
  return names;
}

// Records every Write as its own chunk.
class ChunkSink final : public ByteSink {
 public:
  void Write(const char* data, size_t size) override {
    BOOST_TEST_REQUIRE(size > 0u);  // no empty writes
    chunks.emplace_back(data, size);
  }
  std::string Joined() const {
    std::string s;
    for (const std::string& c : chunks) s += c;
    return s;
  }
  std::vector<std::string> chunks;
};

std::string Relaxed(std::string_view body) {
  ChunkSink sink;
  CanonicalizeBody(Canon::kRelaxed, body, &sink);
  return sink.Joined();
}

// Bodies from a small alphabet rich in the bytes that matter, some line-shaped.
std::string RandomBody(std::mt19937& rng) {
  static const char kAlphabet[] = {'a', 'b', 'c', 'd', ' ', ' ', '\t', '\r', '\n', 'x'};
  std::uniform_int_distribution<int> len_dist(0, 300);
  std::uniform_int_distribution<int> pick(0, sizeof kAlphabet - 1);
  std::uniform_int_distribution<int> mode(0, 3);
  std::string body;
  int len = len_dist(rng);
  bool lines = mode(rng) != 0;  // mostly CRLF-structured text
  while (static_cast<int>(body.size()) < len) {
    char c = kAlphabet[pick(rng)];
    if (lines && (c == '\r' || c == '\n')) {
      body += "\r\n";
    } else {
      body += c;
    }
  }
  return body;
}

BOOST_AUTO_TEST_SUITE(dkim_canon_fast)

BOOST_DATA_TEST_CASE(relaxed_body, bdata::make(Names()), name) {
  json c;
  for (const json& x : LoadCases())
    if (x["name"] == name) c = x;
  BOOST_TEST_REQUIRE(!c.is_null());
  const std::string input = c["input"];
  BOOST_TEST(Relaxed(input) == c["output"].get<std::string>());
  // The manifest's expectations agree with the literal reading of the RFC.
  BOOST_TEST(testing::RelaxedBodyReference(input) == c["output"].get<std::string>());
}

// At every level of the scans this CPU runs (credence/simd.h): the 16- and 64-byte blocks
// meet events at every offset and masked last blocks of every length.
BOOST_AUTO_TEST_CASE(matches_reference_on_generated_bodies) {
  for (int level = 0; level <= static_cast<int>(simd::Best()); ++level) {
    simd::ScopedCap cap(static_cast<simd::Level>(level));
    std::mt19937 rng(6376);
    int mismatches = 0;
    for (int i = 0; i < 20000; ++i) {
      std::string body = RandomBody(rng);
      std::string got = Relaxed(body);
      std::string want = testing::RelaxedBodyReference(body);
      if (got != want && ++mismatches <= 5) {
        BOOST_ERROR("level " << level << ", body " << json(body).dump() << ": got "
                             << json(got).dump() << " want " << json(want).dump());
      }
    }
    BOOST_TEST(mismatches == 0, "level " << level);
  }
}

BOOST_AUTO_TEST_CASE(canonical_body_goes_to_the_sink_in_one_write) {
  std::string body;
  for (int i = 0; i < 200; ++i) body += "alpha bravo charlie delta echo foxtrot golf hotel\r\n";
  ChunkSink sink;
  CanonicalizeBody(Canon::kRelaxed, body, &sink);
  BOOST_TEST(sink.chunks.size() == 1u);
  BOOST_TEST(sink.Joined() == body);
  // The written bytes are the message's own: no copy.
  BOOST_TEST(sink.chunks[0] == body);
}

BOOST_AUTO_TEST_CASE(runs_and_rewritten_lines_keep_their_order) {
  // Long canonical runs (written in place) between rewritten lines (buffered), and rewritten
  // lines longer than the 4 KiB buffer, in every order.
  std::string body, expected;
  for (int i = 0; i < 50; ++i) {
    std::string word = "w" + std::to_string(i);
    for (int k = 0; k < (i % 7) * 20; ++k) {  // 0 .. 120 canonical lines
      body += word + " canonical line\r\n";
      expected += word + " canonical line\r\n";
    }
    body += word + "\t\tneeds  rewriting \r\n";
    expected += word + " needs rewriting\r\n";
    if (i % 10 == 3) {
      std::string long_in, long_out;
      for (int k = 0; k < 1500; ++k) {
        long_in += "ab \t";
        long_out += k == 0 ? "ab" : " ab";
      }
      body += long_in + "\r\n\r\n";
      expected += long_out + "\r\n\r\n";
    }
  }
  body += "\r\n \r\n";
  BOOST_TEST(Relaxed(body) == expected);
  BOOST_TEST(testing::RelaxedBodyReference(body) == expected);
}

BOOST_AUTO_TEST_CASE(many_empty_lines_inside_then_text) {
  std::string body = "top\r\n";
  for (int i = 0; i < 1000; ++i) body += i % 2 ? "\r\n" : " \t\r\n";
  body += "bottom\r\n";
  std::string expected = "top\r\n";
  for (int i = 0; i < 1000; ++i) expected += "\r\n";
  expected += "bottom\r\n";
  BOOST_TEST(Relaxed(body) == expected);
}

BOOST_AUTO_TEST_CASE(body_length_limit_at_every_offset) {
  // RFC 6376 §3.5 l=: counts canonicalized bytes. A limit inside a line, between CR and LF,
  // inside a rewritten WSP run and at the end all hash the same prefix as the reference.
  const std::string body =
      "first line\r\nsecond \t line  \r\n\r\n third\r\n" + std::string(600, 'x') +
      "\r\nlast  line \t";
  const std::string canonical = testing::RelaxedBodyReference(body);
  BOOST_TEST_REQUIRE(Relaxed(body) == canonical);
  for (size_t l = 0; l <= canonical.size() + 1; ++l) {
    BodyHasher hasher(l);
    CanonicalizeBody(Canon::kRelaxed, body, &hasher);
    BOOST_TEST(hasher.total() == canonical.size());
    crypto::Sha256Digest want = crypto::Sha256::Hash(canonical.substr(0, l));
    BOOST_TEST((hasher.Final() == want), "l=" << l);
  }
}

BOOST_AUTO_TEST_CASE(simple_body_length_limit_splits_crlf) {
  // RFC 6376 §3.4.3 with l= ending between the CR and the LF of a line.
  const std::string body = "a \r\nb\r\n\r\n";
  BodyHasher hasher(3);
  CanonicalizeBody(Canon::kSimple, body, &hasher);
  BOOST_TEST(hasher.total() == 7u);  // "a \r\nb\r\n"
  BOOST_TEST((hasher.Final() == crypto::Sha256::Hash("a \r")));
}

BOOST_AUTO_TEST_CASE(hostile_shapes_terminate) {
  // Large bodies made only of the bytes that force the slow path, at every level.
  for (int level = 0; level <= static_cast<int>(simd::Best()); ++level) {
    simd::ScopedCap cap(static_cast<simd::Level>(level));
    for (std::string unit : {" ", "\t", "\r", "\n", "\r\n", " \r\n", "\n\r", "  x"}) {
      std::string body;
      while (body.size() < 200000) body += unit;
      BOOST_TEST(Relaxed(body) == testing::RelaxedBodyReference(body),
                 "level " << level << ", unit " << json(unit).dump());
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

// The table-driven base64 decoder (b=, bh=, p=) against a plain encoder, FWS anywhere.
std::string Encode(const std::string& in) {
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < in.size(); i += 3) {
    uint32_t v = static_cast<uint8_t>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<uint8_t>(in[i + 1]) << 8;
    if (i + 2 < in.size()) v |= static_cast<uint8_t>(in[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += i + 2 < in.size() ? kAlphabet[v & 63] : '=';
  }
  return out;
}

using testing::DecodeBase64OneAtATime;

BOOST_AUTO_TEST_SUITE(dkim_base64_fast)

BOOST_AUTO_TEST_CASE(decode_round_trips_with_fws) {
  std::mt19937 rng(4648);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> fws(0, 15);
  for (size_t n = 0; n < 600; ++n) {
    std::string raw;
    for (size_t i = 0; i < n; ++i) raw += static_cast<char>(byte(rng));
    std::string text;
    for (char c : Encode(raw)) {
      int f = fws(rng);
      if (f == 0) text += "\r\n\t";
      if (f == 1) text += ' ';
      text += c;
    }
    Result<std::string> got = DecodeBase64(text);
    BOOST_TEST_REQUIRE(got.ok(), "n=" << n << ": " << got.status().message());
    BOOST_TEST((*got == raw), "n=" << n);
    std::string stripped = StripFws(text);
    BOOST_TEST(stripped == Encode(raw));
  }
}

// The four-characters-at-a-time path against a literal reading (one character at a time, the
// same outcome: bytes, or the same error) on generated texts mixing alphabet, FWS, padding and
// bad bytes at every offset of a quantum.
BOOST_AUTO_TEST_CASE(decode_fast_path_matches_one_at_a_time) {
  std::mt19937 rng(1616);
  const std::string pieces[] = {"QUJD", "QQ", "Q", "=", "==", " ", "\r\n\t", "+/09", "*", "Zm9v"};
  std::uniform_int_distribution<size_t> pick(0, std::size(pieces) - 1);
  std::uniform_int_distribution<int> count(0, 12);
  for (int i = 0; i < 20000; ++i) {
    std::string text;
    for (int k = count(rng); k > 0; --k) text += pieces[pick(rng)];
    Result<std::string> got = DecodeBase64(text);
    Result<std::string> want = DecodeBase64OneAtATime(text);
    BOOST_TEST_REQUIRE(got.ok() == want.ok(), text);
    if (got.ok()) {
      BOOST_TEST((*got == *want), text);
    } else {
      BOOST_TEST(got.status().message() == want.status().message(), text);
    }
  }
}

// StripFws copies runs found eight bytes at a time: against a byte-at-a-time loop on random
// bytes (every value: controls that are not FWS stay, bytes of 0x80 and up stay) at every
// length and alignment around the eight-byte step.
BOOST_AUTO_TEST_CASE(strip_fws_matches_one_at_a_time) {
  std::mt19937 rng(2026);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> kind(0, 3);
  for (int i = 0; i < 20000; ++i) {
    std::string text;
    for (int n = i % 40; n > 0; --n) {
      const int k = kind(rng);  // mostly base64-like text, some FWS, some any byte
      text += k == 0 ? static_cast<char>(byte(rng)) : k == 1 ? " \t\r\n"[byte(rng) % 4] : 'Q';
    }
    std::string want;
    for (char c : text) {
      if (c != ' ' && c != '\t' && c != '\r' && c != '\n') want += c;
    }
    BOOST_TEST(StripFws(text) == want);
  }
}

// IsBase64Text checks 16 bytes a step: every byte value at every offset of a 40-byte text
// (two blocks and a tail), against the alphabet written out.
BOOST_AUTO_TEST_CASE(base64_text_check_takes_each_byte_at_each_offset) {
  const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";
  const std::string good = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk";  // 40 bytes
  BOOST_TEST_REQUIRE(IsBase64Text(good));
  size_t rejected = 0;
  for (int byte = 0; byte < 256; ++byte) {
    const bool allowed = alphabet.find(static_cast<char>(byte)) != std::string::npos;
    for (size_t at = 0; at < good.size(); ++at) {
      std::string text = good;
      text[at] = static_cast<char>(byte);
      BOOST_TEST(IsBase64Text(text) == allowed, "byte " << byte << " at " << at);
      rejected += !allowed;
    }
  }
  BOOST_TEST(rejected == (256u - 65u) * 40u);
}

BOOST_AUTO_TEST_CASE(decode_rejects_each_bad_byte) {
  for (int c = 0; c < 256; ++c) {
    bool alphabet = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '+' || c == '/';
    bool skipped = c == ' ' || c == '\t' || c == '\r' || c == '\n';
    std::string text = "QUJD" + std::string(1, static_cast<char>(c)) + "QUJD";
    if (c == '=') continue;  // padding rules: tag_list.json
    Result<std::string> r = DecodeBase64(text);
    // Alphabet bytes make 9 characters (not a multiple of 4); others are refused outright.
    BOOST_TEST(r.ok() == skipped, "byte " << c);
    if (!skipped && !alphabet) {
      BOOST_TEST(r.status().message().find("offset 4") != std::string::npos, "byte " << c);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace credence::dkim
