// The c-ares resolver: the only file in credence that includes <ares.h>.
// c-ares 1.18 (Debian 12): ares_query + our own bounded reply walker (reply_parser.h), which
// gives TTLs and the negative TTL that the ares_parse_*_reply helpers do not. Queries carry
// EDNS(0) (1232 octets); truncated replies are asked again over TCP by c-ares.
#include <arpa/inet.h>
#include <ares.h>
#include <poll.h>

#include <algorithm>
#include <charconv>
#include <mutex>

#include "credence/dns.h"
#include "credence/limits.h"
#include "dns/dns_name.h"
#include "dns/reply_parser.h"

namespace credence {

namespace {

using dns_internal::CheckName;
using dns_internal::NormalizeName;
using dns_internal::ParseReply;

// RFC 6891 §6.2.3: the requestor's UDP payload size, advertised in the OPT record. 1232
// octets (DNS flag day 2020), not §6.2.5's 4096: a reply of that size fits the IPv6 minimum
// MTU of 1280 unfragmented, within RFC 9715 §3.2's bound of 1400 for requestors.
constexpr unsigned short kEdnsPayloadSize = 1232;

std::once_flag g_ares_library_once;
int g_ares_library_status = ARES_SUCCESS;

class AresResolver;

struct Pending {
  AresResolver* self;
  std::string name;  // normalised (dns_name.h), as the reply walker writes the question
  std::string wire;  // the same name as c-ares reads it (no \DDD escapes)
  RRType type;
  DnsAnswer* answer;
  bool done = false;
};

class AresResolver final : public Resolver {
 public:
  AresResolver() = default;
  ~AresResolver() override {
    if (channel_ != nullptr) ares_destroy(channel_);
  }

  Status Init(const AresOptions& options) {
    std::call_once(g_ares_library_once,
                   [] { g_ares_library_status = ares_library_init(ARES_LIB_INIT_ALL); });
    if (g_ares_library_status != ARES_SUCCESS) {
      return Status::Internal(std::string("ares_library_init: ") +
                              ares_strerror(g_ares_library_status));
    }
    if (options.tries < 1 || options.tries > 10) return Status::Invalid("tries must be 1..10");
    if (options.timeout.count() < 1 || options.timeout.count() > kMaxDnsTimeoutMilliseconds) {
      return Status::Invalid("timeout must be 1.." + std::to_string(kMaxDnsTimeoutMilliseconds) +
                             " ms");
    }
    server_ = {};
    system_ = options.server.empty();
    resolv_conf_ = options.resolv_conf.empty() ? "/etc/resolv.conf" : options.resolv_conf;
    if (system_) {
      // The system's resolvers: the nameserver lines of resolv.conf, read by c-ares.
    } else if (inet_pton(AF_INET, options.server.c_str(), &server_.addr.addr4) == 1) {
      server_.family = AF_INET;
    } else if (inet_pton(AF_INET6, options.server.c_str(), &server_.addr.addr6) == 1) {
      server_.family = AF_INET6;
    } else {
      return Status::Invalid("DNS server is not an IP address: '" + options.server + "'");
    }
    server_.udp_port = options.port;
    server_.tcp_port = options.port;
    timeout_ = options.timeout;
    tries_ = options.tries;
    return OpenChannel();
  }

  // "ADDR:PORT,..." of the servers the channel asks (ares_get_servers_ports).
  std::string Servers() const {
    std::lock_guard<std::mutex> lock(mu_);
    struct ares_addr_port_node* list = nullptr;
    if (ares_get_servers_ports(channel_, &list) != ARES_SUCCESS) return "";
    std::string out;
    for (struct ares_addr_port_node* n = list; n != nullptr; n = n->next) {
      char addr[INET6_ADDRSTRLEN] = "";
      inet_ntop(n->family, n->family == AF_INET6 ? static_cast<const void*>(&n->addr.addr6)
                                                 : static_cast<const void*>(&n->addr.addr4),
                addr, sizeof addr);
      if (!out.empty()) out += ",";
      int port = n->udp_port != 0 ? n->udp_port : 53;
      out += n->family == AF_INET6 ? "[" + std::string(addr) + "]:" + std::to_string(port)
                                   : std::string(addr) + ":" + std::to_string(port);
    }
    ares_free_data(list);
    return out;
  }

