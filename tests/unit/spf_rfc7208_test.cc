// The openspf.org RFC 7208 test suite (tests/data/spf/rfc7208-tests.json, converted by
// tests/data/spf/convert.py; origin and licence in tests/data/spf/SOURCE.txt). Every case is
// its own named test in suite spf_rfc7208, run against an in-memory Resolver that serves the
// case's zone the way the suite's driver (testspf.py) does. A case listed in
// kExpectedFailures must fail (so a fix is noticed and the list shrinks); any other must pass.
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "credence/dns.h"
#include "credence/spf.h"

namespace credence {
namespace {

using nlohmann::json;

// Cases credence does not pass yet, each with its reason (also in docs/conformance.md). Empty
// since credence expands every macro itself and moves redirect= behind the mechanisms.
const std::map<std::string, std::string>& ExpectedFailures() {
  static const auto* list = new std::map<std::string, std::string>{};
  return *list;
}

// Serves one scenario's zone with testspf.py's rules: labels over 63 octets and missing
// names under "error." are temporary failures; a bare TIMEOUT entry fails every question
// whose type has no record before it; a CNAME is followed one level.
class SuiteResolver final : public Resolver {
 public:
  explicit SuiteResolver(const json& zone) : zone_(zone) {}

  std::vector<DnsAnswer> Resolve(std::span<const DnsQuestion> questions, Deadline) override {
    std::vector<DnsAnswer> out;
    for (const DnsQuestion& q : questions) out.push_back(Answer(q));
    return out;
  }

 private:
  static std::string TypeName(RRType t) { return RRTypeName(t); }

  DnsAnswer Answer(const DnsQuestion& q) {
    std::string name;
    size_t start = 0;
    std::string lowered;
    for (char c : q.name) lowered += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    while (start <= lowered.size()) {
      size_t dot = lowered.find('.', start);
      if (dot == std::string::npos) dot = lowered.size();
      std::string label = lowered.substr(start, dot - start);
      if (label.size() > 63) return TempFail("label too long");
      if (!label.empty()) name += (name.empty() ? "" : ".") + label;
      start = dot + 1;
    }
    DnsAnswer a;
    if (!Lookup(name, q.type, 0, &a.records)) return TempFail("timeout");
    if (a.records.empty()) {
      a.outcome = zone_.contains(name) ? DnsOutcome::kNoData : DnsOutcome::kNxDomain;
      if (!zone_.contains(name) && name.rfind("error.", 0) == 0) return TempFail("timeout");
    } else {
      a.outcome = DnsOutcome::kOk;
    }
    return a;
  }

  static DnsAnswer TempFail(std::string why) {
    DnsAnswer a;
    a.outcome = DnsOutcome::kTempFail;
    a.detail = std::move(why);
    return a;
  }

  // False on a timeout. Appends the records of `type` (after one level of CNAME).
  bool Lookup(const std::string& name, RRType type, int level, std::vector<ResourceRecord>* out) {
    if (!zone_.contains(name)) return !(name.rfind("error.", 0) == 0 && level == 0);
    bool timeout = true;
    const std::string want = TypeName(type);
    for (const json& e : zone_[name]) {
      std::string t = e["type"];
      if (t == "TIMEOUT") {
        if (timeout) return false;
        return true;
      }
      if (t == want) timeout = false;
      if (e.value("timeout", false)) {
        if (t == want) return false;
        continue;
      }
      if (t == want) {
        ResourceRecord r;
        r.type = type;
        if (t == "TXT") {
          for (const auto& s : e["strings"]) r.data += s.get<std::string>();
        } else {
          r.data = e["data"].get<std::string>();
          if (t == "MX") r.preference = e["preference"].get<uint16_t>();
        }
        out->push_back(std::move(r));
      }
      if (t == "CNAME" && level == 0 && type != RRType::kCNAME) {
        std::string target = e["data"];
        std::string lowered;
        for (char c : target) lowered += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (!lowered.empty() && lowered.back() == '.') lowered.pop_back();
        if (!Lookup(lowered, type, 1, out)) return false;
      }
    }
    return true;
  }

  const json& zone_;
};

const json& Suite() {
  static const json* suite = [] {
    std::ifstream in(std::string(CREDENCE_TEST_DATA) + "/spf/rfc7208-tests.json");
    auto* j = new json(json::parse(in, nullptr, /*allow_exceptions=*/false));
    return j;
  }();
  return *suite;
}

// Runs one case; returns "" when it passes, else what differed.
std::string RunCase(const json& c) {
  const json& zone = Suite()["scenarios"][c["scenario"].get<size_t>()]["zone"];
  SuiteResolver resolver(zone);
  SpfRequest request;
  request.client_ip = c["host"];
  request.helo = c["helo"];
  request.mail_from = c["mailfrom"];
  SpfOptions options;
  options.default_explanation = "DEFAULT";
  SpfResult r = CheckSpfMailFrom(request, resolver,
                                 std::chrono::steady_clock::now() + std::chrono::seconds(10),
                                 options);
  std::string got(SpfVerdictName(r.result));
  bool result_ok = false;
  std::string want;
  for (const auto& w : c["results"]) {
    want += (want.empty() ? "" : "|") + w.get<std::string>();
    if (w.get<std::string>() == got) result_ok = true;
  }
  std::string why;
  if (!result_ok) why = "result " + got + ", want " + want + " (" + r.detail + ")";
  if (c["explanation"].is_string() && r.explanation != c["explanation"].get<std::string>()) {
    why += (why.empty() ? "" : "; ") + std::string("explanation '") + r.explanation +
           "', want '" + c["explanation"].get<std::string>() + "'";
  }
  return why;
}

void CheckCase(size_t index) {
  const json& c = Suite()["cases"][index];
  std::string name = c["name"];
  std::string why = RunCase(c);
  auto expected = ExpectedFailures().find(name);
  if (expected == ExpectedFailures().end()) {
    BOOST_TEST(why.empty(), name << " (RFC 7208 " << c["spec"].get<std::string>() << "): " << why);
  } else {
    BOOST_TEST(!why.empty(), name << " is listed as an expected failure (" << expected->second
                                  << ") but passes: remove it from the list");
  }
}

// Registers one named test per case, at static-initialisation time like BOOST_AUTO_TEST_CASE.
struct Registrar {
  Registrar() {
    namespace utf = boost::unit_test;
    auto* suite = BOOST_TEST_SUITE("spf_rfc7208");
    const json& s = Suite();
    if (!s.is_object() || !s.contains("cases")) {
      suite->add(utf::make_test_case([] { BOOST_FAIL("cannot read spf/rfc7208-tests.json"); },
                                     "load", __FILE__, __LINE__));
    } else {
      for (size_t i = 0; i < s["cases"].size(); ++i) {
        suite->add(utf::make_test_case([i] { CheckCase(i); },
                                       s["cases"][i]["name"].get<std::string>(), __FILE__,
                                       __LINE__));
      }
      // Every listed expected failure must name a real case.
      suite->add(utf::make_test_case(
          [] {
            for (const auto& [name, reason] : ExpectedFailures()) {
              bool found = false;
              for (const auto& c : Suite()["cases"]) found = found || c["name"] == name;
              BOOST_TEST(found, "expected failure " << name << " names no case");
            }
          },
          "expected_failures_are_cases", __FILE__, __LINE__));
    }
    utf::framework::master_test_suite().add(suite);
  }
} registrar;

}  // namespace
}  // namespace credence
