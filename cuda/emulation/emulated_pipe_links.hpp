// emulated_pipe_links: pipe_links for the emulated device (tests only). Every pipe is a
// ZeroMQ PAIR connection over a Unix socket between the two processes; a send is a task of
// the sender's stream that ships the bytes and then waits for the receiver's word, a receive a
// task of the receiver's stream that waits for the bytes, copies them and gives that word. So,
// like NCCL's, each half holds its stream until the other half is there, and a pipe's first
// call at each end waits for the other end's first call (NCCL connects lazily): an order of
// transfers that could deadlock on a GPU hangs here, in CPU-only CI.
#pragma once

#include "cuda/pipe_links.hpp"

namespace gapm::detail {

/// The emulation's factory: the id names this run's sockets (/tmp/gapm-plane-<id>-...).
[[nodiscard]] const pipe_links_factory& emulated_pipe_links_factory() noexcept;

}  // namespace gapm::detail
