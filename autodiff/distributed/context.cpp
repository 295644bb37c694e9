// The Context and the collectives the data-parallel functions are built on.
#include "subgrad/distributed/context.hpp"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <fmt/format.h>

namespace subgrad::distributed {

namespace {
const Context* live = nullptr;
}

Context::Context() { start(nullptr, nullptr); }
Context::Context(int& argc, char**& argv) { start(&argc, &argv); }

void Context::start(int* argc, char*** argv) {
  if (live != nullptr) {
    throw Error("subgrad::distributed::Context: a Context is alive already (one at a time)");
  }
  int initialised = 0;
  MPI_Initialized(&initialised);
  if (!initialised) {
    int provided = 0;
    // Only the thread that made the Context calls MPI; OpenBLAS's threads never do.
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
      throw Error("subgrad::distributed::Context: MPI_Init_thread failed");
    }
    initialised_here_ = true;
  }
  detail::check_mpi(MPI_Comm_dup(MPI_COMM_WORLD, &communicator_),
                    "subgrad::distributed::Context (MPI_Comm_dup)");
  MPI_Comm_set_errhandler(communicator_, MPI_ERRORS_RETURN);
  MPI_Comm_rank(communicator_, &rank_);
  MPI_Comm_size(communicator_, &size_);
  exceptions_at_start_ = std::uncaught_exceptions();
  live = this;
}

Context::~Context() {
  if (std::uncaught_exceptions() > exceptions_at_start_) {
    abort(
        "an exception is leaving the scope of subgrad::distributed::Context (run() prints its "
        "message)");
  }
  live = nullptr;
  MPI_Comm_free(&communicator_);
  if (initialised_here_) MPI_Finalize();
}

void Context::abort(std::string_view message) const {
  std::fprintf(stderr, "subgrad::distributed: rank %d of %d: %.*s; stopping every rank\n", rank_,
               size_, static_cast<int>(message.size()), message.data());
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::abort();  // MPI_Abort does not return; should it, this rank still stops
}

const Context& Context::current() {
  if (live == nullptr) {
    throw Error(
        "subgrad::distributed: no live Context (make a distributed::Context, or use "
        "distributed::run, before the distributed functions)");
  }
  return *live;
}

namespace detail {

void check_mpi(int code, std::string_view operation) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw Error(fmt::format("{}: MPI error: {}", operation, std::string_view(text, length)));
}

namespace {
template <class T>
void allreduce_in_pieces(std::span<T> values, MPI_Datatype type, MPI_Comm communicator,
                         std::string_view operation) {
  for (std::size_t first = 0; first < values.size(); first += INT_MAX) {
    const int count = static_cast<int>(std::min<std::size_t>(INT_MAX, values.size() - first));
    check_mpi(
        MPI_Allreduce(MPI_IN_PLACE, values.data() + first, count, type, MPI_SUM, communicator),
        operation);
  }
}
}  // namespace

void allreduce_sum(std::span<float> values, MPI_Comm communicator, std::string_view operation) {
  allreduce_in_pieces(values, MPI_FLOAT, communicator, operation);
}
void allreduce_sum(std::span<double> values, MPI_Comm communicator, std::string_view operation) {
  allreduce_in_pieces(values, MPI_DOUBLE, communicator, operation);
}
void allreduce_sum(std::span<long long> values, MPI_Comm communicator, std::string_view operation) {
  allreduce_in_pieces(values, MPI_LONG_LONG, communicator, operation);
}

void broadcast(std::span<std::byte> values, int root, MPI_Comm communicator,
               std::string_view operation) {
  for (std::size_t first = 0; first < values.size(); first += INT_MAX) {
    const int count = static_cast<int>(std::min<std::size_t>(INT_MAX, values.size() - first));
    check_mpi(MPI_Bcast(values.data() + first, count, MPI_BYTE, root, communicator), operation);
  }
}

void agree(const Context& context, bool ok, const std::string& message) {
  // The lowest failing rank (size when none) ...
  const int mine = ok ? context.size() : context.rank();
  int failed = 0;
  check_mpi(MPI_Allreduce(&mine, &failed, 1, MPI_INT, MPI_MIN, context.communicator()),
            "subgrad::distributed (agreeing on an error)");
  if (failed == context.size()) return;
  // ... tells every rank why.
  unsigned long long length = context.rank() == failed ? message.size() : 0;
  check_mpi(MPI_Bcast(&length, 1, MPI_UNSIGNED_LONG_LONG, failed, context.communicator()),
            "subgrad::distributed (sharing an error)");
  std::string text = context.rank() == failed ? message : std::string(length, ' ');
  broadcast(std::as_writable_bytes(std::span<char>(text.data(), text.size())), failed,
            context.communicator(), "subgrad::distributed (sharing an error)");
  throw Error(text);
}

}  // namespace detail

}  // namespace subgrad::distributed
