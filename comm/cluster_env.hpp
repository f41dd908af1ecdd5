// cluster_env: this process's place in the cluster, read from the launcher's environment.
#pragma once

#include <string>

namespace gapm::detail {

struct cluster_env {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;                  ///< picks the GPU on a multi-GPU machine
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  std::string launcher = "none";       ///< torchrun | mpirun | srun | none
};

/// Reads, in this order: RANK/WORLD_SIZE (torchrun, gapm-run), OMPI_COMM_WORLD_RANK/_SIZE
/// (mpirun), SLURM_PROCID/SLURM_NTASKS (srun); world size 1 when none is set. MASTER_ADDR
/// and MASTER_PORT locate the rendezvous (MASTER_PORT + 1 under torchrun, whose agent holds
/// MASTER_PORT itself). Throws logic_error naming a malformed variable.
[[nodiscard]] cluster_env discover_cluster_env();

}  // namespace gapm::detail
