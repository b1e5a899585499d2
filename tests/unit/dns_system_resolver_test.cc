// The default DNS servers: the system's, as c-ares reads them from resolv.conf (AresOptions
// with no server). Each case names its own resolv.conf in a temp dir (AresOptions::
// resolv_conf, c-ares' ARES_OPT_RESOLVCONF); DnsServersOf asks nothing, so no server is
// queried.
#include <boost/test/unit_test.hpp>

#include "credence/dns.h"
#include "temp_dir.h"

namespace credence {
namespace {

BOOST_AUTO_TEST_SUITE(dns_system_resolver)

BOOST_AUTO_TEST_CASE(default_is_the_system_resolver) {
  AresOptions o;
  BOOST_TEST(o.server.empty());
  BOOST_TEST(o.resolv_conf.empty());  // /etc/resolv.conf
}

BOOST_AUTO_TEST_CASE(servers_come_from_resolv_conf) {
  testing::TempDir dir;
  AresOptions o;
  o.resolv_conf = dir.Write("resolv.conf",
                            "# a comment\nsearch example.net\noptions ndots:5 timeout:30\n"
                            "nameserver 192.0.2.53\nnameserver 2001:db8::53\n");
  Result<std::string> servers = DnsServersOf(o);
  BOOST_TEST_REQUIRE(servers.ok(), servers.status().ToString());
  BOOST_TEST(*servers == "192.0.2.53:53,[2001:db8::53]:53");
}

BOOST_AUTO_TEST_CASE(an_explicit_server_ignores_resolv_conf) {
  testing::TempDir dir;
  AresOptions o;
  o.resolv_conf = dir.Write("resolv.conf", "nameserver 192.0.2.53\n");
  BOOST_TEST_REQUIRE(ParseDnsServer("127.0.0.1:5353", &o).ok());
  Result<std::string> servers = DnsServersOf(o);
  BOOST_TEST_REQUIRE(servers.ok(), servers.status().ToString());
  BOOST_TEST(*servers == "127.0.0.1:5353");
}

BOOST_AUTO_TEST_CASE(no_nameserver_line_means_loopback) {
  // What glibc and c-ares both do with a resolv.conf without nameserver lines.
  testing::TempDir dir;
  AresOptions o;
  o.resolv_conf = dir.Write("resolv.conf", "search example.net\n");
  Result<std::string> servers = DnsServersOf(o);
  BOOST_TEST_REQUIRE(servers.ok(), servers.status().ToString());
  BOOST_TEST(servers->find("127.0.0.1:53") != std::string::npos, *servers);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace credence
