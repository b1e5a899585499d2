// ParseDnsServer: "HOST", "HOST:PORT", "[V6]:PORT", "V6".
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "credence/dns.h"

namespace credence {
namespace {

// A UDP socket on 127.0.0.1 that receives and never answers (closed on destruction).
class UdpBlackhole {
 public:
  UdpBlackhole() {
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = {};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      port_ = 0;
    } else {
      port_ = ntohs(a.sin_port);
    }
  }
  ~UdpBlackhole() {
    if (fd_ >= 0) close(fd_);
  }
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

namespace bdata = boost::unit_test::data;

struct ServerCase {
  const char* spec;
  const char* server;  // nullptr: expect an error containing `error`
  int port;
  const char* error;
};
std::ostream& operator<<(std::ostream& os, const ServerCase& c) { return os << c.spec; }

const ServerCase kServerCases[] = {
    {"127.0.0.1", "127.0.0.1", 53, ""},
    {"127.0.0.1:5353", "127.0.0.1", 5353, ""},
    {"[::1]:5353", "::1", 5353, ""},
    {"::1", "::1", 53, ""},
    {"[::1]", "::1", 53, ""},
    {"2001:db8::53", "2001:db8::53", 53, ""},
    {"192.0.2.1:65535", "192.0.2.1", 65535, ""},
    {"", nullptr, 0, "empty"},
    // Named once (issue 11 item 7: it was said twice in Exim's log).
    {"localhost", nullptr, 0,
     "DNS server 'localhost' is not an IP address (names are not accepted)"},
    {"dns.example:53", nullptr, 0,
     "DNS server 'dns.example:53': 'dns.example' is not an IP address"},
    {"127.0.0.1:0", nullptr, 0, "port '0' is not a number in 1..65535"},
    {"127.0.0.1:65536", nullptr, 0, "port '65536' is not a number in 1..65535"},
    {"127.0.0.1:", nullptr, 0, "port '' is not a number"},
    {"127.0.0.1:53x", nullptr, 0, "port '53x'"},
    {"[::1", nullptr, 0, "missing ']'"},
    {"[::1]53", nullptr, 0, "expected ':PORT' after ']'"},
    {"[127.0.0.1]:53", nullptr, 0, "is not an IPv6 address"},
    {"300.0.0.1", nullptr, 0, "is not an IP address"},
};

BOOST_AUTO_TEST_SUITE(dns_server)

BOOST_DATA_TEST_CASE(parse, bdata::make(kServerCases), c) {
  AresOptions o;
  o.server = "unchanged";
  Status s = ParseDnsServer(c.spec, &o);
  if (c.server != nullptr) {
    BOOST_TEST_REQUIRE(s.ok(), s.ToString());
    BOOST_TEST(o.server == c.server);
    BOOST_TEST(o.port == c.port);
  } else {
    BOOST_TEST(!s.ok());
    BOOST_TEST((s.code() == StatusCode::kInvalidInput));
    BOOST_TEST(s.message().find(c.error) != std::string::npos, s.message());
    BOOST_TEST(o.server == "unchanged");
  }
}

BOOST_AUTO_TEST_CASE(make_ares_resolver_rejects_bad_options) {
  AresOptions o;
  o.server = "not-an-ip";
  BOOST_TEST(!MakeAresResolver(o).ok());
  o.server = "127.0.0.1";
  o.tries = 0;
  BOOST_TEST(!MakeAresResolver(o).ok());
  o.tries = 1;
  BOOST_TEST(MakeAresResolver(o).ok());
}

// A port on loopback where nothing listens (UDP answers ICMP port unreachable): every question
// ends as kTempFail well within timeout x tries, and the channel is reusable afterwards.
BOOST_AUTO_TEST_CASE(unreachable_server_is_tempfail_and_reusable) {
  AresOptions o;
  o.server = "127.0.0.1";
  o.port = 9;  // discard: nothing listens here in the test environment
  o.timeout = std::chrono::milliseconds(200);
  o.tries = 1;
  auto r = MakeAresResolver(o);
  BOOST_TEST_REQUIRE(r.ok());
  for (int round = 0; round < 3; ++round) {
    auto start = std::chrono::steady_clock::now();
    std::vector<DnsQuestion> qs = {{"a.example.test", RRType::kA}, {"b.example.test", RRType::kTXT}};
    auto answers = (*r)->Resolve(qs, start + std::chrono::seconds(5));
    auto took = std::chrono::steady_clock::now() - start;
    BOOST_TEST_REQUIRE(answers.size() == 2u);
    for (const auto& a : answers) BOOST_TEST((a.outcome == DnsOutcome::kTempFail), a.detail);
    BOOST_TEST(std::chrono::duration_cast<std::chrono::milliseconds>(took).count() < 2000);
  }
}

BOOST_AUTO_TEST_CASE(deadline_before_timeout_says_deadline) {
  UdpBlackhole hole;
  BOOST_TEST_REQUIRE(hole.port() != 0);
  AresOptions o;
  o.server = "127.0.0.1";
  o.port = hole.port();
  o.timeout = std::chrono::milliseconds(5000);
  auto r = MakeAresResolver(o);
  BOOST_TEST_REQUIRE(r.ok());
  auto start = std::chrono::steady_clock::now();
  DnsAnswer a = (*r)->ResolveOne({"x.example.test", RRType::kTXT},
                                 start + std::chrono::milliseconds(150));
  auto took = std::chrono::steady_clock::now() - start;
  BOOST_TEST((a.outcome == DnsOutcome::kTempFail));
  BOOST_TEST(a.detail == "deadline");
  BOOST_TEST(std::chrono::duration_cast<std::chrono::milliseconds>(took).count() < 1000);
}

// Nothing answers: each question times out after timeout x tries, not much later, and the
// channel answers again afterwards.
BOOST_AUTO_TEST_CASE(blackhole_times_out_after_timeout_times_tries) {
  UdpBlackhole hole;
  BOOST_TEST_REQUIRE(hole.port() != 0);
  AresOptions o;
  o.server = "127.0.0.1";
  o.port = hole.port();
  o.timeout = std::chrono::milliseconds(100);
  o.tries = 2;
  auto r = MakeAresResolver(o);
  BOOST_TEST_REQUIRE(r.ok());
  for (int round = 0; round < 2; ++round) {
    auto start = std::chrono::steady_clock::now();
    std::vector<DnsQuestion> qs(10, DnsQuestion{"x.example.test", RRType::kTXT});
    auto answers = (*r)->Resolve(qs, start + std::chrono::seconds(10));
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - start).count();
    for (const auto& a : answers) {
      BOOST_TEST((a.outcome == DnsOutcome::kTempFail));
      BOOST_TEST(a.detail == "timeout");
    }
    BOOST_TEST(ms >= 150);  // c-ares may back off on the second try: allow up to 3x
    BOOST_TEST(ms < 1000);
  }
}

BOOST_AUTO_TEST_CASE(invalid_names_never_sent) {
  UdpBlackhole hole;
  AresOptions o;
  o.server = "127.0.0.1";
  o.port = hole.port();
  auto r = MakeAresResolver(o);
  BOOST_TEST_REQUIRE(r.ok());
  auto start = std::chrono::steady_clock::now();
  DnsAnswer a = (*r)->ResolveOne({std::string(70, 'a') + ".test", RRType::kA},
                                 start + std::chrono::seconds(5));
  BOOST_TEST((a.outcome == DnsOutcome::kNxDomain));
  BOOST_TEST(a.detail.find("label longer than 63") != std::string::npos);
  BOOST_TEST((std::chrono::steady_clock::now() - start < std::chrono::milliseconds(100)));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace credence
