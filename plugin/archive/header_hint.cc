#include "archive/header_hint.h"

#include <deque>
#include <map>
#include <optional>
#include <vector>

#include "credence/ascii.h"

namespace credence {
namespace {

bool IsWsp(char c) { return c == ' ' || c == '\t'; }

std::string_view TrimWsp(std::string_view s) {
  while (!s.empty() && (IsWsp(s.front()) || s.front() == '\r' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (IsWsp(s.back()) || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string_view FieldName(const HeaderField& f) {
  std::string_view n = f.name;
  while (!n.empty() && IsWsp(n.back())) n.remove_suffix(1);
  return n;
}

// Shown in a sentence: printable ASCII only, at most 64 bytes (the text is the sender's).
std::string Shown(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 64)) {
    const auto u = static_cast<unsigned char>(c);
    out += u < 0x20 || u >= 0x7f ? '?' : c;
  }
  if (s.size() > 64) out += "...";
  return out;
}

std::string Times(size_t n) {
  return n == 1 ? "once" : n == 2 ? "twice" : std::to_string(n) + " times";
}
std::string HowMany(size_t n) { return n == 0 ? "none" : n == 1 ? "one" : std::to_string(n); }

// The name as most mail software writes it ("Message-ID", "MIME-Version"), else each
// hyphen-separated part capitalised.
std::string UsualCase(std::string_view name) {
  static const char* const kNames[] = {"From",
                                       "To",
                                       "Cc",
                                       "Subject",
                                       "Date",
                                       "Message-ID",
                                       "Reply-To",
                                       "Sender",
                                       "MIME-Version",
                                       "Content-Type",
                                       "Content-Transfer-Encoding",
                                       "In-Reply-To",
                                       "References",
                                       "List-Id",
                                       "List-Unsubscribe",
                                       "List-Unsubscribe-Post",
                                       "DKIM-Signature"};
  for (const char* n : kNames) {
    if (EqualsIgnoreCase(name, n)) return n;
  }
  std::string out(name);
  bool start = true;
  for (char& c : out) {
    if (start && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (!start && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    start = c == '-';
  }
  return out;
}

// Header fields a try hands to the signature: the message's, some replaced or left out.
// Replacement text is owned here (the fields are views).
class Variant {
 public:
  explicit Variant(const std::vector<HeaderField>& original) : fields_(original) {}
  const std::vector<HeaderField>& fields() const { return fields_; }
  void Replace(size_t i, std::string raw) {
    const std::string& r = owned_.emplace_back(std::move(raw));
    const size_t colon = r.find(':');
    fields_[i] =
        HeaderField{std::string_view(r).substr(0, colon), std::string_view(r).substr(colon + 1), r};
  }
  void Remove(size_t i) { fields_.erase(fields_.begin() + static_cast<ptrdiff_t>(i)); }

 private:
  std::vector<HeaderField> fields_;
  std::deque<std::string> owned_;
};

// Verifications of one signature, paid from the message's budget and the signature's share.
class Trier {
 public:
  Trier(const DkimHeaderCheck& check, size_t section_bytes, HeaderHintBudget* budget)
      : check_(check), section_bytes_(section_bytes), budget_(budget) {}
  // False when it did not verify or could not be paid for (then spent() is true).
  bool Try(const Variant& v, bool relaxed = false) {
    if (!CanPay()) {
      spent_ = true;
      return false;
    }
    --budget_->tries;
    ++used_;
    size_t hashed = 0;
    const bool ok = check_.Verifies(v.fields(), relaxed, &hashed);
    budget_->bytes -= std::min(budget_->bytes, hashed);
    return ok;
  }
  bool spent() const { return spent_; }

 private:
  bool CanPay() const {
    return used_ < kHeaderTriesPerSignature && budget_->tries > 0 &&
           budget_->bytes >= section_bytes_;
  }
  const DkimHeaderCheck& check_;
  size_t section_bytes_;
  HeaderHintBudget* budget_;
  size_t used_ = 0;
  bool spent_ = false;
};

struct Context {
  const Message& message;
  size_t signature_index;                 // the DKIM-Signature field under study (never changed)
  std::vector<std::string> signed_names;  // h=, lower-cased, each once, in h= order
  std::map<std::string, size_t> named;    // how often h= names each (lower-cased)
  // The fields of each signed name, top first (the signature's own field left out).
  std::map<std::string, std::vector<size_t>> instances;
};

Context MakeContext(const Message& message, size_t signature_index,
                    const std::vector<std::string>& h) {
  Context c{message, signature_index, {}, {}, {}};
  for (const std::string& name : h) {
    std::string key = ToLower(TrimWsp(name));
    if (c.named[key]++ == 0) c.signed_names.push_back(key);
  }
  const std::vector<HeaderField>& fields = message.headers();
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i == signature_index) continue;
    auto it = c.instances.find(ToLower(FieldName(fields[i])));
    if (it == c.instances.end() && c.named.count(ToLower(FieldName(fields[i])))) {
      it = c.instances.emplace(ToLower(FieldName(fields[i])), std::vector<size_t>()).first;
    }
    if (it != c.instances.end()) it->second.push_back(i);
  }
  return c;
}

// The field RFC 6376 §5.4.2 picks first for `name`: the bottom-most.
std::optional<size_t> Selected(const Context& c, const std::string& name) {
  auto it = c.instances.find(name);
  if (it == c.instances.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

// 1. "[list] " prefixed to Subject (after any "Re:"/"Fwd:"), removed.
std::string SubjectTag(const Context& c, Trier* t) {
  std::optional<size_t> i = Selected(c, "subject");
  if (!i) return "";
  const HeaderField& f = c.message.headers()[*i];
  const std::string_view value = f.value;
  size_t k = 0;
  for (;;) {
    while (k < value.size() && (IsWsp(value[k]) || value[k] == '\r' || value[k] == '\n')) ++k;
    bool prefix = false;
    for (std::string_view p : {"re:", "fwd:", "fw:", "aw:", "sv:", "wg:"}) {
      if (value.size() - k >= p.size() && EqualsIgnoreCase(value.substr(k, p.size()), p)) {
        k += p.size();
        prefix = true;
        break;
      }
    }
    if (!prefix) break;
  }
  if (k >= value.size() || value[k] != '[') return "";
  const size_t close = value.find(']', k);
  if (close == std::string_view::npos || close - k > 64 ||
      value.substr(k, close - k).find_first_of("\r\n") != std::string_view::npos) {
    return "";
  }
  size_t end = close + 1;
  if (end < value.size() && value[end] == ' ') ++end;
  const size_t at = static_cast<size_t>(value.data() - f.raw.data());
  std::string raw(f.raw);
  raw.erase(at + k, end - k);
  Variant v(c.message.headers());
  v.Replace(*i, std::move(raw));
  if (!t->Try(v)) return "";
  return "header hash fails: Subject changed (a '" + Shown(value.substr(k, end - k)) +
         "' prefix was added after signing, as mailing lists do)";
}

// 2. From put back from X-Original-From (a list that rewrote From for DMARC keeps it there).
std::string FromRestored(const Context& c, Trier* t) {
  std::optional<size_t> from = Selected(c, "from");
  const HeaderField* original = c.message.Find("X-Original-From");
  if (!from || original == nullptr) return "";
  const std::string name(FieldName(c.message.headers()[*from]));
  for (const std::string& raw : {name + ":" + std::string(original->value),
                                 name + ": " + std::string(TrimWsp(original->value))}) {
    Variant v(c.message.headers());
    v.Replace(*from, raw);
    if (t->Try(v)) {
      return "header hash fails: From changed (the signature verifies with From as "
             "X-Original-From has it, '" +
             Shown(TrimWsp(original->value)) +
             "': a mailing list rewrote From after signing, as lists do for DMARC)";
    }
  }
  return "";
}

std::string Ordinal(size_t n) {
  return n == 1 ? "1st" : n == 2 ? "2nd" : n == 3 ? "3rd" : std::to_string(n) + "th";
}

// What AddedField says when the signature verifies without c.message.headers()[i], the
// n-th from the bottom of the `all` fields of its name.
std::string DescribeAdded(const Context& c, const std::string& name, size_t i, size_t n,
                          const std::vector<size_t>& all) {
  const std::string shown = Shown(FieldName(c.message.headers()[i]));
  const std::string where =
      "field " + std::to_string(c.message.FieldPosition(i) + 1) + " of the header";
  const size_t named = c.named.at(name);
  if (all.size() == 1) {
    return "header hash fails: the " + shown + " field (" + where +
           ") was added after signing: h= names " + shown + " " + Times(named) +
           ", the signer's message had " + (named == 1 ? "none" : "fewer") +
           " (the signature verifies without it)";
  }
  if (n == 0) {
    return "header hash fails: a " + shown + " field (" + where + ", the lowest of " +
           std::to_string(all.size()) +
           ") was added below the signed one after signing: bottom-up selection (RFC 6376 "
           "§5.4.2) now picks it (the signature verifies without it)";
  }
  return "header hash fails: the " + Ordinal(all.size() - n) + " of " + std::to_string(all.size()) +
         " " + shown + " fields (" + where +
         ") was added after signing (the signature verifies without it)";
}

// 3. A field added after signing: each instance of a signed name left out. First the
// bottom-most field of each name the message has several of (one added below the signed one
// is what bottom-up selection now picks), then every other instance, bottom up.
std::string AddedField(const Context& c, Trier* t) {
  for (int pass = 0; pass < 2; ++pass) {
    for (const std::string& name : c.signed_names) {
      auto it = c.instances.find(name);
      if (it == c.instances.end() || it->second.empty()) continue;
      const std::vector<size_t>& all = it->second;
      for (size_t n = 0; n < all.size(); ++n) {
        const bool first_pass = all.size() > 1 && n == 0;
        if (first_pass != (pass == 0)) continue;
        const size_t i = all[all.size() - 1 - n];
        Variant v(c.message.headers());
        v.Remove(i);
        if (t->Try(v)) return DescribeAdded(c, name, i, n, all);
        if (t->spent()) return "";
      }
    }
  }
  return "";
}

// Unfolded (RFC 5322 §2.2.3), and with `tidy` white space runs made one space, none at the
// ends, "Name: value"; with `usual` the name in its usual case.
std::string Rewritten(const HeaderField& f, bool tidy, bool usual) {
  std::string name = usual ? UsualCase(FieldName(f)) : std::string(f.name);
  std::string value;
  for (size_t k = 0; k < f.value.size(); ++k) {
    if (f.value[k] == '\r' || f.value[k] == '\n') continue;
    value += f.value[k];
  }
  if (!tidy) return name + ":" + value;
  std::string runs;
  for (char ch : TrimWsp(value)) {
    if (IsWsp(ch)) {
      if (!runs.empty() && runs.back() == ' ') continue;
      ch = ' ';
    }
    runs += ch;
  }
  return name + ": " + runs;
}

// 4. c=simple: white space or name case rewritten in transit; or the signer hashed relaxed.
std::string SimpleRewritten(const Context& c, const DkimHeaderCheck& check, Trier* t) {
  if (!check.simple_headers()) return "";
  struct Form {
    bool tidy, usual;
    const char* words;
  };
  static const Form kForms[] = {
      {false, false, "unfolded"},
      {false, true, "with the field names in their usual case"},
      {true, false, "unfolded with white space runs as one space"},
      {true, true, "unfolded, white space runs as one space and names in their usual case"}};
  for (const Form& form : kForms) {
    Variant v(c.message.headers());
    bool changed = false;
    for (const auto& [name, fields] : c.instances) {
      for (size_t i : fields) {
        std::string raw = Rewritten(c.message.headers()[i], form.tidy, form.usual);
        if (raw == c.message.headers()[i].raw) continue;
        v.Replace(i, std::move(raw));
        changed = true;
      }
    }
    if (!changed) continue;
    if (t->Try(v)) {
      return std::string(
                 "header hash fails: c=simple and the signed fields' white space or "
                 "name case changed in transit (the signature verifies with them ") +
             form.words + "); c=relaxed would have survived it";
    }
    if (t->spent()) return "";
  }
  if (t->Try(Variant(c.message.headers()), /*relaxed=*/true)) {
    return "header hash fails: c= says simple but the signature verifies with the header "
           "fields canonicalized relaxed: the signer hashed them relaxed (a signer bug), the "
           "fields are intact";
  }
  return "";
}

// Nothing repaired: what can be known, worded as such.
std::string NotExplained(const Context& c, const DkimResult& failed, bool tried, bool spent) {
  std::string out = tried ? "header hash fails: not explained by the repairs tried (Subject "
                            "tag, From, added fields, white space)"
                          : "header hash fails: no repair tried (the key record did not "
                            "parse again)";
  if (spent) out += ", not all tried (the message's hint budget was spent)";
  std::string counts;
  for (const std::string& name : c.signed_names) {
    auto it = c.instances.find(name);
    const size_t have = it == c.instances.end() ? 0 : it->second.size();
    const size_t named = c.named.at(name);
    if (have >= named) continue;
    if (!counts.empty()) counts += ", ";
    counts += "h= names " + UsualCase(Shown(name)) + " " + Times(named) + ", the message has " +
              HowMany(have);
  }
  if (!counts.empty()) {
    out += "; " + counts +
           " (a signed field removed in transit, or names signed while absent so that none "
           "can be added: the counts alone cannot tell)";
  }
  std::string rewritten;
  for (const char* name :
       {"mime-version", "content-type", "content-transfer-encoding", "subject", "from"}) {
    auto it = c.instances.find(name);
    if (it == c.instances.end() || it->second.empty()) continue;
    if (!rewritten.empty()) rewritten += ", ";
    rewritten += UsualCase(name);
  }
  if (!rewritten.empty()) {
    out += "; signed fields that lists and gateways rewrite, possibly changed: " + rewritten;
  }
  if (std::optional<size_t> from = Selected(c, "from")) {
    const std::string value = ToLower(c.message.headers()[*from].value);
    if (value.find(" via ") != std::string::npos) {
      out += "; From reads '" + Shown(TrimWsp(c.message.headers()[*from].value)) +
             "' (a list's rewrite of From; the original cannot be put back to check)";
    }
  }
  out += "; or the key at " + Shown(ToLower(failed.selector + "._domainkey." + failed.domain)) +
         " was replaced after signing";
  return out;
}

}  // namespace

HeaderHashHint ExplainHeaderHash(const Message& message, const DkimResult& failed,
                                 std::string_view key_record, HeaderHintBudget* budget) {
  HeaderHashHint hint;
  if (failed.reason != DkimReason::kSignatureMismatch ||
      failed.header_index >= message.headers().size()) {
    return hint;
  }
  const DkimHeaderCheck check(message.headers()[failed.header_index], key_record);
  const Context c = MakeContext(message, failed.header_index,
                                check.ok() ? check.signed_headers() : failed.signed_headers);
  size_t section_bytes = 0;
  for (const HeaderField& f : message.headers()) section_bytes += f.raw.size() + 2;
  Trier trier(check, section_bytes, budget);
  if (check.ok()) {
    // In order, the first repair that verifies is the cause (each later one would only add
    // tries).
    std::string cause;
    if (!(cause = SubjectTag(c, &trier)).empty()) {
      hint.kind = "Subject tag added";
    } else if (!(cause = FromRestored(c, &trier)).empty()) {
      hint.kind = "From rewritten by a list";
    } else if (!(cause = AddedField(c, &trier)).empty()) {
      hint.kind = "field added after signing";
    } else if (!(cause = SimpleRewritten(c, check, &trier)).empty()) {
      hint.kind = cause.find("canonicalized relaxed") != std::string::npos
                      ? "signer hashed relaxed (c=simple)"
                      : "header white space rewritten (c=simple)";
    }
    if (!cause.empty()) {
      hint.cause = std::move(cause);
      return hint;
    }
  }
  hint.kind = "not explained";
  hint.cause = NotExplained(c, failed, check.ok(), trier.spent());
  return hint;
}

}  // namespace credence
