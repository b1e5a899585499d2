// SPF checks per second, one thread, DNS answered from memory (a ZoneResolver), so what is
// measured is credence + libspf2, not the network: the common record (ip4, include, mx), a
// macro record (exists:%{i}._spf.%{d2}) and a ptr record.
//
//   bench_spf [N]     (default 20000 checks per record)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "credence/dns.h"
#include "credence/spf.h"

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 20000;
  credence::ZoneResolver zone;
  credence::Status st = zone.AddZoneText(
      "$ORIGIN example.com.\n"
      "@ 300 IN SOA ns hm 1 2 3 4 5\n"
      "@ 300 IN TXT \"v=spf1 ip4:198.51.100.0/24 include:_spf.example.net mx -all\"\n"
      "@ 300 IN MX 10 mail.example.com.\n"
      "mail 300 IN A 198.51.100.25\n"
      "m 300 IN TXT \"v=spf1 exists:%{i}._spf.%{d2} -all\"\n"
      "p 300 IN TXT \"v=spf1 ptr:example.com -all\"\n"
      "host 300 IN A 192.0.2.7\n"
      "192.0.2.7._spf.example.com. 300 IN A 127.0.0.2\n"
      "7.2.0.192.in-addr.arpa. 300 IN PTR host.example.com.\n"
      "_spf.example.net. 300 IN TXT \"v=spf1 ip4:203.0.113.0/24 -all\"\n");
  if (!st.ok()) {
    std::fprintf(stderr, "zone: %s\n", st.message().c_str());
    return 1;
  }
  const char* senders[] = {"a@example.com", "a@m.example.com", "a@p.example.com"};
  const char* names[] = {"ip4 include mx -all (fail)", "exists:%{i}._spf.%{d2} (pass)",
                         "ptr:example.com (pass)"};
  for (int k = 0; k < 3; ++k) {
    credence::SpfRequest req;
    req.client_ip = "192.0.2.7";
    req.helo = "h.example.net";
    req.mail_from = senders[k];
    std::string result;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) {
      credence::SpfResult r = credence::CheckSpfMailFrom(
          req, zone, std::chrono::steady_clock::now() + std::chrono::seconds(10));
      if (i == 0) result = std::string(credence::SpfVerdictName(r.result));
    }
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%-32s %-5s %9.0f checks/s (%.2f us each)\n", names[k], result.c_str(), n / s,
                s / n * 1e6);
  }
  return 0;
}
