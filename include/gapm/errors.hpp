// The exceptions gapm throws. Library code never aborts: a training process must be able
// to report, save and exit on its own terms.
#pragma once

#include <stdexcept>
#include <string>

namespace gapm {

/// Base of every gapm exception.
class error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// API misuse: an out-of-range key, a wrong length, a bad option, a misused clock, use after
/// finalize. The operation that throws it has changed nothing.
class logic_error : public error {
 public:
  using error::error;
};

/// A CUDA runtime or NCCL call failed; the message names the call, file:line and the library's text.
class cuda_error : public error {
 public:
  using error::error;
};

/// The cluster failed: a peer died or is unreachable, a rendezvous timed out, the nodes'
/// options disagree, or a malformed message arrived.
class comm_error : public error {
 public:
  using error::error;
};

/// A feature that the running build does not have (e.g. a CUDA stream in the CPU build).
class unsupported_error : public error {
 public:
  using error::error;
};

}  // namespace gapm
