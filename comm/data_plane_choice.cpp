#include "comm/data_plane_choice.hpp"

#include <map>

#include "comm/node_hello.hpp"
#include "host/common/expects.hpp"

namespace gapm::detail {
namespace {

// Why NCCL cannot carry this job's rows, or "".
std::string nccl_obstacle(const std::vector<node_hello>& nodes) {
  std::map<std::string, int> gpu_of;  // device identity -> the first node on it
  for (const auto& node : nodes) {
    if (node.device.empty())
      return concat("node ", node.rank, " keeps its rows in host memory (store=cpu, or no GPU visible)");
    if (node.plane.empty()) return concat("node ", node.rank, "'s gapm is built without NCCL");
    if (node.plane != nodes.front().plane)
      return concat("node ", node.rank, " has the '", node.plane, "' links, node ", nodes.front().rank, " '",
                    nodes.front().plane, "'");
    const auto [first, fresh] = gpu_of.emplace(node.device, node.rank);
    if (!fresh)
      return concat("nodes ", first->second, " and ", node.rank, " share GPU ", node.device,
                    " (NCCL needs a GPU of its own for every process)");
  }
  return "";
}

}  // namespace

data_plane_choice choose_data_plane(const std::vector<node_hello>& nodes) {
  GAPM_EXPECTS(!nodes.empty(), "choose_data_plane: no nodes");
  const auto options = option_lines(nodes.front().options);
  const auto given = options.find("data_plane");
  const std::string requested = given == options.end() ? "auto" : given->second;
  if (requested == "tcp") return {false, "option data_plane=tcp", ""};
  const std::string obstacle = nccl_obstacle(nodes);
  if (obstacle.empty())
    return {true, concat("every node keeps its rows on a GPU of its own (", nodes.size(), " GPUs)"), ""};
  if (requested == "nccl") return {false, obstacle, "option data_plane=nccl, but " + obstacle};
  return {false, obstacle, ""};
}

}  // namespace gapm::detail