  std::vector<DnsAnswer> Resolve(std::span<const DnsQuestion> questions,
                                 Deadline deadline) override {
    std::vector<DnsAnswer> answers(questions.size());
    // A c-ares channel is not safe for concurrent use: one batch at a time.
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Pending> pending;
    pending.reserve(questions.size());
    for (size_t i = 0; i < questions.size(); ++i) {
      std::string name = NormalizeName(questions[i].name);
      std::string bad = CheckName(name);
      if (!bad.empty()) {
        // A name that cannot be asked cannot exist.
        answers[i].outcome = DnsOutcome::kNxDomain;
        answers[i].detail = "invalid name: " + bad;
        continue;
      }
      // c-ares 1.18 reads "\X" escapes but not "\DDD" (it would send "032" for "\032").
      std::string wire;
      if (!dns_internal::NameWithoutDecimalEscapes(name, &wire)) {
        answers[i].outcome = DnsOutcome::kNxDomain;
        answers[i].detail = "invalid name: a NUL octet cannot be asked";
        continue;
      }
      pending.push_back(
          Pending{this, std::move(name), std::move(wire), questions[i].type, &answers[i]});
    }
    outstanding_ = 0;
    for (Pending& p : pending) {
      ++outstanding_;
      // RFC 1035 §3.2.4: class IN. The callback may run inside ares_query (e.g. on a
      // failure to send), which the counter handles.
      ares_query(channel_, p.wire.c_str(), 1 /* C_IN */, static_cast<int>(p.type), &OnReply,
                 &p);
    }
    // c-ares doubles the per-try timeout on each retry; AresOptions promises timeout x tries
    // in all, so the wait is capped there (plus a little for the event loop).
    const Deadline budget = std::chrono::steady_clock::now() + timeout_ * tries_ +
                            std::chrono::milliseconds(20);
    const bool budget_first = budget < deadline;
    Loop(budget_first ? budget : deadline);
    if (outstanding_ > 0) {
      // Callbacks run now with ARES_ECANCELLED; the channel stays usable.
      cancel_failure_ = budget_first ? DnsFailure::kTimeout : DnsFailure::kDeadline;
      ares_cancel(channel_);
      cancel_failure_ = DnsFailure::kServer;
    }
    for (Pending& p : pending) {
      if (!p.done) *p.answer = DnsAnswer::DeadlinePassed();
    }
    RestoreEdnsIfDropped();
    return answers;
  }

 private:
  static void OnReply(void* arg, int status, int timeouts, unsigned char* abuf, int alen) {
    (void)timeouts;
    Pending* p = static_cast<Pending*>(arg);
    DnsAnswer& a = *p->answer;
    p->done = true;
    --p->self->outstanding_;
    if (abuf != nullptr && alen > 0 && status != ARES_ECANCELLED &&
        status != ARES_EDESTRUCTION) {
      a = dns_internal::ParseReply(abuf, static_cast<size_t>(alen), p->name, p->type);
      return;
    }
    a.outcome = DnsOutcome::kTempFail;
    switch (status) {
      case ARES_ETIMEOUT:
        a.failure = DnsFailure::kTimeout;
        a.detail = "timeout";
        break;
      case ARES_ECONNREFUSED: a.detail = "connection refused"; break;
      case ARES_ECANCELLED:
        a.failure = p->self->cancel_failure_;
        a.detail = a.failure == DnsFailure::kServer ? "cancelled"
                                                    : std::string(DnsFailureName(a.failure));
        break;
      case ARES_EBADNAME:
        a.outcome = DnsOutcome::kNxDomain;
        a.detail = "invalid name";
        break;
      default: a.detail = ares_strerror(status); break;
    }
  }

  // Runs c-ares until every query has called back or the deadline passes.
  void Loop(Deadline deadline) {
    while (outstanding_ > 0) {
      auto now = std::chrono::steady_clock::now();
      if (now >= deadline) return;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
      struct timeval max_tv;
      max_tv.tv_sec = static_cast<time_t>(left.count() / 1000);
      max_tv.tv_usec = static_cast<suseconds_t>(left.count() % 1000 * 1000);
      struct timeval tv;
      struct timeval* t = ares_timeout(channel_, &max_tv, &tv);
      int wait_ms = static_cast<int>(t->tv_sec * 1000 + (t->tv_usec + 999) / 1000);
      wait_ms = std::max(wait_ms, 1);

      ares_socket_t socks[ARES_GETSOCK_MAXNUM];
      int bits = ares_getsock(channel_, socks, ARES_GETSOCK_MAXNUM);
      struct pollfd fds[ARES_GETSOCK_MAXNUM];
      int n = 0;
      for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
        short events = 0;
        if (ARES_GETSOCK_READABLE(bits, i)) events |= POLLIN;
        if (ARES_GETSOCK_WRITABLE(bits, i)) events |= POLLOUT;
        if (events == 0) continue;
        fds[n].fd = socks[i];
        fds[n].events = events;
        fds[n].revents = 0;
        ++n;
      }
      int ready = poll(fds, static_cast<nfds_t>(n), wait_ms);
      if (ready <= 0) {
        // Timeout (or EINTR): let c-ares run its timers.
        ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
        continue;
      }
      for (int i = 0; i < n; ++i) {
        if (fds[i].revents == 0) continue;
        ares_socket_t r = (fds[i].revents & (POLLIN | POLLERR | POLLHUP)) ? fds[i].fd
                                                                           : ARES_SOCKET_BAD;
        ares_socket_t w = (fds[i].revents & (POLLOUT | POLLERR)) ? fds[i].fd : ARES_SOCKET_BAD;
        ares_process_fd(channel_, r, w);
      }
    }
  }

