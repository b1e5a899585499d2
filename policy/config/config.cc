// The configuration loader: TOML via toml++ (the only file that includes it), checked key by
// key so every mistake is reported as SOURCE:LINE:COL with the key's dotted path.
#include <algorithm>
#include <cstdint>
#include <fstream>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

#include "common/regex.h"
#include "credence/ascii.h"
#include "credence/file.h"
#include "credence/policy/config.h"
#include "score/network.h"

namespace credence {
namespace {

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// The closest known name, when it is close enough to be a likely typo (sharing its first
// two thirds, or within a third of the word's length in edits).
std::string Suggest(std::string_view word, const std::vector<std::string_view>& known) {
  std::string best;
  size_t best_d = SIZE_MAX;
  std::string w = ToLower(word);
  for (std::string_view k : known) {
    std::string lk = ToLower(k);
    size_t common = 0;
    while (common < w.size() && common < lk.size() && w[common] == lk[common]) ++common;
    size_t d = EditDistance(w, lk);
    bool close = (common >= 4 && common * 3 >= w.size() * 2) ||
                 d <= std::max<size_t>(2, w.size() / 3);
    if (close && d < best_d) {
      best_d = d;
      best = std::string(k);
    }
  }
  return best;
}

class Loader {
 public:
  explicit Loader(std::string source) : source_(std::move(source)) {}

  Result<Config> Load(const toml::table& root) {
    Config c;
    c.source = source_;
    if (!Keys(root, "", {"authserv_id", "authres", "limits", "dmarc", "arc", "score",
                         "trusted_forwarder", "mailing_list", "allowlist", "domain",
                         "history"})) {
      return error_;
    }
    if (!String(root, "", "authserv_id", &c.authres.authserv_id)) return error_;
    if (const toml::node* n = root.get("authserv_id")) {
      if (Status s = ValidateAuthServId(c.authres.authserv_id); !s.ok()) {
        return Fail(*n, "authserv_id: " + s.message());
      }
    }
    if (!AuthRes(root, &c.authres) || !LimitsTable(root, &c.limits) || !Dmarc(root, &c.dmarc) ||
        !Arc(root, &c.dmarc) ||
        !Score(root, &c.score) || !Rules(root, "trusted_forwarder",
                                         SiteRuleKind::kTrustedForwarder, &c.score) ||
        !Rules(root, "mailing_list", SiteRuleKind::kMailingList, &c.score) ||
        !Allowlist(root, &c.score) || !Domains(root, &c.score) ||
        !History(root, &c.history)) {
      return error_;
    }
    c.dmarc.limits = c.limits;
    Result<ScorePolicy> policy = ScorePolicy::Create(c.score);
    if (!policy.ok()) return Status::Invalid(source_ + ": " + policy.status().message());
    c.score_policy = *policy;
    return c;
  }

 private:
  std::string Where(const toml::source_region& r) const {
    return source_ + ":" + std::to_string(r.begin.line) + ":" + std::to_string(r.begin.column);
  }
  Status Fail(const toml::node& n, const std::string& message) {
    error_ = Status::Invalid(Where(n.source()) + ": " + message);
    return error_;
  }
  static std::string Path(std::string_view section, std::string_view key) {
    return section.empty() ? std::string(key) : std::string(section) + "." + std::string(key);
  }

  // Every key of `t` must be in `known`; otherwise "unknown key" with a suggestion.
  bool Keys(const toml::table& t, std::string_view section,
            std::initializer_list<std::string_view> known) {
    std::vector<std::string_view> k(known);
    for (const auto& [key, node] : t) {
      if (std::find(k.begin(), k.end(), key.str()) != k.end()) continue;
      std::string msg = "unknown key '" + Path(section, key.str()) + "'";
      std::string s = Suggest(key.str(), k);
      if (!s.empty()) msg += " (did you mean '" + s + "'?)";
      error_ = Status::Invalid(Where(key.source()) + ": " + msg);
      return false;
    }
    return true;
  }

  const toml::table* Table(const toml::table& t, std::string_view section, std::string_view key) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return nullptr;
    if (!n->is_table()) {
      Fail(*n, Path(section, key) + ": expected a table");
      table_error_ = true;
      return nullptr;
    }
    return n->as_table();
  }

