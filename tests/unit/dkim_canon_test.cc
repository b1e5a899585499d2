// RFC 6376 §3.4 canonicalization (manifest tests/data/dkim/canon.json), l= counting, header
// selection (§5.4.2) and b= removal (§3.7).
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <cctype>
#include <fstream>
#include <nlohmann/json.hpp>

#include "credence/message.h"
#include "dkim/canonicalize.h"

namespace credence::dkim {
namespace {

namespace bdata = boost::unit_test::data;
using nlohmann::json;

json LoadCanon() {
  std::ifstream in(std::string(CREDENCE_TEST_DATA) + "/dkim/canon.json");
  if (!in) return json::array();
  return json::parse(in, nullptr, false);
}

std::vector<std::string> Names() {
  std::vector<std::string> names;
  for (const json& c : LoadCanon()) names.push_back(c["name"]);
  if (names.empty()) names.push_back("<canon.json missing>");
  return names;
}

std::string Body(Canon canon, std::string_view body) {
  std::string out;
  StringSink sink(&out);
  CanonicalizeBody(canon, body, &sink);
  return out;
}

BOOST_AUTO_TEST_SUITE(dkim_canon)

BOOST_DATA_TEST_CASE(canonicalization, bdata::make(Names()), name) {
  json c;
  for (const json& x : LoadCanon())
    if (x["name"] == name) c = x;
  BOOST_TEST_REQUIRE(!c.is_null());
  Canon canon = c["canon"] == "simple" ? Canon::kSimple : Canon::kRelaxed;
  std::string input = c["input"];
  std::string out;
  if (c["part"] == "body") {
    out = Body(canon, input);
  } else {
    CanonicalizeHeader(canon, input, true, &out);
  }
  BOOST_TEST(out == c["output"].get<std::string>());
}

// Relaxed header canonicalization copies runs 16 bytes a step: random fields (words, runs of
// SP/HTAB, folds, lone CR and LF, bytes over 0x7f) of every length up to 80 against the
// rule of RFC 6376 §3.4.2 written out byte by byte.
BOOST_AUTO_TEST_CASE(relaxed_header_matches_the_rule_byte_by_byte) {
  auto rule = [](std::string_view raw) {
    std::string out;
    const size_t colon = raw.find(':');
    std::string_view name = raw.substr(0, colon);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
    for (char c : name) out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c);
    out.push_back(':');
    if (colon == std::string_view::npos) return out + "\r\n";
    std::string value;  // unfolded
    const std::string_view v = raw.substr(colon + 1);
    for (size_t i = 0; i < v.size(); ++i) {
      if (v[i] == '\r' && i + 1 < v.size() && v[i + 1] == '\n') {
        ++i;
        continue;
      }
      value.push_back(v[i]);
    }
    std::string squeezed;  // WSP runs -> one SP, none at the ends
    for (char c : value) {
      const bool wsp = c == ' ' || c == '\t';
      if (wsp && (squeezed.empty() || squeezed.back() == ' ')) continue;
      squeezed.push_back(wsp ? ' ' : c);
    }
    if (!squeezed.empty() && squeezed.back() == ' ') squeezed.pop_back();
    return out + squeezed + "\r\n";
  };
  const char* pieces[] = {"a", "Word", "x-y.z", " ", "\t", "  \t ", "\r\n ", "\r\n\t", "\r",
                          "\n", "\xc3\xa9", "=?utf-8?q?abc?=", "0123456789abcdef"};
  uint32_t seed = 99;
  auto next = [&seed] { return seed = seed * 1103515245u + 12345u, (seed >> 16) & 0x7fff; };
  size_t checked = 0;
  for (size_t len = 0; len <= 80; ++len) {
    for (int round = 0; round < 30; ++round) {
      std::string raw = round % 3 == 0 ? "Subject :" : "X-Test:";
      while (raw.size() < len + 7) raw += pieces[next() % std::size(pieces)];
      std::string out = "kept";
      CanonicalizeHeader(Canon::kRelaxed, raw, true, &out);
      BOOST_TEST(out == "kept" + rule(raw), raw);
      ++checked;
    }
  }
  BOOST_TEST(checked == 81u * 30u);
}

BOOST_AUTO_TEST_CASE(relaxed_body_long_input_streams_in_chunks) {
  // More than the 8 KiB write buffer, with runs of white space across the boundary.
  std::string body, expected;
  for (int i = 0; i < 2000; ++i) {
    body += "word \t  word\t \r\n";
    expected += "word word\r\n";
  }
  body += "\r\n \r\n";
  BOOST_TEST(Body(Canon::kRelaxed, body) == expected);
  BOOST_TEST(Body(Canon::kSimple, body) == body.substr(0, body.size() - 5) + "\r\n \r\n");
}

BOOST_AUTO_TEST_CASE(body_hasher_counts_past_limit) {
  BodyHasher limited(3);
  limited.Write("abcdef", 6);
  BOOST_TEST(limited.total() == 6u);
  BodyHasher exact;
  exact.Write("abc", 3);
  BOOST_TEST((limited.Final() == exact.Final()));
  BodyHasher zero(0);
  zero.Write("abc", 3);
  BOOST_TEST((zero.Final() == crypto::Sha256::Hash("")));
}

BOOST_AUTO_TEST_CASE(headers_selected_bottom_up_and_oversigned) {
  Result<Message> m = Message::Parse(
      "Subject: one\r\nFrom: a@x\r\nsubject: two\r\nTo: b@y\r\n\r\nbody\r\n");
  BOOST_TEST_REQUIRE(m.ok());
  HeaderIndex index(m->headers());
  std::string out;
  index.AppendSignedHeaders({"from", "SUBJECT", "Subject", "subject", "X-Missing"},
                            Canon::kSimple, &out);
  BOOST_TEST(out == "From: a@x\r\nsubject: two\r\nSubject: one\r\n");
  out.clear();
  index.AppendSignedHeaders({"subject"}, Canon::kRelaxed, &out);
  BOOST_TEST(out == "subject:two\r\n");
}

// RFC 6376 §8.15: a single-instance field that h= signs fewer times than the message has it
// leaves the instances above unsigned; names compare without case and white space before the
// colon; fields that may repeat (Received) and names h= does not sign are not reported.
BOOST_AUTO_TEST_CASE(unsigned_instances_of_single_instance_fields) {
  Result<Message> m = Message::Parse(
      "Subject : added\r\nTO: x@evil\r\nReceived: a\r\nReceived: b\r\nFrom: a@x\r\n"
      "subject: original\r\nTo: b@y\r\nCc: c@z\r\nCc: d@z\r\nDate: 1\r\nDate: 2\r\n\r\nbody\r\n");
  BOOST_TEST_REQUIRE(m.ok());
  using V = std::vector<std::string>;
  auto of = [&](V h) { return UnsignedInstances(*m, h); };
  BOOST_TEST(of({"from", "SUBJECT", "to", "received"}) == (V{"to", "subject"}),
             boost::test_tools::per_element());
  // Over-signed: h= names each as often as the message has it, or more.
  BOOST_TEST(of({"from", "subject", "Subject", "to", "to", "to"}).empty());
  // Cc twice and Date twice, neither signed: the signature vouches for neither, not reported.
  BOOST_TEST(of({"from"}).empty());
  BOOST_TEST(of({"from", "date"}) == (V{"date"}), boost::test_tools::per_element());
  BOOST_TEST(of({}).empty());
  // A Subject behind a bare CR in another field is one more for a reader that splits there.
  Result<Message> hidden = Message::Parse(
      "X-Note: a\rSubject: added\r\nFrom: a@x\r\nSubject: original\r\n\r\nbody\r\n");
  BOOST_TEST_REQUIRE(hidden.ok());
  BOOST_TEST(UnsignedInstances(*hidden, {"from", "subject"}) == (V{"subject"}),
             boost::test_tools::per_element());
  // Over-signing does not help: only a field of its own can be signed, a hidden one never.
  BOOST_TEST(UnsignedInstances(*hidden, {"from", "subject", "subject"}) == (V{"subject"}),
             boost::test_tools::per_element());
  // A Subject (or From) skipped past the header limits is one more for every reader, and a
  // second Content-Type on top (RFC 2045: one per entity) is one the signature leaves out.
  Limits small;
  small.max_header_fields = 3;
  Result<Message> past = Message::Parse(
      "From: a@x\r\nSubject: original\r\nX-1: p\r\nX-2: p\r\nSubject: added\r\n"
      "From: b@y\r\n\r\nbody\r\n", small);
  BOOST_TEST_REQUIRE(past.ok());
  BOOST_TEST(past->headers().size() == 4u);  // the From past the limit is still read
  BOOST_TEST(past->unkept_single_instance_count(SingleInstanceFieldIndex("subject")) == 1u);
  BOOST_TEST(past->unkept_single_instance_count(SingleInstanceFieldIndex("from")) == 0u);
  BOOST_TEST(UnsignedInstances(*past, {"from", "subject"}) == (V{"from", "subject"}),
             boost::test_tools::per_element());
  Result<Message> mime = Message::Parse(
      "Content-Type: multipart/mixed; boundary=z\r\nFrom: a@x\r\nMIME-Version: 1.0\r\n"
      "Content-Type: text/plain\r\n\r\nbody\r\n");
  BOOST_TEST_REQUIRE(mime.ok());
  BOOST_TEST(UnsignedInstances(*mime, {"from", "mime-version", "content-type"}) ==
                 (V{"content-type"}),
             boost::test_tools::per_element());
  // A field written twice with the same value (unfolded, white space at the ends aside) shows
  // nothing unsigned: senders that repeat MIME-Version or Content-Type are real mail.
  Result<Message> twice = Message::Parse(
      "Content-Type: text/plain;\r\n charset=utf-8\r\nSubject:   same one \r\nFrom: a@x\r\n"
      "MIME-Version: 1.0\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
      "Subject: same one\r\n\r\nbody\r\n");
  BOOST_TEST_REQUIRE(twice.ok());
  BOOST_TEST(UnsignedInstances(*twice, {"from", "subject", "mime-version", "content-type"}).empty());
  Result<Message> differs = Message::Parse(
      "Content-Type: text/html\r\nFrom: a@x\r\nContent-Type: text/plain\r\n\r\nbody\r\n");
  BOOST_TEST_REQUIRE(differs.ok());
  BOOST_TEST(UnsignedInstances(*differs, {"from", "content-type"}) == (V{"content-type"}),
             boost::test_tools::per_element());
  // A bare CR inside is no fold: "State<CR>ment" is not a repeat of "Statement".
  Result<Message> bare = Message::Parse(
      "Subject: State\rment\r\nFrom: a@x\r\nSubject: Statement\r\n\r\nbody\r\n");
  BOOST_TEST_REQUIRE(bare.ok());
  BOOST_TEST(UnsignedInstances(*bare, {"from", "subject"}) == (V{"subject"}),
             boost::test_tools::per_element());
  // White space inside a value is kept: a quoted boundary "Z Z" is not "Z  Z" (a reader
  // renders the part the first one delimits).
  Result<Message> boundary = Message::Parse(
      "Content-Type: multipart/mixed; boundary=\"Z Z\"\r\nFrom: a@x\r\n"
      "Content-Type: multipart/mixed; boundary=\"Z  Z\"\r\n\r\nbody\r\n");
  BOOST_TEST_REQUIRE(boundary.ok());
  BOOST_TEST(UnsignedInstances(*boundary, {"from", "content-type"}) == (V{"content-type"}),
             boost::test_tools::per_element());
  // Every name of the list maps to its own index; anything else to none.
  for (size_t i = 0; i < kSingleInstanceFieldCount; ++i) {
    BOOST_TEST(SingleInstanceFieldIndex(kSingleInstanceFields[i]) == i);
    std::string upper(kSingleInstanceFields[i]);
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    BOOST_TEST(SingleInstanceFieldIndex(upper) == i);
  }
  for (const char* other : {"", "x", "tos", "received", "subjects", "message-ids", "fro",
                            "content-types", "content-id", "mime-versions"}) {
    BOOST_TEST(SingleInstanceFieldIndex(other) == kSingleInstanceFieldCount, other);
  }
}

// The three ways AppendSignedHeaders finds fields (a search from the bottom for small
// messages, the sorted index for more than 64 fields, a sort for a long h= on a small
// message) against the rule written out: random fields whose names differ in case and in
// white space before the colon, and h= lists of up to 200 names.
BOOST_AUTO_TEST_CASE(signed_headers_found_alike_on_every_path) {
  const char* names[] = {"From", "from", "TO", "Subject", "subject ", "X-A", "X-B\t", "Date"};
  const char* wanted[] = {"from", "To", "SUBJECT", "x-a", "x-b", "date", "X-None", "x-a "};
  uint32_t seed = 7;
  auto next = [&seed] { return seed = seed * 1103515245u + 12345u, (seed >> 16) & 0x7fff; };
  auto trimmed = [](std::string_view n) {
    while (!n.empty() && (n.back() == ' ' || n.back() == '\t')) n.remove_suffix(1);
    return n;
  };
  auto same = [](std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(a[i])) !=
          std::tolower(static_cast<unsigned char>(b[i]))) {
        return false;
      }
    }
    return true;
  };
  size_t checked = 0;
  for (size_t fields : {0, 1, 5, 20, 64, 65, 80}) {
    for (size_t signed_names : {0, 1, 7, 60, 70, 200}) {
      std::string raw;
      for (size_t i = 0; i < fields; ++i) {
        raw += std::string(names[next() % std::size(names)]) + ": v" + std::to_string(i) + "\r\n";
      }
      raw += "\r\nbody\r\n";
      Result<Message> m = Message::Parse(raw);
      BOOST_TEST_REQUIRE(m.ok());
      BOOST_TEST_REQUIRE(m->headers().size() == fields);
      std::vector<std::string> h;
      for (size_t i = 0; i < signed_names; ++i) h.push_back(wanted[next() % std::size(wanted)]);
      std::string want;
      std::vector<bool> used(fields, false);
      for (const std::string& name : h) {
        for (size_t i = fields; i-- > 0;) {
          if (!used[i] && same(trimmed(m->headers()[i].name), name)) {
            used[i] = true;
            want.append(m->headers()[i].raw).append("\r\n");
            break;
          }
        }
      }
      std::string got;
      HeaderIndex(m->headers()).AppendSignedHeaders(h, Canon::kSimple, &got);
      BOOST_TEST(got == want, fields << " fields, " << signed_names << " names");
      ++checked;
    }
  }
  BOOST_TEST(checked == 7u * 6u);
}

