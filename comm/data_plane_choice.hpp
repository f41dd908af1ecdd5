// data_plane_choice: rank 0's decision at the rendezvous on how rows travel between nodes
// (option data_plane): GPU to GPU with NCCL where every node keeps its rows on a GPU of its
// own and has the links, else over TCP in the control plane's frames.
#pragma once

#include <string>
#include <vector>

namespace gapm::detail {

struct node_hello;

struct data_plane_choice {
  bool nccl = false;
  std::string why;  ///< for the start-up line: why this plane (and, for TCP, why not NCCL)
  std::string refusal;  ///< non-empty when option data_plane=nccl cannot be had: the rendezvous fails
};

/// The choice for agreeing nodes (their option data_plane is the same).
[[nodiscard]] data_plane_choice choose_data_plane(const std::vector<node_hello>& nodes);

}  // namespace gapm::detail
