// nccl_pipe_links: pipe_links over NCCL (CUDA build with NCCL). The rendezvous hands every
// node rank 0's ncclUniqueId; the nodes make one communicator of all, split it into one
// two-rank communicator per pipe (per ordered pair: one sends, the other receives, so the
// two directions of a pair never wait for each other), and drop the world communicator. NCCL
// connects a pipe on its first transfer; the row plane sends one byte through every pipe at
// set-up (cuda/row_plane.cpp, connect_pipes).
#pragma once

#include "cuda/pipe_links.hpp"

namespace gapm::detail {

[[nodiscard]] const pipe_links_factory& nccl_pipe_links_factory() noexcept;

}  // namespace gapm::detail
