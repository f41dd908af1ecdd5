#include "comm/cluster_env.hpp"

#include <charconv>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "host/common/expects.hpp"

namespace gapm::detail {
namespace {

std::optional<int> int_variable(const char* name) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return std::nullopt;
  std::string_view view{text};
  int value = 0;
  auto [end, ec] = std::from_chars(view.data(), view.data() + view.size(), value);
  GAPM_EXPECTS(ec == std::errc{} && end == view.data() + view.size() && value >= 0,
               "environment variable ", name, "='", view, "' is not a non-negative integer");
  return value;
}

struct launcher_vars {
  const char* launcher;
  const char* rank;
  const char* size;
  const char* local_rank;
};

constexpr launcher_vars launchers[] = {
    {"torchrun", "RANK", "WORLD_SIZE", "LOCAL_RANK"},
    {"mpirun", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK"},
    {"srun", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID"},
};

}  // namespace

cluster_env discover_cluster_env() {
  cluster_env env;
  for (const auto& vars : launchers) {
    auto rank = int_variable(vars.rank);
    auto size = int_variable(vars.size);
    if (!rank || !size) continue;
    GAPM_EXPECTS(*size >= 1 && *rank < *size, vars.rank, "=", *rank, " is not below ", vars.size, "=", *size);
    env.rank = *rank;
    env.world_size = *size;
    env.local_rank = int_variable(vars.local_rank).value_or(0);
    env.launcher = vars.launcher;
    break;
  }
  if (const char* addr = std::getenv("MASTER_ADDR"); addr != nullptr && *addr != '\0') env.master_addr = addr;
  if (auto port = int_variable("MASTER_PORT")) {
    GAPM_EXPECTS(*port > 0 && *port < 65536, "MASTER_PORT=", *port, " is not a TCP port");
    env.master_port = *port;
  }
  // Under torchrun the agent's own store already listens on MASTER_PORT: meet one port above.
  if (const char* agent = std::getenv("TORCHELASTIC_USE_AGENT_STORE"); agent != nullptr &&
      std::string_view(agent) == "True" && env.master_port < 65535)
    ++env.master_port;
  return env;
}

}  // namespace gapm::detail
