// FormatConfig: a Config written back as TOML (config_format.h). The descriptions here are the
// comments of the shipped /etc/credence/credence.toml and of credence.toml(5); the values come
// from the structs' own defaults, so the file cannot say a default the code does not have.
#include "credence/policy/config_format.h"

#include <charconv>
#include <cstdio>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace credence {
namespace {

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string Number(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  std::string s(buf, r.ptr);
  // TOML: a float needs a '.' or an exponent; "6" would be read back as an integer, which the
  // loader accepts too, but keep weights visibly numbers with a fraction.
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

std::string Strings(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + Quote(v[i]);
  return out + "]";
}

std::string Bool(bool b) { return b ? "true" : "false"; }

// Writes one section's keys; in the template each gets its description as comment lines
// above it and the key line commented out with no space after '#'.
class Writer {
 public:
  explicit Writer(ConfigStyle style) : template_(style == ConfigStyle::kTemplate) {}

  void Text(std::string_view lines) {
    if (!template_) return;
    size_t pos = 0;
    while (pos <= lines.size()) {
      size_t end = lines.find('\n', pos);
      if (end == std::string_view::npos) end = lines.size();
      std::string_view l = lines.substr(pos, end - pos);
      out_ += l.empty() ? "#\n" : "# " + std::string(l) + "\n";
      pos = end + 1;
    }
  }
  void Section(std::string_view name, std::string_view description) {
    out_ += "\n";
    Text(description);
    out_ += std::string(template_ ? "#" : "") + "[" + std::string(name) + "]\n";
  }
  void Key(std::string_view key, const std::string& value, std::string_view description) {
    if (template_ && !description.empty()) Text(description);
    out_ += std::string(template_ ? "#" : "") + std::string(key) + " = " + value + "\n";
  }
  void Raw(const std::string& s) { out_ += s; }
  bool is_template() const { return template_; }
  std::string Take() { return std::move(out_); }

 private:
  bool template_;
  std::string out_;
};

void WriteAuthRes(const AuthResOptions& a, Writer& w) {
  w.Section("authres", "How the Authentication-Results field is written.");
  w.Key("fold_width", std::to_string(a.fold_width),
        "Fold (CRLF + TAB between elements) once a line would pass this many bytes. 40..998.");
  w.Key("header_b_min", std::to_string(a.header_b_min),
        "Shortest header.b prefix (RFC 6008 §4). 8..1024.");
  w.Key("comments", Bool(a.comments), "Comments such as \"(2048-bit rsa key)\".");
  w.Key("reasons", Bool(a.reasons), "reason=\"...\" on results other than pass.");
  w.Key("dmarc_polrec", Bool(a.dmarc_polrec),
        "RFC 9989 polrec.p / polrec.domain on the dmarc result.");
}

void WriteLimits(const Limits& l, Writer& w) {
  w.Section("limits",
            "Bounds on the work one message may cause (docs/limits.md). A bound that is\n"
            "reached never makes credence give up: the message is judged as far as it was\n"
            "read and scores CREDENCE_LIMIT.");
  w.Key("max_message_bytes", std::to_string(l.max_message_bytes),
        "Bytes of a message read, headers and body. 1..2^40.");
  w.Key("max_header_bytes", std::to_string(l.max_header_bytes),
        "Header section bytes whose fields are all read. 1..2^40.");
  w.Key("max_header_fields", std::to_string(l.max_header_fields),
        "Header fields read before only From, DKIM-Signature and Authentication-Results\n"
        "are still read. 1..1000000.");
  w.Key("max_dkim_signatures", std::to_string(l.max_dkim_signatures),
        "DKIM-Signature fields evaluated per message, the From domain's first. 0..1000.");
  w.Key("min_rsa_bits", std::to_string(l.min_rsa_bits),
        "Smallest RSA key accepted (RFC 8301 §3.2). 1024..16384, at most max_rsa_bits.");
  w.Key("max_rsa_bits", std::to_string(l.max_rsa_bits), "Largest RSA key accepted. 1024..16384.");
  w.Key("max_spf_dns_queries", std::to_string(l.max_spf_dns_queries),
        "DNS questions one SPF check (MAIL FROM or HELO) may ask. 1..10000.");
  w.Key("max_dmarc_dns_queries", std::to_string(l.max_dmarc_dns_queries),
        "DNS questions DMARC may ask for one From domain. 1..10000.");
  w.Key("max_arc_key_queries", std::to_string(l.max_arc_key_queries),
        "Distinct keys one ARC chain may ask for. 0..100.");
  w.Key("deadline_ms", std::to_string(l.deadline.count()),
        "Overall deadline for one message, DNS included, in milliseconds. 1..3600000.");
}

void WriteDmarc(const DmarcOptions& d, Writer& w) {
  w.Section("dmarc", "DMARC evaluation (docs/dmarc.md).");
  w.Key("org_domain",
        Quote(d.org_domain_method == OrgDomainMethod::kPsl ? "psl" : "treewalk"),
        "How the organizational domain is found: \"treewalk\" (RFC 9989 §4.10) or \"psl\"\n"
        "(RFC 7489 §3.2, the public suffix list in psl_file).");
  w.Key("psl_file", Quote(d.psl_file), "The public suffix list, read at load time for \"psl\".");
  w.Key("dkim_testing_counts_for_alignment", Bool(d.dkim_testing_counts_for_alignment),
        "A passing DKIM signature whose key has t=y still counts for alignment.");
  w.Key("batch_tree_walk", Bool(d.batch_tree_walk),
        "Ask every _dmarc name of a tree walk in one batch (false: one at a time).");
  w.Section("arc", "ARC (docs/arc.md).");
  w.Key("trusted_sealers", Strings(d.arc_trusted_sealers),
        "Sealing domains (ARC-Seal d=) whose word the site takes when DMARC fails,\n"
        "e.g. [\"lists.example.org\"]. Default: nobody.");
}

void WriteScore(const ScoreConfig& s, Writer& w) {
  w.Section("score", "The score (docs/scoring.md).");
  w.Key("dkim_testing_counts", Bool(s.dkim_testing_counts),
        "A signature whose key has t=y counts like any other (default: it adds nothing).");
  w.Section("score.weights",
            "The weight of each symbol, -1000..1000 (docs/scoring.md). A weight given here\n"
            "replaces the default shown.");
  for (const SymbolInfo& sym : DefaultSymbols()) {
    auto it = s.weights.find(std::string(sym.name));
    double weight = it != s.weights.end() ? it->second : sym.weight;
    w.Key(sym.name, Number(weight), "");
  }
}

void WriteRules(const ScoreConfig& s, Writer& w) {
  if (w.is_template()) {
    w.Text(
        "\n"
        "Site rules: none by default. SPF fail/softfail from a matching source becomes\n"
        "CREDENCE_SPF_FORWARDED (weight 0); every criterion given must match (docs/\n"
        "configuration.md). For example:\n"
        "\n"
        "  [[trusted_forwarder]]\n"
        "  name = \"university relay\"\n"
        "  networks = [\"192.0.2.0/24\", \"2001:db8:100::/48\"]\n"
        "  helo = 'relay[0-9]*\\.example\\.edu'\n"
        "\n"
        "  [[mailing_list]]\n"
        "  name = \"example lists\"\n"
        "  list_id = '.*\\.lists\\.example\\.org'\n"
        "\n"
        "Per-From-domain overrides (the domain and its subdomains; longest match wins):\n"
        "\n"
        "  [[domain]]\n"
        "  name = \"bank.example\"\n"
        "  weights = { CREDENCE_DMARC_REJECT = 8.0 }\n"
        "  dkim_testing_counts = true");
    return;
  }
  for (const SiteRule& r : s.site_rules) {
    w.Raw(r.kind == SiteRuleKind::kMailingList ? "\n[[mailing_list]]\n"
                                               : "\n[[trusted_forwarder]]\n");
    w.Key("name", Quote(r.name), "");
    if (!r.networks.empty()) w.Key("networks", Strings(r.networks), "");
    if (!r.helo.empty()) w.Key("helo", Quote(r.helo), "");
    if (!r.list_id.empty()) w.Key("list_id", Quote(r.list_id), "");
  }
  for (const DomainOverride& o : s.domain_overrides) {
    w.Raw("\n[[domain]]\n");
    w.Key("name", Quote(o.domain), "");
    if (o.dkim_testing_counts) w.Key("dkim_testing_counts", Bool(*o.dkim_testing_counts), "");
    if (!o.weights.empty()) {
      std::string t = "{ ";
      for (auto it = o.weights.begin(); it != o.weights.end(); ++it) {
        t += (it == o.weights.begin() ? "" : ", ") + it->first + " = " + Number(it->second);
      }
      w.Key("weights", t + " }", "");
    }
  }
}

}  // namespace

std::string FormatConfig(const Config& given, ConfigStyle style) {
  const Config defaults;
  const Config& c = style == ConfigStyle::kTemplate ? defaults : given;
  Writer w(style);
  w.Text(
      "/etc/credence/credence.toml: the configuration of credence (credence.toml(5),\n"
      "docs/configuration.md). Every key is shown commented out with its built-in default;\n"
      "remove the '#' before a key to change it. `credence config check` validates this\n"
      "file and prints the configuration in force; `systemctl reload credence` makes the\n"
      "service read it again.\n"
      "\n"
      "The authserv-id written into Authentication-Results (RFC 8601 §2.5): this MX's host\n"
      "name. Letters, digits, '-', '_', '.', 1..255 bytes.");
  w.Key("authserv_id", Quote(c.authres.authserv_id), "");
  WriteAuthRes(c.authres, w);
  WriteLimits(c.limits, w);
  WriteDmarc(c.dmarc, w);
  WriteScore(c.score, w);
  // The allowlist's keys come before the arrays of tables: a key after [[domain]] would
  // belong to it.
  w.Section("allowlist", "Mail that gets the allowlist weights (docs/scoring.md).");
  w.Key("networks", Strings(c.score.allow_networks),
        "Client IP ranges (CIDR): CREDENCE_ALLOWLIST_IP.");
  w.Key("from_domains", Strings(c.score.allow_from_domains),
        "From domains (and subdomains): CREDENCE_ALLOWLIST_FROM, only when authenticated.");
  WriteRules(c.score, w);
  return w.Take();
}

}  // namespace credence
