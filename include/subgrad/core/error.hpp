#pragma once
/// \file
/// The one exception type of subgrad, and the message builder its throw sites use.

#include <concepts>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>

namespace subgrad {

/// Thrown on misuse: a Var from another tape, shapes that do not fit, a bad parameter.
/// The message names the operation and the offending values.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

namespace detail {

/// One value of an error message: a number or a piece of text.
class MessageArgument {
 public:
  enum class Kind : unsigned char { real, signed_integer, unsigned_integer, text };

  MessageArgument(double value) : kind_(Kind::real), real_(value) {}  // NOLINT: implicit on purpose
  template <std::signed_integral Integer>
  MessageArgument(Integer value) : kind_(Kind::signed_integer), signed_(value) {}  // NOLINT
  template <std::unsigned_integral Integer>
  MessageArgument(Integer value) : kind_(Kind::unsigned_integer), unsigned_(value) {}  // NOLINT
  MessageArgument(std::string_view text) : kind_(Kind::text), text_(text) {}           // NOLINT
  MessageArgument(const char* text) : kind_(Kind::text), text_(text) {}                // NOLINT
  MessageArgument(const std::string& text) : kind_(Kind::text), text_(text) {}         // NOLINT

  Kind kind() const { return kind_; }
  double real() const { return real_; }
  long long signed_integer() const { return signed_; }
  unsigned long long unsigned_integer() const { return unsigned_; }
  std::string_view text() const { return text_; }

 private:
  Kind kind_;
  double real_ = 0.0;
  long long signed_ = 0;
  unsigned long long unsigned_ = 0;
  std::string_view text_;
};

/// `format` (fmt's syntax: `{}`, `{:.3g}`, ...) filled with `arguments`. Formatted in libsubgrad,
/// so that headers on the recording path need not include fmt.
std::string message(std::string_view format, std::initializer_list<MessageArgument> arguments);

}  // namespace detail
}  // namespace subgrad
