#pragma once
/// \file
/// The MPI side of data-parallel training: a Context owns the program's use of MPI (rank, size,
/// a communicator of its own), turns failed MPI calls into subgrad::Error, and makes an error on
/// one rank stop every rank instead of leaving the others waiting in a collective.

#include <mpi.h>

#include <cstddef>
#include <exception>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include "subgrad/core/error.hpp"

namespace subgrad::distributed {

/// The program's place among the ranks. Initialises MPI unless the program already has, and
/// finalises it on destruction if it did. One Context may live at a time; the functions of
/// this component use it.
///
/// When an exception leaves the Context's scope on one rank, the destructor stops every rank
/// (MPI_Abort) with a message: the other ranks would otherwise wait for it forever. run() does the
/// same and prints the exception's message.
class Context {
 public:
  Context();
  Context(int& argc, char**& argv);
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  ~Context();

  int rank() const noexcept { return rank_; }
  int size() const noexcept { return size_; }
  bool is_root() const noexcept { return rank_ == 0; }
  /// A duplicate of MPI_COMM_WORLD that returns errors instead of aborting (for the user's own
  /// collectives too).
  MPI_Comm communicator() const noexcept { return communicator_; }

  /// Prints "subgrad::distributed: rank R of N: MESSAGE; stopping every rank" and ends every
  /// rank's process with exit code 1.
  [[noreturn]] void abort(std::string_view message) const;

  /// The live Context; subgrad::Error when there is none.
  static const Context& current();

 private:
  void start(int* argc, char*** argv);

  MPI_Comm communicator_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
  bool initialised_here_ = false;
  int exceptions_at_start_ = 0;
};

/// Runs body(context) inside a Context: its return value (or 0) is run's; an exception thrown on
/// any rank prints its message and stops every rank with exit code 1.
///
///     int main(int argc, char** argv) {
///       return distributed::run(argc, argv, [&](const distributed::Context& context) { ... });
///     }
template <class Body>
int run(int& argc, char**& argv, Body&& body) {
  Context context(argc, argv);
  try {
    if constexpr (std::is_void_v<std::invoke_result_t<Body, const Context&>>) {
      body(static_cast<const Context&>(context));
      return 0;
    } else {
      return body(static_cast<const Context&>(context));
    }
  } catch (const std::exception& e) {
    context.abort(e.what());
  }
}

namespace detail {
/// Throws subgrad::Error "OPERATION: MPI's message" unless `code` is MPI_SUCCESS.
void check_mpi(int code, std::string_view operation);

/// In-place sum over the ranks (MPI_Allreduce with MPI_SUM), in pieces when `values` holds more
/// elements than an int counts.
void allreduce_sum(std::span<float> values, MPI_Comm communicator, std::string_view operation);
void allreduce_sum(std::span<double> values, MPI_Comm communicator, std::string_view operation);
void allreduce_sum(std::span<long long> values, MPI_Comm communicator, std::string_view operation);
/// The bytes of `values` from `root` on every rank, in pieces as allreduce_sum.
void broadcast(std::span<std::byte> values, int root, MPI_Comm communicator,
               std::string_view operation);

/// A collective check: every rank passes whether its part went well and, if not, why. Unless all
/// went well, every rank throws subgrad::Error with the message of the lowest rank that failed
/// (so no rank goes on to wait for one that stopped).
void agree(const Context& context, bool ok, const std::string& message);
}  // namespace detail

}  // namespace subgrad::distributed