  // A new channel for server_ (or resolv_conf_'s servers), timeout_ and tries_.
  Status OpenChannel() {
    // With a server given, nothing from /etc/resolv.conf: every field it could fill is set
    // here (servers are replaced below, before any query), and its path is /dev/null. For the
    // system's resolvers only its nameserver lines count: search domains, ndots, timeout and
    // attempts are still ours (c-ares fills from the file only what the options leave unset).
    struct ares_options o = {};
    int mask = 0;
    // NOCHECKRESP: hand SERVFAIL/REFUSED to us at once instead of retrying them.
    // EDNS: RFC 6891 §6.2.3, an OPT record in every query advertising kEdnsPayloadSize, so
    // answers up to that size (a 4096-bit DKIM key, a long SPF RRset) come over UDP; c-ares
    // then takes UDP replies up to that size and retries over TCP (RFC 7766 §5) when a reply
    // is truncated (TC) or larger.
    o.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES | ARES_FLAG_NOCHECKRESP | ARES_FLAG_EDNS;
    mask |= ARES_OPT_FLAGS;
    o.ednspsz = kEdnsPayloadSize;
    mask |= ARES_OPT_EDNSPSZ;
    o.timeout = static_cast<int>(timeout_.count());
    mask |= ARES_OPT_TIMEOUTMS;
    o.tries = tries_;
    mask |= ARES_OPT_TRIES;
    o.ndots = 1;
    mask |= ARES_OPT_NDOTS;
    struct in_addr placeholder = {};
    placeholder.s_addr = htonl(INADDR_LOOPBACK);
    if (!system_) {
      o.servers = &placeholder;
      o.nservers = 1;
      mask |= ARES_OPT_SERVERS;
    }
    o.domains = nullptr;
    o.ndomains = 0;
    mask |= ARES_OPT_DOMAINS;
    char lookups[] = "b";
    o.lookups = lookups;
    mask |= ARES_OPT_LOOKUPS;
    o.sortlist = nullptr;
    o.nsort = 0;
    mask |= ARES_OPT_SORTLIST;
    std::string resolvconf = system_ ? resolv_conf_ : "/dev/null";
    o.resolvconf_path = resolvconf.data();
    mask |= ARES_OPT_RESOLVCONF;
    int rc = ares_init_options(&channel_, &o, mask);
    if (rc != ARES_SUCCESS) {
      channel_ = nullptr;
      return Status::Internal(std::string("ares_init_options: ") + ares_strerror(rc));
    }
    if (system_) return Status::Ok();
    rc = ares_set_servers_ports(channel_, &server_);
    if (rc != ARES_SUCCESS) {
      ares_destroy(channel_);
      channel_ = nullptr;
      return Status::Internal(std::string("ares_set_servers_ports: ") + ares_strerror(rc));
    }
    return Status::Ok();
  }

  // c-ares 1.18 answers a FORMERR without OPT record (RFC 6891 §7: a server that does not
  // know EDNS) by asking that query again without EDNS, and by clearing ARES_FLAG_EDNS on the
  // channel for good: from then on every answer over 512 octets would need TCP, for the life
  // of the process (an Exim connection, `credence serve`). One such reply must not cost more
  // than its own question, so a channel that lost EDNS is replaced once its batch is over.
  void RestoreEdnsIfDropped() {
    struct ares_options o = {};
    int mask = 0;
    if (ares_save_options(channel_, &o, &mask) != ARES_SUCCESS) return;
    const bool dropped = (o.flags & ARES_FLAG_EDNS) == 0;
    ares_destroy_options(&o);
    if (!dropped) return;
    ares_channel old = channel_;
    channel_ = nullptr;
    if (!OpenChannel().ok()) {
      channel_ = old;  // keep the working channel, without EDNS
      return;
    }
    ares_destroy(old);
  }

  mutable std::mutex mu_;
  ares_channel channel_ = nullptr;
  struct ares_addr_port_node server_ = {};
  bool system_ = false;      // the servers of resolv_conf_, not server_
  std::string resolv_conf_;  // read when system_
  int outstanding_ = 0;
  DnsFailure cancel_failure_ = DnsFailure::kServer;  // what a cancelled query failed of
  std::chrono::milliseconds timeout_{0};
  int tries_ = 1;
};

}  // namespace

Result<std::string> DnsServersOf(const AresOptions& options) {
  AresResolver resolver;
  Status s = resolver.Init(options);
  if (!s.ok()) return s;
  return resolver.Servers();
}

Result<std::unique_ptr<Resolver>> MakeAresResolver(const AresOptions& options) {
  auto resolver = std::make_unique<AresResolver>();
  Status s = resolver->Init(options);
  if (!s.ok()) return s;
  return std::unique_ptr<Resolver>(std::move(resolver));
}

}  // namespace credence
