// The OPTIONS argument of the Exim entry points: "key=value" pairs separated by spaces, tabs
// or semicolons. Pure functions (no Exim symbols), so they are testable outside Exim.
//
//   authserv_id=mx.example.org   A-R authserv-id (default: Exim's $primary_hostname)
//   dns=127.0.0.1[:PORT]         DNS server (an address, never a name; default: the
//                                system's resolvers, the nameserver lines of /etc/resolv.conf)
//   dns_timeout_ms=2000          one DNS try
//   deadline_ms=10000            overall deadline for one message
//   zone=/path/file.zone         answer DNS from zone files (repeatable; offline)
//   config=FILE                  TOML configuration (default /etc/credence/credence.toml, or
//                                SYSCONFDIR's, when it exists; config=none: built-in defaults)
//   time=UNIX_SECONDS            judge t=/x= at a fixed time (tests)
//   log=yes|no                   one main-log line per verified message (default yes)
#ifndef CREDENCE_PLUGIN_EXIM_EXIM_OPTIONS_H_
#define CREDENCE_PLUGIN_EXIM_EXIM_OPTIONS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "credence/credence.h"

namespace credence::exim {

struct ShimOptions {
  std::string authserv_id;  // "" = the caller substitutes $primary_hostname
  std::string dns;          // "" = library default
  unsigned dns_timeout_ms = 0;  // 0 = library default
  unsigned deadline_ms = 0;     // 0 = library default
  std::vector<std::string> zones;
  std::string config;
  std::optional<int64_t> time;
  bool log = true;
};

// Parses `text`. False with *why set on an unknown key, a pair without '=', or a bad number.
bool ParseShimOptions(std::string_view text, ShimOptions* out, std::string* why);

// The configuration file for config=`given`: `given`, "" for "none", else the default file
// when it exists, else "".
std::string ConfigPathOf(const std::string& given);

// A credence_options_t for `o` (destroy it with credence_options_destroy), or NULL with
// *errptr set (convention 3 of credence.h).
credence_options_t* BuildOptions(const ShimOptions& o, char** errptr);

// "pass fail" (one result per signature, top first) or "none" when unsigned.
std::string DkimSummary(const credence_result_t* r);
// For the log line: DkimSummary's first 8 results, then "+N" (a sender choosing 900
// signatures overflowed Exim's log buffer, and the line was lost).
std::string DkimSummaryForLog(const credence_result_t* r);
// ' limits="note; note"' for the log line, at most 512 bytes of notes (then "..."), '"', '\\'
// and non-printing bytes as '?'; "" without limits.
std::string LimitsForLog(const credence_result_t* r);
// "pass:example.com fail:example.org" (result:d= per signature); "" when unsigned.
std::string DkimDomains(const credence_result_t* r);
// "CREDENCE_DKIM_PASS(-0.2) CREDENCE_SPF_PASS(-0.2)"; "" when none fired.
std::string SymbolSummary(const credence_result_t* r);
// What a DMARC-enforcing ACL does with the message (the credence_get field dmarc_action):
// "reject" when the disposition is reject, and when the From field cannot be authenticated
// at all (none, several, or one that cannot be read: CREDENCE_DMARC_MULTIPLE_FROM,
// CREDENCE_DMARC_BAD_FROM, which RFC 7489 §6.6.1 lets a receiver reject and which score like
// a reject), and when DMARC passed only through signatures that leave what a reader sees
// unsigned under a reject policy (CREDENCE_DMARC_PARTIAL_REJECT); "defer" when DMARC is temperror under a known reject policy
// (CREDENCE_DMARC_TEMPERROR_REJECT: nothing cleared the message of the policy, and real mail
// comes back once DNS answers), and instead of "reject" when a trusted ARC sealer's chain
// could not be checked for a DNS failure (CREDENCE_ARC_TRUSTED_DNSFAIL); else "none". "none" without a result. A symbol the site's
// weights set to 0 ([score.weights]) is not enforced. "none" for a loopback `client_ip` that
// [allowlist] networks lists (CREDENCE_ALLOWLIST_IP with a negative weight): local submission
// and a content filter's reinjection, signed on the way out.
std::string DmarcAction(const credence_result_t* r, std::string_view client_ip);
// ' dmarc_reason="..."' for the log line when DMARC could not be evaluated (temperror,
// permerror), so the line says why (an authoritative-only dns= server: "REFUSED: ..."); ""
// otherwise. One line, at most 512 bytes of reason; '"', '\\' and non-printing bytes as '?'.
std::string DmarcReasonForLog(const credence_result_t* r);
// 35 -> "3.5", -7 -> "-0.7", 0 -> "0.0".
std::string TenthsToDecimal(long tenths);

}  // namespace credence::exim

#endif  // CREDENCE_PLUGIN_EXIM_EXIM_OPTIONS_H_
