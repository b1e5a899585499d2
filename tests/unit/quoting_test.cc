// plugin/archive/quoting: a body hash that fails only because of mbox ">From " quoting is
// told apart from a body the sender changed, against the failing signature's own c=, l= and
// bh= (no key, no DNS).
#include <string>

#include <boost/test/unit_test.hpp>

#include "archive/quoting.h"
#include "credence/message.h"
#include "body_hash_fixture.h"

namespace credence {
namespace {

using testing::BodyHashFailure;

std::string Message(const std::string& signed_body, const std::string& body,
                    const std::string& canon = "relaxed/simple", size_t l = 0) {
  return testing::SignedBodyMessage(signed_body, body, canon, l);
}

std::string Hint(const std::string& bytes, size_t budget = kQuotingBudgetBytes,
                 DkimResult failed = BodyHashFailure()) {
  Result<credence::Message> m = credence::Message::Parse(bytes, Limits());
  BOOST_REQUIRE(m.ok());
  return QuotingExplainsBodyHash(*m, failed, &budget);
}

BOOST_AUTO_TEST_SUITE(quoting)

BOOST_AUTO_TEST_CASE(one_quote_too_many_is_named) {
  std::string hint = Hint(Message("Hi\r\nFrom here on\r\n", "Hi\r\n>From here on\r\n"));
  BOOST_TEST(hint.find("1 line starting '>*From ' with one '>' fewer") != std::string::npos,
             hint);
}

BOOST_AUTO_TEST_CASE(one_quote_too_few_is_named) {
  std::string hint = Hint(Message("Hi\r\n>From here on\r\n", "Hi\r\nFrom here on\r\n"));
  BOOST_TEST(hint.find("with one '>' more") != std::string::npos, hint);
}

BOOST_AUTO_TEST_CASE(mixed_changes_on_two_lines) {
  std::string hint = Hint(Message("From a\r\nx\r\n>>From b\r\n", ">From a\r\nx\r\n>From b\r\n"));
  BOOST_TEST(hint.find("one '>' more") != std::string::npos, hint);
  BOOST_TEST(hint.find("one '>' fewer") != std::string::npos, hint);
}

BOOST_AUTO_TEST_CASE(a_sender_change_is_not_blamed_on_quoting) {
  BOOST_TEST(Hint(Message("From a\r\npay 10\r\n", ">From a\r\npay 99\r\n")) == "");
  BOOST_TEST(Hint(Message("no quoting here\r\n", "changed, no quoting here\r\n")) == "");
}

BOOST_AUTO_TEST_CASE(the_signatures_own_canonicalization_and_length_count) {
  // simple/simple: trailing white space matters, so the quoting alone does not explain it.
  BOOST_TEST(Hint(Message("From a \r\n", ">From a\r\n", "simple/simple")) == "");
  BOOST_TEST(Hint(Message("From a \r\n", ">From a \r\n", "simple/simple")) != "");
  // l=: only the first bytes are signed; the quoted line is inside them.
  BOOST_TEST(Hint(Message("From a\r\ntail\r\n", ">From a\r\nother tail\r\n", "simple/simple", 8)) !=
             "");
}

BOOST_AUTO_TEST_CASE(nothing_without_budget_or_body_hash_failure) {
  const std::string bytes = Message("From a\r\n", ">From a\r\n");
  BOOST_TEST(Hint(bytes) != "");
  BOOST_TEST(Hint(bytes, 3) == "");  // less than one body
  DkimResult other = BodyHashFailure();
  other.reason = DkimReason::kSignatureMismatch;
  BOOST_TEST(Hint(bytes, kQuotingBudgetBytes, other) == "");
  DkimResult out_of_range = BodyHashFailure();
  out_of_range.header_index = 7;
  BOOST_TEST(Hint(bytes, kQuotingBudgetBytes, out_of_range) == "");
}

BOOST_AUTO_TEST_CASE(many_quoted_lines_try_all_together_within_budget) {
  std::string signed_body, body;
  for (int i = 0; i < 40; ++i) {
    signed_body += "From line " + std::to_string(i) + "\r\n";
    body += ">From line " + std::to_string(i) + "\r\n";
  }
  const std::string bytes = Message(signed_body, body);
  BOOST_TEST(Hint(bytes).find("40 lines") != std::string::npos);
  size_t budget = kQuotingBudgetBytes;
  Result<credence::Message> m = credence::Message::Parse(bytes, Limits());
  BOOST_REQUIRE(m.ok());
  QuotingExplainsBodyHash(*m, BodyHashFailure(), &budget);
  BOOST_TEST(kQuotingBudgetBytes - budget <= 2 * m->body().size());  // two tries at most
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace credence
