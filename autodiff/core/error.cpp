#include "subgrad/core/error.hpp"

#include <fmt/args.h>
#include <fmt/format.h>

namespace subgrad::detail {

std::string message(std::string_view format, std::initializer_list<MessageArgument> arguments) {
  fmt::dynamic_format_arg_store<fmt::format_context> store;
  for (const MessageArgument& argument : arguments) {
    switch (argument.kind()) {
      case MessageArgument::Kind::real:
        store.push_back(argument.real());
        break;
      case MessageArgument::Kind::signed_integer:
        store.push_back(argument.signed_integer());
        break;
      case MessageArgument::Kind::unsigned_integer:
        store.push_back(argument.unsigned_integer());
        break;
      case MessageArgument::Kind::text:
        store.push_back(argument.text());  // the store copies strings: the view may be temporary
        break;
    }
  }
  return fmt::vformat(format, store);
}

}  // namespace subgrad::detail
