// RFC5322.From -> Author Domain: tests/data/dmarc/from_domain.tsv and OpenDMARC's
// opendmarc_util_finddomain table (tests/data/dmarc/opendmarc/from_domain_extraction.tsv).
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "credence/policy/dmarc.h"

namespace credence {
namespace {

struct FromCase {
  std::string value, expect, comment;
};
std::ostream& operator<<(std::ostream& os, const FromCase& c) {
  return os << "[" << c.value << "] " << c.comment;
}

std::vector<FromCase> LoadFromCases(const std::string& path) {
  std::vector<FromCase> cases;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t t1 = line.find('\t');
    size_t t2 = line.find('\t', t1 + 1);
    FromCase c{line.substr(0, t1), line.substr(t1 + 1, t2 - t1 - 1),
               t2 == std::string::npos ? "" : line.substr(t2 + 1)};
    cases.push_back(c);
  }
  return cases;
}

// Runs the value through a whole message so Message parsing and field lookup are covered.
Result<std::string> AuthorOf(const std::string& value) {
  std::string msg = "From: " + value + "\r\nSubject: x\r\n\r\nbody\r\n";
  Result<Message> m = Message::Parse(msg);
  if (!m.ok()) return m.status();
  return ExtractAuthorDomain(*m);
}

BOOST_AUTO_TEST_SUITE(dmarc_from)

BOOST_DATA_TEST_CASE(manifest,
                     boost::unit_test::data::make(
                         LoadFromCases(CREDENCE_TEST_DATA "/dmarc/from_domain.tsv")),
                     c) {
  Result<std::string> d = AuthorOf(c.value);
  if (!c.expect.empty() && c.expect[0] == '!') {
    BOOST_TEST_REQUIRE(!d.ok());
    BOOST_TEST(d.status().message().find(c.expect.substr(1)) != std::string::npos,
               d.status().message());
  } else {
    BOOST_TEST_REQUIRE(d.ok(), d.status().ToString());
    BOOST_TEST(*d == c.expect);
  }
}

BOOST_AUTO_TEST_CASE(opendmarc_table) {
  std::vector<FromCase> cases =
      LoadFromCases(CREDENCE_TEST_DATA "/dmarc/opendmarc/from_domain_extraction.tsv");
  BOOST_TEST(cases.size() == 13u);
  // Where credence differs from OpenDMARC (which takes the first address it can find):
  const std::map<std::string, std::string> overrides = {
      // Nested angle brackets are not RFC 5322; refuse rather than guess.
      {"<<<><joe@joe.com>>>", "!nested angle brackets"},
      // Two addresses with different domains: no single Author Domain (Evaluate() checks
      // each and keeps the strictest result, RFC 7489 §6.6.1).
      {"Joe Johnson <joe@joe.com>, ace@ace.com", "!multiple From addresses"},
      {"joe@joe.com, ace@ace.com", "!multiple From addresses"},
  };
  for (const FromCase& c : cases) {
    std::string expect = c.expect;
    auto it = overrides.find(c.value);
    if (it != overrides.end()) expect = it->second;
    Result<std::string> d = AuthorOf(c.value);
    if (expect[0] == '!') {
      BOOST_TEST(!d.ok(), c.value);
      if (!d.ok()) BOOST_TEST(d.status().message().find(expect.substr(1)) != std::string::npos);
    } else {
      BOOST_TEST(d.ok(), c.value << ": " << d.status().ToString());
      if (d.ok()) BOOST_TEST(*d == expect, c.value);
    }
  }
}

BOOST_AUTO_TEST_CASE(multiple_from_fields_refused) {
  Result<Message> m =
      Message::Parse("From: a@example.com\r\nFrom: b@example.com\r\n\r\nbody\r\n");
  BOOST_TEST_REQUIRE(m.ok());
  Result<std::string> d = ExtractAuthorDomain(*m);
  BOOST_TEST_REQUIRE(!d.ok());
  BOOST_TEST(d.status().message() == "multiple From fields");
  Result<Message> none = Message::Parse("Subject: x\r\n\r\nbody\r\n");
  BOOST_TEST_REQUIRE(none.ok());
  BOOST_TEST(ExtractAuthorDomain(*none).status().message() == "no From field");
}

BOOST_AUTO_TEST_CASE(multiple_addresses_listed) {
  Result<std::vector<std::string>> d =
      ParseFromDomains("a@one.example, G: b@two.example, c@ONE.example;");
  BOOST_TEST_REQUIRE(d.ok());
  BOOST_TEST(*d == (std::vector<std::string>{"one.example", "two.example", "one.example"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(hostile_inputs_are_bounded) {
  // Deep comment nesting: iterative, no recursion.
  std::string deep(200000, '(');
  deep += std::string(200000, ')') + " a@example.com";
  Result<std::vector<std::string>> d = ParseFromDomains(deep);
  BOOST_TEST_REQUIRE(d.ok());
  BOOST_TEST(d->front() == "example.com");
  BOOST_TEST(!ParseFromDomains(std::string(100000, '<')).ok());
  std::string many;
  for (int i = 0; i < 200; ++i) many += "a@example.com,";
  BOOST_TEST(!ParseFromDomains(many).ok());  // over 100 addresses
  BOOST_TEST(!ParseFromDomains(std::string("a@exa\0mple.com", 14)).ok());
}

BOOST_AUTO_TEST_CASE(line_breaks_only_as_folds) {
  // A fold (CRLF then WSP) is white space.
  Result<std::vector<std::string>> folded = ParseFromDomains("Joe\r\n <joe@example.com>");
  BOOST_TEST_REQUIRE(folded.ok());
  BOOST_TEST(folded->front() == "example.com");
  // A bare CR or LF is refused: some readers end the field there and show what follows as
  // another field.
  for (const char* v : {"ceo@bank.example\rFrom: x@evil.example", "a@b.example\nc",
                        "Joe\r\n<joe@example.com>", "joe@example.com\r",
                        "\"x\rFrom: ceo@bank.example\" <x@evil.example>",
                        "(x\rFrom: ceo@bank.example) x@evil.example"}) {
    Result<std::vector<std::string>> d = ParseFromDomains(v);
    BOOST_TEST(!d.ok(), v);
    if (!d.ok()) BOOST_TEST(d.status().message() == "a CR or LF that is not a line fold");
  }
  // Through a whole message: the From domain cannot be read (fail closed), not evil.example.
  Result<Message> m = Message::Parse(
      "From: ceo@bank.example\rFrom: x@evil.example\r\nSubject: s\r\n\r\nbody\r\n");
  BOOST_TEST_REQUIRE(m.ok());
  Result<std::string> author = ExtractAuthorDomain(*m);
  BOOST_TEST(!author.ok());
}

// A NUL in a quoted local part (a TSV file cannot hold one): refused like any control.
BOOST_AUTO_TEST_CASE(nul_in_a_quoted_local_part) {
  using namespace std::string_literals;
  Result<std::vector<std::string>> d = ParseFromDomains("\"ceo@bank.example\0\"@evil.example"s);
  BOOST_TEST(!d.ok());
  if (!d.ok()) BOOST_TEST(d.status().message() == "a control character in the local part");
}

// A From behind a bare CR in another field (or in the line that ends the header section) is
// a second From for a reader that splits there: several From fields, not the visible one's
// domain. A bare CR with no field after it changes nothing.
BOOST_AUTO_TEST_CASE(from_hidden_behind_a_bare_cr_in_another_field) {
  for (const char* text :
       {"X-A: a\rFrom: ceo@bank.example\r\nFrom: x@evil.example\r\n\r\nbody\r\n",
        "From: x@evil.example\r\nSubject: hi\r\n\tthere\rfrom : ceo@bank.example\r\n\r\nb\r\n",
        "From: x@evil.example\r\nnot a field\rFrom: ceo@bank.example\r\nbody\r\n"}) {
    Result<Message> m = Message::Parse(text);
    BOOST_TEST_REQUIRE(m.ok());
    BOOST_TEST(m->header_has_bare_cr());
    Result<std::string> author = ExtractAuthorDomain(*m);
    BOOST_TEST(!author.ok(), text);
    if (!author.ok()) BOOST_TEST(author.status().message() == "multiple From fields");
  }
  // A From hidden after more hidden fields than the message keeps still counts.
  std::string far = "From: x@evil.example\r\nX-J: ";
  for (int i = 0; i < 1200; ++i) far += "\ra:";
  Result<Message> many = Message::Parse(far + "\rFrom: ceo@bank.example\r\n\r\nbody\r\n");
  BOOST_TEST_REQUIRE(many.ok());
  BOOST_TEST(many->hidden_fields_cut());
  Result<std::string> a = ExtractAuthorDomain(*many);
  BOOST_TEST(!a.ok());
  if (!a.ok()) BOOST_TEST(a.status().message() == "multiple From fields");
  // Only a hidden From: no From field of its own (it scores like a reject), never a crash.
  for (const char* text : {"X-A: a\rFrom: ceo@bank.example\r\n\r\nbody\r\n",
                           "Subject: hi\r\nX\rFrom: a@b.example\r\n\r\nb\r\n"}) {
    Result<Message> m = Message::Parse(text);
    BOOST_TEST_REQUIRE(m.ok());
    Result<std::string> author = ExtractAuthorDomain(*m);
    BOOST_TEST(!author.ok(), text);
    if (!author.ok()) BOOST_TEST(author.status().message() == "no From field");
  }
  for (const char* text : {"X-A: a\rb\r\nFrom: x@evil.example\r\n\r\nbody\r\n",
                           "From: x@evil.example\r\n\r\nbody\rFrom: ceo@bank.example\r\n"}) {
    Result<Message> m = Message::Parse(text);
    BOOST_TEST_REQUIRE(m.ok());
    Result<std::string> author = ExtractAuthorDomain(*m);
    BOOST_TEST_REQUIRE(author.ok(), text);
    BOOST_TEST(*author == "evil.example");
  }
}

// What a reader may be shown as the author besides the address: every domain of something
// that reads as an address, encoded-words decoded, in any part of the field.
BOOST_AUTO_TEST_CASE(domains_shown_in_from) {
  using V = std::vector<std::string>;
  const std::pair<const char*, V> cases[] = {
      {"x@evil.example", {}},  // the address alone: nothing besides it
      {"Bank CEO <ceo@bank.example>", {}},
      {"\"ceo@Bank.Example\" <x@evil.example>", {"bank.example", "evil.example"}},
      {"=?utf-8?b?Y2VvQGJhbmsuZXhhbXBsZQ==?= <x@evil.example>", {"bank.example", "evil.example"}},
      {"=?utf-8?q?ceo=40bank=2Eexample?= <x@evil.example>", {"bank.example", "evil.example"}},
      {"x@evil.example (ceo@bank.example)", {"evil.example", "bank.example"}},
      {"\"ceo@bank.example\": x@evil.example;", {"bank.example", "evil.example"}},
      {"\"Support (support@bank.example.)\" <x@evil.example>", {"bank.example", "evil.example"}},
      // Not addresses: no local part, no dot, a numeric top label; a plain name.
      {"\"@bank.example @x 1@2.3\" <x@evil.example>", {"evil.example"}},
      {"=?utf-8?b?not base64?= <x@evil.example>", {"evil.example"}},
      // RFC 2047 §6.2: the space between adjacent encoded-words is not shown.
      {"=?utf-8?q?ceo?= =?utf-8?q?=40bank=2Eexample?= <x@evil.example>",
       {"bank.example", "evil.example"}},
      {"=?utf-8?b?Y2Vv?=\r\n =?utf-8?b?QGJhbmsuZXhhbXBsZQ==?= <x@evil.example>",
       {"bank.example", "evil.example"}},
      // An encoded-word longer than RFC 2047's 75 characters: readers decode it anyway.
      {"=?utf-8?q?ceo=40bank=2Eexample_and_a_long_tail_of_words_that_goes_past_the_75_characters?= "
       "<x@evil.example>",
       {"bank.example", "evil.example"}},
      // Full-width and small commercial at, a zero-width space, a non-ASCII local part.
      {"\"ceo\xEF\xBC\xA0" "bank.example\" <x@evil.example>", {"bank.example", "evil.example"}},
      {"\"ceo\xEF\xB9\xAB" "bank.example\" <x@evil.example>", {"bank.example", "evil.example"}},
      {"\"ceo@\xE2\x80\x8B" "bank.example\" <x@evil.example>", {"bank.example", "evil.example"}},
      {"\"jos\xC3\xA9@bank.example\" <x@evil.example>", {"bank.example", "evil.example"}},
      // A look-alike letter (Cyrillic e) in the shown domain: its A-label form, not bank.example.
      {"\"ceo@bank.t\xD0\xB5st\" <x@evil.example>", {"bank.xn--tst-rdd", "evil.example"}},
      // A quoted-pair shows '@' all the same; look-alike full stops are dots.
      {"\"ceo\\@bank.example\" <x@evil.example>", {"bank.example", "evil.example"}},
      {"x@evil.example (ceo\\@bank\\.example)", {"evil.example", "bank.example"}},
      {"\"ceo@bank\xEF\xBC\x8E" "example\" <x@evil.example>", {"bank.example", "evil.example"}},
      {"\"ceo@bank\xE3\x80\x82" "example\" <x@evil.example>", {"bank.example", "evil.example"}},
      // Punctuation, brackets and spaces after the sender's own address end it (no false
      // "other domain"): ASCII, curly quotes, full-width parenthesis, NBSP, ideographic comma,
      // a direction mark; a name in another charset (Latin-1) reads no 8-bit domain.
      {"\"support@acme.example!\" <support@acme.example>", {"acme.example"}},
      {"=?utf-8?q?=E2=80=9Csupport=40acme=2Eexample=E2=80=9D?= <support@acme.example>",
       {"acme.example"}},
      {"=?utf-8?b?5bGx55Sw77yIdGFyb0BhY21lLmV4YW1wbGXvvIk=?= <taro@acme.example>",
       {"acme.example"}},
      {"\"support@acme.example\xC2\xA0Team\" <support@acme.example>", {"acme.example"}},
      {"\"support@acme.example\xE3\x80\x81x\" <support@acme.example>", {"acme.example"}},
      {"\"Acme|info@acme.example|Support\" <info@acme.example>", {"acme.example"}},
      {"\"info@acme.example\xE2\x80\x8E\" <info@acme.example>", {"acme.example"}},
      {"=?iso-8859-1?q?info=40b=FCcher=2Eexample?= <info@xn--bcher-kva.example>",
       {"xn--bcher-kva.example"}},
      // An internationalised From domain shown in its own name is the same domain.
      {"\"info@b\xC3\xBC" "cher.example\" <info@xn--bcher-kva.example>", {"xn--bcher-kva.example"}},
  };
  auto domains = [](std::string_view value) {
    std::vector<std::string> out;
    for (const ShownDomain& d : DomainsShownInFrom(value)) out.push_back(d.domain);
    return out;
  };
  for (const auto& [value, want] : cases) {
    BOOST_TEST(domains(value) == want, value);
  }
  // Text run into the sender's own address (CJK has no spaces): the part before it is a
  // second reading, the one the score takes when it is the From domain's.
  for (const char* run_in : {"=?utf-8?b?aW5mb0BhY21lLmV4YW1wbGXjgojjgoo=?= <info@acme.example>",
                             "\"info@acme.example\xE3\x80\x82\xE3\x82\x88\" <info@acme.example>"}) {
    const std::vector<ShownDomain> got = DomainsShownInFrom(run_in);
    BOOST_TEST_REQUIRE(!got.empty(), run_in);
    BOOST_TEST(got[0].ascii_prefix == "acme.example", run_in);
  }
  // Bounded: at most 8 domains, from the first 4 KiB; many "=?" are read in linear time.
  std::string many;
  for (int i = 0; i < 20; ++i) many += "a@d" + std::to_string(i) + ".example ";
  BOOST_TEST(DomainsShownInFrom(many).size() == 8u);
  BOOST_TEST(DomainsShownInFrom(std::string(5000, ' ') + "a@late.example").empty());
  BOOST_TEST(DomainsShownInFrom(std::string(100000, '=') + "?").empty());
  // Mapped and invisible characters inside encoded-words too; a quoted-pair before an 8-bit
  // character; a doubled backslash.
  for (const char* v : {"=?utf-8?q?ceo=EF=BC=A0bank.example?= <x@evil.example>",
                        "=?utf-8?q?ceo=40bank=E2=80=8B.example?= <x@evil.example>",
                        "=?utf-8?q?ceo=40bank=E3=80=82example?= <x@evil.example>",
                        "\"ceo\\\xEF\xBC\xA0" "bank.example\" <x@evil.example>",
                        "\"ceo@bank\xEF\xB9\x92" "example\" <x@evil.example>",
                        "\"ceo@bank\xE2\x81\xA3.example\" <x@evil.example>",
                        "\"ceo\\\\@bank.example\" <x@evil.example>"}) {
    BOOST_TEST(domains(v) == (std::vector<std::string>{"bank.example", "evil.example"}), v);
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace credence
