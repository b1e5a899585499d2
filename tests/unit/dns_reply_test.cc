// The wire-format reply walker behind the c-ares resolver (verifier/dns/reply_parser.h):
// hand-made replies, compression, CNAME chains, negative TTLs, and hostile packets.
#include <boost/test/unit_test.hpp>
#include <random>

#include "dns/dns_name.h"
#include "dns/reply_parser.h"

namespace credence {
namespace {

using dns_internal::ParseReply;

// Builds replies byte by byte.
struct Packet {
  std::vector<uint8_t> b;
  void U16(unsigned v) {
    b.push_back(static_cast<uint8_t>(v >> 8));
    b.push_back(static_cast<uint8_t>(v));
  }
  void U32(uint32_t v) {
    U16(v >> 16);
    U16(v & 0xFFFF);
  }
  void Name(const std::string& name) {
    size_t start = 0;
    while (start < name.size()) {
      size_t dot = name.find('.', start);
      if (dot == std::string::npos) dot = name.size();
      b.push_back(static_cast<uint8_t>(dot - start));
      b.insert(b.end(), name.begin() + start, name.begin() + dot);
      start = dot + 1;
    }
    b.push_back(0);
  }
  void Pointer(size_t off) { U16(0xC000 | off); }
  void Header(unsigned flags, unsigned qd, unsigned an, unsigned ns) {
    U16(0x1234);
    U16(flags);
    U16(qd);
    U16(an);
    U16(ns);
    U16(0);
  }
  void Question(const std::string& name, unsigned type) {
    Name(name);
    U16(type);
    U16(1);
  }
  // Record header with owner as a pointer to `owner_off`; returns offset of rdlength.
  void Rr(size_t owner_off, unsigned type, uint32_t ttl, const std::vector<uint8_t>& rdata) {
    Pointer(owner_off);
    U16(type);
    U16(1);
    U32(ttl);
    U16(static_cast<unsigned>(rdata.size()));
    b.insert(b.end(), rdata.begin(), rdata.end());
  }
};

constexpr unsigned kResponse = 0x8180;  // QR, RD, RA, NOERROR
constexpr size_t kQname = 12;           // the question name's offset

std::vector<uint8_t> Txt(std::initializer_list<std::string> strings) {
  std::vector<uint8_t> out;
  for (const auto& s : strings) {
    out.push_back(static_cast<uint8_t>(s.size()));
    out.insert(out.end(), s.begin(), s.end());
  }
  return out;
}

std::vector<uint8_t> NameBytes(const std::string& name) {
  Packet p;
  p.Name(name);
  return p.b;
}

DnsAnswer Parse(const Packet& p, const std::string& q, RRType t) {
  return ParseReply(p.b.data(), p.b.size(), q, t);
}

BOOST_AUTO_TEST_SUITE(dns_reply)

BOOST_AUTO_TEST_CASE(txt_strings_joined_min_ttl) {
  Packet p;
  p.Header(kResponse, 1, 2, 0);
  p.Question("Sel._domainkey.Example.com", 16);
  p.Rr(kQname, 16, 300, Txt({"v=DKIM1; ", "p=AB", "CD"}));
  p.Rr(kQname, 16, 120, Txt({"second"}));
  DnsAnswer a = Parse(p, "sel._domainkey.example.com", RRType::kTXT);
  BOOST_TEST((a.outcome == DnsOutcome::kOk));
  BOOST_TEST_REQUIRE(a.records.size() == 2u);
  BOOST_TEST(a.records[0].data == "v=DKIM1; p=ABCD");
  // Where the second and third strings start (credence check shows glued splits).
  BOOST_TEST(a.records[0].txt_breaks == (std::vector<uint16_t>{9, 13}),
             boost::test_tools::per_element());
  BOOST_TEST(a.records[1].txt_breaks.empty());
  BOOST_TEST(a.records[0].ttl == 300u);
  BOOST_TEST(a.ttl == 120u);
}

BOOST_AUTO_TEST_CASE(a_aaaa_mx_ptr) {
  Packet p;
  p.Header(kResponse, 1, 1, 0);
  p.Question("example.com", 15);
  std::vector<uint8_t> mx = {0, 10};
  auto n = NameBytes("mail");
  mx.insert(mx.end(), n.begin(), n.end() - 1);  // "mail" + pointer to example.com
  mx.push_back(0xC0);
  mx.push_back(kQname);
  p.Rr(kQname, 15, 60, mx);
  DnsAnswer a = Parse(p, "example.com", RRType::kMX);
  BOOST_TEST_REQUIRE(a.records.size() == 1u);
  BOOST_TEST(a.records[0].preference == 10);
  BOOST_TEST(a.records[0].data == "mail.example.com");

  Packet q;
  q.Header(kResponse, 1, 1, 0);
  q.Question("h.example", 28);
  q.Rr(kQname, 28, 5, {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
  BOOST_TEST(Parse(q, "h.example", RRType::kAAAA).records.at(0).data == "2001:db8::1");

  Packet r;
  r.Header(kResponse, 1, 1, 0);
  r.Question("h.example", 1);
  r.Rr(kQname, 1, 5, {192, 0, 2, 1});
  BOOST_TEST(Parse(r, "h.example", RRType::kA).records.at(0).data == "192.0.2.1");
  r.b[r.b.size() - 5] = 3;  // rdlength 3 for an A record: malformed
  r.b.pop_back();
  BOOST_TEST(Parse(r, "h.example", RRType::kA).detail.find("malformed") == 0u);
}

BOOST_AUTO_TEST_CASE(cname_chain_followed) {
  Packet p;
  p.Header(kResponse, 1, 2, 0);
  p.Question("alias.example", 16);
  size_t target_off = p.b.size() + 12;  // the CNAME's RDATA starts after owner(2)+10
  p.Rr(kQname, 5, 50, NameBytes("target.example"));
  p.Rr(target_off, 16, 200, Txt({"t"}));
  DnsAnswer a = Parse(p, "alias.example", RRType::kTXT);
  BOOST_TEST((a.outcome == DnsOutcome::kOk));
  BOOST_TEST(a.records.at(0).data == "t");
  BOOST_TEST(a.ttl == 50u);  // the chain's smallest TTL
}

BOOST_AUTO_TEST_CASE(nxdomain_nodata_negative_ttl) {
  for (unsigned rcode : {0u, 3u}) {
    Packet p;
    p.Header(kResponse | rcode, 1, 0, 1);
    p.Question("nx.example", 16);
    std::vector<uint8_t> soa = NameBytes("ns.example");
    auto rn = NameBytes("hm.example");
    soa.insert(soa.end(), rn.begin(), rn.end());
    for (uint32_t v : {1u, 2u, 3u, 4u, 45u}) {
      soa.push_back(0);
      soa.push_back(0);
      soa.push_back(0);
      soa.push_back(static_cast<uint8_t>(v));
    }
    p.Rr(kQname + 3, 6, 900, soa);  // owner "example"
    DnsAnswer a = Parse(p, "nx.example", RRType::kTXT);
    BOOST_TEST((a.outcome == (rcode ? DnsOutcome::kNxDomain : DnsOutcome::kNoData)));
    BOOST_TEST(a.ttl == 45u);  // RFC 2308 §5: min(SOA TTL, MINIMUM)
  }
}

// NXDOMAIN with a record of the type asked: a contradiction, a temporary error (neither the
// record nor the nonexistence is taken).
BOOST_AUTO_TEST_CASE(nxdomain_with_an_answer_is_a_temporary_error) {
  Packet p;
  p.Header(kResponse | 3u, 1, 1, 0);
  p.Question("h.example", 1);
  p.Rr(kQname, 1, 5, {192, 0, 2, 1});
  DnsAnswer a = Parse(p, "h.example", RRType::kA);
  BOOST_TEST((a.outcome == DnsOutcome::kTempFail));
  BOOST_TEST(a.records.empty());
}

BOOST_AUTO_TEST_CASE(rcodes_and_flags) {
  struct {
    unsigned flags;
    const char* detail;
  } cases[] = {{0x8182, "SERVFAIL"},
               {0x8185, dns_internal::kRefusedDetail.data()},  // a literal: NUL-terminated
               {0x8184, "RCODE 4"},
               {0x0100, "malformed reply: not a response"}, {0x8380, "truncated reply"}};
  for (const auto& c : cases) {
    Packet p;
    p.Header(c.flags, 1, 0, 0);
    p.Question("x.example", 16);
    DnsAnswer a = Parse(p, "x.example", RRType::kTXT);
    BOOST_TEST((a.outcome == DnsOutcome::kTempFail));
    BOOST_TEST(a.detail == c.detail);
  }
}

// issue 11 item 5: an authoritative-only server answers REFUSED for names outside its zones;
// the detail (which reaches the A-R reason and the log line) says what that means, once.
BOOST_AUTO_TEST_CASE(refused_says_what_it_means) {
  Packet p;
  p.Header(0x8105, 1, 0, 0);  // QR, RD, REFUSED, no RA: an authoritative-only server
  p.Question("_dmarc.foreign.example", 16);
  DnsAnswer a = Parse(p, "_dmarc.foreign.example", RRType::kTXT);
  BOOST_TEST((a.outcome == DnsOutcome::kTempFail));
  BOOST_TEST((a.failure == DnsFailure::kServer));
  BOOST_TEST(a.detail.rfind("REFUSED: ", 0) == 0u);
  BOOST_TEST(a.detail.find("recursive resolver") != std::string::npos);
  BOOST_TEST(a.detail.find("REFUSED", 1) == std::string::npos);
}

// RFC 6891 §6.1.1: an EDNS reply carries an OPT pseudo-record in the additional section; the
// walker reads past it. A TXT RRset of 1,100 octets (over RFC 1035's 512) in one UDP reply.
BOOST_AUTO_TEST_CASE(edns_reply_over_512_octets_with_opt_record) {
  Packet p;
  p.Header(kResponse | 0x0400, 1, 3, 0);  // AA
  p.b[11] = 1;                            // ARCOUNT: the OPT record
  p.Question("example", 16);
  const std::string a(250, 'a'), b(250, 'b'), c(100, 'c');
  p.Rr(kQname, 16, 300, Txt({"v=spf1 ", a, b, " -all"}));
  p.Rr(kQname, 16, 300, Txt({"site-verification=", c}));
  p.Rr(kQname, 16, 60, Txt({b, a}));
  p.b.push_back(0);  // OPT: owner root, type 41, CLASS = payload 1232, TTL = flags 0
  p.U16(41);
  p.U16(1232);
  p.U32(0);
  p.U16(0);
  BOOST_TEST_REQUIRE(p.b.size() > 512u);
  DnsAnswer r = Parse(p, "example", RRType::kTXT);
  BOOST_TEST_REQUIRE((r.outcome == DnsOutcome::kOk));
  BOOST_TEST_REQUIRE(r.records.size() == 3u);
  BOOST_TEST(r.records[0].data == "v=spf1 " + a + b + " -all");
  BOOST_TEST(r.records[2].data == b + a);
  BOOST_TEST(r.ttl == 60u);
}

BOOST_AUTO_TEST_CASE(mismatched_question_rejected) {
  Packet p;
  p.Header(kResponse, 1, 0, 0);
  p.Question("other.example", 16);
  BOOST_TEST(Parse(p, "x.example", RRType::kTXT).detail == "malformed reply: question does not match");
}

// A question whose labels hold octets a zone file or a name gives a meaning to: the walker
// writes the name from the wire in the normalised spelling (dns_name.h), so the question
// asked as "A B;c.test" (or "a\\032b\\;c.test") matches its reply, and record names compare.
BOOST_AUTO_TEST_CASE(special_octets_in_names_match_the_normalised_question) {
  // Wire labels "A B;c(\"<01>)" and "te\st" (with a real backslash octet).
  Packet p;
  p.Header(kResponse, 1, 2, 0);
  p.Question(std::string("A B;c(\"\x01).te\\st"), 16);
  size_t target = p.b.size() + 12;
  p.Rr(kQname, 5, 100, NameBytes("t;x.test"));
  p.Rr(target, 16, 100, Txt({"found"}));
  // The same name in two presentation spellings (the backslash octet must be escaped).
  for (std::string asked : {dns_internal::NormalizeName(std::string("A B;c(\"\x01).te\\\\st")),
                            dns_internal::NormalizeName("a\\032b\\;c\\(\\\"\\001).te\\092st.")}) {
    BOOST_TEST(asked == "a\\032b;c(\"\\001).te\\\\st");
    DnsAnswer a = Parse(p, asked, RRType::kTXT);
    BOOST_TEST((a.outcome == DnsOutcome::kOk), a.detail);
    BOOST_TEST(a.records.at(0).data == "found");
  }
}

BOOST_AUTO_TEST_CASE(compression_loops_rejected) {
  Packet p;
  p.Header(kResponse, 1, 1, 0);
  p.Question("x.example", 16);
  size_t self = p.b.size();
  p.Pointer(self);  // owner points at itself
  p.U16(16);
  p.U16(1);
  p.U32(1);
  p.U16(0);
  DnsAnswer a = Parse(p, "x.example", RRType::kTXT);
  BOOST_TEST((a.outcome == DnsOutcome::kTempFail));
  BOOST_TEST(a.detail == "malformed reply: answer section");
  // Forward pointer.
  Packet q;
  q.Header(kResponse, 1, 0, 0);
  q.Pointer(20);
  q.U16(16);
  q.U16(1);
  BOOST_TEST(Parse(q, "x.example", RRType::kTXT).detail == "malformed reply: question");
}

BOOST_AUTO_TEST_CASE(hostile_packets_never_crash) {
  Packet p;
  p.Header(kResponse, 1, 3, 1);
  p.Question("alias.example", 16);
  size_t target_off = p.b.size() + 12;
  p.Rr(kQname, 5, 50, NameBytes("target.example"));
  p.Rr(target_off, 16, 200, Txt({"v=DKIM1; ", "p=xyz"}));
  p.Rr(target_off, 15, 200, {0, 5, 0xC0, kQname});
  p.Rr(kQname, 6, 10, std::vector<uint8_t>(22, 0));
  std::mt19937 rng(7);
  int ok = 0;
  for (int iter = 0; iter < 200000; ++iter) {
    std::vector<uint8_t> b = p.b;
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      size_t pos = rng() % b.size();
      switch (rng() % 4) {
        case 0: b[pos] = static_cast<uint8_t>(rng()); break;
        case 1: b.resize(pos); break;
        case 2: b[pos] = 0xC0 | (rng() % 2); break;
        default: b.insert(b.begin() + pos, static_cast<uint8_t>(rng())); break;
      }
      if (b.empty()) break;
    }
    DnsAnswer a = ParseReply(b.data(), b.size(), "alias.example", RRType::kTXT);
    if (a.outcome == DnsOutcome::kOk) ++ok;
  }
  BOOST_TEST(ok > 0);  // some mutations keep the answer intact
  BOOST_TEST((ParseReply(nullptr, 0, "x", RRType::kA).outcome == DnsOutcome::kTempFail));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace credence
