// plugin/archive/body_hint: why a body hash failed, told by repairing the body and hashing it
// against the signature's own bh=; the two hashes always shown.
#include <string>

#include <boost/test/unit_test.hpp>

#include "archive/body_hint.h"
#include "archive/quoting.h"
#include "body_hash_fixture.h"

namespace credence {
namespace {

using testing::BodyHashFailure;
using testing::SignedBodyMessage;

BodyHashHint Explain(const std::string& bytes, size_t budget = kQuotingBudgetBytes,
                     DkimResult failed = BodyHashFailure()) {
  Result<Message> m = Message::Parse(bytes, Limits());
  BOOST_REQUIRE(m.ok());
  return ExplainBodyHash(*m, failed, &budget);
}

bool Has(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

BOOST_AUTO_TEST_SUITE(body_hint)

BOOST_AUTO_TEST_CASE(appended_footer_is_found_with_its_size) {
  const std::string footer = "--\r\nList footer\r\nUnsubscribe: x\r\n";
  BodyHashHint h = Explain(SignedBodyMessage("Hello.\r\nBye.\r\n", "Hello.\r\nBye.\r\n" + footer));
  BOOST_TEST(Has(h.cause, "without the last 3 lines (" + std::to_string(footer.size()) +
                              " bytes): text was appended"),
             h.cause);
  BOOST_TEST(Has(h.hashes, "bh="), h.hashes);
  BOOST_TEST(Has(h.hashes, "the body as received hashes to "), h.hashes);
}

BOOST_AUTO_TEST_CASE(lf_line_ends_of_the_signer) {
  // What a broken signer hashed: the body with bare LF ends, fed as-is to the hash (simple
  // canonicalization keeps it byte for byte, no CRLF added inside).
  BodyHashHint h = Explain(SignedBodyMessage("a\nb\n", "a\r\nb\r\n", "simple/simple"));
  BOOST_TEST(Has(h.cause, "LF line ends"), h.cause);
}

BOOST_AUTO_TEST_CASE(white_space_added_in_transit_under_simple) {
  BodyHashHint h = Explain(SignedBodyMessage("a\r\nb\r\n", "a  \r\nb\t\r\n", "simple/simple"));
  BOOST_TEST(Has(h.cause, "white space at line ends removed"), h.cause);
}

BOOST_AUTO_TEST_CASE(quoting_is_the_last_hypothesis) {
  BodyHashHint h = Explain(SignedBodyMessage("x\r\nFrom y\r\n", "x\r\n>From y\r\n"));
  BOOST_TEST(Has(h.cause, "mbox quoting changed the body"), h.cause);
}

BOOST_AUTO_TEST_CASE(a_changed_body_has_hashes_but_no_cause) {
  BodyHashHint h = Explain(SignedBodyMessage("Pay 10 EUR.\r\n", "Pay 99 EUR.\r\n"));
  BOOST_TEST(h.cause == "");
  BOOST_TEST(Has(h.hashes, "(13 canonicalized bytes)"), h.hashes);
}

BOOST_AUTO_TEST_CASE(l_is_shown_and_other_failures_get_nothing) {
  BodyHashHint h = Explain(SignedBodyMessage("abc\r\n", "abd\r\n", "simple/simple", 3));
  BOOST_TEST(Has(h.hashes, ", l=3)"), h.hashes);
  DkimResult other = BodyHashFailure();
  other.reason = DkimReason::kSignatureMismatch;
  BodyHashHint none = Explain(SignedBodyMessage("a\r\n", "b\r\n"), kQuotingBudgetBytes, other);
  BOOST_TEST(none.cause == "");
  BOOST_TEST(none.hashes == "");
}

BOOST_AUTO_TEST_CASE(budget_bounds_the_tries) {
  std::string body;
  for (int i = 0; i < 100; ++i) body += "line " + std::to_string(i) + "\r\n";
  const std::string bytes = SignedBodyMessage("other\r\n", body);
  Result<Message> m = Message::Parse(bytes, Limits());
  BOOST_REQUIRE(m.ok());
  size_t budget = 3 * m->body().size();
  BodyHashHint h = ExplainBodyHash(*m, BodyHashFailure(), &budget);
  BOOST_TEST(h.cause == "");
  BOOST_TEST(budget < m->body().size());  // spent, never overdrawn (size_t would wrap)
  BOOST_TEST(Has(h.hashes, "bh="));       // the hashes cost nothing from the budget
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace credence