  bool String(const toml::table& t, std::string_view section, std::string_view key,
              std::string* out) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return true;
    if (!n->is_string()) return Fail(*n, Path(section, key) + ": expected a string").ok();
    *out = n->as_string()->get();
    return true;
  }
  bool Bool(const toml::table& t, std::string_view section, std::string_view key, bool* out) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return true;
    if (!n->is_boolean()) {
      return Fail(*n, Path(section, key) + ": expected true or false").ok();
    }
    *out = n->as_boolean()->get();
    return true;
  }
  template <typename T>
  bool Unsigned(const toml::table& t, std::string_view section, std::string_view key, T* out,
                int64_t min, int64_t max) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return true;
    if (!n->is_integer()) return Fail(*n, Path(section, key) + ": expected an integer").ok();
    int64_t v = n->as_integer()->get();
    if (v < min || v > max) {
      return Fail(*n, Path(section, key) + ": " + std::to_string(v) + " is out of range " +
                          std::to_string(min) + ".." + std::to_string(max))
          .ok();
    }
    *out = static_cast<T>(v);
    return true;
  }
  bool Number(const toml::node& n, const std::string& path, double* out) {
    if (n.is_integer()) {
      *out = static_cast<double>(n.as_integer()->get());
    } else if (n.is_floating_point()) {
      *out = n.as_floating_point()->get();
    } else {
      return Fail(n, path + ": expected a number").ok();
    }
    if (!(*out > -1000 && *out < 1000)) return Fail(n, path + ": weight out of range -1000..1000").ok();
    return true;
  }
  bool Strings(const toml::table& t, std::string_view section, std::string_view key,
               std::vector<std::string>* out, std::vector<const toml::node*>* nodes = nullptr) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return true;
    std::string path = Path(section, key);
    if (!n->is_array()) return Fail(*n, path + ": expected an array of strings").ok();
    for (const toml::node& e : *n->as_array()) {
      if (!e.is_string()) return Fail(e, path + ": expected an array of strings").ok();
      out->push_back(e.as_string()->get());
      if (nodes) nodes->push_back(&e);
    }
    return true;
  }
  bool Networks(const toml::table& t, std::string_view section, std::string_view key,
                std::vector<std::string>* out) {
    std::vector<const toml::node*> nodes;
    size_t first = out->size();
    if (!Strings(t, section, key, out, &nodes)) return false;
    for (size_t i = first; i < out->size(); ++i) {
      if (Status s = ValidateNetwork((*out)[i]); !s.ok()) {
        return Fail(*nodes[i - first], Path(section, key) + ": " + s.message()).ok();
      }
    }
    return true;
  }
  bool Pattern(const toml::table& t, std::string_view section, std::string_view key,
               std::string* out) {
    if (!String(t, section, key, out)) return false;
    if (out->empty()) return true;
    Result<Regex> re = Regex::Compile(*out);
    if (!re.ok()) {
      return Fail(*t.get(key), Path(section, key) + ": bad regular expression: " +
                                   re.status().message())
          .ok();
    }
    return true;
  }
  bool Weights(const toml::table& t, const std::string& section,
               std::map<std::string, double>* out) {
    std::vector<std::string_view> known;
    for (const SymbolInfo& s : DefaultSymbols()) known.push_back(s.name);
    for (const auto& [key, node] : t) {
      std::string path = section + "." + std::string(key.str());
      if (FindSymbol(key.str()) == nullptr) {
        std::string msg = "unknown symbol '" + path + "'";
        std::string s = Suggest(key.str(), known);
        if (!s.empty()) msg += " (did you mean '" + s + "'?)";
        error_ = Status::Invalid(Where(key.source()) + ": " + msg);
        return false;
      }
      double w = 0;
      if (!Number(node, path, &w)) return false;
      (*out)[std::string(key.str())] = w;
    }
    return true;
  }

  bool AuthRes(const toml::table& root, AuthResOptions* o) {
    const toml::table* t = Table(root, "", "authres");
    if (t == nullptr) return !table_error_;
    return Keys(*t, "authres", {"fold_width", "header_b_min", "comments", "reasons",
                                "dmarc_polrec"}) &&
           Unsigned(*t, "authres", "fold_width", &o->fold_width, 40, 998) &&
           Unsigned(*t, "authres", "header_b_min", &o->header_b_min, 8, 1024) &&
           Bool(*t, "authres", "comments", &o->comments) &&
           Bool(*t, "authres", "reasons", &o->reasons) &&
           Bool(*t, "authres", "dmarc_polrec", &o->dmarc_polrec);
  }

  bool LimitsTable(const toml::table& root, Limits* l) {
    const toml::table* t = Table(root, "", "limits");
    if (t == nullptr) return !table_error_;
    constexpr int64_t kBig = int64_t{1} << 40;
    int64_t deadline_ms = l->deadline.count();
    // Keys of earlier versions: say what replaced them rather than "unknown key".
    for (auto [old_key, why] : {std::pair<const char*, const char*>{
                                    "max_line_bytes",
                                    "removed: lines are not limited (the header section is "
                                    "bounded by max_header_bytes)"},
                                {"max_dns_queries",
                                 "replaced by max_spf_dns_queries (per SPF check) and "
                                 "max_dmarc_dns_queries (per From domain)"}}) {
      if (const toml::node* n = t->get(old_key)) {
        return Fail(*n, std::string("limits.") + old_key + ": " + why).ok();
      }
    }
    bool ok = Keys(*t, "limits", {"max_message_bytes", "max_header_bytes", "max_header_fields",
                                  "max_dkim_signatures", "min_rsa_bits", "max_rsa_bits",
                                  "max_spf_dns_queries", "max_dmarc_dns_queries",
                                  "max_arc_key_queries", "deadline_ms"}) &&
              Unsigned(*t, "limits", "max_message_bytes", &l->max_message_bytes, 1, kBig) &&
              Unsigned(*t, "limits", "max_header_bytes", &l->max_header_bytes, 1, kBig) &&
              Unsigned(*t, "limits", "max_header_fields", &l->max_header_fields, 1, 1000000) &&
              Unsigned(*t, "limits", "max_dkim_signatures", &l->max_dkim_signatures, 0, 1000) &&
              Unsigned(*t, "limits", "min_rsa_bits", &l->min_rsa_bits, 1024, 16384) &&
              Unsigned(*t, "limits", "max_rsa_bits", &l->max_rsa_bits, 1024, 16384) &&
              Unsigned(*t, "limits", "max_spf_dns_queries", &l->max_spf_dns_queries, 1, 10000) &&
              Unsigned(*t, "limits", "max_dmarc_dns_queries", &l->max_dmarc_dns_queries, 1,
                       10000) &&
              Unsigned(*t, "limits", "max_arc_key_queries", &l->max_arc_key_queries, 0, 100) &&
              Unsigned(*t, "limits", "deadline_ms", &deadline_ms, 1, 3600000);
    if (!ok) return false;
    l->deadline = std::chrono::milliseconds(deadline_ms);
    if (l->min_rsa_bits > l->max_rsa_bits) {
      const toml::node* n = t->get("min_rsa_bits");
      return Fail(n ? *n : static_cast<const toml::node&>(*t),
                  "limits.min_rsa_bits: larger than limits.max_rsa_bits")
          .ok();
    }
    return true;
  }

  bool Dmarc(const toml::table& root, DmarcOptions* d) {
    const toml::table* t = Table(root, "", "dmarc");
    if (t == nullptr) return !table_error_;
    std::string method;
    if (!Keys(*t, "dmarc", {"org_domain", "psl_file", "dkim_testing_counts_for_alignment",
                            "batch_tree_walk"}) ||
        !String(*t, "dmarc", "org_domain", &method) ||
        !String(*t, "dmarc", "psl_file", &d->psl_file) ||
        !Bool(*t, "dmarc", "dkim_testing_counts_for_alignment",
              &d->dkim_testing_counts_for_alignment) ||
        !Bool(*t, "dmarc", "batch_tree_walk", &d->batch_tree_walk)) {
      return false;
    }
    if (const toml::node* n = t->get("org_domain")) {
      if (method == "treewalk") {
        d->org_domain_method = OrgDomainMethod::kTreeWalk;
      } else if (method == "psl") {
        d->org_domain_method = OrgDomainMethod::kPsl;
      } else {
        return Fail(*n, "dmarc.org_domain: '" + method + "' is not \"treewalk\" or \"psl\"").ok();
      }
    }
    if (d->org_domain_method == OrgDomainMethod::kPsl) {
      std::ifstream f(d->psl_file);
      if (!f) {
        const toml::node* n = t->get("psl_file") ? t->get("psl_file") : t->get("org_domain");
        return Fail(*n, "dmarc.psl_file: cannot read '" + d->psl_file + "'").ok();
      }
    }
    return true;
  }

  bool Score(const toml::table& root, ScoreConfig* s) {
    const toml::table* t = Table(root, "", "score");
    if (t == nullptr) return !table_error_;
    if (!Keys(*t, "score", {"dkim_testing_counts", "weights"}) ||
        !Bool(*t, "score", "dkim_testing_counts", &s->dkim_testing_counts)) {
      return false;
    }
    const toml::table* w = Table(*t, "score", "weights");
    if (w == nullptr) return !table_error_;
    return Weights(*w, "score.weights", &s->weights);
  }

  // [[trusted_forwarder]] / [[mailing_list]]: arrays of tables.
  bool Rules(const toml::table& root, std::string_view key, SiteRuleKind kind, ScoreConfig* s) {
    const toml::node* n = root.get(key);
    if (n == nullptr) return true;
    if (!n->is_array_of_tables()) {
      return Fail(*n, std::string(key) + ": expected [[" + std::string(key) + "]] tables").ok();
    }
    size_t i = 0;
    for (const toml::node& e : *n->as_array()) {
      const toml::table& t = *e.as_table();
      std::string section = std::string(key) + "[" + std::to_string(i++) + "]";
      SiteRule r;
      r.kind = kind;
      if (!Keys(t, section, {"name", "networks", "helo", "list_id"}) ||
          !String(t, section, "name", &r.name) || !Networks(t, section, "networks", &r.networks) ||
          !Pattern(t, section, "helo", &r.helo) || !Pattern(t, section, "list_id", &r.list_id)) {
        return false;
      }
      if (r.name.empty()) r.name = section;
      if (r.networks.empty() && r.helo.empty() && r.list_id.empty()) {
        return Fail(e, section + ": needs at least one of networks, helo, list_id").ok();
      }
      s->site_rules.push_back(std::move(r));
    }
    return true;
  }

  // [arc] trusted_sealers: sealing domains, each a domain name (lower-cased, one trailing dot
  // dropped); anything else is an error naming the entry.
  bool Arc(const toml::table& root, DmarcOptions* d) {
    const toml::table* t = Table(root, "", "arc");
    if (t == nullptr) return !table_error_;
    std::vector<const toml::node*> nodes;
    if (!Keys(*t, "arc", {"trusted_sealers"}) ||
        !Strings(*t, "arc", "trusted_sealers", &d->arc_trusted_sealers, &nodes)) {
      return false;
    }
    for (size_t i = 0; i < d->arc_trusted_sealers.size(); ++i) {
      std::string& name = d->arc_trusted_sealers[i];
      std::string given = name;
      if (!name.empty() && name.back() == '.') name.pop_back();
      bool ok = !name.empty() && name.size() <= 253 && name.front() != '.' &&
                name.find("..") == std::string::npos &&
                std::all_of(name.begin(), name.end(), [](char c) {
                  return IsAsciiAlnum(c) || c == '-' || c == '_' ||
                         c == '.';
                });
      if (!ok) {
        return Fail(*nodes[i], "arc.trusted_sealers: '" + given + "' is not a domain name").ok();
      }
      name = ToLower(name);
    }
    return true;
  }

  // [history] (docs/reports.md): where evaluations are kept and who reports them.
  bool History(const toml::table& root, HistoryOptions* h) {
    const toml::table* t = Table(root, "", "history");
    if (t == nullptr) return !table_error_;
    bool ok = Keys(*t, "history", {"enabled", "store", "busy_timeout_ms", "connect_timeout_ms",
                                   "retry_after_s", "org_name", "email", "extra_contact_info",
                                   "report_from", "receiver_domain", "sendmail",
                                   "max_catchup_days", "retention_days"}) &&
              Bool(*t, "history", "enabled", &h->enabled) &&
              String(*t, "history", "store", &h->store) &&
              Unsigned(*t, "history", "busy_timeout_ms", &h->busy_timeout_ms, 1, 10000) &&
              Unsigned(*t, "history", "connect_timeout_ms", &h->connect_timeout_ms, 1, 10000) &&
              Unsigned(*t, "history", "retry_after_s", &h->retry_after_s, 0, 3600) &&
              String(*t, "history", "org_name", &h->org_name) &&
              String(*t, "history", "email", &h->email) &&
              String(*t, "history", "extra_contact_info", &h->extra_contact_info) &&
              String(*t, "history", "report_from", &h->report_from) &&
              String(*t, "history", "receiver_domain", &h->receiver_domain) &&
              String(*t, "history", "sendmail", &h->sendmail) &&
              Unsigned(*t, "history", "max_catchup_days", &h->max_catchup_days, 1, 366) &&
              Unsigned(*t, "history", "retention_days", &h->retention_days, 0, 36500);
    if (!ok) return false;
    if (const toml::node* n = t->get("store")) {
      if (Status s = ValidateHistoryStoreUri(h->store); !s.ok()) {
        return Fail(*n, "history.store: " + s.message()).ok();
      }
    } else if (h->enabled) {
      return Fail(*t, "history: enabled = true needs a store (\"sqlite:PATH\" or "
                      "\"postgresql://...\")").ok();
    }
    for (const char* key : {"email", "report_from"}) {
      const toml::node* n = t->get(key);
      const std::string& v = std::string_view(key) == "email" ? h->email : h->report_from;
      size_t at = v.find('@');
      bool address = at != std::string::npos && at > 0 && at + 1 < v.size() &&
                     v.find_first_of(" \t\r\n<>,;\"") == std::string::npos;
      if (n != nullptr && !address) {
        return Fail(*n, std::string("history.") + key + ": '" + v +
                            "' is not a mail address (local@domain)").ok();
      }
    }
    if (h->report_from.empty()) h->report_from = h->email;
    if (h->receiver_domain.empty() && h->email.find('@') != std::string::npos) {
      h->receiver_domain = ToLower(h->email.substr(h->email.rfind('@') + 1));
    }
    if (const toml::node* n = t->get("sendmail"); n != nullptr && h->sendmail.empty()) {
      return Fail(*n, "history.sendmail: empty path").ok();
    }
    return true;
  }

  bool Allowlist(const toml::table& root, ScoreConfig* s) {
    const toml::table* t = Table(root, "", "allowlist");
    if (t == nullptr) return !table_error_;
    return Keys(*t, "allowlist", {"from_domains", "networks"}) &&
           Strings(*t, "allowlist", "from_domains", &s->allow_from_domains) &&
           Networks(*t, "allowlist", "networks", &s->allow_networks);
  }

  bool Domains(const toml::table& root, ScoreConfig* s) {
    const toml::node* n = root.get("domain");
    if (n == nullptr) return true;
    if (!n->is_array_of_tables()) return Fail(*n, "domain: expected [[domain]] tables").ok();
    size_t i = 0;
    for (const toml::node& e : *n->as_array()) {
      const toml::table& t = *e.as_table();
      std::string section = "domain[" + std::to_string(i++) + "]";
      DomainOverride o;
      bool counts = false;
      if (!Keys(t, section, {"name", "weights", "dkim_testing_counts"}) ||
          !String(t, section, "name", &o.domain) ||
          !Bool(t, section, "dkim_testing_counts", &counts)) {
        return false;
      }
      if (o.domain.empty()) return Fail(e, section + ": needs a name").ok();
      if (t.get("dkim_testing_counts")) o.dkim_testing_counts = counts;
      const toml::table* w = Table(t, section, "weights");
      if (w == nullptr && table_error_) return false;
      if (w != nullptr && !Weights(*w, section + ".weights", &o.weights)) return false;
      s->domain_overrides.push_back(std::move(o));
    }
    return true;
  }

  std::string source_;
  Status error_;
  bool table_error_ = false;
};

}  // namespace

