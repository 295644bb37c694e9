#include "subgrad/io/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <system_error>

#include <fmt/format.h>

#include "subgrad/core/error.hpp"

namespace subgrad {

namespace {

// Closes the descriptor and removes the temporary file unless released: every failure path
// leaves nothing behind.
struct Temporary {
  std::filesystem::path path;
  int descriptor = -1;
  bool keep = false;
  ~Temporary() {
    if (descriptor >= 0) ::close(descriptor);
    if (!keep) {
      std::error_code ignored;
      std::filesystem::remove(path, ignored);
    }
  }
};

[[noreturn]] void fail(std::string_view what, const std::filesystem::path& path, int error) {
  throw Error(fmt::format("subgrad::write_file_atomically: cannot {} {}: {}", what, path.string(),
                          std::strerror(error)));
}

// The file a path names: a symbolic link is followed (to a file that may not exist yet), so that
// the rename replaces the file the link points to, not the link. The loop limit is the kernel's.
std::filesystem::path followed_links(const std::filesystem::path& link) {
  std::filesystem::path path = link;
  for (int hops = 0;; ++hops) {
    std::error_code error;
    if (!std::filesystem::is_symlink(std::filesystem::symlink_status(path, error))) return path;
    if (hops == 40) fail("follow the symbolic links of", link, ELOOP);
    const std::filesystem::path target = std::filesystem::read_symlink(path, error);
    if (error) fail("read the symbolic link", path, error.value());
    path = target.is_absolute() ? target : path.parent_path() / target;
  }
}

}  // namespace

void write_file_atomically(const std::filesystem::path& requested, std::string_view text) {
  const std::filesystem::path path = followed_links(requested);
  // A name of its own per call (process id and a counter): two writers of one path never share
  // a temporary file, and O_EXCL refuses to reuse one a killed writer left behind.
  static std::atomic<unsigned long> counter{0};
  const std::filesystem::path folder =
      path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  Temporary temporary;
  for (int attempt = 0; temporary.descriptor < 0; ++attempt) {
    temporary.path = path;
    temporary.path += fmt::format(".{}.{}.partial", ::getpid(), counter.fetch_add(1));
    temporary.descriptor =
        ::open(temporary.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (temporary.descriptor < 0 && (errno != EEXIST || attempt > 100)) {
      const int error = errno;
      temporary.keep = true;  // not ours: nothing to remove
      fail("create a temporary file for", path, error);
    }
  }
  for (std::size_t written = 0; written < text.size();) {
    const ssize_t n = ::write(temporary.descriptor, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("write", temporary.path, errno);
    written += static_cast<std::size_t>(n);
  }
  // A file that is replaced keeps its permissions (a private 0600 file must not become 0644).
  struct stat existing {};
  if (::stat(path.c_str(), &existing) == 0 && S_ISREG(existing.st_mode) &&
      ::fchmod(temporary.descriptor, existing.st_mode & 07777) != 0) {
    fail("set the permissions of", temporary.path, errno);
  }
  if (::fsync(temporary.descriptor) != 0) fail("flush", temporary.path, errno);
  if (::close(temporary.descriptor) != 0) {
    temporary.descriptor = -1;
    fail("close", temporary.path, errno);
  }
  temporary.descriptor = -1;
  if (::rename(temporary.path.c_str(), path.c_str()) != 0) {
    const int error = errno;
    throw Error(fmt::format("subgrad::write_file_atomically: cannot rename {} to {}: {}",
                            temporary.path.string(), path.string(), std::strerror(error)));
  }
  temporary.keep = true;
  // The rename itself must reach the disk: sync the folder that holds the new entry.
  const int folder_descriptor = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (folder_descriptor >= 0) {
    ::fsync(folder_descriptor);
    ::close(folder_descriptor);
  }
}

}  // namespace subgrad
