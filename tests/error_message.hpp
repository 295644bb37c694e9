#pragma once
// The predicate of BOOST_CHECK_EXCEPTION for a subgrad::Error whose message contains `text`; on a
// mismatch it logs the message it got.
#include <string>

#include <boost/test/unit_test.hpp>

#include "subgrad/core/error.hpp"

inline auto says(std::string text) {
  return [text](const subgrad::Error& e) {
    const bool found = std::string(e.what()).find(text) != std::string::npos;
    if (!found) BOOST_TEST_MESSAGE("message was: " << e.what());
    return found;
  };
}
