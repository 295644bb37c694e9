// Error messages are built in libsubgrad (detail::message), so that the headers on the recording
// path do not include fmt: this file includes every layer header of the scalar library except the
// formatters, and fails to compile if one of them pulls fmt in again.
#include "subgrad/check/gradient_check.hpp"
#include "subgrad/core/core.hpp"
#include "subgrad/forward/derivative.hpp"
#include "subgrad/forward/dual.hpp"
#include "subgrad/forward/hessian.hpp"
#include "subgrad/math/elementary.hpp"
#include "subgrad/math/find_primitive.hpp"
#include "subgrad/math/maxout.hpp"
#include "subgrad/math/relu.hpp"
#include "subgrad/math/smooth_activations.hpp"

#ifdef FMT_VERSION
#error \
    "a header of core/, math/, forward/ or check/ includes fmt: keep it in the format.hpp headers"
#endif

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>

#include <boost/test/unit_test.hpp>

using subgrad::detail::message;

BOOST_AUTO_TEST_CASE(numbers_and_text_fill_the_fields_in_order) {
  const std::string name = "elu";
  BOOST_TEST(message("subgrad::{}: {} = {} {}", {name, "alpha", -1.5, "must be >= 0"}) ==
             "subgrad::elu: alpha = -1.5 must be >= 0");
  BOOST_TEST(message("{} Vars but room for {}", {std::size_t{10000}, 3}) ==
             "10000 Vars but room for 3");
  BOOST_TEST(message("{} {}", {std::numeric_limits<std::int64_t>::min(),
                               std::numeric_limits<std::uint64_t>::max()}) ==
             "-9223372036854775808 18446744073709551615");
}

BOOST_AUTO_TEST_CASE(a_double_prints_shortest_round_trip_and_takes_format_specs) {
  BOOST_TEST(message("{}", {0.1}) == "0.1");
  BOOST_TEST(message("{}", {1e-310}) == "1e-310");
  BOOST_TEST(message("{:.3f}", {2.0005}) == "2.001");
  BOOST_TEST(message("{}", {std::numeric_limits<double>::infinity()}) == "inf");
}

BOOST_AUTO_TEST_CASE(errors_of_the_headers_carry_the_formatted_values) {
  BOOST_CHECK_EXCEPTION(subgrad::kink::convex(1.5), subgrad::Error, [](const subgrad::Error& e) {
    return std::string(e.what()) == "subgrad::kink::convex: weight t = 1.5 is not in [0, 1]";
  });
  BOOST_CHECK_EXCEPTION(subgrad::parse_kink_rule("sideways"), subgrad::Error,
                        [](const subgrad::Error& e) {
                          return std::string(e.what()).starts_with(
                              "subgrad::parse_kink_rule: 'sideways' is not a kink rule");
                        });
  BOOST_TEST(subgrad::kink::convex(0.25).name() == "convex(0.25)");
}