// toml++ 3.3 asserts (and, built with NDEBUG, assumes) that an array-of-tables header "[["
// is followed by a key: "[[[" or "[[ [" reach an internal assertion instead of a parse error.
// Refuse such lines here with a precise message, before toml++ sees them.
static Status CheckTableHeaders(std::string_view text, const std::string& name) {
  size_t line = 1;
  for (size_t pos = 0; pos <= text.size();) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view l = text.substr(pos, end - pos);
    size_t i = l.find_first_not_of(" \t");
    if (i != std::string_view::npos && l.substr(i, 2) == "[[") {
      size_t j = l.find_first_not_of(" \t", i + 2);
      if (j != std::string_view::npos && l[j] == '[') {
        return Status::Invalid(name + ":" + std::to_string(line) + ":" + std::to_string(j + 1) +
                               ": invalid table header: a key must follow '[['");
      }
    }
    pos = end + 1;
    ++line;
  }
  return Status();
}

Result<Config> ParseConfig(std::string_view text, std::string_view source) {
  std::string name(source);
  if (Status s = CheckTableHeaders(text, name); !s.ok()) return s;
  toml::table root;
  try {
    root = toml::parse(text, name);
  } catch (const toml::parse_error& e) {
    const toml::source_position& p = e.source().begin;
    return Status::Invalid(name + ":" + std::to_string(p.line) + ":" + std::to_string(p.column) +
                           ": " + std::string(e.description()));
  } catch (const std::exception& e) {
    return Status::Invalid(name + ": " + e.what());
  }
  try {
    return Loader(name).Load(root);
  } catch (const std::exception& e) {
    return Status::Internal(name + ": " + e.what());
  }
}

Result<Config> LoadConfigFile(const std::string& path) {
  std::string text;
  Status s = ReadRegularFile(path, "configuration file", kMaxConfigBytes, &text);
  if (!s.ok()) return s;
  return ParseConfig(text, path);
}

}  // namespace credence
