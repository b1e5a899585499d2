#include "credence/status.h"

#include <boost/test/unit_test.hpp>

namespace credence {
namespace {

BOOST_AUTO_TEST_SUITE(status)

BOOST_AUTO_TEST_CASE(ok_and_error_strings) {
  BOOST_TEST(Status().ok());
  BOOST_TEST(Status().ToString() == "ok");
  Status s = Status::TempFail("SERVFAIL");
  BOOST_TEST(!s.ok());
  BOOST_TEST(s.ToString() == "temp_fail: SERVFAIL");
}

BOOST_AUTO_TEST_CASE(result_holds_value_or_error) {
  Result<int> v = 7;
  BOOST_TEST(v.ok());
  BOOST_TEST(*v == 7);
  Result<int> e = Status::Invalid("bad");
  BOOST_TEST(!e.ok());
  BOOST_TEST(e.status().message() == "bad");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace credence
