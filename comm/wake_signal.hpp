// wake_signal: an eventfd that any thread may raise and one waiting thread polls beside its
// sockets (ZeroMQ polls plain file descriptors too), so that a wait ends at once when there is
// work for it instead of at its next timeout.
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>

#include <gapm/errors.hpp>

namespace gapm::detail {

class wake_signal {
 public:
  wake_signal() : fd_{::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)} {
    if (fd_ < 0) throw comm_error("gapm: cannot create an eventfd for the receive loop");
  }
  ~wake_signal() { ::close(fd_); }
  wake_signal(const wake_signal&) = delete;
  wake_signal& operator=(const wake_signal&) = delete;

  /// Thread-safe and cheap (one write); raising a raised signal changes nothing.
  void raise() noexcept {
    const std::uint64_t one = 1;
    (void)!::write(fd_, &one, sizeof one);
  }
  /// Lowers the signal (the waiting thread, once it woke).
  void clear() noexcept {
    std::uint64_t count = 0;
    (void)!::read(fd_, &count, sizeof count);
  }
  [[nodiscard]] int fd() const noexcept { return fd_; }

 private:
  int fd_;
};

}  // namespace gapm::detail