BOOST_AUTO_TEST_CASE(b_value_removed_with_its_fws_only) {
  std::string raw = "DKIM-Signature: v=1; b=QU\r\n JD ; bh=QUJD; d=x";
  std::string_view value = std::string_view(raw).substr(15);  // after the colon
  size_t b = value.find("b=") + 2;
  size_t end = value.find(';', b);
  BOOST_TEST(RemoveBValue(raw, 15, b, end) == "DKIM-Signature: v=1; b=; bh=QUJD; d=x");
  // At the end of the field.
  std::string raw2 = "DKIM-Signature: v=1; bh=QUJD; b=QUJD";
  BOOST_TEST(RemoveBValue(raw2, 15, raw2.size() - 4 - 15, raw2.size() - 15) ==
             "DKIM-Signature: v=1; bh=QUJD; b=");
}

BOOST_AUTO_TEST_CASE(b_value_removed_into_a_reused_buffer) {
  std::string raw = "DKIM-Signature: v=1; b=QU\r\n JD ; bh=QUJD; d=x";
  std::string_view value = std::string_view(raw).substr(15);
  size_t b = value.find("b=") + 2;
  size_t end = value.find(';', b);
  std::string out = "left over from an earlier, longer signature field";
  RemoveBValue(raw, 15, b, end, &out);
  BOOST_TEST(out == "DKIM-Signature: v=1; b=; bh=QUJD; d=x");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace credence::dkim
