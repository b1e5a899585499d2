// The one Boost.Test main; every other file in tests/unit is a suite.
#define BOOST_TEST_MODULE credence
#include <boost/test/unit_test.hpp>
